"""Upgrades: a store made at revision 0001 opens and migrates with its data intact;
a store of a newer tane is refused, naming both revisions, and left untouched.

The old store is the committed ``fixtures/store-0001.db``, made by
``fixtures/make_old_store.py`` (tane's migrations up to 0001, then that
revision's rows: experiments, runs, params, tags, metrics with NaN and inf,
Unicode names, a child run and a deleted one). A local store migrates when
opened; a PostgreSQL store loaded with the same rows waits for ``tane db
upgrade``. Intact means: every row of every 0001 table is the same after the
migration, and the store API reads back what the script wrote.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from tests.reliability.figures import record
from tests.reliability.fixtures import make_old_store as old
from tests.tracking.test_migrations import _at_0001

from tane.cli import main
from tane.errors import SchemaVersionError
from tane.tracking.entities import RunStatus
from tane.tracking.stores import clear_cache, open_store
from tane.tracking.stores._common import SCHEMA_REVISION, normalize_db_url
from tane.tracking.stores.base import Store
from tane.tracking.stores.sql import SqlStore, schema_revision

#: The tables of revision 0001, parents first.
TABLES_0001 = (
    "store_info",
    "experiments",
    "experiment_tags",
    "runs",
    "params",
    "tags",
    "latest_metrics",
    "metrics",
)
NEWER = "0099"


def _dump(db_url: str, tables: tuple[str, ...] | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of these tables (default: all), sorted: what a database holds."""
    engine = sa.create_engine(normalize_db_url(db_url))
    try:
        with engine.connect() as conn:
            names = tables or tuple(sorted(sa.inspect(conn).get_table_names()))
            meta = sa.MetaData()
            meta.reflect(conn, only=names)
            return {
                name: sorted(
                    (tuple(row) for row in conn.execute(meta.tables[name].select())), key=repr
                )
                for name in names
            }
    finally:
        engine.dispose()


def _old_copy(folder: Path) -> str:
    """A copy of the committed 0001 store in ``folder``, its artifact root there too."""
    folder.mkdir(parents=True)
    shutil.copyfile(old.COMMITTED, folder / "tane.db")
    conn = sqlite3.connect(folder / "tane.db")
    with conn:
        conn.execute(
            "UPDATE store_info SET value = ? WHERE key = 'artifact_root'",
            (str(folder / "artifacts"),),
        )
    conn.close()
    return f"sqlite:///{folder / 'tane.db'}"


def _same_value(a: float | None, b: float | None) -> bool:
    return (a is not None and b is not None and math.isnan(a) and math.isnan(b)) or a == b


def _check_api(store: Store) -> dict[str, int]:
    """The store reads back every experiment, run, param, tag and point the script wrote."""
    counts = dict.fromkeys(("runs", "params", "tags", "points"), 0)
    for exp_id, name, tags in old.EXPERIMENTS:
        experiment = store.get_experiment(str(exp_id))
        assert (experiment.name, experiment.tags) == (name, tags)
    for expected in old.RUNS:
        run = store.get_run(expected["id"])
        assert run.name == expected["name"]
        assert run.status is RunStatus(expected["status"])
        assert run.parent_id == expected["parent_id"]
        assert run.experiment_id == str(expected["experiment_id"])
        assert (run.start_time, run.end_time) == (expected["start_time"], expected["end_time"])
        assert run.note == expected["note"]
        assert run.deleted is expected["deleted"]
        assert run.params == expected["params"]
        assert {k: v for k, v in run.tags.items() if k in expected["tags"]} == expected["tags"]
        for key, points in expected["metrics"].items():
            history = store.get_metric_history(run.id, key)
            assert [m.step for m in history] == [s for s, _ in points]
            assert all(_same_value(m.value, v) for m, (_, v) in zip(history, points, strict=True))
            counts["points"] += len(history)
        counts["runs"] += 1
        counts["params"] += len(run.params)
        counts["tags"] += len(expected["tags"])
    return counts


