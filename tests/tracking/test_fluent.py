"""The fluent API in-process: start_run, log_*, nesting, artifacts, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import tane
from tane.errors import InvalidInput, NoActiveRun, ParamConflict
from tane.tracking.entities import RunStatus


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "store")


def test_issue_example_end_to_end(store: str, tmp_path: Path) -> None:
    model = tmp_path / "model.pkl"
    model.write_bytes(b"model")
    with tane.start_run(
        experiment="iris", name="lgbm-baseline", tags={"team": "ml"}, store=store, capture=False
    ) as run:
        tane.log_params({"learning_rate": 0.05, "n_estimators": 500, "model": "lgbm"})
        for step in range(1000):
            tane.log_metric("loss", 1.0 / (step + 1), step=step)
        tane.log_metric("acc", 0.93)
        tane.log_artifact(model)
    client = tane.Client(store)
    got = client.get_run(run.id)
    assert got.status is RunStatus.FINISHED
    assert got.end_time is not None and got.end_time >= got.start_time
    assert got.experiment == "iris" and got.name == "lgbm-baseline"
    assert got.tags["team"] == "ml"
    assert got.params == {"learning_rate": "0.05", "n_estimators": "500", "model": "lgbm"}
    assert got.metrics["loss"] == 1.0 / 1000
    assert len(client.get_metric_history(run.id, "loss")) == 1000
    runs = client.search_runs(
        "metrics.acc > 0.9 and params.model = 'lgbm'", order_by=["metrics.acc DESC"], as_pandas=True
    )
    assert list(runs["run_id"]) == [run.id]
    assert runs.loc[0, "params.learning_rate"] == "0.05"
    assert runs.loc[0, "metrics.acc"] == 0.93
    assert [a.path for a in client.list_artifacts(run.id)] == ["model.pkl"]


def test_steps_default_to_the_next_step(store: str) -> None:
    with tane.start_run(store=store, capture=False) as run:
        for value in (3.0, 2.0, 1.0):
            tane.log_metric("loss", value)
        tane.log_metric("loss", 0.5, step=10)
        tane.log_metric("loss", 0.25)
    history = tane.Client(store).get_metric_history(run.id, "loss")
    assert [(m.step, m.value) for m in history] == [
        (0, 3.0),
        (1, 2.0),
        (2, 1.0),
        (10, 0.5),
        (11, 0.25),
    ]


def test_values_that_are_numbers_but_not_floats(store: str) -> None:
    np = pytest.importorskip("numpy")
    with tane.start_run(store=store, capture=False) as run:
        tane.log_metric("int", 3)
        tane.log_metric("np", np.float32(0.5))
        tane.log_metric("arr", np.array(2.0))
        tane.log_metric("nan", math.nan)
        tane.log_metric("inf", -math.inf)
        tane.log_metric("step", 1.0, step=np.int64(7))
    metrics = tane.Client(store).get_run(run.id).metrics
    assert metrics["int"] == 3.0 and metrics["np"] == 0.5 and metrics["arr"] == 2.0
    assert math.isnan(metrics["nan"]) and metrics["inf"] == -math.inf
    assert tane.Client(store).get_metric_history(run.id, "step")[0].step == 7


@pytest.mark.parametrize("value", ["0.9", None, b"1", [1.0], {"a": 1}])
def test_non_numeric_metric_is_refused_at_the_call(store: str, value: object) -> None:
    with tane.start_run(store=store, capture=False) as run:
        with pytest.raises(InvalidInput, match="metric 'acc'"):
            tane.log_metric("acc", value)  # type: ignore[arg-type]
    assert tane.Client(store).get_run(run.id).metrics == {}


@pytest.mark.parametrize("key", ["", "../x", "a/../../b", "/abs", "a\nb", "x" * 251, "a;b"])
def test_bad_keys_are_refused(store: str, key: str) -> None:
    with tane.start_run(store=store, capture=False):
        with pytest.raises(InvalidInput):
            tane.log_metric(key, 1.0)
        with pytest.raises(InvalidInput):
            tane.log_param(key, 1)
        with pytest.raises(InvalidInput):
            tane.set_tag(key, "v")


def test_unicode_keys_and_values(store: str) -> None:
    with tane.start_run(store=store, capture=False, name="実験") as run:
        tane.log_param("学習率", "０.１")
        tane.log_metric("損失/train", 0.5)
        tane.set_tag("émoji", "🌱")
    got = tane.Client(store).get_run(run.id)
    assert got.name == "実験"
    assert got.params == {"学習率": "０.１"}
    assert got.metrics == {"損失/train": 0.5}
    assert got.tags["émoji"] == "🌱"


def test_param_changed_value_is_an_error(store: str) -> None:
    with tane.start_run(store=store, capture=False) as run:
        tane.log_param("lr", 0.1)
        tane.log_param("lr", 0.1)
        with pytest.raises(ParamConflict, match="'lr'.*'0.1'.*'0.2'"):
            tane.log_param("lr", 0.2)
    assert tane.Client(store).get_run(run.id).params == {"lr": "0.1"}


def test_lists_and_dicts_flatten_to_json(store: str) -> None:
    with tane.start_run(store=store, capture=False) as run:
        tane.log_params({"layers": [64, 32], "opt": {"name": "adam", "beta": 0.9}, "none": None})
    params = tane.Client(store).get_run(run.id).params
    assert json.loads(params["layers"]) == [64, 32]
    assert json.loads(params["opt"]) == {"name": "adam", "beta": 0.9}
    assert params["none"] == "None"


def test_no_active_run(store: str) -> None:
    assert tane.active_run() is None
    with pytest.raises(NoActiveRun, match="start_run"):
        tane.log_metric("x", 1.0)
    tane.end_run()  # no-op without a run


def test_nested_runs_and_active_run(store: str) -> None:
    with tane.start_run(store=store, capture=False, name="parent") as parent:
        assert tane.active_run() is parent
        with tane.start_run(name="child") as child:
            assert tane.active_run() is child
            tane.log_metric("m", 1.0)
        assert tane.active_run() is parent
    client = tane.Client(store)
    got = client.get_run(child.id)
    assert got.parent_id == parent.id
    assert got.tags["tane.parent_context"] == parent.id
    assert got.metrics == {"m": 1.0}
    assert client.get_run(parent.id).metrics == {}


def test_ending_a_parent_ends_its_children(store: str) -> None:
    parent = tane.start_run(store=store, capture=False)
    child = tane.start_run()
    parent.end(RunStatus.KILLED)
    client = tane.Client(store)
    assert client.get_run(child.id).status is RunStatus.KILLED
    assert client.get_run(parent.id).status is RunStatus.KILLED
    assert tane.active_run() is None


def test_exception_marks_failed_with_traceback(store: str) -> None:
    with pytest.raises(ZeroDivisionError), tane.start_run(store=store, capture=False) as run:
        tane.log_metric("before", 1.0)
        _ = 1 / 0
    got = tane.Client(store).get_run(run.id)
    assert got.status is RunStatus.FAILED
    assert got.metrics == {"before": 1.0}
    assert got.tags["tane.error"] == "ZeroDivisionError: division by zero"
    assert "Traceback" in got.tags["tane.traceback"]


def test_keyboard_interrupt_marks_killed(store: str) -> None:
    with pytest.raises(KeyboardInterrupt), tane.start_run(store=store, capture=False) as run:
        raise KeyboardInterrupt
    assert tane.Client(store).get_run(run.id).status is RunStatus.KILLED


def test_end_run_with_status(store: str) -> None:
    run = tane.start_run(store=store, capture=False)
    tane.end_run("pruned")
    assert tane.Client(store).get_run(run.id).status is RunStatus.PRUNED
    with pytest.raises(ValueError, match="unknown run status"):
        tane.start_run(store=store, capture=False).end("DONE")


def test_resume_a_run(store: str) -> None:
    with tane.start_run(store=store, capture=False) as first:
        tane.log_param("a", 1)
    with tane.start_run(run_id=first.id, store=store) as again:
        tane.log_metric("b", 2.0)
    got = tane.Client(store).get_run(again.id)
    assert got.id == first.id and got.params == {"a": "1"} and got.metrics == {"b": 2.0}
    assert got.status is RunStatus.FINISHED


def test_text_dict_note_and_figures(store: str) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plotly = pytest.importorskip("plotly.graph_objects")
    with tane.start_run(store=store, capture=False) as run:
        tane.log_text("hello", "notes/hello.txt")
        tane.log_dict({"a": 1, "b": [1, 2]}, "cfg.json")
        tane.log_dict({"a": 1, "b": [1, 2]}, "cfg.yaml")
        tane.set_note("## Findings\nlr 0.05 is best")
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3])
        assert tane.log_figure(fig, "curve.png") == "curve.png"
        plt.close(fig)
        pfig = plotly.Figure(data=[plotly.Scatter(y=[1, 3, 2])])
        assert tane.log_figure(pfig, "interactive.png") == "interactive.html"
        with pytest.raises(InvalidInput, match="neither"):
            tane.log_figure(object(), "x.png")
    client = tane.Client(store)
    assert client.read_artifact(run.id, "notes/hello.txt") == b"hello"
    assert json.loads(client.read_artifact(run.id, "cfg.json")) == {"a": 1, "b": [1, 2]}
    assert client.read_artifact(run.id, "cfg.yaml").decode() == "a: 1\nb:\n- 1\n- 2\n"
    assert client.read_artifact(run.id, "curve.png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"plotly" in client.read_artifact(run.id, "interactive.html")
    assert client.get_run(run.id).note == "## Findings\nlr 0.05 is best"


def test_log_artifacts_of_a_folder(store: str, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    (folder / "b.txt").write_text("b")
    with tane.start_run(store=store, capture=False) as run:
        tane.log_artifacts(folder, "outputs")
        with pytest.raises(InvalidInput):
            tane.log_artifact(folder, "../up")
    paths = [a.path for a in tane.Client(store).list_artifacts(run.id, "outputs")]
    assert paths == ["outputs/a.txt", "outputs/b.txt"]


def test_default_store_and_experiment_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANE_STORE", str(tmp_path / "env-store"))
    monkeypatch.setenv("TANE_EXPERIMENT", "from-env")
    with tane.start_run(capture=False) as run:
        pass
    assert run.experiment == "from-env"
    assert (tmp_path / "env-store" / "tane.db").exists()


def test_project_file_sets_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TANE_STORE")
    (tmp_path / "tane.yaml").write_text("name: proj\nstore: runs-here\nexperiment: exp1\n")
    nested = tmp_path / "src" / "deep"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    with tane.start_run(capture=False) as run:
        pass
    assert run.experiment == "exp1"
    assert (tmp_path / "runs-here" / "tane.db").exists()


def test_default_store_is_dot_tane_in_project_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TANE_STORE")
    (tmp_path / "tane.yaml").write_text("name: proj\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    with tane.start_run(capture=False):
        pass
    assert (tmp_path / ".tane" / "tane.db").exists()
    assert (tmp_path / ".tane" / "artifacts").is_dir()


def test_child_joins_its_parents_experiment(store: str) -> None:
    with tane.start_run(experiment="sweep", store=store, capture=False) as parent:
        with tane.start_run() as child:
            pass
        with tane.start_run(experiment="elsewhere") as other:
            pass
    assert child.experiment == "sweep"
    assert other.experiment == "elsewhere"
    assert other.parent_id == parent.id


def test_a_run_that_fails_to_start_is_not_left_active(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tane.tracking import logcapture

    def broken(self: object) -> None:
        raise RuntimeError("no console here")

    monkeypatch.setattr(logcapture.LogCapture, "start", broken)
    with pytest.raises(RuntimeError, match="no console"):
        tane.start_run(store=store, capture=["logs"])
    assert tane.active_run() is None
    (run,) = tane.Client(store).search_runs()
    assert run.status is RunStatus.FAILED
    assert "no console here" in run.tags["tane.error"]


def test_short_run_still_gets_its_package_list(store: str) -> None:
    run = tane.start_run(store=store, capture=["packages"])
    run.end()
    paths = [a.path for a in tane.Client(store).list_artifacts(run.id)]
    assert "requirements.txt" in paths


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"step": 2**63}, "64 bits"),
        ({"step": -(2**63) - 1}, "64 bits"),
        ({"step": 1.5}, "not an integer"),
        ({"step": True}, "not an integer"),
        ({"timestamp": "yesterday"}, "not an integer"),
        ({"timestamp": 2**64}, "64 bits"),
    ],
)
def test_out_of_range_step_or_timestamp_is_refused(
    store: str, kwargs: dict[str, object], message: str
) -> None:
    with tane.start_run(store=store, capture=False) as run:
        with pytest.raises(InvalidInput, match=message):
            tane.log_metric("x", 1.0, **kwargs)  # type: ignore[arg-type]
        tane.log_metric("x", 2.0)
    assert tane.Client(store).get_run(run.id).metrics == {"x": 2.0}


def test_huge_number_is_refused(store: str) -> None:
    with tane.start_run(store=store, capture=False):
        with pytest.raises(InvalidInput, match="metric 'x'"):
            tane.log_metric("x", 10**400)


def test_nul_in_params_and_tags_and_long_names(store: str) -> None:
    with tane.start_run(store=store, capture=False):
        with pytest.raises(InvalidInput, match="NUL"):
            tane.log_param("p", "a\x00b")
        with pytest.raises(InvalidInput, match="NUL"):
            tane.set_tag("t", "a\x00b")
    with pytest.raises(InvalidInput, match="at most 250"):
        tane.start_run(store=store, capture=False, name="n" * 300)
    assert tane.active_run() is None


def test_logging_to_an_ended_run_is_an_error(store: str) -> None:
    with tane.start_run(store=store, capture=False) as run:
        tane.log_metric("x", 1.0)
    with pytest.raises(InvalidInput, match="has ended"):
        run.log_metric("x", 2.0)
    assert len(tane.Client(store).get_metric_history(run.id, "x")) == 1


def test_threads_with_their_own_runs_stay_apart(store: str) -> None:
    import threading

    ids: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def work(name: str) -> None:
        with tane.start_run(store=store, capture=False, name=name) as run:
            ids[name] = run.id
            barrier.wait()
            for step in range(200):
                tane.log_metric("x", float(step))
            barrier.wait()

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    client = tane.Client(store)
    for name in ("a", "b"):
        run = client.get_run(ids[name])
        assert run.parent_id is None
        assert run.status is RunStatus.FINISHED
        assert len(client.get_metric_history(run.id, "x")) == 200


def test_worker_threads_log_to_the_main_threads_run(store: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with tane.start_run(store=store, capture=False) as run:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: tane.log_metric(f"w{i % 4}", float(i), step=i), range(40)))
    metrics = tane.Client(store).get_run(run.id).metrics
    assert sorted(metrics) == ["w0", "w1", "w2", "w3"]


def test_resumed_run_continues_its_steps_and_claims_the_run(store: str) -> None:
    with tane.start_run(store=store, capture=False) as first:
        for value in (0.9, 0.8, 0.7):
            tane.log_metric("loss", value)
    client = tane.Client(store)
    # Its first owner is gone; resuming makes this process the owner.
    with tane.start_run(run_id=first.id, store=store) as again:
        client.store.reap_interval = 0  # type: ignore[attr-defined]
        assert client.get_run(again.id).status is RunStatus.RUNNING
        tane.log_metric("loss", 0.5)
    history = client.get_metric_history(first.id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (1, 0.8), (2, 0.7), (3, 0.5)]
    assert client.get_run(first.id).metrics["loss"] == 0.5


def test_artifact_named_by_a_dotdot_path(store: str, tmp_path: Path) -> None:
    folder = tmp_path / "some" / "dir"
    folder.mkdir(parents=True)
    (tmp_path / "some" / "secret.txt").write_text("s")
    with tane.start_run(store=store, capture=False) as run:
        assert tane.log_artifact(f"{folder}/..") == "some"
    client = tane.Client(store)
    assert [a.path for a in client.list_artifacts(run.id)] == ["some"]
    assert client.read_artifact(run.id, "some/secret.txt") == b"s"


def test_empty_search_as_pandas_has_the_columns(store: str) -> None:
    frame = tane.Client(store).search_runs("metrics.x > 1", as_pandas=True)
    assert len(frame) == 0
    assert list(frame.columns)[:3] == ["run_id", "run_name", "experiment_id"]
    assert str(frame["start_time"].dtype) == "datetime64[ns, UTC]" or "UTC" in str(
        frame["start_time"].dtype
    )
