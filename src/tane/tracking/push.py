"""Copy runs from one store to another: ``tane push`` (from a laptop to the team server).

A pushed run keeps its name, status, times, note, params, tags, every point of
every metric (steps and timestamps), every artifact file and its parent. The
copy is marked on the target with two tags:

- ``tane.pushed_from``: the source run's id, set when the copy is created;
- ``tane.push.complete``: the source status copied, set last.

Before copying, the target is searched for those tags (a few ids per request),
so a run already copied completely is skipped, and a copy that an earlier push
left incomplete (the server went away, Ctrl-C) is completed in place: only the
metric points and artifact files it lacks are sent. Pushing twice copies nothing
twice.

Runs refer to other runs by id (``parent_id``, tags such as ``tane.parent_context``
and ``tane.sweep.best_run``, the ``run_id`` fields of a sweep's ``sweep.json``).
Ids of runs pushed (now or before) are replaced by their ids on the target. A sweep
refers to its trials, which are pushed after it (parents come first), so its tags,
``sweep.json`` and completion mark are written once its trials are there.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from tane.errors import ExperimentNotFound, InvalidInput, RunNotFound, StoreUnavailable
from tane.tracking.entities import ArtifactInfo, Experiment, Metric, Run, RunStatus
from tane.tracking.stores.base import RunView, Store

__all__ = [
    "PUSHED_FROM_TAG",
    "PUSH_COMPLETE_TAG",
    "PushEvent",
    "PushReport",
    "PushedRun",
    "push_runs",
]

#: Tag of a pushed run on the target: the id of the run it was copied from.
PUSHED_FROM_TAG = "tane.pushed_from"
#: Tag set last on a pushed run: the source status that was copied.
PUSH_COMPLETE_TAG = "tane.push.complete"
#: Metric points sent per ``log_batch`` call.
POINTS_PER_BATCH = 10_000
#: Params or tags sent per ``log_batch`` call.
KEYS_PER_BATCH = 1_000
#: Source run ids looked up on the target per search.
IDS_PER_LOOKUP = 200
#: Artifact files up to this size are read into memory and sent as bytes; larger
#: ones are streamed through a temporary file.
SMALL_FILE = 1024 * 1024
#: Root artifacts whose JSON holds run ids under ``run_id`` keys (remapped when
#: pushed), and the largest such file read for that.
DOCUMENTS_WITH_RUN_IDS = ("sweep.json",)
MAX_DOCUMENT = 16 * 1024 * 1024

_RUN_ID = re.compile(r"[0-9a-f]{32}")
_MARKERS = (PUSHED_FROM_TAG, PUSH_COMPLETE_TAG)
_T = TypeVar("_T")


@dataclass
class PushedRun:
    """A run copied (or, in a dry run, to be copied) and what was sent for it.

    ``resumed`` is True when an earlier, interrupted push had started the copy.
    """

    source_id: str
    target_id: str
    name: str
    experiment: str
    points: int = 0
    artifacts: int = 0
    bytes: int = 0
    resumed: bool = False


@dataclass
class PushReport:
    """What a push did.

    Attributes:
        target: The target store's URI.
        pushed: The runs copied (to be copied, in a dry run), parents first.
        present: Source ids of runs already copied completely: skipped.
        running: Source ids of runs skipped because they (or a parent) are still running.
        deleted: How many deleted runs were left out.
        experiments_created: Experiments created on the target (to be, in a dry run).
        dry_run: Nothing was written.
    """

    target: str
    pushed: list[PushedRun] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    deleted: int = 0
    experiments_created: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def points(self) -> int:
        """Metric points sent."""
        return sum(r.points for r in self.pushed)

    @property
    def artifacts(self) -> int:
        """Artifact files sent."""
        return sum(r.artifacts for r in self.pushed)

    @property
    def bytes(self) -> int:
        """Bytes of artifact files sent."""
        return sum(r.bytes for r in self.pushed)


@dataclass(frozen=True)
class PushEvent:
    """Progress of a push, given to the ``progress`` callback.

    ``kind`` is one of:

    - ``plan``: ``count`` runs are to be copied;
    - ``start``: copying ``run`` starts (``detail`` "new" or "resume");
    - ``points``: ``count`` metric points of ``run`` were sent;
    - ``artifact``: the file ``detail`` of ``run`` (``count`` bytes) was sent;
    - ``done``: ``run`` is copied; ``pushed`` says what was sent;
    - ``skip``: ``run`` is not copied; ``detail`` says why ("already there",
      "running", "parent running").
    """

    kind: Literal["plan", "start", "points", "artifact", "done", "skip"]
    run: Run | None = None
    count: int = 0
    detail: str = ""
    pushed: PushedRun | None = None


Progress = Callable[[PushEvent], None]


def push_runs(
    source: Store,
    target: Store,
    experiment: str | None = None,
    run_ids: Sequence[str] | None = None,
    *,
    include_running: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> PushReport:
    """Copy runs of ``source`` that ``target`` lacks; return what was done.

    Args:
        source: The store to copy from.
        target: The store to copy to (a server's RestStore, or any other store).
        experiment: Only runs of this source experiment (name or id).
        run_ids: Only these runs (full ids) and their child runs; with
            ``experiment``, those of them in that experiment.
        include_running: Also copy runs still RUNNING (as they are now; the next
            push brings the rest of them). Otherwise they and their children
            are skipped.
        dry_run: Decide what would be copied, write nothing.
        progress: Called with a :class:`PushEvent` as the push goes.

    Experiments are matched by name and created on the target when missing. The
    parents of the chosen runs are pushed with them (before them), so that the
    links hold. Deleted runs are not pushed.

    Raises:
        InvalidInput: The target is the source store.
        ExperimentNotFound: ``experiment`` is not in the source store.
        RunNotFound: A run of ``run_ids`` is not in the source store.
        StoreUnavailable: A store cannot be reached; pushing again completes
            what this push started.
    """
    emit: Progress = progress or _ignore
    if source is target or _location(source.uri) == _location(target.uri):
        raise InvalidInput(
            f"cannot push store {source.uri} to itself: give another store (a tane server's "
            "URL) as the target"
        )
    report = PushReport(target=target.uri, dry_run=dry_run)
    target_experiments = {e.name: e for e in target.list_experiments(include_deleted=True)}
    chosen, report.deleted = _select(source, experiment, run_ids)
    if not chosen:
        emit(PushEvent("plan", count=0))
        return report
    _refuse_same_runs(source, target, chosen[0])

    referenced = {v for run in chosen for v in run.tags.values() if _RUN_ID.fullmatch(v)}
    found = _find_pushed(target, [*(r.id for r in chosen), *sorted(referenced)])
    mapping = {source_id: copy.id for source_id, copy in found.items()}

    todo: list[tuple[Run, Run | None]] = []
    waiting: set[str] = set()  # skipped as running: their children wait too
    for run in chosen:
        copy = found.get(run.id)
        done_as = copy.tags.get(PUSH_COMPLETE_TAG) if copy is not None else None
        if done_as is not None and done_as != RunStatus.RUNNING.value:
            # Pushed when it had ended: never again (even if resumed here since).
            report.present.append(run.id)
            emit(PushEvent("skip", run, detail="already there"))
        elif run.parent_id in waiting:
            waiting.add(run.id)
            report.running.append(run.id)
            emit(PushEvent("skip", run, detail="parent running"))
        elif run.status is RunStatus.RUNNING and not include_running:
            waiting.add(run.id)
            report.running.append(run.id)
            emit(PushEvent("skip", run, detail="running"))
        else:
            # A copy that is incomplete, or complete as a RUNNING snapshot, is
            # brought up to date in place (it cannot be used if deleted).
            todo.append((run, copy if copy is not None and not copy.deleted else None))
    emit(PushEvent("plan", count=len(todo)))

    pusher = _Pusher(source, target, report, emit, mapping, target_experiments)
    pusher.pending = {run.id for run, _ in todo}
    for run, copy in todo:
        if dry_run:
            pusher.plan(run, copy)
        else:
            pusher.push(run, copy)
    pusher.finish_deferred()
    return report


def _ignore(event: PushEvent) -> None:
    return None


# -- choosing the runs -----------------------------------------------------------------


def _select(
    source: Store, experiment: str | None, run_ids: Sequence[str] | None
) -> tuple[list[Run], int]:
    """Return the active runs to push, parents first, and how many deleted ones were left out."""
    chosen: dict[str, Run] = {}
    deleted = 0
    experiment_ids = None if experiment is None else [_source_experiment(source, experiment).id]
    if run_ids:
        for run_id in dict.fromkeys(run_ids):
            run = source.get_run(run_id)
            if run.deleted:
                deleted += 1
            else:
                chosen[run.id] = run
        frontier = list(chosen)
        while frontier:
            children = [
                child
                for ids in _chunks(frontier, IDS_PER_LOOKUP)
                for child in _search_all(
                    source, None, f"attributes.parent_id IN ({_quoted(ids)})", "active"
                )
                if child.id not in chosen
            ]
            chosen.update((child.id, child) for child in children)
            frontier = [child.id for child in children]
        if experiment_ids is not None:
            chosen = {k: r for k, r in chosen.items() if r.experiment_id == experiment_ids[0]}
    else:
        chosen = {r.id: r for r in _search_all(source, experiment_ids, "", "active")}
        deleted = sum(1 for _ in _search_all(source, experiment_ids, "", "deleted"))
    # Parents come along (the link to them must hold), unless deleted.
    for run in list(chosen.values()):
        parent_id = run.parent_id
        while parent_id and parent_id not in chosen:
            try:
                parent = source.get_run(parent_id)
            except RunNotFound:
                break
            if parent.deleted:
                break
            chosen[parent.id] = parent
            parent_id = parent.parent_id
    return _parents_first(chosen), deleted


def _parents_first(runs: Mapping[str, Run]) -> list[Run]:
    """The runs in start order, each parent directly followed by its children (depth first).

    Runs started in the same millisecond (a multirun's jobs) keep their name order.
    """
    children: dict[str | None, list[Run]] = {}
    for run in runs.values():
        parent = run.parent_id if run.parent_id in runs else None
        children.setdefault(parent, []).append(run)
    for group in children.values():
        group.sort(key=lambda r: (r.start_time, r.name or "", r.id), reverse=True)
    ordered: list[Run] = []
    stack = list(children.get(None, []))
    while stack:
        run = stack.pop()
        ordered.append(run)
        stack.extend(children.get(run.id, []))
    placed = {run.id for run in ordered}
    return ordered + [run for run in runs.values() if run.id not in placed]  # a parent cycle


def _source_experiment(source: Store, name: str) -> Experiment:
    try:
        return source.get_experiment(name)
    except ExperimentNotFound:
        raise ExperimentNotFound(
            f"no experiment {name!r} in store {source.uri}: `tane experiments ls` lists them"
        ) from None


def _search_all(
    store: Store, experiment_ids: list[str] | None, filter_string: str, view: RunView
) -> Iterator[Run]:
    token: str | None = None
    while True:
        page = store.search_runs(experiment_ids, filter_string, ("start_time",), 1000, token, view)
        yield from page.runs
        token = page.next_page_token
        if token is None:
            return


def _find_pushed(target: Store, source_ids: Sequence[str]) -> dict[str, Run]:
    """Return, per source run id, its copy on the target (if any), searched in bulk.

    Of several copies (a run deleted on the target and pushed again), the best
    is a complete active one, then a complete deleted one, then an incomplete
    active one (to complete).
    """
    copies: dict[str, list[Run]] = {}
    for ids in _chunks(list(dict.fromkeys(source_ids)), IDS_PER_LOOKUP):
        query = f"tags.`{PUSHED_FROM_TAG}` IN ({_quoted(ids)})"
        for copy in _search_all(target, None, query, "all"):
            copies.setdefault(copy.tags[PUSHED_FROM_TAG], []).append(copy)
    found = {}
    for source_id, candidates in copies.items():
        best = min(candidates, key=_copy_rank)
        if _copy_rank(best) < 3:
            found[source_id] = best
    return found


def _copy_rank(copy: Run) -> int:
    complete = PUSH_COMPLETE_TAG in copy.tags
    if complete:
        return 1 if copy.deleted else 0
    return 3 if copy.deleted else 2


def _refuse_same_runs(source: Store, target: Store, run: Run) -> None:
    """Refuse a target that holds the source's own runs (the same database behind a server)."""
    try:
        target.get_run(run.id)
    except RunNotFound:
        return
    raise InvalidInput(
        f"store {target.uri} already holds run {run.id} of {source.uri} under the same id: "
        "it serves the same store. Push to another store."
    )


def _location(uri: str) -> str:
    from tane.tracking.stores import database_location

    try:
        location, _ = database_location(uri)
    except Exception:  # an odd URI: compared as given
        location = uri
    return location.rstrip("/")


# -- copying ---------------------------------------------------------------------------


class _Pusher:
    """Copies runs one by one, keeping the map of source ids to target ids."""

    def __init__(
        self,
        source: Store,
        target: Store,
        report: PushReport,
        emit: Progress,
        mapping: dict[str, str],
        experiments: dict[str, Experiment],
    ) -> None:
        self.source = source
        self.target = target
        self.report = report
        self.emit = emit
        self.mapping = mapping
        self.experiments = experiments
        self.pending: set[str] = set()  # runs of this push not copied yet
        self.deferred: list[tuple[Run, PushedRun, dict[str, bytes]]] = []
        self._local_artifacts = not source.uri.lower().startswith(("http://", "https://"))

    # -- one run ----------------------------------------------------------------------

    def plan(self, run: Run, copy: Run | None) -> None:
        """Record what pushing ``run`` would do (dry run)."""
        if run.experiment not in self.experiments:
            self.experiments[run.experiment] = Experiment("", run.experiment, 0, 0)
            self.report.experiments_created.append(run.experiment)
        pushed = PushedRun(
            run.id,
            copy.id if copy else "",
            run.name,
            run.experiment,
            resumed=copy is not None,
        )
        self.report.pushed.append(pushed)
        self.emit(PushEvent("done", run, pushed=pushed))

    def push(self, run: Run, copy: Run | None) -> None:
        """Copy ``run`` (complete ``copy``, an earlier incomplete copy, if given)."""
        self.emit(PushEvent("start", run, detail="resume" if copy else "new"))
        target_id = self._create(run) if copy is None else self._update(run, copy)
        pushed = PushedRun(run.id, target_id, run.name, run.experiment, resumed=copy is not None)
        self.mapping[run.id] = target_id
        self.pending.discard(run.id)
        for params in _chunks(sorted(run.params.items()), KEYS_PER_BATCH):
            self.target.log_batch(target_id, params=dict(params))
        self._metrics(run, pushed)
        documents = self._artifacts(run, pushed)
        if self._references(run, documents) & self.pending:
            # It names runs pushed after it (a sweep its trials): finished once they are.
            self.deferred.append((run, pushed, documents))
        else:
            self._finish(run, pushed, documents)

    def finish_deferred(self) -> None:
        """Finish the runs that waited for the runs they name."""
        for run, pushed, documents in self.deferred:
            self._finish(run, pushed, documents)
        self.deferred.clear()

    def _create(self, run: Run) -> str:
        experiment = self._experiment(run)
        parent_id = self.mapping.get(run.parent_id) if run.parent_id else None
        tags = sorted(self._tags(run).items())
        first = dict(tags[:KEYS_PER_BATCH])
        first[PUSHED_FROM_TAG] = run.id
        # The marker is written with the run, in one transaction: a copy can be
        # incomplete, never unmarked.
        created = self.target.create_run(
            experiment.id, run.name, parent_id=parent_id, tags=first, start_time=run.start_time
        )
        for more in _chunks(tags[KEYS_PER_BATCH:], KEYS_PER_BATCH):
            self.target.log_batch(created.id, tags=dict(more))
        return created.id

    def _update(self, run: Run, copy: Run) -> str:
        # Always one write before reading what the copy holds: a store that set
        # writes of it aside (a RestStore's spool) sends them before any new one.
        tags = sorted({**self._tags(run), PUSHED_FROM_TAG: run.id}.items())
        for batch in _chunks(tags, KEYS_PER_BATCH):
            self.target.log_batch(copy.id, tags=dict(batch))
        return copy.id

    def _experiment(self, run: Run) -> Experiment:
        found = self.experiments.get(run.experiment)
        if found is not None:
            return found
        tags = self.source.get_experiment(run.experiment_id).tags
        try:
            created = self.target.create_experiment(run.experiment, tags)
        except InvalidInput:  # created meanwhile by someone else
            created = self.target.get_or_create_experiment(run.experiment)
        else:
            self.report.experiments_created.append(run.experiment)
        self.experiments[run.experiment] = created
        return created

    def _tags(self, run: Run) -> dict[str, str]:
        """The run's tags with run ids remapped (as far as known), without push markers."""
        return {k: self._remap(v) for k, v in run.tags.items() if k not in _MARKERS}

    def _remap(self, value: str) -> str:
        return self.mapping.get(value, value) if _RUN_ID.fullmatch(value) else value

    # -- metrics ----------------------------------------------------------------------

    def _metrics(self, run: Run, pushed: PushedRun) -> None:
        for key in sorted(run.metrics):
            points: list[Metric] = self.source.get_metric_history(run.id, key)
            if pushed.resumed:
                points = _missing(points, self.target.get_metric_history(pushed.target_id, key))
            for batch in _chunks(points, POINTS_PER_BATCH):
                self.target.log_batch(
                    pushed.target_id, [(p.key, p.value, p.step, p.timestamp) for p in batch]
                )
                pushed.points += len(batch)
                self.emit(PushEvent("points", run, count=len(batch)))

    # -- artifacts --------------------------------------------------------------------

    def _artifacts(self, run: Run, pushed: PushedRun) -> dict[str, bytes]:
        """Copy the run's files; return the documents holding run ids, to write when finishing."""
        there = {}
        if pushed.resumed:
            there = {a.path: a.size for a in _walk(self.target, pushed.target_id)}
        documents: dict[str, bytes] = {}
        for entry in _walk(self.source, run.id):
            if entry.path in DOCUMENTS_WITH_RUN_IDS and (entry.size or 0) <= MAX_DOCUMENT:
                with self.source.open_artifact(run.id, entry.path) as fh:
                    documents[entry.path] = fh.read()
                continue
            if pushed.resumed and entry.size is not None and there.get(entry.path) == entry.size:
                continue  # copied by the interrupted push (uploads are atomic)
            size = self._copy_file(run, pushed.target_id, entry)
            pushed.artifacts += 1
            pushed.bytes += size
            self.emit(PushEvent("artifact", run, count=size, detail=entry.path))
        return documents

    def _copy_file(self, run: Run, target_id: str, entry: ArtifactInfo) -> int:
        folder = posixpath.dirname(entry.path) or None
        local = self._local_file(run, entry)
        if local is not None:
            self.target.log_artifact(target_id, local, folder)
            return entry.size or 0
        if entry.size is not None and entry.size <= SMALL_FILE:
            with self.source.open_artifact(run.id, entry.path) as fh:
                data = fh.read()
            self.target.log_artifact_bytes(target_id, entry.path, data)
            return len(data)
        # Streamed through a temporary file of the same name: never whole in memory.
        with tempfile.TemporaryDirectory(prefix="tane-push-") as tmp:
            path = Path(tmp) / posixpath.basename(entry.path)
            with self.source.open_artifact(run.id, entry.path) as fh, open(path, "wb") as out:
                shutil.copyfileobj(fh, out, SMALL_FILE)
            self.target.log_artifact(target_id, str(path), folder)
            return path.stat().st_size

    def _local_file(self, run: Run, entry: ArtifactInfo) -> str | None:
        """The artifact's own file when the source keeps artifacts in a local folder."""
        uri = run.artifact_uri
        if not self._local_artifacts or not uri or ("://" in uri and not uri.startswith("file://")):
            return None
        base = uri[len("file://") :] if uri.startswith("file://") else uri
        path = os.path.join(base, *entry.path.split("/"))
        try:
            if os.path.isfile(path) and os.path.getsize(path) == entry.size:
                return path
        except OSError:
            pass
        return None

    # -- references and the end -------------------------------------------------------

    def _references(self, run: Run, documents: Mapping[str, bytes]) -> set[str]:
        """Ids of other runs the run names in its tags and documents."""
        named = {v for v in run.tags.values() if _RUN_ID.fullmatch(v)}
        for data in documents.values():
            with contextlib.suppress(ValueError):
                named |= set(_run_ids_in(json.loads(data)))
        named.discard(run.id)
        return named

    def _finish(self, run: Run, pushed: PushedRun, documents: Mapping[str, bytes]) -> None:
        remapped = {k: v for k, v in self._tags(run).items() if v != run.tags[k]}
        if remapped:
            self.target.log_batch(pushed.target_id, tags=remapped)
        for path, original in documents.items():
            data = _remap_document(original, self.mapping)
            self.target.log_artifact_bytes(pushed.target_id, path, data)
            pushed.artifacts += 1
            pushed.bytes += len(data)
            self.emit(PushEvent("artifact", run, count=len(data), detail=path))
        self.target.update_run(
            pushed.target_id,
            status=run.status,
            end_time=run.end_time,
            name=run.name,
            note=run.note,
        )
        self.target.log_batch(pushed.target_id, tags={PUSH_COMPLETE_TAG: run.status.value})
        # A store may set writes aside while it cannot be reached (a RestStore spools
        # them to disk): a run counts as pushed once its mark reads back.
        if PUSH_COMPLETE_TAG not in self.target.get_run(pushed.target_id).tags:
            raise StoreUnavailable(
                f"store {self.target.uri} did not take the last writes of run {run.id} "
                f"({run.name}): push again to complete it"
            )
        self.report.pushed.append(pushed)
        self.emit(PushEvent("done", run, pushed=pushed))


# -- helpers ---------------------------------------------------------------------------


def _walk(store: Store, run_id: str, path: str = "") -> Iterator[ArtifactInfo]:
    """Every artifact file of a run, recursively."""
    for entry in store.list_artifacts(run_id, path):
        if entry.is_dir:
            if entry.path != path:
                yield from _walk(store, run_id, entry.path)
        else:
            yield entry


def _point_key(point: Metric) -> tuple[int, int, str]:
    value = "nan" if point.value != point.value else point.value.hex()
    return (point.step, point.timestamp, value)


def _missing(points: Sequence[Metric], there: Iterable[Metric]) -> list[Metric]:
    """The points not already on the target (as a multiset: a point logged twice counts twice)."""
    have = Counter(_point_key(p) for p in there)
    missing = []
    for point in points:
        key = _point_key(point)
        if have[key]:
            have[key] -= 1
        else:
            missing.append(point)
    return missing


def _run_ids_in(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "run_id" and isinstance(value, str) and _RUN_ID.fullmatch(value):
                yield value
            else:
                yield from _run_ids_in(value)
    elif isinstance(data, list):
        for item in data:
            yield from _run_ids_in(item)


def _remap_document(data: bytes, mapping: Mapping[str, str]) -> bytes:
    """Replace the run ids of a JSON document's ``run_id`` fields; other bytes unchanged."""
    try:
        doc = json.loads(data)
    except ValueError:
        return data
    ids = {i for i in _run_ids_in(doc) if i in mapping}
    if not ids:
        return data
    # Replaced in the text, keeping the document's own layout: run ids are 32 hex
    # digits, unique enough not to stand for anything else.
    text = data.decode("utf-8")
    for run_id in ids:
        text = text.replace(f'"{run_id}"', f'"{mapping[run_id]}"')
    return text.encode("utf-8")


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _quoted(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)
