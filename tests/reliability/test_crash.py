"""Crash safety: a run's record survives SIGKILL, SIGTERM, an exception and a full disk.

Each training loop is a real process on a local store, started with the helpers
of tests/tracking/test_processes.py. It counts the points it has logged in a
shared memory page (a file it maps), which outlives a SIGKILL: the test compares
what was logged, exactly, with what the store holds.

How a dead run becomes CRASHED: a run records its owner's host and pid and a
heartbeat (every flush). Reading or listing runs (``get_run``, ``search_runs``)
marks a RUNNING run CRASHED when its owner is on this host and its pid is gone,
or when its heartbeat is older than TANE_HEARTBEAT_TIMEOUT (120 s; other hosts).
"""

from __future__ import annotations

import mmap
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.reliability.figures import record
from tests.tracking import test_processes as procs

import tane
from tane.tracking.entities import RunStatus
from tane.tracking.stores import clear_cache, open_store

#: Seconds between the background writer's flushes in these processes.
FLUSH_INTERVAL = procs.FLUSH_INTERVAL
#: Scheduling slack on a busy 2-CPU machine, on top of the flush interval.
SLACK = 0.5

# A training loop that counts, after each log_metric returns, the points it logged.
COUNTED_LOOP = """
import mmap, struct, sys, time, tane
with open(sys.argv[1], "r+b") as fh:
    counter = mmap.mmap(fh.fileno(), 8)
run = tane.start_run(experiment="crash", name="counted")
tane.log_params({"lr": 0.1, "model": "mlp"})
print("RUN", run.id, flush=True)
step = 0
while True:
    tane.log_metric("loss", 1.0 / (step + 1), step=step)
    step += 1
    counter[:8] = struct.pack("<q", step)
    if step % 200 == 0:
        print("LOGGED", step, time.monotonic(), flush=True)
    time.sleep(0.0005)
"""

FAILING = """
import tane

def train_one_epoch(epoch):
    if epoch == 3:
        raise RuntimeError("boom in training")
    for step in range(100):
        tane.log_metric("loss", 1.0 / (step + 1), step=epoch * 100 + step)

run = tane.start_run(experiment="crash", name="failing")
print("RUN", run.id, flush=True)
for epoch in range(10):
    train_one_epoch(epoch)
"""


@dataclass
class Counted:
    """A COUNTED_LOOP process, its run and its counter of logged points."""

    proc: subprocess.Popen[str]
    run_id: str
    counter: Path

    def logged(self) -> int:
        value: int = struct.unpack("<q", self.counter.read_bytes()[:8])[0]
        return value

    def log_for(self, seconds: float) -> float:
        """Let it log for ``seconds``; return its rate in points per second."""
        first = last = None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            _, step, when = procs._wait_for_line(self.proc, "LOGGED").split()
            first = first or (int(step), float(when))
            last = (int(step), float(when))
        assert first is not None and last is not None and last[1] > first[1]
        return (last[0] - first[0]) / (last[1] - first[1])