def test_the_committed_old_store_is_what_the_script_makes(tmp_path: Path) -> None:
    made = tmp_path / "made.db"
    old.make(made)
    committed = _dump(f"sqlite:///{old.COMMITTED}")
    assert _dump(f"sqlite:///{made}") == committed
    assert committed["alembic_version"] == [("0001",)]
    assert set(committed) == {*TABLES_0001, "alembic_version"}


def test_a_local_store_at_0001_migrates_with_its_data_intact(tmp_path: Path) -> None:
    folder = tmp_path / "old-store"
    db_url = _old_copy(folder)
    before = _dump(db_url, TABLES_0001)
    store = open_store(str(folder))  # a local store migrates itself when opened
    assert schema_revision(db_url) == SCHEMA_REVISION
    assert _dump(db_url, TABLES_0001) == before
    counts = _check_api(store)
    # The migrated store takes new runs (and the tables later revisions added).
    run = store.create_run("1", "after the upgrade")
    store.log_batch(run.id, [("loss", 0.5, 0, 1)], {"lr": "0.01"}, {"k": "v"})
    assert store.get_run(run.id).metrics == {"loss": 0.5}
    assert "users" in _dump(db_url)
    result = CliRunner().invoke(main, ["db", "current", "--store", str(folder)])
    assert result.exit_code == 0 and f"{SCHEMA_REVISION} (up to date)" in result.output
    record(
        "upgrade-sqlite-0001",
        from_revision="0001",
        to_revision=SCHEMA_REVISION,
        rows_compared=sum(len(rows) for rows in before.values()),
        rows_changed=0,
        **counts,
    )


@pytest.fixture
def old_postgres(postgres_url: str) -> str:
    """The PostgreSQL database taken back to 0001, holding the committed store's rows."""
    _at_0001(postgres_url)
    engine = sa.create_engine(normalize_db_url(postgres_url))
    source = sqlite3.connect(old.COMMITTED)
    try:
        with engine.begin() as conn:
            meta = sa.MetaData()
            meta.reflect(conn, only=TABLES_0001)
            for name in reversed(TABLES_0001):
                conn.execute(meta.tables[name].delete())
            for name in TABLES_0001:
                table = meta.tables[name]
                cursor = source.execute(f"SELECT * FROM {name}")
                columns = [d[0] for d in cursor.description]
                flags = {c.name for c in table.columns if isinstance(c.type, sa.Boolean)}
                rows = [
                    {c: bool(v) if c in flags else v for c, v in zip(columns, row, strict=True)}
                    for row in cursor
                ]
                conn.execute(table.insert(), rows)
            for name in ("experiments", "latest_metrics"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), MAX(id)) FROM {name}"
                )
    finally:
        source.close()
        engine.dispose()
    return postgres_url


@pytest.mark.postgres
def test_a_postgres_store_at_0001_upgrades_with_its_data_intact(old_postgres: str) -> None:
    before = _dump(old_postgres, TABLES_0001)
    with pytest.raises(SchemaVersionError, match="tane db upgrade"):
        SqlStore(old_postgres)
    assert _dump(old_postgres, TABLES_0001) == before  # refusing changed nothing
    result = CliRunner().invoke(main, ["db", "upgrade", "--store", old_postgres])
    assert result.exit_code == 0, result.output
    assert f"from schema revision 0001 to {SCHEMA_REVISION}" in result.output
    assert "tane:tane@" not in result.output  # the password is not echoed
    assert _dump(old_postgres, TABLES_0001) == before
    store = SqlStore(old_postgres)
    try:
        counts = _check_api(store)
        run = store.create_run("2", "after the upgrade")
        store.log_batch(run.id, [("métrique", 1.0, 0, 1)])
    finally:
        store.close()
    record(
        "upgrade-postgres-0001",
        from_revision="0001",
        to_revision=SCHEMA_REVISION,
        rows_compared=sum(len(rows) for rows in before.values()),
        rows_changed=0,
        **counts,
    )


