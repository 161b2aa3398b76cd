"""The ``/api/v1`` routes: one thin handler per method of the Store protocol."""

from __future__ import annotations

import mimetypes
import os
import posixpath
import tempfile
import time
from collections.abc import Iterator
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from tane.errors import InvalidInput
from tane.server.auth import Access, access_of
from tane.server.schemas import (
    ArtifactListOut,
    ArtifactOut,
    ArtifactUploadOut,
    ErrorOut,
    ExperimentIn,
    ExperimentListOut,
    ExperimentOut,
    ExperimentPatch,
    HeartbeatIn,
    HistoriesIn,
    HistoriesOut,
    KeysIn,
    KeysOut,
    LogBatchIn,
    MetricHistoryOut,
    RunIdsIn,
    RunIn,
    RunOut,
    RunPageOut,
    RunPatch,
    RunSearchIn,
)
from tane.tracking.artifacts import safe_artifact_path
from tane.tracking.entities import Run, RunStatus
from tane.tracking.stores.base import Store

#: Bytes read or written at a time when streaming artifacts.
CHUNK_SIZE = 1024 * 1024

_ERRORS: dict[int | str, dict[str, object]] = {
    400: {
        "model": ErrorOut,
        "description": "The request is invalid (InvalidInput, InvalidFilter).",
    },
    404: {"model": ErrorOut, "description": "No such run, experiment or artifact."},
    409: {"model": ErrorOut, "description": "A param already holds another value."},
    413: {"model": ErrorOut, "description": "The request body is larger than allowed."},
    422: {"model": ErrorOut, "description": "The body or a parameter is malformed (named)."},
    503: {"model": ErrorOut, "description": "The store cannot be reached right now."},
}
#: With ``--auth``, every route may also refuse the caller.
_AUTH_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "No credentials, or refused ones (--auth)."},
    403: {"model": ErrorOut, "description": "The caller lacks the permission (--auth)."},
}
#: The x-tane-permission of routes whose handler checks the experiments in the body.
_BY_BODY = {"x-tane-permission": "user"}

router = APIRouter(prefix="/api/v1", responses={**_ERRORS, **_AUTH_ERRORS})


def get_store(request: Request) -> Store:
    """The app's store (opened on first use)."""
    store: Store = request.app.state.store_holder.get()
    return store


StoreDep = Annotated[Store, Depends(get_store)]


def _require_runs(request: Request, run_ids: list[str]) -> None:
    access = access_of(request)
    for run_id in run_ids:
        access.require_run(run_id, "edit")


def _run_out(run: Run) -> RunOut:
    return RunOut.model_validate(run.to_json())


# -- experiments ---------------------------------------------------------------


@router.get(
    "/experiments",
    summary="List experiments (those the caller may read)",
    tags=["experiments"],
    openapi_extra=_BY_BODY,
)
def list_experiments(
    store: StoreDep, request: Request, include_deleted: bool = False
) -> ExperimentListOut:
    found = store.list_experiments(include_deleted=include_deleted)
    readable = access_of(request).readable()
    if readable is not None:
        found = [e for e in found if e.id in readable]
    return ExperimentListOut(experiments=[ExperimentOut.of(e) for e in found])


@router.post(
    "/experiments",
    summary="Create an experiment (its creator manages it)",
    tags=["experiments"],
    status_code=201,
    openapi_extra=_BY_BODY,
)
def create_experiment(body: ExperimentIn, store: StoreDep, request: Request) -> ExperimentOut:
    created = store.create_experiment(body.name, body.tags)
    access_of(request).created(created.id)
    return ExperimentOut.of(created)


@router.get(
    "/experiments/{id_or_name}", summary="Get an experiment by id or name", tags=["experiments"]
)
def get_experiment(id_or_name: str, store: StoreDep) -> ExperimentOut:
    return ExperimentOut.of(store.get_experiment(id_or_name))


@router.patch(
    "/experiments/{id_or_name}",
    summary="Rename, delete or restore an experiment, or set its tags",
    tags=["experiments"],
    openapi_extra={"x-tane-permission": "manage"},
)
def update_experiment(id_or_name: str, body: ExperimentPatch, store: StoreDep) -> ExperimentOut:
    updated = store.update_experiment(
        id_or_name, name=body.name, deleted=body.deleted, tags=body.tags or None
    )
    return ExperimentOut.of(updated)


# -- runs ----------------------------------------------------------------------


