"""Shared fixtures: fresh stores on SQLite and on the PostgreSQL that scripts/test starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tane.testing.server import LiveServer, free_port
from tane.tracking.stores import clear_cache
from tane.tracking.stores.sql import SqlStore

POSTGRES_URL = os.environ.get("TANE_TEST_POSTGRES", "")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's store, experiment or capture settings."""
    for var in (
        "TANE_STORE",
        "TANE_EXPERIMENT",
        "TANE_CAPTURE",
        "TANE_NO_CAPTURE",
        "TANE_ARTIFACTS",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TANE_STORE", str(tmp_path / "default-store"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    yield
    from tane.tracking import fluent

    for stack in list(fluent._state.stacks):
        for run in reversed(list(stack)):
            run.end()
    clear_cache()


def _admin_url(url: str) -> str:
    return url.rsplit("/", 1)[0] + "/postgres"


def _drop_database(admin: Any, name: str) -> None:
    """Drop a test database, then close the admin engine.

    FORCE ends the other sessions on it, but the tane role may not end an
    autovacuum worker that happens to be on a fresh database: wait for it.
    """
    import sqlalchemy as sa

    try:
        for attempt in range(40):
            try:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except sa.exc.ProgrammingError as exc:
                if "pg_signal_backend" not in str(exc) or attempt == 39:
                    raise
                time.sleep(0.25)
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A PostgreSQL database with tane's schema, copied for each test."""
    if not POSTGRES_URL:
        if os.environ.get("TANE_REQUIRE_POSTGRES"):
            pytest.fail("TANE_TEST_POSTGRES is not set; scripts/test starts PostgreSQL")
        pytest.skip("PostgreSQL tests need TANE_TEST_POSTGRES (scripts/test sets it)")
    import sqlalchemy as sa

    from tane.tracking.stores.sql import SqlStore, normalize_db_url

    admin = sa.create_engine(
        normalize_db_url(_admin_url(POSTGRES_URL)), isolation_level="AUTOCOMMIT"
    )
    name = f"tane_tpl_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    SqlStore(url, "/tmp/unused").close()
    yield name
    _drop_database(admin, name)


@pytest.fixture
def postgres_url(postgres_template: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh database with tane's schema, its artifact root in tmp_path."""
    import sqlalchemy as sa

    from tane.tracking.stores.sql import normalize_db_url

    admin = sa.create_engine(
        normalize_db_url(_admin_url(POSTGRES_URL)), isolation_level="AUTOCOMMIT"
    )
    name = f"tane_t_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    engine = sa.create_engine(normalize_db_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE store_info SET value = %s WHERE key = 'artifact_root'",
            (str(tmp_path / "pg-artifacts"),),
        )
    engine.dispose()
    yield url
    clear_cache()
    _drop_database(admin, name)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto S3 server in a subprocess, stopped at the end of the session."""
    server = Path(sys.executable).parent / "moto_server"
    if not server.exists():
        pytest.fail("moto_server is not installed: scripts/test installs it (moto[server])")
    port = free_port()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    proc = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("moto_server did not start")
            time.sleep(0.05)
    yield endpoint
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """A local Ray instance with 2 CPUs (in a child process), shut down at the end."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        pytest.fail("the Ray tests need ray: scripts/test installs it (tane[ray])")
    from tane.testing.ray_head import RayHead

    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_ADDRESS")}
    with RayHead(num_cpus=2) as head:
        os.environ["RAY_AUTH_MODE"] = head.env["RAY_AUTH_MODE"]
        try:
            yield head.address
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    """A real uvicorn server on 127.0.0.1, one per test module (see ``backend``)."""
    with LiveServer() as srv:
        yield srv


@pytest.fixture
def backend(server: LiveServer, tmp_path: Path) -> Iterator[SqlStore]:
    """A fresh SQLite store behind ``server`` for this test."""
    store = SqlStore(
        f"sqlite:///{tmp_path / 'server' / 'tane.db'}", str(tmp_path / "server" / "artifacts")
    )
    server.serve(store)
    yield store
    store.close()
