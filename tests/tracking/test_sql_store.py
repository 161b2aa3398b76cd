"""What only a SQL store has: opening, schema versions, bad databases, URIs."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tane.errors import SchemaVersionError, StoreError
from tane.tracking.entities import RunStatus
from tane.tracking.stores import _schema, open_store
from tane.tracking.stores.base import MetricPoint
from tane.tracking.stores.sql import SqlStore


def test_schema_revision_is_the_migration_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", "tane.tracking.stores:migrations")
    heads = ScriptDirectory.from_config(cfg).get_heads()
    assert heads == [_schema.SCHEMA_REVISION]
    assert _schema.SCHEMA_REVISION in _schema.KNOWN_REVISIONS


def test_migrated_schema_matches_the_table_definitions(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'a.db'}")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    inspector = sa.inspect(engine)
    for table in _schema.metadata.sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        assert {i.name for i in table.indexes} <= indexes, table.name
    engine.dispose()
    store.close()


def test_folder_store_layout(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "proj" / ".tane"))
    assert (tmp_path / "proj" / ".tane" / "tane.db").is_file()
    assert store.artifact_root == str(tmp_path / "proj" / ".tane" / "artifacts")
    con = sqlite3.connect(tmp_path / "proj" / ".tane" / "tane.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_sqlite_uri_puts_artifacts_beside_the_file(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'db' / 'runs.db'}")
    assert store.artifact_root == str(tmp_path / "db" / "artifacts")


def test_artifact_root_is_recorded_at_creation(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    SqlStore(url, str(tmp_path / "elsewhere")).close()
    # Opened later without saying where: the recorded root is used.
    reopened = SqlStore(url)
    assert reopened.artifact_root == str(tmp_path / "elsewhere")
    reopened.close()


def test_store_path_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(StoreError, match="is a file, not a folder"):
        open_store(str(target))


@pytest.mark.parametrize("uri", ["ftp://host/x", "mysql://u@h/db"])
def test_unknown_scheme(uri: str) -> None:
    with pytest.raises(StoreError, match="unknown scheme"):
        open_store(uri)


def test_an_http_uri_opens_the_rest_store(tmp_path: Path) -> None:
    from tane.tracking.stores.rest import RestStore

    store = open_store("http://127.0.0.1:9/")
    assert isinstance(store, RestStore)


def test_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    store = SqlStore(f"sqlite:///{db}")
    run = store.create_run("0", "precious")
    store.close()
    con = sqlite3.connect(db)
    con.execute("UPDATE alembic_version SET version_num = '9999'")
    con.commit()
    con.close()
    with pytest.raises(SchemaVersionError, match="newer tane.*pip install -U tane"):
        SqlStore(f"sqlite:///{db}")
    con = sqlite3.connect(db)
    assert con.execute("SELECT name FROM runs WHERE id = ?", (run.id,)).fetchone() == ("precious",)
    assert con.execute("SELECT version_num FROM alembic_version").fetchone() == ("9999",)
    con.close()


def test_corrupt_database_file(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    (folder / "tane.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="corrupt or not a tane store.*move the file away"):
        open_store(str(folder))
    assert (folder / "tane.db").read_bytes().startswith(b"this is not sqlite")


def test_unreachable_postgres_is_a_clear_error() -> None:
    started = time.monotonic()
    with pytest.raises(StoreError, match="cannot reach the store database.*127.0.0.1:9") as info:
        SqlStore("postgresql://someone:secret-pw@127.0.0.1:9/nothing?connect_timeout=3")
    assert "secret-pw" not in str(info.value)
    assert time.monotonic() - started < 30


@pytest.mark.postgres
def test_postgres_uri_forms(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql://")
    store = SqlStore(postgres_url)
    assert store.db_url.startswith("postgresql+psycopg://")
    run = store.create_run("0", "r")
    store.log_batch(run.id, [MetricPoint("x", float("nan"), 0, 1)])
    assert store.get_run(run.id).status is RunStatus.RUNNING
    store.close()


@pytest.mark.postgres
def test_postgres_unknown_revision_is_refused(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    engine.dispose()
    with pytest.raises(SchemaVersionError):
        SqlStore(postgres_url)


def test_stale_heartbeat_shows_crashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'hb.db'}")
    # A run owned by a process on another machine: only its heartbeat tells.
    run = store.create_run("0", "remote", host="another-host", pid=1)
    assert store.get_run(run.id).status is RunStatus.RUNNING
    monkeypatch.setenv("TANE_HEARTBEAT_TIMEOUT", "0.05")
    time.sleep(0.1)
    store.reap_interval = 0
    got = store.get_run(run.id)
    assert got.status is RunStatus.CRASHED
    assert got.end_time == got.heartbeat
    # A run that ended normally is never reaped.
    done = store.create_run("0", "done", host="another-host", pid=1)
    store.update_run(done.id, status=RunStatus.FINISHED, end_time=done.start_time + 1)
    time.sleep(0.1)
    assert store.get_run(done.id).status is RunStatus.FINISHED
    store.close()


def test_gc_shrinks_the_database_file(tmp_path: Path) -> None:
    db = tmp_path / "gc" / "tane.db"
    store = SqlStore(f"sqlite:///{db}")
    runs = [store.create_run("0", f"r{i}") for i in range(20)]
    for run in runs:
        store.log_batch(run.id, [MetricPoint("x", float(i), i, i) for i in range(5000)])
    store.delete_runs([r.id for r in runs])
    before = db.stat().st_size + Path(f"{db}-wal").stat().st_size
    report = store.purge_runs()
    after = db.stat().st_size + Path(f"{db}-wal").stat().st_size
    assert len(report.run_ids) == 20
    assert report.bytes_freed > 1_000_000
    assert after < before / 2
    store.close()


@pytest.mark.parametrize("tables", [["alembic_version"], ["customers"]])
def test_another_applications_database_is_refused(tmp_path: Path, tables: list[str]) -> None:
    db = tmp_path / "other.db"
    con = sqlite3.connect(db)
    for table in tables:
        con.execute(f"CREATE TABLE {table} (version_num TEXT)")
    con.execute("INSERT INTO " + tables[0] + " VALUES ('abc123')")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not a tane store"):
        SqlStore(f"sqlite:///{db}")
    con = sqlite3.connect(db)
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    con.close()
    assert names == set(tables)  # nothing of tane's was added


def test_huge_page_token_is_refused(tmp_path: Path) -> None:
    import base64
    import json

    from tane.errors import InvalidInput

    store = SqlStore(f"sqlite:///{tmp_path / 'p.db'}")
    token = base64.urlsafe_b64encode(json.dumps({"offset": 10**30}).encode()).decode()
    with pytest.raises(InvalidInput, match="page token"):
        store.search_runs(None, "", [], 10, token)
    store.close()


class _FlakyStore(SqlStore):
    """A real store that refuses batches holding a poisoned key, or is down for a while."""

    down = False

    def log_batch(self, run_id, metrics=(), params=None, tags=None):  # type: ignore[no-untyped-def]
        from tane.errors import StoreError, StoreUnavailable

        if self.down and metrics:
            raise StoreUnavailable("store is down")
        if any(p[0] == "poison" for p in metrics):
            raise StoreError("refused")
        return super().log_batch(run_id, metrics, params, tags)


def test_writer_survives_refused_and_unavailable_batches(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from tane.errors import StoreUnavailable
    from tane.tracking.writer import MetricWriter

    store = _FlakyStore(f"sqlite:///{tmp_path / 'f.db'}")
    good = store.create_run("0", "good")
    bad = store.create_run("0", "bad")
    writer = MetricWriter(store, interval=0.05)
    writer.put(bad.id, ("poison", 1.0, 0, 1))
    writer.put(good.id, ("x", 1.0, 0, 1))
    writer.flush()  # the refused batch is dropped, the good one written
    assert "refused 1 metric points" in capfd.readouterr().err
    store.down = True
    writer.put(good.id, ("x", 2.0, 1, 2))
    with pytest.raises(StoreUnavailable):
        writer.flush()
    assert writer.pending() == 1  # kept, in order, for the next try
    store.down = False
    writer.put(good.id, ("x", 3.0, 2, 3))
    deadline = time.monotonic() + 10
    while writer.pending() and time.monotonic() < deadline:
        time.sleep(0.05)  # the thread retries by itself
    assert [m.value for m in store.get_metric_history(good.id, "x")] == [1.0, 2.0, 3.0]
    writer.close()
    store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_both_downsampling_paths_pick_the_same_points(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small series are downsampled in Python after one read, big ones by indexed range
    lookups per bucket: the same first, lowest and highest point of every bucket."""
    import math

    from tane.tracking.stores import sql

    url = (
        request.getfixturevalue("postgres_url")
        if kind == "postgres"
        else f"sqlite:///{tmp_path / 'd.db'}"
    )
    store = SqlStore(url, str(tmp_path / "artifacts"))
    run = store.create_run("0", "wave")
    values = [math.sin(i / 37) * (1 + i % 7) for i in range(4000)]
    values[17] = math.nan
    values[2500] = 1e6
    values[2501] = 1e6  # a tie: the earlier step wins in both paths
    values[3999] = -1e6
    store.log_batch(run.id, [("w", v, i * 3, 1000 + i) for i, v in enumerate(values)])
    for window in ({}, {"min_step": 300, "max_step": 9000}):
        in_python = store.get_metric_history(run.id, "w", max_points=240, **window)
        monkeypatch.setattr(sql, "_READ_WHOLE", 0)
        indexed = store.get_metric_history(run.id, "w", max_points=240, **window)
        monkeypatch.setattr(sql, "_READ_WHOLE", 100_000)

        def shape(points: list[Any]) -> list[tuple[int, int, float | None]]:
            return [(p.step, p.timestamp, None if math.isnan(p.value) else p.value) for p in points]

        assert shape(in_python) == shape(indexed)
        assert 80 <= len(indexed) <= 240
    steps = {p.step: p.value for p in store.get_metric_history(run.id, "w", max_points=240)}
    assert steps[2500 * 3] == 1e6 and 2501 * 3 not in steps and steps[3999 * 3] == -1e6
    store.close()
