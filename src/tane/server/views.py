"""The routes the web UI draws from: a pipeline run's DAG, dataset lineage, sweeps and trials.

Everything here is read from what runs already record, through the Store protocol:

- a pipeline run (tag ``tane.kind=pipeline``) holds ``pipeline.json``: the DAG, each
  node's outcome and the lineage (every dataset read and written, with its hash);
- a sweep (tag ``tane.kind=sweep``) is a parent run whose children are its trials
  (tag ``tane.trial``); its settings are in tags, and when it ends it writes
  ``sweep.json`` (the space, every trial's values and intermediate values, the best
  trial, the importances).

There is no lineage table: the datasets of an experiment are gathered from its
pipeline runs' ``pipeline.json``. A finished run's ``pipeline.json`` never changes,
so what is read from it is kept in a per-app cache (:class:`LineageCache`), keyed by
run id and end time and bounded by the number of lineage records it holds.
"""

from __future__ import annotations

import difflib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from tane.errors import NotFound
from tane.server.api import StoreDep
from tane.server.schemas import ErrorOut, RunOut, RunPageOut
from tane.server.view_schemas import (
    BestSoFarOut,
    DatasetListOut,
    DatasetOut,
    DatasetSummaryOut,
    DatasetUseOut,
    DatasetVersionOut,
    LineageOut,
    NodeEdgeOut,
    PipelineDatasetOut,
    PipelineEdgeOut,
    PipelineNodeOut,
    PipelineOut,
    SpaceParamOut,
    SweepOut,
    SweepSettingsOut,
    TrialOut,
    TrialState,
)
from tane.sweep.driver import KIND_TAG, SWEEP_TAG
from tane.sweep.run import PARAMS_TAG, SETTINGS_TAG
from tane.sweep.search import TRIAL_TAG
from tane.tracking.entities import Run, RunStatus, float_to_json
from tane.tracking.stores.base import Store

#: The artifact a pipeline run records its DAG, node outcomes and lineage in.
PIPELINE_ARTIFACT = "pipeline.json"
#: The artifact a sweep records its space, trials, best and importances in when it ends.
SWEEP_ARTIFACT = "sweep.json"
#: The tag a failed run's error is in.
ERROR_TAG = "tane.error"
#: Lineage records the per-app cache holds at most (about 100 MB at worst).
LINEAGE_CACHE_RECORDS = 200_000
#: Page size when reading every child run or every pipeline run of an experiment.
_PAGE = 1000
#: Statuses after which a run's artifacts are final. CRASHED is decided when
#: reading and is undone by the next heartbeat, so it does not count.
_FINAL = frozenset({RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED, RunStatus.PRUNED})

_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "The request is invalid."},
    401: {"model": ErrorOut, "description": "No credentials, or refused ones (--auth)."},
    403: {"model": ErrorOut, "description": "The caller may not read the experiment (--auth)."},
    404: {
        "model": ErrorOut,
        "description": "No such run, experiment or dataset, or the run is not of that kind.",
    },
    422: {"model": ErrorOut, "description": "A query parameter is malformed (named)."},
    503: {"model": ErrorOut, "description": "The store cannot be reached right now."},
}

router = APIRouter(prefix="/api/v1", responses=_ERRORS)


# -- the lineage cache ---------------------------------------------------------------

#: One lineage record: (dataset, direction, node, hash, path, version, kind).
LineageRow = tuple[str, str, str, str | None, str | None, str | None, str]


@dataclass(frozen=True)
class RunLineage:
    """What the dataset routes need of one run's ``pipeline.json``.

    Attributes:
        records: Every dataset read and written, in the order recorded.
        cached_nodes: The nodes this run took from the cache.
        catalog: Type and layer by dataset name, when the run recorded them.

    A run without a readable ``pipeline.json`` has an empty one.
    """

    records: tuple[LineageRow, ...] = ()
    cached_nodes: frozenset[str] = frozenset()
    catalog: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)


