"""The /api/v1 routes in-process against a real SQLite store."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tane.server import create_app
from tane.server.schemas import RunOut
from tane.tracking.stores.base import Store

# The in-process client of conftest.py (tests/ is not a package, so not importable).
Api = Any


def _new_run(client: Api, name: str = "r", experiment: str = "exp") -> dict[str, object]:
    exp = client.get(f"/api/v1/experiments/{experiment}")
    if exp.status_code == 404:
        exp = client.post("/api/v1/experiments", json={"name": experiment})
    response = client.post(
        "/api/v1/runs", json={"experiment_id": exp.json()["id"], "name": name, "tags": {"t": "1"}}
    )
    assert response.status_code == 201, response.text
    run: dict[str, object] = response.json()
    return run


def _error(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["type"] == kind
    message: str = body["error"]["message"]
    return message


# -- health --------------------------------------------------------------------


def test_health_and_ready(client: Api) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok"}


def test_ready_reports_an_unreachable_store_while_health_stays_up(
    tmp_path: Path, make_client: Any
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    client = make_client(create_app(str(not_a_folder)))
    assert client.get("/health").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert "is a file, not a folder" in ready.json()["reason"]
    # Every store call says the same as a 503, never a 500.
    message = _error(client.get("/api/v1/experiments"), 503, "StoreError")
    assert "is a file, not a folder" in message


def test_the_store_is_opened_on_first_use(tmp_path: Path, make_client: Any) -> None:
    folder = tmp_path / "lazy"
    app = create_app(str(folder))
    client = make_client(app)
    assert client.get("/health").status_code == 200
    assert not folder.exists()
    assert client.get("/api/v1/experiments").status_code == 200
    assert (folder / "tane.db").is_file()


# -- experiments ---------------------------------------------------------------


def test_experiments(client: Api) -> None:
    created = client.post("/api/v1/experiments", json={"name": "e1", "tags": {"team": "a"}})
    assert created.status_code == 201
    exp = created.json()
    assert exp["name"] == "e1"
    assert exp["tags"] == {"team": "a"}
    assert client.get(f"/api/v1/experiments/{exp['id']}").json()["name"] == "e1"
    assert client.get("/api/v1/experiments/e1").json()["id"] == exp["id"]
    names = [e["name"] for e in client.get("/api/v1/experiments").json()["experiments"]]
    assert "e1" in names
    listed = client.get("/api/v1/experiments", params={"include_deleted": "true"})
    assert listed.status_code == 200
    message = _error(client.get("/api/v1/experiments/nope"), 404, "ExperimentNotFound")
    assert "nope" in message
    taken = client.post("/api/v1/experiments", json={"name": "e1"})
    assert taken.status_code == 400
    assert taken.json()["error"]["type"] == "InvalidInput"


# -- runs ----------------------------------------------------------------------


def test_create_get_and_patch_a_run(client: Api) -> None:
    run = _new_run(client, "first")
    assert run["status"] == "RUNNING"
    assert run["tags"]["t"] == "1"  # type: ignore[index]
    got = client.get(f"/api/v1/runs/{run['id']}")
    assert got.status_code == 200
    RunOut.model_validate(got.json())
    patched = client.patch(
        f"/api/v1/runs/{run['id']}",
        json={"status": "finished", "end_time": 1_700_000_000_000, "note": "hello", "name": "x"},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["status"], body["end_time"], body["note"], body["name"]) == (
        "FINISHED",
        1_700_000_000_000,
        "hello",
        "x",
    )
    message = _error(
        client.patch(f"/api/v1/runs/{run['id']}", json={"status": "done"}), 400, "InvalidInput"
    )
    assert "unknown run status 'done'" in message


def test_unknown_run_is_404_with_the_message(client: Api) -> None:
    message = _error(client.get("/api/v1/runs/deadbeef"), 404, "RunNotFound")
    assert "deadbeef" in message
    _error(client.patch("/api/v1/runs/deadbeef", json={"note": "n"}), 404, "RunNotFound")
    _error(
        client.post("/api/v1/runs/deadbeef/batch", json={"params": {"a": "1"}}), 404, "RunNotFound"
    )
    _error(client.get("/api/v1/runs/deadbeef/artifacts"), 404, "RunNotFound")
    _error(client.get("/api/v1/runs/deadbeef/artifacts/a.txt"), 404, "RunNotFound")
    _error(client.get("/api/v1/runs/deadbeef/metrics/loss"), 404, "RunNotFound")
    _error(client.delete("/api/v1/runs/deadbeef/tags/k"), 404, "RunNotFound")


def test_log_batch_params_tags_and_conflict(client: Api) -> None:
    run_id = _new_run(client)["id"]
    response = client.post(
        f"/api/v1/runs/{run_id}/batch",
        json={"metrics": [["loss", 0.5, 1, 1000]], "params": {"lr": "0.1"}, "tags": {"k": "v"}},
    )
    assert response.status_code == 204, response.text
    run = client.get(f"/api/v1/runs/{run_id}").json()
    assert run["params"] == {"lr": "0.1"}
    assert run["tags"]["k"] == "v"
    assert run["metrics"] == {"loss": 0.5}
    conflict = client.post(f"/api/v1/runs/{run_id}/batch", json={"params": {"lr": "0.2"}})
    message = _error(conflict, 409, "ParamConflict")
    assert "lr" in message
    assert client.get(f"/api/v1/runs/{run_id}").json()["params"] == {"lr": "0.1"}
    assert client.delete(f"/api/v1/runs/{run_id}/tags/k").status_code == 204
    assert "k" not in client.get(f"/api/v1/runs/{run_id}").json()["tags"]


def test_malformed_bodies_are_422_naming_the_field(client: Api) -> None:
    run_id = _new_run(client)["id"]
    bad_value = client.post(f"/api/v1/runs/{run_id}/batch", json={"metrics": [["m", "abc", 0, 0]]})
    message = _error(bad_value, 422, "InvalidInput")
    assert "is not a number" in message
    assert "body.metrics.0" in message
    short_point = client.post(f"/api/v1/runs/{run_id}/batch", json={"metrics": [["m", 1.0]]})
    assert "body.metrics.0" in _error(short_point, 422, "InvalidInput")
    missing = client.post("/api/v1/runs", json={"name": "no experiment"})
    assert "body.experiment_id: Field required" in _error(missing, 422, "InvalidInput")
    headers = {"content-type": "application/json"}
    broken = client.post("/api/v1/runs/search", content=b"{not json", headers=headers)
    assert "JSON decode error" in _error(broken, 422, "InvalidInput")
    _error(client.get("/api/v1/nowhere"), 404, "NotFound")
    _error(client.put("/api/v1/experiments"), 405, "MethodNotAllowed")


def test_oversized_bodies_are_413_and_store_nothing(store: Any, make_client: Any) -> None:
    small = make_client(create_app(store=store, max_body=4096, max_upload=10_000))
    run_id = _new_run(small)["id"]
    big = {"params": {f"p{i}": "x" * 100 for i in range(100)}}
    message = _error(small.post(f"/api/v1/runs/{run_id}/batch", json=big), 413, "PayloadTooLarge")
    assert "TANE_SERVER_MAX_BODY" in message
    assert small.get(f"/api/v1/runs/{run_id}").json()["params"] == {}

    async def chunks() -> Any:
        for _ in range(20):
            yield b"y" * 1000  # no Content-Length: counted as it streams

    url = f"/api/v1/runs/{run_id}/artifacts/big.bin"
    message = _error(small.put(url, content=chunks()), 413, "PayloadTooLarge")
    assert "TANE_SERVER_MAX_UPLOAD" in message
    assert small.get(f"/api/v1/runs/{run_id}/artifacts").json()["artifacts"] == []
    fits = small.put(url, content=b"z" * 9000)
    assert fits.status_code == 201, fits.text


def test_nan_and_infinity_round_trip_as_strings(client: Api) -> None:
    run_id = _new_run(client)["id"]
    points = [
        ["v", "NaN", 0, 10],
        ["v", "Infinity", 1, 11],
        ["v", "-Infinity", 2, 12],
        ["v", 1.5, 3, 13],
        ["w", "-Infinity", 0, 10],
    ]
    assert client.post(f"/api/v1/runs/{run_id}/batch", json={"metrics": points}).status_code == 204
    history = client.get(f"/api/v1/runs/{run_id}/metrics/v").json()["metrics"]
    assert [p["value"] for p in history] == ["NaN", "Infinity", "-Infinity", 1.5]
    assert [p["step"] for p in history] == [0, 1, 2, 3]
    assert history[0] == {"key": "v", "value": "NaN", "step": 0, "timestamp": 10}
    assert client.get(f"/api/v1/runs/{run_id}").json()["metrics"] == {"v": 1.5, "w": "-Infinity"}
    # The raw response is strict JSON: no bare NaN or Infinity tokens.
    raw = client.get(f"/api/v1/runs/{run_id}/metrics/v").text
    assert '"NaN"' in raw
    assert ": NaN" not in raw
    assert ":NaN" not in raw


def test_metric_history_range_and_downsampling(client: Api, store: Store) -> None:
    run_id = _new_run(client)["id"]
    points = [["loss", 1.0 / (step + 1), step, 1000 + step] for step in range(500)]
    assert client.post(f"/api/v1/runs/{run_id}/batch", json={"metrics": points}).status_code == 204
    url = f"/api/v1/runs/{run_id}/metrics/loss"
    assert len(client.get(url).json()["metrics"]) == 500
    ranged = client.get(url, params={"min_step": 10, "max_step": 19}).json()["metrics"]
    assert [p["step"] for p in ranged] == list(range(10, 20))
    down = client.get(url, params={"max_points": 50}).json()["metrics"]
    expected = store.get_metric_history(str(run_id), "loss", max_points=50)
    assert [(p["step"], p["value"]) for p in down] == [(m.step, m.value) for m in expected]
    assert 0 < len(down) <= 50
    _error(client.get(url, params={"max_points": 0}), 422, "InvalidInput")


def test_search_filter_order_and_pages(client: Api) -> None:
    ids = []
    for i in range(7):
        run_id = _new_run(client, f"run{i}")["id"]
        ids.append(run_id)
        client.post(f"/api/v1/runs/{run_id}/batch", json={"metrics": [["acc", i / 10, 0, 1]]})
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        body = {"filter": "metrics.acc >= 0.2", "order_by": ["metrics.acc DESC"], "max_results": 2}
        if token:
            body["page_token"] = token
        response = client.post("/api/v1/runs/search", json=body)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["runs"]) <= 2
        seen.extend(r["id"] for r in page["runs"])
        pages += 1
        token = page["next_page_token"]
        if token is None:
            break
    assert pages == 3
    assert seen == list(reversed(ids[2:]))
    exp_id = client.get("/api/v1/experiments/exp").json()["id"]
    only = client.post("/api/v1/runs/search", json={"experiment_ids": [exp_id]}).json()
    assert len(only["runs"]) == 7
    other = client.post("/api/v1/runs/search", json={"experiment_ids": ["0"]}).json()
    assert other["runs"] == []


def test_bad_filter_is_400_with_the_position(client: Api) -> None:
    response = client.post("/api/v1/runs/search", json={"filter": "metrics.acc >>> 1"})
    message = _error(response, 400, "InvalidFilter")
    position = response.json()["error"]["position"]
    assert isinstance(position, int)
    assert "metrics.acc >>> 1" in message
    assert " " * position + "^" in message
    bad_order = client.post("/api/v1/runs/search", json={"order_by": ["nonsense order here"]})
    assert bad_order.status_code == 400
    _error(client.post("/api/v1/runs/search", json={"view": "gone"}), 422, "InvalidInput")


def test_delete_restore_and_heartbeat(client: Api, store: Store) -> None:
    run_id = str(_new_run(client)["id"])
    assert client.post("/api/v1/runs/delete", json={"run_ids": [run_id]}).status_code == 204
    assert client.get(f"/api/v1/runs/{run_id}").json()["deleted"] is True
    deleted = client.post("/api/v1/runs/search", json={"view": "deleted"}).json()["runs"]
    assert [r["id"] for r in deleted] == [run_id]
    assert client.post("/api/v1/runs/search", json={}).json()["runs"] == []
    assert client.post("/api/v1/runs/restore", json={"run_ids": [run_id]}).status_code == 204
    assert client.get(f"/api/v1/runs/{run_id}").json()["deleted"] is False
    _error(client.post("/api/v1/runs/delete", json={"run_ids": ["nope"]}), 404, "RunNotFound")
    beat = client.post("/api/v1/runs/heartbeat", json={"run_ids": [run_id], "now": 123_456})
    assert beat.status_code == 204
    assert store.get_run(run_id).heartbeat == 123_456
    assert client.post("/api/v1/runs/heartbeat", json={"run_ids": [run_id]}).status_code == 204
    assert (store.get_run(run_id).heartbeat or 0) > 123_456


# -- artifacts -----------------------------------------------------------------


def test_artifact_upload_download_larger_than_a_chunk(client: Api) -> None:
    from tane.server.api import CHUNK_SIZE

    run_id = _new_run(client)["id"]
    data = os.urandom(3 * 1024 * 1024 + 17)
    assert len(data) > 2 * CHUNK_SIZE
    up = client.put(f"/api/v1/runs/{run_id}/artifacts/models/big.bin", content=data)
    assert up.status_code == 201, up.text
    assert up.json() == {"path": "models/big.bin", "size": len(data)}
    down = client.get(f"/api/v1/runs/{run_id}/artifacts/models/big.bin")
    assert down.status_code == 200
    assert down.headers["content-length"] == str(len(data))
    assert down.content == data
    chunks = _raw_body_messages(client, f"/api/v1/runs/{run_id}/artifacts/models/big.bin")
    assert len(chunks) >= 4  # streamed in CHUNK_SIZE pieces, not one body
    assert b"".join(chunks) == data
    root = client.get(f"/api/v1/runs/{run_id}/artifacts").json()["artifacts"]
    assert root == [{"path": "models", "is_dir": True, "size": None}]
    inner = client.get(f"/api/v1/runs/{run_id}/artifacts", params={"path": "models"}).json()
    assert inner["artifacts"] == [{"path": "models/big.bin", "is_dir": False, "size": len(data)}]


def test_small_text_artifact_and_missing_artifact(client: Api) -> None:
    run_id = _new_run(client)["id"]
    assert (
        client.put(f"/api/v1/runs/{run_id}/artifacts/notes.txt", content=b"hi").status_code == 201
    )
    got = client.get(f"/api/v1/runs/{run_id}/artifacts/notes.txt")
    assert got.content == b"hi"
    assert got.headers["content-type"].startswith("text/plain")
    _error(client.get(f"/api/v1/runs/{run_id}/artifacts/absent.txt"), 404, "NotFound")
    _error(client.put("/api/v1/runs/nope/artifacts/a.txt", content=b"x"), 404, "RunNotFound")


def _raw_body_messages(client: Api, path: str) -> list[bytes]:
    """GET ``path`` straight through the ASGI interface; return each body message."""
    bodies: list[bytes] = []

    async def call() -> None:
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [(b"host", b"tane.test")],
            "server": ("tane.test", 80),
            "client": ("127.0.0.1", 1234),
            "root_path": "",
        }

        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if requested:  # the client stays connected until the body is sent
                await anyio.sleep_forever()
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                bodies.append(message["body"])

        await client.app(scope, receive, send)

    anyio.run(call)
    return bodies


@pytest.mark.parametrize(
    "path",
    [
        "%2E%2E/%2E%2E/escape.txt",
        "a/%2e%2e/%2e%2e/%2e%2e/escape.txt",
        "%2Fetc%2Fescape.txt",
        "/etc/escape.txt",
    ],
)
def test_artifact_paths_cannot_leave_the_run(client: Api, tmp_path: Path, path: str) -> None:
    run_id = _new_run(client)["id"]
    url = f"/api/v1/runs/{run_id}/artifacts/{path}"
    message = _error(client.put(url, content=b"evil"), 400, "InvalidInput")
    assert "'..'" in message or "absolute" in message
    _error(client.get(url), 400, "InvalidInput")
    escaped = list(tmp_path.rglob("escape.txt"))
    assert escaped == []
    assert not Path("/etc/escape.txt").exists()
    listing = client.get(f"/api/v1/runs/{run_id}/artifacts", params={"path": "../.."})
    _error(listing, 400, "InvalidInput")


# -- the spec ------------------------------------------------------------------


def test_openapi_spec_has_every_route_with_a_summary(client: Api) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    routes = {
        (method.upper(), path): op
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    }
    expected = {
        ("GET", "/health"),
        ("GET", "/ready"),
        ("GET", "/api/v1/experiments"),
        ("POST", "/api/v1/experiments"),
        ("GET", "/api/v1/experiments/{id_or_name}"),
        ("PATCH", "/api/v1/experiments/{id_or_name}"),
        ("POST", "/api/v1/runs"),
        ("GET", "/api/v1/runs/{run_id}"),
        ("PATCH", "/api/v1/runs/{run_id}"),
        ("POST", "/api/v1/runs/search"),
        ("POST", "/api/v1/runs/delete"),
        ("POST", "/api/v1/runs/restore"),
        ("POST", "/api/v1/runs/{run_id}/batch"),
        ("DELETE", "/api/v1/runs/{run_id}/tags/{key}"),
        ("POST", "/api/v1/runs/heartbeat"),
        ("GET", "/api/v1/runs/{run_id}/metrics/{key}"),
        ("GET", "/api/v1/runs/{run_id}/artifacts"),
        ("GET", "/api/v1/runs/{run_id}/artifacts/{path}"),
        ("PUT", "/api/v1/runs/{run_id}/artifacts/{path}"),
        ("GET", "/api/v1/auth/me"),
        ("POST", "/api/v1/runs/keys"),
        ("POST", "/api/v1/metrics/history"),
        ("GET", "/api/v1/models"),
        ("GET", "/api/v1/models/{name}/versions"),
        ("POST", "/api/v1/models/{name}/versions"),
        ("GET", "/api/v1/models/{name}/versions/{version}"),
        ("GET", "/api/v1/models/{name}/aliases/{alias}"),
        ("PUT", "/api/v1/models/{name}/aliases/{alias}"),
        ("DELETE", "/api/v1/models/{name}/aliases/{alias}"),
        ("GET", "/api/v1/experiments/{experiment_id}/keys"),
        ("GET", "/api/v1/runs/{run_id}/pipeline"),
        ("GET", "/api/v1/runs/{run_id}/sweep"),
        ("GET", "/api/v1/runs/{run_id}/children"),
        ("GET", "/api/v1/experiments/{experiment_id}/datasets"),
        ("GET", "/api/v1/experiments/{experiment_id}/datasets/{name}"),
    }
    assert set(routes) == expected
    for key, op in routes.items():
        assert op.get("summary"), f"{key} has no summary"


def test_float_helpers_agree_with_the_wire_format() -> None:
    from tane.server.schemas import LogBatchIn

    batch = LogBatchIn.model_validate(
        {"metrics": [["a", "NaN", 0, 0], ["b", "Infinity", 0, 0], ["c", 2, 0, 0]]}
    )
    values = [value for _, value, _, _ in batch.metrics]
    assert math.isnan(float(values[0]))
    assert values[1:] == [math.inf, 2.0]


def test_histories_of_many_runs_in_one_request(client: Api) -> None:
    runs = [_new_run(client)["id"] for _ in range(3)]
    for i, run_id in enumerate(runs[:2]):
        points = [["loss", 1.0 / (s + 1) + i, s, 1000 + s] for s in range(50)]
        client.post(f"/api/v1/runs/{run_id}/batch", json={"metrics": points})
    answer = client.post(
        "/api/v1/metrics/history", json={"run_ids": runs, "key": "loss", "max_points": 10}
    )
    assert answer.status_code == 200, answer.text
    histories = answer.json()["histories"]
    assert list(histories) == runs
    assert 3 <= len(histories[runs[0]]) <= 10
    assert histories[runs[1]][0] == {"key": "loss", "value": 2.0, "step": 0, "timestamp": 1000}
    assert histories[runs[2]] == []
    window = client.post(
        "/api/v1/metrics/history",
        json={"run_ids": runs[:1], "key": "loss", "min_step": 10, "max_step": 12},
    ).json()["histories"][runs[0]]
    assert [p["step"] for p in window] == [10, 11, 12]
    missing = client.post("/api/v1/metrics/history", json={"run_ids": ["nope"], "key": "loss"})
    assert missing.status_code == 404
    empty = client.post("/api/v1/metrics/history", json={"run_ids": [], "key": "loss"})
    assert empty.status_code == 422


def test_artifacts_are_served_sandboxed(client: Api) -> None:
    run_id = _new_run(client)["id"]
    url = f"/api/v1/runs/{run_id}/artifacts/report.html"
    client.put(url, content=b"<script>alert(document.cookie)</script>")
    answer = client.get(url)
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-security-policy"] == "sandbox"
    assert answer.headers["x-content-type-options"] == "nosniff"
