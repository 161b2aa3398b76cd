"""Benchmark 7: ``tane server`` against ``mlflow server``, both on SQLite.

Three measurements, each server a process tree started by this script on a fresh
SQLite database in a temp folder (``tane server --store sqlite:///<tmp>/tane.db``,
``mlflow server --backend-store-uri sqlite:///<tmp>/mlflow.db``), on 127.0.0.1:

1. **Start-up**: the wall time from spawning the server to its first 200 from
   ``GET /health``, then to its first answer that reads the database (tane
   ``/ready``, which opens and creates the store; MLflow
   ``/api/2.0/mlflow/experiments/get?experiment_id=0``, its migrations having run
   before it listens), and the RSS summed over the whole process tree (psutil)
   at the first ``/health`` and once the tree has settled (MLflow keeps spawning
   job consumers after it answers). Median of ``--startup-reps`` fresh starts of
   each, interleaved, after one warm-up start of each (page cache, ``.pyc``).
   Targets: tane < 2 s and < 300 MiB (settled).
2. **Log-batch throughput**, through each server with each tool's own client in a
   fresh worker process: 2,000 runs, each ``create_run`` + ``log_batch`` (10
   params, 5 metrics x 20 steps = 100 points) + ``set_terminated`` (tane:
   ``tane.Client("http://...")``, which is ``RestStore``; MLflow: ``MlflowClient``
   with ``MLFLOW_TRACKING_URI=http://...``). Reported: runs created/s (the three
   calls), points/s over the ``log_batch`` calls, and, for reference, one run fed
   1,000 points per ``log_batch`` call (MLflow's maximum). Target: tane >= 5x
   MLflow's server in points/s and in runs/s.
3. **Search latency** on those 2,000 runs: the query of ``bench_search.py``
   (``metrics.acc > 0.9 and params.model = 'lgbm'``, ``metrics.acc DESC``, top
   100), median of ``--reps`` after one warm-up, list and pandas forms of each
   client. Both must return the same runs in the same acc order, equal to the
   top 100 computed in Python. Target: tane ``Client.search_runs`` >= 5x faster
   than ``MlflowClient.search_runs`` (list forms; pandas forms shown too).

The targets compare the servers' defaults (tane 1 worker, MLflow 4 uvicorn
workers). ``tane server --workers 4`` and ``mlflow server --workers 1`` are
measured too (``--configs`` picks), more cheaply: each starts on a copy of its
tool's default-configuration database, creates ``--variant-runs`` (500) more runs
in another experiment and searches the copied 2,000. The worker also reads the
server tree's CPU time (per thread, /proc/PID/task/*/schedstat) before and after
each phase, so the tables show how much of a request is client CPU, server CPU,
and neither: waiting, e.g. the 40 ms delayed-ACK stall of Nagle's algorithm
(uvicorn issue #3149), or the other processes on the machine (the 1-minute load
average is printed with each server).

Every server process is stopped (SIGTERM to its process group, then SIGKILL to
whatever of its tree is left), also on errors.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from bench_search import ORDER_BY, TOP, dataset, expected
from common import fmt_rate, fmt_ratio, fmt_s, note

FILTER = "metrics.acc > 0.9 and params.model = 'lgbm'"
TARGET = 5.0  # throughput and search: tane >= 5x MLflow's server
TARGET_START_S = 2.0
TARGET_RSS_MIB = 300.0
EXPERIMENT = "bench-server"
BASE_TS = 1_700_000_000_000
METRIC_KEYS = ("acc", "loss", "f1", "auc", "precision")
BULK_KEYS = [f"m{i}" for i in range(10)]
BULK_BATCH = 1000  # MLflow's MAX_METRICS_PER_BATCH
BIN = Path(sys.executable).parent  # benchmarks/.venv/bin: tane and mlflow live there
PROFILE_ENV = "TANE_BENCH_PROFILE_OUT"
ARGV_ENV = "TANE_BENCH_SERVER_ARGV"
#: Where a thread of the profiled server waits for work (not CPU: left out of the profile).
IDLE = (
    "<method 'poll' of 'select.epoll' objects>",
    "<method 'acquire' of '_thread.lock' objects>",
    "<method 'wait' of 'threading.Condition' objects>",
    "<built-in method time.sleep>",
)

#: name -> (tool, --workers or None for the tool's default, label)
CONFIGS: dict[str, tuple[str, int | None, str]] = {
    "tane": ("tane", None, "tane server (default: 1 worker)"),
    "mlflow": ("mlflow", None, "mlflow server (default: 4 workers)"),
    "tane-w4": ("tane", 4, "tane server --workers 4"),
    "mlflow-w1": ("mlflow", 1, "mlflow server --workers 1"),
}
DEFAULT_CONFIGS = "tane,mlflow,tane-w4,mlflow-w1"


# --------------------------------------------------------------------------- server processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(port: int, path: str, timeout: float = 2.0) -> int | None:
    """The status of GET path on 127.0.0.1:port, or None if nothing answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def tree(pid: int) -> list:
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss(pid: int) -> tuple[int, float]:
    """(number of processes, RSS in MiB) summed over the process tree of pid."""
    import psutil

    n, rss = 0, 0
    for p in tree(pid):
        try:
            rss += p.memory_info().rss
            n += 1
        except psutil.NoSuchProcess:
            pass
    return n, rss / 2**20