@router.post(
    "/runs",
    summary="Create a RUNNING run",
    tags=["runs"],
    status_code=201,
    openapi_extra=_BY_BODY,
)
def create_run(body: RunIn, store: StoreDep, request: Request) -> RunOut:
    access = access_of(request)
    if access.auth is not None:
        access.require(store.get_experiment(body.experiment_id).id, "edit")
        if body.parent_id:
            access.require_run(body.parent_id, "read")
    run = store.create_run(
        body.experiment_id,
        body.name,
        parent_id=body.parent_id,
        tags=body.tags,
        start_time=body.start_time,
        host=body.host,
        pid=body.pid,
    )
    return _run_out(run)


@router.post(
    "/runs/search",
    summary="Search runs with a filter, one page",
    tags=["runs"],
    openapi_extra=_BY_BODY,
)
def search_runs(body: RunSearchIn, store: StoreDep, request: Request) -> RunPageOut:
    experiment_ids = _readable_ids(access_of(request), store, body.experiment_ids)
    if experiment_ids == []:
        return RunPageOut(runs=[], next_page_token=None)
    page = store.search_runs(
        experiment_ids,
        body.filter,
        body.order_by,
        body.max_results,
        body.page_token,
        body.view,
    )
    # The runs are already JSON-safe (NaN as strings): answered as they are, without
    # validating thousands of them again through the response model.
    answer = {"runs": [r.to_json() for r in page.runs], "next_page_token": page.next_page_token}
    return JSONResponse(answer)  # type: ignore[return-value]


def _readable_ids(
    access: Access, store: Store, experiment_ids: list[str] | None
) -> list[str] | None:
    """The experiments a request may look in: those named (each checked), else all readable."""
    if access.auth is None:
        return experiment_ids
    if experiment_ids is None:
        readable = access.readable()
        return None if readable is None else sorted(readable)
    named = [store.get_experiment(e).id for e in experiment_ids]
    for experiment_id in named:
        access.require(experiment_id, "read")
    return named


@router.post(
    "/runs/keys",
    summary="The param, metric and tag keys of runs (for filters and columns)",
    tags=["runs"],
    openapi_extra=_BY_BODY,
)
def run_keys(body: KeysIn, store: StoreDep, request: Request) -> KeysOut:
    experiment_ids = _readable_ids(access_of(request), store, body.experiment_ids)
    if experiment_ids == []:
        return KeysOut(params=[], metrics=[], tags=[])
    return KeysOut(**store.get_keys(experiment_ids))


@router.get(
    "/experiments/{experiment_id}/keys",
    summary="The param, metric and tag keys of an experiment's runs",
    tags=["experiments"],
)
def experiment_keys(experiment_id: str, store: StoreDep) -> KeysOut:
    return KeysOut(**store.get_keys([store.get_experiment(experiment_id).id]))


@router.post(
    "/runs/delete",
    summary="Soft-delete runs",
    tags=["runs"],
    status_code=204,
    openapi_extra=_BY_BODY,
)
def delete_runs(body: RunIdsIn, store: StoreDep, request: Request) -> Response:
    _require_runs(request, body.run_ids)
    store.delete_runs(body.run_ids)
    return Response(status_code=204)


@router.post(
    "/runs/restore",
    summary="Restore soft-deleted runs",
    tags=["runs"],
    status_code=204,
    openapi_extra=_BY_BODY,
)
def restore_runs(body: RunIdsIn, store: StoreDep, request: Request) -> Response:
    _require_runs(request, body.run_ids)
    store.restore_runs(body.run_ids)
    return Response(status_code=204)


@router.post(
    "/runs/heartbeat",
    summary="Record that the owners of runs are alive",
    tags=["runs"],
    status_code=204,
    openapi_extra=_BY_BODY,
)
def heartbeat(body: HeartbeatIn, store: StoreDep, request: Request) -> Response:
    _require_runs(request, body.run_ids)
    now = body.now if body.now is not None else int(time.time() * 1000)
    store.heartbeat(body.run_ids, now)
    return Response(status_code=204)


@router.get("/runs/{run_id}", summary="Get a run", tags=["runs"])
def get_run(run_id: str, store: StoreDep) -> RunOut:
    return _run_out(store.get_run(run_id))


@router.patch(
    "/runs/{run_id}", summary="Change a run's status, end time, name, note or owner", tags=["runs"]
)
def update_run(run_id: str, body: RunPatch, store: StoreDep) -> RunOut:
    try:
        status = None if body.status is None else RunStatus.parse(body.status)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    store.update_run(
        run_id,
        status=status,
        end_time=body.end_time,
        name=body.name,
        note=body.note,
        host=body.host,
        pid=body.pid,
    )
    return _run_out(store.get_run(run_id))


