"""`python train.py --sweep ...` and `tane sweep`: searches recorded as runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tane

pytestmark = pytest.mark.slow

TRAIN = """
import os
import tane

@tane.main(config_path="conf", config_name="config")
def train(cfg):
    x = float(cfg.model.alpha)
    if os.environ.get("CRASH_AFTER") and os.path.exists(os.environ["CRASH_AFTER"]):
        os._exit(9)
    for step in range(6):
        tane.log_metric("loss", (x - 0.3) ** 2 + 1.0 / (step + 1), step=step)
        if tane.should_prune("loss"):
            raise tane.TrialPruned()
    if os.environ.get("LOG_ONLY"):
        tane.log_metric("score", -((x - 0.3) ** 2))
        return None
    return (x - 0.3) ** 2

if __name__ == "__main__":
    train()
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "config.yaml").write_text(
        "defaults:\n  - model: linear\n  - _self_\nseed: 1\n"
    )
    (tmp_path / "conf" / "model" / "linear.yaml").write_text("alpha: 0.5\n")
    (tmp_path / "conf" / "model" / "other.yaml").write_text("alpha: 0.2\n")
    (tmp_path / "train.py").write_text(TRAIN)
    return tmp_path


def sweep(app: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "TANE_STORE": str(app / "store"), "TANE_CAPTURE": "none", **(env or {})}
    return subprocess.run(
        [sys.executable, str(app / "train.py"), *args],
        cwd=app,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def runs(app: Path) -> list[tane.Run]:
    return list(tane.Client(str(app / "store")).search_runs(max_results=1000))


def test_a_sweep_searches_records_and_reports_the_best(app: Path) -> None:
    proc = sweep(app, "--sweep", "model.alpha=interval(0,1)", "--trials", "10", "--seed", "2")
    assert proc.returncode == 0, proc.stderr
    assert "best objective:" in proc.stdout and "parameter importances" in proc.stdout
    found = runs(app)
    parent = next(r for r in found if r.parent_id is None)
    trials = [r for r in found if r.parent_id == parent.id]
    assert len(trials) == 10
    assert all("model.alpha" in r.params for r in trials)
    best = min(trials, key=lambda r: r.metrics["objective"])
    assert parent.tags["tane.sweep.best_run"] == best.id
    assert parent.metrics["best_value"] == pytest.approx(best.metrics["objective"])
    client = tane.Client(str(app / "store"))
    doc = json.loads(client.read_artifact(parent.id, "sweep.json"))
    assert len(doc["trials"]) == 10 and doc["space"] == {"model.alpha": "[0.0, 1.0]"}


def test_pruning_works_with_parallel_workers(app: Path) -> None:
    proc = sweep(
        app,
        "--sweep",
        "model.alpha=interval(0,1)",
        "--trials",
        "16",
        "--seed",
        "3",
        "--pruner",
        "median",
        "--jobs",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    statuses = [r.status.value for r in runs(app) if r.parent_id]
    assert "PRUNED" in statuses and "FINISHED" in statuses


def test_a_grid_sweep_stops_at_its_last_point(app: Path) -> None:
    proc = sweep(app, "--sweep", "model=linear,other", "--sampler", "grid")
    assert proc.returncode == 0, proc.stderr
    assert len([r for r in runs(app) if r.parent_id]) == 2
    bad = sweep(app, "--sweep", "model.alpha=interval(0,1)", "--sampler", "grid")
    assert bad.returncode == 2
    assert "grid sampler needs values to list" in bad.stderr


def test_an_objective_the_trial_never_logged_fails_it_with_the_reason(app: Path) -> None:
    proc = sweep(app, "--sweep", "model.alpha=interval(0,1)", "--trials", "2", "--objective", "acc")
    assert proc.returncode == 0, proc.stderr
    assert "never logged the objective metric 'acc'" in proc.stdout
    logged = sweep(
        app,
        "--sweep",
        "model.alpha=interval(0,1)",
        "--trials",
        "3",
        "--objective",
        "score",
        "--direction",
        "maximize",
        env={"LOG_ONLY": "1"},
    )
    assert logged.returncode == 0, logged.stderr
    assert "best score:" in logged.stdout


def test_the_sweep_section_of_the_config_is_the_default(app: Path) -> None:
    (app / "conf" / "config.yaml").write_text(
        "defaults:\n  - model: linear\n  - _self_\nseed: 1\n"
        "sweep:\n  sampler: random\n  trials: 4\n  seed: 0\n"
        "  params:\n    model.alpha: interval(0, 1)\n"
    )
    proc = sweep(app, "--sweep")
    assert proc.returncode == 0, proc.stderr
    trials = [r for r in runs(app) if r.parent_id]
    assert len(trials) == 4
    assert not any(k.startswith("sweep.") for k in trials[0].params)  # not task config


def test_an_interrupted_sweep_resumes_with_its_history(app: Path) -> None:
    marker = app / "crash-now"
    # Three trials finish; then the process dies in the middle of the fourth.
    with subprocess.Popen(
        [
            sys.executable,
            str(app / "train.py"),
            "--sweep",
            "model.alpha=interval(0,1)",
            "--trials",
            "6",
            "--seed",
            "1",
        ],
        cwd=app,
        env={
            **os.environ,
            "TANE_STORE": str(app / "store"),
            "TANE_CAPTURE": "none",
            "CRASH_AFTER": str(marker),
        },
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("[3/6]"):
                marker.write_text("x")
        proc.wait(timeout=120)
    assert proc.returncode != 0
    marker.unlink()
    parent = next(r for r in runs(app) if r.parent_id is None)
    before = [r for r in runs(app) if r.parent_id == parent.id]
    assert sum(r.status.value == "FINISHED" for r in before) == 3
    resumed = sweep(app, "--resume", parent.id)
    assert resumed.returncode == 0, resumed.stderr
    trials = [r for r in runs(app) if r.parent_id == parent.id]
    assert sum(r.status.value == "FINISHED" for r in trials) == 6
    # The trial that was cut off is not left RUNNING.
    assert not [r for r in trials if r.status.value == "RUNNING"]
    assert "[4/6]" in resumed.stdout and "[6/6]" in resumed.stdout