class LineageCache:
    """The lineage of finished pipeline runs by (run id, end time); least recently used out first.

    Thread-safe. Bounded by the number of lineage records held (each entry
    counts its records plus one), so a few huge pipelines cannot hold more
    memory than many small ones.

    Args:
        max_records: How many lineage records to hold at most.
    """

    def __init__(self, max_records: int = LINEAGE_CACHE_RECORDS) -> None:
        self.max_records = max_records
        self._entries: OrderedDict[tuple[str, int | None], RunLineage] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[str, int | None]) -> RunLineage | None:
        """Return the entry for ``key`` (and mark it used), or None."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[str, int | None], value: RunLineage) -> None:
        """Keep ``value``, dropping the least recently used entries beyond the bound."""
        weight = len(value.records) + 1
        if weight > self.max_records:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._weight -= len(old.records) + 1
            self._entries[key] = value
            self._weight += weight
            while self._weight > self.max_records:
                _, dropped = self._entries.popitem(last=False)
                self._weight -= len(dropped.records) + 1


_CACHE_LOCK = threading.Lock()


def get_lineage_cache(request: Request) -> LineageCache:
    """The app's lineage cache, made on first use."""
    state = request.app.state
    cache: LineageCache | None = getattr(state, "lineage_cache", None)
    if cache is None:
        with _CACHE_LOCK:
            cache = getattr(state, "lineage_cache", None)
            if cache is None:
                cache = LineageCache()
                state.lineage_cache = cache
    return cache


LineageCacheDep = Annotated[LineageCache, Depends(get_lineage_cache)]


# -- reading records -----------------------------------------------------------------


def _read_json(store: Store, run_id: str, path: str) -> dict[str, Any] | None:
    """The JSON object in an artifact of a run; None if it is missing or not a JSON object."""
    try:
        with store.open_artifact(run_id, path) as fh:
            data = fh.read()
    except NotFound:
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _all_runs(
    store: Store,
    experiment_id: str,
    filter_string: str,
    order_by: Sequence[str],
    limit: int | None = None,
) -> tuple[list[Run], bool]:
    """Every run matching a filter in one experiment (at most ``limit``); and whether more match."""
    runs: list[Run] = []
    token = None
    while True:
        size = _PAGE if limit is None else min(_PAGE, limit + 1 - len(runs))
        page = store.search_runs([experiment_id], filter_string, order_by, size, token)
        runs.extend(page.runs)
        token = page.next_page_token
        if limit is not None and len(runs) > limit:
            return runs[:limit], True
        if token is None:
            return runs, False


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return []


