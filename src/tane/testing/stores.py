"""The store conformance suite: the contract of :class:`tane.tracking.stores.base.Store`.

Subclass :class:`StoreConformance` and give it a ``store`` fixture that returns
a fresh, empty store; pytest then runs every test below against it.
"""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tane.errors import (
    ExperimentNotFound,
    InvalidFilter,
    InvalidInput,
    NotFound,
    ParamConflict,
    RunNotFound,
)
from tane.tracking.entities import DEFAULT_EXPERIMENT_ID, RunStatus
from tane.tracking.stores.base import MetricPoint, Store, owner_host


def _points(key: str, values: list[float], start_step: int = 0) -> list[MetricPoint]:
    return [MetricPoint(key, v, start_step + i, 1000 + i) for i, v in enumerate(values)]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


class StoreConformance:
    """Every store passes these tests."""

    # -- experiments -----------------------------------------------------------

    def test_default_experiment_exists(self, store: Store) -> None:
        exp = store.get_experiment(DEFAULT_EXPERIMENT_ID)
        assert exp.name == "Default"
        assert store.get_experiment("Default").id == "0"

    def test_create_and_get_experiment(self, store: Store) -> None:
        exp = store.create_experiment("iris", {"team": "ml"})
        assert exp.name == "iris"
        assert exp.tags == {"team": "ml"}
        assert store.get_experiment(exp.id) == exp
        assert store.get_experiment("iris").id == exp.id
        assert exp.id != "0"

    def test_duplicate_experiment_is_refused(self, store: Store) -> None:
        store.create_experiment("dup")
        with pytest.raises(InvalidInput, match="already exists"):
            store.create_experiment("dup")

    def test_unknown_experiment(self, store: Store) -> None:
        with pytest.raises(ExperimentNotFound, match="nope"):
            store.get_experiment("nope")

    def test_get_or_create_is_idempotent(self, store: Store) -> None:
        first = store.get_or_create_experiment("x")
        assert store.get_or_create_experiment("x").id == first.id

    def test_experiment_names_that_look_like_ids(self, store: Store) -> None:
        exp = store.create_experiment("2024")
        assert store.get_experiment("2024").id == exp.id

    def test_list_experiments_counts_runs(self, store: Store) -> None:
        exp = store.create_experiment("counted")
        for i in range(3):
            store.create_run(exp.id, f"r{i}")
        listed = {e.name: e for e in store.list_experiments()}
        assert listed["counted"].run_count == 3
        assert listed["Default"].run_count == 0
        assert listed["counted"].last_activity >= listed["counted"].created

    # -- runs ------------------------------------------------------------------

    def test_create_run(self, store: Store) -> None:
        exp = store.create_experiment("e")
        run = store.create_run(exp.id, "first", tags={"a": "1"}, start_time=12345)
        assert len(run.id) == 32
        assert run.name == "first"
        assert run.experiment_id == exp.id
        assert run.experiment == "e"
        assert run.status is RunStatus.RUNNING
        assert run.start_time == 12345
        assert run.end_time is None
        assert run.tags == {"a": "1"}
        assert run.params == {} and run.metrics == {}
        assert store.get_run(run.id).id == run.id

    def test_nested_runs(self, store: Store) -> None:
        parent = store.create_run("0", "parent")
        child = store.create_run("0", "child", parent_id=parent.id)
        assert store.get_run(child.id).parent_id == parent.id
        with pytest.raises(RunNotFound):
            store.create_run("0", "orphan", parent_id="f" * 32)

    def test_unknown_run(self, store: Store) -> None:
        with pytest.raises(RunNotFound):
            store.get_run("0" * 32)
        with pytest.raises(RunNotFound):
            store.log_batch("0" * 32, params={"a": "1"})
        with pytest.raises(RunNotFound):
            store.update_run("0" * 32, status=RunStatus.FINISHED)

    def test_update_run(self, store: Store) -> None:
        run = store.create_run("0", "r")
        store.update_run(
            run.id,
            status=RunStatus.FAILED,
            end_time=run.start_time + 5000,
            name="renamed",
            note="# Notes\nIt *failed*.",
        )
        got = store.get_run(run.id)
        assert got.status is RunStatus.FAILED
        assert got.end_time == run.start_time + 5000
        assert got.duration == 5.0
        assert got.name == "renamed"
        assert got.note == "# Notes\nIt *failed*."

    def test_every_status_round_trips(self, store: Store) -> None:
        for status in RunStatus:
            run = store.create_run("0", status.value)
            store.update_run(run.id, status=status, end_time=run.start_time + 1)
            assert store.get_run(run.id).status is status

    # -- params, tags, metrics ----------------------------------------------------

    def test_log_batch(self, store: Store) -> None:
        run = store.create_run("0", "r")
        store.log_batch(
            run.id,
            _points("loss", [3.0, 2.0, 1.0]),
            {"lr": "0.05", "model": "lgbm"},
            {"stage": "dev"},
        )
        got = store.get_run(run.id)
        assert got.params == {"lr": "0.05", "model": "lgbm"}
        assert got.tags == {"stage": "dev"}
        assert got.metrics == {"loss": 1.0}

    def test_param_logged_twice(self, store: Store) -> None:
        run = store.create_run("0", "r")
        store.log_batch(run.id, params={"lr": "0.1"})
        store.log_batch(run.id, params={"lr": "0.1"})  # the same value is fine
        with pytest.raises(ParamConflict, match="lr"):
            store.log_batch(
                run.id, _points("m", [1.0]), params={"lr": "0.2", "new": "x"}, tags={"t": "v"}
            )
        got = store.get_run(run.id)
        # Nothing of the refused batch was stored.
        assert got.params == {"lr": "0.1"}
        assert got.tags == {} and got.metrics == {}

    def test_tags_overwrite_and_delete(self, store: Store) -> None:
        run = store.create_run("0", "r", tags={"a": "1"})
        store.log_batch(run.id, tags={"a": "2", "b": "3"})
        assert store.get_run(run.id).tags == {"a": "2", "b": "3"}
        store.delete_tag(run.id, "a")
        assert store.get_run(run.id).tags == {"b": "3"}

    def test_latest_metric_is_highest_step(self, store: Store) -> None:
        run = store.create_run("0", "r")
        store.log_batch(run.id, [MetricPoint("acc", 0.9, 10, 100), MetricPoint("acc", 0.5, 3, 200)])
        assert store.get_run(run.id).metrics["acc"] == 0.9
        # A later batch at a lower step does not change it...
        store.log_batch(run.id, [MetricPoint("acc", 0.1, 5, 300)])
        assert store.get_run(run.id).metrics["acc"] == 0.9
        # ...the same step with a later timestamp does.
        store.log_batch(run.id, [MetricPoint("acc", 0.95, 10, 400)])
        assert store.get_run(run.id).metrics["acc"] == 0.95
        store.log_batch(run.id, [MetricPoint("acc", 0.2, 10, 50)])
        assert store.get_run(run.id).metrics["acc"] == 0.95

    def test_nan_and_inf_are_stored_faithfully(self, store: Store) -> None:
        run = store.create_run("0", "r")
        store.log_batch(
            run.id,
            [
                MetricPoint("a", math.nan, 0, 1),
                MetricPoint("b", math.inf, 0, 1),
                MetricPoint("c", -math.inf, 0, 1),
                MetricPoint("d", -0.0, 0, 1),
                MetricPoint("e", 1e308, 0, 1),
            ],
        )
        metrics = store.get_run(run.id).metrics
        assert math.isnan(metrics["a"])
        assert metrics["b"] == math.inf
        assert metrics["c"] == -math.inf
        assert metrics["e"] == 1e308
        history = store.get_metric_history(run.id, "a")
        assert len(history) == 1 and math.isnan(history[0].value)
        assert store.get_metric_history(run.id, "c")[0].value == -math.inf

    def test_metric_history(self, store: Store) -> None:
        run = store.create_run("0", "r")
        store.log_batch(run.id, _points("loss", [5.0, 4.0, 3.0, 2.0, 1.0]))
        history = store.get_metric_history(run.id, "loss")
        assert [m.step for m in history] == [0, 1, 2, 3, 4]
        assert [m.value for m in history] == [5.0, 4.0, 3.0, 2.0, 1.0]
        window = store.get_metric_history(run.id, "loss", min_step=1, max_step=3)
        assert [m.step for m in window] == [1, 2, 3]
        assert store.get_metric_history(run.id, "missing") == []

    def test_downsampled_history_keeps_extremes(self, store: Store) -> None:
        run = store.create_run("0", "r")
        values = [math.sin(i / 50) for i in range(5000)]
        values[1234] = 100.0
        values[4321] = -100.0
        store.log_batch(run.id, _points("wave", values))
        history = store.get_metric_history(run.id, "wave", max_points=300)
        assert 100 <= len(history) <= 300
        steps = [m.step for m in history]
        assert steps == sorted(steps)
        got = {m.step: m.value for m in history}
        assert got[1234] == 100.0
        assert got[4321] == -100.0
        assert steps[0] == 0
        full = store.get_metric_history(run.id, "wave", max_points=10_000)
        assert len(full) == 5000

    # -- search ----------------------------------------------------------------

    def _seed(self, store: Store) -> dict[str, str]:
        exp_a = store.create_experiment("a")
        exp_b = store.create_experiment("b")
        ids = {}
        rows = [
            ("r1", exp_a.id, {"model": "lgbm", "lr": "0.1"}, {"acc": 0.95}),
            ("r2", exp_a.id, {"model": "lgbm", "lr": "0.01"}, {"acc": 0.85}),
            ("r3", exp_a.id, {"model": "xgb", "lr": "1e-3"}, {"acc": 0.97}),
            ("r4", exp_b.id, {"model": "lgbm", "lr": "0.5"}, {"acc": 0.99}),
            ("r5", exp_b.id, {"model": "rf"}, {}),
        ]
        for i, (name, exp_id, params, metrics) in enumerate(rows):
            run = store.create_run(exp_id, name, start_time=1000 + i)
            store.log_batch(run.id, [MetricPoint(k, v, 0, 1) for k, v in metrics.items()], params)
            ids[name] = run.id
        return ids

    def _names(self, store: Store, filter_string: str = "", **kwargs: object) -> list[str]:
        page = store.search_runs(None, filter_string, **kwargs)  # type: ignore[arg-type]
        return [r.name for r in page.runs]

    def test_keys_of_active_runs(self, store: Store) -> None:
        a = store.create_experiment("keys-a")
        b = store.create_experiment("keys-b")
        one = store.create_run(a.id, "one")
        store.log_batch(one.id, _points("loss", [1.0]), {"lr": "0.1", "depth": "3"}, {"team": "x"})
        two = store.create_run(b.id, "two")
        store.log_batch(two.id, _points("acc", [0.5]), {"model": "lgbm"}, {})
        gone = store.create_run(a.id, "gone")
        store.log_batch(gone.id, _points("secret", [1.0]), {"hidden": "1"}, {})
        store.delete_runs([gone.id])
        keys = store.get_keys([a.id])
        assert keys["params"] == ["depth", "lr"]
        assert keys["metrics"] == ["loss"]
        assert "team" in keys["tags"] and "hidden" not in keys["params"]
        both = store.get_keys(None)
        assert {"depth", "lr", "model"} <= set(both["params"])
        assert {"acc", "loss"} <= set(both["metrics"]) and "secret" not in both["metrics"]
        assert store.get_keys(["keys-b"])["params"] == ["model"]  # a name works too
        assert store.get_keys([store.create_experiment("keys-empty").id]) == {
            "params": [],
            "metrics": [],
            "tags": [],
        }

    def test_rename_delete_restore_and_tag_an_experiment(self, store: Store) -> None:
        exp = store.create_experiment("draft", {"team": "a"})
        run = store.create_run(exp.id, "r")
        renamed = store.update_experiment(exp.id, name="final", tags={"stage": "prod"})
        assert (renamed.id, renamed.name) == (exp.id, "final")
        assert renamed.tags == {"team": "a", "stage": "prod"}
        assert store.get_experiment("final").id == exp.id
        assert store.get_run(run.id).experiment_id == exp.id
        with pytest.raises(ExperimentNotFound):
            store.get_experiment("draft")
        again = store.update_experiment("final", tags={"team": "b"})
        assert again.tags == {"team": "b", "stage": "prod"}
        gone = store.update_experiment("final", deleted=True)
        assert gone.deleted
        assert "final" not in {e.name for e in store.list_experiments()}
        assert "final" in {e.name for e in store.list_experiments(include_deleted=True)}
        assert not store.update_experiment(exp.id, deleted=False).deleted
        store.create_experiment("taken")
        with pytest.raises(InvalidInput, match="already exists"):
            store.update_experiment(exp.id, name="taken")
        with pytest.raises(InvalidInput, match="default experiment"):
            store.update_experiment("0", name="mine")
        with pytest.raises(ExperimentNotFound):
            store.update_experiment("nope", name="x")

    # -- the model registry ---------------------------------------------------

    def test_register_versions_and_aliases(self, store: Store) -> None:
        run = store.create_run("0", "trainer")
        first = store.register_model("iris", f"runs:/{run.id}/model", run.id, "baseline")
        assert (first.name, first.version, first.run_id) == ("iris", 1, run.id)
        assert first.uri == "models:/iris/1" and first.description == "baseline"
        second = store.register_model("iris", "s3://bucket/model")
        assert second.version == 2 and second.run_id is None
        store.set_model_alias("iris", "champion", 1)
        assert store.get_model_version("iris", alias="champion").version == 1
        assert store.get_model_version("iris").version == 2  # the latest
        assert store.get_model_version("iris", 1).aliases == ("champion",)
        store.set_model_alias("iris", "champion", 2)  # moved
        assert store.get_model_version("iris", alias="champion").source == "s3://bucket/model"
        assert [v.version for v in store.list_model_versions("iris")] == [2, 1]
        store.register_model("digits", f"runs:/{run.id}/other")
        listed = {m.name: m for m in store.list_registered_models()}
        assert listed["iris"].latest_version == 2
        assert listed["iris"].aliases == {"champion": 2}
        assert listed["digits"].aliases == {}
        store.set_model_alias("iris", "champion", None)
        assert store.get_model_version("iris", 2).aliases == ()
        with pytest.raises(NotFound, match="no alias 'champion'"):
            store.get_model_version("iris", alias="champion")
        with pytest.raises(NotFound, match="tane models ls"):
            store.get_model_version("nope")
        with pytest.raises(NotFound):
            store.get_model_version("iris", 9)
        with pytest.raises(NotFound):
            store.set_model_alias("iris", "best", 9)
        with pytest.raises(InvalidInput, match="'@'"):
            store.register_model("a@b", "x")
        with pytest.raises(RunNotFound):
            store.register_model("iris", "runs:/x/model", "f" * 32)

    def test_search_across_experiments(self, store: Store) -> None:
        self._seed(store)
        names = self._names(
            store, "metrics.acc > 0.9 and params.model = 'lgbm'", order_by=["metrics.acc DESC"]
        )
        assert names == ["r4", "r1"]
        in_a = store.search_runs(["a"], "params.model = 'lgbm'", ["metrics.acc DESC"])
        assert [r.name for r in in_a.runs] == ["r1", "r2"]

    def test_search_or_and_parentheses(self, store: Store) -> None:
        self._seed(store)
        names = self._names(
            store,
            "(params.model = 'xgb' OR params.model = 'rf') OR metrics.acc < 0.9",
            order_by=["attributes.run_name"],
        )
        assert names == ["r2", "r3", "r5"]

    def test_search_params_compare_numerically(self, store: Store) -> None:
        self._seed(store)
        # '0.5' > '0.1' > '0.01' > '1e-3' as numbers; as text '1e-3' would sort last.
        assert sorted(self._names(store, "params.lr > 0.005")) == ["r1", "r2", "r4"]
        assert self._names(store, "params.lr < 0.005") == ["r3"]

    def test_search_order_puts_missing_last(self, store: Store) -> None:
        self._seed(store)
        assert self._names(store, order_by=["metrics.acc ASC"]) == ["r2", "r1", "r3", "r4", "r5"]
        assert self._names(store, order_by=["metrics.acc DESC"]) == ["r4", "r3", "r1", "r2", "r5"]

    def test_filter_and_order_on_one_metric(self, store: Store) -> None:
        # The shape every leaderboard query has; stores may plan it specially.
        values = [0.3, 0.9, math.nan, 0.7, 0.5, math.inf]
        for i, value in enumerate(values):
            run = store.create_run("0", f"v{i}", start_time=1000 + i)
            store.log_batch(run.id, [MetricPoint("acc", value, 0, 1)], {"k": str(i % 2)})
        store.create_run("0", "no-acc", start_time=2000)
        assert self._names(store, "metrics.acc > 0.4", order_by=["metrics.acc DESC"]) == [
            "v5",
            "v1",
            "v3",
            "v4",
        ]
        assert self._names(store, "metrics.acc > 0.4", order_by=["metrics.acc ASC"]) == [
            "v4",
            "v3",
            "v1",
            "v5",
        ]
        # NaN matches != and sorts last; a run without the metric never matches.
        assert self._names(
            store, "metrics.acc != 0.5 and params.k = '0'", order_by=["metrics.acc DESC"]
        ) == ["v0", "v2"]
        page = store.search_runs(None, "metrics.acc >= 0.3", ["metrics.acc DESC"], 2)
        assert [r.name for r in page.runs] == ["v5", "v1"]
        rest = store.search_runs(
            None, "metrics.acc >= 0.3", ["metrics.acc DESC"], 10, page.next_page_token
        )
        assert [r.name for r in rest.runs] == ["v3", "v4", "v0"]
        assert self._names(
            store,
            "metrics.acc > 0.4 or attributes.run_name = 'no-acc'",
            order_by=["metrics.acc DESC"],
        ) == ["v5", "v1", "v3", "v4", "no-acc"]

    def test_default_order_is_newest_first(self, store: Store) -> None:
        self._seed(store)
        assert self._names(store) == ["r5", "r4", "r3", "r2", "r1"]

    def test_search_pages(self, store: Store) -> None:
        self._seed(store)
        seen: list[str] = []
        token = None
        for _ in range(10):
            page = store.search_runs(None, "", ["attributes.run_name"], 2, token)
            seen += [r.name for r in page.runs]
            token = page.next_page_token
            if token is None:
                break
        assert seen == ["r1", "r2", "r3", "r4", "r5"]
        with pytest.raises(InvalidInput, match="page token"):
            store.search_runs(None, "", [], 2, "garbage!")

    def test_search_bad_filter_points_at_position(self, store: Store) -> None:
        with pytest.raises(InvalidFilter) as info:
            store.search_runs(None, "metrics.acc >> 0.9")
        assert info.value.position is not None

    def test_search_attributes(self, store: Store) -> None:
        ids = self._seed(store)
        store.update_run(ids["r2"], status=RunStatus.FAILED, end_time=2000)
        assert self._names(store, "attributes.status = 'FAILED'") == ["r2"]
        assert self._names(store, f"attributes.run_id = '{ids['r3']}'") == ["r3"]
        assert self._names(
            store,
            "attributes.run_name LIKE 'r%' AND attributes.start_time < 1002",
            order_by=["name"],
        ) == ["r1", "r2"]

    def test_search_is_injection_safe(self, store: Store) -> None:
        self._seed(store)
        assert self._names(store, "params.model = 'x'' OR 1=1 --'") == []
        assert len(self._names(store)) == 5  # tables still there

    # -- deleting ---------------------------------------------------------------

    def test_delete_restore_and_purge(self, store: Store, tmp_path: Path) -> None:
        parent = store.create_run("0", "parent")
        child = store.create_run("0", "child", parent_id=parent.id)
        keep = store.create_run("0", "keep")
        artifact = tmp_path / "model.bin"
        artifact.write_bytes(b"x" * 4096)
        store.log_artifact(parent.id, str(artifact))
        store.log_batch(parent.id, _points("m", [1.0, 2.0]), {"p": "1"}, {"t": "1"})

        store.delete_runs([parent.id])
        assert self._names(store) == ["keep"]
        assert sorted(self._names(store, view="deleted")) == ["child", "parent"]
        assert store.get_run(child.id).deleted
        with pytest.raises(RunNotFound, match="deleted"):
            store.log_batch(parent.id, params={"q": "2"})

        store.restore_runs([parent.id])
        assert sorted(self._names(store)) == ["child", "keep", "parent"]

        with pytest.raises(InvalidInput, match="not deleted"):
            store.purge_runs([keep.id])
        store.delete_runs([parent.id])
        report = store.purge_runs()
        assert sorted(report.run_ids) == sorted([parent.id, child.id])
        assert report.bytes_freed >= 4096
        with pytest.raises(RunNotFound):
            store.get_run(parent.id)
        assert self._names(store, view="all") == ["keep"]
        assert store.get_metric_history(keep.id, "m") == []

    # -- artifacts ---------------------------------------------------------------

    def test_artifacts(self, store: Store, tmp_path: Path) -> None:
        run = store.create_run("0", "r")
        model = tmp_path / "model.pkl"
        model.write_bytes(b"weights")
        folder = tmp_path / "plots"
        (folder / "sub").mkdir(parents=True)
        (folder / "a.txt").write_text("a")
        (folder / "sub" / "b.txt").write_text("bb")
        assert store.log_artifact(run.id, str(model)) == "model.pkl"
        assert store.log_artifact(run.id, str(folder), "figs") == "figs/plots"
        store.log_artifact_bytes(run.id, "logs/out.log", b"one\n")
        store.log_artifact_bytes(run.id, "logs/out.log", b"two\n", append=True)
        top = store.list_artifacts(run.id)
        assert [(a.path, a.is_dir) for a in top] == [
            ("figs", True),
            ("logs", True),
            ("model.pkl", False),
        ]
        assert top[2].size == 7
        assert [a.path for a in store.list_artifacts(run.id, "figs/plots")] == [
            "figs/plots/sub",
            "figs/plots/a.txt",
        ]
        with store.open_artifact(run.id, "logs/out.log") as fh:
            assert fh.read() == b"one\ntwo\n"
        dst = tmp_path / "dl"
        local = store.download_artifacts(run.id, "figs", str(dst))
        assert (Path(local) / "plots" / "sub" / "b.txt").read_text() == "bb"
        with pytest.raises(NotFound):
            store.open_artifact(run.id, "nope.txt")

    @pytest.mark.parametrize(
        "bad", ["../escape.txt", "a/../../b", "/etc/passwd", "a\\..\\b", "x\x00y"]
    )
    def test_artifact_paths_cannot_escape(self, store: Store, tmp_path: Path, bad: str) -> None:
        run = store.create_run("0", "r")
        with pytest.raises(InvalidInput):
            store.log_artifact_bytes(run.id, bad, b"x")
        with pytest.raises(InvalidInput):
            store.list_artifacts(run.id, bad)

    # -- liveness ----------------------------------------------------------------

    def test_dead_process_shows_crashed(self, store: Store) -> None:
        run = store.create_run("0", "r", host=owner_host(), pid=_dead_pid())
        assert store.get_run(run.id).status is RunStatus.CRASHED
        # The owner turns out to be alive (it was suspended): a heartbeat revives it.
        store.heartbeat([run.id], int(time.time() * 1000))
        assert store.get_run(run.id).status is RunStatus.RUNNING

    # -- concurrency ---------------------------------------------------------------

    def test_threads_log_concurrently(self, store: Store) -> None:
        run = store.create_run("0", "r")
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            try:
                for batch in range(20):
                    store.log_batch(
                        run.id,
                        [MetricPoint(f"w{worker}", float(i), batch * 50 + i, 1) for i in range(50)],
                    )
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        for w in range(6):
            assert len(store.get_metric_history(run.id, f"w{w}")) == 1000

    def test_writers_of_one_run_in_opposite_key_order(self, store: Store) -> None:
        run = store.create_run("0", "r")
        keys = [f"k{i:02d}" for i in range(20)]
        errors: list[BaseException] = []

        def work(order: list[str], offset: int) -> None:
            try:
                for batch in range(15):
                    store.log_batch(
                        run.id,
                        [MetricPoint(k, 1.0, offset + batch, 1) for k in order],
                        params={"shared": "same"},
                    )
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=work, args=(keys, 0)),
            threading.Thread(target=work, args=(keys[::-1], 100)),
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        assert all(len(store.get_metric_history(run.id, k)) == 30 for k in keys)
        assert store.get_run(run.id).params == {"shared": "same"}
