"""``tane server``: its options, and a real uvicorn process on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner

from tane.cli._context import CliState
from tane.cli.server import server
from tane.server.app import SETTINGS_ENV, STORE_ENV, app_from_env


def _group() -> click.Group:
    """A ``tane`` group with the global --store option and only this command.

    The command is registered in tane.cli's lazy table; a group of its own keeps
    these tests independent of that table and leaves tane.cli.main untouched.
    """

    @click.group()
    @click.option("--store")
    @click.pass_context
    def tane(ctx: click.Context, store: str | None) -> None:
        ctx.obj = CliState(store)

    tane.add_command(server, "server")
    return tane


@pytest.fixture
def serve_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, dict[str, Any]]]:
    """What ``tane server`` asked to serve (nothing is started)."""
    from tane.server import serving

    calls: list[tuple[int, dict[str, Any]]] = []
    monkeypatch.setattr(serving, "serve", lambda workers, **kw: calls.append((workers, kw)))
    # set first so that monkeypatch restores their absence after the test
    for name in (STORE_ENV, SETTINGS_ENV):
        monkeypatch.setenv(name, "unused")
        monkeypatch.delenv(name)
    return calls


def test_one_worker_serves_the_app_of_the_command_store(
    serve_calls: list[tuple[int, dict[str, Any]]], tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        _group(),
        ["--store", str(tmp_path / "global"), "server", "--store", str(tmp_path / "mine")],
    )
    assert result.exit_code == 0, result.output
    [(workers, kwargs)] = serve_calls
    assert workers == 1
    assert kwargs == {"host": "127.0.0.1", "port": 5000, "ssl_keyfile": None, "ssl_certfile": None}
    app = app_from_env()
    assert app.state.store_holder._uri == str(tmp_path / "mine")
    assert app.state.auth is None


def test_global_store_is_used_without_the_command_option(
    serve_calls: list[tuple[int, dict[str, Any]]], tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        _group(), ["--store", str(tmp_path / "global"), "server", "--port", "8123"]
    )
    assert result.exit_code == 0, result.output
    [(_, kwargs)] = serve_calls
    assert app_from_env().state.store_holder._uri == str(tmp_path / "global")
    assert kwargs["port"] == 8123


def test_several_workers_get_the_settings_through_the_environment(
    serve_calls: list[tuple[int, dict[str, Any]]], tmp_path: Path
) -> None:
    store = str(tmp_path / "team")
    result = CliRunner().invoke(
        _group(),
        [
            "server",
            *("--store", store, "--workers", "3", "--host", "0.0.0.0"),
            *("--auth", "--default-permission", "none", "--artifacts", str(tmp_path / "art")),
        ],
    )
    assert result.exit_code == 0, result.output
    # Serving beyond loopback over plain HTTP, and with nobody able to log in, is said.
    assert "tokens and passwords travel in clear" in result.output
    assert "there are no users yet" in result.output
    [(workers, kwargs)] = serve_calls
    assert workers == 3 and kwargs["host"] == "0.0.0.0"
    settings = json.loads(os.environ[SETTINGS_ENV])
    assert settings == {
        "store": store,
        "artifacts": str(tmp_path / "art"),
        "auth": True,
        "default_permission": "none",
    }
    app = app_from_env()
    assert app.state.store_holder._uri == store
    assert app.state.auth.settings.default_permission == "none"


def test_open_server_beyond_loopback_is_warned(
    serve_calls: list[tuple[int, dict[str, Any]]], tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        _group(), ["server", "--store", str(tmp_path / "s"), "--host", "0.0.0.0"]
    )
    assert result.exit_code == 0
    assert "add --auth" in result.output
    quiet = CliRunner().invoke(_group(), ["server", "--store", str(tmp_path / "s")])
    assert "Warning" not in quiet.output


def test_workers_must_be_positive_and_tls_needs_both_files(
    serve_calls: list[Any], tmp_path: Path
) -> None:
    result = CliRunner().invoke(_group(), ["server", "--workers", "0"])
    assert result.exit_code == 2
    key = tmp_path / "k.pem"
    key.write_text("x")
    half = CliRunner().invoke(_group(), ["server", "--ssl-keyfile", str(key)])
    assert half.exit_code == 1 and "both --ssl-keyfile and --ssl-certfile" in half.output
    assert serve_calls == []


def test_worker_sockets_keep_tcp_nodelay() -> None:
    from tane.server.serving import NoDelayConfig, tcp_socket

    config = NoDelayConfig("tane.server.app:app_from_env", host="127.0.0.1", port=0)
    sock = config.bind_socket()
    try:
        # Accepted sockets inherit proto; asyncio sets TCP_NODELAY only for IPPROTO_TCP.
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.get_inheritable()
    finally:
        sock.close()
    unix = socket.socket(socket.AF_UNIX)
    assert tcp_socket(unix) is unix
    unix.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
def test_a_real_server_process_answers(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    store = tmp_path / "served"
    script = (
        "import sys; from tane.cli import main; from tane.cli.server import server; "
        "main.add_command(server, 'server'); main(sys.argv[1:], prog_name='tane')"
    )
    argv = [sys.executable, "-c", script, "server", "--store", str(store), "--port", str(port)]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        healthy_after = None
        deadline = started + 20
        while time.perf_counter() < deadline:
            if proc.poll() is not None:
                break
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    healthy_after = time.perf_counter() - started
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        assert healthy_after is not None, "server did not become healthy within 20 s"
        print(f"tane server: start to first healthy answer {healthy_after:.2f} s")
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/ready").json() == {"status": "ok"}
            exp = http.post("/api/v1/experiments", json={"name": "e2e"}).json()
            run = http.post("/api/v1/runs", json={"experiment_id": exp["id"], "name": "r"}).json()
            batch = {"metrics": [["loss", "NaN", 0, 1], ["loss", 0.5, 1, 2]]}
            assert http.post(f"/api/v1/runs/{run['id']}/batch", json=batch).status_code == 204
            history = http.get(f"/api/v1/runs/{run['id']}/metrics/loss").json()["metrics"]
            assert [p["value"] for p in history] == ["NaN", 0.5]
            data = os.urandom(2 * 1024 * 1024 + 5)
            url = f"/api/v1/runs/{run['id']}/artifacts/blob.bin"
            assert http.put(url, content=iter([data[:1000], data[1000:]])).status_code == 201
            with http.stream("GET", url) as response:
                assert response.status_code == 200
                received = b"".join(response.iter_bytes())
            assert received == data
            assert http.get("/api/v1/runs/nope").status_code == 404
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert (store / "tane.db").is_file()