def tree_cpu(pid: int) -> float:
    """CPU seconds of the live processes in the tree of pid.

    Summed over /proc/PID/task/*/schedstat (nanoseconds, per thread; FastAPI runs
    sync handlers in worker threads) where Linux has it: psutil's cpu_times count
    10 ms clock ticks, too coarse for a few requests. A thread that ended between
    two readings takes its time with it, which a thread pool's threads do not.
    """
    import psutil

    total = 0.0
    for p in tree(pid):
        try:
            ns = 0
            for tid in os.listdir(f"/proc/{p.pid}/task"):
                with (
                    contextlib.suppress(OSError),
                    open(f"/proc/{p.pid}/task/{tid}/schedstat") as fh,
                ):
                    ns += int(fh.read().split()[0])
            total += ns / 1e9
            continue
        except (OSError, ValueError, IndexError):
            pass
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


@dataclass
class Server:
    tool: str
    workers: int | None
    tmp: Path
    port: int = 0
    proc: subprocess.Popen | None = None
    spawned: float = 0.0
    seen: dict[int, Any] = field(default_factory=dict)  # pid -> psutil.Process
    profile_out: Path | None = None  # tane only: run it under cProfile, stats written here

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.tmp / "server.log"

    @property
    def db_path(self) -> str:
        # the path an answer reads the database through (after /health)
        if self.tool == "tane":
            return "/ready"
        return "/api/2.0/mlflow/experiments/get?experiment_id=0"

    def tane_argv(self) -> list[str]:
        workers = ["--workers", str(self.workers)] if self.workers else []
        store = f"sqlite:///{self.tmp / 'tane.db'}"
        return [
            "server",
            "--store",
            store,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *workers,
        ]

    def command(self) -> list[str]:
        host = ["--host", "127.0.0.1", "--port", str(self.port)]
        workers = ["--workers", str(self.workers)] if self.workers else []
        if self.tool == "tane":
            if self.profile_out is not None:  # tane_argv() in a profiling worker
                script = str(Path(__file__).resolve())
                return [sys.executable, script, "--case", "tane-server-profile"]
            return [str(BIN / "tane"), *self.tane_argv()]
        return [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{self.tmp / 'mlflow.db'}",
            "--artifacts-destination",
            str(self.tmp / "mlartifacts"),
            *host,
            *workers,
        ]

    def start(self) -> None:
        self.port = free_port()
        env = dict(os.environ)
        env.update(common.BENCH_ENV)
        for k in ("TANE_STORE", "TANE_SERVER_STORE", "MLFLOW_TRACKING_URI"):
            env.pop(k, None)
        if self.profile_out is not None:
            env[PROFILE_ENV] = str(self.profile_out)
            env[ARGV_ENV] = json.dumps(self.tane_argv())
        with open(self.log, "wb") as log:
            self.spawned = common.now()
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as a whole
            )

    def remember(self) -> None:
        """Note the pids of the tree so far (to stop stragglers that leave the group)."""
        if self.proc:
            for p in tree(self.proc.pid):
                self.seen.setdefault(p.pid, p)

    def wait_for(self, path: str, timeout: float = 180.0) -> float:
        """Poll GET path until it answers 200; return seconds since spawn."""
        assert self.proc is not None
        deadline = common.now() + timeout
        while True:
            status = http_get(self.port, path)
            if status == 200:
                t = common.now() - self.spawned
                self.remember()
                return t
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.tool} server exited with {self.proc.returncode}:\n{self.tail()}"
                )
            if common.now() > deadline:
                raise RuntimeError(f"{self.tool} server: no 200 from {path} in {timeout:.0f} s")
            time.sleep(0.01)

    def settle(self, min_s: float = 3.0, max_s: float = 60.0) -> dict[str, float]:
        """Sample the tree every 0.5 s until, over the last 3 s, its process count has not
        changed and its RSS has moved by less than 1% (MLflow keeps starting job
        consumers after it answers /health; under load they take a while)."""
        assert self.proc is not None
        t0 = common.now()
        samples: list[tuple[float, int, float]] = []
        peak = 0.0
        while True:
            self.remember()
            n, rss = tree_rss(self.proc.pid)
            t = common.now() - t0
            samples.append((t, n, rss))
            peak = max(peak, rss)
            window = [x for x in samples if x[0] >= t - 3.0]
            steady = (
                samples[0][0] <= t - 3.0
                and len({x[1] for x in window}) == 1
                and max(x[2] for x in window) - min(x[2] for x in window) < 0.01 * rss
            )
            if (t >= min_s and steady) or t >= max_s:
                return {"procs": n, "rss_mib": rss, "peak_mib": peak, "waited_s": t}
            time.sleep(0.5)

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM the process group, wait, then SIGKILL whatever of the tree is left."""
        import psutil

        if self.proc is None:
            return
        self.remember()
        pgid = self.proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=15)
        # psutil.Process.is_running() checks pid and creation time: a reused pid is not ours
        deadline = common.now() + 5
        while common.now() < deadline and any(p.is_running() for p in self.seen.values()):
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        for p in self.seen.values():
            try:
                if p.is_running():
                    p.kill()
            except psutil.NoSuchProcess:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


# --------------------------------------------------------------------------- start-up


def measure_startup(tool: str, workers: int | None) -> dict[str, Any]:
    with common.fresh_dir(f"server-{tool}") as tmp:
        srv = Server(tool, workers, tmp)
        load = os.getloadavg()[0]
        try:
            srv.start()
            assert srv.proc is not None
            t_health = srv.wait_for("/health")
            n_health, rss_health = tree_rss(srv.proc.pid)
            t_db = srv.wait_for(srv.db_path)
            settled = srv.settle()
            return {
                "health_s": t_health,
                "db_s": t_db,
                "procs_health": n_health,
                "rss_health_mib": rss_health,
                "procs": settled["procs"],
                "rss_mib": settled["rss_mib"],
                "peak_mib": settled["peak_mib"],
                "load": load,
            }
        finally:
            srv.stop()


# --------------------------------------------------------------------------- client workers


class Meter:
    """Wall time, this process's CPU time and the server tree's CPU time of a phase."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.start = (common.now(), time.process_time(), tree_cpu(server_pid))

    def stop(self) -> dict[str, float]:
        wall, cpu, srv = common.now(), time.process_time(), tree_cpu(self.pid)
        return {
            "wall_s": wall - self.start[0],
            "client_cpu_s": cpu - self.start[1],
            "server_cpu_s": srv - self.start[2],
        }


