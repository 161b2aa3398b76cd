"""The ASGI app: error mapping, health checks and the lazily opened store."""

from __future__ import annotations

import contextlib
import os
import threading
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tane._version import __version__
from tane.errors import (
    InvalidFilter,
    InvalidInput,
    NotFound,
    ParamConflict,
    StoreError,
    TaneError,
)
from tane.server.schemas import HealthOut, error_body
from tane.tracking.entities import DEFAULT_EXPERIMENT_ID

if TYPE_CHECKING:
    from tane.tracking.stores.base import Store

#: The environment variable ``tane server --workers N`` passes the store URI in.
STORE_ENV = "TANE_SERVER_STORE"


class StoreHolder:
    """Opens the store on first use, so that the server starts even if it is down.

    Args:
        uri: The store URI; None for the default (TANE_STORE, else the project's).
        store: An already open store (tests); ``uri`` is then ignored.
    """

    def __init__(self, uri: str | None = None, store: Store | None = None) -> None:
        self._uri = uri
        self._store = store
        self._lock = threading.Lock()

    def get(self) -> Store:
        """Return the store, opening it now if needed; raise StoreError if it cannot be."""
        store = self._store
        if store is not None:
            return store
        with self._lock:
            if self._store is None:
                from tane.project import resolve_store_uri
                from tane.tracking.stores import open_store

                self._store = open_store(resolve_store_uri(self._uri))
            return self._store


def status_of(exc: TaneError) -> int:
    """Return the HTTP status code an error of tane maps to."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, ParamConflict):
        return 409
    if isinstance(exc, StoreError):
        return 503
    # InvalidInput, InvalidFilter and anything else tane raises on purpose
    # are about the request, never a server fault.
    return 400


async def _tane_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TaneError)
    position = exc.position if isinstance(exc, InvalidFilter) else None
    return JSONResponse(
        error_body(type(exc).__name__, str(exc), position), status_code=status_of(exc)
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err.get("loc", ()))
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    message = "invalid request: " + "; ".join(problems)
    return JSONResponse(error_body(InvalidInput.__name__, message), status_code=400)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kinds = {404: "NotFound", 405: "MethodNotAllowed"}
    return JSONResponse(
        error_body(kinds.get(exc.status_code, "HTTPError"), str(exc.detail)),
        status_code=exc.status_code,
        headers=exc.headers,
    )


def create_app(store_uri: str | None = None, *, store: Store | None = None) -> FastAPI:
    """Return the server's ASGI app over the store at ``store_uri`` (or ``store``).

    The store is opened on the first request that needs it, so the app starts
    (and ``/health`` answers) even while the database is unreachable.

    Args:
        store_uri: A folder, ``sqlite:///file.db`` or ``postgresql://...``;
            None for TANE_STORE, else the project's store.
        store: An open store to serve instead (tests, embedding).
    """
    from tane.server.api import router

    app = FastAPI(
        title="tane",
        version=__version__,
        description="tane's tracking server: experiments, runs, metrics and artifacts.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    holder = StoreHolder(store_uri, store)
    app.state.store_holder = holder
    app.add_exception_handler(TaneError, _tane_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.include_router(router)

    @app.get(
        "/health",
        summary="Whether the server process is up",
        tags=["health"],
        response_model_exclude_none=True,
    )
    def health() -> HealthOut:
        return HealthOut(status="ok")

    @app.get(
        "/ready",
        summary="Whether the store can be reached",
        tags=["health"],
        responses={503: {"model": HealthOut, "description": "The store cannot be reached."}},
    )
    def ready() -> JSONResponse:
        try:
            opened = holder.get()
            # NotFound still means the store answered: that is all readiness asks.
            with contextlib.suppress(NotFound):
                opened.get_experiment(DEFAULT_EXPERIMENT_ID)
        except Exception as exc:
            body = HealthOut(status="unavailable", reason=f"{type(exc).__name__}: {exc}")
            return JSONResponse(body.model_dump(), status_code=503)
        return JSONResponse(HealthOut(status="ok").model_dump(exclude_none=True))

    return app


def app_from_env() -> FastAPI:
    """Return the app over the store named by TANE_SERVER_STORE (uvicorn ``--factory``)."""
    return create_app(os.environ.get(STORE_ENV) or None)
