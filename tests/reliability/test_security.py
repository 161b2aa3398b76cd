"""Security: no route without credentials, secrets hashed and compared in constant time,
cookies locked down, CSRF on every browser write, and no secret in a log or a record.

The server side reuses tests/server/test_auth.py: its seeded app (``Seeded``), its
list of routes and the body each route is called with. That file proves each
route's permission rules; here every route is tried with every kind of bad
credential, and with a browser session lacking its CSRF token.
"""

from __future__ import annotations

import http.server
import json
import re
import secrets
import statistics
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.pipeline.test_project_run import make_project
from tests.reliability.conftest import tane_cli
from tests.reliability.figures import record
from tests.server import test_auth as auth
from tests.server import test_load as load
from tests.server.conftest import ApiClient

import tane
from tane.server import create_app
from tane.server import users as users_module
from tane.server.auth import PUBLIC
from tane.server.users import AuthStore
from tane.testing.server import LiveServer
from tane.tracking.stores import open_store
from tane.tracking.stores._common import normalize_db_url

PASSWORD = auth.PASSWORD


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[auth.Seeded]:
    s = auth.Seeded(tmp_path, ApiClient)
    yield s
    s.users.close()


def _record_state(s: auth.Seeded) -> str:
    """Everything a request could change: every row of the store, and the artifact."""
    engine = sa.create_engine(s.store.uri)
    with engine.connect() as conn:
        tables = sorted(sa.inspect(conn).get_table_names())
        rows = {
            t: sorted(map(repr, conn.execute(sa.text(f"SELECT * FROM {t}"))))
            for t in tables
            if t not in ("sessions", "tokens")  # logins and token use touch these
        }
    engine.dispose()
    with s.store.open_artifact(s.run.id, "f.txt") as fh:
        rows["artifact"] = [fh.read().decode()]
    return json.dumps(rows, sort_keys=True)


def _bad_credentials(s: auth.Seeded) -> dict[str, dict[str, str]]:
    """Headers of every kind of credential the server must turn away."""
    _, expired = s.users.create_token("alice", "short", expires_in=1)
    revoked_info, revoked = s.users.create_token("alice", "revoked")
    s.users.revoke_token(revoked_info.id)
    login = s.client.post("/api/v1/auth/login", json={"username": "carol", "password": PASSWORD})
    ended = login.headers["set-cookie"].split(";")[0]
    s.client.post(
        "/api/v1/auth/logout",
        headers={"Cookie": ended, "X-CSRF-Token": login.json()["csrf_token"]},
    )
    time.sleep(0.01)  # the expired token's millisecond has passed
    basic = httpx.BasicAuth("bob", "wrong password").auth_flow
    wrong_password = next(basic(httpx.Request("GET", "/"))).headers["Authorization"]
    unknown = next(httpx.BasicAuth("nobody", PASSWORD).auth_flow(httpx.Request("GET", "/")))
    return {
        "none": {},
        "malformed header": {"Authorization": "Token abc"},
        "forged token": {"Authorization": "Bearer tane_0_x"},
        "unknown token": {"Authorization": f"Bearer tane_{'f' * 16}_{'x' * 43}"},
        "expired token": {"Authorization": f"Bearer {expired}"},
        "revoked token": {"Authorization": f"Bearer {revoked}"},
        "wrong password": {"Authorization": wrong_password},
        "unknown user": {"Authorization": unknown.headers["Authorization"]},
        "ended session": {"Cookie": ended},
        "forged session": {"Cookie": f"tane_session={secrets.token_urlsafe(32)}"},
    }