def history(final: float, steps: int) -> list[tuple[int, float]]:
    """(step, value) of one metric: rising to ``final``, which is the last step's value."""
    return [(s, final if s == steps - 1 else final * (s + 1) / steps) for s in range(steps)]


def bulk_value(k: int, step: int) -> float:
    return math.sin(0.001 * step + k) + 0.0001 * step


class TaneSide:
    """tane's client calls: ``tane.Client("http://...")`` (a RestStore)."""

    def __init__(self, url: str) -> None:
        import tane

        self.client = tane.Client(url)

    def experiment(self, name: str, create: bool) -> str:
        if create:
            return self.client.create_experiment(name).id
        return self.client.get_experiment(name).id

    def create_run(self, exp_id: str, name: str) -> str:
        return self.client.create_run(exp_id, name=name).id

    def log_batch(self, rid: str, points: list, params: dict[str, str] | None = None) -> None:
        self.client.log_batch(rid, metrics=points, params=params)

    def set_terminated(self, rid: str) -> None:
        self.client.set_terminated(rid)

    def history(self, rid: str, key: str) -> list[tuple[int, float]]:
        return sorted((m.step, m.value) for m in self.client.get_metric_history(rid, key))

    def count(self, exp_id: str, n: int) -> int:
        return len(self.client.search_runs("", experiment=exp_id, max_results=n + 10))

    def params_status(self, rid: str) -> tuple[dict[str, str], str]:
        run = self.client.get_run(rid)
        return dict(run.params), str(getattr(run.status, "value", run.status))

    def search(self, exp_id: str, pandas: bool) -> Any:
        return self.client.search_runs(
            FILTER, experiment=exp_id, order_by=ORDER_BY, max_results=TOP, as_pandas=pandas
        )

    @staticmethod
    def accs(found: Any) -> list[float]:
        return [float(r.metrics["acc"]) for r in found]


class MlflowSide:
    """MLflow's client calls: ``MlflowClient`` with the tracking URI of the server."""

    def __init__(self, url: str) -> None:
        import mlflow
        from mlflow import MlflowClient
        from mlflow.entities import Metric, Param

        mlflow.set_tracking_uri(url)
        self.mlflow, self.Metric, self.Param = mlflow, Metric, Param
        self.client = MlflowClient()

    def experiment(self, name: str, create: bool) -> str:
        if create:
            return self.client.create_experiment(name)
        return self.client.get_experiment_by_name(name).experiment_id

    def create_run(self, exp_id: str, name: str) -> str:
        return self.client.create_run(exp_id, run_name=name).info.run_id

    def log_batch(self, rid: str, points: list, params: dict[str, str] | None = None) -> None:
        # the Metric and Param objects are built inside the clock: MLflow's client needs them
        self.client.log_batch(
            rid,
            metrics=[self.Metric(k, v, ts, step) for k, v, step, ts in points],
            params=[self.Param(k, v) for k, v in (params or {}).items()],
        )

    def set_terminated(self, rid: str) -> None:
        self.client.set_terminated(rid)

    def history(self, rid: str, key: str) -> list[tuple[int, float]]:
        return sorted((m.step, m.value) for m in self.client.get_metric_history(rid, key))

    def count(self, exp_id: str, n: int) -> int:
        return len(self.client.search_runs([exp_id], max_results=n + 10))

    def params_status(self, rid: str) -> tuple[dict[str, str], str]:
        run = self.client.get_run(rid)
        return dict(run.data.params), run.info.status

    def search(self, exp_id: str, pandas: bool) -> Any:
        if pandas:
            return self.mlflow.search_runs(
                experiment_ids=[exp_id], filter_string=FILTER, order_by=ORDER_BY, max_results=TOP
            )
        return self.client.search_runs(
            [exp_id], filter_string=FILTER, order_by=ORDER_BY, max_results=TOP
        )

    @staticmethod
    def accs(found: Any) -> list[float]:
        return [float(r.data.metrics["acc"]) for r in found]