@pytest.fixture
def counted(tmp_path: Path) -> Iterator[Counted]:
    counter = tmp_path / "counter"
    counter.write_bytes(bytes(8))
    script = procs._script(tmp_path, COUNTED_LOOP, "counted.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(counter)],
        env=procs._env(tmp_path / "store", TANE_CAPTURE="none"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield Counted(proc, procs._wait_for_line(proc, "RUN").split()[1], counter)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=60)


def _steps(store: Path, run_id: str) -> list[int]:
    return [m.step for m in tane.Client(str(store)).get_metric_history(run_id, "loss")]


@pytest.mark.slow
def test_sigkill_loses_at_most_the_last_flush_interval(tmp_path: Path, counted: Counted) -> None:
    rate = counted.log_for(2.0)
    counted.proc.kill()
    counted.proc.communicate(timeout=60)
    logged = counted.logged()
    steps = _steps(tmp_path / "store", counted.run_id)
    stored = len(steps)
    # What is stored is the beginning of what was logged, without a gap or a double.
    assert steps == list(range(stored))
    lost_seconds = (logged - stored) / rate
    assert 0 < stored <= logged
    assert lost_seconds <= FLUSH_INTERVAL + SLACK, (logged, stored, rate)
    # The reader finds the owner's pid gone: CRASHED, when listed and when read.
    client = tane.Client(str(tmp_path / "store"))
    listed = client.search_runs("attributes.status = 'CRASHED'", experiment="crash")
    assert [r.id for r in listed] == [counted.run_id]
    run = client.get_run(counted.run_id)
    assert run.status is RunStatus.CRASHED
    assert run.params == {"lr": "0.1", "model": "mlp"}
    record(
        "crash-sigkill",
        points_logged=logged,
        points_stored=stored,
        points_lost=logged - stored,
        seconds_lost=round(lost_seconds, 3),
        flush_interval_s=FLUSH_INTERVAL,
        points_per_second=round(rate),
        status=run.status.value,
    )


@pytest.mark.slow
def test_sigterm_flushes_every_point_and_marks_killed(tmp_path: Path, counted: Counted) -> None:
    counted.log_for(1.0)
    counted.proc.send_signal(signal.SIGTERM)
    _, err = counted.proc.communicate(timeout=60)
    assert counted.proc.returncode == 128 + signal.SIGTERM, err
    logged = counted.logged()
    steps = _steps(tmp_path / "store", counted.run_id)
    # SIGTERM can land between a log_metric and the count after it: one more stored.
    assert logged <= len(steps) <= logged + 1
    assert steps == list(range(len(steps)))
    run = tane.Client(str(tmp_path / "store")).get_run(counted.run_id)
    assert run.status is RunStatus.KILLED
    assert run.tags["tane.error"] == "terminated by SIGTERM"
    assert run.end_time is not None
    record(
        "crash-sigterm",
        points_logged=logged,
        points_stored=len(steps),
        points_lost=max(0, logged - len(steps)),
        exit_code=counted.proc.returncode,
        status=run.status.value,
    )


@pytest.mark.slow
def test_an_exception_marks_failed_with_its_traceback(tmp_path: Path) -> None:
    store = tmp_path / "store"
    proc = procs._start(procs._script(tmp_path, FAILING), store, TANE_CAPTURE="none")
    run_id = procs._wait_for_line(proc, "RUN").split()[1]
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "RuntimeError: boom in training" in err  # Python's own report still reaches stderr
    run = tane.Client(str(store)).get_run(run_id)
    assert run.status is RunStatus.FAILED
    assert run.tags["tane.error"] == "RuntimeError: boom in training"
    traceback = run.tags["tane.traceback"]
    assert traceback.startswith("Traceback (most recent call last):")
    assert (
        "in train_one_epoch" in traceback and 'raise RuntimeError("boom in training")' in traceback
    )
    steps = _steps(store, run_id)
    assert steps == list(range(300))  # epochs 0-2, every point before the exception
    record(
        "crash-exception",
        points_logged=300,
        points_stored=len(steps),
        status=run.status.value,
        traceback_lines=len(traceback.splitlines()),
    )


def test_a_run_of_another_host_crashes_when_its_heartbeat_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No pid can be checked on another host: only the heartbeat's age tells.
    monkeypatch.setenv("TANE_HEARTBEAT_TIMEOUT", "1")
    store = open_store(str(tmp_path / "store"))
    store.reap_interval = 0  # type: ignore[attr-defined]
    run = store.create_run("0", "elsewhere", host="another-host.example", pid=os.getpid())
    assert store.get_run(run.id).status is RunStatus.RUNNING
    started = time.monotonic()
    while store.get_run(run.id).status is RunStatus.RUNNING:
        assert time.monotonic() - started < 10, "never marked CRASHED"
        time.sleep(0.1)
    waited = time.monotonic() - started
    assert waited >= 0.8
    # A heartbeat that arrives later (the owner was only unreachable) revives it.
    store.heartbeat([run.id], int(time.time() * 1000))
    assert store.get_run(run.id).status is RunStatus.RUNNING
    record("crash-heartbeat", heartbeat_timeout_s=1, seconds_to_crashed=round(waited, 2))


# -- a full disk -----------------------------------------------------------------------

DISK_SIZE = 2 * 1024 * 1024
#: Room left once the test has filled the disk with a ballast file (tmpfs mode).
ROOM = 512 * 1024

FILLER = """
import os, resource, sys, time, tane
from tane.errors import StoreUnavailable
run = tane.start_run(experiment="disk", name="filler")
print("RUN", run.id, flush=True)
step = params = 0
error = None
while error is None:
    tane.log_metric("x", float(step), step=step)
    step += 1
    time.sleep(0.001)  # several flushes happen before the disk fills
    if step % 50 == 0:
        try:
            tane.log_param(f"p{params:05d}", "v" * 400)
            params += 1  # acknowledged: the store has it
        except StoreUnavailable as exc:
            error = exc
print("FULL", step, params, " ".join(str(error).split()), flush=True)
try:
    tane.log_text("x" * 3_000_000, "notes.txt")
    print("ARTIFACT stored", flush=True)
except StoreUnavailable as exc:
    print("ARTIFACT", " ".join(str(exc).split()), flush=True)
sys.stdin.readline()  # the test frees space
if os.environ.get("FILLER_RLIMIT"):
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
for _ in range(100):
    tane.log_metric("x", float(step), step=step)
    step += 1
tane.end_run()
print("DONE", step, params, flush=True)
"""


@dataclass
class SmallDisk:
    """A folder where writes run out of room: a tmpfs, or a file size limit."""

    path: Path
    mode: str  # "tmpfs" or "rlimit"

    def free_space(self) -> None:
        """Free space (tmpfs: remove the ballast; rlimit: the process lifts its limit)."""
        ballast = self.path / "ballast"
        if ballast.exists():
            ballast.unlink()


def _mount_tmpfs(path: Path) -> bool:
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(path)],
            capture_output=True,
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """A 2 MiB tmpfs (CI runs as root); else an RLIMIT_FSIZE of the writing process."""
    path = tmp_path / "disk"
    path.mkdir()
    mounted = os.environ.get("TANE_RELIABILITY_DISK") != "rlimit" and _mount_tmpfs(path)
    try:
        yield SmallDisk(path, "tmpfs" if mounted else "rlimit")
    finally:
        clear_cache()  # the test's own connections to the store on it
        if mounted and subprocess.run(["umount", str(path)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=False)


def _limit_file_size() -> None:
    """In the child: files may not grow past 1 MiB (a write beyond fails with EFBIG)."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, hard))


def _integrity(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.slow
def test_a_full_disk_is_a_clear_error_and_loses_nothing(
    tmp_path: Path, small_disk: SmallDisk
) -> None:
    store = small_disk.path / "store"
    open_store(str(store))  # created with room to spare
    clear_cache()
    if small_disk.mode == "tmpfs":
        room = shutil.disk_usage(small_disk.path).free - ROOM
        (small_disk.path / "ballast").write_bytes(bytes(max(0, room)))
    env = procs._env(store, TANE_CAPTURE="none")
    if small_disk.mode == "rlimit":
        env["FILLER_RLIMIT"] = "1"
    proc = subprocess.Popen(
        [sys.executable, str(procs._script(tmp_path, FILLER))],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_limit_file_size if small_disk.mode == "rlimit" else None,  # noqa: PLW1509
    )
    try:
        run_id = procs._wait_for_line(proc, "RUN").split()[1]
        _, logged, acknowledged, message = procs._wait_for_line(proc, "FULL").split(" ", 3)
        artifact = procs._wait_for_line(proc, "ARTIFACT").split(" ", 1)[1]
        # The errors say what happened and what to do.
        assert "disk is full" in message or "disk I/O error" in message, message
        assert "free space" in message or small_disk.mode == "rlimit", message
        assert artifact.startswith("cannot write artifact 'notes.txt'"), artifact
        assert "free space" in artifact
        # While the disk is full: the store opens, and what it acknowledged is there.
        client = tane.Client(str(store))
        run = client.get_run(run_id)
        assert run.status is RunStatus.RUNNING
        assert len(run.params) == int(acknowledged) > 0
        assert all(v == "v" * 400 for v in run.params.values())
        while_full = [m.step for m in client.get_metric_history(run_id, "x")]
        assert while_full == list(range(len(while_full)))
        assert _integrity(store / "tane.db") == "ok"
        clear_cache()
        # Space comes back: the points queued meanwhile are written, none lost.
        small_disk.free_space()
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        _, total, _ = procs._wait_for_line(proc, "DONE").split()
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert while_full, "no point was flushed before the disk filled: nothing was at risk"
    run = tane.Client(str(store)).get_run(run_id)
    assert run.status is RunStatus.FINISHED
    stored = [m.step for m in tane.Client(str(store)).get_metric_history(run_id, "x")]
    assert stored == list(range(int(total)))
    assert _integrity(store / "tane.db") == "ok"
    record(
        "crash-full-disk",
        mode=small_disk.mode,
        disk_bytes=DISK_SIZE if small_disk.mode == "tmpfs" else "RLIMIT_FSIZE 1 MiB",
        points_logged_when_full=int(logged),
        points_stored_while_full=len(while_full),
        params_acknowledged=int(acknowledged),
        params_stored=len(run.params),
        points_logged_in_all=int(total),
        points_stored_in_all=len(stored),
        error=message.replace(str(small_disk.path), "<disk>"),
        artifact_error=artifact.replace(str(small_disk.path), "<disk>"),
        integrity_check="ok",
    )


@pytest.mark.slow
def test_the_shared_counter_outlives_its_process(tmp_path: Path) -> None:
    """The SIGKILL test's counter is exact: a mapped page survives a kill."""
    counter = tmp_path / "counter"
    counter.write_bytes(bytes(8))
    code = (
        "import mmap, os, struct, sys\n"
        "fh = open(sys.argv[1], 'r+b')\n"
        "m = mmap.mmap(fh.fileno(), 8)\n"
        "m[:8] = struct.pack('<q', 123456)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(counter)], check=False)
    assert proc.returncode == -signal.SIGKILL
    with counter.open("rb") as fh, mmap.mmap(fh.fileno(), 8, access=mmap.ACCESS_READ) as m:
        assert struct.unpack("<q", m[:8])[0] == 123456