# -- a store of a newer tane ----------------------------------------------------------------


def _refusal(error: BaseException | str) -> None:
    message = str(error)
    assert f"'{NEWER}'" in message and f"'{SCHEMA_REVISION}'" in message, message
    assert "upgrade tane" in message and "pip install -U tane" in message, message


def _snapshot(folder: Path) -> tuple[str, list[str]]:
    digest = hashlib.sha256((folder / "tane.db").read_bytes()).hexdigest()
    return digest, sorted(p.name for p in folder.iterdir())


@pytest.fixture
def newer_store(tmp_path: Path) -> Iterator[Path]:
    """A local store stamped with a revision this tane does not know, not in WAL mode."""
    folder = tmp_path / "newer"
    _old_copy(folder)
    open_store(str(folder))  # migrated to this tane's head first
    clear_cache()
    conn = sqlite3.connect(folder / "tane.db")
    conn.execute("PRAGMA journal_mode = DELETE")  # a change of mode would show in the bytes
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (NEWER,))
        conn.execute("CREATE TABLE future_feature (id INTEGER PRIMARY KEY, payload TEXT)")
    conn.close()
    yield folder
    clear_cache()


def test_a_store_of_a_newer_tane_is_refused_and_left_untouched(newer_store: Path) -> None:
    before = _snapshot(newer_store)
    url = f"sqlite:///{newer_store / 'tane.db'}"
    openers = {
        "open_store": lambda: open_store(str(newer_store)),
        "SqlStore": lambda: SqlStore(url),
        "SqlStore(upgrade=True)": lambda: SqlStore(url, upgrade=True),
    }
    for opener in openers.values():
        with pytest.raises(SchemaVersionError) as info:
            opener()
        _refusal(info.value)
        clear_cache()
    commands = (
        ["db", "upgrade", "--store", str(newer_store)],
        ["--store", str(newer_store), "runs", "ls"],
    )
    for argv in commands:
        result = CliRunner().invoke(main, argv)
        assert result.exit_code == 1, result.output
        _refusal(result.output.replace("\n", " "))
    current = CliRunner().invoke(main, ["db", "current", "--store", str(newer_store)])
    assert f"{NEWER} (newer than this tane, which knows up to {SCHEMA_REVISION}" in current.output
    assert _snapshot(newer_store) == before  # the same bytes, and no file added beside it
    record(
        "upgrade-refuse-newer-sqlite",
        store_revision=NEWER,
        tane_revision=SCHEMA_REVISION,
        attempts=len(openers) + len(commands),
        refused=len(openers) + len(commands),
        bytes_changed=0,
        files_added=0,
    )


@pytest.mark.postgres
def test_a_postgres_store_of_a_newer_tane_is_refused_and_left_untouched(postgres_url: str) -> None:
    engine = sa.create_engine(normalize_db_url(postgres_url))
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = %s", (NEWER,))
        conn.exec_driver_sql("CREATE TABLE future_feature (id INTEGER PRIMARY KEY)")
    engine.dispose()
    before = _dump(postgres_url)
    for upgrade in (None, True):
        with pytest.raises(SchemaVersionError) as info:
            SqlStore(postgres_url, upgrade=upgrade)
        _refusal(info.value)
        assert "tane:tane@" not in str(info.value)  # no database password in the message
    result = CliRunner().invoke(main, ["db", "upgrade", "--store", postgres_url])
    assert result.exit_code == 1
    _refusal(result.output.replace("\n", " "))
    assert _dump(postgres_url) == before
    record(
        "upgrade-refuse-newer-postgres",
        store_revision=NEWER,
        tane_revision=SCHEMA_REVISION,
        attempts=3,
        refused=3,
        rows_changed=0,
    )
