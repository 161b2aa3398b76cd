"""The tables of a SQL store (SQLAlchemy Core), shared by SQLite and PostgreSQL.

NaN metric values are stored as NULL (SQLite turns NaN into NULL anyway);
+/-inf are stored as themselves. ``params.value_num`` holds the value as a
number when it parses as one, so ``params.x > 0.5`` compares numerically
without casting text in SQL.
"""

from __future__ import annotations

import sqlalchemy as sa

from tane.tracking.stores._common import KEY_LENGTH, KNOWN_REVISIONS, SCHEMA_REVISION

__all__ = ["KEY_LENGTH", "KNOWN_REVISIONS", "SCHEMA_REVISION"]

metadata = sa.MetaData()

store_info = sa.Table(
    "store_info",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(500), nullable=False, unique=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("last_activity", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
)

experiment_tags = sa.Table(
    "experiment_tags",
    metadata,
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), primary_key=True),
    sa.Column("key", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), nullable=False),
    sa.Column("name", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("parent_id", sa.String(32), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("start_time", sa.BigInteger, nullable=False),
    sa.Column("end_time", sa.BigInteger, nullable=True),
    sa.Column("heartbeat", sa.BigInteger, nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("artifact_uri", sa.Text, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("deleted_time", sa.BigInteger, nullable=True),
    sa.Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    sa.Index("ix_runs_parent", "parent_id"),
    sa.Index("ix_runs_status", "status"),
)

params = sa.Table(
    "params",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("value_num", sa.Double, nullable=True),
    sa.Index("ix_params_key_value", "key", "value_num"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

latest_metrics = sa.Table(
    "latest_metrics",
    metadata,
    # One row per (run, metric key): the series id that the points refer to,
    # and the value at the highest step (latest timestamp on ties).
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("key", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Double, nullable=True),
    sa.UniqueConstraint("run_id", "key", name="uq_latest_metrics_run_key"),
    sa.Index("ix_latest_metrics_key_value", "key", "value"),
)

metrics = sa.Table(
    "metrics",
    metadata,
    # Every point, keyed by the integer series id rather than (run id, key):
    # rows and index entries are a third of the size, and inserts faster.
    sa.Column("series_id", sa.Integer, sa.ForeignKey("latest_metrics.id"), nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Double, nullable=True),
    sa.Index("ix_metrics_series_step", "series_id", "step"),
)

registered_models = sa.Table(
    "registered_models",
    metadata,
    sa.Column("name", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("updated", sa.BigInteger, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column(
        "name", sa.String(KEY_LENGTH), sa.ForeignKey("registered_models.name"), primary_key=True
    ),
    sa.Column("version", sa.Integer, primary_key=True),
    # The run the model was logged in (None for a model registered from elsewhere) and
    # where it is: "runs:/<run id>/<artifact path>" or any URI load_model understands.
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Index("ix_model_versions_run", "run_id"),
)

model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column(
        "name", sa.String(KEY_LENGTH), sa.ForeignKey("registered_models.name"), primary_key=True
    ),
    sa.Column("alias", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)
