"""`tane import mlflow`: real MLflow stores, written by the real mlflow client, imported.

The sources are a file store (``./mlruns``) and a SQLite database, both filled
with mlflow-skinny's MlflowClient: three experiments (``Default`` among them)
plus a deleted one, finished, failed, killed and still-running runs, a sweep with
child runs, metric histories of hundreds of points, tags, notes, nested artifact
folders with a binary file, and a deleted run. What arrived in the tane store is
compared with what MLflow reads back, run by run and point by point; every file
of the source is hashed before and after.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("mlflow")

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType

from tane.cli import main
from tane.errors import ExperimentNotFound, InvalidInput, SchemaVersionError
from tane.integrations.mlflow_import import (
    IMPORT_COMPLETE_TAG,
    IMPORTED_FROM_TAG,
    ImportEvent,
    import_mlflow,
)
from tane.tracking.entities import RunStatus
from tane.tracking.push import _walk
from tane.tracking.stores import open_store
from tane.tracking.stores.base import Store

# MLflow's SQL store uses a loader option SQLAlchemy 2.1 deprecates: MLflow's noise.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"
)

WEIGHTS = os.urandom(300_000)
ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def fill(uri: str, folder: Path) -> dict[str, str]:
    """Record MLflow runs in the store at ``uri``; return run name -> MLflow run id."""
    client = MlflowClient(tracking_uri=uri)
    art = folder / "artifact-root"
    iris = client.create_experiment(
        "iris",
        artifact_location=(art / "iris").as_uri(),
        tags={"team": "ml", "mlflow.note.content": "iris runs"},
    )
    digits = client.create_experiment("digits", artifact_location=(art / "digits").as_uri())
    old = client.create_experiment("old", artifact_location=(art / "old").as_uri())
    now = int(time.time() * 1000) - 3_600_000
    ids: dict[str, str] = {}

    def run(
        experiment: str, name: str, points: int, status: str | None, tags: dict[str, str]
    ) -> str:
        created = client.create_run(experiment, start_time=now, run_name=name, tags=tags)
        run_id: str = created.info.run_id
        metrics = [Metric("loss", 1.0 / (i + 1), now + i * 10, i) for i in range(points)]
        metrics += [Metric("acc", v, now + 5, s) for s, v in enumerate([0.5, math.nan, 0.9])]
        for start in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[start : start + 1000])
        client.log_batch(
            run_id,
            params=[Param("lr", "0.05"), Param("model", name)],
            tags=[RunTag("stage", "candidate")],
        )
        if status is not None:
            client.set_terminated(run_id, status, end_time=now + 60_000)
        ids[name] = run_id
        return run_id

    sweep = run(iris, "sweep", 300, None, {"mlflow.note.content": "## Findings\nlr 0.05"})
    src = folder / "files"
    (src / "model" / "nested" / "deep").mkdir(parents=True)
    (src / "model" / "weights.bin").write_bytes(WEIGHTS)
    (src / "model" / "nested" / "deep" / "config.yaml").write_text("lr: 0.05\n")
    (src / "curve.txt").write_text("1 0.5\n2 0.4\n")
    client.log_artifacts(sweep, str(src / "model"), "model")
    client.log_artifact(sweep, str(src / "curve.txt"), "plots")
    client.log_artifact(sweep, str(src / "curve.txt"))
    run(iris, "trial-0", 200, "FINISHED", {"mlflow.parentRunId": sweep})
    run(iris, "trial-1", 250, "FAILED", {"mlflow.parentRunId": sweep})
    client.set_terminated(sweep, "FINISHED", end_time=now + 90_000)
    run(digits, "killed", 120, "KILLED", {})
    run(digits, "live", 100, None, {})
    client.delete_run(run(digits, "gone", 10, "FINISHED", {}))
    run("0", "default-run", 50, "FINISHED", {})
    run(old, "ancient", 10, "FINISHED", {})
    client.delete_experiment(old)
    return ids


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Path]]:
    """Both kinds of MLflow store, made once: kind -> (uri, folder holding all of it)."""
    made = {}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {**ENV, "MLFLOW_ALLOW_FILE_STORE": "true"}.items():
            mp.setenv(name, value)
        for kind in ("file", "sqlite"):
            folder = tmp_path_factory.mktemp(f"mlflow-{kind}")
            mp.chdir(folder)  # the Default experiment's artifacts go to ./mlruns
            uri = str(folder / "mlruns") if kind == "file" else f"sqlite:///{folder}/mlflow.db"
            fill(uri, folder)
            made[kind] = (uri, folder)
    return made


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` with a hash of its bytes."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        found[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def mlflow_runs(uri: str) -> list[Any]:
    """The active runs of active experiments, as MLflow reads them."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        client = MlflowClient(tracking_uri=uri)
        experiments = [e.experiment_id for e in client.search_experiments(ViewType.ACTIVE_ONLY)]
        return list(client.search_runs(experiments, max_results=1000))