def case_client(tool: str, a) -> dict:
    """Worker: create runs through the server, a bulk run, then time the search.

    With ``--reuse`` the server's database already holds the ``--search-runs`` runs
    of EXPERIMENT (copied from the default configuration's run): the new runs go to
    another experiment and the search runs over the existing 2,000.
    """
    side: TaneSide | MlflowSide = TaneSide(a.url) if tool == "tane" else MlflowSide(a.url)
    search_data = dataset(a.search_runs or a.runs)
    if a.reuse:
        search_exp = side.experiment(EXPERIMENT, create=False)
        exp_id = side.experiment(EXPERIMENT + "-variant", create=True)
        data = [(f"variant-{n}", p, m) for n, p, m in dataset(a.runs)]
    else:
        exp_id = search_exp = side.experiment(EXPERIMENT, create=True)
        data = search_data
    steps = a.steps
    t_create = t_batch = t_end = 0.0
    m = Meter(a.server_pid)
    ids = []
    for i, (name, params, metrics) in enumerate(data):
        t0 = common.now()
        rid = side.create_run(exp_id, name)
        t1 = common.now()
        points = [
            (k, v, s, BASE_TS + i * 1000 + s)
            for k in METRIC_KEYS
            for s, v in history(metrics[k], steps)
        ]
        t2 = common.now()
        side.log_batch(rid, points, params)
        t3 = common.now()
        side.set_terminated(rid)
        t4 = common.now()
        t_create += t1 - t0
        t_batch += t3 - t2
        t_end += t4 - t3
        ids.append(rid)
        if i and i % 500 == 0:
            note(f"  {tool}: {i} runs, {m.stop()['wall_s']:.1f} s")
    runs_phase = m.stop()
    note(f"  {tool}: created {len(data)} runs in {runs_phase['wall_s']:.2f} s")

    # bulk: one run, BULK_BATCH points per call
    bulk_id = side.create_run(exp_id, "bulk")
    per_key = a.bulk_points // len(BULK_KEYS)
    batch: list[tuple[str, float, int, int]] = []
    calls = 0
    m = Meter(a.server_pid)
    for step in range(per_key):
        for k, key in enumerate(BULK_KEYS):
            batch.append((key, bulk_value(k, step), step, BASE_TS + step))
            if len(batch) == BULK_BATCH:
                side.log_batch(bulk_id, batch)
                batch = []
                calls += 1
    if batch:
        side.log_batch(bulk_id, batch)
        calls += 1
    bulk_phase = m.stop()
    side.set_terminated(bulk_id)

    # verify what was stored (outside the clock)
    for i in (0, len(data) - 1):
        for key in METRIC_KEYS:
            got = side.history(ids[i], key)
            assert got == history(data[i][2][key], steps), (tool, i, key)
        params, status = side.params_status(ids[i])
        assert params == data[i][1], (tool, "params differ", params)
        assert status == "FINISHED", (tool, status)
    for k, key in enumerate(BULK_KEYS):
        got = side.history(bulk_id, key)
        assert len(got) == per_key, (tool, key, len(got))
        assert got[-1] == (per_key - 1, bulk_value(k, per_key - 1)), (tool, key, got[-1])
    stored = side.count(exp_id, len(data))
    assert stored == len(data) + 1, (tool, stored, len(data) + 1)  # + the bulk run
    if a.reuse:
        n_search = side.count(search_exp, len(search_data))
        assert n_search == len(search_data) + 1, (tool, n_search)  # + its bulk run

    df = side.search(search_exp, pandas=True)
    found = side.search(search_exp, pandas=False)
    df_accs = [float(x) for x in df["metrics.acc"]]
    list_accs = side.accs(found)
    assert df_accs == list_accs, f"{tool}: pandas and list forms disagree"
    m = Meter(a.server_pid)
    t_list = common.repeat(lambda: side.search(search_exp, pandas=False), a.reps, warmup=1)
    search_phase = m.stop()
    t_pandas = common.repeat(lambda: side.search(search_exp, pandas=True), a.reps, warmup=1)
    return {
        "runs": len(data),
        "search_runs": len(search_data),
        "points_per_run": steps * len(METRIC_KEYS),
        "runs_phase": runs_phase,
        "create_run_s": t_create,
        "log_batch_s": t_batch,
        "set_terminated_s": t_end,
        "bulk_points": per_key * len(BULK_KEYS),
        "bulk_calls": calls,
        "bulk_phase": bulk_phase,
        "search_phase": search_phase,
        "list": common.summary(t_list),
        "pandas": common.summary(t_pandas),
        "count": len(found),
        "accs": list_accs,
        "expected": expected(search_data),
    }


def db_files(tmp: Path, tool: str) -> list[Path]:
    """The SQLite database of a server's temp folder, with its WAL files if any."""
    db = tmp / ("tane.db" if tool == "tane" else "mlflow.db")
    return [f for f in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if f.exists()]


def measure_workload(name: str, a, keep: Path | None, seed: Path | None) -> dict[str, Any]:
    """One server configuration: start it, run the client worker, stop it.

    ``keep``: copy the database here after the server stopped (for the variants).
    ``seed``: a folder holding a database to start from (``--reuse`` in the worker).
    """
    tool, workers, label = CONFIGS[name]
    with common.fresh_dir(f"server-{name}") as tmp:
        if seed is not None:
            for f in seed.iterdir():
                shutil.copy2(f, tmp / f.name)
        srv = Server(tool, workers, tmp)
        try:
            load_before = os.getloadavg()[0]
            srv.start()
            assert srv.proc is not None
            health_s = srv.wait_for("/health")
            srv.wait_for(srv.db_path)
            settled = srv.settle(min_s=2.0)
            runs = a.variant_runs if seed is not None else a.runs
            args = [
                *("--url", srv.url, "--server-pid", str(srv.proc.pid)),
                *("--runs", str(runs), "--search-runs", str(a.runs), "--steps", str(a.steps)),
                *("--bulk-points", str(a.bulk_points), "--reps", str(a.reps)),
                *(["--reuse"] if seed is not None else []),
            ]
            env: dict[str, str | None] = {
                "MLFLOW_TRACKING_URI": srv.url if tool == "mlflow" else None,
                "TANE_STORE": None,
            }
            r = common.run_case("bench_server.py", f"{tool}-client", args, env=env)  # type: ignore[arg-type]
            srv.remember()
            n, rss = tree_rss(srv.proc.pid)
            r.update(
                {
                    "config": name,
                    "label": label,
                    "reused_db": seed is not None,
                    "health_s": health_s,
                    "idle_procs": settled["procs"],
                    "idle_rss_mib": settled["rss_mib"],
                    "procs_after": n,
                    "rss_after_mib": rss,
                    "load_before": load_before,
                    "load_after": os.getloadavg()[0],
                }
            )
        except Exception:
            note(f"--- {name} server log (tail) ---\n{srv.tail()}")
            raise
        finally:
            srv.stop()
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for f in db_files(tmp, tool):
                shutil.copy2(f, keep / f.name)
        return r


