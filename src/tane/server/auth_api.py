"""Routes of the server's auth: login and logout, users, API tokens, permissions.

``/api/v1/auth/...``, ``/api/v1/users``, ``/api/v1/tokens`` and
``/api/v1/experiments/{experiment_id}/permissions`` exist only with ``--auth``;
``GET /api/v1/auth/me`` always answers (``auth: false`` without it), so a
client can tell. ``/login`` is a plain HTML form for browsers.
"""

from __future__ import annotations

import hmac
import html
import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from tane.errors import NotAuthenticated, NotFound, PermissionDenied, TooManyAttempts
from tane.server.api import _ERRORS
from tane.server.auth import SESSION_COOKIE, Auth, access_of, authorize
from tane.server.users import Level, Role, User, parse_duration

_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    401: {"model": _ERRORS[400]["model"], "description": "No credentials, or refused ones."},
    403: {"model": _ERRORS[400]["model"], "description": "The caller lacks the permission."},
    429: {"model": _ERRORS[400]["model"], "description": "Too many failed logins."},
}

#: Routes answering with and without auth.
public_router = APIRouter(
    prefix="/api/v1", responses=_AUTH_ERRORS, dependencies=[Depends(authorize)]
)
#: Routes that exist only with ``--auth``.
router = APIRouter(prefix="/api/v1", responses=_AUTH_ERRORS, dependencies=[Depends(authorize)])
#: The browser login form (not part of the API spec).
pages = APIRouter(include_in_schema=False)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_Model):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class MeOut(_Model):
    auth: bool = Field(description="Whether the server checks credentials.")
    user: str | None = None
    role: str | None = None
    via: str | None = Field(default=None, description="token, password, session or none.")
    csrf_token: str | None = Field(
        default=None, description="Send in X-CSRF-Token with writes made by a browser session."
    )


class UserOut(_Model):
    name: str
    role: str
    created: int
    has_password: bool


class UserListOut(_Model):
    users: list[UserOut]


class UserIn(_Model):
    name: str = Field(min_length=1, max_length=128)
    role: Literal["admin", "user"] = "user"
    password: str | None = Field(default=None, max_length=1024)


class UserPatch(_Model):
    role: Literal["admin", "user"] | None = None
    password: str | None = Field(default=None, max_length=1024)


class TokenOut(_Model):
    id: str
    user: str
    name: str
    created: int
    expires: int | None
    last_used: int | None
    revoked: int | None
    state: str


class TokenListOut(_Model):
    tokens: list[TokenOut]


class TokenIn(_Model):
    name: str = Field(default="token", max_length=128)
    expires_in: str = Field(
        default="90d", description="How long the token lasts: 30d, 12h, 90m, ... or never."
    )
    user: str | None = Field(default=None, description="Admins may create tokens for others.")


class TokenCreatedOut(_Model):
    token: str = Field(description="The secret: shown once, never stored.")
    info: TokenOut


class PermissionOut(_Model):
    user: str
    level: str


class PermissionListOut(_Model):
    experiment_id: str
    permissions: list[PermissionOut]


class PermissionIn(_Model):
    level: Literal["read", "edit", "manage"]


def _auth(request: Request) -> Auth:
    auth: Auth | None = request.app.state.auth
    if auth is None:  # pragma: no cover - these routes exist only with auth
        raise NotFound("this server runs without --auth")
    return auth


def _user_out(user: User) -> UserOut:
    return UserOut.model_validate(user.to_json())


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _start_session(request: Request, response: Response, auth: Auth, user: User) -> str:
    ttl = int(auth.settings.session_hours * 3_600_000)
    session_id, csrf = auth.users.create_session(user, ttl)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=ttl // 1000,
        httponly=True,
        secure=_secure(request),
        samesite="lax",
        path="/",
    )
    return csrf


# -- who am I, login, logout -------------------------------------------------------


@public_router.get(
    "/auth/me",
    summary="Who is calling (and whether the server checks)",
    tags=["auth"],
    openapi_extra={"x-tane-permission": "user"},
)
def me(request: Request) -> MeOut:
    principal = access_of(request).principal
    if request.app.state.auth is None:
        return MeOut(auth=False)
    return MeOut(
        auth=True,
        user=principal.name,
        role=principal.user.role if principal.user else None,
        via=principal.via,
        csrf_token=principal.csrf,
    )


