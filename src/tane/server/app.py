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
    NotAuthenticated,
    NotFound,
    ParamConflict,
    PermissionDenied,
    StoreError,
    TaneError,
    TooManyAttempts,
)
from tane.server.schemas import HealthOut, error_body
from tane.tracking.entities import DEFAULT_EXPERIMENT_ID

if TYPE_CHECKING:
    from tane.server.auth import Auth, AuthSettings
    from tane.tracking.stores.base import Store

#: The environment variable ``tane server`` passes its settings (JSON) to workers in.
SETTINGS_ENV = "TANE_SERVER_SETTINGS"
#: A store URI alone (for ``uvicorn --factory tane.server.app:app_from_env``).
STORE_ENV = "TANE_SERVER_STORE"


class StoreHolder:
    """Opens the store on first use, so that the server starts even if it is down.

    Args:
        uri: The store URI; None for the default (TANE_STORE, else the project's).
        store: An already open store (tests); ``uri`` is then ignored.
        artifacts: The artifact root of a store created now (any fsspec URL);
            an existing store must already use it.
    """

    def __init__(
        self, uri: str | None = None, store: Store | None = None, artifacts: str | None = None
    ) -> None:
        self._uri = uri
        self._store = store
        self._artifacts = artifacts
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

                uri = resolve_store_uri(self._uri)
                opened = open_store(uri, self._artifacts)
                wanted = (self._artifacts or "").rstrip("/")
                if wanted and opened.artifact_root.rstrip("/") != wanted:
                    raise StoreError(
                        f"the store {uri} keeps its artifacts at {opened.artifact_root} "
                        f"(recorded when it was created), not {self._artifacts}: drop "
                        "--artifacts, or serve a new store"
                    )
                self._store = opened
            return self._store


