"""The server's auth: users, tokens, permissions, browser login, CSRF, rate limits.

The central test enumerates every route of the app and checks each one refuses
a request without credentials and a request by a user lacking the permission:
a route added later without a permission rule fails it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.routing import iter_route_contexts

from tane.errors import InvalidInput, NotFound
from tane.server import create_app
from tane.server.auth import PUBLIC, AuthSettings
from tane.server.users import AuthStore, Rejected, check_password, hash_password, parse_duration
from tane.tracking.stores import open_store
from tane.tracking.stores.base import Store

PASSWORD = "correct horse battery"


class Seeded:
    """An app with auth on over a store with one experiment, one run and four users."""

    def __init__(self, tmp_path: Path, make_client: Any, default: str = "none") -> None:
        self.store: Store = open_store(str(tmp_path / "store"))
        self.users = AuthStore(self.store.uri)
        self.app = create_app(
            store=self.store, auth=True, auth_settings=AuthSettings(default_permission=default)
        )  # type: ignore[arg-type]
        self.client = make_client(self.app)
        self.experiment = self.store.create_experiment("secret")
        self.run = self.store.create_run(self.experiment.id, "r")
        self.store.log_batch(self.run.id, [("m", 1.0, 0, 1)], {"p": "1"}, {"t": "v"})
        self.store.log_artifact_bytes(self.run.id, "f.txt", b"hello")
        self.tokens: dict[str, str] = {}
        for name, role in (
            ("admin", "admin"),
            ("alice", "user"),
            ("bob", "user"),
            ("carol", "user"),
        ):
            self.users.add_user(name, role, PASSWORD)  # type: ignore[arg-type]
            self.tokens[name] = self.users.create_token(name, "test")[1]
        self.users.grant("bob", self.experiment.id, "read")
        # A registered model (named like a user, as the routes' `name` is filled alike).
        self.store.register_model("bob", f"runs:/{self.run.id}/model", self.run.id)
        self.store.set_model_alias("bob", "champion", 1)
        self.users.grant("carol", self.experiment.id, "edit")

    def as_(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}

    def call(self, who: str | None, method: str, url: str, **kwargs: Any) -> Any:
        headers = {**self.as_(who), **kwargs.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kwargs)


@pytest.fixture
def seeded(tmp_path: Path, make_client: Any) -> Iterator[Seeded]:
    s = Seeded(tmp_path, make_client)
    yield s
    s.users.close()


# What alice (no permission on the experiment, default "none") gets from each route,
# and the body each route is called with. Every route of the app must be listed.
EXPECTED_FOR_STRANGER: dict[tuple[str, str], int] = {
    ("GET", "/api/v1/experiments"): 200,  # ... listing nothing (checked below)
    ("POST", "/api/v1/experiments"): 201,  # anyone may create one (and manages it)
    ("GET", "/api/v1/experiments/{id_or_name}"): 403,
    ("PATCH", "/api/v1/experiments/{id_or_name}"): 403,
    ("POST", "/api/v1/runs"): 403,
    ("GET", "/api/v1/runs/{run_id}"): 403,
    ("PATCH", "/api/v1/runs/{run_id}"): 403,
    ("POST", "/api/v1/runs/search"): 200,  # ... finding nothing (checked below)
    ("POST", "/api/v1/runs/keys"): 200,  # ... of no run (checked below)
    ("POST", "/api/v1/metrics/history"): 403,
    ("GET", "/api/v1/experiments/{experiment_id}/keys"): 403,
    ("GET", "/{path}"): 200,  # the UI's page shell: no data in it
    ("POST", "/api/v1/runs/delete"): 403,
    ("POST", "/api/v1/runs/restore"): 403,
    ("POST", "/api/v1/runs/{run_id}/batch"): 403,
    ("DELETE", "/api/v1/runs/{run_id}/tags/{key}"): 403,
    ("POST", "/api/v1/runs/heartbeat"): 403,
    ("GET", "/api/v1/runs/{run_id}/metrics/{key}"): 403,
    ("GET", "/api/v1/runs/{run_id}/artifacts"): 403,
    ("GET", "/api/v1/runs/{run_id}/artifacts/{path}"): 403,
    ("PUT", "/api/v1/runs/{run_id}/artifacts/{path}"): 403,
    ("GET", "/api/v1/runs/{run_id}/pipeline"): 403,
    ("GET", "/api/v1/runs/{run_id}/sweep"): 403,
    ("GET", "/api/v1/runs/{run_id}/children"): 403,
    ("GET", "/api/v1/experiments/{experiment_id}/datasets"): 403,
    ("GET", "/api/v1/experiments/{experiment_id}/datasets/{name}"): 403,
    ("GET", "/api/v1/models"): 200,  # the registry is readable by any user
    ("GET", "/api/v1/models/{name}/versions"): 200,
    ("GET", "/api/v1/models/{name}/versions/{version}"): 200,
    ("GET", "/api/v1/models/{name}/aliases/{alias}"): 200,
    ("POST", "/api/v1/models/{name}/versions"): 403,  # needs edit on the run
    ("PUT", "/api/v1/models/{name}/aliases/{alias}"): 403,
    ("DELETE", "/api/v1/models/{name}/aliases/{alias}"): 403,
    ("GET", "/api/v1/auth/me"): 200,  # about the caller only
    ("POST", "/api/v1/auth/logout"): 204,  # ends the caller's own session only
    ("GET", "/api/v1/users"): 403,
    ("POST", "/api/v1/users"): 403,
    ("PATCH", "/api/v1/users/{name}"): 403,
    ("DELETE", "/api/v1/users/{name}"): 403,
    ("GET", "/api/v1/tokens"): 200,  # ... the caller's own (checked below)
    ("POST", "/api/v1/tokens"): 403,  # for another user
    ("DELETE", "/api/v1/tokens/{token_id}"): 404,  # someone else's token: not disclosed
    ("GET", "/api/v1/experiments/{experiment_id}/permissions"): 403,
    ("PUT", "/api/v1/experiments/{experiment_id}/permissions/{user}"): 403,
    ("DELETE", "/api/v1/experiments/{experiment_id}/permissions/{user}"): 403,
    ("GET", "/api/v1/openapi.json"): 200,  # the spec is for every user
    ("GET", "/api/v1/docs"): 200,
}

# MLflow's routes (tane.server.mlflow_api), each under /api/2.0 and /ajax-api/2.0: the
# run or experiment is in the query or body, so each handler checks the permission.
MLFLOW_FOR_STRANGER: dict[tuple[str, str], int] = {
    ("POST", "/mlflow/experiments/create"): 400,  # ... "secret" exists (anyone may create)
    ("GET", "/mlflow/experiments/get"): 403,
    ("GET", "/mlflow/experiments/get-by-name"): 403,
    ("POST", "/mlflow/experiments/search"): 200,  # ... finding nothing (checked below)
    ("POST", "/mlflow/experiments/update"): 403,  # needs manage
    ("POST", "/mlflow/experiments/delete"): 403,
    ("POST", "/mlflow/experiments/restore"): 403,
    ("POST", "/mlflow/experiments/set-experiment-tag"): 403,
    ("POST", "/mlflow/runs/create"): 403,
    ("GET", "/mlflow/runs/get"): 403,
    ("POST", "/mlflow/runs/update"): 403,
    ("POST", "/mlflow/runs/delete"): 403,
    ("POST", "/mlflow/runs/restore"): 403,
    ("POST", "/mlflow/runs/log-batch"): 403,
    ("POST", "/mlflow/runs/log-metric"): 403,
    ("POST", "/mlflow/runs/log-parameter"): 403,
    ("POST", "/mlflow/runs/set-tag"): 403,
    ("POST", "/mlflow/runs/delete-tag"): 403,
    ("POST", "/mlflow/runs/log-model"): 403,
    ("POST", "/mlflow/runs/log-inputs"): 403,
    ("POST", "/mlflow/runs/outputs"): 403,
    ("POST", "/mlflow/runs/search"): 403,  # naming the experiment
    ("GET", "/mlflow/metrics/get-history"): 403,
    ("GET", "/mlflow/artifacts/list"): 403,
    ("POST", "/mlflow/logged-models"): 403,
    ("GET", "/mlflow/logged-models/{model_id}"): 403,
    ("PATCH", "/mlflow/logged-models/{model_id}"): 403,
    ("DELETE", "/mlflow/logged-models/{model_id}"): 403,
    ("PATCH", "/mlflow/logged-models/{model_id}/tags"): 403,
    ("DELETE", "/mlflow/logged-models/{model_id}/tags/{tag_key}"): 403,
    ("POST", "/mlflow/logged-models/{model_id}/params"): 403,
    ("POST", "/mlflow/logged-models/search"): 403,  # naming the experiment
    ("GET", "/mlflow-artifacts/artifacts"): 403,
    ("GET", "/mlflow-artifacts/artifacts/{path}"): 403,
    ("PUT", "/mlflow-artifacts/artifacts/{path}"): 403,
    ("DELETE", "/mlflow-artifacts/artifacts/{path}"): 501,  # not implemented
    # The registry: any user reads it; registering or aliasing a run's model needs edit.
    ("POST", "/mlflow/registered-models/create"): 400,  # "bob" exists (creating stores nothing)
    ("GET", "/mlflow/registered-models/get"): 200,
    ("GET", "/mlflow/registered-models/search"): 200,
    ("POST", "/mlflow/registered-models/get-latest-versions"): 200,
    ("POST", "/mlflow/model-versions/create"): 403,
    ("GET", "/mlflow/model-versions/get"): 200,
    ("GET", "/mlflow/model-versions/get-download-uri"): 200,
    ("GET", "/mlflow/model-versions/search"): 200,
    ("POST", "/mlflow/registered-models/alias"): 403,
    ("DELETE", "/mlflow/registered-models/alias"): 403,
    ("GET", "/mlflow/registered-models/alias"): 200,
}
for _prefix in ("/api/2.0", "/ajax-api/2.0"):
    for (_method, _path), _code in MLFLOW_FOR_STRANGER.items():
        EXPECTED_FOR_STRANGER[(_method, _prefix + _path)] = _code
# MLflow endpoints tane does not implement: MLflow's ENDPOINT_NOT_FOUND.
for _prefix in ("/api/2.0", "/ajax-api/2.0", "/api/3.0", "/ajax-api/3.0"):
    for _family in ("mlflow", "mlflow-artifacts"):
        for _method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            EXPECTED_FOR_STRANGER[(_method, f"{_prefix}/{_family}/{{path}}")] = 404


def _mlflow_bodies(s: Seeded) -> dict[tuple[str, str], dict[str, Any]]:
    run, exp = s.run.id, s.experiment.id
    ids = {"run_id": run, "experiment_id": exp}
    by_suffix: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/mlflow/experiments/create"): {"json": {"name": "secret"}},
        ("GET", "/mlflow/experiments/get"): {"params": {"experiment_id": exp}},
        ("GET", "/mlflow/experiments/get-by-name"): {"params": {"experiment_name": "secret"}},
        ("POST", "/mlflow/experiments/search"): {"json": {}},
        ("POST", "/mlflow/runs/create"): {"json": {"experiment_id": exp}},
        ("GET", "/mlflow/runs/get"): {"params": {"run_id": run}},
        ("POST", "/mlflow/runs/update"): {"json": {"run_id": run, "status": "KILLED"}},
        ("POST", "/mlflow/runs/delete"): {"json": ids},
        ("POST", "/mlflow/runs/restore"): {"json": ids},
        ("POST", "/mlflow/runs/log-batch"): {
            "json": {"run_id": run, "params": [{"key": "q", "value": "1"}]}
        },
        ("POST", "/mlflow/runs/log-metric"): {
            "json": {"run_id": run, "key": "m", "value": 9, "timestamp": 1, "step": 9}
        },
        ("POST", "/mlflow/runs/log-parameter"): {"json": {"run_id": run, "key": "q", "value": "1"}},
        ("POST", "/mlflow/runs/set-tag"): {"json": {"run_id": run, "key": "t", "value": "x"}},
        ("POST", "/mlflow/runs/delete-tag"): {"json": {"run_id": run, "key": "t"}},
        ("POST", "/mlflow/runs/log-model"): {"json": {"run_id": run, "model_json": "{}"}},
        ("POST", "/mlflow/runs/log-inputs"): {"json": {"run_id": run, "datasets": []}},
        ("POST", "/mlflow/runs/outputs"): {"json": {"run_id": run, "models": []}},
        ("POST", "/mlflow/runs/search"): {"json": {"experiment_ids": [exp]}},
        ("GET", "/mlflow/metrics/get-history"): {"params": {"run_id": run, "metric_key": "m"}},
        ("GET", "/mlflow/artifacts/list"): {"params": {"run_id": run}},
        ("POST", "/mlflow/logged-models"): {"json": {"experiment_id": exp, "source_run_id": run}},
        ("PATCH", "/mlflow/logged-models/{model_id}"): {"json": {"status": "LOGGED_MODEL_READY"}},
        ("PATCH", "/mlflow/logged-models/{model_id}/tags"): {
            "json": {"tags": [{"key": "k", "value": "v"}]}
        },
        ("POST", "/mlflow/logged-models/{model_id}/params"): {
            "json": {"params": [{"key": "k", "value": "v"}]}
        },
        ("POST", "/mlflow/logged-models/search"): {"json": {"experiment_ids": [exp]}},
        ("GET", "/mlflow-artifacts/artifacts"): {"params": {"path": f"{exp}/{run}/artifacts"}},
        ("PUT", "/mlflow-artifacts/artifacts/{path}"): {"content": b"overwritten"},
        ("POST", "/mlflow/experiments/update"): {"json": {**ids, "new_name": "stolen"}},
        ("POST", "/mlflow/experiments/delete"): {"json": ids},
        ("POST", "/mlflow/experiments/restore"): {"json": ids},
        ("POST", "/mlflow/experiments/set-experiment-tag"): {
            "json": {**ids, "key": "owner", "value": "alice"}
        },
        ("POST", "/mlflow/registered-models/create"): {"json": {"name": "bob"}},
        ("GET", "/mlflow/registered-models/get"): {"params": {"name": "bob"}},
        ("GET", "/mlflow/registered-models/search"): {"params": {}},
        ("POST", "/mlflow/registered-models/get-latest-versions"): {"json": {"name": "bob"}},
        ("POST", "/mlflow/model-versions/create"): {
            "json": {"name": "bob", "source": f"runs:/{run}/model", "run_id": run}
        },
        ("GET", "/mlflow/model-versions/get"): {"params": {"name": "bob", "version": "1"}},
        ("GET", "/mlflow/model-versions/get-download-uri"): {
            "params": {"name": "bob", "version": "1"}
        },
        ("GET", "/mlflow/model-versions/search"): {"params": {"filter": "name = 'bob'"}},
        ("POST", "/mlflow/registered-models/alias"): {
            "json": {"name": "bob", "alias": "champion", "version": "1"}
        },
        ("DELETE", "/mlflow/registered-models/alias"): {
            "json": {"name": "bob", "alias": "champion"}
        },
        ("GET", "/mlflow/registered-models/alias"): {
            "params": {"name": "bob", "alias": "champion"}
        },
    }
    return {
        (method, prefix + path): kwargs
        for prefix in ("/api/2.0", "/ajax-api/2.0")
        for (method, path), kwargs in by_suffix.items()
    }


def _bodies(s: Seeded) -> dict[tuple[str, str], dict[str, Any]]:
    run = s.run.id
    return {
        ("POST", "/api/v1/experiments"): {"json": {"name": "alices"}},
        ("POST", "/api/v1/runs"): {"json": {"experiment_id": s.experiment.id, "name": "x"}},
        ("PATCH", "/api/v1/runs/{run_id}"): {"json": {"note": "mine now"}},
        ("POST", "/api/v1/runs/search"): {"json": {}},
        ("POST", "/api/v1/runs/keys"): {"json": {}},
        ("PATCH", "/api/v1/experiments/{id_or_name}"): {"json": {"name": "stolen"}},
        ("POST", "/api/v1/models/{name}/versions"): {
            "json": {"source": f"runs:/{run}/model", "run_id": run}
        },
        ("PUT", "/api/v1/models/{name}/aliases/{alias}"): {"json": {"version": 1}},
        ("POST", "/api/v1/metrics/history"): {"json": {"run_ids": [run], "key": "m"}},
        ("POST", "/api/v1/runs/delete"): {"json": {"run_ids": [run]}},
        ("POST", "/api/v1/runs/restore"): {"json": {"run_ids": [run]}},
        ("POST", "/api/v1/runs/{run_id}/batch"): {"json": {"params": {"q": "1"}}},
        ("POST", "/api/v1/runs/heartbeat"): {"json": {"run_ids": [run]}},
        ("PUT", "/api/v1/runs/{run_id}/artifacts/{path}"): {"content": b"overwritten"},
        ("POST", "/api/v1/users"): {"json": {"name": "mallory", "role": "admin"}},
        ("PATCH", "/api/v1/users/{name}"): {"json": {"role": "admin"}},
        ("POST", "/api/v1/tokens"): {"json": {"user": "bob"}},
        ("PUT", "/api/v1/experiments/{experiment_id}/permissions/{user}"): {
            "json": {"level": "manage"}
        },
    }


def _routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) the app answers, included routers flattened."""
    found = []
    for route in iter_route_contexts(app.routes):
        for method in sorted(route.methods or ()):
            if method != "HEAD" and route.path is not None:
                found.append((method, route.path.replace(":path}", "}")))
    assert len(found) > 30
    return found


