"""``tane experiments`` and ``tane db``."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from tane.tracking.entities import Run
from tane.tracking.stores import clear_cache

Invoke = Callable[..., Result]
MakeRun = Callable[..., Run]


def test_experiments_ls_and_create(cli: Invoke, make_run: MakeRun) -> None:
    make_run("a", experiment="vision")
    make_run("b", experiment="vision")
    created = cli("experiments", "create", "nlp")
    assert created.exit_code == 0
    assert created.stdout.startswith("Created experiment 'nlp' (id 2).")
    data = json.loads(cli("experiments", "ls", "--json").stdout)
    assert [(e["name"], e["id"], e["runs"]) for e in data] == [
        ("Default", "0", 0),
        ("vision", "1", 2),
        ("nlp", "2", 0),
    ]
    table = cli("experiments", "ls").stdout.splitlines()
    assert table[0].split() == ["Name", "ID", "Runs", "Last", "activity"]
    assert table[2].split()[:3] == ["vision", "1", "2"]
    duplicate = cli("experiments", "create", "nlp")
    assert duplicate.exit_code == 1
    assert duplicate.stderr.splitlines() == [
        "Error: experiment 'nlp' already exists: use it, or pick another name"
    ]


def test_experiments_ls_on_a_missing_store(cli: Invoke, store: str) -> None:
    result = cli("experiments", "ls")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"No experiments yet in {store}")
    assert cli("experiments", "ls", "--json").stdout.strip() == "[]"
    assert not Path(store).exists()


def test_db_upgrade_creates_then_reports_current(cli: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "fresh"
    created = cli("db", "upgrade", "--store", str(target))
    assert created.exit_code == 0, created.output
    assert created.stdout.strip() == f"Created the store {target} at schema revision 0003."
    assert (target / "tane.db").is_file()
    again = cli("db", "upgrade", "--store", str(target))
    assert again.stdout.strip() == (
        f"The store {target} is already at the latest schema revision 0003."
    )
    assert cli("db", "current", "--store", str(target)).stdout.strip() == "0003 (up to date)"
    url = f"sqlite:///{target / 'tane.db'}"
    assert cli("db", "current", "--store", url).stdout.strip() == "0003 (up to date)"
    assert cli("--store", str(target), "db", "current").stdout.strip() == "0003 (up to date)"


def test_db_current_uses_the_global_store(cli: Invoke, make_run: MakeRun) -> None:
    make_run()
    assert cli("db", "current").stdout.strip() == "0003 (up to date)"


def test_db_current_on_a_missing_store(cli: Invoke, store: str) -> None:
    result = cli("db", "current")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: there is no tane store at {store} yet: `tane db upgrade` creates one"
    ]
    assert not Path(store).exists()


def test_db_with_a_newer_schema(cli: Invoke, make_run: MakeRun, store: str) -> None:
    make_run()
    clear_cache()
    with sqlite3.connect(Path(store) / "tane.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    current = cli("db", "current")
    assert current.stdout.strip() == (
        "9999 (newer than this tane, which knows up to 0003: pip install -U tane)"
    )
    upgrade = cli("db", "upgrade")
    assert upgrade.exit_code == 1
    lines = upgrade.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: the store ")
    assert "schema revision '9999', written by a newer tane" in lines[0]


def test_db_rejects_servers(cli: Invoke) -> None:
    result = cli("db", "current", "--store", "https://tane.example.com")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: store https://tane.example.com is a tane server")
