"""Who is calling and what they may do: the server's authentication and permissions.

With ``--auth``, :class:`AuthGate` (ASGI middleware) lets through only the few
public paths (health, readiness, the login page and login route) without
credentials; every other request must carry an API token
(``Authorization: Bearer tane_...``), a user name and password (HTTP Basic), or
the browser session cookie. A request made with the session cookie that could
change something must also carry the session's CSRF token in ``X-CSRF-Token``.

Then :func:`authorize`, a dependency of every API router, checks the route's
permission against the experiment it touches: ``read`` for GET, ``edit`` for
other methods, unless the route declares its own in its OpenAPI extension
``x-tane-permission`` (``read``, ``edit``, ``manage``, ``admin``, or ``user``
for routes whose handler checks the experiments named in the body). The
experiment comes from the path parameter ``run_id``, ``experiment_id`` or
``id_or_name``. Admins may do everything; other users hold a level per
experiment (``read`` < ``edit`` < ``manage``), granted explicitly, by creating
the experiment (its creator manages it), or by the server's default.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from tane.errors import NotAuthenticated, PermissionDenied, TooManyAttempts
from tane.server.users import LEVELS, AuthStore, Level, Rejected, User

if TYPE_CHECKING:
    from tane.tracking.stores.base import Store

DefaultLevel = Literal["none", "read", "edit"]
SESSION_COOKIE = "tane_session"
CSRF_HEADER = "x-csrf-token"
#: Requests anyone may make with auth on: (method, path).
PUBLIC = frozenset(
    {
        ("GET", "/health"),
        ("GET", "/ready"),
        ("GET", "/login"),
        ("POST", "/login"),
        ("POST", "/logout"),
        ("POST", "/api/v1/auth/login"),
    }
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """The caller of a request.

    Attributes:
        user: The user, None when auth is off (everyone may do everything).
        via: ``token``, ``password``, ``session`` or ``none`` (auth off).
        csrf: The session's CSRF token (browser sessions only).
    """

    user: User | None
    via: str
    csrf: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.user is None or self.user.is_admin

    @property
    def name(self) -> str:
        return self.user.name if self.user is not None else "anonymous"


NOBODY = Principal(user=None, via="none")


class LoginLimiter:
    """Refuses logins after ``attempts`` failures within ``window`` seconds (per key).

    Keys are the client address and the user name, so neither one client trying
    many names nor many clients trying one name get far. Per process: each
    uvicorn worker counts on its own.
    """

    def __init__(self, attempts: int = 5, window: float = 60.0) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, *keys: str) -> None:
        """Raise TooManyAttempts if any key is over the limit."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                times = self._failures.get(key)
                if not times:
                    continue
                while times and now - times[0] > self.window:
                    times.popleft()
                if len(times) >= self.attempts:
                    wait = int(self.window - (now - times[0])) + 1
                    raise TooManyAttempts(
                        f"too many failed logins: wait {wait} s before trying again",
                        retry_after=wait,
                    )

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 10_000:  # forget the oldest keys
                for key in list(self._failures)[:5_000]:
                    del self._failures[key]

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


@dataclass
class AuthSettings:
    """How the server's auth behaves.

    Attributes:
        default_permission: What a user may do on an experiment nobody granted
            them anything on: ``none``, ``read`` (default) or ``edit``.
        session_hours: How long a browser login lasts.
        login_attempts: Failed logins allowed per client and per user name ...
        login_window: ... within this many seconds.
    """

    default_permission: DefaultLevel = "read"
    session_hours: float = 24.0 * 7
    login_attempts: int = 5
    login_window: float = 60.0


