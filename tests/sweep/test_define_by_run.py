"""tane.sweep(objective): define-by-run search recorded as runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
import pytest

import tane
from tane.errors import InvalidInput


def quad(trial):
    x = trial.suggest_float("x", -10, 10)
    if trial.suggest_categorical("use_y", [True, False]):
        x += trial.suggest_int("y", 0, 3)
    return (x - 2) ** 2


def test_every_trial_is_a_child_run_and_the_best_is_as_good_as_optunas(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    best = tane.sweep(quad, n_trials=40, seed=3, experiment="quad", store=store)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=3))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(quad, n_trials=40)
    assert best.best_value == pytest.approx(study.best_value)  # same seed, same search
    runs = tane.Client(store).search_runs(experiment="quad")
    parent = next(r for r in runs if r.parent_id is None)
    trials = [r for r in runs if r.parent_id == parent.id]
    assert len(trials) == 40
    best_run = next(r for r in trials if r.id == best.best_run_id)
    assert best_run.metrics["objective"] == pytest.approx(best.best_value)
    assert float(best_run.params["x"]) == pytest.approx(best.best_params["x"])
    assert parent.tags["tane.kind"] == "sweep"
    assert parent.metrics["best_value"] == pytest.approx(best.best_value)
    assert best.importances and set(best.importances) <= {"x", "use_y", "y"}


def test_bad_results_fail_the_trial_and_the_sweep_goes_on(tmp_path: Path) -> None:
    answers = iter([None, "text", math.nan, 1.0, RuntimeError("boom"), 0.5])

    def objective(trial):
        trial.suggest_float("x", 0, 1)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    store = str(tmp_path / "store")
    best = tane.sweep(objective, n_trials=6, seed=0, store=store)
    assert best.best_value == 0.5
    statuses = [r.status for r in best.trials]
    assert statuses == ["FAILED", "FAILED", "FAILED", "FINISHED", "FAILED", "FINISHED"]
    errors = [r.error for r in best.trials]
    assert "returned None" in errors[0]
    assert "returned a string" in errors[1]
    assert "nan" in errors[2]
    assert "boom" in errors[4]


def test_pruned_trials_end_pruned(tmp_path: Path) -> None:
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        for step in range(10):
            trial.report(x + step, step)
            if trial.should_prune():
                raise tane.TrialPruned()
        return x

    best = tane.sweep(
        objective, n_trials=20, seed=1, pruner="median", store=str(tmp_path / "store")
    )
    pruned = [r for r in best.trials if r.status == "PRUNED"]
    assert pruned
    run = tane.Client(str(tmp_path / "store")).get_run(pruned[0].run_id)
    assert run.status.value == "PRUNED"


def test_several_objectives_give_a_pareto_front(tmp_path: Path) -> None:
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        return x, 1 - x

    best = tane.sweep(
        objective,
        n_trials=10,
        directions=["minimize", "minimize"],
        seed=0,
        store=str(tmp_path / "store"),
    )
    assert isinstance(best.best_value, list) and len(best.best_value) == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sampler": "bayes"}, "unknown sampler 'bayes': use one of tpe"),
        ({"pruner": "early"}, "unknown pruner 'early'"),
        ({"pruner": "median", "directions": ["minimize", "maximize"]}, "multi-objective"),
        ({"sampler": "grid"}, "grid sampler needs its values"),
    ],
)
def test_bad_settings_are_refused_before_any_trial(
    tmp_path: Path, options: dict, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        tane.sweep(quad, n_trials=2, store=str(tmp_path / "store"), **options)
    assert (
        not (tmp_path / "store" / "tane.db").exists()
        or not tane.Client(str(tmp_path / "store")).search_runs()
    )


@pytest.mark.parametrize("sampler", ["tpe", "random", "cmaes", "gp", "qmc", "nsgaii"])
def test_every_sampler_searches_and_records(tmp_path: Path, sampler: str) -> None:
    def objective(trial):
        x = trial.suggest_float("x", -10, 10)
        y = trial.suggest_float("y", -3, 3)
        return (x - 2) ** 2 + y * y

    best = tane.sweep(objective, n_trials=8, seed=0, sampler=sampler, store=str(tmp_path / "store"))
    assert math.isfinite(best.best_value) and set(best.best_params) == {"x", "y"}
    assert len(tane.Client(str(tmp_path / "store")).search_runs()) == 9  # 8 trials + parent


@pytest.mark.parametrize("sampler", ["nsgaii", "motpe"])
def test_multi_objective_samplers(tmp_path: Path, sampler: str) -> None:
    best = tane.sweep(
        lambda t: (t.suggest_float("x", 0, 1), 1 - t.suggest_float("y", 0, 1)),
        n_trials=8,
        seed=0,
        sampler=sampler,
        directions=["minimize", "minimize"],
        store=str(tmp_path / "store"),
    )
    assert len(best.best_value) == 2


def test_enqueued_params_are_tried_first_and_a_seed_repeats_a_sweep(tmp_path: Path) -> None:
    first = tane.sweep(
        quad, n_trials=5, seed=7, enqueue=[{"x": 2.0, "use_y": False}], store=str(tmp_path / "a")
    )
    assert first.trials[0].metrics["objective"] == 0.0
    again = tane.sweep(
        quad, n_trials=5, seed=7, enqueue=[{"x": 2.0, "use_y": False}], store=str(tmp_path / "b")
    )
    assert [t.metrics for t in first.trials] == [t.metrics for t in again.trials]


def test_constraints_steer_the_search_to_feasible_trials(tmp_path: Path) -> None:
    def objective(trial):
        x = trial.suggest_float("x", -10, 10)
        trial.set_constraints([x - 1])  # feasible when x <= 1
        return (x - 2) ** 2

    best = tane.sweep(
        objective, n_trials=30, seed=0, constraints=True, store=str(tmp_path / "store")
    )
    study = best.study
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    feasible = [t for t in complete if max(dict(t.constraints).values()) <= 0]
    assert feasible
    best_feasible = min(t.value for t in feasible)
    assert best_feasible >= 1.0  # (x - 2)^2 with x <= 1
    run = tane.Client(str(tmp_path / "store")).get_run(best.trials[0].run_id)
    assert "constraint_0" in run.metrics

    def forgetful(trial):
        return trial.suggest_float("x", 0, 1)

    failed = tane.sweep(
        forgetful, n_trials=2, seed=0, constraints=True, store=str(tmp_path / "store")
    )
    assert all("set_constraints" in (t.error or "") for t in failed.trials)
    with pytest.raises(InvalidInput, match="cannot take constraints"):
        tane.sweep(forgetful, n_trials=2, sampler="random", constraints=True)


def test_trials_that_need_their_run_early_get_it_and_lose_nothing(tmp_path: Path) -> None:
    """Trial runs are written whole at their end, unless they need the row sooner."""
    from tane.tracking.writer import EARLY_FLUSH

    notes = tmp_path / "note.txt"
    notes.write_text("hello")

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 0:
            tane.log_artifact(str(notes))  # needs the row now
        if trial.number == 1:
            for step in range(EARLY_FLUSH + 5):  # more points than a lazy run holds
                tane.log_metric("curve", float(step), step=step)
        if trial.number == 2:
            raise ValueError("diverged")
        tane.log_metric("seen", x)
        return x

    store = str(tmp_path / "store")
    outcome = tane.sweep(objective, n_trials=4, seed=0, store=store)
    client = tane.Client(store)
    runs = {r.id: r for r in client.search_runs(max_results=100)}
    first, second, third, fourth = (runs[t.run_id] for t in outcome.trials)
    assert [a.path for a in client.list_artifacts(first.id)] == ["note.txt"]
    assert first.status.value == "FINISHED" and "x" in first.params and "seen" in first.metrics
    assert len(client.get_metric_history(second.id, "curve")) == EARLY_FLUSH + 5
    assert third.status.value == "FAILED" and "diverged" in third.tags["tane.error"]
    assert fourth.status.value == "FINISHED"
    assert fourth.parent_id == outcome.parent_id and fourth.tags["tane.trial"] == "3"


def test_should_prune_answers_inside_a_define_by_run_trial(tmp_path: Path) -> None:
    """Framework callbacks ask tane.should_prune() after tane.log_metric: no trial needed."""

    def objective(trial: Any) -> float:
        slope = trial.suggest_float("slope", 0.1, 2.0)
        for epoch in range(8):
            tane.log_metric("loss", slope * (8 - epoch), step=epoch)
            if tane.should_prune("loss"):  # what the LightGBM/Lightning callbacks ask
                raise tane.TrialPruned()
        return slope

    outcome = tane.sweep(objective, n_trials=14, seed=3, store=str(tmp_path / "s"), pruner="median")
    states = [t.status for t in outcome.trials]
    assert "PRUNED" in states and "FINISHED" in states
    assert not tane.should_prune()  # outside the sweep again
