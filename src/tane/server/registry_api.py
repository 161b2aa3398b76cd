"""The model registry's routes: registered models, versions and aliases (``/api/v1/models``).

Any signed-in user may read the registry (names, versions, where each is); loading
a model still reads its run's artifacts, which needs read on that run's experiment.
Registering a version of a run, or pointing an alias at it, needs edit on the run's
experiment; a version that no run logged (a source elsewhere) needs an admin.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tane.server.api import _AUTH_ERRORS, _ERRORS, StoreDep
from tane.server.auth import access_of
from tane.tracking.stores.base import Store

router = APIRouter(prefix="/api/v1", responses={**_ERRORS, **_AUTH_ERRORS}, tags=["models"])
_ANY_USER = {"x-tane-permission": "user"}


class ModelVersionOut(BaseModel):
    name: str
    version: int
    source: str = Field(description="Where the model is, e.g. runs:/<run id>/model.")
    run_id: str | None
    created: int
    description: str
    aliases: list[str]


class RegisteredModelOut(BaseModel):
    name: str
    created: int
    updated: int
    description: str
    latest_version: int | None
    aliases: dict[str, int]


class RegisteredModelListOut(BaseModel):
    models: list[RegisteredModelOut]


class ModelVersionListOut(BaseModel):
    versions: list[ModelVersionOut]


class ModelVersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=4000, examples=["runs:/<run id>/model"])
    run_id: str | None = Field(default=None, max_length=32)
    description: str = Field(default="", max_length=10_000)


class AliasIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, lt=2**31)


def _may_change(request: Request, store: Store, run_id: str | None) -> None:
    access = access_of(request)
    if run_id is None:
        access.require_admin()
    else:
        access.require_run(run_id, "edit")


@router.get("/models", summary="List registered models", openapi_extra=_ANY_USER)
def list_models(store: StoreDep) -> RegisteredModelListOut:
    models = [m.to_json() for m in store.list_registered_models()]
    return JSONResponse({"models": models})  # type: ignore[return-value]


@router.get(
    "/models/{name}/versions",
    summary="List a model's versions, newest first",
    openapi_extra=_ANY_USER,
)
def list_versions(name: str, store: StoreDep) -> ModelVersionListOut:
    versions = [v.to_json() for v in store.list_model_versions(name)]
    return JSONResponse({"versions": versions})  # type: ignore[return-value]


@router.post(
    "/models/{name}/versions",
    summary="Register the next version of a model (the model is created if new)",
    status_code=201,
    openapi_extra=_ANY_USER,
)
def register(name: str, body: ModelVersionIn, store: StoreDep, request: Request) -> ModelVersionOut:
    _may_change(request, store, body.run_id)
    made = store.register_model(name, body.source, body.run_id, body.description)
    return JSONResponse(made.to_json(), status_code=201)  # type: ignore[return-value]


@router.get(
    "/models/{name}/versions/{version}", summary="Get a model version", openapi_extra=_ANY_USER
)
def get_version(name: str, version: int, store: StoreDep) -> ModelVersionOut:
    return JSONResponse(store.get_model_version(name, version).to_json())  # type: ignore[return-value]


@router.get(
    "/models/{name}/aliases/{alias}",
    summary="Get the version an alias points at",
    openapi_extra=_ANY_USER,
)
def get_alias(name: str, alias: str, store: StoreDep) -> ModelVersionOut:
    found = store.get_model_version(name, alias=alias)
    return JSONResponse(found.to_json())  # type: ignore[return-value]


@router.put(
    "/models/{name}/aliases/{alias}",
    summary="Point an alias (e.g. champion) at a version",
    status_code=204,
    openapi_extra=_ANY_USER,
)
def set_alias(name: str, alias: str, body: AliasIn, store: StoreDep, request: Request) -> Response:
    _may_change(request, store, store.get_model_version(name, body.version).run_id)
    store.set_model_alias(name, alias, body.version)
    return Response(status_code=204)


@router.delete(
    "/models/{name}/aliases/{alias}",
    summary="Remove an alias",
    status_code=204,
    openapi_extra=_ANY_USER,
)
def delete_alias(name: str, alias: str, store: StoreDep, request: Request) -> Response:
    _may_change(request, store, store.get_model_version(name, alias=alias).run_id)
    store.set_model_alias(name, alias, None)
    return Response(status_code=204)