@router.post(
    "/auth/login",
    summary="Log in with a user name and password: sets the session cookie",
    tags=["auth"],
    openapi_extra={"x-tane-permission": "public"},
)
def login(body: LoginIn, request: Request, response: Response) -> MeOut:
    auth = _auth(request)
    user = auth.login(request, body.username, body.password)
    csrf = _start_session(request, response, auth, user)
    return MeOut(auth=True, user=user.name, role=user.role, via="session", csrf_token=csrf)


@router.post(
    "/auth/logout",
    summary="End the browser session",
    tags=["auth"],
    status_code=204,
    openapi_extra={"x-tane-permission": "user"},
)
def logout(request: Request) -> Response:
    auth = _auth(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        auth.users.end_session(cookie)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- users -------------------------------------------------------------------------


@router.get(
    "/users", summary="List users", tags=["users"], openapi_extra={"x-tane-permission": "admin"}
)
def list_users(request: Request) -> UserListOut:
    return UserListOut(users=[_user_out(u) for u in _auth(request).users.list_users()])


@router.post(
    "/users",
    summary="Create a user",
    tags=["users"],
    status_code=201,
    openapi_extra={"x-tane-permission": "admin"},
)
def create_user(body: UserIn, request: Request) -> UserOut:
    role: Role = body.role
    return _user_out(_auth(request).users.add_user(body.name, role, body.password))


@router.patch(
    "/users/{name}",
    summary="Change a user's role (admins) or password (admins, or the user)",
    tags=["users"],
    openapi_extra={"x-tane-permission": "user"},
)
def update_user(name: str, body: UserPatch, request: Request) -> UserOut:
    access = access_of(request)
    users = _auth(request).users
    if not access.principal.is_admin and (body.role is not None or access.principal.name != name):
        raise PermissionDenied("only admins may change other users or roles")
    if body.password is not None:
        users.set_password(name, body.password)
    if body.role is not None:
        users.set_role(name, body.role)
    return _user_out(users.get_user(name))


@router.delete(
    "/users/{name}",
    summary="Remove a user with their tokens and permissions",
    tags=["users"],
    status_code=204,
    openapi_extra={"x-tane-permission": "admin"},
)
def delete_user(name: str, request: Request) -> Response:
    _auth(request).users.remove_user(name)
    return Response(status_code=204)


# -- tokens ------------------------------------------------------------------------


@router.get(
    "/tokens",
    summary="List API tokens (your own; admins: anyone's)",
    tags=["tokens"],
    openapi_extra={"x-tane-permission": "user"},
)
def list_tokens(request: Request, user: str | None = None) -> TokenListOut:
    principal = access_of(request).principal
    if not principal.is_admin:
        if user is not None and user != principal.name:
            raise PermissionDenied("only admins may list other users' tokens")
        user = principal.name
    infos = _auth(request).users.list_tokens(user)
    return TokenListOut(tokens=[TokenOut.model_validate(i.to_json()) for i in infos])


@router.post(
    "/tokens",
    summary="Create an API token (shown once)",
    tags=["tokens"],
    status_code=201,
    openapi_extra={"x-tane-permission": "user"},
)
def create_token(body: TokenIn, request: Request) -> TokenCreatedOut:
    principal = access_of(request).principal
    owner = body.user or principal.name
    if owner != principal.name and not principal.is_admin:
        raise PermissionDenied("only admins may create tokens for other users")
    info, secret = _auth(request).users.create_token(
        owner, body.name, parse_duration(body.expires_in)
    )
    return TokenCreatedOut(token=secret, info=TokenOut.model_validate(info.to_json()))


@router.delete(
    "/tokens/{token_id}",
    summary="Revoke an API token",
    tags=["tokens"],
    status_code=204,
    openapi_extra={"x-tane-permission": "user"},
)
def revoke_token(token_id: str, request: Request) -> Response:
    principal = access_of(request).principal
    users = _auth(request).users
    info = users.get_token(token_id)
    if info.user != principal.name and not principal.is_admin:
        # Someone else's token is reported as absent: ids are not enumerable.
        raise NotFound(f"no token with id {token_id!r}")
    users.revoke_token(token_id)
    return Response(status_code=204)


# -- permissions -------------------------------------------------------------------


@router.get(
    "/experiments/{experiment_id}/permissions",
    summary="Who may do what on an experiment",
    tags=["permissions"],
    openapi_extra={"x-tane-permission": "manage"},
)
def list_permissions(experiment_id: str, request: Request) -> PermissionListOut:
    exp = request.app.state.store_holder.get().get_experiment(experiment_id)
    found = _auth(request).users.permissions_on(exp.id)
    return PermissionListOut(
        experiment_id=exp.id,
        permissions=[PermissionOut(user=u, level=lvl) for u, lvl in found],
    )


@router.put(
    "/experiments/{experiment_id}/permissions/{user}",
    summary="Grant a user read, edit or manage on an experiment",
    tags=["permissions"],
    status_code=204,
    openapi_extra={"x-tane-permission": "manage"},
)
def grant(experiment_id: str, user: str, body: PermissionIn, request: Request) -> Response:
    exp = request.app.state.store_holder.get().get_experiment(experiment_id)
    level: Level = body.level
    _auth(request).users.grant(user, exp.id, level)
    return Response(status_code=204)


@router.delete(
    "/experiments/{experiment_id}/permissions/{user}",
    summary="Take back what a user was granted on an experiment",
    tags=["permissions"],
    status_code=204,
    openapi_extra={"x-tane-permission": "manage"},
)
def revoke(experiment_id: str, user: str, request: Request) -> Response:
    exp = request.app.state.store_holder.get().get_experiment(experiment_id)
    _auth(request).users.revoke(user, exp.id)
    return Response(status_code=204)


# -- the browser login form ---------------------------------------------------------

_LOGIN_CSRF = "tane_login_csrf"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tane - log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;
background:#f6f7f9;color:#1d2430}}
@media (prefers-color-scheme: dark){{body{{background:#14171c;color:#e6e9ee}}
form{{background:#1d2128!important}} input{{background:#14171c;color:#e6e9ee}}}}
form{{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;width:18rem}}
label{{display:block;margin:.6rem 0 .2rem}} input{{width:100%;padding:.4rem;box-sizing:border-box}}
button{{margin-top:1rem;width:100%;padding:.5rem}} .error{{color:#c0392b}}
</style></head>
<body><form method="post" action="/login">
<h1>tane</h1>{error}
<input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<label for="username">User</label>
<input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Log in</button>
</form></body></html>
"""


def _safe_next(target: str | None) -> str:
    """Only paths of this server: never an open redirect to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(request: Request, error: str = "", status: int = 200, nxt: str = "/") -> Response:
    csrf = secrets.token_urlsafe(24)
    body = _PAGE.format(
        error=f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "",
        csrf=csrf,
        next=html.escape(_safe_next(nxt)),
    )
    response = HTMLResponse(body, status_code=status)
    response.set_cookie(
        _LOGIN_CSRF,
        csrf,
        max_age=3600,
        httponly=True,
        secure=_secure(request),
        samesite="strict",
        path="/login",
    )
    return response


@pages.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    if request.app.state.auth is None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, nxt=next)


@pages.post("/login")
async def login_form(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    auth: Auth | None = request.app.state.auth
    if auth is None:
        return RedirectResponse(_safe_next(next), status_code=303)
    cookie = request.cookies.get(_LOGIN_CSRF, "")
    if not cookie or not csrf_token or not hmac.compare_digest(cookie, csrf_token):
        return _login_page(
            request, "The form has expired: please log in again.", status=403, nxt=next
        )
    try:
        user = await run_in_threadpool(auth.login, request, username, password)
    except TooManyAttempts as exc:
        page = _login_page(request, str(exc).capitalize() + ".", status=429, nxt=next)
        page.headers["retry-after"] = str(exc.retry_after)
        return page
    except NotAuthenticated:
        return _login_page(request, "Wrong user name or password.", status=401, nxt=next)
    response = RedirectResponse(_safe_next(next), status_code=303)
    await run_in_threadpool(_start_session, request, response, auth, user)
    response.delete_cookie(_LOGIN_CSRF, path="/login")
    return response


@pages.post("/logout")
async def logout_form(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    auth: Auth | None = request.app.state.auth
    response = RedirectResponse("/login", status_code=303)
    cookie = request.cookies.get(SESSION_COOKIE)
    if auth is None or not cookie:
        return response
    session = await run_in_threadpool(auth.users.check_session, cookie)
    if session is None:
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    if not csrf_token or not hmac.compare_digest(csrf_token, session[1]):
        return JSONResponse(
            {
                "error": {
                    "type": "PermissionDenied",
                    "message": "the logout form lacks the CSRF token",
                }
            },
            status_code=403,
        )
    await run_in_threadpool(auth.users.end_session, cookie)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