def _url(s: Seeded, path: str) -> str:
    admin_token = s.users.list_tokens("admin")[0].id
    values = {
        "id_or_name": s.experiment.id,
        "experiment_id": s.experiment.id,
        "run_id": s.run.id,
        "key": "m",
        "path": "f.txt",
        "name": "bob",
        "user": "alice",
        "token_id": admin_token,
        "path:path": "runs/x",
        "version": "1",
        "alias": "champion",
    }
    values["model_id"] = f"m-{s.run.id}-00000000"  # a logged model of the run
    values["tag_key"] = "k"
    if "/mlflow-artifacts/artifacts/" in path:
        values["path"] = f"{s.experiment.id}/{s.run.id}/artifacts/f.txt"
    return re.sub(r"\{(\w+)(:path)?\}", lambda m: values[m.group(1)], path)


def test_every_route_refuses_without_credentials_and_without_permission(seeded: Seeded) -> None:
    s = seeded
    routes = _routes(s.app)
    unlisted = [r for r in routes if r not in EXPECTED_FOR_STRANGER and r not in PUBLIC]
    assert unlisted == [], f"routes with no expectation in this test: {unlisted}"
    bodies = {**_bodies(s), **_mlflow_bodies(s)}
    checked = 0
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        url = _url(s, path)
        kwargs = bodies.get((method, path), {})
        anonymous = s.call(None, method, url, **kwargs)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert "tane tokens create" in anonymous.json()["error"]["message"]
        forged = s.call(None, method, url, headers={"Authorization": "Bearer tane_0_x"}, **kwargs)
        assert forged.status_code == 401, (method, path)
        stranger = s.call("alice", method, url, **kwargs)
        expected = EXPECTED_FOR_STRANGER[(method, path)]
        assert stranger.status_code == expected, (method, path, stranger.text)
        if expected == 403:
            answer = stranger.json()
            if "error_code" in answer:  # MLflow's routes answer in MLflow's shape
                assert answer["error_code"] == "PERMISSION_DENIED", (method, path)
            else:
                assert answer["error"]["type"] == "PermissionDenied"
        checked += 1
    assert checked >= len(EXPECTED_FOR_STRANGER) - 1
    # What alice could call showed her nothing of the experiment.
    listed = s.call("alice", "GET", "/api/v1/experiments").json()["experiments"]
    assert [e["name"] for e in listed] == ["alices"]
    assert s.call("alice", "POST", "/api/v1/runs/search", json={}).json()["runs"] == []
    mlflow_search = "/api/2.0/mlflow/experiments/search"
    seen = s.call("alice", "POST", mlflow_search, json={}).json()["experiments"]
    assert [e["name"] for e in seen] == ["alices"]
    assert s.call("alice", "POST", "/api/2.0/mlflow/runs/search", json={}).json() == {"runs": []}
    keys = s.call("alice", "POST", "/api/v1/runs/keys", json={}).json()
    assert keys == {"params": [], "metrics": [], "tags": []}
    # The UI's files need credentials too.
    assert s.call(None, "GET", "/assets/index.js").status_code == 401
    tokens = s.call("alice", "GET", "/api/v1/tokens").json()["tokens"]
    assert {t["user"] for t in tokens} == {"alice"}
    # ... and changed nothing of it.
    run = s.store.get_run(s.run.id)
    assert run.note == "" and run.params == {"p": "1"} and run.tags["t"] == "v"
    assert not run.deleted
    assert s.store.open_artifact(s.run.id, "f.txt").read() == b"hello"
    assert s.users.get_user("bob").role == "user"
    assert [t.state for t in s.users.list_tokens("admin")] == ["active"]
    assert [v.version for v in s.store.list_model_versions("bob")] == [1]
    assert s.store.get_experiment(s.experiment.id).name == "secret"
    assert s.store.get_model_version("bob", alias="champion").version == 1
    experiment = s.store.get_experiment(s.experiment.id)
    assert experiment.name == "secret" and not experiment.deleted and experiment.tags == {}


