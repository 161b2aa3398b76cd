"""The UI's routes (pipeline DAG, dataset lineage, sweeps and trials) over real records.

A small project's pipeline runs three times (all ran, all cached, new input), then two
`tane sweep`s over it (a grid, and TPE with a constraint) and a define-by-run
`tane.sweep()` with a pruned and a failed trial record into one SQLite store, once for
the module; the routes are asked through the in-process client.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI

import tane
from tane.cli import main
from tane.server import create_app, views
from tane.sweep.run import SweepOutcome
from tane.tracking.entities import RunStatus
from tane.tracking.stores import open_store
from tane.tracking.stores.base import Store

# The in-process client of conftest.py (tests/ is not a package, so not importable).
Api = Any
PKG = "views_demo"

NODES = """
import tane


def scale(raw, factor):
    return [x * factor for x in raw]


def summarize(scaled, params):
    if params["offset"] == 3:
        raise ValueError("offset 3 is not allowed")
    total = sum(scaled) + params["offset"]
    tane.log_metric("total", total)
    if params["offset"] != 1:  # a constraint: feasible when total <= 16
        tane.log_metric("excess", total - 16)
    return {"total": total}
"""

PIPELINE = f"""
from tane.pipeline import Pipeline, node

from {PKG}.pipelines.main.nodes import scale, summarize


def create_pipeline(**kwargs):
    return Pipeline(
        [
            node(scale, ["raw", "params:prep.factor"], "scaled", name="scale", tags="prep"),
            node(summarize, ["scaled", "params:report"], "summary", name="summarize"),
        ]
    )
"""

CATALOG = """
raw:
  type: json.JSONDataset
  filepath: data/raw.json
  layer: raw
summary:
  type: json.JSONDataset
  filepath: data/summary.json
  layer: reporting