@dataclass
class Auth:
    """The server's auth: the user tables and the policy over them."""

    users: AuthStore
    settings: AuthSettings = field(default_factory=AuthSettings)

    def __post_init__(self) -> None:
        self.limiter = LoginLimiter(self.settings.login_attempts, self.settings.login_window)
        #: Called once before the first check: opens (creates, migrates) the store.
        self.prepare: Callable[[], object] | None = None
        self._prepared = False
        self._run_experiments: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    # -- who ---------------------------------------------------------------------------

    def authenticate(self, request: Request) -> Principal:
        """Return the caller of ``request``; raise NotAuthenticated."""
        if not self._prepared:
            if self.prepare is not None:
                self.prepare()
            self._prepared = True
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            found = self.users.check_token(value)
            if isinstance(found, Rejected):
                raise NotAuthenticated(found.message)
            return Principal(user=found, via="token")
        if scheme.lower() == "basic" and value:
            name, password = _basic(value)
            if password.startswith("tane_"):
                # MLflow clients send a token as the password of Basic auth.
                found = self.users.check_token(password)
                if isinstance(found, Rejected):
                    raise NotAuthenticated(found.message)
                return Principal(user=found, via="token")
            return Principal(user=self.login(request, name, password), via="password")
        if header:
            raise NotAuthenticated(
                "the Authorization header is neither 'Bearer <token>' nor Basic: "
                "send 'Authorization: Bearer tane_...' (TANE_TOKEN)"
            )
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            session = self.users.check_session(cookie)
            if session is None:
                raise NotAuthenticated("the browser session has ended: log in again at /login")
            user, csrf = session
            return Principal(user=user, via="session", csrf=csrf)
        raise NotAuthenticated(
            "this server requires authentication: set TANE_TOKEN to a token from "
            "`tane tokens create`, or log in at /login"
        )

    def login(self, request: Request, name: str, password: str) -> User:
        """Check a user name and password, rate-limited; raise NotAuthenticated."""
        client = request.client.host if request.client else "unknown"
        keys = (f"client:{client}", f"user:{name}")
        self.limiter.check(*keys)
        user = self.users.check_login(name, password)
        if user is None:
            self.limiter.failed(*keys)
            raise NotAuthenticated("wrong user name or password")
        self.limiter.succeeded(f"user:{name}")
        return user

    # -- what ----------------------------------------------------------------------------

    def level(self, principal: Principal, experiment_id: str) -> Level | None:
        """The level ``principal`` holds on an experiment (None: nothing)."""
        if principal.is_admin:
            return "manage"
        assert principal.user is not None
        granted = self.users.level(principal.user.id, experiment_id)
        default = self.settings.default_permission
        candidates = [lvl for lvl in (granted, None if default == "none" else default) if lvl]
        if not candidates:
            return None
        return max(candidates, key=LEVELS.index)

    def readable(self, principal: Principal) -> set[str] | None:
        """Ids of the experiments ``principal`` may read; None for all of them."""
        if principal.is_admin or self.settings.default_permission != "none":
            return None
        assert principal.user is not None
        return set(self.users.levels_of(principal.user.id))

    def experiment_of_run(self, store: Store, run_id: str) -> str:
        """The experiment of a run (remembered: a run never changes experiment)."""
        with self._lock:
            found = self._run_experiments.get(run_id)
            if found is not None:
                self._run_experiments.move_to_end(run_id)
                return found
        experiment = store.get_run(run_id).experiment_id
        with self._lock:
            self._run_experiments[run_id] = experiment
            while len(self._run_experiments) > 100_000:
                self._run_experiments.popitem(last=False)
        return experiment


class Access:
    """What the caller of one request may do (``request.state.access``)."""

    def __init__(
        self, auth: Auth | None, principal: Principal, store: Callable[[], Store] | None = None
    ) -> None:
        self.auth = auth
        self.principal = principal
        self._store = store

    def require(self, experiment_id: str, level: Level) -> None:
        """Raise PermissionDenied unless the caller holds ``level`` on the experiment."""
        if self.auth is None or self.principal.is_admin:
            return
        held = self.auth.level(self.principal, experiment_id)
        if held is None or LEVELS.index(held) < LEVELS.index(level):
            has = f"holds {held}" if held else "holds no permission"
            raise PermissionDenied(
                f"user {self.principal.name!r} {has} on experiment {experiment_id} and this "
                f"needs {level}: ask a manager of the experiment or an admin "
                f"(tane users grant {self.principal.name} --experiment {experiment_id} "
                f"--level {level})"
            )

    def require_run(self, run_id: str, level: Level) -> None:
        """Like :meth:`require`, for the experiment of a run (RunNotFound if unknown)."""
        if self.auth is None or self.principal.is_admin:
            return
        assert self._store is not None
        self.require(self.auth.experiment_of_run(self._store(), run_id), level)

    def created(self, experiment_id: str) -> None:
        """The caller created this experiment: they manage it."""
        user = self.principal.user
        if self.auth is not None and user is not None and not user.is_admin:
            self.auth.users.grant(user.name, experiment_id, "manage")

    def require_admin(self) -> None:
        if not self.principal.is_admin:
            raise PermissionDenied(f"user {self.principal.name!r} is not an admin")

    def readable(self) -> set[str] | None:
        """Ids of the experiments the caller may read; None for all."""
        if self.auth is None:
            return None
        return self.auth.readable(self.principal)

    def can_read(self, experiment_id: str) -> bool:
        if self.auth is None or self.principal.is_admin:
            return True
        return self.auth.level(self.principal, experiment_id) is not None


