"""Writes to a server that is down are spooled to disk and sent when it is back.

Every test runs a real uvicorn server (LiveServer) over a SQLite store, stops
it, writes through a RestStore, and starts a new server on the same port over
the same store. The spool lives under the test's XDG_CACHE_HOME.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tane
from tane.cli import main
from tane.errors import StoreError, StoreUnavailable
from tane.testing.server import LiveServer
from tane.tracking.entities import RunStatus
from tane.tracking.spool import Spool, server_key, spool_root
from tane.tracking.stores import clear_cache
from tane.tracking.stores.base import MetricPoint
from tane.tracking.stores.rest import RestStore
from tane.tracking.stores.sql import SqlStore

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[SqlStore]:
    store = SqlStore(
        f"sqlite:///{tmp_path / 'server' / 'tane.db'}", str(tmp_path / "server" / "artifacts")
    )
    yield store
    store.close()


class Server:
    """A LiveServer that can be stopped and started again on the same port."""

    def __init__(self, backend: SqlStore) -> None:
        self.backend = backend
        self.live: LiveServer | None = LiveServer(store=backend).start()
        self.port = self.live.port
        self.url = self.live.url

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def start(self) -> None:
        assert self.live is None
        self.live = LiveServer(store=self.backend, port=self.port).start()


@pytest.fixture
def server(backend: SqlStore) -> Iterator[Server]:
    srv = Server(backend)
    yield srv
    srv.stop()


@pytest.fixture
def client(server: Server) -> Iterator[RestStore]:
    store = RestStore(server.url)
    yield store
    store.close()


def _points(start: int, stop: int, key: str = "loss") -> list[MetricPoint]:
    return [MetricPoint(key, float(i) / 7, i, 1_000 + i) for i in range(start, stop)]


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _sync(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["sync", *args])
    return result.exit_code, result.output


def test_writes_are_spooled_while_the_server_is_down_and_sent_by_sync(
    server: Server, client: RestStore, backend: SqlStore, tmp_path: Path
) -> None:
    run = client.create_run("0", "r")
    client.log_batch(run.id, _points(0, 10), params={"lr": "0.1"})
    report = tmp_path / "report.txt"
    report.write_text("report")
    server.stop()

    started = time.monotonic()
    client.log_batch(run.id, _points(10, 110), params={"model": "lgbm"}, tags={"a": "1"})
    client.log_batch(run.id, _points(110, 200))
    client.delete_tag(run.id, "a")
    client.log_artifact_bytes(run.id, "notes/a.txt", b"hello")
    client.log_artifact_bytes(run.id, "logs/out.log", b"one\n", append=True)
    client.log_artifact_bytes(run.id, "logs/out.log", b"two\n", append=True)
    client.log_artifact(run.id, str(report), "reports")
    client.heartbeat([run.id], 123)  # dropped, not spooled
    client.update_run(run.id, status=RunStatus.FINISHED, end_time=5_000)
    # The first write tries three times; the others go straight to disk.
    assert time.monotonic() - started < 3

    # Creating runs still needs the server, and says which.
    with pytest.raises(StoreUnavailable, match=rf"{server.url} cannot be reached"):
        client.create_run("0", "other")

    spool_dir = tmp_path / "xdg-cache" / "tane" / "spool" / server_key(server.url)
    assert client.spool.folder == spool_dir
    assert json.loads((spool_dir / "server.json").read_text()) == {"url": server.url}
    lines = _lines(spool_dir / "runs" / f"{run.id}.jsonl")
    assert [line["op"] for line in lines] == [
        "batch",
        "batch",
        "delete_tag",
        "artifact",
        "artifact",
        "artifact",
        "artifact",
        "update",
    ]
    backlog = client.spool_backlog(run.id)
    assert backlog is not None
    assert (backlog.items, backlog.points) == (8, 190)
    assert backlog.artifact_bytes == len(b"hello") + len(b"one\ntwo\n") + len(b"report")
    assert len(list((spool_dir / "files" / run.id).iterdir())) == 4
    # Nothing reached the store meanwhile.
    assert len(backend.get_metric_history(run.id, "loss")) == 10

    code, out = _sync("--list", "--store", server.url)
    assert code == 0, out
    assert run.id[:8] in out and "190" in out

    server.start()
    code, out = _sync("--store", server.url)
    assert code == 0, out
    assert "Sent 8 writes (190 metric points)" in out

    got = backend.get_run(run.id)
    assert got.status is RunStatus.FINISHED and got.end_time == 5_000
    assert got.params == {"lr": "0.1", "model": "lgbm"}
    assert "a" not in got.tags
    history = backend.get_metric_history(run.id, "loss")
    assert [m.step for m in history] == list(range(200))
    assert [m.timestamp for m in history] == [1_000 + i for i in range(200)]
    for path, data in [
        ("notes/a.txt", b"hello"),
        ("logs/out.log", b"one\ntwo\n"),
        ("reports/report.txt", b"report"),
    ]:
        with backend.open_artifact(run.id, path) as fh:
            assert fh.read() == data
    # The spool is empty: file and bytes gone.
    assert not (spool_dir / "runs" / f"{run.id}.jsonl").exists()
    assert not (spool_dir / "files" / run.id).exists()
    code, out = _sync("--list", "--store", server.url)
    assert "Nothing spooled" in out
    code, out = _sync("--store", server.url)
    assert code == 0 and "Nothing to send" in out


def test_the_next_write_sends_the_spool_first(
    server: Server, client: RestStore, backend: SqlStore
) -> None:
    run = client.create_run("0", "r")
    server.stop()
    client.log_batch(run.id, _points(0, 5), tags={"k": "1"})
    client.log_batch(run.id, tags={"k": "2"})
    server.start()
    client._came_up()  # as if the wait after the failure were over
    client.log_batch(run.id, _points(5, 8), tags={"k": "3"})
    assert client.spool_backlog(run.id) is None
    got = backend.get_run(run.id)
    assert got.tags["k"] == "3"
    assert [m.step for m in backend.get_metric_history(run.id, "loss")] == list(range(8))


def test_writes_wait_behind_the_spool_while_the_server_stays_down(
    server: Server, client: RestStore
) -> None:
    run = client.create_run("0", "r")
    server.stop()
    client.log_batch(run.id, _points(0, 5))
    client._came_up()  # the next write tries the server again, finds it down
    client.log_batch(run.id, _points(5, 10))
    client.log_batch(run.id, _points(10, 15))
    items = client.spool.items(run.id)
    assert [item.body["metrics"][0][2] for item in items] == [0, 5, 10]


def test_sync_while_the_server_is_still_down_exits_1(server: Server, client: RestStore) -> None:
    run = client.create_run("0", "r")
    server.stop()
    client.log_batch(run.id, _points(0, 50))
    client.update_run(run.id, status=RunStatus.FINISHED)
    code, out = _sync("--store", server.url)
    assert code == 1
    error = [line for line in out.splitlines() if line.startswith("Error:")]
    assert len(error) == 1
    assert f"{server.url} cannot be reached" in error[0]
    assert "2 writes of 1 run are still spooled" in error[0]
    assert "run `tane sync` again when the server is back" in error[0]
    assert len(client.spool.items(run.id)) == 2
    # The default store (TANE_STORE, a folder here) is no server: say which ones wait.
    code, out = _sync()
    assert code == 1
    assert "is not a tane server" in out and f"writes are spooled for {server.url}" in out
    code, out = _sync("--list")
    assert code == 0 and server.url in out and run.id[:8] in out


def test_refused_writes_are_set_aside_and_the_rest_is_sent(
    server: Server, client: RestStore, backend: SqlStore
) -> None:
    run = client.create_run("0", "r")
    gone = client.create_run("0", "deleted")
    server.stop()
    client.log_batch(run.id, params={"lr": "0.1"})
    client.log_batch(run.id, _points(0, 20))
    client.log_batch(gone.id, _points(0, 3))
    # Meanwhile, on the server's side: another value for lr, and a deleted run.
    backend.log_batch(run.id, params={"lr": "0.2"})
    backend.delete_runs([gone.id])
    server.start()

    code, out = _sync("--store", server.url)
    assert code == 1
    assert "Refused: run" in out and "ParamConflict" in out and "RunNotFound" in out
    assert "the server refused 2 spooled writes" in out
    # The points after the refused param went in; nothing is left to retry forever.
    assert len(backend.get_metric_history(run.id, "loss")) == 20
    assert backend.get_run(run.id).params == {"lr": "0.2"}
    assert client.spool.runs() == []
    rejected = client.spool.rejected()
    assert [(r["run"], r["error"]["type"]) for r in rejected] == [
        (run.id, "ParamConflict"),
        (gone.id, "RunNotFound"),
    ]
    code, out = _sync("--list", "--store", server.url)
    assert "2 writes refused" in out and "rejected.jsonl" in out
    code, out = _sync("--store", server.url)
    assert code == 0 and "Nothing to send" in out


def test_writes_refused_for_credentials_are_held_not_rejected(backend: SqlStore) -> None:
    from tane.server import create_app

    refuse = {"on": False}
    app = create_app(store=backend)

    async def expired_tokens(scope: Any, receive: Any, send: Any) -> None:
        # A real server whose token check starts failing (401 with tane's error body).
        if scope["type"] == "http" and refuse["on"]:
            body = json.dumps({"error": {"type": "NotAuthenticated", "message": "expired"}})
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body.encode()})
            return
        await app(scope, receive, send)

    with LiveServer(app=expired_tokens) as live:
        store = RestStore(live.url)
        try:
            run = store.create_run("0", "r")
            refuse["on"] = True
            store.log_batch(run.id, _points(0, 10))  # not raised, not dropped: held
            assert store.spool_backlog(run.id) is not None
            code, out = _sync("--store", live.url)
            assert code == 1
            assert "1 write of 1 run is still spooled" in out
            assert "NotAuthenticated" in out and "TANE_TOKEN" in out
            assert store.spool.rejected() == []
            refuse["on"] = False
            code, out = _sync("--store", live.url)
            assert code == 0, out
            assert len(backend.get_metric_history(run.id, "loss")) == 10
        finally:
            store.close()


class DroppingProxy:
    """A TCP proxy to the server that, while ``drop`` is set, lets requests through
    but closes the connection instead of passing the answer back: the client
    cannot tell whether its write was stored."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.drop = False
        self.dropped = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = False
        self._open: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        up = socket.create_connection(("127.0.0.1", self.upstream_port))
        self._open += [conn, up]

        def client_to_server() -> None:
            try:
                while data := conn.recv(65536):
                    up.sendall(data)
            except OSError:
                pass
            finally:
                # Pass the end on (closing would not wake the thread reading ``up``).
                with contextlib.suppress(OSError):
                    up.shutdown(socket.SHUT_WR)

        threading.Thread(target=client_to_server, daemon=True).start()
        try:
            while data := up.recv(65536):
                if self.drop:
                    self.dropped += 1
                    break
                conn.sendall(data)
        except OSError:
            pass
        finally:
            # shutdown, not only close: the other thread is blocked reading these.
            for sock in (conn, up):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        self._stop = True
        self.thread.join(5)
        self.sock.close()
        for sock in self._open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)


