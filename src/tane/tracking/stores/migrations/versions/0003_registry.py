"""The model registry: registered models, their versions and aliases.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", sa.String(250), primary_key=True),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("updated", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
    )
    op.create_table(
        "model_versions",
        sa.Column(
            "name", sa.String(250), sa.ForeignKey("registered_models.name"), primary_key=True
        ),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
    )
    op.create_index("ix_model_versions_run", "model_versions", ["run_id"])
    op.create_table(
        "model_aliases",
        sa.Column(
            "name", sa.String(250), sa.ForeignKey("registered_models.name"), primary_key=True
        ),
        sa.Column("alias", sa.String(250), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("model_aliases")
    op.drop_index("ix_model_versions_run", table_name="model_versions")
    op.drop_table("model_versions")
    op.drop_table("registered_models")
