"""MLflow's tracking REST API over tane's store, for ``MLFLOW_TRACKING_URI=http://<tane>``.

The ``mlflow`` client (fluent API, ``MlflowClient``, ``log_artifact``, MLflow 3's
``log_model``) calls ``/api/2.0/mlflow/...`` for metadata and, because every run's
``artifact_uri`` is answered as ``mlflow-artifacts:/<experiment>/<run>/artifacts``,
``/api/2.0/mlflow-artifacts/artifacts/...`` for files (the proxy an MLflow server
offers with ``--serve-artifacts``). Each handler is a thin translation to the
Store protocol; what is stored is an ordinary tane run.

The mapping:

- experiment and run ids are tane's (MLflow's Default experiment "0" is tane's too);
- ``mlflow.runName`` is the run's name and ``mlflow.parentRunId`` its parent: read
  from the tags a client sends, answered as tags again, and usable in filters
  (they become ``attributes.run_name`` and ``attributes.parent_id``);
- statuses MLflow lacks are answered as the closest it has: CRASHED as FAILED,
  PRUNED as KILLED; ``lifecycle_stage`` is ``deleted`` for soft-deleted runs;
- a logged model (MLflow 3) lives in a run: its source run, or a run made for it
  when it has none. Its files are the run's artifact folder named after the model,
  its record the artifact ``.mlflow/logged-models/<model_id>.json``; the run's tag
  ``tane.mlflow.models`` lists its models. The model id names the run:
  ``m-<run_id>-<8 hex>``;
- dataset inputs (``log_input``) become tags ``tane.mlflow.dataset.<name>``;
- registered models, versions and aliases are tane's registry (``tane models``): a
  version keeps the source the client sends (``models:/m-...`` from MLflow 3's
  ``log_model(..., registered_model_name=...)``) and the run it lies in; its download
  URI is the artifact proxy's. A model exists from its first version on (creating an
  empty one stores nothing), and the registry keeps no tags and no stages (every
  version is in stage "None").

Errors are answered in MLflow's shape, ``{"error_code": ..., "message": ...}``,
with MLflow's codes; an endpoint tane does not implement is a 404
``ENDPOINT_NOT_FOUND`` naming it. With ``--auth`` every handler checks the
experiment of the run or experiment named in the query or body (the routes
declare ``x-tane-permission: user``). Changing an experiment needs manage on it; any
signed-in user reads the registry, and registering or aliasing a version needs edit on
its run's experiment (admin for a version no run holds).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import posixpath
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from tane.errors import (
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    StoreError,
    TaneError,
    TooManyAttempts,
)
from tane.server.api import CHUNK_SIZE, StoreDep
from tane.server.auth import Access, access_of
from tane.tracking.artifacts import safe_artifact_path
from tane.tracking.entities import (
    Experiment,
    ModelVersion,
    RegisteredModel,
    Run,
    RunStatus,
    float_from_json,
    float_to_json,
)
from tane.tracking.stores._common import check_model_name
from tane.tracking.stores.base import RunView, Store

logger = logging.getLogger(__name__)

RUN_NAME_TAG = "mlflow.runName"
PARENT_TAG = "mlflow.parentRunId"
USER_TAG = "mlflow.user"
#: The run tag listing the ids of the logged models a run holds (comma-separated).
MODELS_TAG = "tane.mlflow.models"
#: Prefix of the run tags recording dataset inputs (``log_input``).
DATASET_TAG = "tane.mlflow.dataset."
#: Where a logged model's record is kept among its run's artifacts.
MODEL_RECORDS = ".mlflow/logged-models"
_HIDDEN_TAG_PREFIX = "tane.mlflow."

_STATUS_OUT = {
    RunStatus.RUNNING: "RUNNING",
    RunStatus.FINISHED: "FINISHED",
    RunStatus.FAILED: "FAILED",
    RunStatus.KILLED: "KILLED",
    RunStatus.CRASHED: "FAILED",
    RunStatus.PRUNED: "KILLED",
}
_STATUS_IN = {
    "RUNNING": RunStatus.RUNNING,
    "SCHEDULED": RunStatus.RUNNING,
    "FINISHED": RunStatus.FINISHED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.KILLED,
    "1": RunStatus.RUNNING,
    "2": RunStatus.RUNNING,
    "3": RunStatus.FINISHED,
    "4": RunStatus.FAILED,
    "5": RunStatus.KILLED,
}
_VIEWS: dict[str, RunView] = {
    "ACTIVE_ONLY": "active",
    "DELETED_ONLY": "deleted",
    "ALL": "all",
    "1": "active",
    "2": "deleted",
    "3": "all",
}
_MODEL_STATUSES = {
    "LOGGED_MODEL_STATUS_UNSPECIFIED": "LOGGED_MODEL_STATUS_UNSPECIFIED",
    "LOGGED_MODEL_PENDING": "LOGGED_MODEL_PENDING",
    "LOGGED_MODEL_READY": "LOGGED_MODEL_READY",
    "LOGGED_MODEL_UPLOAD_FAILED": "LOGGED_MODEL_UPLOAD_FAILED",
    "0": "LOGGED_MODEL_STATUS_UNSPECIFIED",
    "1": "LOGGED_MODEL_PENDING",
    "2": "LOGGED_MODEL_READY",
    "3": "LOGGED_MODEL_UPLOAD_FAILED",
}
#: MLflow's largest page of runs or experiments.
MAX_RESULTS = 50_000
#: Every route checks the caller's permission itself: the ids are in the query or body.
_CHECKED = {"x-tane-permission": "user"}


class MlflowError(Exception):
    """An error answered in MLflow's shape with this code and HTTP status."""

    def __init__(self, error_code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.status = status


def _code_of(exc: TaneError) -> tuple[str, int]:
    if isinstance(exc, NotAuthenticated):
        return "UNAUTHENTICATED", 401
    if isinstance(exc, PermissionDenied):
        return "PERMISSION_DENIED", 403
    if isinstance(exc, TooManyAttempts):
        return "REQUEST_LIMIT_EXCEEDED", 429
    if isinstance(exc, NotFound):
        return "RESOURCE_DOES_NOT_EXIST", 404
    if isinstance(exc, StoreError):
        return "TEMPORARILY_UNAVAILABLE", 503
    return "INVALID_PARAMETER_VALUE", 400


def error_response(error_code: str, message: str, status: int) -> JSONResponse:
    """MLflow's error body: ``{"error_code": ..., "message": ...}``."""
    return JSONResponse({"error_code": error_code, "message": message}, status_code=status)


class MlflowRoute(APIRoute):
    """A route whose errors (tane's, and permission checks) are answered in MLflow's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except MlflowError as exc:
                return error_response(exc.error_code, str(exc), exc.status)
            except TaneError as exc:
                code, status = _code_of(exc)
                answer = error_response(code, str(exc), status)
                if isinstance(exc, TooManyAttempts):
                    answer.headers["Retry-After"] = str(exc.retry_after)
                return answer
            except RequestValidationError as exc:
                return error_response("INVALID_PARAMETER_VALUE", str(exc.errors()), 400)
            except StarletteHTTPException as exc:  # e.g. 413 from the body limit
                codes = {404: "ENDPOINT_NOT_FOUND", 413: "RESOURCE_LIMIT_EXCEEDED"}
                code = codes.get(exc.status_code, "BAD_REQUEST")
                return error_response(code, str(exc.detail), exc.status_code)
            except Exception:
                # A fault of tane's, not of the request: logged, answered in MLflow's shape.
                logger.exception("MLflow endpoint %s %s failed", request.method, request.url.path)
                return error_response(
                    "INTERNAL_ERROR",
                    f"{request.method} {request.url.path} failed in tane (see the server log)",
                    500,
                )

        return handle


# -- reading requests ----------------------------------------------------------------

Body = dict[str, Any]


async def _body(request: Request) -> Body:
    """The request's fields: the query string, and the JSON body of all but a GET."""
    fields: Body = {}
    for key, value in request.query_params.multi_items():
        if key in fields:
            previous = fields[key]
            fields[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[key] = value
    if request.method == "GET":
        return fields
    raw = await request.body()
    if not raw.strip():
        return fields
    try:
        data = json.loads(raw)
    except ValueError:
        raise InvalidInput(f"the body of {request.url.path} is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"the body of {request.url.path} is not a JSON object")
    return {**fields, **data}


BodyDep = Annotated[Body, Depends(_body)]


def _text(body: Body, *names: str, default: str | None = None) -> str:
    for name in names:
        value = body.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise InvalidInput(f"parameter {name!r} must be a string, not {value!r}")
        return str(value)
    if default is not None:
        return default
    raise InvalidInput(f"Missing value for required parameter '{names[0]}'.")


def _int(body: Body, name: str) -> int | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"parameter {name!r} must be an integer, not {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"parameter {name!r} must be an integer, not {value!r}") from None


def _list(body: Body, name: str) -> list[Any]:
    value = body.get(name)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [value]
    raise InvalidInput(f"parameter {name!r} must be a list, not {value!r}")


def _pairs(body: Body, name: str) -> dict[str, str]:
    """A list of ``{"key": ..., "value": ...}`` as a dict (values as text)."""
    out: dict[str, str] = {}
    for item in _list(body, name):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise InvalidInput(f"each of {name!r} must be an object with a 'key', not {item!r}")
        value = item.get("value", "")
        out[item["key"]] = "" if value is None else str(value)
    return out


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset_of(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError):
        raise InvalidInput(
            f"invalid page_token {token!r}: pass the one a search returned"
        ) from None
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInput(f"invalid page_token {token!r}: pass the one a search returned")
    return offset


def _max_results(body: Body, default: int) -> int:
    value = _int(body, "max_results")
    if value is None:
        return default
    if not 1 <= value <= MAX_RESULTS:
        raise InvalidInput(f"max_results={value} must be between 1 and {MAX_RESULTS}")
    return value


# -- answering -----------------------------------------------------------------------


def _experiment_json(experiment: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": experiment.id,
        "name": experiment.name,
        "artifact_location": f"mlflow-artifacts:/{experiment.id}",
        "lifecycle_stage": "deleted" if experiment.deleted else "active",
        "last_update_time": experiment.last_activity,
        "creation_time": experiment.created,
        "tags": [{"key": k, "value": v} for k, v in experiment.tags.items()],
    }


def run_artifact_uri(run: Run) -> str:
    """The artifact URI MLflow clients get: through this server's artifact proxy."""
    return f"mlflow-artifacts:/{run.experiment_id}/{run.id}/artifacts"


def _run_info(run: Run) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": run.name,
        "experiment_id": run.experiment_id,
        "user_id": run.tags.get(USER_TAG, ""),
        "status": _STATUS_OUT[run.status],
        "start_time": run.start_time,
        "artifact_uri": run_artifact_uri(run),
        "lifecycle_stage": "deleted" if run.deleted else "active",
    }
    if run.end_time is not None:
        info["end_time"] = run.end_time
    return info


def _run_json(run: Run) -> dict[str, Any]:
    tags = {k: v for k, v in run.tags.items() if not k.startswith(_HIDDEN_TAG_PREFIX)}
    tags[RUN_NAME_TAG] = run.name
    if run.parent_id:
        tags[PARENT_TAG] = run.parent_id
    # A run keeps each metric's latest value, not when it was logged.
    when = run.end_time or run.heartbeat or run.start_time
    metrics = [
        {
            "key": key,
            "value": float_to_json(value),
            "timestamp": when,
            "step": run.metric_steps.get(key, 0),
        }
        for key, value in run.metrics.items()
    ]
    datasets = []
    for key, value in run.tags.items():
        if key.startswith(DATASET_TAG):
            try:
                recorded = json.loads(value)
            except ValueError:
                continue
            context = recorded.pop("context", None)
            entry: dict[str, Any] = {"dataset": recorded}
            if context:
                entry["tags"] = [{"key": "mlflow.data.context", "value": context}]
            datasets.append(entry)
    models = [m for m in run.tags.get(MODELS_TAG, "").split(",") if m]
    return {
        "info": _run_info(run),
        "data": {
            "metrics": metrics,
            "params": [{"key": k, "value": v} for k, v in run.params.items()],
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        },
        "inputs": {"dataset_inputs": datasets},
        "outputs": {"model_outputs": [{"model_id": m, "step": 0} for m in models]},
    }


def _ok(payload: Mapping[str, Any] | None = None) -> JSONResponse:
    return JSONResponse(dict(payload or {}))


# -- routes --------------------------------------------------------------------------

_api = APIRouter(route_class=MlflowRoute)
_artifacts = APIRouter(route_class=MlflowRoute)


def _route(
    router: APIRouter, method: str, path: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return router.api_route(path, methods=[method], include_in_schema=False, openapi_extra=_CHECKED)


def _heartbeat(store: Store, run_id: str) -> None:
    """A request from an MLflow client proves it alive (it sends no heartbeats of its own)."""
    store.heartbeat([run_id], int(time.time() * 1000))


# -- experiments ---------------------------------------------------------------------


def _experiment_by_id(store: Store, experiment_id: str) -> Experiment:
    found = store.get_experiment(experiment_id)
    if found.id != experiment_id:  # matched by name: MLflow asked for an id
        raise NotFound(f"No Experiment with id={experiment_id} exists")
    return found


def _experiment_by_name(store: Store, name: str) -> Experiment:
    try:
        found = store.get_experiment(name)
        if found.name == name:
            return found
    except NotFound:
        pass
    for experiment in store.list_experiments(include_deleted=True):
        if experiment.name == name:
            return experiment
    raise NotFound(f"Could not find experiment with name '{name}'")


@_route(_api, "POST", "/mlflow/experiments/create")
def create_experiment(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    name = _text(body, "name")
    try:
        _experiment_by_name(store, name)
    except NotFound:
        pass
    else:
        raise MlflowError("RESOURCE_ALREADY_EXISTS", f"Experiment '{name}' already exists.", 400)
    created = store.create_experiment(name, _pairs(body, "tags"))
    access_of(request).created(created.id)
    return _ok({"experiment_id": created.id})


@_route(_api, "GET", "/mlflow/experiments/get")
def get_experiment(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    experiment = _experiment_by_id(store, _text(body, "experiment_id"))
    access_of(request).require(experiment.id, "read")
    return _ok({"experiment": _experiment_json(experiment)})


@_route(_api, "GET", "/mlflow/experiments/get-by-name")
def get_experiment_by_name(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    experiment = _experiment_by_name(store, _text(body, "experiment_name"))
    access_of(request).require(experiment.id, "read")
    return _ok({"experiment": _experiment_json(experiment)})


@_route(_api, "POST", "/mlflow/experiments/search")
def search_experiments(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    view = _VIEWS.get(_text(body, "view_type", default="ACTIVE_ONLY").upper())
    if view is None:
        raise InvalidInput(
            f"view_type {body.get('view_type')!r}: use ACTIVE_ONLY, DELETED_ONLY or ALL"
        )
    found = store.list_experiments(include_deleted=view != "active")
    if view == "deleted":
        found = [e for e in found if e.deleted]
    readable = access_of(request).readable()
    if readable is not None:
        found = [e for e in found if e.id in readable]
    match = _experiment_filter(_text(body, "filter", default=""))
    found = [e for e in found if match(e)]
    found = _order_experiments(found, [str(o) for o in _list(body, "order_by")])
    offset = _offset_of(body.get("page_token"))
    size = _max_results(body, 1000)
    page = found[offset : offset + size]
    answer: dict[str, Any] = {"experiments": [_experiment_json(e) for e in page]}
    if offset + size < len(found):
        answer["next_page_token"] = _page_token(offset + size)
    return _ok(answer)


_CLAUSE = re.compile(
    r"""\s*(?P<key>(?:(?:attributes?|tags?)\.)?(?:`[^`]+`|"[^"]+"|[\w.\-/:]+))\s*
    (?P<op>!=|<>|>=|<=|=|<|>|\bI?LIKE\b)\s*
    (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?)\s*""",
    re.IGNORECASE | re.VERBOSE,
)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)


def _split_and(text: str) -> list[str]:
    """Split a filter at AND outside quotes."""
    parts: list[str] = []
    start = 0
    for chunk_start, chunk_end in _outside_quotes(text):
        for found in _AND.finditer(text, chunk_start, chunk_end):
            parts.append(text[start : found.start()])
            start = found.end()
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


def _outside_quotes(text: str, quotes: str = "'\"`") -> Iterator[tuple[int, int]]:
    """The spans of ``text`` outside text quoted with one of ``quotes``."""
    i, start, quote = 0, 0, ""
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
                start = i + 1
        elif char in quotes:
            yield start, i
            quote = char
        i += 1
    if not quote:
        yield start, len(text)


def _like(pattern: str, value: str, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return (
        re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)
        is not None
    )


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None:
        return False
    if op in {"LIKE", "ILIKE"}:
        return _like(str(right), str(left), op == "ILIKE")
    if op == "=":
        return bool(left == right)
    if op in ("!=", "<>"):
        return bool(left != right)
    try:
        if op == "<":
            return bool(left < right)
        if op == ">":
            return bool(left > right)
        if op == "<=":
            return bool(left <= right)
        return bool(left >= right)
    except TypeError:
        return False


def _test(getter: Callable[[Experiment], Any], op: str, value: Any) -> Callable[[Experiment], bool]:
    return lambda e: _compare(op, getter(e), value)


def _tag_of(key: str) -> Callable[[Experiment], Any]:
    return lambda e: e.tags.get(key)


def _experiment_filter(text: str) -> Callable[[Experiment], bool]:
    """MLflow's experiment filter (``name``, ``creation_time``, ``last_update_time``,
    ``tags.<key>`` compared with = != < > <= >= LIKE ILIKE, joined by AND)."""
    tests: list[Callable[[Experiment], bool]] = []
    for clause in _split_and(text):
        found = _CLAUSE.fullmatch(clause)
        if found is None:
            raise InvalidInput(
                f"invalid experiment filter clause {clause.strip()!r}: use "
                "name, creation_time, last_update_time or tags.<key> with "
                "=, !=, <, >, <=, >=, LIKE or ILIKE and a quoted value, joined by AND"
            )
        key, op = found["key"], found["op"].upper()
        raw = found["value"]
        value: Any = (
            raw[1:-1].replace("\\'", "'").replace('\\"', '"') if raw[0] in "'\"" else float(raw)
        )
        entity, _, name = key.partition(".") if "." in key else ("attribute", "", key)
        if entity.lower() not in ("attribute", "attributes", "tag", "tags"):
            entity, name = "attribute", key
        name = name.strip('`"')
        if entity.lower().startswith("tag"):
            tests.append(_test(_tag_of(name), op, value))
            continue
        getters: dict[str, Callable[[Experiment], Any]] = {
            "name": lambda e: e.name,
            "creation_time": lambda e: e.created,
            "last_update_time": lambda e: e.last_activity,
            "experiment_id": lambda e: e.id,
        }
        getter = getters.get(name.lower())
        if getter is None:
            raise InvalidInput(
                f"invalid attribute {name!r} in an experiment filter: use name, "
                "creation_time, last_update_time or tags.<key>"
            )
        tests.append(_test(getter, op, value))
    return lambda e: all(test(e) for test in tests)


def _order_experiments(found: list[Experiment], order_by: list[str]) -> list[Experiment]:
    keys: dict[str, Callable[[Experiment], Any]] = {
        "name": lambda e: e.name,
        "creation_time": lambda e: e.created,
        "last_update_time": lambda e: e.last_activity,
        "experiment_id": lambda e: int(e.id) if e.id.isdigit() else e.id,
    }
    ordered = sorted(found, key=lambda e: int(e.id) if e.id.isdigit() else 0)
    clauses = order_by or ["creation_time DESC"]
    for clause in reversed(clauses):
        words = clause.split()
        if not words or len(words) > 2:
            raise InvalidInput(f"invalid order_by clause {clause!r}: e.g. 'name ASC'")
        name = words[0].removeprefix("attributes.").removeprefix("attribute.")
        getter = keys.get(name.lower())
        if getter is None:
            raise InvalidInput(
                f"invalid order_by key {words[0]!r}: use name, creation_time, "
                "last_update_time or experiment_id"
            )
        descending = len(words) == 2 and words[1].upper() == "DESC"
        if len(words) == 2 and words[1].upper() not in ("ASC", "DESC"):
            raise InvalidInput(f"invalid order_by clause {clause!r}: end it with ASC or DESC")
        ordered.sort(key=getter, reverse=descending)
    return ordered


def _manageable(store: Store, request: Request, body: Body) -> Experiment:
    experiment = _experiment_by_id(store, _text(body, "experiment_id"))
    access_of(request).require(experiment.id, "manage")
    return experiment


@_route(_api, "POST", "/mlflow/experiments/update")
def update_experiment(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    experiment = _manageable(store, request, body)
    name = _text(body, "new_name")
    if name != experiment.name:
        try:
            _experiment_by_name(store, name)
        except NotFound:
            pass
        else:
            raise MlflowError(
                "RESOURCE_ALREADY_EXISTS", f"Experiment '{name}' already exists.", 400
            )
        store.update_experiment(experiment.id, name=name)
    return _ok()


@_route(_api, "POST", "/mlflow/experiments/delete")
def delete_experiment(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    experiment = _manageable(store, request, body)
    store.update_experiment(experiment.id, deleted=True)
    return _ok()


@_route(_api, "POST", "/mlflow/experiments/restore")
def restore_experiment(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    experiment = _manageable(store, request, body)
    store.update_experiment(experiment.id, deleted=False)
    return _ok()


@_route(_api, "POST", "/mlflow/experiments/set-experiment-tag")
def set_experiment_tag(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    experiment = _manageable(store, request, body)
    key = _text(body, "key")
    store.update_experiment(experiment.id, tags={key: _text(body, "value", default="")})
    return _ok()


# -- runs ----------------------------------------------------------------------------


def _run_id(body: Body) -> str:
    return _text(body, "run_id", "run_uuid")


def _editable_run(request: Request, run_id: str) -> None:
    access_of(request).require_run(run_id, "edit")


@_route(_api, "POST", "/mlflow/runs/create")
def create_run(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    experiment = _experiment_by_id(store, _text(body, "experiment_id", default="0"))
    access = access_of(request)
    access.require(experiment.id, "edit")
    tags = _pairs(body, "tags")
    parent_id = tags.pop(PARENT_TAG, None) or None
    name = _text(body, "run_name", default="") or tags.get(RUN_NAME_TAG, "")
    tags.pop(RUN_NAME_TAG, None)
    user = _text(body, "user_id", default="")
    if user and USER_TAG not in tags:
        tags[USER_TAG] = user
    if parent_id:
        access.require_run(parent_id, "read")
    if not name:
        from tane.tracking.fluent import _generate_name

        name = _generate_name()
    run = store.create_run(
        experiment.id,
        name,
        parent_id=parent_id,
        tags=tags,
        start_time=_int(body, "start_time"),
    )
    return _ok({"run": _run_json(run)})


@_route(_api, "GET", "/mlflow/runs/get")
def get_run(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    run_id = _run_id(body)
    access_of(request).require_run(run_id, "read")
    return _ok({"run": _run_json(store.get_run(run_id))})


@_route(_api, "POST", "/mlflow/runs/update")
def update_run(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    run_id = _run_id(body)
    _editable_run(request, run_id)
    status = None
    if body.get("status") not in (None, ""):
        status = _STATUS_IN.get(str(body["status"]).upper())
        if status is None:
            raise InvalidInput(
                f"unknown run status {body['status']!r}: use RUNNING, FINISHED, FAILED or KILLED"
            )
    name = _text(body, "run_name", default="") or None
    store.update_run(run_id, status=status, end_time=_int(body, "end_time"), name=name)
    if status is RunStatus.RUNNING:
        _heartbeat(store, run_id)
    return _ok({"run_info": _run_info(store.get_run(run_id))})


@_route(_api, "POST", "/mlflow/runs/delete")
def delete_run(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    run_id = _run_id(body)
    _editable_run(request, run_id)
    store.delete_runs([run_id])
    return _ok()


@_route(_api, "POST", "/mlflow/runs/restore")
def restore_run(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    run_id = _run_id(body)
    _editable_run(request, run_id)
    store.restore_runs([run_id])
    return _ok()


def _metric_point(item: Any) -> tuple[str, float, int, int]:
    if not isinstance(item, dict) or not isinstance(item.get("key"), str):
        raise InvalidInput(f"a metric must be an object with a 'key', not {item!r}")
    try:
        value = float_from_json(item.get("value"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput(
            f"metric {item['key']!r}: value {item.get('value')!r} is not a number"
        ) from None
    step = _int(item, "step") or 0
    timestamp = _int(item, "timestamp")
    if timestamp is None:
        timestamp = int(time.time() * 1000)
    return item["key"], value, step, timestamp


def _log(
    store: Store,
    run_id: str,
    metrics: list[Any],
    params: Mapping[str, str],
    tags: Mapping[str, str],
) -> None:
    """Store a batch from an MLflow client: names, parents and model copies mapped."""
    tags = dict(tags)
    name = tags.pop(RUN_NAME_TAG, None)
    points = []
    copies: dict[str, list[tuple[str, float, int, int]]] = {}
    for item in metrics:
        point = _metric_point(item)
        if isinstance(item, dict) and item.get("model_id"):
            # log_model copies the run's metrics onto the model: the run has them already.
            copies.setdefault(point[0], []).append(point)
        else:
            points.append(point)
    for key, candidates in copies.items():
        steps = [c[2] for c in candidates]
        have = {
            (m.step, m.timestamp, m.value)
            for m in store.get_metric_history(run_id, key, min(steps), max(steps))
        }
        points.extend(c for c in candidates if (c[2], c[3], c[1]) not in have)
    if PARENT_TAG in tags:
        run = store.get_run(run_id)
        if run.parent_id == tags[PARENT_TAG]:
            del tags[PARENT_TAG]
    store.log_batch(run_id, points, dict(params), tags)
    if name:
        store.update_run(run_id, name=name)
    _heartbeat(store, run_id)


@_route(_api, "POST", "/mlflow/runs/log-batch")
def log_batch(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    run_id = _run_id(body)
    _editable_run(request, run_id)
    _log(store, run_id, _list(body, "metrics"), _pairs(body, "params"), _pairs(body, "tags"))
    return _ok()


@_route(_api, "POST", "/mlflow/runs/log-metric")
def log_metric(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    run_id = _run_id(body)
    _editable_run(request, run_id)
    _log(store, run_id, [body], {}, {})
    return _ok()


@_route(_api, "POST", "/mlflow/runs/log-parameter")
def log_param(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    run_id = _run_id(body)
    _editable_run(request, run_id)
    _log(store, run_id, [], {_text(body, "key"): _text(body, "value", default="")}, {})
    return _ok()


@_route(_api, "POST", "/mlflow/runs/set-tag")
def set_tag(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    run_id = _run_id(body)
    _editable_run(request, run_id)
    _log(store, run_id, [], {}, {_text(body, "key"): _text(body, "value", default="")})
    return _ok()


@_route(_api, "POST", "/mlflow/runs/delete-tag")
def delete_tag(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    run_id = _run_id(body)
    _editable_run(request, run_id)
    key = _text(body, "key")
    if key not in store.get_run(run_id).tags:
        raise NotFound(f"No tag with name: {key} in run with id {run_id}")
    store.delete_tag(run_id, key)
    return _ok()


@_route(_api, "POST", "/mlflow/runs/log-model")
def log_model(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    run_id = _run_id(body)
    _editable_run(request, run_id)
    try:
        model = json.loads(_text(body, "model_json"))
    except ValueError:
        raise InvalidInput("model_json is not JSON: send the model's MLmodel as JSON") from None
    history_tag = "mlflow.log-model.history"
    try:
        history = json.loads(store.get_run(run_id).tags.get(history_tag, "[]"))
    except ValueError:
        history = []
    if not isinstance(history, list):
        history = []
    history.append(model)
    store.log_batch(run_id, tags={history_tag: json.dumps(history)})
    return _ok()


@_route(_api, "POST", "/mlflow/runs/log-inputs")
def log_inputs(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    run_id = _run_id(body)
    _editable_run(request, run_id)
    tags: dict[str, str] = {}
    for item in _list(body, "datasets"):
        dataset = item.get("dataset") if isinstance(item, dict) else None
        if not isinstance(dataset, dict) or not dataset.get("name"):
            raise InvalidInput(f"a dataset input needs a dataset with a name, not {item!r}")
        record = {
            k: dataset[k] for k in ("name", "digest", "source_type", "source") if k in dataset
        }
        for tag in item.get("tags") or []:
            if isinstance(tag, dict) and tag.get("key") == "mlflow.data.context":
                record["context"] = tag.get("value")
        tags[f"{DATASET_TAG}{dataset['name']}"] = json.dumps(record)
    if tags:
        store.log_batch(run_id, tags=tags)
    return _ok()


@_route(_api, "POST", "/mlflow/runs/outputs")
def log_outputs(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    # A logged model already belongs to its run (see create_logged_model).
    run_id = _run_id(body)
    _editable_run(request, run_id)
    store.get_run(run_id)
    return _ok()


_FILTER_TAGS = {
    RUN_NAME_TAG: "attributes.run_name",
    PARENT_TAG: "attributes.parent_id",
}
_TAG_KEY = re.compile(
    r"\btags?\.(?:`(?P<b>[^`]+)`|\"(?P<d>[^\"]+)\"|(?P<p>[\w.\-/:]+))", re.IGNORECASE
)


def translate_filter(text: str) -> str:
    """An MLflow run filter in tane's grammar: the name and parent tags become attributes.

    >>> translate_filter("tags.mlflow.parentRunId = 'abc' and tags.x = 'mlflow.runName'")
    "attributes.parent_id = 'abc' and tags.x = 'mlflow.runName'"
    """

    def swap(found: re.Match[str]) -> str:
        key = found["b"] or found["d"] or found["p"]
        return _FILTER_TAGS.get(key, found[0])

    out, last = [], 0
    # Only values are in single quotes; keys may be in backticks or double quotes.
    for start, end in _outside_quotes(text, "'"):
        out.append(text[last:start])
        out.append(_TAG_KEY.sub(swap, text[start:end]))
        last = end
    out.append(text[last:])
    return "".join(out)


def _readable(access: Access, store: Store, experiment_ids: list[str]) -> list[str] | None:
    """The experiments a search may look in: those named (each checked), else all readable."""
    if access.auth is None:
        return experiment_ids or None
    if not experiment_ids:
        readable = access.readable()
        return None if readable is None else sorted(readable)
    named = [_experiment_by_id(store, e).id for e in experiment_ids]
    for experiment_id in named:
        access.require(experiment_id, "read")
    return named


@_route(_api, "POST", "/mlflow/runs/search")
def search_runs(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    experiment_ids = _readable(
        access_of(request), store, [str(e) for e in _list(body, "experiment_ids")]
    )
    if experiment_ids == []:
        return _ok({"runs": []})
    view = _VIEWS.get(_text(body, "run_view_type", default="ACTIVE_ONLY").upper())
    if view is None:
        raise InvalidInput(
            f"run_view_type {body.get('run_view_type')!r}: use ACTIVE_ONLY, DELETED_ONLY or ALL"
        )
    page = store.search_runs(
        experiment_ids,
        translate_filter(_text(body, "filter", default="")),
        [translate_filter(str(o)) for o in _list(body, "order_by")],
        _max_results(body, 1000),
        _text(body, "page_token", default="") or None,
        view,
    )
    answer: dict[str, Any] = {"runs": [_run_json(r) for r in page.runs]}
    if page.next_page_token:
        answer["next_page_token"] = page.next_page_token
    return _ok(answer)


@_route(_api, "GET", "/mlflow/metrics/get-history")
def metric_history(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    run_id = _run_id(body)
    access_of(request).require_run(run_id, "read")
    points = store.get_metric_history(run_id, _text(body, "metric_key"))
    metrics = [{**p.to_json(), "run_id": run_id} for p in points]
    return _ok({"metrics": metrics})


@_route(_api, "GET", "/mlflow/artifacts/list")
def list_run_artifacts(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    run_id = _run_id(body)
    access_of(request).require_run(run_id, "read")
    run = store.get_run(run_id)
    rel = safe_artifact_path(_text(body, "path", default=""))
    files = [
        {"path": info.path, "is_dir": info.is_dir}
        | ({} if info.is_dir or info.size is None else {"file_size": info.size})
        for info in _children(store, run_id, rel)
    ]
    return _ok({"root_uri": run_artifact_uri(run), "files": files})


def _children(store: Store, run_id: str, rel: str) -> list[Any]:
    try:
        return [i for i in store.list_artifacts(run_id, rel) if i.path != rel]
    except NotFound:
        return []


# -- logged models (MLflow 3) --------------------------------------------------------


def _model_run_id(model_id: str) -> str:
    body = model_id.removeprefix("m-")
    run_id, sep, _ = body.rpartition("-")
    if not model_id.startswith("m-") or not sep or not run_id:
        raise NotFound(f"Logged model with ID '{model_id}' not found.")
    return run_id


def _model_path(model_id: str) -> str:
    return f"{MODEL_RECORDS}/{model_id}.json"


def _read_model(store: Store, model_id: str, allow_deleted: bool = False) -> dict[str, Any]:
    run_id = _model_run_id(model_id)
    try:
        run = store.get_run(run_id)
        if model_id not in run.tags.get(MODELS_TAG, "").split(","):
            raise NotFound(model_id)
        with store.open_artifact(run_id, _model_path(model_id)) as fh:
            record: dict[str, Any] = json.loads(fh.read())
    except NotFound:
        raise NotFound(f"Logged model with ID '{model_id}' not found.") from None
    if record.get("deleted") and not allow_deleted:
        raise NotFound(f"Logged model with ID '{model_id}' not found.")
    return record


def _write_model(store: Store, record: dict[str, Any]) -> None:
    record["last_updated_timestamp_ms"] = int(time.time() * 1000)
    data = json.dumps(record, sort_keys=True).encode()
    store.log_artifact_bytes(record["source_run_id"], _model_path(record["model_id"]), data)


def _model_json(record: Mapping[str, Any]) -> dict[str, Any]:
    info = {
        "model_id": record["model_id"],
        "experiment_id": record["experiment_id"],
        "name": record["name"],
        "creation_timestamp_ms": record["creation_timestamp_ms"],
        "last_updated_timestamp_ms": record["last_updated_timestamp_ms"],
        "artifact_uri": (
            f"mlflow-artifacts:/{record['experiment_id']}/{record['source_run_id']}"
            f"/artifacts/{record['folder']}"
        ),
        "status": record["status"],
        "model_type": record.get("model_type") or "",
        "source_run_id": record["source_run_id"],
        "tags": [{"key": k, "value": v} for k, v in record.get("tags", {}).items()],
    }
    params = [{"key": k, "value": v} for k, v in record.get("params", {}).items()]
    return {"info": info, "data": {"params": params, "metrics": []}}


@_route(_api, "POST", "/mlflow/logged-models")
def create_logged_model(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    access = access_of(request)
    name = _text(body, "name", default="model")
    folder = safe_artifact_path(name, allow_root=False)
    source = _text(body, "source_run_id", default="")
    if source:
        access.require_run(source, "edit")
        run = store.get_run(source)
    else:
        experiment = _experiment_by_id(store, _text(body, "experiment_id", default="0"))
        access.require(experiment.id, "edit")
        # A model logged outside any run gets a run of its own to hold it.
        run = store.create_run(experiment.id, name, tags={"tane.mlflow.model_run": "true"})
        store.update_run(run.id, status=RunStatus.FINISHED, end_time=int(time.time() * 1000))
    existing = [m for m in run.tags.get(MODELS_TAG, "").split(",") if m]
    model_id = f"m-{run.id}-{secrets.token_hex(4)}"
    taken = {_read_model(store, m, allow_deleted=True)["folder"] for m in existing}
    if folder in taken or _children(store, run.id, folder):
        folder = f"{folder}-{model_id[-8:]}"
    now = int(time.time() * 1000)
    record = {
        "model_id": model_id,
        "experiment_id": run.experiment_id,
        "name": name,
        "folder": folder,
        "creation_timestamp_ms": now,
        "status": "LOGGED_MODEL_PENDING",
        "model_type": _text(body, "model_type", default=""),
        "source_run_id": run.id,
        "tags": _pairs(body, "tags"),
        "params": _pairs(body, "params"),
    }
    _write_model(store, record)
    store.log_batch(run.id, tags={MODELS_TAG: ",".join([*existing, model_id])})
    return _ok({"model": _model_json(record)})


def _model_for(
    store: Store, request: Request, model_id: str, level: str, allow_deleted: bool = False
) -> dict[str, Any]:
    run_id = _model_run_id(model_id)
    access = access_of(request)
    try:
        access.require_run(run_id, "read" if level == "read" else "edit")
    except NotFound:
        raise NotFound(f"Logged model with ID '{model_id}' not found.") from None
    return _read_model(store, model_id, allow_deleted)


@_route(_api, "GET", "/mlflow/logged-models/{model_id}")
def get_logged_model(
    model_id: str, body: BodyDep, store: StoreDep, request: Request
) -> JSONResponse:
    allow = str(body.get("allow_deleted", "")).lower() == "true"
    return _ok({"model": _model_json(_model_for(store, request, model_id, "read", allow))})


@_route(_api, "PATCH", "/mlflow/logged-models/{model_id}")
def finalize_logged_model(
    model_id: str, body: BodyDep, store: StoreDep, request: Request
) -> JSONResponse:
    record = _model_for(store, request, model_id, "edit")
    status = _MODEL_STATUSES.get(_text(body, "status").upper())
    if status is None:
        raise InvalidInput(
            f"unknown logged model status {body['status']!r}: use LOGGED_MODEL_READY, "
            "LOGGED_MODEL_PENDING or LOGGED_MODEL_UPLOAD_FAILED"
        )
    record["status"] = status
    _write_model(store, record)
    return _ok({"model": _model_json(record)})


@_route(_api, "DELETE", "/mlflow/logged-models/{model_id}")
def delete_logged_model(model_id: str, store: StoreDep, request: Request) -> JSONResponse:
    record = _model_for(store, request, model_id, "edit")
    record["deleted"] = True
    _write_model(store, record)
    return _ok()


@_route(_api, "PATCH", "/mlflow/logged-models/{model_id}/tags")
def set_logged_model_tags(
    model_id: str, body: BodyDep, store: StoreDep, request: Request
) -> JSONResponse:
    record = _model_for(store, request, model_id, "edit")
    record["tags"] = {**record.get("tags", {}), **_pairs(body, "tags")}
    _write_model(store, record)
    return _ok()


@_route(_api, "DELETE", "/mlflow/logged-models/{model_id}/tags/{tag_key:path}")
def delete_logged_model_tag(
    model_id: str, tag_key: str, store: StoreDep, request: Request
) -> JSONResponse:
    record = _model_for(store, request, model_id, "edit")
    if tag_key not in record.get("tags", {}):
        raise NotFound(f"No tag with key {tag_key!r} on logged model {model_id}")
    del record["tags"][tag_key]
    _write_model(store, record)
    return _ok()


@_route(_api, "POST", "/mlflow/logged-models/{model_id}/params")
def log_logged_model_params(
    model_id: str, body: BodyDep, store: StoreDep, request: Request
) -> JSONResponse:
    record = _model_for(store, request, model_id, "edit")
    record["params"] = {**record.get("params", {}), **_pairs(body, "params")}
    _write_model(store, record)
    return _ok()


_MODEL_CLAUSE = re.compile(
    r"\s*(?:attributes?\.)?(?P<key>name|source_run_id|model_id|status|model_type)\s*"
    r"(?P<op>!=|=)\s*'(?P<value>(?:[^'\\]|\\.)*)'\s*",
    re.IGNORECASE,
)


@_route(_api, "POST", "/mlflow/logged-models/search")
def search_logged_models(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    tests: list[tuple[str, str, str]] = []
    for clause in _split_and(_text(body, "filter", default="")):
        found = _MODEL_CLAUSE.fullmatch(clause)
        if found is None:
            raise InvalidInput(
                f"unsupported logged model filter {clause.strip()!r}: tane answers filters on "
                "name, source_run_id, model_id, status and model_type with = or !=, joined by AND"
            )
        tests.append((found["key"].lower(), found["op"], found["value"].replace("\\'", "'")))
    experiment_ids = _readable(
        access_of(request), store, [str(e) for e in _list(body, "experiment_ids")]
    )
    records: list[dict[str, Any]] = []
    token: str | None = None
    while experiment_ids != []:
        page = store.search_runs(
            experiment_ids, f'tags."{MODELS_TAG}" IS NOT NULL', (), 1000, token, "all"
        )
        for run in page.runs:
            for model_id in run.tags.get(MODELS_TAG, "").split(","):
                if not model_id:
                    continue
                try:
                    record = _read_model(store, model_id)
                except NotFound:
                    continue
                if all((str(record.get(k, "")) == v) == (op == "=") for k, op, v in tests):
                    records.append(record)
        token = page.next_page_token
        if not token:
            break
    records.sort(key=lambda r: (-r["creation_timestamp_ms"], r["model_id"]))
    offset = _offset_of(body.get("page_token"))
    size = _max_results(body, 100)
    answer: dict[str, Any] = {"models": [_model_json(r) for r in records[offset : offset + size]]}
    if offset + size < len(records):
        answer["next_page_token"] = _page_token(offset + size)
    return _ok(answer)


# -- the model registry ---------------------------------------------------------------
#
# MLflow's registered models and versions are tane's (``tane models``): a version keeps
# the source the client sends (``models:/m-...`` for a logged model, ``runs:/...`` or an
# artifact URI) and its run. MLflow's stages are not kept: every version is in "None".


def _logged_model_id(source: str) -> str | None:
    """The logged model a ``models:/m-...`` source names, else None."""
    rest = source.removeprefix("models:/").strip("/")
    if source.startswith("models:/") and rest.startswith("m-") and "/" not in rest:
        return rest
    return None


def _run_of_source(source: str) -> str | None:
    """The run a version's source lies in, when tane can tell (None for other URIs)."""
    model_id = _logged_model_id(source)
    if model_id is not None:
        return _model_run_id(model_id)
    if source.startswith("runs:/"):
        return source.removeprefix("runs:/").strip("/").partition("/")[0] or None
    if source.startswith("mlflow-artifacts:/"):
        parts = [p for p in source.removeprefix("mlflow-artifacts:").split("/") if p]
        if len(parts) >= 3 and parts[2] == "artifacts":
            return parts[1]
    return None


def _download_uri(store: Store, version: ModelVersion) -> str:
    """Where an MLflow client downloads a version: through this server's artifact proxy."""
    source = version.source
    model_id = _logged_model_id(source)
    if model_id is not None:
        return str(_model_json(_read_model(store, model_id))["info"]["artifact_uri"])
    if source.startswith("runs:/"):
        run_id, _, path = source.removeprefix("runs:/").strip("/").partition("/")
        run = store.get_run(run_id)
        return f"{run_artifact_uri(run)}/{safe_artifact_path(path or 'model')}"
    return source


def _version_json(version: ModelVersion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": version.name,
        "version": str(version.version),
        "creation_timestamp": version.created,
        "last_updated_timestamp": version.created,
        "current_stage": "None",
        "description": version.description,
        "source": version.source,
        "status": "READY",
        "tags": [],
        "aliases": list(version.aliases),
    }
    if version.run_id:
        out["run_id"] = version.run_id
    model_id = _logged_model_id(version.source)
    if model_id:
        out["model_id"] = model_id
    return out


def _registered_json(store: Store, model: RegisteredModel) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": model.name,
        "creation_timestamp": model.created,
        "last_updated_timestamp": model.updated,
        "description": model.description,
        "tags": [],
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(model.aliases.items())],
    }
    if model.latest_version is not None:
        latest = store.get_model_version(model.name, model.latest_version)
        out["latest_versions"] = [_version_json(latest)]
    return out


def _registered(store: Store, name: str) -> RegisteredModel:
    for model in store.list_registered_models():
        if model.name == name:
            return model
    raise NotFound(f"Registered Model with name={name} not found")


def _version_number(body: Body) -> int:
    number = _int(body, "version")
    if number is None:
        raise InvalidInput("Missing value for required parameter 'version'.")
    return number


def _may_change(request: Request, run_ids: list[str | None]) -> None:
    """Registering a run's model (or aliasing it) needs edit on its experiment; else admin."""
    access = access_of(request)
    known = [r for r in run_ids if r]
    if not known:
        access.require_admin()
    for run_id in known:
        access.require_run(run_id, "edit")


def _no_tags(body: Body, what: str) -> None:
    if _list(body, "tags"):
        raise InvalidInput(f"tane's model registry keeps no tags on {what}: leave out 'tags'")


@_route(_api, "POST", "/mlflow/registered-models/create")
def create_registered_model(body: BodyDep, store: StoreDep) -> JSONResponse:
    name = _text(body, "name")
    check_model_name(name)
    _no_tags(body, "registered models")
    if _text(body, "description", default=""):
        raise InvalidInput(
            "tane's model registry takes a description per version, not per model: "
            "leave out 'description'"
        )
    try:
        _registered(store, name)
    except NotFound:
        pass
    else:
        raise MlflowError(
            "RESOURCE_ALREADY_EXISTS", f"Registered Model (name={name}) already exists.", 400
        )
    # tane keeps a model from its first version on: nothing to store yet.
    now = int(time.time() * 1000)
    model = RegisteredModel(name=name, created=now, updated=now)
    return _ok({"registered_model": _registered_json(store, model)})


@_route(_api, "GET", "/mlflow/registered-models/get")
def get_registered_model(body: BodyDep, store: StoreDep) -> JSONResponse:
    model = _registered(store, _text(body, "name"))
    return _ok({"registered_model": _registered_json(store, model)})


_NAME_CLAUSE = re.compile(
    r"\s*(?:attributes?\.)?name\s*(?P<op>!=|=|\bI?LIKE\b)\s*'(?P<value>(?:[^'\\]|\\.)*)'\s*",
    re.IGNORECASE,
)
_VERSION_CLAUSE = re.compile(
    r"""\s*(?:attributes?\.)?(?P<key>name|run_id|source_path|version_number)\s*
    (?P<op>!=|=|\bI?LIKE\b)\s*(?P<value>'(?:[^'\\]|\\.)*'|\d+)\s*""",
    re.IGNORECASE | re.VERBOSE,
)


_REGISTRY_TAG_CLAUSE = re.compile(
    r"""\s*tags?\.(?:`[^`]+`|"[^"]+"|[\w.\-/:]+)\s*(?P<op>!=|<>|=|\bI?LIKE\b)\s*
    (?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*""",
    re.IGNORECASE | re.VERBOSE,
)


def _tag_clause(clause: str) -> bool | None:
    """Whether a registry entry meets a ``tags.<key>`` clause: it has no tags (so only
    ``!=`` holds, as for the client's ``tags.`mlflow.prompt.is_prompt` != 'true'``);
    None when the clause is not about a tag."""
    found = _REGISTRY_TAG_CLAUSE.fullmatch(clause)
    return None if found is None else found["op"] in ("!=", "<>")


def _page(body: Body, items: list[Any], default: int, most: int) -> tuple[list[Any], str | None]:
    """One page of ``items`` (MLflow's registry searches page by offset too)."""
    offset = _offset_of(_text(body, "page_token", default="") or None)
    size = _int(body, "max_results") or default
    if not 1 <= size <= most:
        raise InvalidInput(f"max_results={size} must be between 1 and {most}")
    following = _page_token(offset + size) if offset + size < len(items) else None
    return items[offset : offset + size], following


def _ordered(
    items: list[Any], order_by: list[str], keys: Mapping[str, Callable[[Any], Any]]
) -> None:
    for clause in reversed(order_by):
        words = clause.split()
        key = keys.get(words[0].lower().removeprefix("attributes.")) if words else None
        if (
            key is None
            or len(words) > 2
            or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC"))
        ):
            raise InvalidInput(
                f"invalid order_by clause {clause!r}: use one of {', '.join(keys)} "
                "followed by ASC or DESC"
            )
        items.sort(key=key, reverse=len(words) == 2 and words[1].upper() == "DESC")


@_route(_api, "GET", "/mlflow/registered-models/search")
def search_registered_models(body: BodyDep, store: StoreDep) -> JSONResponse:
    tests: list[tuple[str, str]] = []
    for clause in _split_and(_text(body, "filter", default="")):
        tagged = _tag_clause(clause)
        if tagged is not None:
            if not tagged:
                return _ok({"registered_models": []})
            continue
        found = _NAME_CLAUSE.fullmatch(clause)
        if found is None:
            raise InvalidInput(
                f"unsupported registered model filter {clause.strip()!r}: tane answers "
                "filters on name with =, !=, LIKE or ILIKE and on tags (there are none), "
                "joined by AND"
            )
        tests.append((found["op"].upper(), found["value"].replace("\\'", "'")))
    models = [
        m
        for m in store.list_registered_models()
        if all(_compare(op, m.name, value) for op, value in tests)
    ]
    _ordered(
        models,
        [str(o) for o in _list(body, "order_by")],
        {
            "name": lambda m: m.name,
            "creation_timestamp": lambda m: m.created,
            "last_updated_timestamp": lambda m: m.updated,
        },
    )
    page, following = _page(body, models, 100, 1000)
    answer: dict[str, Any] = {"registered_models": [_registered_json(store, m) for m in page]}
    if following:
        answer["next_page_token"] = following
    return _ok(answer)


@_route(_api, "POST", "/mlflow/registered-models/get-latest-versions")
def get_latest_versions(body: BodyDep, store: StoreDep) -> JSONResponse:
    model = _registered(store, _text(body, "name"))
    stages = {str(s).lower() for s in _list(body, "stages")}
    if model.latest_version is None or (stages and "none" not in stages):
        return _ok({"model_versions": []})  # every version is in stage "None"
    latest = store.get_model_version(model.name, model.latest_version)
    return _ok({"model_versions": [_version_json(latest)]})


@_route(_api, "POST", "/mlflow/model-versions/create")
def create_model_version(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    name = _text(body, "name")
    source = _text(body, "source")
    _no_tags(body, "model versions")
    run_id = _text(body, "run_id", default="") or None
    model_id = _text(body, "model_id", default="") or _logged_model_id(source)
    source_run = _run_of_source(source)
    model_run = _model_run_id(model_id) if model_id else None
    _may_change(request, [run_id, source_run, model_run])
    if model_id:
        _read_model(store, model_id)  # NotFound for an unknown logged model
    made = store.register_model(
        name, source, run_id or source_run or model_run, _text(body, "description", default="")
    )
    return _ok({"model_version": _version_json(made)})


@_route(_api, "GET", "/mlflow/model-versions/get")
def get_model_version(body: BodyDep, store: StoreDep) -> JSONResponse:
    found = store.get_model_version(_text(body, "name"), _version_number(body))
    return _ok({"model_version": _version_json(found)})


@_route(_api, "GET", "/mlflow/model-versions/get-download-uri")
def get_model_version_download_uri(body: BodyDep, store: StoreDep) -> JSONResponse:
    found = store.get_model_version(_text(body, "name"), _version_number(body))
    return _ok({"artifact_uri": _download_uri(store, found)})


@_route(_api, "GET", "/mlflow/model-versions/search")
def search_model_versions(body: BodyDep, store: StoreDep) -> JSONResponse:
    tests: list[tuple[str, str, Any]] = []
    for clause in _split_and(_text(body, "filter", default="")):
        tagged = _tag_clause(clause)
        if tagged is not None:
            if not tagged:
                return _ok({"model_versions": []})
            continue
        found = _VERSION_CLAUSE.fullmatch(clause)
        if found is None:
            raise InvalidInput(
                f"unsupported model version filter {clause.strip()!r}: tane answers filters "
                "on name, run_id, source_path and version_number with =, !=, LIKE or ILIKE "
                "and on tags (there are none), joined by AND"
            )
        raw = found["value"]
        value: Any = raw[1:-1].replace("\\'", "'") if raw.startswith("'") else int(raw)
        key = found["key"].lower()
        if (
            key == "version_number"
            and isinstance(value, str)
            and value.isascii()
            and value.isdigit()
        ):
            value = int(value)
        tests.append((key, found["op"].upper(), value))
    names = [v for k, op, v in tests if k == "name" and op == "="]
    if names:
        try:
            versions = store.list_model_versions(str(names[0]))
        except NotFound:
            versions = []
    else:
        versions = [
            v for m in store.list_registered_models() for v in store.list_model_versions(m.name)
        ]
    fields: dict[str, Callable[[ModelVersion], Any]] = {
        "name": lambda v: v.name,
        "run_id": lambda v: v.run_id,
        "source_path": lambda v: v.source,
        "version_number": lambda v: v.version,
        "creation_timestamp": lambda v: v.created,
        "last_updated_timestamp": lambda v: v.created,
    }
    for key, op, value in tests:
        versions = [v for v in versions if _compare(op, fields[key](v), value)]
    versions.sort(key=lambda v: (v.name, -v.version))
    versions.sort(key=lambda v: v.created, reverse=True)
    _ordered(versions, [str(o) for o in _list(body, "order_by")], fields)
    page, following = _page(body, versions, 10_000, 200_000)
    answer: dict[str, Any] = {"model_versions": [_version_json(v) for v in page]}
    if following:
        answer["next_page_token"] = following
    return _ok(answer)


@_route(_api, "POST", "/mlflow/registered-models/alias")
def set_registered_model_alias(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    name, alias = _text(body, "name"), _text(body, "alias")
    target = store.get_model_version(name, _version_number(body))
    _may_change(request, [target.run_id])
    store.set_model_alias(name, alias, target.version)
    return _ok()


@_route(_api, "DELETE", "/mlflow/registered-models/alias")
def delete_registered_model_alias(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    name, alias = _text(body, "name"), _text(body, "alias")
    target = store.get_model_version(name, alias=alias)
    _may_change(request, [target.run_id])
    store.set_model_alias(name, alias, None)
    return _ok()


@_route(_api, "GET", "/mlflow/registered-models/alias")
def get_model_version_by_alias(body: BodyDep, store: StoreDep) -> JSONResponse:
    found = store.get_model_version(_text(body, "name"), alias=_text(body, "alias"))
    return _ok({"model_version": _version_json(found)})


# -- the artifact proxy (mlflow-artifacts:/<experiment>/<run>/artifacts/<path>) -------------


def _locate(store: Store, path: str) -> tuple[Run, str]:
    """The run and artifact path an ``mlflow-artifacts`` path names; NotFound if none."""
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) < 3 or parts[2] != "artifacts":
        raise NotFound(
            f"no artifacts at mlflow-artifacts:/{path}: tane serves the paths of runs, "
            "mlflow-artifacts:/<experiment_id>/<run_id>/artifacts/<path>"
        )
    run = store.get_run(parts[1])
    if run.experiment_id != parts[0]:
        raise NotFound(f"run {run.id} is not in experiment {parts[0]}")
    return run, safe_artifact_path("/".join(parts[3:]))


@_route(_artifacts, "GET", "/mlflow-artifacts/artifacts")
def proxy_list(body: BodyDep, store: StoreDep, request: Request) -> JSONResponse:
    path = _text(body, "path", default="")
    try:
        run, rel = _locate(store, path)
    except NotFound:
        return _ok({})
    access_of(request).require(run.experiment_id, "read")
    files = [
        {"path": posixpath.basename(info.path), "is_dir": info.is_dir}
        | ({} if info.is_dir or info.size is None else {"file_size": info.size})
        for info in _children(store, run.id, rel)
    ]
    return _ok({"files": files})


def _chunks(fh: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := fh.read(CHUNK_SIZE):
            yield chunk
    finally:
        fh.close()


@_route(_artifacts, "GET", "/mlflow-artifacts/artifacts/{path:path}")
def proxy_download(path: str, store: StoreDep, request: Request) -> StreamingResponse:
    run, rel = _locate(store, path)
    access_of(request).require(run.experiment_id, "read")
    if not rel:
        raise InvalidInput(f"mlflow-artifacts:/{path} is a run's artifact root, not a file")
    fh = store.open_artifact(run.id, rel)
    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}
    try:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(0)
        headers["Content-Length"] = str(size)
    except (OSError, ValueError):
        pass  # not seekable: sent chunked
    return StreamingResponse(_chunks(fh), media_type="application/octet-stream", headers=headers)


@_route(_artifacts, "PUT", "/mlflow-artifacts/artifacts/{path:path}")
async def proxy_upload(path: str, store: StoreDep, request: Request) -> JSONResponse:
    run, rel = await run_in_threadpool(_locate, store, path)
    await run_in_threadpool(access_of(request).require, run.experiment_id, "edit")
    if not rel:
        raise InvalidInput(f"mlflow-artifacts:/{path} is a run's artifact root: name a file")
    folder, name = posixpath.split(rel)
    with tempfile.TemporaryDirectory(prefix="tane-upload-") as tmp:
        local = os.path.join(tmp, name)
        with open(local, "wb") as fh:
            async for chunk in request.stream():
                if chunk:
                    await run_in_threadpool(fh.write, chunk)
        await run_in_threadpool(store.log_artifact, run.id, local, folder or None)
    await run_in_threadpool(_heartbeat, store, run.id)
    return _ok()


@_route(_artifacts, "DELETE", "/mlflow-artifacts/artifacts/{path:path}")
def proxy_delete(path: str) -> JSONResponse:
    return error_response(
        "NOT_IMPLEMENTED",
        "deleting artifacts (DELETE /api/2.0/mlflow-artifacts/artifacts/...) is not supported "
        "by tane: artifacts go with their run (tane runs rm, then tane gc)",
        501,
    )


# -- everything else -----------------------------------------------------------------

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _not_found(request: Request) -> JSONResponse:
    return error_response(
        "ENDPOINT_NOT_FOUND",
        f"tane does not implement the MLflow endpoint {request.method} {request.url.path}: "
        "it answers MLflow's tracking API (experiments, runs, metrics, artifacts, logged "
        "models) and the model registry's models, versions and aliases; see "
        "docs/server.md, 'MLflow clients'",
        404,
    )


#: The router ``create_app`` includes: MLflow's paths under /api and /ajax-api.
router = APIRouter()
for _prefix in ("/api/2.0", "/ajax-api/2.0"):
    router.include_router(_api, prefix=_prefix)
    router.include_router(_artifacts, prefix=_prefix)
for _prefix in ("/api/2.0", "/ajax-api/2.0", "/api/3.0", "/ajax-api/3.0"):
    for _family in ("mlflow", "mlflow-artifacts"):
        router.add_api_route(
            f"{_prefix}/{_family}/{{path:path}}",
            _not_found,
            methods=_METHODS,
            include_in_schema=False,
            openapi_extra=_CHECKED,
            route_class_override=MlflowRoute,
        )
