"""Schema migrations: a store made at revision 0001 keeps its runs at the head revision.

The old store is made by running the real migrations only up to 0001, then
filled; opening it with this tane migrates a local store by itself, while a
PostgreSQL store waits for `tane db upgrade` and says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tane.cli import main
from tane.errors import SchemaVersionError
from tane.server.users import AuthStore
from tane.tracking.stores import clear_cache, open_store
from tane.tracking.stores._common import KNOWN_REVISIONS, SCHEMA_REVISION
from tane.tracking.stores.sql import SqlStore, normalize_db_url, sql_engine, upgrade_schema


def _at_0001(db_url: str) -> None:
    """Bring the database to revision 0001 (creating it, or going down from head)."""
    from alembic import command
    from alembic.config import Config

    engine = sql_engine(db_url)
    with engine.connect() as conn:
        has_schema = "alembic_version" in sa.inspect(conn).get_table_names()
    if not has_schema:
        upgrade_schema(engine, "0001")
    else:
        cfg = Config()
        cfg.set_main_option("script_location", "tane.tracking.stores:migrations")
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0001")
            conn.commit()
    engine.dispose()


def _revision(db_url: str) -> str:
    engine = sa.create_engine(normalize_db_url(db_url))
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        tables = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    assert ("users" in tables) == (found != "0001")
    return str(found)


def test_head_is_the_last_known_revision() -> None:
    assert KNOWN_REVISIONS[-1] == SCHEMA_REVISION == "0003"


def _old_store_with_a_run(db_url: str, artifacts: str) -> str:
    """A store at 0001 holding one finished run with params, metrics and tags."""
    # Make the store at head with a run, then take the schema back to 0001:
    # the runs' tables are the same in both revisions.
    store = SqlStore(db_url, artifacts, upgrade=True)
    exp = store.get_or_create_experiment("old")
    run = store.create_run(exp.id, "from-0001")
    store.log_batch(run.id, [("loss", 0.5, 0, 1), ("loss", 0.25, 1, 2)], {"lr": "0.1"}, {"k": "v"})
    store.close()
    _at_0001(db_url)
    assert _revision(db_url) == "0001"
    return run.id


def test_local_store_at_0001_migrates_when_opened(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    db_url = f"sqlite:///{folder / 'tane.db'}"
    run_id = _old_store_with_a_run(db_url, str(folder / "artifacts"))
    clear_cache()
    store = open_store(str(folder))
    run = store.get_run(run_id)
    assert run.params == {"lr": "0.1"} and run.tags["k"] == "v"
    assert [m.value for m in store.get_metric_history(run_id, "loss")] == [0.5, 0.25]
    assert _revision(db_url) == "0003"
    users = AuthStore(db_url)
    users.add_user("ann")
    assert [u.name for u in users.list_users()] == ["ann"]
    users.close()


def test_postgres_store_at_0001_waits_for_tane_db_upgrade(
    postgres_url: str, tmp_path: Path
) -> None:
    run_id = _old_store_with_a_run(postgres_url, str(tmp_path / "artifacts"))
    with pytest.raises(SchemaVersionError, match="tane db upgrade"):
        SqlStore(postgres_url)
    assert _revision(postgres_url) == "0001"
    result = CliRunner().invoke(main, ["db", "upgrade", "--store", postgres_url])
    assert result.exit_code == 0, result.output
    assert "from schema revision 0001 to 0003" in result.output
    assert _revision(postgres_url) == "0003"
    store = SqlStore(postgres_url)
    assert store.get_run(run_id).params == {"lr": "0.1"}
    assert len(store.get_metric_history(run_id, "loss")) == 2
    store.close()
