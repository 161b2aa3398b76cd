"""Import runs recorded by MLflow into a tane store: ``tane import mlflow``.

The source is read with MLflow's own client (``mlflow-skinny``, the ``mlflow``
extra), so whatever MLflow can read is read the way MLflow reads it:

- ``sqlite:///mlflow.db``: MLflow's client may migrate an old schema when it opens
  a database, so the file is copied to a temporary folder first and the copy is
  read (and upgraded, if needed). The source file is never opened for writing.
- a folder such as ``./mlruns`` (MLflow's file store): read in place. MLflow
  creates a ``.trash`` folder in a store lacking one; such a store's metadata
  (everything but artifacts) is read from a copy instead.
- ``http(s)://host``: an MLflow server, through its REST API.

An imported run keeps its experiment (by name; MLflow's experiment ``0`` becomes
``Default``), name, status, start and end time, params, every point of every
metric (steps and timestamps), tags (``mlflow.*`` ones too; ``mlflow.note.content``
also becomes the run's note), every artifact file (folders kept) and its parent
(``mlflow.parentRunId``; parents are imported before their children). Deleted
runs and experiments are left out.

Each copy is tagged ``tane.imported_from`` (``mlflow:<MLflow run id>``) when it
is created and ``tane.import.complete`` (the MLflow status) when it is done.
Before importing, the target is searched for those tags, so importing again
imports nothing twice; an import that was cut off is completed by the next one
(only the points and files the copy lacks are sent), and a run that was still
running in MLflow gets what it logged since.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from tane.errors import (
    ExperimentNotFound,
    InvalidInput,
    NotAuthenticated,
    SchemaVersionError,
    StoreError,
    StoreUnavailable,
    TaneError,
)
from tane.tracking.entities import DEFAULT_EXPERIMENT_NAME, Experiment, Metric, Run, RunStatus
from tane.tracking.push import _chunks, _missing, _quoted, _search_all, _walk
from tane.tracking.stores.base import Store

__all__ = [
    "IMPORTED_FROM_TAG",
    "IMPORT_COMPLETE_TAG",
    "ImportEvent",
    "ImportReport",
    "ImportedRun",
    "import_mlflow",
]

#: Tag of an imported run: ``mlflow:`` and the id of the MLflow run it was copied from.
IMPORTED_FROM_TAG = "tane.imported_from"
#: Tag set last on an imported run: the MLflow status that was copied.
IMPORT_COMPLETE_TAG = "tane.import.complete"
#: Metric points sent per ``log_batch`` call.
POINTS_PER_BATCH = 10_000
#: Params or tags sent per ``log_batch`` call.
KEYS_PER_BATCH = 1_000
#: Source run ids looked up on the target per search.
IDS_PER_LOOKUP = 200
#: Runs read from MLflow per search request.
RUNS_PER_PAGE = 1_000

_PREFIX = "mlflow:"
_MARKERS = (IMPORTED_FROM_TAG, IMPORT_COMPLETE_TAG)
_STATUSES = {
    "FINISHED": RunStatus.FINISHED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.KILLED,
    "RUNNING": RunStatus.RUNNING,
    # Created by MLflow Projects and never started: nothing final to say about it yet.
    "SCHEDULED": RunStatus.RUNNING,
}
_FINAL = ("FINISHED", "FAILED", "KILLED")
_SQLITE_TABLES = {"experiments", "runs", "metrics", "params", "tags", "alembic_version"}


def not_mlflow(source: str, why: str = "") -> InvalidInput:
    """The error for a source that is not an MLflow tracking store."""
    because = f" ({why})" if why else ""
    return InvalidInput(
        f"{source} is not an MLflow tracking store: expected sqlite:///mlflow.db with "
        "MLflow's tables, a folder like ./mlruns with experiment folders, or http(s)://host "
        f"of an MLflow server{because}"
    )


@dataclass
class ImportedRun:
    """A run imported (or, in a dry run, to be imported) and what was sent for it.

    ``resumed`` is True when an earlier import had started the copy (cut off, or
    the run was still running in MLflow then).
    """

    source_id: str
    target_id: str
    name: str
    experiment: str
    status: str
    points: int = 0
    artifacts: int = 0
    bytes: int = 0
    resumed: bool = False


@dataclass
class ImportReport:
    """What an import did.

    Attributes:
        source: The MLflow store read.
        target: The tane store's URI.
        imported: The runs imported (to be imported, in a dry run), parents first.
        present: MLflow ids of runs imported completely before: skipped.
        deleted: Deleted MLflow runs left out (those of deleted experiments too).
        deleted_experiments: Names of the deleted MLflow experiments left out.
        experiments_created: Experiments created in the target (to be, in a dry run).
        notes: How the source was read (a copy of the database, a schema upgraded there).
        dry_run: Nothing was written.
    """

    source: str
    target: str
    imported: list[ImportedRun] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    deleted: int = 0
    deleted_experiments: list[str] = field(default_factory=list)
    experiments_created: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def points(self) -> int:
        """Metric points sent."""
        return sum(r.points for r in self.imported)

    @property
    def artifacts(self) -> int:
        """Artifact files sent."""
        return sum(r.artifacts for r in self.imported)

    @property
    def bytes(self) -> int:
        """Bytes of artifact files sent."""
        return sum(r.bytes for r in self.imported)

    @property
    def running(self) -> list[ImportedRun]:
        """Runs imported while still running (or scheduled) in MLflow."""
        return [r for r in self.imported if r.status not in _FINAL]


@dataclass(frozen=True)
class ImportEvent:
    """Progress of an import, given to the ``progress`` callback.

    ``kind`` is one of:

    - ``plan``: ``count`` runs are to be imported;
    - ``start``: importing run ``name`` starts (``detail`` "new" or "resume");
    - ``points``: ``count`` metric points of ``name`` were sent;
    - ``artifact``: the file ``detail`` of ``name`` (``count`` bytes) was sent;
    - ``done``: ``name`` is imported; ``imported`` says what was sent;
    - ``skip``: ``name`` was imported before.
    """

    kind: Literal["plan", "start", "points", "artifact", "done", "skip"]
    name: str = ""
    count: int = 0
    detail: str = ""
    imported: ImportedRun | None = None


Progress = Callable[[ImportEvent], None]


def import_mlflow(
    source: str,
    target: Store,
    experiments: Sequence[str] | None = None,
    progress: Progress | None = None,
    *,
    dry_run: bool = False,
) -> ImportReport:
    """Copy the runs of an MLflow tracking store that ``target`` lacks; return what was done.

    Args:
        source: ``sqlite:///mlflow.db``, a folder such as ``./mlruns``, or
            ``http(s)://host`` of an MLflow server. It is never modified.
        target: The tane store to import into.
        experiments: Only these MLflow experiments (names or ids); all when None.
        progress: Called with an :class:`ImportEvent` as the import goes.
        dry_run: Decide what would be imported, write nothing.

    Raises:
        TaneError: The ``mlflow`` package is not installed.
        InvalidInput: ``source`` is not an MLflow tracking store.
        StoreUnavailable: The MLflow server cannot be reached; importing again
            completes what this import started.
        ExperimentNotFound: An experiment of ``experiments`` is not in the source.
        SchemaVersionError: The database was written by a newer MLflow.
    """
    report = ImportReport(source=source, target=target.uri, dry_run=dry_run)
    with _opened(source, report) as (client, local):
        importer = _Importer(client, target, report, progress or _ignore, local)
        try:
            importer.run(experiments)
        except Exception as exc:
            if _from_mlflow(exc):
                raise _source_error(source, exc) from exc
            raise
    return report


def _ignore(event: ImportEvent) -> None:
    pass


# -- opening the source ------------------------------------------------------------


@contextlib.contextmanager
def _opened(source: str, report: ImportReport) -> Iterator[tuple[Any, bool]]:
    """Yield an MlflowClient reading ``source`` (or a copy of it) and whether its
    artifacts may be local files."""
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise TaneError(
            "importing from MLflow needs the mlflow package: pip install 'tane[mlflow]'"
        ) from None
    scheme = source.split("://", 1)[0].lower() if "://" in source else ""
    with tempfile.TemporaryDirectory(prefix="tane-import-mlflow-") as tmp:
        if scheme in ("http", "https"):
            _probe_server(source)
            yield MlflowClient(tracking_uri=source), False
        elif scheme.startswith("sqlite"):
            copy = _sqlite_copy(source, Path(tmp), report)
            client = MlflowClient(tracking_uri=f"sqlite:///{copy}")
            try:
                yield client, True
            finally:
                _dispose_engines(f"sqlite:///{copy}")
        elif scheme in ("", "file"):
            root = _folder(source)
            with _file_store_allowed():
                if not (root / ".trash").is_dir():
                    root = _metadata_copy(root, Path(tmp) / "mlruns")
                    report.notes.append(
                        f"{source} has no .trash folder, which MLflow would create: its "
                        "metadata was read from a copy"
                    )
                yield MlflowClient(tracking_uri=str(root)), True
        else:
            raise not_mlflow(
                source,
                f"tane reads MLflow's sqlite:/// databases, file stores and servers; for a "
                f"{scheme} database, import through the MLflow server in front of it",
            )


def _probe_server(url: str) -> None:
    """Fail fast, in one line, on a server that is down or is not MLflow's.

    MlflowClient retries a dead server for minutes before it gives up.
    """
    import httpx

    headers = {}
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    user, password = (
        os.environ.get("MLFLOW_TRACKING_USERNAME"),
        os.environ.get("MLFLOW_TRACKING_PASSWORD"),
    )
    auth = (user, password or "") if user else None
    insecure = os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() in ("1", "true")
    try:
        response = httpx.post(
            url.rstrip("/") + "/api/2.0/mlflow/experiments/search",
            json={"max_results": 1},
            headers=headers,
            auth=auth,
            timeout=15,
            verify=not insecure,
        )
    except httpx.HTTPError as exc:
        raise StoreUnavailable(
            f"cannot reach the MLflow server at {url} ({exc}): check the address and that "
            "the server runs"
        ) from None
    if response.status_code in (401, 403):
        raise NotAuthenticated(
            f"the MLflow server at {url} refused access (HTTP {response.status_code}): set "
            "MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) or "error_code" in body:
        raise not_mlflow(url, f"HTTP {response.status_code} from its MLflow API")


def _sqlite_copy(source: str, tmp: Path, report: ImportReport) -> Path:
    """Copy an MLflow SQLite database into ``tmp`` and make the copy readable by MLflow."""
    from tane.tracking.stores._common import sqlite_path

    name = sqlite_path(source)
    if name is None:
        raise not_mlflow(source, "an in-memory database")
    path = Path(name).expanduser()
    if not path.is_file():
        raise not_mlflow(source, f"there is no file {path}")
    copy = tmp / "mlflow.db"
    try:
        # The backup API takes a consistent snapshot; mode=ro never writes the source.
        with (
            contextlib.closing(
                sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            ) as original,
            contextlib.closing(sqlite3.connect(copy)) as duplicate,
        ):
            original.backup(duplicate)
            tables = {
                row[0]
                for row in duplicate.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if not tables >= _SQLITE_TABLES:
                raise not_mlflow(source, "it lacks MLflow's tables")
            columns = {row[1] for row in duplicate.execute("PRAGMA table_info(runs)")}
            if "run_uuid" not in columns:
                raise not_mlflow(source, "its runs table is not MLflow's")
            row = duplicate.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise not_mlflow(source, str(exc)) from None
    report.notes.append(f"read a copy of {path}: MLflow may upgrade a database it opens")
    _upgrade_copy(source, copy, row[0] if row else None, report)
    return copy


def _upgrade_copy(source: str, copy: Path, revision: str | None, report: ImportReport) -> None:
    """Bring the copy's schema to the revision this MLflow reads, as MLflow would."""
    from mlflow.store.db import utils

    head = utils._get_latest_schema_revision()  # type: ignore[no-untyped-call]
    if revision == head:
        return
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    config = utils._get_alembic_config(db_url="")  # type: ignore[no-untyped-call]
    script = ScriptDirectory.from_config(config)
    try:
        known = revision is not None and script.get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        import mlflow

        raise SchemaVersionError(
            f"{source} has MLflow schema revision {revision}, which mlflow-skinny "
            f"{mlflow.__version__} does not know: it was written by a newer MLflow; "
            "upgrade with pip install -U mlflow-skinny"
        )
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{copy}")
    try:
        utils._upgrade_db(engine)  # type: ignore[no-untyped-call]
    finally:
        engine.dispose()
    report.notes.append(f"upgraded the copy's schema from MLflow revision {revision} to {head}")


