"""``tane gc``: purge deleted runs, their artifacts and database rows."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import tane
from tane.cli import gc as gc_module
from tane.errors import RunNotFound
from tane.tracking.entities import Run

Invoke = Callable[..., Result]
MakeRun = Callable[..., Run]


def _rows(store: str, run_id: str) -> int:
    with sqlite3.connect(Path(store) / "tane.db") as conn:
        return int(conn.execute("SELECT count(*) FROM runs WHERE id = ?", (run_id,)).fetchone()[0])


@pytest.fixture
def doomed(make_run: MakeRun) -> tuple[Run, Run]:
    """A deleted run with 3 KB of artifacts and a run that is kept."""
    gone = make_run(
        "gone", params={"a": 1}, metrics={"m": [1, 2]}, artifacts={"model.bin": b"x" * 3072}
    )
    kept = make_run("kept", artifacts={"keep.txt": b"keep"})
    tane.Client().delete_run(gone.id)
    return gone, kept


def test_gc_yes_removes_deleted_runs_for_good(
    cli: Invoke, store: str, doomed: tuple[Run, Run]
) -> None:
    gone, kept = doomed
    folder = Path(gone.artifact_uri)
    assert (folder / "model.bin").is_file()
    assert _rows(store, gone.id) == 1
    result = cli("gc", "--yes")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert gone.id[:8] in out
    assert kept.id[:8] not in out
    assert "1 deleted run, 3.0 KB of artifacts." in out
    assert "Removed 1 run, freed " in out
    assert not folder.exists()
    assert _rows(store, gone.id) == 0
    with pytest.raises(RunNotFound):
        tane.Client().get_run(gone.id)
    assert (Path(kept.artifact_uri) / "keep.txt").read_bytes() == b"keep"
    assert json.loads(cli("runs", "ls", "--json").stdout)[0]["id"] == kept.id
    assert cli("gc", "-y").stdout.strip() == "Nothing to remove: no deleted runs."


def test_gc_refuses_without_yes_when_not_interactive(
    cli: Invoke, store: str, doomed: tuple[Run, Run]
) -> None:
    gone, _ = doomed
    result = cli("gc")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: not removing 1 deleted run without confirmation: stdin is not a terminal; "
        "pass --yes to remove them"
    ]
    assert _rows(store, gone.id) == 1
    assert Path(gone.artifact_uri).exists()


def test_gc_dry_run_removes_nothing(cli: Invoke, store: str, doomed: tuple[Run, Run]) -> None:
    gone, _ = doomed
    result = cli("gc", "--dry-run", "--yes")
    assert result.exit_code == 0
    assert "Dry run: nothing was removed." in result.stdout
    assert _rows(store, gone.id) == 1
    assert Path(gone.artifact_uri).exists()


@pytest.mark.parametrize(("answer", "removed"), [("y\n", True), ("n\n", False)])
def test_gc_asks_when_interactive(
    cli: Invoke,
    store: str,
    doomed: tuple[Run, Run],
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    removed: bool,
) -> None:
    gone, _ = doomed
    monkeypatch.setattr(gc_module, "stdin_is_interactive", lambda: True)
    result = cli("gc", input=answer)
    assert "Remove 1 deleted run and their artifacts for good? [y/N]" in result.stdout
    assert (result.exit_code == 0) is removed
    assert (_rows(store, gone.id) == 0) is removed
    assert Path(gone.artifact_uri).exists() is not removed


def test_gc_on_a_missing_store(cli: Invoke, store: str) -> None:
    result = cli("gc", "-y")
    assert result.exit_code == 0
    assert result.stdout.startswith("Nothing to remove: there is no store at")
    assert not Path(store).exists()
