"""Concurrency: many writers, one store, and every point, param, trial and file counted.

- 8 processes race to create one SQLite store and log to it.
- 50 clients log to one ``tane server`` process, on SQLite and on PostgreSQL.
- Two sweeps (``python train.py --sweep`` and ``tane.sweep(...)``) share a store.
- A pipeline and a sweep over it share a project's catalog, cache and store.

Points are counted in the database itself (``_stored_points`` of
tests/server/test_load.py): per run, how many and the sum of their steps, so a
point stored twice and another lost would not hide.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests.pipeline.test_project_run import make_project
from tests.reliability.conftest import tane_cli
from tests.reliability.figures import record
from tests.server import test_load as load
from tests.sweep.test_script_sweeps import TRAIN
from tests.tracking import test_processes as procs

import tane
from tane.tracking.entities import Run, RunStatus
from tane.tracking.stores.rest import RestStore

pytestmark = pytest.mark.slow

# -- 8 processes, one SQLite store ------------------------------------------------------

PROCESSES = 8
STEPS = 5000
PARAMS = 50

WRITER = """
import sys, tane
worker = int(sys.argv[1])
with tane.start_run(experiment="eight", name=f"w{worker}") as run:
    tane.log_params({f"p{i:02d}": f"{worker}-{i}" for i in range(PARAMS)})
    tane.set_tags({"worker": worker, "kind": "writer"})
    for step in range(STEPS):
        tane.log_metrics({"loss": 1 / (step + 1), "acc": step / STEPS, "lr": 0.1}, step=step)
    print("DONE", run.id, flush=True)
""".replace("PARAMS", str(PARAMS)).replace("STEPS", str(STEPS))


def test_eight_processes_on_one_new_sqlite_store_lose_nothing(tmp_path: Path) -> None:
    store = tmp_path / "shared"  # does not exist: all eight race to create it
    script = procs._script(tmp_path, WRITER)
    env = procs._env(store, TANE_CAPTURE="none")
    began = time.monotonic()
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(w)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(PROCESSES)
    ]
    outputs = [w.communicate(timeout=180) for w in workers]
    seconds = time.monotonic() - began
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        assert "locked" not in err
    run_ids = [out.split()[1] for out, _ in outputs]
    stored = load._stored_points(f"sqlite:///{store / 'tane.db'}")
    expected = (3 * STEPS, 3 * STEPS * (STEPS - 1) // 2)
    assert {run_id: stored.get(run_id) for run_id in run_ids} == dict.fromkeys(run_ids, expected)
    client = tane.Client(str(store))
    runs = client.search_runs("tags.kind = 'writer'", experiment="eight")
    assert sorted(r.id for r in runs) == sorted(run_ids)
    for run in runs:
        worker = run.tags["worker"]
        assert run.status is RunStatus.FINISHED
        assert run.params == {f"p{i:02d}": f"{worker}-{i}" for i in range(PARAMS)}
    logged = PROCESSES * expected[0]
    total = sum(stored[run_id][0] for run_id in run_ids)
    record(
        "concurrency-8-processes-sqlite",
        processes=PROCESSES,
        points_logged=logged,
        points_stored=total,
        params_logged=PROCESSES * PARAMS,
        params_stored=sum(len(r.params) for r in runs),
        seconds=round(seconds, 1),
        points_per_second=round(total / seconds),
    )


# -- 50 clients, one server -------------------------------------------------------------

CLIENTS = 50
#: Seconds the clients log for (tests/server/test_load.py logs 20 s with more kinds of client).
SECONDS = 5.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'served.db'}"


@pytest.mark.timeout(SECONDS + 120)
def test_fifty_clients_on_one_server_lose_no_point(server_store: str, tmp_path: Path) -> None:
    server = load.ServerProcess(server_store, tmp_path / "server.log")
    tally = load.Tally()
    try:
        server.wait_ready()
        setup = RestStore(server.url)
        experiment = setup.get_or_create_experiment("fifty").id
        setup.close()
        start, deadline = threading.Event(), [0.0]
        clients = [
            threading.Thread(
                target=load._batch_client,
                args=(server.url, experiment, i, start, deadline, tally),
                daemon=True,
            )
            for i in range(CLIENTS)
        ]
        for client in clients:
            client.start()
        time.sleep(1.0)  # for the runs to be made; a late client logs less, counted as well
        deadline[0] = time.time() + SECONDS
        start.set()
        for client in clients:
            client.join(timeout=SECONDS + load.GRACE)
            assert not client.is_alive(), "a client did not stop"
    finally:
        start.set()
        exit_code = server.stop()
    assert not tally.errors, "\n".join(tally.errors[:10])
    assert exit_code in (0, -15), server.output()
    stored = load._stored_points(server_store)
    assert len(tally.logged) == CLIENTS
    assert stored == tally.logged  # per run: the same count and the same sum of steps
    logged = sum(points for points, _ in tally.logged.values())
    assert min(points for points, _ in tally.logged.values()) > 0
    record(
        f"concurrency-50-clients-{server_store.split(':', 1)[0]}",
        clients=CLIENTS,
        seconds=SECONDS,
        requests=tally.requests,
        points_logged=logged,
        points_stored=sum(points for points, _ in stored.values()),
        points_per_second=round(logged / SECONDS),
    )


# -- two sweeps, one store --------------------------------------------------------------

TRIALS = 12

DEFINE_BY_RUN = f"""
import tane

def objective(trial):
    x = trial.suggest_float("x", -5, 5)
    for step in range(20):
        tane.log_metric("curve", (x - 1) ** 2 + 1 / (step + 1), step=step)
    return (x - 1) ** 2

