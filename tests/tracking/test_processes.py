"""Runs recorded by real processes: crashes, signals, exit, many writers at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tane
from tane.tracking.entities import RunStatus

pytestmark = pytest.mark.slow

FLUSH_INTERVAL = 0.3


def _env(store: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TANE_STORE": str(store),
            "TANE_FLUSH_INTERVAL": str(FLUSH_INTERVAL),
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )
    return env


def _script(tmp_path: Path, body: str, name: str = "job.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def _start(script: Path, store: Path, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script)],
        env=_env(store, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_line(proc: subprocess.Popen[str], prefix: str, timeout: float = 60) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(prefix):
            return line.strip()
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"no {prefix!r} line; stderr: {proc.stderr.read() if proc.stderr else ''}")


LOGGING_LOOP = """
import sys, time, tane
run = tane.start_run(experiment="procs", name="looper")
print("RUN", run.id, flush=True)
i = 0
while True:
    tane.log_metric("x", float(i), step=i)
    i += 1
    if i % 50 == 0:
        print("LOGGED", i, flush=True)
    time.sleep(0.001)
"""


def test_sigkill_loses_at_most_the_last_interval_and_shows_crashed(tmp_path: Path) -> None:
    store = tmp_path / "store"
    proc = _start(_script(tmp_path, LOGGING_LOOP), store, TANE_CAPTURE="none")
    run_id = _wait_for_line(proc, "RUN").split()[1]
    last = 0
    started = time.monotonic()
    while time.monotonic() - started < 2.0:
        last = int(_wait_for_line(proc, "LOGGED").split()[1])
    elapsed = time.monotonic() - started
    proc.kill()
    proc.communicate(timeout=60)
    rate = last / max(elapsed, 0.1)  # points per second the loop achieved
    client = tane.Client(str(store))
    stored = len(client.get_metric_history(run_id, "x"))
    lost = last - stored
    # At most one flush interval of points (plus scheduling slack) is lost.
    assert lost <= rate * (FLUSH_INTERVAL + 0.5) + 50, (last, stored, rate)
    assert stored > 0
    run = client.get_run(run_id)
    assert run.status is RunStatus.CRASHED


def test_sigterm_flushes_everything_and_marks_killed(tmp_path: Path) -> None:
    store = tmp_path / "store"
    proc = _start(_script(tmp_path, LOGGING_LOOP), store)
    run_id = _wait_for_line(proc, "RUN").split()[1]
    for _ in range(5):
        last = int(_wait_for_line(proc, "LOGGED").split()[1])
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    client = tane.Client(str(store))
    stored = len(client.get_metric_history(run_id, "x"))
    assert last <= stored <= last + 50
    run = client.get_run(run_id)
    assert run.status is RunStatus.KILLED
    assert run.tags["tane.error"] == "terminated by SIGTERM"


def test_sigint_marks_killed(tmp_path: Path) -> None:
    body = """
    import time, tane
    with tane.start_run(experiment="procs") as run:
        print("RUN", run.id, flush=True)
        while True:
            tane.log_metric("x", 1.0)
            time.sleep(0.01)
    """
    store = tmp_path / "store"
    proc = _start(_script(tmp_path, body), store, TANE_CAPTURE="none")
    run_id = _wait_for_line(proc, "RUN").split()[1]
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    run = tane.Client(str(store)).get_run(run_id)
    assert run.status is RunStatus.KILLED
    assert run.metrics["x"] == 1.0


def test_uncaught_exception_without_with_marks_failed(tmp_path: Path) -> None:
    body = """
    import tane
    run = tane.start_run(experiment="procs")
    print("RUN", run.id, flush=True)
    tane.log_metric("before", 1.0)
    raise RuntimeError("boom in training")
    """
    store = tmp_path / "store"
    proc = _start(_script(tmp_path, body), store, TANE_CAPTURE="none")
    run_id = _wait_for_line(proc, "RUN").split()[1]
    proc.communicate(timeout=60)
    assert proc.returncode == 1
    run = tane.Client(str(store)).get_run(run_id)
    assert run.status is RunStatus.FAILED
    assert run.tags["tane.error"] == "RuntimeError: boom in training"
    assert run.metrics == {"before": 1.0}


def test_normal_exit_without_end_run_finishes(tmp_path: Path) -> None:
    body = """
    import tane
    run = tane.start_run(experiment="procs")
    print("RUN", run.id, flush=True)
    for i in range(5000):
        tane.log_metric("x", float(i))
    """
    store = tmp_path / "store"
    proc = _start(_script(tmp_path, body), store, TANE_CAPTURE="none")
    run_id = _wait_for_line(proc, "RUN").split()[1]
    proc.communicate(timeout=60)
    client = tane.Client(str(store))
    assert client.get_run(run_id).status is RunStatus.FINISHED
    assert len(client.get_metric_history(run_id, "x")) == 5000


def test_context_is_captured(tmp_path: Path) -> None:
    body = """
    import logging, sys, time, tane
    logging.basicConfig(level=logging.INFO)
    with tane.start_run(experiment="ctx") as run:
        print("RUN", run.id, flush=True)
        time.sleep(1.0)  # long enough for the system metrics sampler to report
        print("hello from stdout")
        print("oops on stderr", file=sys.stderr)
        logging.getLogger("train").info("epoch 1 done")
    with tane.start_run(experiment="ctx", parent_id=run.id) as child:
        print("CHILD", child.id, flush=True)
    """
    store = tmp_path / "store"
    proc = _start(_script(tmp_path, body), store, TANE_SYSTEM_METRICS_INTERVAL="0.2")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    run_id = next(line.split()[1] for line in out.splitlines() if line.startswith("RUN"))
    child_id = next(line.split()[1] for line in out.splitlines() if line.startswith("CHILD"))
    client = tane.Client(str(store))
    run = client.get_run(run_id)
    assert run.tags["tane.command"].endswith("job.py")
    assert run.tags["tane.python"] == ".".join(map(str, sys.version_info[:3]))
    assert "tane.host" in run.tags
    assert any(k.startswith("system/") for k in run.metrics)
    log_text = client.read_artifact(run_id, "logs/output.log").decode()
    assert "hello from stdout" in log_text
    assert "oops on stderr" in log_text
    assert log_text.count("epoch 1 done") == 1
    # The packages list arrives from a background thread; give it a moment.
    deadline = time.monotonic() + 10
    names: list[str] = []
    while time.monotonic() < deadline:
        names = [a.path for a in client.list_artifacts(run_id)]
        if "requirements.txt" in names:
            break
        time.sleep(0.1)
    assert "requirements.txt" in names
    assert b"tane==" in client.read_artifact(run_id, "requirements.txt")
    child = client.get_run(child_id)
    # A child with a parent reuses the parent's context instead of capturing again.
    assert child.tags.get("tane.parent_context") == run_id
    assert "tane.python" not in child.tags
    assert client.list_artifacts(child_id) == []


WRITER = """
import sys, tane
worker = int(sys.argv[1])
with tane.start_run(experiment="many", name=f"w{worker}") as run:
    tane.log_params({"worker": worker})
    for step in range(2000):
        tane.log_metric("loss", 1.0 / (step + 1), step=step)
        tane.log_metric("acc", step / 2000, step=step)
    print("DONE", run.id, flush=True)
