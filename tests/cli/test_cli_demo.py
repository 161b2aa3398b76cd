"""``tane demo``: tracked scikit-learn runs in the current store."""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable

import pytest
from click.testing import Result

import tane
from tane.cli.demo import plan_runs

Invoke = Callable[..., Result]


def test_plan_runs_mixes_models() -> None:
    assert [p.model for p in plan_runs(1)] == ["sgd"]
    assert [p.model for p in plan_runs(2)] == ["sgd", "random_forest"]
    six = plan_runs(6)
    assert [p.model for p in six] == ["sgd"] * 4 + ["logistic_regression", "random_forest"]
    assert len({p.name for p in plan_runs(40)}) == 40
    sgd = [p.params for p in six if p.model == "sgd"]
    assert len({(p["penalty"], p["alpha"], p["learning_rate"]) for p in sgd}) == 4


def test_demo_records_runs(cli: Invoke, store: str) -> None:
    pytest.importorskip("sklearn")
    result = cli("demo", "--runs", "3", "--epochs", "3", "--seed", "1", "--no-pipeline")
    assert result.exit_code == 0, result.output
    client = tane.Client(store)
    runs = client.search_runs(experiment="demo", order_by=["metrics.val_accuracy DESC"])
    assert len(runs) == 3
    assert sorted(r.params["model"] for r in runs) == ["random_forest", "sgd", "sgd"]
    for run in runs:
        assert run.status.value == "FINISHED"
        assert run.params["epochs"] == "3"
        assert run.params["seed"] == "1"
        assert 0.5 < run.metrics["val_accuracy"] <= 1.0
        assert run.metrics["best_val_accuracy"] >= run.metrics["val_accuracy"]
        history = client.get_metric_history(run.id, "val_loss")
        assert [p.step for p in history] == [0, 1, 2]
        names = {a.path for a in client.list_artifacts(run.id)}
        assert {"model.pkl", "learning_curve.png"} <= names
        assert client.read_artifact(run.id, "learning_curve.png").startswith(b"\x89PNG")
        model = pickle.loads(client.read_artifact(run.id, "model.pkl"))
        assert len(model.classes_) == 10
    best = runs[0]
    out = result.stdout
    assert f"Best: {best.name} ({best.id[:8]})" in out
    assert f"tane runs show {best.id[:8]}" in out
    assert "tane runs compare " + " ".join(r.id[:8] for r in runs) in out
    table_rows = [line for line in out.splitlines() if line[:8] in {r.id[:8] for r in runs}]
    assert [line[:8] for line in table_rows] == [r.id[:8] for r in runs]


def test_demo_without_scikit_learn(cli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)
    result = cli("demo", "--runs", "1")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        'Error: the demo needs scikit-learn: pip install "tane[demo]"'
    ]


def test_demo_runs_the_iris_pipelines_twice_the_second_time_from_the_cache(
    cli: Invoke, store: str
) -> None:
    pytest.importorskip("sklearn")
    result = cli("demo", "--runs", "1", "--epochs", "1", "--trials", "4")
    assert result.exit_code == 0, result.output
    runs = tane.Client(store).search_runs("tags.`tane.kind` = 'pipeline'", order_by=["start_time"])
    assert len(runs) == 2 + 4  # two runs, then four sweep trials
    first, second = runs[:2]
    sweep = tane.Client(store).search_runs("tags.`tane.kind` = 'sweep'")
    assert len(sweep) == 1
    trials = [r for r in runs if r.parent_id == sweep[0].id]
    assert len(trials) == 4 and all("accuracy" in r.metrics for r in trials)
    # Every trial takes the preprocessing from the cache: 3 of its 5 nodes.
    assert all(r.tags["tane.nodes.cached"] == "3" for r in trials)
    assert "node runs came from the cache" in result.stdout
    assert (first.tags["tane.nodes.ran"], first.tags["tane.nodes.cached"]) == ("5", "0")
    assert (second.tags["tane.nodes.ran"], second.tags["tane.nodes.cached"]) == ("0", "5")
    # The cached run shows the metrics the evaluation node logged when it ran.
    assert second.metrics["accuracy"] == first.metrics["accuracy"] > 0.7
    assert "again, nothing changed" in result.stdout
    skipped = cli("demo", "--runs", "1", "--epochs", "1", "--no-pipeline", "--trials", "0")
    assert skipped.exit_code == 0
    assert "Pipelines" not in skipped.stdout