best = tane.sweep(objective, n_trials={TRIALS}, sampler="random", seed=3, experiment="shared",
                  name="define-by-run")
print("SWEEP", best.best_run_id, flush=True)
"""


def _children(runs: list[Run], parent: Run) -> list[Run]:
    return [r for r in runs if r.parent_id == parent.id]


def test_two_sweeps_write_to_one_store_at_once(tmp_path: Path) -> None:
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "config.yaml").write_text("defaults:\n  - model: linear\n  - _self_\n")
    (tmp_path / "conf" / "model" / "linear.yaml").write_text("alpha: 0.5\n")
    (tmp_path / "train.py").write_text(TRAIN)
    (tmp_path / "objective.py").write_text(DEFINE_BY_RUN)
    store = tmp_path / "store"
    env = {**os.environ, "TANE_STORE": str(store), "TANE_CAPTURE": "none"}
    script_args = ["--sweep", "model.alpha=interval(0,1)", "--trials", str(TRIALS)]
    commands = [
        [sys.executable, "train.py", *script_args, "--seed", "1", "--jobs", "2"],
        [sys.executable, "objective.py"],
    ]
    began = time.monotonic()
    sweeps = [
        subprocess.Popen(
            argv,
            cwd=tmp_path,
            env={**env, "TANE_EXPERIMENT": "shared"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in commands
    ]
    outputs = [s.communicate(timeout=240) for s in sweeps]
    seconds = time.monotonic() - began
    for sweep, (_, err) in zip(sweeps, outputs, strict=True):
        assert sweep.returncode == 0, err
    client = tane.Client(str(store))
    runs = client.search_runs(max_results=1000)
    parents = [r for r in runs if r.tags.get("tane.kind") == "sweep"]
    assert len(parents) == 2 and all(p.status is RunStatus.FINISHED for p in parents)
    points = 0
    for parent in parents:
        trials = _children(runs, parent)
        assert len(trials) == TRIALS, (parent.name, len(trials))
        assert all(t.status is RunStatus.FINISHED for t in trials)
        key, steps = ("loss", 6) if "model.alpha" in trials[0].params else ("curve", 20)
        for trial in trials:
            history = client.get_metric_history(trial.id, key)
            assert [m.step for m in history] == list(range(steps)), trial.id
            points += len(history)
        document = json.loads(client.read_artifact(parent.id, "sweep.json"))
        assert len(document["trials"]) == TRIALS
        assert {t["run_id"] for t in document["trials"]} == {t.id for t in trials}
    assert len(runs) == 2 + 2 * TRIALS  # nothing else, nothing twice
    record(
        "concurrency-two-sweeps",
        sweeps=2,
        trials=2 * TRIALS,
        trial_points_logged=TRIALS * (6 + 20),
        trial_points_stored=points,
        seconds=round(seconds, 1),
    )


# -- a pipeline and a sweep, one catalog ------------------------------------------------

PIPELINE_RUNS = 4
FACTORS = range(1, 6)


def test_a_pipeline_and_a_sweep_share_a_catalog(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    raw = (project / "data" / "raw.json").read_bytes()
    ordinary: list[subprocess.CompletedProcess[str]] = []

    def pipeline_runs() -> None:
        for offset in range(1, PIPELINE_RUNS + 1):
            ordinary.append(tane_cli(project, "run", f"report.offset={offset}"))

    began = time.monotonic()
    runner = threading.Thread(target=pipeline_runs)
    runner.start()
    searched = tane_cli(
        project,
        "sweep",
        f"prep.factor=range({FACTORS.start},{FACTORS.stop})",
        "--objective",
        "total",
        "--direction",
        "maximize",
        "--sampler",
        "grid",
        "--trials",
        str(len(FACTORS)),
    )
    runner.join(timeout=300)
    seconds = time.monotonic() - began
    assert searched.returncode == 0, searched.stderr + searched.stdout
    assert len(ordinary) == PIPELINE_RUNS
    for done in ordinary:
        assert done.returncode == 0, done.stderr + done.stdout
    runs = tane.Client(str(project / ".tane")).search_runs(max_results=1000)
    pipelines = [r for r in runs if r.parent_id is None and r.tags.get("tane.kind") == "pipeline"]
    assert sorted(r.metrics["total"] for r in pipelines) == [
        12 + k for k in range(1, PIPELINE_RUNS + 1)
    ]
    assert all(r.status is RunStatus.FINISHED for r in pipelines)
    (parent,) = [r for r in runs if r.tags.get("tane.kind") == "sweep"]
    assert parent.status is RunStatus.FINISHED
    trials = _children(runs, parent)
    assert len(trials) == len(FACTORS)
    for trial in trials:
        assert trial.status is RunStatus.FINISHED
        assert trial.metrics["total"] == 6 * int(trial.params["prep.factor"]) + 1
    assert sorted(int(t.params["prep.factor"]) for t in trials) == list(FACTORS)
    # The catalog's paths hold the ordinary runs' data, never a trial's; inputs untouched.
    assert json.loads((project / "data" / "summary.json").read_text()) == {
        "total": 12 + PIPELINE_RUNS
    }
    assert (project / "data" / "raw.json").read_bytes() == raw
    # The shared cache came out whole: the last run again is all cached.
    again = tane_cli(project, "run", f"report.offset={PIPELINE_RUNS}")
    assert again.returncode == 0, again.stderr
    assert "2 cached" in again.stdout + again.stderr, again.stdout + again.stderr
    record(
        "concurrency-pipeline-and-sweep",
        pipeline_runs=len(pipelines),
        sweep_trials=len(trials),
        seconds=round(seconds, 1),
        rerun_cached_nodes=2,
    )