"""


def test_sigterm_while_flushing_does_not_hang(tmp_path: Path) -> None:
    body = """
    import tane
    run = tane.start_run(experiment="procs")
    print("RUN", run.id, flush=True)
    i = 0
    while True:
        for _ in range(200):
            tane.log_metric("x", float(i), step=i)
            i += 1
        tane.flush()  # the main thread spends most of its time inside the writer's lock
        if i % 2000 == 0:
            print("LOGGED", i, flush=True)
    """
    store = tmp_path / "store"
    for _ in range(3):
        proc = _start(_script(tmp_path, body), store, TANE_CAPTURE="none")
        run_id = _wait_for_line(proc, "RUN").split()[1]
        _wait_for_line(proc, "LOGGED")
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError("the process hung after SIGTERM") from None
        assert proc.returncode == 128 + signal.SIGTERM, err
        run = tane.Client(str(store)).get_run(run_id)
        assert run.status is RunStatus.KILLED


def test_sigterm_handler_when_the_first_run_starts_in_a_thread(tmp_path: Path) -> None:
    body = """
    import threading, time, tane
    def work():
        with tane.start_run(experiment="procs") as run:
            print("RUN", run.id, flush=True)
            while True:
                tane.log_metric("x", 1.0)
                time.sleep(0.001)
    threading.Thread(target=work, daemon=True).start()
    time.sleep(0.5)
    with tane.start_run(experiment="procs") as main_run:  # installs the handler
        print("MAIN", main_run.id, flush=True)
        while True:
            time.sleep(0.01)
    """
    store = tmp_path / "store"
    proc = _start(_script(tmp_path, body), store, TANE_CAPTURE="none")
    worker_id = _wait_for_line(proc, "RUN").split()[1]
    main_id = _wait_for_line(proc, "MAIN").split()[1]
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    client = tane.Client(str(store))
    assert client.get_run(main_id).status is RunStatus.KILLED
    assert client.get_run(worker_id).status is RunStatus.KILLED


def test_a_suspended_run_comes_back_from_crashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    monkeypatch.setenv("TANE_HEARTBEAT_TIMEOUT", "1")
    proc = _start(
        _script(tmp_path, LOGGING_LOOP), store, TANE_CAPTURE="none", TANE_HEARTBEAT_TIMEOUT="1"
    )
    run_id = _wait_for_line(proc, "RUN").split()[1]
    client = tane.Client(str(store))
    client.store.reap_interval = 0  # type: ignore[attr-defined]
    try:
        proc.send_signal(signal.SIGSTOP)
        time.sleep(2.5)
        assert client.get_run(run_id).status is RunStatus.CRASHED
        proc.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 15
        status = RunStatus.CRASHED
        while time.monotonic() < deadline and status is not RunStatus.RUNNING:
            time.sleep(0.2)
            status = client.store.get_run(run_id).status
        assert status is RunStatus.RUNNING
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.communicate(timeout=60)


def test_a_forked_worker_logs_to_the_parents_run(tmp_path: Path) -> None:
    body = """
    import multiprocessing as mp, tane
    def worker(run):
        for i in range(100):
            run.log_metric("from_child", float(i), step=i)
        tane.flush()
    if __name__ == "__main__":
        with tane.start_run(experiment="procs") as run:
            print("RUN", run.id, flush=True)
            run.log_metric("from_parent", 1.0)
            child = mp.get_context("fork").Process(target=worker, args=(run,))
            child.start()
            child.join()
    """
    store = tmp_path / "store"
    proc = _start(_script(tmp_path, body), store, TANE_CAPTURE="none")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    run_id = next(line.split()[1] for line in out.splitlines() if line.startswith("RUN"))
    client = tane.Client(str(store))
    assert len(client.get_metric_history(run_id, "from_child")) == 100
    assert len(client.get_metric_history(run_id, "from_parent")) == 1
