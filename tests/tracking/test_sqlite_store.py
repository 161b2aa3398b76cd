"""The sqlite3 recording path: when it opens, and that recording needs no SQLAlchemy."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tane.errors import StoreError
from tane.tracking.client import Client
from tane.tracking.stores import clear_cache, open_store
from tane.tracking.stores.sql import SqlStore
from tane.tracking.stores.sqlite import SqliteStore, open_sqlite


def test_a_new_store_is_created_by_sqlstore_and_recorded_on_sqlite3(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    first = open_store(str(folder))
    assert isinstance(first, SqliteStore)
    assert isinstance(first._full, SqlStore)  # it created (and migrated) the schema
    clear_cache()
    second = open_store(str(folder))
    assert isinstance(second, SqliteStore)
    assert second._full is None  # reopening needs no SQLAlchemy
    assert second.artifact_root == first.artifact_root


def test_another_schema_revision_goes_to_sqlstore(tmp_path: Path) -> None:
    path = tmp_path / "tane.db"
    SqlStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    assert open_sqlite(f"sqlite:///{path}", str(path)) is None
    with pytest.raises(StoreError, match="newer tane"):
        open_store(f"sqlite:///{path}")


def test_a_file_that_is_not_a_store_gets_sqlstores_message(tmp_path: Path) -> None:
    path = tmp_path / "tane.db"
    path.write_bytes(b"not a database at all" * 100)
    assert open_sqlite(f"sqlite:///{path}", str(path)) is None
    with pytest.raises(StoreError, match="corrupt or not a tane store"):
        open_store(f"sqlite:///{path}")
    assert path.read_bytes() == b"not a database at all" * 100


def test_a_locked_store_reports_unavailable_not_a_driver_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tane.db'}"
    SqlStore(url).close()
    store = open_sqlite(url, str(tmp_path / "tane.db"))
    assert store is not None
    run = store.create_run("0", "r")
    blocker = sqlite3.connect(tmp_path / "tane.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    store._conn().execute("PRAGMA busy_timeout = 50")
    try:
        with pytest.raises(StoreError, match="stayed locked by another process"):
            store.log_batch(run.id, params={"a": "1"})
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.log_batch(run.id, params={"a": "1"})
    assert store.get_run(run.id).params == {"a": "1"}
    store.close()


def test_recording_a_script_and_a_multirun_never_imports_sqlalchemy(tmp_path: Path) -> None:
    store = tmp_path / "store"
    SqlStore(f"sqlite:///{store / 'tane.db'}", str(store / "artifacts")).close()
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "config.yaml").write_text("defaults:\n  - model: a\n  - _self_\n")
    (tmp_path / "conf" / "model" / "a.yaml").write_text("alpha: 1\n")
    (tmp_path / "conf" / "model" / "b.yaml").write_text("alpha: 2\n")
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            import atexit, sys
            import tane

            @tane.main(config_path="conf", config_name="config")
            def train(cfg):
                tane.log_metric("loss", 0.5)
                tane.log_text("hello", "notes.txt")
                return float(cfg.model.alpha)

            def report():
                print("SQLALCHEMY", "sqlalchemy" in sys.modules)

            if __name__ == "__main__":
                with tane.start_run(name="plain") as run:
                    run.log_params({"x": 1})
                    for step in range(50):
                        tane.log_metric("acc", step / 50)
                atexit.register(report)
                train()
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, str(script), "-m", "model=a,b"],
        cwd=tmp_path,
        env={**_env(), "TANE_STORE": str(store)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "SQLALCHEMY False" in proc.stdout
    runs = Client(str(store)).search_runs(order_by=["start_time"])
    assert runs[0].name == "plain"
    children = [r for r in runs if r.parent_id is not None]
    assert sorted(r.metrics["objective"] for r in children) == [1.0, 2.0]
    assert all(r.metrics["loss"] == 0.5 for r in children)
    plain = runs[0]
    assert plain.params == {"x": "1"}
    assert len(Client(str(store)).get_metric_history(plain.id, "acc")) == 50


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("TANE_")}