def test_every_route_denies_every_bad_credential(seeded: auth.Seeded) -> None:
    s = seeded
    routes = [r for r in auth._routes(s.app) if r not in PUBLIC]
    bodies = {**auth._bodies(s), **auth._mlflow_bodies(s)}
    kinds = _bad_credentials(s)
    before = _record_state(s)
    outcomes: Counter[int] = Counter()
    for method, path in routes:
        url = auth._url(s, path)
        for kind, headers in kinds.items():
            answer = s.client.request(
                method, url, headers=headers, **bodies.get((method, path), {})
            )
            # A password guess may be answered "too many attempts": denied all the same.
            allowed = (401, 429) if kind in ("wrong password", "unknown user") else (401,)
            assert answer.status_code in allowed, (kind, method, path, answer.text[:200])
            assert "secret" not in answer.text and s.run.id not in answer.text
            outcomes[answer.status_code] += 1
    assert _record_state(s) == before  # nothing was read into an answer, nothing changed
    record(
        "security-routes-deny-bad-credentials",
        routes=len(routes),
        public_routes=sorted(f"{m} {p}" for m, p in PUBLIC),
        credential_kinds=len(kinds),
        requests=sum(outcomes.values()),
        statuses=dict(sorted(outcomes.items())),
        allowed=0,
    )


def test_public_routes_show_nothing_of_the_store(seeded: auth.Seeded) -> None:
    s = seeded
    for method, path in sorted(PUBLIC):
        kwargs: dict[str, Any] = {}
        if path == "/api/v1/auth/login":
            kwargs["json"] = {"username": "alice", "password": "wrong wrong"}
        answer = s.client.request(method, path, **kwargs)
        assert answer.status_code < 500, (method, path)
        assert "secret" not in answer.text and s.run.id not in answer.text, (method, path)


# -- secrets at rest and compared in constant time ----------------------------------------


def _median_seconds(call: Callable[[], Any], times: int) -> float:
    spent = []
    for _ in range(times):
        began = time.perf_counter()
        call()
        spent.append(time.perf_counter() - began)
    return statistics.median(spent)


def test_secrets_are_hashed_and_compared_in_constant_time(
    seeded: auth.Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = seeded
    login = s.client.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD})
    session = login.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    engine = sa.create_engine(s.store.uri)
    with engine.connect() as conn:
        dump = " ".join(
            str(value)
            for table in ("users", "tokens", "sessions")
            for row in conn.execute(sa.text(f"SELECT * FROM {table}"))
            for value in row
        )
    engine.dispose()
    for token in s.tokens.values():
        secret = token.split("_", 2)[2]  # tane_<id>_<secret>; the secret may hold "_"
        assert len(secret) >= 40 and secret not in dump
    assert PASSWORD not in dump and session not in dump
    assert "scrypt$" in dump
    # Every check of a secret goes through hmac.compare_digest, found or not.
    seen: list[tuple[Any, Any]] = []
    real = users_module.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(users_module.hmac, "compare_digest", spy)
    token = s.tokens["alice"]
    token_id = token.split("_")[1]
    checks = {
        "valid token": token,
        "wrong secret": f"tane_{token_id}_{'x' * 43}",
        "unknown id": f"tane_{'0' * 16}_{'x' * 43}",
    }
    for what, raw in checks.items():
        seen.clear()
        s.users.check_token(raw)
        assert len(seen) == 1, what
    for name, password in (("alice", PASSWORD), ("alice", "wrong pass"), ("nobody", PASSWORD)):
        seen.clear()
        s.users.check_login(name, password)
        assert len(seen) == (0 if name == "nobody" else 1)  # nobody: hashed, never compared
    monkeypatch.undo()
    # And the time taken does not tell a wrong secret from an unknown id, or a wrong
    # password from an unknown user (scrypt runs for both).
    wrong = _median_seconds(lambda: s.users.check_token(checks["wrong secret"]), 200)
    unknown = _median_seconds(lambda: s.users.check_token(checks["unknown id"]), 200)
    bad_password = _median_seconds(lambda: s.users.check_login("alice", "wrong pass"), 5)
    no_user = _median_seconds(lambda: s.users.check_login("nobody", "wrong pass"), 5)
    assert 1 / 3 < wrong / unknown < 3, (wrong, unknown)
    assert 1 / 2 < bad_password / no_user < 2, (bad_password, no_user)
    record(
        "security-secrets-hashed-constant-time",
        tokens_in_database_as="sha256 digest",
        passwords_in_database_as="scrypt (salted)",
        sessions_in_database_as="sha256 digest",
        token_check_wrong_secret_ms=round(wrong * 1000, 3),
        token_check_unknown_id_ms=round(unknown * 1000, 3),
        login_wrong_password_ms=round(bad_password * 1000, 1),
        login_unknown_user_ms=round(no_user * 1000, 1),
    )