@router.post(
    "/runs/{run_id}/batch",
    summary="Log metric points, params and tags in one transaction",
    tags=["runs"],
    status_code=204,
)
def log_batch(run_id: str, body: LogBatchIn, store: StoreDep) -> Response:
    # The validator has turned every value into a float already.
    points = [(key, float(value), step, ts) for key, value, step, ts in body.metrics]
    store.log_batch(run_id, points, body.params, body.tags)
    return Response(status_code=204)


@router.delete(
    "/runs/{run_id}/tags/{key:path}", summary="Remove a tag", tags=["runs"], status_code=204
)
def delete_tag(run_id: str, key: str, store: StoreDep) -> Response:
    store.delete_tag(run_id, key)
    return Response(status_code=204)


@router.get(
    "/runs/{run_id}/metrics/{key:path}",
    summary="Get a metric's history, optionally downsampled",
    tags=["runs"],
)
def metric_history(
    run_id: str,
    key: str,
    store: StoreDep,
    min_step: int | None = None,
    max_step: int | None = None,
    max_points: Annotated[int | None, Query(ge=1)] = None,
) -> MetricHistoryOut:
    points = store.get_metric_history(run_id, key, min_step, max_step, max_points)
    # Up to millions of points: answered as JSON-safe dicts, not validated one by one.
    return JSONResponse({"metrics": [p.to_json() for p in points]})  # type: ignore[return-value]


@router.post(
    "/metrics/history",
    summary="One metric's history for many runs at once (compare views)",
    tags=["runs"],
    openapi_extra=_BY_BODY,
)
def metric_histories(body: HistoriesIn, store: StoreDep, request: Request) -> HistoriesOut:
    access = access_of(request)
    out: dict[str, list[dict[str, object]]] = {}
    for run_id in dict.fromkeys(body.run_ids):
        access.require_run(run_id, "read")
        points = store.get_metric_history(
            run_id, body.key, body.min_step, body.max_step, body.max_points
        )
        out[run_id] = [p.to_json() for p in points]
    return JSONResponse({"histories": out})  # type: ignore[return-value]


# -- artifacts -----------------------------------------------------------------


@router.get(
    "/runs/{run_id}/artifacts", summary="List an artifact folder of a run", tags=["artifacts"]
)
def list_artifacts(run_id: str, store: StoreDep, path: str = "") -> ArtifactListOut:
    infos = store.list_artifacts(run_id, safe_artifact_path(path))
    return ArtifactListOut(artifacts=[ArtifactOut.of(i) for i in infos])


def _chunks(fh: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := fh.read(CHUNK_SIZE):
            yield chunk
    finally:
        fh.close()


@router.get(
    "/runs/{run_id}/artifacts/{path:path}",
    summary="Download an artifact file",
    tags=["artifacts"],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The file, typed by its name (application/octet-stream if unknown).",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def download_artifact(run_id: str, path: str, store: StoreDep) -> StreamingResponse:
    rel = safe_artifact_path(path, allow_root=False)
    fh = store.open_artifact(run_id, rel)
    headers = {}
    try:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(0)
        headers["Content-Length"] = str(size)
    except (OSError, ValueError):
        pass  # not seekable: sent chunked
    media_type = mimetypes.guess_type(rel)[0] or "application/octet-stream"
    # An HTML or SVG artifact opened directly must not run scripts as this origin (it
    # could act with the viewer's session): a sandbox with no scripts, and no sniffing.
    headers["Content-Security-Policy"] = "sandbox"
    headers["X-Content-Type-Options"] = "nosniff"
    return StreamingResponse(_chunks(fh), media_type=media_type, headers=headers)


@router.put(
    "/runs/{run_id}/artifacts/{path:path}",
    summary="Upload an artifact file (the request body is the file)",
    tags=["artifacts"],
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload_artifact(
    run_id: str, path: str, request: Request, store: StoreDep
) -> ArtifactUploadOut:
    rel = safe_artifact_path(path, allow_root=False)
    # Fail before reading a large body if the run does not exist.
    await run_in_threadpool(store.get_run, run_id)
    folder, name = posixpath.split(rel)
    with tempfile.TemporaryDirectory(prefix="tane-upload-") as tmp:
        local = os.path.join(tmp, name)
        size = 0
        with open(local, "wb") as fh:
            async for chunk in request.stream():
                if chunk:
                    size += len(chunk)
                    await run_in_threadpool(fh.write, chunk)
        stored = await run_in_threadpool(store.log_artifact, run_id, local, folder or None)
    return ArtifactUploadOut(path=stored, size=size)