# --------------------------------------------------------------------------- profile


def case_server_profile(argv: list[str]) -> None:
    """Worker: run ``tane <argv>`` (the server) in this process, every thread under cProfile.

    FastAPI runs sync handlers in a thread pool, which a plain cProfile of the
    main thread would miss: each new thread gets its own profiler (through
    threading.setprofile); they are merged and written to $TANE_BENCH_PROFILE_OUT
    when uvicorn returns (SIGTERM or SIGINT).
    """
    import cProfile
    import pstats
    import threading

    out = os.environ[PROFILE_ENV]
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def profile_this_thread(frame: Any, event: str, arg: Any) -> None:
        sys.setprofile(None)
        prof = cProfile.Profile()
        with lock:
            profiles.append(prof)
        prof.enable()

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    # uvicorn handles SIGTERM, then raises it again under the handler it found: this one,
    # so that the profile below is written (the default action would end the process).
    signal.signal(signal.SIGTERM, stop)
    threading.setprofile(profile_this_thread)
    main_prof = cProfile.Profile()
    profiles.append(main_prof)
    main_prof.enable()
    try:
        from tane.cli import main as tane_main

        tane_main(argv, prog_name="tane", standalone_mode=False)
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        main_prof.disable()
        merged: pstats.Stats | None = None
        for prof in profiles:
            try:
                prof.create_stats()
                if merged is None:
                    merged = pstats.Stats(prof)
                else:
                    merged.add(prof)
            except (TypeError, ValueError) as exc:  # an empty profile
                note(f"  (a thread's profile skipped: {exc})")
        if merged is not None:
            merged.dump_stats(out)
        note(f"  profile of {len(profiles)} threads written to {out}")


def where(filename: str) -> str:
    """A profile entry's package (tane: its module)."""
    if "/src/tane/" in filename:
        return "tane/" + filename.split("/src/tane/", 1)[1]
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if filename.startswith("~"):
        return "(built-in: C calls, sqlite3, sockets)"
    return "(standard library)"


def profile_summary(path: Path) -> dict[str, Any]:
    """Self time by package, tane's functions by cumulative time, per-route handler cost."""
    import collections
    import pstats

    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    by_pkg: collections.Counter[str] = collections.Counter()
    idle = 0.0
    tane_cum = []
    routes = []
    for (filename, line, name), (_cc, nc, tt, ct, _callers) in stats.items():
        if name in IDLE:
            idle += tt
            continue
        pkg = where(filename)
        top = pkg.split("/")[0] if not pkg.startswith("tane/") else "tane"
        by_pkg[top] += tt
        if pkg.startswith("tane/"):
            tane_cum.append((ct, nc, f"{pkg}:{line}({name})"))
            if pkg == "tane/server/api.py" and not name.startswith(("<", "_", "get_store")):
                routes.append((ct, nc, name))
    busy = sum(by_pkg.values())
    return {
        "busy_s": busy,
        "idle_s": idle,
        "self_by_package": by_pkg.most_common(12),
        "tane_cumulative": sorted(tane_cum, reverse=True)[:15],
        "routes": sorted(routes, reverse=True)[:10],
    }


def run_profile(a) -> dict[str, Any]:
    """The tane default configuration again, its server under cProfile (--profile-runs runs)."""
    with common.fresh_dir("server-profile") as tmp:
        out = tmp / "server.prof"
        srv = Server("tane", None, tmp, profile_out=out)
        try:
            srv.start()
            assert srv.proc is not None
            srv.wait_for("/health")
            srv.wait_for(srv.db_path)
            args = [
                *("--url", srv.url, "--server-pid", str(srv.proc.pid)),
                *("--runs", str(a.profile_runs), "--search-runs", str(a.profile_runs)),
                *("--steps", str(a.steps), "--bulk-points", "10000", "--reps", str(a.reps)),
            ]
            r = common.run_case("bench_server.py", "tane-client", args, env={"TANE_STORE": None})  # type: ignore[dict-item]
        except Exception:
            note(f"--- profiled server log (tail) ---\n{srv.tail()}")
            raise
        finally:
            srv.stop()
        if not out.exists():
            raise RuntimeError(f"the profiled server wrote no profile:\n{srv.tail()}")
        summary = profile_summary(out)
        summary["requests"] = r["runs"] * 3 + r["bulk_calls"] + 2 * (a.reps + 1)
        summary["runs"] = r["runs"]
        return summary