"""


def _make_project(root: Path) -> None:
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.json").write_text("[1, 2, 3]")
    (root / "tane.yaml").write_text(f"name: demo\npackage: {PKG}\n")
    code = root / "src" / PKG / "pipelines" / "main"
    code.mkdir(parents=True)
    for folder in (root / "src" / PKG, root / "src" / PKG / "pipelines", code):
        (folder / "__init__.py").write_text("")
    (code / "nodes.py").write_text(textwrap.dedent(NODES))
    (code / "pipeline.py").write_text(textwrap.dedent(PIPELINE))
    (root / "conf" / "local").mkdir(parents=True)
    (root / "conf" / "config.yaml").write_text(
        "defaults:\n  - _self_\nprep:\n  factor: 2\nreport:\n  offset: 1\n"
    )
    (root / "conf" / "catalog.yaml").write_text(textwrap.dedent(CATALOG))


def quad(trial: Any) -> float:
    """Trial 3 fails, trial 5 is pruned after reporting 4 values; the rest complete."""
    x = trial.suggest_float("x", -4, 4)
    trial.suggest_categorical("k", ["a", "b"])
    if trial.number == 3:
        raise RuntimeError("boom at 3")
    for step in range(4):
        trial.report(x + step, step)
    if trial.number == 5:
        raise tane.TrialPruned()
    return (x - 1) ** 2


@dataclass
class Recorded:
    store: str
    root: Path
    first: str  # every node ran
    second: str  # every node cached
    third: str  # raw.json changed: every node ran again
    grid_sweep: str  # `tane sweep` over the pipeline (parent run id)
    constrained: str  # the same with TPE and a constraint, in experiment `constrained`
    quad: SweepOutcome  # tane.sweep(quad)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    base = tmp_path_factory.mktemp("views")
    root = base / "proj"
    _make_project(root)
    store = str(base / "store")
    path, modules = list(sys.path), set(sys.modules)
    from tane.pipeline.session import run_project

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TANE_STORE", store)
        mp.setenv("TANE_CAPTURE", "none")
        mp.setenv("XDG_CACHE_HOME", str(base / "xdg"))
        mp.chdir(root)
        first = run_project(start=root)[1]
        second = run_project(start=root)[1]
        (root / "data" / "raw.json").write_text("[1, 2, 4]")
        third = run_project(start=root)[1]
        sweep = "sweep report.offset=range(0,5) --objective total --direction maximize"
        for extra in (
            " --sampler grid",
            " --sampler tpe --seed 3 --trials 6 --constraint excess --experiment constrained",
        ):
            result = CliRunner().invoke(main, (sweep + extra).split(), catch_exceptions=False)
            assert result.exit_code == 0, result.output
        outcome = tane.sweep(quad, n_trials=8, seed=0, store=store, experiment="quad")
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        if name.split(".")[0] == PKG:
            del sys.modules[name]
    client = tane.Client(store)
    grid, constrained = (
        next(r for r in client.search_runs(experiment=e) if r.tags["tane.kind"] == "sweep")
        for e in ("demo", "constrained")
    )
    return Recorded(store, root, first, second, third, grid.id, constrained.id, outcome)


def _app(store: Store) -> FastAPI:
    return create_app(store=store)


@pytest.fixture
def api(recorded: Recorded, make_client: Any) -> Api:
    return make_client(_app(open_store(recorded.store)))


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def _error(response: Any, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["type"] == kind
    message: str = body["error"]["message"]
    return message


def _artifact(store: str, run_id: str, name: str) -> Path:
    run = tane.Client(store).get_run(run_id)
    return Path(run.artifact_uri.removeprefix("file://")) / name


# -- the DAG of a pipeline run ---------------------------------------------------------


def test_the_dag_of_a_pipeline_run(api: Api, recorded: Recorded) -> None:
    doc = _ok(api.get(f"/api/v1/runs/{recorded.first}/pipeline"))
    assert doc["run_id"] == recorded.first and doc["status"] == "FINISHED"
    assert doc["pipeline"] == "__default__"
    assert doc["counts"] == {"ran": 2, "cached": 0, "failed": 0, "not run": 0}
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert list(nodes) == ["scale", "summarize"]
    assert nodes["scale"]["inputs"] == ["raw", "params:prep.factor"]
    assert nodes["scale"]["tags"] == ["prep"]
    for n in nodes.values():
        assert n["status"] == "ran" and n["cached"] is False and n["attempts"] == 1
        assert n["duration"] > 0
    # Columns of a left-to-right layout: datasets even, nodes odd.
    assert (nodes["scale"]["rank"], nodes["summarize"]["rank"]) == (1, 3)
    datasets = {d["name"]: d for d in doc["datasets"]}
    assert set(datasets) == {"raw", "params:prep.factor", "scaled", "params:report", "summary"}
    assert [datasets[n]["rank"] for n in ("raw", "scaled", "summary")] == [0, 2, 4]
    assert datasets["raw"]["kind"] == "dataset" and datasets["raw"]["producer"] is None
    assert datasets["raw"]["consumers"] == ["scale"]
    assert datasets["raw"]["path"] == str(recorded.root / "data" / "raw.json")
    assert datasets["scaled"]["kind"] == "memory" and datasets["scaled"]["producer"] == "scale"
    assert datasets["params:report"]["kind"] == "params"
    assert len(datasets["summary"]["hash"]) == 64
    edges = {(e["source"], e["target"], e["kind"]) for e in doc["edges"]}
    assert ("raw", "scale", "reads") in edges
    assert ("scale", "scaled", "writes") in edges
    assert ("scaled", "summarize", "reads") in edges
    assert ("summarize", "summary", "writes") in edges
    assert len(edges) == 6
    assert doc["node_edges"] == [{"source": "scale", "target": "summarize"}]
    directions = {(r["dataset"], r["direction"]) for r in doc["lineage"]}
    assert directions == {
        ("raw", "read"),
        ("scaled", "write"),
        ("scaled", "read"),
        ("summary", "write"),
    }


def test_a_second_run_shows_every_node_cached(api: Api, recorded: Recorded) -> None:
    first = _ok(api.get(f"/api/v1/runs/{recorded.first}/pipeline"))
    second = _ok(api.get(f"/api/v1/runs/{recorded.second}/pipeline"))
    assert second["counts"]["cached"] == 2 and second["counts"]["ran"] == 0
    for node in second["nodes"]:
        assert node["cached"] is True and node["status"] == "cached"
        assert node["attempts"] == 0
    by_name = {n["name"]: n for n in first["nodes"]}
    summarize = next(n for n in second["nodes"] if n["name"] == "summarize")
    # What the cache saved: the time the first run spent on the node.
    assert summarize["saved_duration"] == pytest.approx(by_name["summarize"]["duration"])
    hashes = {d["name"]: d["hash"] for d in first["datasets"]}
    assert {d["name"]: d["hash"] for d in second["datasets"]} == hashes
    third = _ok(api.get(f"/api/v1/runs/{recorded.third}/pipeline"))
    assert third["counts"]["ran"] == 2
    changed = {d["name"] for d in third["datasets"] if d["hash"] != hashes[d["name"]]}
    assert changed == {"raw", "scaled", "summary"}


def test_a_failed_pipeline_run_shows_the_failed_node(api: Api, recorded: Recorded) -> None:
    trials = _ok(api.get(f"/api/v1/runs/{recorded.grid_sweep}/sweep"))["trials"]
    failed = next(t for t in trials if t["params"] == {"report.offset": 3})
    doc = _ok(api.get(f"/api/v1/runs/{failed['run_id']}/pipeline"))
    assert doc["status"] == "FAILED"
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert nodes["scale"]["status"] == "cached"
    assert nodes["summarize"]["status"] == "failed"
    assert "offset 3 is not allowed" in nodes["summarize"]["error"]
    assert doc["counts"] == {"ran": 0, "cached": 1, "failed": 1, "not run": 0}


def test_runs_that_are_not_pipeline_runs_are_404_with_the_reason(
    api: Api, recorded: Recorded
) -> None:
    message = _error(api.get(f"/api/v1/runs/{recorded.grid_sweep}/pipeline"), 404, "NotFound")
    assert "is not a pipeline run (tagged tane.kind=sweep)" in message
    assert f"/api/v1/runs/{recorded.grid_sweep}/children" in message
    trial = recorded.quad.trials[0].run_id
    message = _error(api.get(f"/api/v1/runs/{trial}/pipeline"), 404, "NotFound")
    assert "has no tane.kind tag" in message
    _error(api.get(f"/api/v1/runs/{'0' * 32}/pipeline"), 404, "RunNotFound")


def test_a_pipeline_run_still_running_has_no_dag_yet(store: Store, make_client: Any) -> None:
    exp = store.create_experiment("live")
    run = store.create_run(exp.id, "now", tags={"tane.kind": "pipeline"})
    client = make_client(_app(store))
    message = _error(client.get(f"/api/v1/runs/{run.id}/pipeline"), 404, "NotFound")
    assert "still RUNNING" in message and "pipeline.json" in message


# -- datasets and their lineage ------------------------------------------------------------


def test_the_datasets_of_an_experiment(api: Api, recorded: Recorded) -> None:
    body = _ok(api.get("/api/v1/experiments/demo/datasets"))
    # 3 runs, and the sweep's 5 trials (pipeline runs too); not the sweep's parent.
    assert body["runs_scanned"] == 8 and body["truncated"] is False
    found = {d["name"]: d for d in body["datasets"]}
    assert list(found) == ["raw", "scaled", "summary"]  # params are not datasets
    raw = found["raw"]
    assert raw["kind"] == "dataset" and raw["versions"] == 2 and raw["runs"] == 8
    assert raw["readers"] == ["scale"] and raw["writers"] == []
    assert found["scaled"]["kind"] == "memory"
    summary = found["summary"]
    assert summary["writers"] == ["summarize"] and summary["readers"] == []
    # Four trials wrote their own summary (offsets 0, 1, 2, 4; 3 failed), the runs two.
    assert summary["versions"] == 5
    assert summary["runs"] == 7
    limited = _ok(api.get("/api/v1/experiments/demo/datasets", params={"max_runs": 2}))
    assert limited["runs_scanned"] == 2 and limited["truncated"] is True


def test_a_datasets_versions_and_the_runs_that_read_or_wrote_them(
    api: Api, recorded: Recorded
) -> None:
    body = _ok(api.get("/api/v1/experiments/demo/datasets/raw"))
    assert body["name"] == "raw" and body["kind"] == "dataset"
    newest, oldest = body["versions"]
    assert newest["hash"] != oldest["hash"] and newest["last_seen"] >= oldest["last_seen"]
    assert [u["run_id"] for u in oldest["read_by"]] == [recorded.second, recorded.first]
    assert oldest["written_by"] == []
    assert oldest["paths"] == [str(recorded.root / "data" / "raw.json")]
    newer = {u["run_id"] for u in newest["read_by"]}
    assert recorded.third in newer and len(newer) == 6  # the third run and 5 trials
    use = oldest["read_by"][-1]
    run = tane.Client(recorded.store).get_run(recorded.first)
    assert (use["start_time"], use["end_time"]) == (run.start_time, run.end_time)
    assert use["node"] == "scale" and use["run_status"] == "FINISHED"
    assert body["uses"][0]["start_time"] >= body["uses"][-1]["start_time"]


def test_a_cached_write_names_the_content_an_earlier_run_computed(
    api: Api, recorded: Recorded
) -> None:
    body = _ok(api.get("/api/v1/experiments/demo/datasets/summary"))
    first = next(
        v for v in body["versions"] if any(u["run_id"] == recorded.first for u in v["written_by"])
    )
    writers = {u["run_id"]: u["cached"] for u in first["written_by"]}
    assert writers == {recorded.first: False, recorded.second: True}
    assert first["first_seen"] < first["last_seen"]
    # Trials write beside the catalog's path, in their own folders.
    scoped = [p for v in body["versions"] for p in v["paths"] if "/scoped/" in p]
    assert len(scoped) == 3  # offsets 0, 2, 4; offset 1 took run three's output from the cache


def test_unknown_datasets_and_experiments_are_404(api: Api) -> None:
    message = _error(api.get("/api/v1/experiments/demo/datasets/sumary"), 404, "NotFound")
    assert "no dataset 'sumary'" in message and "did you mean 'summary'?" in message
    message = _error(api.get("/api/v1/experiments/quad/datasets/raw"), 404, "NotFound")
    assert "experiment 'quad' has no pipeline runs" in message
    assert _ok(api.get("/api/v1/experiments/quad/datasets"))["datasets"] == []
    _error(api.get("/api/v1/experiments/nope/datasets"), 404, "ExperimentNotFound")


def test_finished_runs_lineage_is_read_once(recorded: Recorded, make_client: Any) -> None:
    app = _app(open_store(recorded.store))
    client = make_client(app)
    before = _ok(client.get("/api/v1/experiments/demo/datasets"))
    assert len(app.state.lineage_cache) == 8
    doc = _artifact(recorded.store, recorded.first, "pipeline.json")
    hidden = doc.with_name("pipeline.json.hidden")
    doc.rename(hidden)
    try:
        # The same app answers from its cache; a new one reads the artifacts again.
        assert _ok(client.get("/api/v1/experiments/demo/datasets")) == before
        fresh = make_client(_app(open_store(recorded.store)))
        after = {
            d["name"]: d for d in _ok(fresh.get("/api/v1/experiments/demo/datasets"))["datasets"]
        }
        assert after["raw"]["runs"] == 7
    finally:
        hidden.rename(doc)


def test_a_running_runs_lineage_is_read_again(
    recorded: Recorded, store: Store, make_client: Any
) -> None:
    exp = store.create_experiment("live")
    run = store.create_run(exp.id, "now", tags={"tane.kind": "pipeline"})
    with open(_artifact(recorded.store, recorded.first, "pipeline.json"), "rb") as fh:
        real = json.load(fh)
    partial = {**real, "lineage": real["lineage"][:1]}  # raw read so far
    store.log_artifact_bytes(run.id, "pipeline.json", json.dumps(partial).encode())
    app = _app(store)
    client = make_client(app)
    names = [
        d["name"] for d in _ok(client.get(f"/api/v1/experiments/{exp.id}/datasets"))["datasets"]
    ]
    assert names == ["raw"]
    store.log_artifact_bytes(run.id, "pipeline.json", json.dumps(real).encode())
    names = [
        d["name"] for d in _ok(client.get(f"/api/v1/experiments/{exp.id}/datasets"))["datasets"]
    ]
    assert names == ["raw", "scaled", "summary"]
    assert len(app.state.lineage_cache) == 0


def test_dataset_types_and_layers_come_from_the_catalog(
    recorded: Recorded, make_client: Any
) -> None:
    store = open_store(recorded.store)
    # A pipeline run records each dataset's catalog type and layer in pipeline.json.
    with open(_artifact(recorded.store, recorded.first, "pipeline.json"), "rb") as fh:
        doc = json.load(fh)
    assert doc["datasets"]["raw"] == {"type": "json.JSONDataset", "layer": "raw"}
    assert doc["datasets"]["summary"] == {"type": "json.JSONDataset", "layer": "reporting"}
    client = make_client(_app(store))
    dag = _ok(client.get(f"/api/v1/runs/{recorded.first}/pipeline"))
    assert dag["layers"] == ["raw", "reporting"]  # upstream first
    datasets = {d["name"]: d for d in dag["datasets"]}
    assert datasets["raw"]["type"] == "json.JSONDataset"
    assert datasets["scaled"]["layer"] is None
    assert {n["name"]: n["layer"] for n in dag["nodes"]} == {
        "scale": None,
        "summarize": "reporting",
    }
    exp = store.get_run(recorded.first).experiment_id
    listed = _ok(client.get(f"/api/v1/experiments/{exp}/datasets"))["datasets"]
    assert {d["name"]: d["layer"] for d in listed} == {
        "raw": "raw",
        "scaled": None,
        "summary": "reporting",
    }


def test_the_cache_is_bounded_by_records() -> None:
    cache = views.LineageCache(max_records=10)
    row = ("d", "read", "n", None, None, None, "dataset")
    for i in range(5):
        cache.put((f"run{i}", i), views.RunLineage((row, row)))  # weighs 3
    assert len(cache) == 3
    assert cache.get(("run0", 0)) is None and cache.get(("run4", 4)) is not None
    cache.get(("run2", 2))  # used: run3 is now the oldest
    cache.put(("run5", 5), views.RunLineage((row,)))
    assert cache.get(("run3", 3)) is None and cache.get(("run2", 2)) is not None
    cache.put(("huge", 0), views.RunLineage((row,) * 20))  # larger than the bound: not kept
    assert cache.get(("huge", 0)) is None and len(cache) == 3


# -- sweeps ------------------------------------------------------------------------------


def test_a_pipeline_sweep(api: Api, recorded: Recorded) -> None:
    body = _ok(api.get(f"/api/v1/runs/{recorded.grid_sweep}/sweep"))
    assert body["finished"] is True and body["stopped_by"] == "5 trials"
    settings = body["settings"]
    assert settings["sampler"] == "grid" and settings["pruner"] == "none"
    assert settings["directions"] == ["maximize"] and settings["objectives"] == ["total"]
    assert settings["overrides"] == ["report.offset=range(0,5)"]
    assert body["space"] == [{"name": "report.offset", "distribution": "int [0, 4]", "kind": "int"}]
    trials = body["trials"]
    assert [t["number"] for t in trials] == [0, 1, 2, 3, 4]
    assert body["counts"] == {"COMPLETE": 4, "PRUNED": 0, "FAILED": 1, "RUNNING": 0}
    runs = {r.id: r for r in tane.Client(recorded.store).search_runs(experiment="demo")}
    for t in trials:
        run = runs[t["run_id"]]
        assert run.parent_id == recorded.grid_sweep
        assert t["params"] == json.loads(run.tags["tane.trial.params"])
        assert t["start_time"] == run.start_time and t["duration"] > 0
        if t["state"] == "COMPLETE":
            assert t["values"] == [run.metrics["total"]] and t["error"] is None
    failed = next(t for t in trials if t["state"] == "FAILED")
    assert failed["params"] == {"report.offset": 3} and failed["values"] is None
    assert "offset 3 is not allowed" in failed["error"]
    best = body["best_trial"]
    assert best["params"] == {"report.offset": 4} and best["values"] == [18]
    assert runs[recorded.grid_sweep].tags["tane.sweep.best_run"] == best["run_id"]
    assert body["importances"] == {"report.offset": 1.0}
    history = body["best_so_far"]
    assert [p["number"] for p in history] == [t["number"] for t in trials if t["values"]]
    assert [p["best"] for p in history] == list(_running((p["value"] for p in history), max))
    children = _ok(api.get(f"/api/v1/runs/{recorded.grid_sweep}/children"))
    assert {r["id"] for r in children["runs"]} == {t["run_id"] for t in trials}
    assert children["next_page_token"] is None


def test_constraints_decide_feasible_trials_and_the_best(api: Api, recorded: Recorded) -> None:
    body = _ok(api.get(f"/api/v1/runs/{recorded.constrained}/sweep"))
    assert body["settings"]["constraints"] == ["excess"]
    runs = {r.id: r for r in tane.Client(recorded.store).search_runs(experiment="constrained")}
    offsets = set()
    for t in body["trials"]:
        offset = t["params"]["report.offset"]
        assert t["run_status"] == runs[t["run_id"]].status.value
        if offset == 3:  # the node raised
            expected = ("FAILED", "FAILED", None)
        elif offset == 1:  # finished, but never logged the constraint: the driver failed it
            expected = ("FAILED", "FINISHED", None)
        else:
            expected = ("COMPLETE", "FINISHED", 14 + offset <= 16)
        assert (t["state"], t["run_status"], t["feasible"]) == expected, t
        offsets.add(offset)
    # This seed tries every case: raised (3), no constraint (1), feasible (2), infeasible (4).
    assert offsets >= {1, 2, 3, 4}
    feasible = [t for t in body["trials"] if t["feasible"]]
    assert body["best_trial"]["values"] == [max(t["values"][0] for t in feasible)]
    assert all(p["best"] <= 16 for p in body["best_so_far"])
    assert {p["run_id"] for p in body["best_so_far"]} == {t["run_id"] for t in feasible}
    # Without sweep.json the same is read from the trials' runs and the settings tag.
    doc = _artifact(recorded.store, recorded.constrained, "sweep.json")
    hidden = doc.with_name("sweep.json.hidden")
    doc.rename(hidden)
    try:
        derived = _ok(api.get(f"/api/v1/runs/{recorded.constrained}/sweep"))
    finally:
        hidden.rename(doc)
    assert derived["finished"] is False

    def outcome(t: dict[str, Any]) -> tuple[Any, ...]:
        return t["run_id"], t["state"], t["values"], t["feasible"]

    assert [outcome(t) for t in derived["trials"]] == [outcome(t) for t in body["trials"]]
    unlogged = next(t for t in derived["trials"] if t["params"]["report.offset"] == 1)
    assert unlogged["error"] == "the trial never logged the constraint metric(s) excess"
    assert derived["best_trial"]["run_id"] == body["best_trial"]["run_id"]


def _running(values: Any, better: Any = min) -> Iterator[float]:
    best = None
    for v in values:
        best = v if best is None else better(best, v)
        yield best


def test_a_define_by_run_sweep_with_pruned_and_failed_trials(api: Api, recorded: Recorded) -> None:
    outcome = recorded.quad
    body = _ok(api.get(f"/api/v1/runs/{outcome.parent_id}/sweep"))
    assert body["settings"]["sampler"] == "tpe" and body["settings"]["seed"] == 0
    assert body["settings"]["trials"] == 8
    trials = body["trials"]
    assert [t["number"] for t in trials] == list(range(8))
    assert [t["run_id"] for t in trials] == [
        r.run_id for r in sorted(outcome.trials, key=lambda r: r.index)
    ]
    assert body["counts"] == {"COMPLETE": 6, "PRUNED": 1, "FAILED": 1, "RUNNING": 0}
    failed, pruned = trials[3], trials[5]
    assert failed["state"] == "FAILED" and failed["run_status"] == "FAILED"
    assert failed["error"] == "RuntimeError: boom at 3" and failed["values"] is None
    assert pruned["state"] == "PRUNED" and pruned["run_status"] == "PRUNED"
    assert pruned["values"] is None and pruned["error"] is None
    assert pruned["intermediate_count"] == 4
    assert pruned["last_intermediate"] == pytest.approx(pruned["params"]["x"] + 3)
    for t in trials:
        assert set(t["params"]) == {"x", "k"} and isinstance(t["params"]["x"], float)
        if t["state"] == "COMPLETE":
            assert t["values"] == [pytest.approx((t["params"]["x"] - 1) ** 2)]
            assert t["intermediate_count"] == 4
    assert body["space"] == [
        {"name": "x", "distribution": None, "kind": "float"},
        {"name": "k", "distribution": None, "kind": "categorical"},
    ]
    assert body["best_trial"]["run_id"] == outcome.best_run_id
    assert body["best_trial"]["values"] == [pytest.approx(outcome.best_value)]
    history = body["best_so_far"]
    complete = [t for t in trials if t["state"] == "COMPLETE"]
    assert [p["run_id"] for p in history] == [t["run_id"] for t in complete]
    assert [p["best"] for p in history] == list(_running(t["values"][0] for t in complete))
    assert history[-1]["best"] == pytest.approx(outcome.best_value)
    assert body["importances"] == pytest.approx(outcome.importances)
    assert list(body["importances"]) == sorted(
        outcome.importances, key=lambda k: -outcome.importances[k]
    )


def test_an_interrupted_sweep_is_built_from_its_tags_and_trials(
    api: Api, recorded: Recorded
) -> None:
    finished = _ok(api.get(f"/api/v1/runs/{recorded.grid_sweep}/sweep"))
    doc = _artifact(recorded.store, recorded.grid_sweep, "sweep.json")
    hidden = doc.with_name("sweep.json.hidden")
    doc.rename(hidden)  # as if the driver died before writing its summary
    try:
        body = _ok(api.get(f"/api/v1/runs/{recorded.grid_sweep}/sweep"))
    finally:
        hidden.rename(doc)
    assert body["finished"] is False and body["importances"] is None
    assert body["settings"] == {**finished["settings"], "fixed": []}
    assert body["space"] == [{"name": "report.offset", "distribution": None, "kind": "int"}]
    assert body["counts"] == finished["counts"]
    assert body["best_trial"]["run_id"] == finished["best_trial"]["run_id"]
    assert body["best_so_far"] == finished["best_so_far"]
    for mine, theirs in zip(body["trials"], finished["trials"], strict=True):
        assert mine["intermediate_count"] is None
        assert (mine["state"], mine["values"], mine["params"]) == (
            theirs["state"],
            theirs["values"],
            theirs["params"],
        )


def test_a_running_define_by_run_sweep(tmp_path: Path, make_client: Any) -> None:
    store_path = str(tmp_path / "live")
    seen: dict[str, Any] = {}

    def objective(trial: Any) -> float:
        x = float(trial.suggest_float("x", 0, 1))
        if trial.number == 1:
            raise RuntimeError("boom")
        if trial.number == 2:
            raise tane.TrialPruned()
        if trial.number == 4:
            tane.flush()  # the trials that ended so far reach the store
            active = tane.active_run()
            assert active is not None
            client = make_client(_app(open_store(store_path)))
            seen["sweep"] = _ok(client.get(f"/api/v1/runs/{active.parent_id}/sweep"))
        return x

    outcome = tane.sweep(objective, n_trials=5, seed=0, store=store_path, direction="maximize")
    body = seen["sweep"]
    assert body["status"] == "RUNNING" and body["finished"] is False
    # tane.sweep() records its settings when it starts: the direction is known already.
    assert body["settings"]["sampler"] == "tpe"
    assert body["settings"]["directions"] == ["maximize"]
    assert [t["state"] for t in body["trials"]] == ["COMPLETE", "FAILED", "PRUNED", "COMPLETE"]
    assert body["trials"][1]["error"] == "RuntimeError: boom"
    values = [t["values"][0] for t in body["trials"] if t["values"]]
    # The best so far follows the recorded direction: here, maximizing.
    assert [p["best"] for p in body["best_so_far"]] == list(_running(values, max))
    assert body["best_trial"]["values"] == [max(values)]
    # Once it ends, its recorded settings say maximize; the history is the same.
    done = _ok(
        make_client(_app(open_store(store_path))).get(f"/api/v1/runs/{outcome.parent_id}/sweep")
    )
    assert done["settings"]["directions"] == ["maximize"] and done["finished"] is True
    assert done["best_so_far"][:2] == body["best_so_far"]
    final = [t["values"][0] for t in done["trials"] if t["values"]]
    assert [p["best"] for p in done["best_so_far"]] == list(_running(final, max))
    assert done["best_trial"]["run_id"] == outcome.best_run_id
    assert done["best_trial"]["values"] == [max(final)]


def test_runs_that_are_not_sweeps_are_404_with_the_reason(api: Api, recorded: Recorded) -> None:
    message = _error(api.get(f"/api/v1/runs/{recorded.first}/sweep"), 404, "NotFound")
    assert f"run {recorded.first} is not a sweep (tagged tane.kind=pipeline)" in message
    _error(api.get(f"/api/v1/runs/{'f' * 32}/sweep"), 404, "RunNotFound")


def test_children_pages(api: Api, recorded: Recorded) -> None:
    parent = recorded.quad.parent_id
    first = _ok(api.get(f"/api/v1/runs/{parent}/children", params={"max_results": 5}))
    assert len(first["runs"]) == 5 and first["next_page_token"]
    rest = _ok(
        api.get(
            f"/api/v1/runs/{parent}/children",
            params={"max_results": 5, "page_token": first["next_page_token"]},
        )
    )
    ids = [r["id"] for r in first["runs"] + rest["runs"]]
    assert sorted(ids) == sorted(r.run_id for r in recorded.quad.trials if r.run_id)
    assert all(r["parent_id"] == parent for r in first["runs"] + rest["runs"])
    assert _ok(api.get(f"/api/v1/runs/{recorded.first}/children"))["runs"] == []
    bad = api.get(f"/api/v1/runs/{parent}/children", params={"max_results": 0})
    # A parameter that does not validate is refused (400, or 422 once the server says so).
    assert bad.status_code in (400, 422) and bad.json()["error"]["type"] == "InvalidInput"


def test_routes_name_their_path_parameters_for_the_permission_checks(
    api: Api, recorded: Recorded
) -> None:
    spec = _ok(api.get("/api/v1/openapi.json"))
    mine = {route.path_format for route in views.router.routes}  # type: ignore[attr-defined]
    assert len(mine) == 5
    for path in mine:
        operation = spec["paths"][path]["get"]
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert names & {"run_id", "experiment_id"}, path
        assert names <= {"run_id", "experiment_id", "name"}, path
        assert "200" in operation["responses"] and "404" in operation["responses"]


def test_answers_are_strict_json(api: Api, recorded: Recorded) -> None:
    for url in (
        f"/api/v1/runs/{recorded.quad.parent_id}/sweep",
        f"/api/v1/runs/{recorded.third}/pipeline",
        "/api/v1/experiments/demo/datasets/summary",
    ):
        text = api.get(url).text
        json.loads(text, parse_constant=_refuse)


def _refuse(constant: str) -> None:
    pytest.fail(f"an answer held {constant}, which is not JSON")


def test_a_read_without_its_version_joins_the_version_of_its_content(
    tmp_path: Path, make_client: Any
) -> None:
    store = open_store(str(tmp_path / "versions"))
    exp = store.create_experiment("versioned")

    def pipeline_run(name: str, lineage: list[dict[str, Any]]) -> None:
        run = store.create_run(exp.id, name, tags={"tane.kind": "pipeline"})
        doc = {"pipeline": "__default__", "nodes": [], "edges": [], "lineage": lineage}
        store.log_artifact_bytes(run.id, "pipeline.json", json.dumps(doc).encode())
        store.update_run(run.id, status=RunStatus.FINISHED, end_time=run.start_time + 1)

    base = {"dataset": "model", "path": "data/model.pkl", "kind": "dataset"}
    pipeline_run(
        "train",
        [
            {
                **base,
                "direction": "write",
                "node": "fit",
                "hash": "h1",
                "version": "2026-11-27T00.00.00.000Z",
            }
        ],
    )
    # A later run took `fit` from the cache and read the model: its read has no version.
    pipeline_run(
        "score", [{**base, "direction": "read", "node": "score", "hash": "h1", "version": None}]
    )
    pipeline_run(
        "retrain",
        [
            {
                **base,
                "direction": "write",
                "node": "fit",
                "hash": "h2",
                "version": "2026-11-28T00.00.00.000Z",
            }
        ],
    )
    client = make_client(_app(store))
    body = _ok(client.get(f"/api/v1/experiments/{exp.id}/datasets/model"))
    versions = {v["hash"]: v for v in body["versions"]}
    assert set(versions) == {"h1", "h2"}
    assert versions["h1"]["version"] == "2026-11-27T00.00.00.000Z"
    assert len(versions["h1"]["written_by"]) == 1 and len(versions["h1"]["read_by"]) == 1
    listed = _ok(client.get(f"/api/v1/experiments/{exp.id}/datasets"))["datasets"]
    assert [d["versions"] for d in listed] == [2]