def test_levels_read_edit_manage(seeded: Seeded) -> None:
    s = seeded
    run_url = f"/api/v1/runs/{s.run.id}"
    batch = {"json": {"metrics": [["m", 2.0, 1, 2]]}}
    # bob reads but cannot write.
    assert s.call("bob", "GET", run_url).status_code == 200
    assert s.call("bob", "GET", f"{run_url}/artifacts/f.txt").content == b"hello"
    refused = s.call("bob", "POST", f"{run_url}/batch", **batch)
    assert refused.status_code == 403
    message = refused.json()["error"]["message"]
    assert "'bob' holds read" in message and "needs edit" in message
    assert "tane users grant bob" in message
    # carol writes but does not manage.
    assert s.call("carol", "POST", f"{run_url}/batch", **batch).status_code == 204
    made = s.call(
        "carol", "POST", "/api/v1/runs", json={"experiment_id": s.experiment.id, "name": "c"}
    )
    assert made.status_code == 201, made.text
    perms_url = f"/api/v1/experiments/{s.experiment.id}/permissions"
    assert s.call("carol", "GET", perms_url).status_code == 403
    # a manager grants; the grant takes effect at once.
    s.users.grant("carol", s.experiment.id, "manage")
    granted = s.call("carol", "PUT", f"{perms_url}/bob", json={"level": "edit"})
    assert granted.status_code == 204
    assert s.call("bob", "POST", f"{run_url}/batch", **batch).status_code == 204
    listing = s.call("carol", "GET", perms_url).json()["permissions"]
    assert listing == [{"user": "bob", "level": "edit"}, {"user": "carol", "level": "manage"}]
    assert s.call("carol", "DELETE", f"{perms_url}/bob").status_code == 204
    assert s.call("bob", "GET", run_url).status_code == 403
    # Search only sees readable experiments; naming an unreadable one is refused.
    searched = s.call("carol", "POST", "/api/v1/runs/search", json={}).json()["runs"]
    assert len(searched) == 2
    named = s.call("bob", "POST", "/api/v1/runs/search", json={"experiment_ids": ["secret"]})
    assert named.status_code == 403


