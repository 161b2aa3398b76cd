"""The web UI's bundle served beside the API, and `tane ui`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI

from tane.server import create_app
from tane.server.ui import STATIC, mount_ui
from tane.tracking.stores.base import Store


def _bundle(folder: Path) -> Path:
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text('<!doctype html><div id="root"></div>')
    (folder / "assets" / "index-abc123.js").write_text("console.log('tane')")
    (folder / "favicon.svg").write_text("<svg/>")
    return folder


def _app_with(static: Path, store: Store) -> FastAPI:
    app = create_app(store=store)
    # The app already mounts the real bundle; a second app over a test bundle:
    bare = FastAPI()
    bare.state.store_holder = app.state.store_holder
    mount_ui(bare, static)
    return bare


def test_pages_get_the_shell_and_assets_are_files(
    tmp_path: Path, store: Store, make_client: Any
) -> None:
    client = make_client(_app_with(_bundle(tmp_path / "static"), store))
    for path in ("/", "/experiments/1", "/runs/abc/pipeline", "/compare?runs=a,b"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert '<div id="root">' in page.text
        assert page.headers["cache-control"] == "no-cache"
    script = client.get("/assets/index-abc123.js")
    assert script.status_code == 200 and script.text == "console.log('tane')"
    assert "javascript" in script.headers["content-type"]
    assert client.get("/favicon.svg").text == "<svg/>"
    assert client.get("/assets/missing.js").status_code == 404
    assert client.get("/api/v1/nowhere").status_code == 404
    for escape in (
        "/assets/../../etc/passwd",
        "/assets/%2e%2e/%2e%2e/etc/passwd",
        "/../etc/passwd",
    ):
        answer = client.get(escape)
        assert "root:" not in answer.text
        assert answer.status_code == 404 or '<div id="root">' in answer.text


def test_the_real_app_answers_the_api_before_the_ui(store: Store, make_client: Any) -> None:
    client = make_client(create_app(store=store))
    missing = client.get("/api/v1/nowhere")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "NotFound"
    assert client.get("/health").json() == {"status": "ok"}
    assert client.put("/api/v1/experiments").status_code == 405
    page = client.get("/experiments/0")
    if (STATIC / "index.html").is_file():
        assert page.status_code == 200 and "<html" in page.text.lower()
    else:
        assert page.status_code == 503 and "npm run build" in page.text


def test_a_missing_bundle_says_how_to_build_it(
    tmp_path: Path, store: Store, make_client: Any
) -> None:
    client = make_client(_app_with(tmp_path / "nothing", store))
    page = client.get("/runs/x")
    assert page.status_code == 503
    assert "npm ci &amp;&amp; npm run build" in page.text


def test_tane_ui_serves_the_local_store_without_auth(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tane.cli import main
    from tane.server import serving
    from tane.server.app import SETTINGS_ENV, app_from_env

    calls: list[tuple[int, dict[str, Any]]] = []
    monkeypatch.setattr(serving, "serve", lambda workers, **kw: calls.append((workers, kw)))
    monkeypatch.setenv(SETTINGS_ENV, "unused")
    result = CliRunner().invoke(main, ["ui", "--store", str(tmp_path / "s"), "--port", "5123"])
    assert result.exit_code == 0, result.output
    assert "tane ui: http://127.0.0.1:5123/" in result.output
    assert calls == [(1, {"host": "127.0.0.1", "port": 5123, "log_level": "warning"})]
    app = app_from_env()
    assert app.state.auth is None
    assert app.state.store_holder._uri == str(tmp_path / "s")