def history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, int, str]]:
    return sorted(
        (m.step, m.timestamp, repr(m.value)) for m in client.get_metric_history(run_id, key)
    )


def check_copy(uri: str, store: Store, scratch: Path) -> dict[str, Any]:
    """Compare every imported run with its MLflow original; return tane run by MLflow id."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        client = MlflowClient(tracking_uri=uri)
        originals = mlflow_runs(uri)
        copies = {r.tags[IMPORTED_FROM_TAG]: r for r in store.search_runs(view="all").runs}
        assert len(copies) == len(originals) == 6
        by_source = {}
        for original in originals:
            info, data = original.info, original.data
            copy = copies[f"mlflow:{info.run_id}"]
            by_source[info.run_id] = copy
            assert copy.name == info.run_name
            expected = "RUNNING" if info.status == "RUNNING" else info.status
            assert copy.tags[IMPORT_COMPLETE_TAG] == info.status
            assert copy.start_time == info.start_time
            if expected != "RUNNING":
                assert copy.status == RunStatus(expected)
                assert copy.end_time == info.end_time
            assert copy.params == data.params
            assert {k: v for k, v in copy.tags.items() if not k.startswith("tane.")} == data.tags
            assert copy.note == data.tags.get("mlflow.note.content", "")
            experiment = client.get_experiment(info.experiment_id).name
            assert copy.experiment == ("Default" if info.experiment_id == "0" else experiment)
            for key in data.metrics:
                mine = sorted(
                    (p.step, p.timestamp, repr(p.value))
                    for p in store.get_metric_history(copy.id, key)
                )
                assert mine == history(client, info.run_id, key), (info.run_name, key)
            files = {a.path: a.size for a in _walk(store, copy.id)}
            assert files == dict(_mlflow_files(client, info.run_id, None))
            for path in files:
                with store.open_artifact(copy.id, path) as fh:
                    data_bytes = fh.read()
                local = client.download_artifacts(info.run_id, path, str(scratch))
                assert data_bytes == Path(local).read_bytes(), path
        for original in originals:
            parent = original.data.tags.get("mlflow.parentRunId")
            copy = by_source[original.info.run_id]
            assert copy.parent_id == (by_source[parent].id if parent else None)
        return by_source


def _mlflow_files(client: MlflowClient, run_id: str, path: str | None) -> Iterator[tuple[str, int]]:
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            yield from _mlflow_files(client, run_id, info.path)
        else:
            yield info.path, info.file_size


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_import_copies_everything_once_and_leaves_the_source_alone(
    kind: str, sources: dict[str, tuple[str, Path]], tmp_path: Path
) -> None:
    uri, folder = sources[kind]
    before = snapshot(folder)
    store = open_store(str(tmp_path / "tane"))
    events: list[ImportEvent] = []
    report = import_mlflow(uri, store, progress=events.append)

    assert snapshot(folder) == before
    assert len(report.imported) == 6 and not report.present
    assert report.deleted == 2 and report.deleted_experiments == ["old"]
    assert sorted(report.experiments_created) == ["digits", "iris"]
    assert report.points == 300 + 200 + 250 + 120 + 100 + 50 + 6 * 3
    assert report.artifacts == 4
    assert report.bytes == len(WEIGHTS) + len("lr: 0.05\n") + 2 * len("1 0.5\n2 0.4\n")
    assert [r.name for r in report.running] == ["live"]
    names = [r.name for r in report.imported]
    assert names.index("sweep") < names.index("trial-0") and names.index("sweep") < names.index(
        "trial-1"
    )
    assert events[0].kind == "plan" and events[0].count == 6
    if kind == "sqlite":
        assert any("copy" in note for note in report.notes)

    copies = check_copy(uri, store, tmp_path / "scratch")
    sweep = next(c for c in copies.values() if c.name == "sweep")
    assert sweep.note == "## Findings\nlr 0.05"
    assert store.get_experiment("iris").tags["team"] == "ml"
    assert {c.name for c in copies.values() if c.parent_id == sweep.id} == {"trial-0", "trial-1"}

    again = import_mlflow(uri, store)
    assert snapshot(folder) == before
    assert len(again.present) == 5
    # A run still running in MLflow is looked at again, and gets nothing twice.
    assert [(r.name, r.points, r.artifacts, r.resumed) for r in again.imported] == [
        ("live", 0, 0, True)
    ]
    assert len(store.search_runs(view="all").runs) == 6
    check_copy(uri, store, tmp_path / "scratch")


def test_an_interrupted_import_completes_without_duplicates(
    sources: dict[str, tuple[str, Path]], tmp_path: Path
) -> None:
    uri, _ = sources["file"]
    store = open_store(str(tmp_path / "tane"))

    class Stop(BaseException):
        pass

    def stop_midway(event: ImportEvent) -> None:
        if event.kind == "artifact" and event.name == "sweep":
            raise Stop

    with pytest.raises(Stop):
        import_mlflow(uri, store, progress=stop_midway)
    half = next(r for r in store.search_runs().runs if r.name == "sweep")
    assert IMPORT_COMPLETE_TAG not in half.tags

    report = import_mlflow(uri, store)
    # ("live", still running in MLflow, is looked at again if it came before the stop.)
    resumed = [r for r in report.imported if r.resumed and r.name != "live"]
    assert [r.name for r in resumed] == ["sweep"] and resumed[0].points == 0
    assert resumed[0].artifacts == 3  # one of the four files arrived before the stop
    check_copy(uri, store, tmp_path / "scratch")


def test_a_running_mlflow_run_is_completed_by_the_next_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("live", artifact_location=(tmp_path / "a").as_uri())
    run_id = client.create_run(experiment, run_name="training").info.run_id
    client.log_batch(run_id, metrics=[Metric("loss", 1.0, 1000 + i, i) for i in range(10)])
    store = open_store(str(tmp_path / "tane"))
    import_mlflow(uri, store)
    client.log_batch(run_id, metrics=[Metric("loss", 0.5, 2000 + i, 10 + i) for i in range(5)])
    client.set_terminated(run_id, "FINISHED")

    report = import_mlflow(uri, store)
    assert [(r.points, r.status) for r in report.imported] == [(5, "FINISHED")]
    (copy,) = store.search_runs().runs
    assert copy.status is RunStatus.FINISHED and copy.end_time is not None
    assert len(store.get_metric_history(copy.id, "loss")) == 15
    assert import_mlflow(uri, store).imported == []


def test_an_old_sqlite_schema_is_upgraded_on_a_copy(
    sources: dict[str, tuple[str, Path]], tmp_path: Path
) -> None:
    from alembic import command
    from mlflow.store.db.utils import _get_alembic_config

    source = tmp_path / "old.db"
    shutil.copy(sources["sqlite"][1] / "mlflow.db", source)
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{source}")
    with engine.begin() as conn:
        config = _get_alembic_config(f"sqlite:///{source}")
        config.attributes["connection"] = conn
        command.downgrade(config, "-1")
    engine.dispose()
    digest = hashlib.sha256(source.read_bytes()).hexdigest()

    report = import_mlflow(f"sqlite:///{source}", open_store(str(tmp_path / "tane")))
    assert len(report.imported) == 6
    assert any("upgraded the copy's schema" in note for note in report.notes)
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest

    with sqlite3.connect(source) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    conn.close()
    with pytest.raises(SchemaVersionError, match="newer MLflow"):
        import_mlflow(f"sqlite:///{source}", open_store(str(tmp_path / "tane")))


def test_what_is_not_an_mlflow_store_says_so(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "tane"))
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("hello")
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    for source in (
        str(tmp_path / "plain"),
        str(tmp_path / "missing"),
        f"sqlite:///{tmp_path}/tane/tane.db",  # a tane store
        f"sqlite:///{tmp_path}/junk.db",
        f"sqlite:///{tmp_path}/missing.db",
    ):
        with pytest.raises(InvalidInput, match="is not an MLflow tracking store: expected"):
            import_mlflow(source, store)
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == ["notes.txt"]
    assert not (tmp_path / "missing").exists() and not (tmp_path / "missing.db").exists()


def test_experiments_can_be_chosen(sources: dict[str, tuple[str, Path]], tmp_path: Path) -> None:
    uri, _ = sources["file"]
    store = open_store(str(tmp_path / "tane"))
    report = import_mlflow(uri, store, ["digits"], dry_run=True)
    assert sorted(r.name for r in report.imported) == ["killed", "live"]
    assert store.search_runs().runs == []
    with pytest.raises(
        ExperimentNotFound, match="no experiment 'nope'.*it has: Default, digits, iris"
    ):
        import_mlflow(uri, store, ["nope"])


def test_cli(sources: dict[str, tuple[str, Path]], tmp_path: Path) -> None:
    uri, _ = sources["sqlite"]
    target = str(tmp_path / "tane")
    runner = CliRunner()
    dry = runner.invoke(main, ["--store", target, "import", "mlflow", "--from", uri, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Dry run: would import 6 runs" in dry.output
    assert not Path(target).exists()

    first = runner.invoke(
        main, ["--store", target, "import", "mlflow", "--from", uri, "-e", "iris"]
    )
    assert first.exit_code == 0, first.output
    assert "Imported 3 runs" in first.output and "759 points" in first.output
    second = runner.invoke(main, ["--store", target, "import", "mlflow", "--from", uri])
    assert second.exit_code == 0, second.output
    assert "Imported 3 runs" in second.output and "3 imported before" in second.output
    assert "1 run still running in MLflow" in second.output

    bad = runner.invoke(main, ["--store", target, "import", "mlflow", "--from", str(tmp_path)])
    assert bad.exit_code == 1
    assert bad.output.count("\n") == 1 and "is not an MLflow tracking store" in bad.output
    down = runner.invoke(
        main, ["--store", target, "import", "mlflow", "--from", "http://127.0.0.1:9"]
    )
    assert down.exit_code == 1 and "cannot reach the MLflow server" in down.output


def test_import_from_an_mlflow_server_over_http(tmp_path: Path) -> None:
    """The http(s):// source, read with MLflow's REST client. The server is a tane server
    answering MLflow's REST API (tests/server/test_mlflow_compat.py checks that API
    against the mlflow client): the same client calls as against `mlflow server`."""
    from tane.server import create_app
    from tane.testing.server import LiveServer
    from tane.tracking.stores.sql import SqlStore

    served = SqlStore(f"sqlite:///{tmp_path / 'server.db'}", str(tmp_path / "server-artifacts"))
    with LiveServer(app=create_app(store=served)) as server:
        fill(server.url, tmp_path / "source")
        target = open_store(str(tmp_path / "tane"))
        report = import_mlflow(server.url, target)
        assert len(report.imported) >= 5
        check_copy(server.url, target, tmp_path / "scratch")
        again = import_mlflow(server.url, target)
        assert all(r.resumed for r in again.imported)  # only the running run, nothing twice
    served.close()
