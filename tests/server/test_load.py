"""50 clients log metrics to a real ``tane server`` process for 20 s: every point is stored.

The server is its own process (``python -m tane server``), as in production, on
SQLite and on PostgreSQL. The clients are of two kinds, each with a run of its own:

- 40 threads of this process, each with its own ``RestStore`` (its own HTTP
  connection), sending ``log_batch`` calls back to back, 1, 10, 100 or 1,000
  points at a time: chatty clients and bulk ones.
- 10 training loops in two other processes (5 threads each) using the fluent API
  (``tane.start_run`` / ``tane.log_metrics`` with TANE_STORE naming the server),
  3 metrics a step, a step every 10 ms: their points go through the background
  writer, which batches them once a second and flushes the rest when the run ends.

Every point a client logs is counted, acknowledged or not, with the sum of its
steps. Once the clients have stopped and the server has shut down, the database
itself (not the server) is asked what each run holds: exactly as many points as
its client logged, with the same sum of steps (a point stored twice and another
lost would not hide). TANE_LOAD_SECONDS shortens the logging for a local run
(CI runs the full 20 s).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tane.testing.server import free_port
from tane.tracking.entities import RunStatus
from tane.tracking.stores.rest import RestStore

#: Seconds the clients log for (TANE_LOAD_SECONDS shortens it locally; CI: 20).
SECONDS = float(os.environ.get("TANE_LOAD_SECONDS", "20"))
#: Clients that call RestStore.log_batch, threads of this process.
BATCH_CLIENTS = 40
#: Points per log_batch call, by client (chatty ones and bulk ones).
BATCH_SIZES = (1, 10, 100, 1000)
#: Processes running fluent-API training loops, and loops (threads) in each.
FLUENT_PROCESSES = 2
FLUENT_THREADS = 5
CLIENTS = BATCH_CLIENTS + FLUENT_PROCESSES * FLUENT_THREADS
#: Points per second the whole load must reach at least (the 2-CPU development
#: machine does 30,000-80,000), so that a server that hardly answers cannot pass.
MIN_POINTS_PER_SECOND = 2_000
#: Points per second each fluent client must reach at least (it aims at 300).
MIN_FLUENT_POINTS_PER_SECOND = 30
#: Seconds a client may still take after the logging time (final flushes).
GRACE = 15.0

# Training loops of the fluent API, run in a process of their own. Each starts
# its run; the process then says "ready", waits for the deadline on stdin, logs
# until then and prints what each of its runs logged as one JSON line.
FLUENT_CLIENT = """
import json, sys, threading, time
import tane

threads, prefix = int(sys.argv[1]), sys.argv[2]
started, go = threading.Barrier(threads + 1), threading.Event()
deadline, logged, errors = [0.0], {}, []