# -- cookies and CSRF -------------------------------------------------------------------


def _cookie(answer: httpx.Response, name: str) -> dict[str, str]:
    """The attributes of a Set-Cookie header, lower-cased names (flags map to "")."""
    for header in answer.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            parts = [p.strip() for p in header.split(";")]
            attributes = {p.split("=", 1)[0].lower(): p.partition("=")[2] for p in parts[1:]}
            return {"value": parts[0].split("=", 1)[1], **attributes}
    raise AssertionError(f"no {name} cookie in {answer.headers}")


def test_session_cookies_are_http_only_strict_and_secure_behind_tls(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    AuthStore(store.uri).add_user("ann", "user", PASSWORD)
    seen: dict[str, dict[str, str]] = {}
    with LiveServer(app=create_app(store=store, auth=True)) as server:
        tls = {"X-Forwarded-Proto": "https"}  # a TLS proxy in front, on this host
        for name, headers in (("https", tls), ("http", {})):
            login = httpx.post(
                f"{server.url}/api/v1/auth/login",
                json={"username": "ann", "password": PASSWORD},
                headers=headers,
            )
            assert login.status_code == 200, login.text
            seen[f"session over {name}"] = _cookie(login, "tane_session")
            form = httpx.get(f"{server.url}/login", headers=headers)
            seen[f"login form over {name}"] = _cookie(form, "tane_login_csrf")
    for name, cookie in seen.items():
        assert "httponly" in cookie, name  # no script reads it
        assert cookie["samesite"].lower() in ("lax", "strict"), name
        assert ("secure" in cookie) == name.endswith("https"), name
    assert seen["session over https"]["path"] == "/"
    assert seen["login form over https"]["samesite"] == "strict"
    assert seen["login form over https"]["path"] == "/login"
    record(
        "security-cookies",
        session_cookie="HttpOnly; SameSite=lax; Path=/; Secure over https (or X-Forwarded-Proto)",
        login_form_cookie="HttpOnly; SameSite=strict; Path=/login; Secure over https",
        cookies_checked=len(seen),
    )


def test_every_browser_write_needs_the_csrf_token(seeded: auth.Seeded) -> None:
    s = seeded
    login = s.client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    cookie = {"Cookie": login.headers["set-cookie"].split(";")[0]}
    csrf = login.json()["csrf_token"]
    unsafe = [
        (m, p) for m, p in auth._routes(s.app) if m not in ("GET", "HEAD") and (m, p) not in PUBLIC
    ]
    bodies = {**auth._bodies(s), **auth._mlflow_bodies(s)}
    before = _record_state(s)
    refused = 0
    for method, path in unsafe:
        url = auth._url(s, path)
        for token in (None, "forged", csrf[:-1]):
            headers = dict(cookie) if token is None else {**cookie, "X-CSRF-Token": token}
            answer = s.client.request(
                method, url, headers=headers, **bodies.get((method, path), {})
            )
            assert answer.status_code == 403, (method, path, token, answer.text[:200])
            assert "CSRF" in answer.text
            refused += 1
    assert _record_state(s) == before
    # The session itself is good: with its token, a write goes through.
    done = s.client.post(
        f"/api/v1/runs/{s.run.id}/batch",
        json={"params": {"via": "browser"}},
        headers={**cookie, "X-CSRF-Token": csrf},
    )
    assert done.status_code == 204
    # The HTML forms: a login whose token does not match its cookie, a logout without one.
    form = s.client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    fields = {"username": "admin", "password": PASSWORD, "next": "/"}
    forged = s.client.post("/login", data={**fields, "csrf_token": token.group(1)})
    assert forged.status_code == 403
    assert not any(c.startswith("tane_session=") for c in forged.headers.get_list("set-cookie"))
    logout = s.client.post("/logout", data={}, headers=cookie)
    assert logout.status_code == 403
    assert s.client.get("/api/v1/auth/me", headers=cookie).json()["user"] == "admin"
    record(
        "security-csrf",
        unsafe_routes=len(unsafe),
        requests_without_a_good_token=refused,
        refused=refused,
        forms_checked=2,
    )


# -- no secret in a log, an answer or a record --------------------------------------------


@pytest.mark.slow
@pytest.mark.postgres
def test_the_server_log_and_its_answers_hold_no_secret(postgres_url: str, tmp_path: Path) -> None:
    assert ":tane@" in postgres_url  # the database password is in the store URL
    password = "pw-" + secrets.token_urlsafe(12)
    users = AuthStore(normalize_db_url(postgres_url))
    users.add_user("root", "admin", password)
    users.close()
    server = load.ServerProcess(postgres_url, tmp_path / "server.log", "--auth")
    secrets_sent = [password, "tane:tane@"]
    try:
        server.wait_ready()
        basic = httpx.BasicAuth("root", password)
        made = httpx.post(f"{server.url}/api/v1/tokens", json={"user": "root"}, auth=basic)
        assert made.status_code == 201, made.text
        token = made.json()["token"]
        secrets_sent.append(token.split("_", 2)[2])
        bearer = {"Authorization": f"Bearer {token}"}
        login = httpx.post(
            f"{server.url}/api/v1/auth/login", json={"username": "root", "password": password}
        )
        secrets_sent += [login.cookies["tane_session"], login.json()["csrf_token"]]
        run = httpx.post(
            f"{server.url}/api/v1/runs", json={"experiment_id": "0", "name": "r"}, headers=bearer
        ).json()
        # A value PostgreSQL refuses: its error names the store, never its password.
        nul = httpx.post(
            f"{server.url}/api/v1/runs/{run['id']}/batch",
            json={"params": {"p": "a\u0000b"}},
            headers=bearer,
        )
        assert nul.status_code in (400, 422), nul.text
        wrong = httpx.get(f"{server.url}/api/v1/experiments", auth=("root", password + "x"))
        assert wrong.status_code == 401
        answers = [made.text, login.text, nul.text, wrong.text]
        ready = httpx.get(f"{server.url}/ready")
        answers.append(ready.text)
    finally:
        server.stop()
    log = server.log.read_text(errors="replace")
    assert "serving store postgresql://tane:***@" in log, log[-2000:]
    assert "/api/v1/auth/login" in log  # requests were logged, the access log is on
    leaked = [s for s in secrets_sent if s in log]
    assert not leaked, f"in the server log: {leaked}"
    assert not any("tane:tane@" in a for a in answers), answers
    record(
        "security-no-secret-in-server-log",
        secrets_checked=len(secrets_sent),
        log_lines=len(log.splitlines()),
        secrets_in_log=0,
        database_password_in_answers=0,
    )


PIPELINE = """
from tane.pipeline import Pipeline, node


def count_rows(remote):
    import tane

    print("fetched", len(remote["rows"]), "rows")
    tane.log_metric("rows", len(remote["rows"]))
    return {"rows": len(remote["rows"])}


def create_pipeline(**kwargs):
    return Pipeline([node(count_rows, "remote", "fetched", name="count_rows")])
"""


class _Api(http.server.BaseHTTPRequestHandler):
    """A JSON API that wants ``Authorization: Bearer <token>``; it remembers what it got."""

    token = ""
    received: list[str] = []  # noqa: RUF012 (set per server below)

    def do_GET(self) -> None:
        sent = self.headers.get("Authorization", "")
        self.received.append(sent)
        ok = sent == f"Bearer {self.token}"
        body = json.dumps({"rows": [1, 2, 3]} if ok else {"error": "who are you"}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _all_bytes(folder: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.mark.slow
def test_pipeline_credentials_never_reach_a_record(tmp_path: Path) -> None:
    token, db_password = "tok-" + secrets.token_urlsafe(16), "db-" + secrets.token_urlsafe(16)
    handler = type("Api", (_Api,), {"token": token, "received": []})
    api = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    project = make_project(tmp_path / "proj")
    code = project / "src" / "demo_pkg" / "pipelines" / "fetch"
    code.mkdir()
    (code / "__init__.py").write_text("")
    (code / "pipeline.py").write_text(PIPELINE)
    url = f"http://127.0.0.1:{api.server_address[1]}/rows"
    with (project / "conf" / "catalog.yaml").open("a") as fh:
        fh.write(f"remote:\n  type: api.APIDataset\n  url: {url}\n  credentials: api\n")
    with (project / "conf" / "local" / "credentials.yaml").open("a") as fh:
        fh.write(f"api:\n  token: {token}\n")
    with (project / "conf" / "config.yaml").open("a") as fh:
        fh.write("db_password: ${oc.env:RELIABILITY_DB_PASSWORD}\n")

    def tane_run() -> subprocess.CompletedProcess[str]:
        return tane_cli(project, "run", "-p", "fetch", RELIABILITY_DB_PASSWORD=db_password)

    try:
        done = tane_run()
        assert done.returncode == 0, done.stderr + done.stdout
        assert handler.received == [f"Bearer {token}"]  # the credentials were used
        # The API refuses the next run: the failure is recorded, the token is not.
        handler.token = "rotated"
        failed = tane_run()
        assert failed.returncode == 1
    finally:
        api.shutdown()
        api.server_close()
    client = tane.Client(str(project / ".tane"))
    runs = client.search_runs(order_by=["start_time"])
    assert [r.status.value for r in runs] == ["FINISHED", "FAILED"]
    assert runs[0].metrics["rows"] == 3
    assert runs[0].params["db_password"] == "${oc.env:RELIABILITY_DB_PASSWORD}"
    assert "401" in runs[1].tags["tane.error"] + runs[1].tags.get("tane.traceback", "")
    logged = [client.read_artifact(r.id, "logs/output.log").decode() for r in runs]
    assert "fetched 3 rows" in logged[0]
    records = "\n".join(
        [json.dumps([r.params, r.tags, r.note]) for r in runs]
        + [
            client.read_artifact(r.id, a.path).decode(errors="replace")
            for r in runs
            for a in _artifact_files(client, r.id)
        ]
    )
    everything = _all_bytes(project / ".tane")  # database, write-ahead log, cache, artifacts
    outputs = done.stdout + done.stderr + failed.stdout + failed.stderr
    for secret in (token, db_password, "hunter2"):
        assert secret not in records, secret
        assert secret.encode() not in everything, secret
        assert secret not in outputs, secret
    record(
        "security-pipeline-credentials",
        runs=len(runs),
        artifacts_read=len(records.splitlines()),
        bytes_scanned=len(everything),
        secrets_checked=3,
        secrets_found=0,
    )


def _artifact_files(client: tane.Client, run_id: str, path: str = "") -> list[Any]:
    found = []
    for item in client.list_artifacts(run_id, path):
        found += _artifact_files(client, run_id, item.path) if item.is_dir else [item]
    return found


def test_messages_never_show_a_password_of_a_store_url(tmp_path: Path) -> None:
    from tane.tracking.stores._common import display_uri
    from tane.tracking.stores.rest import RestStore

    assert display_uri("postgresql://ann:s3cr%40t@db:5432/x") == "postgresql://ann:***@db:5432/x"
    assert display_uri("https://ann:pw@host/a@b") == "https://ann:***@host/a@b"
    assert display_uri("sqlite:////a/b@c:d/tane.db") == "sqlite:////a/b@c:d/tane.db"
    assert display_uri("http://token@host") == "http://token@host"  # no password to hide
    unreachable = RestStore("http://ann:pw-123@127.0.0.1:9", timeout=1, spool=False)
    with pytest.raises(tane.errors.StoreError) as info:
        unreachable.get_experiment("0")
    assert "pw-123" not in str(info.value) and "pw-123" not in repr(unreachable)
    assert "pw-123" not in repr(tane.Client(unreachable))
