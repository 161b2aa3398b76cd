"""`tane push`: local runs copied to a real tane server (uvicorn on 127.0.0.1) or a store.

The source is a real local store filled through the fluent API; the target a
SqlStore served by a LiveServer (one server per module, a fresh store per test),
or a second local store. Every check compares what arrived with the source, run
by run: points counted and compared one by one, artifact bytes equal, parent
links and run ids in tags and ``sweep.json`` remapped.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tane
from tane.errors import ExperimentNotFound, InvalidInput, StoreUnavailable
from tane.testing.server import LiveServer, free_port
from tane.tracking.entities import Run, RunStatus
from tane.tracking.push import PUSH_COMPLETE_TAG, PUSHED_FROM_TAG, PushEvent, push_runs
from tane.tracking.stores import clear_cache, open_store
from tane.tracking.stores.base import Store
from tane.tracking.stores.rest import RestStore
from tane.tracking.stores.sql import SqlStore

from .conftest import Invoke, MakeRun

WEIGHTS = os.urandom(1_500_000)  # larger than SMALL_FILE: streamed, not read whole
PIPELINE_JSON = json.dumps(
    {
        "pipeline": "__default__",
        "nodes": [{"name": "scale", "status": "ran"}, {"name": "fit", "status": "cached"}],
        "edges": [["scale", "fit"]],
        "lineage": [{"dataset": "raw", "direction": "read", "node": "scale", "hash": "ab12"}],
    }
).encode()


@pytest.fixture
def remote(server: LiveServer, backend: SqlStore) -> Iterator[RestStore]:
    store = RestStore(server.url)
    yield store
    store.close()


def populate(make_run: MakeRun, store: str) -> dict[str, Run]:
    """Finished runs: params, long and odd metrics, nested artifacts, a parent and children."""
    loss = [1.0 / (step + 1) for step in range(300)]
    runs = {
        "baseline": make_run(
            "baseline",
            params={"lr": 0.05, "layers": [64, 32]},
            metrics={"loss": loss, "odd": [math.nan, math.inf, -math.inf, 0.5]},
            tags={"team": "ml"},
            note="## Findings\nlr 0.05 converges",
            artifacts={
                "model/weights.bin": WEIGHTS,
                "plots/train/curve.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
                "pipeline.json": PIPELINE_JSON,
                "notes.txt": b"free text",
            },
        ),
    }
    parent = make_run("multirun", tags={"tane.kind": "multirun"})
    runs["multirun"] = parent
    for i in range(2):
        runs[f"job{i}"] = make_run(
            f"job{i}",
            params={"i": i},
            metrics={"acc": [0.5 + i / 10, 0.6 + i / 10]},
            tags={"tane.parent_context": parent.id, "tane.job.overrides": f'["i={i}"]'},
            parent_id=parent.id,
            artifacts={"logs/output.log": f"job {i}\n".encode()},
        )
    runs["failed"] = make_run("failed", "other", status="FAILED", error="boom")
    gone = make_run("gone")
    tane.Client(store).delete_runs([gone.id])
    return runs


def copies(target: Store) -> dict[str, Run]:
    """The pushed runs on the target by source id (exactly one copy each)."""
    found: dict[str, Run] = {}
    for run in target.search_runs(None, f"tags.`{PUSHED_FROM_TAG}` IS NOT NULL").runs:
        source_id = run.tags[PUSHED_FROM_TAG]
        assert source_id not in found, f"run {source_id} was copied twice"
        found[source_id] = run
    return found


def history(store: Store, run_id: str, key: str) -> list[tuple[int, int, str]]:
    points = store.get_metric_history(run_id, key)
    return sorted((p.step, p.timestamp, repr(p.value)) for p in points)


def files(store: Store, run_id: str, path: str = "") -> dict[str, bytes]:
    out = {}
    for entry in store.list_artifacts(run_id, path):
        if entry.is_dir:
            out.update(files(store, run_id, entry.path))
        else:
            with store.open_artifact(run_id, entry.path) as fh:
                out[entry.path] = fh.read()
    return out


def assert_copied(source: Store, target: Store, source_ids: list[str]) -> dict[str, Run]:
    """Check that each run arrived exactly; return the copies by source id."""
    found = copies(target)
    mapping = {sid: run.id for sid, run in found.items()}

    def remap(value: str) -> str:
        return mapping.get(value, value)

    for source_id in source_ids:
        want = source.get_run(source_id)
        got = found[source_id]
        assert got.id != want.id
        assert (got.name, got.experiment, got.status) == (want.name, want.experiment, want.status)
        assert (got.start_time, got.end_time, got.note) == (
            want.start_time,
            want.end_time,
            want.note,
        )
        assert got.parent_id == (want.parent_id and mapping[want.parent_id])
        assert got.params == want.params
        expected_tags = {k: remap(v) for k, v in want.tags.items()}
        expected_tags[PUSHED_FROM_TAG] = want.id
        expected_tags[PUSH_COMPLETE_TAG] = want.status.value
        assert got.tags == expected_tags
        assert set(got.metrics) == set(want.metrics)
        for key in want.metrics:
            assert history(target, got.id, key) == history(source, want.id, key), key
        want_files = files(source, want.id)
        if "sweep.json" in want_files:
            text = want_files["sweep.json"].decode()
            for old, new in mapping.items():
                text = text.replace(old, new)
            want_files["sweep.json"] = text.encode()
        assert files(target, got.id) == want_files
    return found


def point_count(store: Store) -> int:
    return sum(
        len(store.get_metric_history(run.id, key))
        for run in store.search_runs(None, "", view="all").runs
        for key in run.metrics
    )


# -- to a server, through the command line ------------------------------------------------


def test_push_copies_every_run_exactly_and_pushing_again_copies_nothing(
    cli: Invoke, make_run: MakeRun, store: str, server: LiveServer, backend: SqlStore
) -> None:
    runs = populate(make_run, store)
    source = open_store(store)
    result = cli("push", "--to", server.url)
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"Pushed 5 runs to {server.url}: 308 points, 6 artifacts" in out
    assert "Experiments created there: exp, other." in out
    assert "Skipped: 1 deleted." in out
    for name in ("baseline", "multirun", "job0", "job1", "failed"):
        assert f"pushed     {runs[name].id[:8]} {name}" in out
    assert out.index("multirun") < out.index("job0")  # parents first

    found = assert_copied(source, backend, [r.id for r in runs.values()])
    assert found[runs["job0"].id].parent_id == found[runs["multirun"].id].id
    assert found[runs["job1"].id].tags["tane.parent_context"] == found[runs["multirun"].id].id
    assert len(backend.get_metric_history(found[runs["baseline"].id].id, "loss")) == 300
    assert runs["baseline"].tags.get("tane.parent_context") is None
    with backend.open_artifact(found[runs["baseline"].id].id, "model/weights.bin") as fh:
        assert fh.read() == WEIGHTS
    assert not any(r.name == "gone" for r in backend.search_runs(None, "", view="all").runs)
    points, total = point_count(backend), len(backend.search_runs(None, "", view="all").runs)
    assert (points, total) == (308, 5)

    again = cli("push", "--to", server.url)
    assert again.exit_code == 0, again.output
    assert f"Nothing to push to {server.url}." in again.output
    assert "Skipped: 5 already there, 1 deleted." in again.output
    assert (point_count(backend), len(backend.search_runs(None, "", view="all").runs)) == (
        points,
        total,
    )
    # A new run is pushed alone.
    new = make_run("later", metrics={"loss": [0.3, 0.2]})
    third = cli("push", "--to", server.url)
    assert "Pushed 1 run" in third.output and "Skipped: 5 already there" in third.output
    assert_copied(source, backend, [new.id])
    assert point_count(backend) == points + 2


def test_experiment_and_run_selection(
    cli: Invoke, make_run: MakeRun, store: str, server: LiveServer, backend: SqlStore
) -> None:
    runs = populate(make_run, store)
    source = open_store(store)
    result = cli("push", "--to", server.url, "--experiment", "other")
    assert result.exit_code == 0, result.output
    assert "Pushed 1 run " in result.output
    assert set(copies(backend)) == {runs["failed"].id}
    assert_copied(source, backend, [runs["failed"].id])
    assert backend.get_run(copies(backend)[runs["failed"].id].id).tags["tane.error"] == "boom"

    # A child brings its parent (the link holds); a prefix is enough.
    result = cli("push", "--to", server.url, "--run", runs["job1"].id[:8])
    assert result.exit_code == 0, result.output
    assert set(copies(backend)) == {runs["failed"].id, runs["multirun"].id, runs["job1"].id}
    assert_copied(source, backend, [runs["multirun"].id, runs["job1"].id])

    # A parent brings its children; job1 is there already.
    result = cli("push", "--to", server.url, "-e", "exp", "--run", runs["multirun"].id)
    assert "Pushed 1 run " in result.output and "2 already there" in result.output
    assert_copied(source, backend, [runs["job0"].id])

    result = cli("push", "--to", server.url, "--experiment", "nope")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: no experiment 'nope' in store {source.uri}: `tane experiments ls` lists them"
    ]


def test_dry_run_writes_nothing(
    cli: Invoke, make_run: MakeRun, store: str, server: LiveServer, backend: SqlStore
) -> None:
    populate(make_run, store)
    result = cli("push", "--to", server.url, "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"Dry run: would push 5 runs to {server.url}; nothing was copied." in result.output
    assert "Experiments to create there: exp, other." in result.output
    assert "would push" in result.output
    assert backend.search_runs(None, "", view="all").runs == []
    assert [e.name for e in backend.list_experiments()] == ["Default"]


def test_running_runs_wait_unless_included_and_are_completed_later(
    cli: Invoke, make_run: MakeRun, store: str, server: LiveServer, backend: SqlStore
) -> None:
    client = tane.Client(store)
    experiment = client.get_or_create_experiment("exp")
    live = client.create_run(experiment.id, "live")
    client.log_batch(live.id, [("loss", 1.0, 0, 1000), ("loss", 0.9, 1, 2000)], {"lr": "0.1"})
    child = client.create_run(experiment.id, "live-child", parent_id=live.id)
    client.set_terminated(child.id)
    done = make_run("done", metrics={"loss": [0.5]})

    result = cli("push", "--to", server.url)
    assert "Pushed 1 run " in result.output
    assert "Skipped: 2 running (--include-running pushes them as they are)." in result.output
    assert set(copies(backend)) == {done.id}

    result = cli("push", "--to", server.url, "--include-running")
    assert result.exit_code == 0, result.output
    assert "Pushed 2 runs " in result.output and "1 already there" in result.output
    source = open_store(store)
    found = assert_copied(source, backend, [live.id, child.id])
    assert found[live.id].status is RunStatus.RUNNING
    assert found[live.id].tags[PUSH_COMPLETE_TAG] == "RUNNING"

    # The run goes on and ends on the laptop: the next push brings the rest, once.
    client.log_batch(live.id, [("loss", 0.8, 2, 3000)])
    client.log_artifact(live.id, str(_write(Path("report.txt"), b"final")))
    client.set_terminated(live.id)
    result = cli("push", "--to", server.url)
    assert "Pushed 1 run (1 completed from an earlier push)" in result.output
    assert "1 point, 1 artifact" in result.output
    found = assert_copied(source, backend, [live.id, child.id, done.id])
    assert found[live.id].status is RunStatus.FINISHED
    assert "Nothing to push" in cli("push", "--to", server.url).output


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# -- interrupted pushes ---------------------------------------------------------------


def test_push_cut_off_when_the_server_goes_away_is_completed_by_the_next(
    make_run: MakeRun, store: str, tmp_path: Path
) -> None:
    runs = populate(make_run, store)
    source = open_store(store)
    backend = SqlStore(f"sqlite:///{tmp_path / 'b.db'}", str(tmp_path / "b-artifacts"))
    first = LiveServer(store=backend).start()
    target = RestStore(first.url, timeout=5)
    seen: list[PushEvent] = []

    def stop_midway(event: PushEvent) -> None:
        seen.append(event)
        # After the first batch of baseline's points (its "loss"; "odd" is not sent yet).
        if event.kind == "points" and event.run is not None and event.run.name == "baseline":
            first.stop()

    try:
        with pytest.raises(StoreUnavailable, match="cannot be reached"):
            push_runs(source, target, progress=stop_midway)
    finally:
        first.stop()
        target.close()
    cut = copies(backend)
    assert set(cut) == {runs["baseline"].id}  # created, marked, not complete
    assert PUSH_COMPLETE_TAG not in cut[runs["baseline"].id].tags
    assert cut[runs["baseline"].id].metrics.keys() == {"loss"}

    second = LiveServer(store=backend, port=first.port).start()
    target = RestStore(second.url, timeout=5)
    try:
        report = push_runs(source, target)
    finally:
        second.stop()
        target.close()
    assert [r.name for r in report.pushed] == ["baseline", "multirun", "job0", "job1", "failed"]
    assert [r.resumed for r in report.pushed] == [True, False, False, False, False]
    # "loss" had arrived and is not sent again. (Whether "odd" is sent now or was
    # kept in the RestStore's spool and is sent before, the result is the same.)
    assert report.pushed[0].points <= 4
    assert_copied(source, backend, [r.id for r in runs.values()])
    assert point_count(backend) == 308
    backend.close()


class FailingUpdates:
    """The server's store, whose database goes away at the second run's end (503s)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.updates = 0

    def update_run(self, run_id: str, **fields: Any) -> None:
        self.updates += 1
        if self.updates >= 2:
            raise StoreUnavailable("database is down")
        self.store.update_run(run_id, **fields)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_cli_says_how_far_a_cut_off_push_got_and_the_next_completes_it(
    cli: Invoke,
    make_run: MakeRun,
    store: str,
    server: LiveServer,
    backend: SqlStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tane.tracking.stores.rest.READ_BACKOFF", (0.01, 0.01))
    runs = populate(make_run, store)
    server.serve(FailingUpdates(backend))
    result = cli("push", "--to", server.url)
    assert result.exit_code == 1
    assert "pushed     " + runs["baseline"].id[:8] in result.output
    assert "1 of 5 runs were pushed before it stopped; run the same `tane push` again" in (
        result.output
    )
    server.serve(backend)
    clear_cache()  # the next `tane push` is a new process
    result = cli("push", "--to", server.url)
    assert result.exit_code == 0, result.output
    assert "Pushed 4 runs (1 completed from an earlier push)" in result.output
    assert "1 already there" in result.output
    assert_copied(open_store(store), backend, [r.id for r in runs.values()])
    assert point_count(backend) == 308


def test_push_stopped_among_artifacts_is_completed_without_copying_twice(
    make_run: MakeRun, store: str, tmp_path: Path
) -> None:
    runs = populate(make_run, store)
    source = open_store(store)
    target = SqlStore(f"sqlite:///{tmp_path / 'b.db'}", str(tmp_path / "b-artifacts"))

    def interrupt(event: PushEvent) -> None:
        if event.kind == "artifact" and event.detail == "model/weights.bin":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        push_runs(source, target, progress=interrupt)
    sent: list[str] = []

    def record(event: PushEvent) -> None:
        if event.kind == "artifact":
            sent.append(event.detail)

    report = push_runs(source, target, progress=record)
    assert report.pushed[0].resumed and report.pushed[0].points == 0
    assert "model/weights.bin" not in sent  # it had arrived whole
    assert sorted(sent) == [
        "logs/output.log",
        "logs/output.log",
        "notes.txt",
        "pipeline.json",
        "plots/train/curve.png",
    ]
    assert_copied(source, target, [r.id for r in runs.values()])
    assert point_count(target) == 308
    target.close()


# -- to another store: a sweep and its trials -------------------------------------------


def test_push_to_another_local_store_remaps_a_sweep_and_its_trials(
    make_run: MakeRun, store: str, tmp_path: Path
) -> None:
    best = tane.sweep(
        lambda trial: (trial.suggest_float("x", -1, 1) - 0.3) ** 2,
        n_trials=4,
        seed=0,
        experiment="sweep",
        store=store,
    )
    source = open_store(store)
    parent = source.get_run(best.trials[0].run_id).parent_id
    assert parent is not None
    assert source.get_run(parent).tags["tane.sweep.best_run"] == best.best_run_id
    target_dir = tmp_path / "team"
    target = open_store(str(target_dir))
    report = push_runs(source, target, experiment="sweep")
    assert len(report.pushed) == 5
    assert report.pushed[-1].source_id == parent  # finished once its trials are there
    found = assert_copied(source, target, [parent, *(t.run_id for t in best.trials)])
    copy = found[parent]
    assert copy.tags["tane.sweep.best_run"] == found[best.best_run_id].id
    with target.open_artifact(copy.id, "sweep.json") as fh:
        doc: dict[str, Any] = json.load(fh)
    assert doc["best"]["run_id"] == found[best.best_run_id].id
    assert [t["run_id"] for t in doc["trials"]] == [found[t.run_id].id for t in best.trials]
    assert all(child.parent_id == copy.id for sid, child in found.items() if sid != parent)

    again = push_runs(source, target)
    assert again.pushed == [] and len(again.present) == 5


def test_push_from_a_server_streams_its_artifacts_to_another_store(
    make_run: MakeRun, store: str, remote: RestStore, tmp_path: Path
) -> None:
    runs = populate(make_run, store)
    push_runs(open_store(store), remote)
    on_server = [run.id for run in copies(remote).values()]
    third = SqlStore(f"sqlite:///{tmp_path / 'c.db'}", str(tmp_path / "c-artifacts"))
    report = push_runs(remote, third)
    assert len(report.pushed) == len(runs) == 5
    found = assert_copied(remote, third, on_server)
    baseline = next(r for r in found.values() if r.name == "baseline")
    with third.open_artifact(baseline.id, "model/weights.bin") as fh:
        assert fh.read() == WEIGHTS
    third.close()


# -- errors -----------------------------------------------------------------------------


def test_errors_are_one_line_naming_the_fix(
    cli: Invoke, make_run: MakeRun, store: str, server: LiveServer, backend: SqlStore
) -> None:
    make_run("one")
    down = f"http://127.0.0.1:{free_port()}"
    result = cli("push", "--to", down)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: store {down} cannot be reached")
    assert "is `tane server` running there?" in lines[0]

    result = cli("push", "--to", store)
    assert result.exit_code == 1
    assert "is the store the runs come from" in result.output

    # A server serving the very store the runs come from.
    server.serve(open_store(store))
    result = cli("push", "--to", server.url)
    assert result.exit_code == 1
    assert "it serves the same store" in result.output

    with pytest.raises(InvalidInput, match="to itself"):
        push_runs(open_store(store), open_store(store))
    with pytest.raises(ExperimentNotFound, match="tane experiments ls"):
        push_runs(open_store(store), backend, experiment="nope")


def test_nothing_to_push_without_a_store(cli: Invoke, server: LiveServer) -> None:
    result = cli("push", "--to", server.url)
    assert result.exit_code == 1
    assert "nothing to push: there is no tane store at" in result.output