def _dispose_engines(uri: str) -> None:
    """Close the connections MLflow keeps open on the database copy."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    engines = getattr(SqlAlchemyStore, "_engine_map", {})
    engine = engines.pop(uri, None)
    if engine is not None:
        engine.dispose()


def _folder(source: str) -> Path:
    """The root of an MLflow file store; refuse a folder that is not one."""
    path = Path(unquote(urlparse(source).path) if source.startswith("file:") else source)
    root = path.expanduser()
    if not root.is_dir():
        raise not_mlflow(source, "no such folder" if not root.exists() else "not a folder")
    for child in root.iterdir():
        if child.name.isdigit() and (child / "meta.yaml").is_file():
            return root
    if (root / ".trash").is_dir():
        return root
    raise not_mlflow(source, "no experiment folders with a meta.yaml in it")


@contextlib.contextmanager
def _file_store_allowed() -> Iterator[None]:
    """Let MLflow 3 open a file store, which it refuses unless asked."""
    before = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = before


def _metadata_copy(root: Path, copy: Path) -> Path:
    """Copy a file store without its runs' artifacts (which stay where meta.yaml says)."""

    def artifacts(folder: str, names: list[str]) -> list[str]:
        return ["artifacts"] if "meta.yaml" in names and "artifacts" in names else []

    shutil.copytree(root, copy, ignore=artifacts, symlinks=True)
    (copy / ".trash").mkdir(exist_ok=True)
    return copy


