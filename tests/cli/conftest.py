"""Fixtures of the CLI tests: a real store in tmp_path and a way to invoke ``tane``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import tane
from tane.cli import main
from tane.tracking.entities import Run
from tane.tracking.stores import clear_cache

Invoke = Callable[..., Result]
MakeRun = Callable[..., Run]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A store folder in tmp_path, named by TANE_STORE; the cwd is tmp_path."""
    path = tmp_path / "store"
    monkeypatch.setenv("TANE_STORE", str(path))
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.delenv("TANE_EXPERIMENT", raising=False)
    monkeypatch.chdir(tmp_path)
    yield str(path)
    clear_cache()


@pytest.fixture
def cli(store: str) -> Invoke:
    """Run ``tane ARGS...`` in-process; unexpected exceptions propagate to the test."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def make_run(store: str) -> MakeRun:
    """Record a run through the real fluent API and return it as stored."""

    def make(
        name: str = "run",
        experiment: str = "exp",
        *,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Sequence[float]] | None = None,
        tags: Mapping[str, str] | None = None,
        status: str = "FINISHED",
        error: str | None = None,
        artifacts: Mapping[str, bytes] | None = None,
        note: str | None = None,
        parent_id: str | None = None,
    ) -> Run:
        with tane.start_run(
            experiment=experiment,
            name=name,
            tags=tags,
            note=note,
            parent_id=parent_id,
            store=store,
            capture=False,
        ) as run:
            if params:
                run.log_params(params)
            for key, values in (metrics or {}).items():
                for step, value in enumerate(values):
                    run.log_metric(key, value, step=step)
            for path, data in (artifacts or {}).items():
                run.log_bytes(data, path)
            if status != "FINISHED":
                run.end(status, error=error)
        return tane.Client(store).get_run(run.id)

    return make