def status_of(exc: TaneError) -> int:
    """Return the HTTP status code an error of tane maps to."""
    if isinstance(exc, NotAuthenticated):
        return 401
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, TooManyAttempts):
        return 429
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
    headers = {}
    if isinstance(exc, NotAuthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="tane"'
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(
        error_body(type(exc).__name__, str(exc), position),
        status_code=status_of(exc),
        headers=headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err.get("loc", ()))
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    message = "invalid request: " + "; ".join(problems)
    return JSONResponse(error_body(InvalidInput.__name__, message), status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kinds = {404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}
    return JSONResponse(
        error_body(kinds.get(exc.status_code, "HTTPError"), str(exc.detail)),
        status_code=exc.status_code,
        headers=exc.headers,
    )


def _env_bytes(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name}={raw!r} is not a number of bytes: give an integer") from None
    if value < 1:
        raise InvalidInput(f"{name}={raw!r} must be a positive number of bytes")
    return value


def create_app(
    store_uri: str | None = None,
    *,
    store: Store | None = None,
    artifacts: str | None = None,
    max_body: int | None = None,
    max_upload: int | None = None,
    auth: bool | Auth = False,
    auth_settings: AuthSettings | None = None,
) -> FastAPI:
    """Return the server's ASGI app over the store at ``store_uri`` (or ``store``).

    The store is opened on the first request that needs it, so the app starts
    (and ``/health`` answers) even while the database is unreachable.

    Args:
        store_uri: A folder, ``sqlite:///file.db`` or ``postgresql://...``;
            None for TANE_STORE, else the project's store.
        store: An open store to serve instead (tests, embedding).
        artifacts: Where a store created now keeps artifacts (any fsspec URL,
            e.g. ``s3://bucket/tane``); the server proxies them to clients.
        max_body: Largest JSON request body in bytes (413 above it); default
            TANE_SERVER_MAX_BODY, else 32 MiB.
        max_upload: Largest artifact upload in bytes; default
            TANE_SERVER_MAX_UPLOAD, else 8 GiB.
        auth: Check credentials and permissions (``tane server --auth``): True
            keeps users and tokens in the store's database; or an Auth to use.
        auth_settings: The default permission, session length and login limits.
    """
    from fastapi import Depends

    from tane.server import auth_api, mlflow_api, registry_api, views
    from tane.server.api import router
    from tane.server.auth import Auth, AuthGate, AuthSettings, authorize
    from tane.server.limits import MAX_BODY, MAX_UPLOAD, BodyLimit

    app = FastAPI(
        title="tane",
        version=__version__,
        description="tane's tracking server: experiments, runs, metrics and artifacts.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        swagger_ui_oauth2_redirect_url=None,
        redoc_url=None,
    )
    holder = StoreHolder(store_uri, store, artifacts)
    app.state.store_holder = holder
    checker: Auth | None = None
    if isinstance(auth, Auth):
        checker = auth
    elif auth:
        from tane.server.users import AuthStore

        checker = Auth(AuthStore(_database_of(store_uri, store)), auth_settings or AuthSettings())
    if checker is not None:
        checker.prepare = holder.get  # the store's schema (and user tables) come first
    app.state.auth = checker
    app.add_exception_handler(TaneError, _tane_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.include_router(router, dependencies=[Depends(authorize)])
    app.include_router(views.router, dependencies=[Depends(authorize)])
    app.include_router(registry_api.router, dependencies=[Depends(authorize)])
    # After every other /api/2.0/mlflow route: it ends with a catch-all for the rest.
    app.include_router(mlflow_api.router, dependencies=[Depends(authorize)])
    app.include_router(auth_api.public_router)
    if checker is not None:
        app.include_router(auth_api.router)
    app.include_router(auth_api.pages)
    app.add_middleware(
        BodyLimit,
        max_body=max_body or _env_bytes("TANE_SERVER_MAX_BODY", MAX_BODY),
        max_upload=max_upload or _env_bytes("TANE_SERVER_MAX_UPLOAD", MAX_UPLOAD),
    )

    if checker is not None:
        # Outermost: nothing runs for a caller without credentials.
        app.add_middleware(AuthGate, auth=checker)

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
    def ready(request: Request) -> JSONResponse:
        try:
            opened = request.app.state.store_holder.get()
            # NotFound still means the store answered: that is all readiness asks.
            with contextlib.suppress(NotFound):
                opened.get_experiment(DEFAULT_EXPERIMENT_ID)
        except Exception as exc:
            body = HealthOut(status="unavailable", reason=f"{type(exc).__name__}: {exc}")
            return JSONResponse(body.model_dump(), status_code=503)
        return JSONResponse(HealthOut(status="ok").model_dump(exclude_none=True))

    from tane.server.ui import mount_ui

    mount_ui(app)  # last: its catch-all route must not shadow the API
    return app


def _database_of(store_uri: str | None, store: Store | None) -> str:
    """The database URL holding the users of a served store."""
    if store is not None:
        uri = store.uri
    else:
        from tane.project import resolve_store_uri
        from tane.tracking.stores import database_location

        uri = database_location(resolve_store_uri(store_uri))[0]
    if uri.split("://", 1)[0].lower() in ("http", "https"):
        raise InvalidInput(
            f"cannot check credentials for the store {uri}: it is another tane server; "
            "serve a database store (a folder, sqlite:///... or postgresql://...) with --auth"
        )
    return uri


def app_from_env() -> FastAPI:
    """Return the app ``tane server`` configured (uvicorn ``--factory``).

    Reads the JSON settings in TANE_SERVER_SETTINGS (``store``, ``artifacts``,
    ``auth``, ``default_permission``), else the store URI in TANE_SERVER_STORE.
    """
    import json

    from tane.server.auth import AuthSettings

    raw = os.environ.get(SETTINGS_ENV)
    if not raw:
        return create_app(os.environ.get(STORE_ENV) or None)
    settings = json.loads(raw)
    return create_app(
        settings.get("store"),
        artifacts=settings.get("artifacts"),
        auth=bool(settings.get("auth")),
        auth_settings=AuthSettings(default_permission=settings.get("default_permission", "read")),
    )