def _from_mlflow(exc: Exception) -> bool:
    """Whether MLflow's client (or the HTTP library under it) raised ``exc``."""
    module = type(exc).__module__ or ""
    return not isinstance(exc, TaneError) and module.startswith(("mlflow", "requests", "urllib3"))


def _source_error(source: str, exc: Exception) -> StoreError:
    """A tane error, in one line, for what MLflow's client raised while reading."""
    message = " ".join(str(getattr(exc, "message", None) or exc).split())
    lower = message.lower()
    if "max retries" in lower or "connection" in lower or "timed out" in lower:
        return StoreUnavailable(
            f"lost the MLflow server at {source} ({message[:300]}): import again to "
            "complete the import; nothing is imported twice"
        )
    return StoreError(f"reading the MLflow store {source} failed: {message[:500]}")


# -- importing -----------------------------------------------------------------------


class _Importer:
    """Reads the MLflow runs in order, parents first, and copies what the target lacks."""

    def __init__(
        self, client: Any, target: Store, report: ImportReport, emit: Progress, local: bool
    ) -> None:
        self.client = client
        self.target = target
        self.report = report
        self.emit = emit
        self.local = local
        self.mapping: dict[str, str] = {}  # MLflow run id -> tane run id
        self.experiments = {e.name: e for e in target.list_experiments(include_deleted=True)}

    def run(self, names: Sequence[str] | None) -> None:
        from mlflow.entities import ViewType

        chosen = self._choose(names)
        runs: list[Any] = []
        for experiment in chosen:
            runs += self._search(experiment.experiment_id, ViewType.ACTIVE_ONLY)
            self.report.deleted += len(
                self._search(experiment.experiment_id, ViewType.DELETED_ONLY)
            )
        ordered = _parents_first(runs)
        parents = {_tags(r).get("mlflow.parentRunId") for r in ordered} - {None}
        found = _find_imported(self.target, [r.info.run_id for r in ordered], parents)
        self.mapping = {source_id: copy.id for source_id, copy in found.items()}
        by_id = {e.experiment_id: e for e in chosen}
        todo: list[tuple[Any, Run | None]] = []
        for run in ordered:
            copy = found.get(run.info.run_id)
            if copy is not None and _complete(copy, run.info.status):
                self.report.present.append(run.info.run_id)
                self.emit(ImportEvent("skip", _name(run), detail="imported before"))
            else:
                todo.append((run, copy))
        self.emit(ImportEvent("plan", count=len(todo)))
        for run, copy in todo:
            experiment = by_id[run.info.experiment_id]
            if self.report.dry_run:
                self._plan(run, copy, experiment)
            else:
                self._import(run, copy, experiment)

    # -- choosing ---------------------------------------------------------------------

    def _choose(self, names: Sequence[str] | None) -> list[Any]:
        from mlflow.entities import ViewType

        active = self._experiments(ViewType.ACTIVE_ONLY)
        deleted = self._experiments(ViewType.DELETED_ONLY)
        if names:
            chosen = []
            for name in names:
                match = [e for e in active if name in (e.name, e.experiment_id)]
                if not match:
                    have = ", ".join(sorted(e.name for e in active)) or "none"
                    gone = " (it is deleted there)" if any(name == e.name for e in deleted) else ""
                    raise ExperimentNotFound(
                        f"no experiment {name!r} in the MLflow store {self.report.source}{gone}; "
                        f"it has: {have}"
                    )
                chosen += [e for e in match if e not in chosen]
            return chosen
        for experiment in deleted:
            self.report.deleted_experiments.append(experiment.name)
            self.report.deleted += len(self._search(experiment.experiment_id, ViewType.ALL))
        return active

    def _experiments(self, view: Any) -> list[Any]:
        found: list[Any] = []
        token = None
        while True:
            page = self.client.search_experiments(
                view_type=view, max_results=RUNS_PER_PAGE, page_token=token
            )
            found += page
            token = page.token
            if not token:
                return sorted(
                    found, key=lambda e: int(e.experiment_id) if e.experiment_id.isdigit() else 0
                )

    def _search(self, experiment_id: str, view: Any) -> list[Any]:
        found: list[Any] = []
        token = None
        while True:
            page = self.client.search_runs(
                [experiment_id],
                run_view_type=view,
                max_results=RUNS_PER_PAGE,
                order_by=["attributes.start_time ASC"],
                page_token=token,
            )
            found += page
            token = page.token
            if not token:
                return found

    # -- one run ----------------------------------------------------------------------

    def _plan(self, run: Any, copy: Run | None, experiment: Any) -> None:
        name = _target_name(experiment)
        if name not in self.experiments:
            self.experiments[name] = Experiment("", name, 0, 0)
            self.report.experiments_created.append(name)
        imported = ImportedRun(
            run.info.run_id,
            copy.id if copy else "",
            _name(run),
            name,
            run.info.status,
            resumed=copy is not None,
        )
        self.report.imported.append(imported)
        self.emit(ImportEvent("done", imported.name, imported=imported))

    def _import(self, run: Any, copy: Run | None, experiment: Any) -> None:
        name = _name(run)
        self.emit(ImportEvent("start", name, detail="resume" if copy else "new"))
        tags = sorted((k, v) for k, v in _tags(run).items() if k not in _MARKERS)
        marker = {IMPORTED_FROM_TAG: _PREFIX + run.info.run_id}
        if copy is None:
            parent = _tags(run).get("mlflow.parentRunId")
            # The marker is written with the run, in one transaction: a copy can be
            # incomplete, never unmarked.
            created = self.target.create_run(
                self._experiment(experiment).id,
                name,
                parent_id=self.mapping.get(parent) if parent else None,
                tags={**dict(tags[:KEYS_PER_BATCH]), **marker},
                start_time=run.info.start_time or None,
            )
            target_id = created.id
            rest = tags[KEYS_PER_BATCH:]
        else:
            target_id = copy.id
            rest = [*tags, *marker.items()]
        self.mapping[run.info.run_id] = target_id
        imported = ImportedRun(
            run.info.run_id,
            target_id,
            name,
            _target_name(experiment),
            run.info.status,
            resumed=copy is not None,
        )
        for batch in _chunks(rest, KEYS_PER_BATCH):
            self.target.log_batch(target_id, tags=dict(batch))
        for params in _chunks(sorted(run.data.params.items()), KEYS_PER_BATCH):
            self.target.log_batch(target_id, params=dict(params))
        self._metrics(run, imported)
        self._artifacts(run, imported)
        status = _STATUSES.get(run.info.status, RunStatus.RUNNING)
        self.target.update_run(
            target_id,
            status=status if status.is_final else None,
            end_time=run.info.end_time if status.is_final else None,
            name=name,
            note=_tags(run).get("mlflow.note.content", ""),
        )
        self.target.log_batch(target_id, tags={IMPORT_COMPLETE_TAG: run.info.status})
        self.report.imported.append(imported)
        self.emit(ImportEvent("done", name, imported=imported))

    def _experiment(self, experiment: Any) -> Experiment:
        name = _target_name(experiment)
        found = self.experiments.get(name)
        if found is not None:
            return found
        try:
            created = self.target.create_experiment(name, dict(experiment.tags or {}))
        except InvalidInput:  # created meanwhile by someone else
            created = self.target.get_or_create_experiment(name)
        else:
            self.report.experiments_created.append(name)
        self.experiments[name] = created
        return created

    def _metrics(self, run: Any, imported: ImportedRun) -> None:
        for key in sorted(run.data.metrics):
            points = [
                Metric(m.key, float(m.value), int(m.step or 0), int(m.timestamp))
                for m in self.client.get_metric_history(run.info.run_id, key)
            ]
            if imported.resumed:
                points = _missing(points, self.target.get_metric_history(imported.target_id, key))
            for batch in _chunks(points, POINTS_PER_BATCH):
                self.target.log_batch(
                    imported.target_id, [(p.key, p.value, p.step, p.timestamp) for p in batch]
                )
                imported.points += len(batch)
                self.emit(ImportEvent("points", imported.name, count=len(batch)))

    def _artifacts(self, run: Any, imported: ImportedRun) -> None:
        there: dict[str, int | None] = {}
        if imported.resumed:
            there = {a.path: a.size for a in _walk(self.target, imported.target_id)}
        base = self._local_root(run.info.artifact_uri)
        with tempfile.TemporaryDirectory(prefix="tane-import-mlflow-") as tmp:
            for path, size in self._files(run.info.run_id, None):
                if imported.resumed and size is not None and there.get(path) == size:
                    continue  # copied by an earlier import (writes of a file are atomic)
                folder = posixpath.dirname(path) or None
                local = os.path.join(base, *path.split("/")) if base else None
                if local is None or not os.path.isfile(local) or os.path.getsize(local) != size:
                    # One file at a time through a temporary folder: never whole in memory.
                    local = self.client.download_artifacts(run.info.run_id, path, tmp)
                self.target.log_artifact(imported.target_id, local, folder)
                sent = os.path.getsize(local)
                if local.startswith(tmp):
                    os.unlink(local)
                imported.artifacts += 1
                imported.bytes += sent
                self.emit(ImportEvent("artifact", imported.name, count=sent, detail=path))

    def _files(self, run_id: str, path: str | None) -> Iterator[tuple[str, int | None]]:
        for info in self.client.list_artifacts(run_id, path):
            if info.is_dir:
                if info.path != path:
                    yield from self._files(run_id, info.path)
            else:
                yield info.path, info.file_size

    def _local_root(self, uri: str | None) -> str | None:
        """The folder of a run's artifacts when the source keeps them in local files."""
        if not self.local or not uri:
            return None
        if uri.startswith("file:"):
            return unquote(urlparse(uri).path)
        if "://" in uri or uri.startswith("mlflow-artifacts:"):
            return None
        return uri


