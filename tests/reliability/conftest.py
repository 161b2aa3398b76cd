"""The reliability suite: each guarantee proved by a test that records what it measured.

See docs/reliability.md for the guarantees, and ``figures.py`` for where the
figures go. The session ends with the figures this run measured.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.reliability.figures import RECORDED, line

from tane.testing.server import LiveServer
from tane.tracking.stores import open_store
from tane.tracking.stores.base import Store
from tane.tracking.stores.rest import RestStore
from tane.tracking.stores.sql import SqlStore


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RECORDED:
        return
    terminalreporter.section("reliability figures")
    for name, figures in RECORDED:
        terminalreporter.write_line(line(name, figures))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "rest"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Store]]:
    """A fresh store of each backend: SQLite, PostgreSQL, and a real server over SQLite."""
    if request.param == "sqlite":
        yield "sqlite", open_store(str(tmp_path / "store"))
    elif request.param == "postgres":
        store = SqlStore(request.getfixturevalue("postgres_url"))
        yield "postgres", store
        store.close()
    else:
        request.getfixturevalue("backend")  # a fresh SQLite store behind the module's server
        server: LiveServer = request.getfixturevalue("server")
        rest = RestStore(server.url)
        yield "rest", rest
        rest.close()


def tane_cli(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m tane ARGS`` in a project folder, on the project's own store."""
    full = {k: v for k, v in os.environ.items() if k != "TANE_STORE"}
    full["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(project / "src"), os.environ.get("PYTHONPATH")])
    )
    return subprocess.run(
        [sys.executable, "-m", "tane", *args],
        cwd=project,
        env={**full, **env},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def filter_literal(text: str) -> str:
    """``text`` as a string of the filter language: backslashes doubled, quotes doubled."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