def loop(i):
    run = None
    try:
        run = tane.start_run(experiment="load", name=f"{prefix}-{i}", capture=False)
        run.log_params({"client": i, "kind": "fluent"})
    except BaseException as exc:
        errors.append(f"{prefix}-{i}: start: {exc!r}")
    finally:
        started.wait()
    go.wait()
    if run is None:
        return
    try:
        with run:
            step = 0
            while time.time() < deadline[0]:
                tane.log_metrics({"loss": 1 / (step + 1), "acc": step / 1e6, "lr": 0.1}, step=step)
                step += 1
                logged[run.id] = [3 * step, 3 * step * (step - 1) // 2]
                time.sleep(0.01)
    except BaseException as exc:
        errors.append(f"{prefix}-{i}: {exc!r}")

workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
for w in workers:
    w.start()
started.wait()
print("ready", flush=True)
deadline[0] = float(sys.stdin.readline())
go.set()
for w in workers:
    w.join()
print(json.dumps({"logged": logged, "errors": errors}), flush=True)
"""


@dataclass
class Tally:
    """What each run's client logged (acknowledged or not), and what went wrong."""

    #: run id -> (points, sum of their steps)
    logged: dict[str, tuple[int, int]] = field(default_factory=dict)
    fluent_runs: set[str] = field(default_factory=set)
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ServerProcess:
    """``python -m tane server`` on a free port of 127.0.0.1, its output in a file.

    ``options`` go to ``tane server`` too (``--auth``).
    """

    def __init__(self, store_uri: str, log: Path, *options: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        argv = [sys.executable, "-m", "tane", "server", "--store", store_uri]
        argv += ["--port", str(self.port), *options]
        self._out: IO[bytes] = open(log, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"tane server exited:\n{self.output()}"
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"tane server not ready within {timeout} s:\n{self.output()}")

    def stop(self) -> int:
        """Stop the server (SIGTERM, then SIGKILL after 15 s); return its exit code.

        uvicorn shuts down gracefully on SIGTERM and then exits by that signal
        (-15): ``output()`` tells a graceful end from a kill.
        """
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        return self.proc.returncode

    def output(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each backend, named as ``tane server --store`` takes it."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'load.db'}"


@pytest.fixture
def server(store_uri: str, tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(store_uri, tmp_path / "server.log")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def _batch_client(
    url: str,
    experiment_id: str,
    index: int,
    start: threading.Event,
    deadline: list[float],
    tally: Tally,
) -> None:
    """Send log_batch calls back to back until the deadline, counting every point."""
    store = RestStore(url, timeout=60)
    size = BATCH_SIZES[index % len(BATCH_SIZES)]
    try:
        run = store.create_run(experiment_id, f"batch-{index}", tags={"size": str(size)})
    except Exception as exc:
        with tally.lock:
            tally.errors.append(f"batch-{index}: create_run: {exc!r}")
        return
    logged = requests = 0
    start.wait()
    while time.time() < deadline[0]:
        now = int(time.time() * 1000)
        points = [(f"m{k % 3}", float(logged + k), logged + k, now) for k in range(size)]
        try:
            store.log_batch(run.id, points)
        except Exception as exc:
            with tally.lock:
                tally.errors.append(f"batch-{index}: log_batch: {exc!r}")
        logged += size  # counted whether the server acknowledged it or not
        requests += 1
    # Steps 0, 1, ..., logged - 1, once each.
    step_sum = logged * (logged - 1) // 2
    try:
        store.update_run(run.id, status=RunStatus.FINISHED, end_time=int(time.time() * 1000))
    except Exception as exc:
        with tally.lock:
            tally.errors.append(f"batch-{index}: update_run: {exc!r}")
    store.close()
    with tally.lock:
        tally.logged[run.id] = (logged, step_sum)
        tally.requests += requests


def _stored_points(store_uri: str) -> dict[str, tuple[int, int]]:
    """Points per run and the sum of their steps, from the database itself."""
    import sqlalchemy as sa

    from tane.tracking.stores._common import normalize_db_url

    engine = sa.create_engine(normalize_db_url(store_uri))
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT s.run_id, COUNT(*), SUM(m.step) FROM metrics m "
                "JOIN latest_metrics s ON m.series_id = s.id GROUP BY s.run_id"
            ).all()
    finally:
        engine.dispose()
    return {str(run_id): (int(count), int(steps)) for run_id, count, steps in rows}


@pytest.mark.slow
@pytest.mark.timeout(SECONDS + 120)
def test_50_clients_logging_for_20_seconds_lose_no_point(
    server: ServerProcess, store_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally()
    setup = RestStore(server.url)
    experiment = setup.get_or_create_experiment("load")
    setup.close()

    # The fluent clients import tane first; all clients then start together.
    env = {**os.environ, "TANE_STORE": server.url, "TANE_EXPERIMENT": "load"}
    logs = [open(tmp_path / f"fluent{p}.log", "wb") for p in range(FLUENT_PROCESSES)]  # noqa: SIM115
    fluent = [
        subprocess.Popen(
            [sys.executable, "-c", FLUENT_CLIENT, str(FLUENT_THREADS), f"fluent{p}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            text=True,
        )
        for p, log in enumerate(logs)
    ]
    start = threading.Event()
    deadline = [0.0]
    threads = [
        threading.Thread(
            target=_batch_client,
            args=(server.url, experiment.id, i, start, deadline, tally),
            daemon=True,
        )
        for i in range(BATCH_CLIENTS)
    ]
    try:
        for proc in fluent:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for thread in threads:
            thread.start()
        began = time.time()
        deadline[0] = began + SECONDS
        for proc in fluent:
            assert proc.stdin is not None
            proc.stdin.write(f"{deadline[0]}\n")
            proc.stdin.flush()
        start.set()
        for thread in threads:
            thread.join(timeout=SECONDS + GRACE)
            assert not thread.is_alive(), "a batch client did not stop"
        for p, proc in enumerate(fluent):
            out, _ = proc.communicate(timeout=max(1.0, deadline[0] + GRACE - time.time()))
            assert proc.returncode == 0, (tmp_path / f"fluent{p}.log").read_text()
            report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
            tally.logged.update({k: (v[0], v[1]) for k, v in report["logged"].items()})
            tally.fluent_runs |= set(report["logged"])
            tally.errors += report["errors"]
        finished = time.time()
    finally:
        start.set()  # after a failure, batch clients still waiting stop at once
        for proc in fluent:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
        for log in logs:
            log.close()
    exit_code = server.stop()

    stored = _stored_points(store_uri)
    logged_total = sum(points for points, _ in tally.logged.values())
    stored_total = sum(stored.get(run_id, (0, 0))[0] for run_id in tally.logged)
    fluent_total = sum(tally.logged[run_id][0] for run_id in tally.fluent_runs)
    elapsed = finished - began
    backend = store_uri.split(":", 1)[0]
    line = (
        f"load ({backend}): {CLIENTS} clients for {SECONDS:g} s: {logged_total:,} points "
        f"logged, {stored_total:,} stored, {stored_total / elapsed:,.0f} points/s over "
        f"{elapsed:.1f} s ({logged_total - fluent_total:,} in {tally.requests:,} log_batch "
        f"calls of {BATCH_CLIENTS} clients, {fluent_total:,} through the fluent API of "
        f"{len(tally.fluent_runs)})"
    )
    with capsys.disabled():
        print(f"\n{line}")

    assert not tally.errors, "\n".join(tally.errors[:20])
    assert len(tally.logged) == CLIENTS, f"{len(tally.logged)} of {CLIENTS} clients reported"
    assert exit_code in (0, -signal.SIGTERM), server.output()
    assert "Finished server process" in server.output(), server.output()
    differ = {
        run_id: (logged, stored.get(run_id))
        for run_id, logged in tally.logged.items()
        if stored.get(run_id) != logged
    }
    assert not differ, f"runs whose (points, step sum) logged and stored differ: {differ}"
    assert set(stored) == set(tally.logged), "the database holds points of other runs"
    # Not vacuous: every client logged, and the whole load was a real one.
    assert min(points for points, _ in tally.logged.values()) > 0, line
    fluent_least = min(tally.logged[run_id][0] for run_id in tally.fluent_runs)
    assert fluent_least >= MIN_FLUENT_POINTS_PER_SECOND * SECONDS, line
    assert logged_total >= MIN_POINTS_PER_SECOND * SECONDS, line