def _mapping(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else {}


def _kind_of(run: Run) -> str:
    kind = run.tags.get(KIND_TAG)
    return f"tagged {KIND_TAG}={kind}" if kind else f"it has no {KIND_TAG} tag"


# -- a pipeline run ------------------------------------------------------------------


def _catalog(doc: Mapping[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    """Type and layer by dataset, from a ``datasets`` section if the run recorded one."""
    section = doc.get("datasets")
    out: dict[str, tuple[str | None, str | None]] = {}
    if isinstance(section, Mapping):
        for name, entry in section.items():
            if isinstance(entry, Mapping):
                out[str(name)] = (_text(entry.get("type")), _text(entry.get("layer")))
    return out


def _version_keys(uses: list[_Use]) -> list[tuple[str | None, str | None]]:
    """Each use's (hash, version); a use recorded without the version (a read of a
    cached node's input) joins the one version known for its hash, so that one content
    is one version."""
    known: dict[str, set[str]] = {}
    for use in uses:
        if use.row[3] is not None and use.row[5] is not None:
            known.setdefault(use.row[3], set()).add(use.row[5])
    keys = []
    for use in uses:
        digest, version = use.row[3], use.row[5]
        if version is None and digest is not None and len(known.get(digest, ())) == 1:
            version = next(iter(known[digest]))
        keys.append((digest, version))
    return keys


def _is_param(name: str) -> bool:
    return name == "parameters" or name.startswith("params:")


def _lineage_rows(doc: Mapping[str, Any]) -> list[LineageRow]:
    rows: list[LineageRow] = []
    for rec in doc.get("lineage") or []:
        if not isinstance(rec, Mapping) or "dataset" not in rec:
            continue
        rows.append(
            (
                str(rec["dataset"]),
                str(rec.get("direction", "read")),
                str(rec.get("node", "")),
                _text(rec.get("hash")),
                _text(rec.get("path")),
                _text(rec.get("version")),
                str(rec.get("kind") or "dataset"),
            )
        )
    return rows


def _node_entries(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [n for n in doc.get("nodes") or [] if isinstance(n, Mapping) and "name" in n]


def _ranks(nodes: Sequence[Mapping[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """Layout columns: datasets nobody writes 0, a node 1 + its highest input, outputs + 1.

    Kahn's order over the nodes, so a pipeline of any depth needs no recursion.
    """
    producer = {str(o): str(n["name"]) for n in nodes for o in _strings(n.get("outputs"))}
    inputs = {str(n["name"]): _strings(n.get("inputs")) for n in nodes}
    waiting = {
        name: {producer[i] for i in ins if i in producer and producer[i] != name}
        for name, ins in inputs.items()
    }
    readers: dict[str, list[str]] = {}
    for name, deps in waiting.items():
        for dep in deps:
            readers.setdefault(dep, []).append(name)
    node_rank: dict[str, int] = {}
    data_rank: dict[str, int] = {}
    ready = [name for name, deps in waiting.items() if not deps]
    order: list[str] = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        for reader in readers.get(name, []):
            waiting[reader].discard(name)
            if not waiting[reader]:
                ready.append(reader)
    order += [name for name in inputs if name not in order]  # a cycle: cannot happen, but safe
    outputs: dict[str, list[str]] = {}
    for out, name in producer.items():
        outputs.setdefault(name, []).append(out)
    for name in order:
        found = [data_rank.get(i, 0) for i in inputs[name]]
        node_rank[name] = 1 + max(found, default=0)
        for out in outputs.get(name, []):
            data_rank[out] = node_rank[name] + 1
    for ins in inputs.values():
        for i in ins:
            data_rank.setdefault(i, 0)
    return node_rank, data_rank


def _pipeline_out(run: Run, doc: Mapping[str, Any]) -> PipelineOut:
    nodes = _node_entries(doc)
    rows = _lineage_rows(doc)
    catalog = _catalog(doc)
    node_rank, data_rank = _ranks(nodes)

    names: list[str] = []
    producer: dict[str, str] = {}
    consumers: dict[str, list[str]] = {}
    for n in nodes:
        for i in _strings(n.get("inputs")):
            names.append(i)
            consumers.setdefault(i, []).append(str(n["name"]))
        for o in _strings(n.get("outputs")):
            names.append(o)
            producer[o] = str(n["name"])
    names += [r[0] for r in rows]
    names = list(dict.fromkeys(names))

    written: dict[str, LineageRow] = {}
    read: dict[str, LineageRow] = {}
    for rec in rows:
        target = written if rec[1] == "write" else read
        target.setdefault(rec[0], rec)

    datasets = []
    for name in names:
        row: LineageRow | None = written.get(name) or read.get(name)
        kind: Any = "params" if _is_param(name) else (row[6] if row else None)
        if kind not in ("dataset", "memory", "params"):
            kind = None
        type_, layer = catalog.get(name, (None, None))
        datasets.append(
            PipelineDatasetOut(
                name=name,
                kind=kind,
                type=type_,
                layer=layer,
                rank=data_rank.get(name, 0),
                producer=producer.get(name),
                consumers=consumers.get(name, []),
                hash=row[3] if row else None,
                version=row[5] if row else None,
                path=row[4] if row else None,
            )
        )

    node_out = []
    for n in nodes:
        name = str(n["name"])
        status = str(n.get("status") or "not run")
        outputs = _strings(n.get("outputs"))
        layer = next((catalog[o][1] for o in outputs if o in catalog and catalog[o][1]), None)
        node_out.append(
            PipelineNodeOut(
                name=name,
                namespace=_text(n.get("namespace")),
                tags=_strings(n.get("tags")),
                inputs=_strings(n.get("inputs")),
                outputs=outputs,
                status=status,
                cached=bool(n.get("cached", status == "cached")),
                duration=_float(n.get("duration")) or 0.0,
                saved_duration=_float(n.get("saved_duration")) or 0.0,
                attempts=_int(n.get("attempts")) or 0,
                error=_text(n.get("error")),
                rank=node_rank.get(name, 1),
                layer=layer,
            )
        )

    counts = {"ran": 0, "cached": 0, "failed": 0, "not run": 0}
    for done in node_out:
        counts[done.status] = counts.get(done.status, 0) + 1

    edges = []
    for done in node_out:
        edges += [PipelineEdgeOut(source=i, target=done.name, kind="reads") for i in done.inputs]
        edges += [PipelineEdgeOut(source=done.name, target=o, kind="writes") for o in done.outputs]
    node_edges = [
        NodeEdgeOut(source=str(e[0]), target=str(e[1]))
        for e in doc.get("edges") or []
        if isinstance(e, (list, tuple)) and len(e) == 2
    ]

    first_rank: dict[str, int] = {}
    for d in datasets:
        if d.layer:
            first_rank[d.layer] = min(first_rank.get(d.layer, d.rank), d.rank)
    layers = sorted(first_rank, key=lambda layer: (first_rank[layer], layer))

    return PipelineOut(
        run_id=run.id,
        run_name=run.name,
        experiment_id=run.experiment_id,
        status=run.status.value,
        start_time=run.start_time,
        end_time=run.end_time,
        pipeline=str(doc.get("pipeline") or run.tags.get("tane.pipeline") or ""),
        duration=_float(doc.get("duration")) or 0.0,
        counts=counts,
        nodes=node_out,
        datasets=datasets,
        edges=edges,
        node_edges=node_edges,
        layers=layers,
        lineage=[
            LineageOut(
                dataset=r[0],
                direction=r[1],
                node=r[2],
                hash=r[3],
                path=r[4],
                version=r[5],
                kind=r[6],
            )
            for r in rows
        ],
    )


@router.get(
    "/runs/{run_id}/pipeline",
    summary="The DAG of a pipeline run: nodes, datasets, edges, outcomes and lineage",
    tags=["pipelines"],
)
def get_pipeline(run_id: str, store: StoreDep) -> PipelineOut:
    """Return the DAG of a pipeline run from its ``pipeline.json``; 404 for other runs."""
    run = store.get_run(run_id)
    if run.tags.get(KIND_TAG) != "pipeline":
        hint = ""
        if run.tags.get(KIND_TAG) in ("sweep", "multirun"):
            hint = f"; its trials or jobs are pipeline runs: GET /api/v1/runs/{run.id}/children"
        raise NotFound(
            f"run {run.id} is not a pipeline run ({_kind_of(run)}): pipeline runs are made by "
            f"`tane run` and tagged {KIND_TAG}=pipeline{hint}"
        )
    doc = _read_json(store, run.id, PIPELINE_ARTIFACT)
    if doc is None:
        if run.status is RunStatus.RUNNING:
            raise NotFound(
                f"pipeline run {run.id} is still RUNNING: its {PIPELINE_ARTIFACT} (the DAG and "
                "each node's outcome) is written when the pipeline ends; ask again then"
            )
        raise NotFound(
            f"pipeline run {run.id} has no readable {PIPELINE_ARTIFACT}: it ended "
            f"{run.status.value} before its pipeline finished (see its {ERROR_TAG} tag and "
            "logs/output.log)"
        )
    return _pipeline_out(run, doc)


# -- datasets of an experiment -------------------------------------------------------


def _extract(doc: Mapping[str, Any] | None) -> RunLineage:
    if doc is None:
        return RunLineage()
    cached = frozenset(
        str(n["name"]) for n in _node_entries(doc) if n.get("cached") or n.get("status") == "cached"
    )
    return RunLineage(tuple(_lineage_rows(doc)), cached, _catalog(doc))


def lineage_of(store: Store, run: Run, cache: LineageCache) -> RunLineage:
    """The lineage of one pipeline run, from the cache if the run is over."""
    final = run.status in _FINAL
    key = (run.id, run.end_time)
    if final:
        found = cache.get(key)
        if found is not None:
            return found
    lineage = _extract(_read_json(store, run.id, PIPELINE_ARTIFACT))
    if final:
        cache.put(key, lineage)
    return lineage


@dataclass
class _Use:
    run: Run
    row: LineageRow
    cached: bool

    def out(self) -> DatasetUseOut:
        return DatasetUseOut(
            run_id=self.run.id,
            run_name=self.run.name,
            run_status=self.run.status.value,
            start_time=self.run.start_time,
            end_time=self.run.end_time,
            direction=self.row[1],
            node=self.row[2],
            cached=self.cached,
            hash=self.row[3],
            version=self.row[5],
            path=self.row[4],
        )


@dataclass
class _Scan:
    uses: dict[str, list[_Use]]  # by dataset, newest run first
    catalog: dict[str, tuple[str | None, str | None]]  # newest record of type and layer
    runs: int
    truncated: bool


def _scan(store: Store, experiment_id: str, cache: LineageCache, max_runs: int) -> _Scan:
    runs, truncated = _all_runs(
        store,
        experiment_id,
        f"tags.{KIND_TAG} = 'pipeline'",
        ["attributes.start_time DESC"],
        max_runs,
    )
    uses: dict[str, list[_Use]] = {}
    catalog: dict[str, tuple[str | None, str | None]] = {}
    for run in runs:
        lineage = lineage_of(store, run, cache)
        for row in lineage.records:
            if row[6] == "params" or _is_param(row[0]):
                continue
            uses.setdefault(row[0], []).append(_Use(run, row, row[2] in lineage.cached_nodes))
        for name, entry in lineage.catalog.items():
            catalog.setdefault(name, entry)
    return _Scan(uses, catalog, len(runs), truncated)


MaxRuns = Annotated[
    int,
    Query(ge=1, le=50_000, description="Read at most this many pipeline runs, the newest first."),
]


@router.get(
    "/experiments/{experiment_id}/datasets",
    summary="The datasets of an experiment's pipeline runs",
    tags=["pipelines"],
)
def list_datasets(
    experiment_id: str, store: StoreDep, cache: LineageCacheDep, max_runs: MaxRuns = 1000
) -> DatasetListOut:
    """Return every dataset the experiment's pipeline runs read or wrote, by name."""
    experiment = store.get_experiment(experiment_id)
    scan = _scan(store, experiment.id, cache, max_runs)
    out = []
    for name in sorted(scan.uses):
        uses = scan.uses[name]
        latest = uses[0]
        newest_run = [u for u in uses if u.run.id == latest.run.id]
        pick = next((u for u in newest_run if u.row[1] == "write"), latest)
        type_, layer = scan.catalog.get(name, (None, None))
        out.append(
            DatasetSummaryOut(
                name=name,
                kind=latest.row[6],
                type=type_,
                layer=layer,
                path=next((u.row[4] for u in uses if u.row[4]), None),
                versions=len(set(_version_keys(uses))),
                latest_hash=pick.row[3],
                latest_version=pick.row[5],
                runs=len({u.run.id for u in uses}),
                writers=sorted({u.row[2] for u in uses if u.row[1] == "write"}),
                readers=sorted({u.row[2] for u in uses if u.row[1] != "write"}),
                last_run_id=latest.run.id,
                last_used=latest.run.start_time,
            )
        )
    return DatasetListOut(
        experiment_id=experiment.id,
        datasets=out,
        runs_scanned=scan.runs,
        truncated=scan.truncated,
    )


@router.get(
    "/experiments/{experiment_id}/datasets/{name:path}",
    summary="One dataset of an experiment: its versions and the runs that read or wrote each",
    tags=["pipelines"],
)
def get_dataset(
    experiment_id: str,
    name: str,
    store: StoreDep,
    cache: LineageCacheDep,
    max_runs: MaxRuns = 1000,
) -> DatasetOut:
    """Return a dataset's versions (by content hash) and every read and write of it."""
    experiment = store.get_experiment(experiment_id)
    scan = _scan(store, experiment.id, cache, max_runs)
    uses = scan.uses.get(name)
    if not uses:
        if not scan.runs:
            raise NotFound(
                f"experiment {experiment.name!r} has no pipeline runs (runs tagged "
                f"{KIND_TAG}=pipeline, made by `tane run`), so no dataset {name!r}"
            )
        near = difflib.get_close_matches(name, list(scan.uses), n=3)
        hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
        known = ", ".join(sorted(scan.uses)[:20]) or "none"
        raise NotFound(
            f"no dataset {name!r} in the pipeline runs of experiment {experiment.name!r}{hint} "
            f"(it has: {known})"
        )
    groups: dict[tuple[str | None, str | None], list[_Use]] = {}
    for use, key in zip(uses, _version_keys(uses), strict=True):
        groups.setdefault(key, []).append(use)
    versions = []
    for (digest, version), group in groups.items():
        versions.append(
            DatasetVersionOut(
                hash=digest,
                version=version,
                paths=list(dict.fromkeys(u.row[4] for u in group if u.row[4])),
                first_seen=min(u.run.start_time for u in group),
                last_seen=max(u.run.start_time for u in group),
                written_by=[u.out() for u in group if u.row[1] == "write"],
                read_by=[u.out() for u in group if u.row[1] != "write"],
            )
        )
    versions.sort(key=lambda v: v.last_seen, reverse=True)
    type_, layer = scan.catalog.get(name, (None, None))
    return DatasetOut(
        experiment_id=experiment.id,
        name=name,
        kind=uses[0].row[6],
        type=type_,
        layer=layer,
        versions=versions,
        uses=[u.out() for u in uses],
        runs_scanned=scan.runs,
        truncated=scan.truncated,
    )


# -- children ------------------------------------------------------------------------


@router.get(
    "/runs/{run_id}/children",
    summary="The child runs of a run (a sweep's trials, a multirun's jobs), oldest first",
    tags=["runs"],
)
def list_children(
    run_id: str,
    store: StoreDep,
    max_results: Annotated[int, Query(ge=1, le=50_000)] = 1000,
    page_token: str | None = None,
    view: Literal["active", "deleted", "all"] = "active",
) -> RunPageOut:
    """Return one page of the runs whose parent is this run, in the parent's experiment."""
    parent = store.get_run(run_id)
    page = store.search_runs(
        [parent.experiment_id],
        f"attributes.parent_id = '{parent.id}'",
        ["attributes.start_time ASC"],
        max_results,
        page_token,
        view,
    )
    return RunPageOut(
        runs=[RunOut.model_validate(r.to_json()) for r in page.runs],
        next_page_token=page.next_page_token,
    )


# -- sweeps --------------------------------------------------------------------------


def _distribution_kind(text: str | None) -> Literal["float", "int", "categorical"] | None:
    if text is None:
        return None
    if text.startswith("choice("):
        return "categorical"
    if "int " in text or text.startswith("int"):
        return "int"
    if "[" in text:
        return "float"
    return None


def _value_kind(values: Iterable[Any]) -> Literal["float", "int", "categorical"] | None:
    seen = [v for v in values if v is not None]
    if not seen:
        return None
    if all(isinstance(v, int) and not isinstance(v, bool) for v in seen):
        return "int"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in seen):
        return "float"
    return "categorical"


def _typed(text: str) -> Any:
    """A param's text as the number it reads as (run params are stored as text)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def _settings(run: Run, doc: Mapping[str, Any] | None) -> SweepSettingsOut:
    raw: dict[str, Any] = {}
    if doc is not None:
        raw = _mapping(doc.get("settings"))
    elif run.tags.get(SETTINGS_TAG):
        try:
            raw = _mapping(json.loads(run.tags[SETTINGS_TAG]))
        except ValueError:
            raw = {}
    overrides = None
    if run.tags.get(SWEEP_TAG):
        try:
            overrides = _strings(json.loads(run.tags[SWEEP_TAG]))
        except ValueError:
            overrides = None
    directions = _strings(raw.get("directions")) or None
    objectives = _strings(raw.get("objectives")) or None
    return SweepSettingsOut(
        sampler=_text(raw.get("sampler")) or run.tags.get("tane.sweep.sampler"),
        sampler_options=_mapping(raw.get("sampler_options")),
        pruner=_text(raw.get("pruner")),
        pruner_options=_mapping(raw.get("pruner_options")),
        directions=directions,
        objectives=objectives,
        trials=_int(raw.get("trials")) if raw.get("trials") is not None else None,
        timeout=_float(raw.get("timeout")),
        seed=_int(raw.get("seed")) if raw.get("seed") is not None else None,
        target=_float(raw.get("target")),
        constraints=_strings(raw.get("constraints")),
        importance=_text(raw.get("importance")),
        overrides=overrides,
        fixed=_strings(doc.get("fixed")) if doc is not None else [],
    )


def _objectives(settings: SweepSettingsOut, metrics: Mapping[str, float]) -> list[str]:
    if settings.objectives:
        return settings.objectives
    # Not recorded yet (a define-by-run sweep writes its settings at the end):
    # its objectives are `objective`, or `objective_0`, `objective_1`... for several.
    numbered = sorted(
        (k for k in metrics if k.startswith("objective_") and k[10:].isdigit()),
        key=lambda k: int(k[10:]),
    )
    return numbered if numbered and "objective" not in metrics else ["objective"]


#: Optuna's trial states as sweep.json records them, in this API's words.
_TOLD: dict[str, TrialState] = {"COMPLETE": "COMPLETE", "PRUNED": "PRUNED", "FAIL": "FAILED"}


def _trial(
    child: Run, recorded: Mapping[str, Any] | None, settings: SweepSettingsOut
) -> tuple[TrialOut, list[float] | None]:
    """One trial's row, and its objective values as floats (for the best and the history)."""
    params: dict[str, Any]
    if recorded is not None and isinstance(recorded.get("params"), Mapping):
        params = _mapping(recorded["params"])
    elif child.tags.get(PARAMS_TAG):
        try:
            params = _mapping(json.loads(child.tags[PARAMS_TAG]))
        except ValueError:
            params = {}
    else:  # a define-by-run trial: its params are exactly the suggested values
        params = {k: _typed(v) for k, v in child.params.items()}

    error = child.tags.get(ERROR_TAG)
    values: list[float] | None = None
    objectives = _objectives(settings, child.metrics)
    # tane.sweep(constraints=True) records a placeholder: its trials name their own.
    constraints = [c for c in settings.constraints if not c.startswith("(")]
    state: TrialState
    if child.status is RunStatus.RUNNING:
        state = "RUNNING"
    elif child.status is RunStatus.PRUNED:
        state = "PRUNED"
    elif child.status is RunStatus.FINISHED:
        found = [child.metrics.get(k) for k in objectives]
        missing = [k for k, v in zip(objectives, found, strict=True) if v is None]
        if missing:
            state = "FAILED"
            error = error or (
                f"the trial never logged the objective metric(s) {', '.join(missing)}"
            )
        elif not all(math.isfinite(v) for v in found if v is not None):
            state = "FAILED"
            error = error or "the objective is not a finite number"
        elif unlogged := [c for c in constraints if c not in child.metrics]:
            state = "FAILED"
            error = error or (
                f"the trial never logged the constraint metric(s) {', '.join(unlogged)}"
            )
        else:
            state = "COMPLETE"
            values = [float(v) for v in found if v is not None]
    else:  # FAILED, KILLED, CRASHED
        state = "FAILED"
    if recorded is not None:
        # What the driver told the study wins: it alone knows why a trial failed.
        told = _TOLD.get(str(recorded.get("state")))
        if told is not None:
            state = told
        if state == "COMPLETE":
            told_values = recorded.get("values")
            if isinstance(told_values, list) and told_values:
                floats = [_float(v) for v in told_values]
                values = [v for v in floats if v is not None] or values
        else:
            values = None

    intermediate_count = None
    last = None
    if recorded is not None and isinstance(recorded.get("intermediate"), Mapping):
        steps = {
            step: _float(v)
            for k, v in recorded["intermediate"].items()
            if (step := _int(k)) is not None
        }
        intermediate_count = len(steps)
        if steps:
            last_value = steps[max(steps)]
            last = float_to_json(last_value) if last_value is not None else None

    feasible = None
    if constraints and all(c in child.metrics for c in constraints):
        feasible = all(child.metrics[c] <= 0 for c in constraints)

    seconds = _float(recorded.get("seconds")) if recorded is not None else None
    if seconds is None and child.end_time is not None:
        seconds = max(0, child.end_time - child.start_time) / 1000
    trial = TrialOut(
        run_id=child.id,
        run_name=child.name,
        number=_int(child.tags.get(TRIAL_TAG)) if child.tags.get(TRIAL_TAG) else None,
        state=state,
        run_status=child.status.value,
        params=params,
        values=[float_to_json(v) for v in values] if values is not None else None,
        feasible=feasible,
        error=error if state == "FAILED" else None,
        start_time=child.start_time,
        end_time=child.end_time,
        duration=seconds if state != "RUNNING" else None,
        intermediate_count=intermediate_count,
        last_intermediate=last,
    )
    return trial, values


def _dominates(a: Sequence[float], b: Sequence[float], signs: Sequence[float]) -> bool:
    better = False
    for x, y, s in zip(a, b, signs, strict=True):
        if x * s > y * s:
            return False
        if x * s < y * s:
            better = True
    return better


def _not_a_sweep(run: Run) -> str:
    hint = ""
    if run.tags.get(KIND_TAG) == "multirun":
        hint = f"; a multirun's jobs are its children: GET /api/v1/runs/{run.id}/children"
    return (
        f"run {run.id} is not a sweep ({_kind_of(run)}): sweeps are made by `--sweep`, "
        f"`tane sweep` or tane.sweep() and tagged {KIND_TAG}=sweep{hint}"
    )


@router.get(
    "/runs/{run_id}/sweep",
    summary="A sweep: its settings, every trial, the best, the history and importances",
    tags=["sweeps"],
)
def get_sweep(run_id: str, store: StoreDep) -> SweepOut:
    """Return the view of a sweep's parent run; 404 for runs that are not sweeps."""
    run = store.get_run(run_id)
    if run.tags.get(KIND_TAG) != "sweep":
        raise NotFound(_not_a_sweep(run))
    doc = _read_json(store, run.id, SWEEP_ARTIFACT)
    settings = _settings(run, doc)
    children, _ = _all_runs(
        store, run.experiment_id, f"attributes.parent_id = '{run.id}'", ["attributes.start_time"]
    )
    recorded: dict[str, Mapping[str, Any]] = {}
    if doc is not None:
        for t in doc.get("trials") or []:
            if isinstance(t, Mapping) and t.get("run_id"):
                recorded[str(t["run_id"])] = t

    rows = [_trial(child, recorded.get(child.id), settings) for child in children]
    rows.sort(key=lambda r: (r[0].number is None, r[0].number or 0, r[0].start_time))
    trials = [t for t, _ in rows]
    counts = {"COMPLETE": 0, "PRUNED": 0, "FAILED": 0, "RUNNING": 0}
    for t in trials:
        counts[t.state] += 1
    complete = [(t, v) for t, v in rows if v is not None and t.feasible is not False]

    directions = settings.directions
    best_trial: TrialOut | None = None
    best_so_far: list[BestSoFarOut] = []
    pareto: list[str] = []
    if directions is not None and len(directions) == 1:
        sign = -1.0 if directions[0] == "maximize" else 1.0
        best_value: float | None = None
        for t, v in complete:
            if best_value is None or v[0] * sign < best_value * sign:
                best_value, best_trial = v[0], t
            best_so_far.append(
                BestSoFarOut(
                    number=t.number,
                    run_id=t.run_id,
                    value=float_to_json(v[0]),
                    best=float_to_json(best_value),
                )
            )
    elif directions is not None:
        signs = [-1.0 if d == "maximize" else 1.0 for d in directions]
        front: list[tuple[TrialOut, list[float]]] = []
        for t, v in complete:
            if len(v) != len(signs) or any(_dominates(f[1], v, signs) for f in front):
                continue
            front = [f for f in front if not _dominates(v, f[1], signs)] + [(t, v)]
        pareto = [t.run_id for t, _ in front]
    else:
        # A define-by-run sweep still running has not recorded its direction: the
        # driver's own `best_value` metric (one point per trial, step = number) has.
        history = {p.step: p.value for p in store.get_metric_history(run.id, "best_value")}
        for t, v in complete:
            if len(v) == 1 and t.number in history:
                best = history[t.number]
                best_so_far.append(
                    BestSoFarOut(
                        number=t.number,
                        run_id=t.run_id,
                        value=float_to_json(v[0]),
                        best=float_to_json(best),
                    )
                )
                if v[0] == best:
                    best_trial = t
    if doc is not None:
        best_id = _mapping(doc.get("best")).get("run_id")
        chosen = next((t for t in trials if t.run_id == best_id), None)
        best_trial = chosen or best_trial
    elif run.tags.get("tane.sweep.best_run"):
        chosen = next((t for t in trials if t.run_id == run.tags["tane.sweep.best_run"]), None)
        best_trial = chosen or best_trial

    space_text = _mapping(doc.get("space")) if doc is not None else {}
    names = list(space_text) + [k for t in trials for k in t.params if k not in space_text]
    space = []
    for name in dict.fromkeys(names):
        text = _text(space_text.get(name))
        kind = _distribution_kind(text) or _value_kind(t.params.get(name) for t in trials)
        space.append(SpaceParamOut(name=name, distribution=text, kind=kind))

    importances = None
    if doc is not None:
        found = {k: _float(v) for k, v in _mapping(doc.get("importances")).items()}
        importances = dict(
            sorted(
                ((k, v) for k, v in found.items() if v is not None),
                key=lambda kv: -kv[1],
            )
        )

    return SweepOut(
        run_id=run.id,
        run_name=run.name,
        experiment_id=run.experiment_id,
        status=run.status.value,
        start_time=run.start_time,
        end_time=run.end_time,
        finished=doc is not None,
        stopped_by=run.tags.get("tane.sweep.stopped_by"),
        settings=settings,
        space=space,
        counts=counts,
        trials=trials,
        best_trial=best_trial,
        best_so_far=best_so_far,
        pareto_front=pareto,
        importances=importances,
    )