def print_profile(p: dict[str, Any]) -> None:
    busy = p["busy_s"]
    rows = [[pkg, fmt_s(t), f"{100 * t / busy:.0f}%"] for pkg, t in p["self_by_package"]]
    print(
        common.table(
            ["package", "self time", "share"],
            rows,
            title=f"tane server under cProfile (every thread), {p['runs']} runs + bulk + searches "
            f"(about {p['requests']:,} requests): {fmt_s(busy)} busy (start-up and opening the "
            f"store included, and cProfile's own overhead); {fmt_s(p['idle_s'])} idle "
            "(epoll, thread-pool waits) left out",
        )
    )
    print(
        common.table(
            ["route handler (tane/server/api.py)", "calls", "cumulative", "per call"],
            [[name, nc, fmt_s(ct), fmt_s(ct / max(nc, 1))] for ct, nc, name in p["routes"]],
            title="the handlers, with the store calls under them",
        )
    )
    print(
        common.table(
            ["tane function", "calls", "cumulative"],
            [[name, nc, fmt_s(ct)] for ct, nc, name in p["tane_cumulative"]],
            title="tane's functions by cumulative time "
            "(an async function counts each resumption as a call)",
        )
    )


# --------------------------------------------------------------------------- orchestrator


def per_request(phase: dict[str, float], requests: int) -> list[str]:
    wall, cli, srv = phase["wall_s"], phase["client_cpu_s"], phase["server_cpu_s"]
    other = max(wall - cli - srv, 0.0)
    return [fmt_s(x / requests) for x in (wall, cli, srv, other)]


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=2_000)
    p.add_argument("--steps", type=int, default=20, help="steps per metric (5 metrics) per run")
    p.add_argument("--bulk-points", type=int, default=50_000, help="points of the bulk run")
    p.add_argument("--reps", type=int, default=21, help="timed searches (median reported)")
    p.add_argument("--startup-reps", type=int, default=3, help="fresh starts of each server")
    p.add_argument(
        "--configs",
        default=DEFAULT_CONFIGS,
        help=f"throughput/search configurations, comma-separated (default {DEFAULT_CONFIGS}; "
        "tane and mlflow are the target's)",
    )
    p.add_argument(
        "--variant-runs",
        type=int,
        default=500,
        help="runs created through a non-default configuration (tane-w4, mlflow-w1); it "
        "searches the default configuration's --runs runs, copied with its database",
    )
    p.add_argument("--skip-startup", action="store_true")
    p.add_argument(
        "--profile",
        action="store_true",
        help="profile tane's server (cProfile, every thread) even if every target is met "
        "(it is profiled when one is missed)",
    )
    p.add_argument("--profile-runs", type=int, default=500, help="runs of the profiled load")
    # worker-only options
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    p.add_argument("--search-runs", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--reuse", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()

    if a.case == "tane-server-profile":
        case_server_profile(json.loads(os.environ[ARGV_ENV]))
        return
    if a.case:
        if a.case not in ("tane-client", "mlflow-client"):
            raise SystemExit(f"unknown case {a.case}")
        common.emit(case_client(a.case.split("-")[0], a))
        return

    configs = [c.strip() for c in a.configs.split(",") if c.strip()]
    for c in configs:
        if c not in CONFIGS:
            raise SystemExit(f"unknown config {c!r} (have {', '.join(CONFIGS)})")

    # 1. start-up ---------------------------------------------------------------------
    startup: dict[str, list[dict]] = {"tane": [], "mlflow": []}
    if not a.skip_startup:
        note(
            "[server] start-up: one warm-up start of each, then "
            f"{a.startup_reps} interleaved fresh starts of each ..."
        )
        for tool in ("tane", "mlflow"):
            r = measure_startup(tool, None)
            note(f"  warm-up {tool}: /health after {r['health_s']:.2f} s")
        for i in range(a.startup_reps):
            for tool in ("tane", "mlflow"):
                r = measure_startup(tool, None)
                note(
                    f"  {tool} #{i + 1}: /health {r['health_s']:.2f} s, database "
                    f"{r['db_s']:.2f} s, {r['procs']} processes, {r['rss_mib']:.0f} MiB settled "
                    f"(load average {r['load']:.1f})"
                )
                startup[tool].append(r)

    # 2 + 3. throughput and search ------------------------------------------------------
    # The defaults first: a variant starts from a copy of its tool's default database.
    configs.sort(key=lambda c: CONFIGS[c][1] is not None)
    loads: dict[str, dict] = {}
    failed: dict[str, str] = {}
    with common.fresh_dir("server-dbs") as dbs:
        for name in configs:
            tool, workers, label = CONFIGS[name]
            base_db = dbs / tool
            seed = base_db if workers is not None and base_db.exists() else None
            n = a.variant_runs if seed else a.runs
            note(f"[server] {label}: {n} runs, then search over {a.runs} ...")
            t0 = time.perf_counter()
            keep = base_db if workers is None else None
            try:
                loads[name] = measure_workload(name, a, keep=keep, seed=seed)
            except Exception as exc:
                if workers is None:
                    raise  # the target's configurations must work
                note(f"  {name} FAILED ({type(exc).__name__}: {exc}); reported, not fatal")
                failed[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                continue
            note(f"  {name} took {time.perf_counter() - t0:.0f} s")

    missed, problems = report(a, startup, loads, failed)
    if a.profile or missed:
        note(f"[server] profiling tane's server: {a.profile_runs} runs ...")
        prof = run_profile(a)
        print_profile(prof)
        if a.json:  # add the profile to the results report() wrote
            saved = json.loads(Path(a.json).read_text())
            saved["profile"] = prof
            Path(a.json).write_text(json.dumps(saved, indent=2) + "\n")
    if problems:
        raise SystemExit(1)


def med(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def report(
    a, startup: dict[str, list[dict]], loads: dict[str, dict], failed: dict[str, str]
) -> tuple[bool, list[str]]:
    """Print the tables; return (whether a target of tane was missed, correctness problems)."""
    targets: list[list[str]] = []
    start_summary: dict[str, dict[str, float]] = {}
    if startup["tane"] and startup["mlflow"]:
        for tool in ("tane", "mlflow"):
            rows = startup[tool]
            start_summary[tool] = {
                k: med(rows, k)
                for k in (
                    "health_s",
                    "db_s",
                    "procs_health",
                    "rss_health_mib",
                    "procs",
                    "rss_mib",
                    "load",
                )
            }
            start_summary[tool]["health_range"] = (
                min(r["health_s"] for r in rows),
                max(r["health_s"] for r in rows),
            )
        t, m = start_summary["tane"], start_summary["mlflow"]
        rows = []
        for tool, label in (("tane", "tane server"), ("mlflow", "mlflow server")):
            s = start_summary[tool]
            lo, hi = s["health_range"]
            rows.append(
                [
                    label,
                    fmt_s(s["health_s"]),
                    f"{fmt_s(lo)} .. {fmt_s(hi)}",
                    fmt_s(s["db_s"]),
                    f"{s['procs_health']:.0f} / {s['procs']:.0f}",
                    f"{s['rss_health_mib']:.0f} MiB",
                    f"{s['rss_mib']:.0f} MiB",
                    fmt_ratio(m["health_s"] / s["health_s"]),
                    fmt_ratio(m["rss_mib"] / s["rss_mib"]),
                    f"{s['load']:.1f}",
                ]
            )
        print(
            common.table(
                [
                    "server",
                    "spawn -> /health 200",
                    "range",
                    "-> first database answer",
                    "processes (health / settled)",
                    "RSS at /health",
                    "RSS settled",
                    "mlflow / this (time)",
                    "mlflow / this (RSS)",
                    "load average",
                ],
                rows,
                title=f"start-up on a fresh SQLite database, default workers "
                f"(median of {a.startup_reps} fresh starts after a warm-up start)",
            )
        )
        targets.append(
            [
                "start -> first /health 200",
                fmt_s(t["health_s"]),
                fmt_s(m["health_s"]),
                fmt_ratio(m["health_s"] / t["health_s"]),
                f"< {TARGET_START_S:.0f} s",
                "yes" if t["health_s"] < TARGET_START_S else "NO",
            ]
        )
        targets.append(
            [
                "RSS of the process tree (settled)",
                f"{t['rss_mib']:.0f} MiB",
                f"{m['rss_mib']:.0f} MiB",
                fmt_ratio(m["rss_mib"] / t["rss_mib"]),
                f"< {TARGET_RSS_MIB:.0f} MiB",
                "yes" if t["rss_mib"] < TARGET_RSS_MIB else "NO",
            ]
        )

    problems: list[str] = []
    for name, r in loads.items():
        if r["count"] != len(r["expected"]) or r["accs"] != r["expected"]:
            problems.append(f"{name}: search result differs from the expected top {TOP}")
    counts = {name: r["count"] for name, r in loads.items()}
    if len(set(counts.values())) > 1:
        problems.append(f"run counts differ: {counts}")

    base = loads.get("mlflow")
    if loads:
        rows = []
        for r in loads.values():
            ph = r["runs_phase"]
            pts = r["runs"] * r["points_per_run"]
            runs_rate = r["runs"] / ph["wall_s"]
            pts_rate = pts / r["log_batch_s"]
            bulk_rate = r["bulk_points"] / r["bulk_phase"]["wall_s"]
            r["rates"] = {"runs": runs_rate, "points": pts_rate, "bulk": bulk_rate}
        for r in loads.values():
            rr = r["rates"]
            b = base["rates"] if base else None
            rows.append(
                [
                    r["label"] + (" (*)" if r.get("reused_db") else ""),
                    f"{r['runs']:,}",
                    fmt_s(r["runs_phase"]["wall_s"]),
                    f"{rr['runs']:,.1f}/s" if rr["runs"] < 10 else f"{rr['runs']:,.0f}/s",
                    fmt_rate(rr["points"]),
                    " / ".join(
                        fmt_s(r[k] / r["runs"])
                        for k in ("create_run_s", "log_batch_s", "set_terminated_s")
                    ),
                    fmt_rate(rr["bulk"]),
                    " / ".join(
                        fmt_ratio(rr[k] / b[k]) if b else "-" for k in ("runs", "points", "bulk")
                    ),
                ]
            )
        r0 = loads.get("tane") or next(iter(loads.values()))
        print(
            common.table(
                [
                    "server",
                    "runs",
                    "time",
                    "runs/s",
                    "log_batch points/s",
                    "per run: create / log_batch / end",
                    f"bulk points/s ({BULK_BATCH}/call)",
                    "vs mlflow default: runs / points / bulk",
                ],
                rows,
                title="log-batch throughput through the server, each tool's own client: "
                f"runs x (create_run + log_batch of 10 params and {r0['points_per_run']} "
                f"points + set_terminated); bulk: one run, {r0['bulk_points']:,} points",
            )
        )
        if any(r.get("reused_db") for r in loads.values()):
            print(
                f"(*) started on a copy of its tool's default-configuration database "
                f"({a.runs:,} runs), created {a.variant_runs:,} more (--variant-runs) "
                "and searched the copied ones"
            )
        rows = []
        for r in loads.values():
            rows.append(
                [
                    r["label"],
                    fmt_s(r["health_s"]),
                    f"{r['idle_rss_mib']:.0f} MiB ({r['idle_procs']})",
                    f"{r['rss_after_mib']:.0f} MiB ({r['procs_after']})",
                    f"{r['load_before']:.1f} / {r['load_after']:.1f}",
                ]
            )
        print(
            common.table(
                [
                    "server",
                    "spawn -> /health",
                    "RSS idle (processes)",
                    "RSS after the load",
                    "load average, 1 min (before / after)",
                ],
                rows,
                title="the servers of these runs (RSS summed over the process tree)",
            )
        )
        rows = []
        for r in loads.values():
            n = r["runs"] * 3
            rows.append(
                [
                    r["label"],
                    f"{r['runs']:,} runs, {n:,} requests",
                    *per_request(r["runs_phase"], n),
                ]
            )
            rows.append(
                [
                    "",
                    f"bulk, {r['bulk_calls']} log_batch requests",
                    *per_request(r["bulk_phase"], r["bulk_calls"]),
                ]
            )
            rows.append(
                [
                    "",
                    f"search (list), {a.reps + 1} requests",
                    *per_request(r["search_phase"], a.reps + 1),
                ]
            )
        print(
            common.table(
                [
                    "server",
                    "phase",
                    "wall / request",
                    "client CPU",
                    "server CPU",
                    "neither (waiting)",
                ],
                rows,
                title="where a request's time goes (CPU time of every thread, from "
                "/proc/PID/task/*/schedstat; 'neither' = wall - client CPU - server CPU)",
            )
        )
        peer = base["list"]["median_s"] if base else None
        peer_pd = base["pandas"]["median_s"] if base else None
        rows = []
        for name, r in loads.items():
            tool = CONFIGS[name][0]
            lf = (
                "Client.search_runs(as_pandas=False)"
                if tool == "tane"
                else "MlflowClient.search_runs"
            )
            pf = "Client.search_runs(as_pandas=True)" if tool == "tane" else "mlflow.search_runs"
            for form, key, ref in (("list", "list", peer), ("pandas", "pandas", peer_pd)):
                s = r[key]
                rows.append(
                    [
                        r["label"],
                        lf if form == "list" else pf,
                        fmt_s(s["median_s"]),
                        fmt_s(s["min_s"]),
                        r["count"],
                        fmt_ratio(ref / s["median_s"]) if ref else "-",
                    ]
                )
        print(
            common.table(
                [
                    "server",
                    "client call",
                    "median",
                    "min",
                    "runs",
                    "speed vs mlflow default (same form)",
                ],
                rows,
                title=f"search_runs through the server over {a.runs:,} runs: {FILTER!r}, "
                f"order by acc DESC, top {TOP} (median of {a.reps} after 1 warm-up)",
            )
        )
        tane_r = loads.get("tane")
        if tane_r and base:
            for label, key in (
                (f"log_batch points/s ({tane_r['runs']:,} runs)", "points"),
                ("runs created/s", "runs"),
            ):
                ratio = tane_r["rates"][key] / base["rates"][key]
                targets.append(
                    [
                        label,
                        f"{tane_r['rates'][key]:,.1f}/s"
                        if tane_r["rates"][key] < 10
                        else fmt_rate(tane_r["rates"][key]),
                        f"{base['rates'][key]:,.1f}/s"
                        if base["rates"][key] < 10
                        else fmt_rate(base["rates"][key]),
                        fmt_ratio(ratio),
                        f">= {TARGET:.0f}x",
                        common.met(ratio, TARGET),
                    ]
                )
            for label, key in (
                ("search_runs, list forms", "list"),
                ("search_runs, pandas forms", "pandas"),
            ):
                ratio = base[key]["median_s"] / tane_r[key]["median_s"]
                targets.append(
                    [
                        label,
                        fmt_s(tane_r[key]["median_s"]),
                        fmt_s(base[key]["median_s"]),
                        fmt_ratio(ratio),
                        f">= {TARGET:.0f}x" if key == "list" else "(reported)",
                        common.met(ratio, TARGET) if key == "list" else "-",
                    ]
                )
    if targets:
        print(
            common.table(
                ["measure", "tane (default)", "mlflow (default)", "ratio", "target", "met"],
                targets,
                title="targets",
            )
        )
    for name, err in failed.items():
        print(f"\n{CONFIGS[name][2]}: FAILED: {err}")
    if problems:
        print("\nCORRECTNESS PROBLEMS:\n  " + "\n  ".join(problems))
    elif loads:
        print(
            f"\nresults agree: every server returned {next(iter(counts.values()))} runs, "
            f"identical acc ordering, equal to the expected top {TOP} computed in Python"
        )
    for r in loads.values():
        r.pop("expected", None)
    common.save(
        a.json,
        "server",
        {
            "targets": {"ratio": TARGET, "start_s": TARGET_START_S, "rss_mib": TARGET_RSS_MIB},
            "filter": FILTER,
            "problems": problems,
            "startup": startup,
            "startup_median": {
                k: {kk: vv for kk, vv in v.items() if kk != "health_range"}
                for k, v in start_summary.items()
            },
            "loads": loads,
            "failed": failed,
        },
    )
    missed = any(row[-1] == "NO" for row in targets)
    return missed, problems


if __name__ == "__main__":
    main()