def test_a_batch_whose_answer_was_lost_is_not_stored_twice(
    server: Server, backend: SqlStore
) -> None:
    proxy = DroppingProxy(server.port)
    store = RestStore(proxy.url)
    try:
        run = store.create_run("0", "r")
        proxy.drop = True
        store.log_batch(run.id, _points(0, 30))
        assert proxy.dropped == 1  # sent once: points are never retried blindly
        items = store.spool.items(run.id)
        assert len(items) == 1 and items[0].uncertain
        # The server did store it; the client does not know.
        assert len(backend.get_metric_history(run.id, "loss")) == 30
        proxy.drop = False
        report = store.replay(run.id)
        assert (report.sent, report.already, report.pending) == (0, 1, 0)
        store.log_batch(run.id, _points(30, 40))
        history = backend.get_metric_history(run.id, "loss")
        assert [m.step for m in history] == list(range(40))
    finally:
        store.close()
        proxy.close()


def test_a_run_ending_with_writes_spooled_says_so(
    server: Server,
    backend: SqlStore,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TANE_STORE", server.url)
    monkeypatch.setenv("TANE_FLUSH_INTERVAL", "0.05")
    clear_cache()
    try:
        with tane.start_run(experiment="spooled", capture=False) as run:
            tane.log_params({"lr": 0.1})
            tane.log_metric("loss", 1.0, step=0)
            tane.flush()
            server.stop()
            for step in range(1, 100):
                tane.log_metric("loss", 1.0 / step, step=step)
            tane.set_tag("phase", "down")
        err = capfd.readouterr().err
        assert f"{server.url} cannot be reached" in err
        warning = [line for line in err.splitlines() if f"run {run.id} ended with" in line]
        assert len(warning) == 1, err
        assert "99 metric points" in warning[0]
        assert "run `tane sync` when the server is back" in warning[0]
        assert f"spool{'/'}" in warning[0] and f"{run.id}.jsonl" in warning[0]
    finally:
        clear_cache()
    server.start()
    code, out = _sync("--store", server.url)
    assert code == 0, out
    got = backend.get_run(run.id)
    assert got.status is RunStatus.FINISHED and got.tags["phase"] == "down"
    assert [m.step for m in backend.get_metric_history(run.id, "loss")] == list(range(100))


def test_the_writer_sends_the_spool_when_the_server_is_back(
    server: Server, backend: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANE_FLUSH_INTERVAL", "0.05")
    with tane.start_run(experiment="back", store=server.url, capture=False) as run:
        tane.log_metric("loss", 0.0, step=0)
        tane.flush()
        server.stop()
        for step in range(1, 50):
            tane.log_metric("loss", float(step), step=step)
        tane.flush()
        assert run.store.spool_backlog(run.id) is not None  # type: ignore[attr-defined]
        server.start()
        deadline = time.monotonic() + 10
        # No new write: the writer's thread sends the spool by itself.
        while run.store.spool_backlog(run.id) is not None:  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, "the spool was not sent within 10 s"
            time.sleep(0.05)
        assert len(backend.get_metric_history(run.id, "loss")) == 50
    assert backend.get_run(run.id).status is RunStatus.FINISHED


def test_spool_dir_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert spool_root() == tmp_path / "xdg-cache" / "tane" / "spool"
    monkeypatch.setenv("TANE_SPOOL_DIR", str(tmp_path / "elsewhere"))
    assert spool_root() == tmp_path / "elsewhere"
    spool = Spool("http://example.test:5000/")
    assert spool.folder == tmp_path / "elsewhere" / server_key("http://example.test:5000")


def test_a_torn_line_and_acknowledged_writes_are_skipped(tmp_path: Path) -> None:
    spool = Spool("http://example.test", tmp_path)
    run_id = "a" * 32
    first = spool.append(run_id, "batch", {"metrics": [["x", 1.0, 0, 1]]})
    with open(spool.run_file(run_id), "ab") as fh:
        fh.write(b'{"id": "torn", "op": "ba')  # a crash in the middle of a write
    second = spool.append(run_id, "update", {"status": "FINISHED"})
    assert [i.id for i in spool.items(run_id)] == [first.id, second.id]

    sent: list[str] = []

    def send_first_only(item: object) -> bool:
        if sent:
            raise StoreUnavailable("down")
        sent.append(item.id)  # type: ignore[attr-defined]
        return True

    report = spool.replay(run_id, send_first_only)
    assert (report.sent, report.points, report.pending) == (1, 1, 1)
    assert sent == [first.id]
    # Rewritten with the one left, torn line and acknowledgement gone.
    assert [line["id"] for line in _lines(spool.run_file(run_id))] == [second.id]
    report = spool.replay(run_id, lambda item: True)
    assert report.sent == 1 and not spool.run_file(run_id).exists()


def test_unsafe_run_ids_are_not_spooled(tmp_path: Path) -> None:
    spool = Spool("http://example.test", tmp_path)
    with pytest.raises(StoreError, match="cannot be spooled"):
        spool.append("../escape", "batch", {})
    assert not spool.has("../escape")