# -- helpers ---------------------------------------------------------------------------


def _tags(run: Any) -> dict[str, str]:
    return dict(run.data.tags)


def _name(run: Any) -> str:
    name = run.info.run_name or _tags(run).get("mlflow.runName") or run.info.run_id[:8]
    return str(name)


def _target_name(experiment: Any) -> str:
    """MLflow's experiment ``0`` is tane's ``Default``; others keep their names."""
    return DEFAULT_EXPERIMENT_NAME if experiment.experiment_id == "0" else str(experiment.name)


def _parents_first(runs: Sequence[Any]) -> list[Any]:
    """The runs ordered so that a run's parent (when among them) comes before it."""
    by_id = {r.info.run_id: r for r in runs}
    ordered: list[Any] = []
    placed: set[str] = set()
    for run in runs:
        chain = []
        current: Any = run
        while current is not None and current.info.run_id not in placed:
            chain.append(current)
            placed.add(current.info.run_id)
            current = by_id.get(_tags(current).get("mlflow.parentRunId", ""))
        ordered += reversed(chain)
    return ordered


def _find_imported(target: Store, run_ids: Sequence[str], parents: set[Any]) -> dict[str, Run]:
    """Return, per MLflow run id, its copy in the target (if any), searched in bulk.

    Of several copies (one deleted in tane and imported again), the best is a
    complete active one, then a complete deleted one, then an incomplete active one.
    """
    wanted = [_PREFIX + i for i in dict.fromkeys([*run_ids, *sorted(parents)])]
    copies: dict[str, list[Run]] = {}
    for ids in _chunks(wanted, IDS_PER_LOOKUP):
        query = f"tags.`{IMPORTED_FROM_TAG}` IN ({_quoted(ids)})"
        for copy in _search_all(target, None, query, "all"):
            copies.setdefault(copy.tags[IMPORTED_FROM_TAG][len(_PREFIX) :], []).append(copy)
    found = {}
    for source_id, candidates in copies.items():
        best = min(candidates, key=_rank)
        if _rank(best) < 3:
            found[source_id] = best
    return found


def _complete(copy: Run, status: str) -> bool:
    """Whether a copy needs nothing more: imported to the end from a run that had ended.

    A copy deleted in tane stays deleted: it is never imported again.
    """
    return copy.deleted or (copy.tags.get(IMPORT_COMPLETE_TAG) == status and status in _FINAL)


def _rank(copy: Run) -> int:
    if IMPORT_COMPLETE_TAG in copy.tags:
        return 1 if copy.deleted else 0
    return 3 if copy.deleted else 2