def access_of(request: Request) -> Access:
    """The Access of a request (set by :func:`authorize`)."""
    found = getattr(request.state, "access", None)
    if isinstance(found, Access):
        return found
    return Access(None, NOBODY)


def _permission_of(request: Request) -> str:
    route = request.scope.get("route")
    extra = getattr(route, "openapi_extra", None) or {}
    declared = extra.get("x-tane-permission")
    if isinstance(declared, str):
        return declared
    return "read" if request.method in _SAFE_METHODS else "edit"


async def authorize(request: Request) -> None:
    """Router dependency: check the caller may do what the route does (403 if not)."""
    auth: Auth | None = request.app.state.auth
    if auth is None:
        request.state.access = Access(None, NOBODY)
        return
    needed = _permission_of(request)
    principal = request.scope.get("state", {}).get("principal")
    if needed == "public":
        request.state.access = Access(auth, NOBODY)
        return
    if not isinstance(principal, Principal):
        # The gate lets no request past without one, except to public paths.
        raise NotAuthenticated("this route needs credentials")
    params = request.path_params
    access = Access(auth, principal, request.app.state.store_holder.get)
    request.state.access = access
    if needed == "user" or principal.is_admin:
        return
    if needed == "admin":
        access.require_admin()
        return
    if needed not in LEVELS:
        raise PermissionDenied(f"route declares an unknown permission {needed!r}")
    level: Level = needed
    if "run_id" in params:
        await run_in_threadpool(access.require_run, params["run_id"], level)
    elif "experiment_id" in params or "id_or_name" in params:
        key = params.get("experiment_id") or params["id_or_name"]
        store = await run_in_threadpool(request.app.state.store_holder.get)
        experiment = await run_in_threadpool(store.get_experiment, key)
        access.require(experiment.id, level)
    else:
        raise PermissionDenied(
            f"route {request.url.path} names no experiment or run: only admins may use it"
        )


def _basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise NotAuthenticated("the Basic credentials are not valid base64") from None
    name, sep, password = decoded.partition(":")
    if not sep:
        raise NotAuthenticated("the Basic credentials have no ':' between name and password")
    return name, password


class AuthGate:
    """ASGI middleware: no request past it without credentials (auth on).

    Browser page loads (GET of a non-API path accepting HTML) are redirected
    to ``/login``; everything else gets a 401 JSON error.
    """

    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in PUBLIC:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            principal = await run_in_threadpool(self.auth.authenticate, request)
            if principal.via == "session" and request.method not in _SAFE_METHODS:
                sent = request.headers.get(CSRF_HEADER, "")
                if (
                    not sent
                    or principal.csrf is None
                    or not hmac.compare_digest(sent, principal.csrf)
                ):
                    raise PermissionDenied(
                        "the request lacks the session's CSRF token: send it in the "
                        "X-CSRF-Token header (GET /api/v1/auth/me returns it)"
                    )
        except (NotAuthenticated, PermissionDenied, TooManyAttempts) as exc:
            await _deny(scope, send, exc)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


async def _deny(scope: Scope, send: Send, exc: Exception) -> None:
    method, path = scope["method"], scope["path"]
    accept = ""
    for name, value in scope.get("headers", ()):
        if name == b"accept":
            accept = value.decode("latin-1")
    headers: list[tuple[bytes, bytes]]
    if (
        isinstance(exc, NotAuthenticated)
        and method == "GET"
        and not path.startswith("/api/")
        and "text/html" in accept
    ):
        from urllib.parse import quote

        query = scope.get("query_string", b"").decode("latin-1")
        target = path + (f"?{query}" if query else "")
        headers = [(b"location", f"/login?next={quote(target, safe='')}".encode())]
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    status = {NotAuthenticated: 401, PermissionDenied: 403, TooManyAttempts: 429}[type(exc)]
    body = json.dumps({"error": {"type": type(exc).__name__, "message": str(exc)}}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="tane"'))
    if isinstance(exc, TooManyAttempts):
        headers.append((b"retry-after", str(exc.retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
