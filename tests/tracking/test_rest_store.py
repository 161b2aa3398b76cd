"""RestStore: the store conformance suite over HTTP against a real uvicorn server.

One server per module listens on a free port of 127.0.0.1 (uvicorn in a thread);
each test swaps a fresh SQLite store in behind it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tane.errors import InvalidFilter, RunNotFound, StoreError, StoreUnavailable
from tane.server.app import StoreHolder
from tane.testing.server import LiveServer, free_port
from tane.testing.stores import StoreConformance
from tane.tracking.entities import RunStatus
from tane.tracking.stores import clear_cache, database_location, open_store
from tane.tracking.stores.base import MetricPoint, Store
from tane.tracking.stores.rest import RestStore
from tane.tracking.stores.sql import SqlStore

PURGE_MESSAGE = "purging runs is done on the server: tane --store .* gc"


class TestRestStore(StoreConformance):
    """The whole conformance suite through RestStore -> HTTP -> server -> SqlStore.

    The server has no purge route, so ``test_delete_restore_and_purge`` is
    overridden: deleting and restoring are checked over HTTP as in the suite,
    and purging must refuse with a clear StoreError naming ``tane gc``.
    """

    @pytest.fixture
    def store(self, server: LiveServer, backend: SqlStore) -> Iterator[RestStore]:
        store = RestStore(server.url)
        yield store
        store.close()

    def test_delete_restore_and_purge(self, store: Store, tmp_path: Path) -> None:
        parent = store.create_run("0", "parent")
        child = store.create_run("0", "child", parent_id=parent.id)
        keep = store.create_run("0", "keep")
        store.delete_runs([parent.id])
        assert self._names(store) == ["keep"]
        assert sorted(self._names(store, view="deleted")) == ["child", "parent"]
        assert store.get_run(child.id).deleted
        with pytest.raises(RunNotFound, match="deleted"):
            store.log_batch(parent.id, params={"q": "2"})
        store.restore_runs([parent.id])
        assert sorted(self._names(store)) == ["child", "keep", "parent"]
        store.delete_runs([parent.id])
        with pytest.raises(StoreError, match=PURGE_MESSAGE):
            store.purge_runs()
        with pytest.raises(StoreError, match=PURGE_MESSAGE):
            store.purge_runs([keep.id])
        # Nothing was purged.
        assert sorted(self._names(store, view="all")) == ["child", "keep", "parent"]


# -- beyond the suite -----------------------------------------------------------------


def test_open_store_and_database_location_accept_servers(server: LiveServer) -> None:
    assert database_location(server.url) == (server.url, None)
    store = open_store(server.url)
    try:
        assert isinstance(store, RestStore)
        assert store.uri == server.url
        assert store.artifact_root == f"{server.url}/api/v1/artifacts"
    finally:
        clear_cache()


def test_invalid_filter_keeps_its_position(server: LiveServer, backend: SqlStore) -> None:
    store = RestStore(server.url + "/")
    try:
        with pytest.raises(InvalidFilter) as local:
            backend.search_runs(None, "metrics.acc >> 0.9")
        with pytest.raises(InvalidFilter) as info:
            store.search_runs(None, "metrics.acc >> 0.9")
        assert info.value.position == local.value.position is not None
        assert info.value.text == "metrics.acc >> 0.9"
        assert str(info.value) == str(local.value)
    finally:
        store.close()


def test_fluent_api_end_to_end(
    server: LiveServer, backend: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tane

    monkeypatch.setenv("TANE_STORE", server.url)
    report = tmp_path / "report.txt"
    report.write_text("all good")
    clear_cache()
    try:
        with tane.start_run(experiment="remote", name="over-http") as run:
            tane.log_params({"lr": 0.1, "model": "lgbm"})
            for step in range(5):
                tane.log_metric("loss", 1.0 / (step + 1), step=step)
            tane.log_artifact(str(report))
            run_id = run.id
    finally:
        clear_cache()
    got = backend.get_run(run_id)
    assert got.status is RunStatus.FINISHED
    assert got.experiment == "remote"
    assert got.params == {"lr": "0.1", "model": "lgbm"}
    assert got.metrics["loss"] == pytest.approx(0.2)
    assert [m.step for m in backend.get_metric_history(run_id, "loss")] == [0, 1, 2, 3, 4]
    with backend.open_artifact(run_id, "report.txt") as fh:
        assert fh.read() == b"all good"


def test_append_to_a_missing_artifact_creates_it(
    server: LiveServer, backend: SqlStore, tmp_path: Path
) -> None:
    store = RestStore(server.url)
    try:
        run = store.create_run("0", "r")
        store.log_artifact_bytes(run.id, "a/b.log", b"x", append=True)
        store.log_artifact_bytes(run.id, "a/b.log", b"y", append=True)
        with store.open_artifact(run.id, "a/b.log") as fh:
            assert fh.read() == b"xy"
        with pytest.raises(RunNotFound):
            store.log_artifact_bytes("0" * 32, "a.log", b"x", append=True)
        assert store.download_artifacts(run.id, "a/b.log", str(tmp_path / "dl")) == str(
            tmp_path / "dl" / "b.log"
        )
        assert (tmp_path / "dl" / "b.log").read_bytes() == b"xy"
    finally:
        store.close()


def test_server_down_raises_store_unavailable() -> None:
    store = RestStore(f"http://127.0.0.1:{free_port()}")
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="cannot be reached"):
            store.create_run("0", "r")
        # Reads are retried with a short backoff, then give up the same way.
        with pytest.raises(StoreUnavailable):
            store.get_run("0" * 32)
        # Writes of a run are spooled instead (tests/tracking/test_spool.py).
        store.log_batch("0" * 32, [MetricPoint("loss", 1.0, 0, 1)])
        assert store.spool.has("0" * 32)
        assert time.monotonic() - started < 5
    finally:
        store.close()


def test_store_unavailable_answer_is_retried_for_reads(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Down:
        calls = 0

        def get_run(self, run_id: str) -> None:
            Down.calls += 1
            raise StoreUnavailable("database is down")

    server.app.state.store_holder = StoreHolder(store=Down())  # type: ignore[arg-type]
    monkeypatch.setattr("tane.tracking.stores.rest.READ_BACKOFF", (0.01, 0.01))
    store = RestStore(server.url)
    try:
        with pytest.raises(StoreUnavailable, match="database is down"):
            store.get_run("abc")
        assert Down.calls == 3
    finally:
        store.close()
