"""tane.autolog(): scikit-learn fits recorded once each, with params, score and model."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.datasets import load_iris

import tane


@pytest.fixture(autouse=True)
def _autolog() -> Iterator[None]:
    tane.autolog()
    yield
    tane.autolog(disable=True)


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    return x, y


def test_a_fit_inside_a_run_logs_params_score_and_model(iris) -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = iris
    with tane.start_run(capture=False) as run:
        model = LogisticRegression(C=0.5, max_iter=300).fit(x, y)
    stored = tane.Client().get_run(run.id)
    assert stored.params["C"] == "0.5" and stored.params["max_iter"] == "300"
    assert stored.metrics["training_score"] == pytest.approx(model.score(x, y))
    assert stored.tags["sklearn.estimator"].endswith("LogisticRegression")
    loaded = tane.load_model(f"runs:/{run.id}/model")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    example = tane.tracking.models.load_input_example(f"runs:/{run.id}/model")
    np.testing.assert_array_equal(example, x[:5])


def test_a_pipeline_and_a_grid_search_are_logged_once(iris) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = iris
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
    with tane.start_run(capture=False) as run:
        pipe.fit(x, y)
    client = tane.Client()
    stored = client.get_run(run.id)
    assert stored.params["logisticregression__max_iter"] == "300"
    assert stored.params["steps"] == '["standardscaler", "logisticregression"]'
    assert stored.tags["sklearn.estimator"].endswith("Pipeline")
    assert "training_score" in stored.metrics
    grid = GridSearchCV(pipe, {"logisticregression__C": [0.1, 1.0]}, cv=3)
    with tane.start_run(capture=False) as searched:
        grid.fit(x, y)
    runs = client.search_runs()
    # One run per `with` block: none for the pipeline's steps or the grid's inner fits.
    assert len(runs) == 2
    record = client.get_run(searched.id)
    assert record.params["param_grid"] == '{"logisticregression__C": [0.1, 1.0]}'
    assert tane.load_model(f"runs:/{searched.id}/model").best_params_ == grid.best_params_


def test_fits_outside_a_run_and_later_fits_get_runs_of_their_own(iris) -> None:
    from sklearn.tree import DecisionTreeClassifier

    x, y = iris
    DecisionTreeClassifier(max_depth=2).fit(x, y)
    assert tane.active_run() is None
    with tane.start_run(capture=False) as run:
        DecisionTreeClassifier(max_depth=2).fit(x, y)
        DecisionTreeClassifier(max_depth=3).fit(x, y)  # a child: one set of params a run
    runs = tane.Client().search_runs()
    assert len(runs) == 3
    own = next(r for r in runs if r.parent_id is None and r.id != run.id)
    assert own.name == "DecisionTreeClassifier" and own.status.value == "FINISHED"
    child = next(r for r in runs if r.parent_id == run.id)
    assert child.params["max_depth"] == "3"
    assert tane.Client().get_run(run.id).params["max_depth"] == "2"


def test_disable_restores_scikit_learns_fit(iris) -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = iris
    tane.autolog(disable=True)
    with tane.start_run(capture=False) as run:
        LogisticRegression(max_iter=300).fit(x, y)
    stored = tane.Client().get_run(run.id)
    assert stored.params == {} and "training_score" not in stored.metrics
    assert tane.Client().list_artifacts(run.id, "model") == []


def test_autolog_works_inside_a_sweep_trial(iris, tmp_path) -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = iris

    def objective(trial: tane.sweep.define.Trial) -> float:
        c = trial.suggest_float("C", 0.01, 10, log=True)
        return float(LogisticRegression(C=c, max_iter=300).fit(x, y).score(x, y))

    best = tane.sweep(
        objective, n_trials=3, seed=0, direction="maximize", store=str(tmp_path / "s")
    )
    client = tane.Client(str(tmp_path / "s"))
    for trial in best.trials:
        run = client.get_run(trial.run_id)
        assert run.params["C"] == str(trial.params["C"])
        assert run.metrics["training_score"] == pytest.approx(run.metrics["objective"])