def test_creator_manages_and_default_permission_read(tmp_path: Path, make_client: Any) -> None:
    s = Seeded(tmp_path, make_client, default="read")
    try:
        created = s.call("alice", "POST", "/api/v1/experiments", json={"name": "alices"})
        assert created.status_code == 201
        exp_id = created.json()["id"]
        assert s.users.level(s.users.get_user("alice").id, exp_id) == "manage"
        # With default read, everyone reads everything but writes nothing not granted.
        assert s.call("bob", "GET", f"/api/v1/experiments/{exp_id}").status_code == 200
        run_url = f"/api/v1/runs/{s.run.id}"
        assert s.call("alice", "GET", run_url).status_code == 200
        assert s.call("alice", "PATCH", run_url, json={"note": "x"}).status_code == 403
        names = {
            e["name"] for e in s.call("alice", "GET", "/api/v1/experiments").json()["experiments"]
        }
        assert {"secret", "alices"} <= names
    finally:
        s.users.close()


def test_admin_manages_users_and_tokens_over_the_api(seeded: Seeded) -> None:
    s = seeded
    made = s.call("admin", "POST", "/api/v1/users", json={"name": "dave", "password": "longenough"})
    assert made.status_code == 201 and made.json()["role"] == "user"
    short = s.call("admin", "POST", "/api/v1/users", json={"name": "eve", "password": "short"})
    assert short.status_code == 400 and "8 characters" in short.json()["error"]["message"]
    twice = s.call("admin", "POST", "/api/v1/users", json={"name": "dave"})
    assert twice.status_code == 400 and "already exists" in twice.json()["error"]["message"]
    token = s.call("admin", "POST", "/api/v1/tokens", json={"user": "dave", "expires_in": "1d"})
    assert token.status_code == 201
    secret = token.json()["token"]
    who = s.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert who.json()["user"] == "dave" and who.json()["via"] == "token"
    # dave changes his own password, not his role.
    assert s.call("admin", "GET", "/api/v1/users").json()["users"][2]["name"] == "bob"
    own = s.client.patch(
        "/api/v1/users/dave",
        json={"password": "another-long-one"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert own.status_code == 200
    promote = s.client.patch(
        "/api/v1/users/dave", json={"role": "admin"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert promote.status_code == 403
    # Revoked: refused from the next request on, with the fix named.
    token_id = token.json()["info"]["id"]
    assert s.call("admin", "DELETE", f"/api/v1/tokens/{token_id}").status_code == 204
    gone = s.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert gone.status_code == 401 and "revoked" in gone.json()["error"]["message"]
    assert s.call("admin", "DELETE", "/api/v1/users/dave").status_code == 204
    last_admin = s.call("admin", "DELETE", "/api/v1/users/admin")
    assert last_admin.status_code == 400 and "last admin" in last_admin.json()["error"]["message"]


def _cookie(response: Any, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return str(header)
    raise AssertionError(f"no {name} cookie in {response.headers}")


def test_browser_session_cookie_and_csrf(seeded: Seeded) -> None:
    s = seeded
    login = s.client.post("/api/v1/auth/login", json={"username": "carol", "password": PASSWORD})
    assert login.status_code == 200, login.text
    header = _cookie(login, "tane_session")
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header
    assert "Secure" not in header  # plain http here; see the https test below
    session = header.split(";")[0].split("=", 1)[1]
    csrf = login.json()["csrf_token"]
    cookies = {"Cookie": f"tane_session={session}"}
    run_url = f"/api/v1/runs/{s.run.id}"
    assert s.client.get(run_url, headers=cookies).status_code == 200
    me = s.client.get("/api/v1/auth/me", headers=cookies).json()
    assert me == {
        "auth": True,
        "user": "carol",
        "role": "user",
        "via": "session",
        "csrf_token": csrf,
    }
    batch = {"params": {"via": "browser"}}
    no_csrf = s.client.post(f"{run_url}/batch", json=batch, headers=cookies)
    assert no_csrf.status_code == 403 and "X-CSRF-Token" in no_csrf.json()["error"]["message"]
    wrong = s.client.post(
        f"{run_url}/batch", json=batch, headers={**cookies, "X-CSRF-Token": "nope"}
    )
    assert wrong.status_code == 403
    assert "via" not in s.store.get_run(s.run.id).params
    ok = s.client.post(f"{run_url}/batch", json=batch, headers={**cookies, "X-CSRF-Token": csrf})
    assert ok.status_code == 204
    out = s.client.post("/api/v1/auth/logout", headers={**cookies, "X-CSRF-Token": csrf})
    assert out.status_code == 204
    ended = s.client.get(run_url, headers=cookies)
    assert ended.status_code == 401 and "log in again" in ended.json()["error"]["message"]


def test_session_cookie_is_secure_over_https(tmp_path: Path) -> None:
    import anyio
    import httpx

    store = open_store(str(tmp_path / "store"))
    AuthStore(store.uri).add_user("ann", "user", PASSWORD)
    app = create_app(store=store, auth=True)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://tane.test") as c:
            return await c.post(
                "/api/v1/auth/login", json={"username": "ann", "password": PASSWORD}
            )

    response = anyio.run(go)
    assert response.status_code == 200
    assert "Secure" in _cookie(response, "tane_session")


def test_html_login_form_with_csrf_and_safe_redirects(seeded: Seeded) -> None:
    s = seeded
    page = s.client.get("/api/v1/runs/x", headers={"Accept": "text/html"})
    assert page.status_code == 401  # API paths never redirect
    redirect = s.client.get("/some/page?tab=2", headers={"Accept": "text/html"})
    assert redirect.status_code == 303
    assert redirect.headers["location"] == "/login?next=%2Fsome%2Fpage%3Ftab%3D2"
    form = s.client.get("/login", params={"next": "/some/page"})
    assert form.status_code == 200 and '<form method="post" action="/login">' in form.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    login_cookie = _cookie(form, "tane_login_csrf").split(";")[0]
    fields = {"username": "bob", "password": PASSWORD, "next": "/some/page"}
    forged = s.client.post(
        "/login", data={**fields, "csrf_token": "forged"}, headers={"Cookie": login_cookie}
    )
    assert forged.status_code == 403 and "tane_session" not in forged.headers.get("set-cookie", "")
    good = s.client.post(
        "/login", data={**fields, "csrf_token": token.group(1)}, headers={"Cookie": login_cookie}
    )
    assert good.status_code == 303 and good.headers["location"] == "/some/page"
    assert "HttpOnly" in _cookie(good, "tane_session")
    evil = s.client.post(
        "/login",
        data={**fields, "next": "//evil.example/x", "csrf_token": token.group(1)},
        headers={"Cookie": login_cookie},
    )
    assert evil.status_code == 303 and evil.headers["location"] == "/"
    wrong = s.client.post(
        "/login",
        data={**fields, "password": "wrong password", "csrf_token": token.group(1)},
        headers={"Cookie": login_cookie},
    )
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text


def test_logins_are_rate_limited(seeded: Seeded) -> None:
    s = seeded
    for _ in range(5):
        bad = s.client.post("/api/v1/auth/login", json={"username": "bob", "password": "guess!!!"})
        assert bad.status_code == 401
    limited = s.client.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert "too many failed logins" in limited.json()["error"]["message"]
    # Basic auth counts against the same limit.
    basic = s.client.get("/api/v1/experiments", auth=("bob", PASSWORD))
    assert basic.status_code == 429
    # Another user from another client is not affected... but this client is.
    other = s.client.post("/api/v1/auth/login", json={"username": "carol", "password": PASSWORD})
    assert other.status_code == 429


def test_basic_auth_with_password_or_token(seeded: Seeded) -> None:
    s = seeded
    assert s.client.get(f"/api/v1/runs/{s.run.id}", auth=("bob", PASSWORD)).status_code == 200
    token = s.tokens["bob"]
    assert s.client.get(f"/api/v1/runs/{s.run.id}", auth=("bob", token)).status_code == 200
    assert s.client.get("/api/v1/experiments", auth=("bob", "wrong-password")).status_code == 401


# -- the user tables ---------------------------------------------------------------


def test_password_hashes_and_durations() -> None:
    stored = hash_password("s3cret-pass")
    assert stored != hash_password("s3cret-pass")  # salted
    assert check_password("s3cret-pass", stored)
    assert not check_password("s3cret-pasS", stored)
    assert not check_password("x", None)
    assert not check_password("x", "garbage")
    assert parse_duration("90d") == 90 * 86_400_000
    assert parse_duration("12h") == 12 * 3_600_000
    assert parse_duration("never") is None
    with pytest.raises(InvalidInput, match="such as 90d"):
        parse_duration("soon")


def test_tokens_expire_and_unknown_ones_are_refused(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    users = AuthStore(store.uri)
    users.add_user("ann")
    info, secret = users.create_token("ann", "short-lived", expires_in=50)
    assert info.state == "active"
    found = users.check_token(secret)
    assert not isinstance(found, Rejected) and found.name == "ann"
    time.sleep(0.1)
    expired = users.check_token(secret)
    assert isinstance(expired, Rejected) and "expired" in expired.message
    assert users.get_token(info.id).state == "expired"
    for bad in ("nope", "tane_", f"tane_{info.id}_wrong", f"tane_ffffffffffffffff_{secret[-43:]}"):
        assert isinstance(users.check_token(bad), Rejected)
    with pytest.raises(NotFound, match="tane users ls"):
        users.create_token("nobody")
    with pytest.raises(InvalidInput, match="not valid"):
        users.add_user("bad name!")
    users.close()


def test_old_store_without_user_tables_says_to_upgrade(tmp_path: Path) -> None:
    from tane.errors import SchemaVersionError

    db = tmp_path / "plain.db"
    sa.create_engine(f"sqlite:///{db}").connect().close()
    users = AuthStore(f"sqlite:///{db}")
    with pytest.raises(SchemaVersionError, match="tane db upgrade"):
        users.list_users()
    users.close()
