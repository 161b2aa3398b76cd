"""``tane runs ls|show|compare|rm|restore`` against a real store."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import Result

import tane
from tane.tracking.entities import Run
from tane.tracking.stores import sql as sql_store
from tane.tracking.stores import sqlite as sqlite_store

Invoke = Callable[..., Result]
MakeRun = Callable[..., Run]


def row_of(text: str, run_id: str) -> str:
    """Return the one line of ``text`` that starts with the run's short id."""
    found = [line for line in text.splitlines() if line.startswith(run_id[:8])]
    assert len(found) == 1, text
    return found[0]


def header_of(text: str) -> list[str]:
    first = next(line for line in text.splitlines() if line.startswith("ID"))
    return first.split()


def error_lines(result: Result) -> list[str]:
    return result.stderr.splitlines()


# -- ls ------------------------------------------------------------------------


def test_ls_shows_runs_with_the_columns_that_vary(cli: Invoke, make_run: MakeRun) -> None:
    a = make_run("alpha", params={"lr": 0.1, "batch": 32}, metrics={"acc": [0.5, 0.75]})
    b = make_run("beta", params={"lr": 0.01, "batch": 32}, metrics={"acc": [0.25, 0.875]})
    result = cli("runs", "ls")
    assert result.exit_code == 0, result.output
    header = header_of(result.stdout)
    assert header[:6] == ["ID", "Name", "Experiment", "Status", "Started", "Duration"]
    # acc and lr differ; batch is the same everywhere, so it is not a column.
    assert header[6:] == ["acc", "lr"]
    row_a = row_of(result.stdout, a.id).split()
    assert row_a[:4] == [a.id[:8], "alpha", "exp", "FINISHED"]
    assert row_a[-2:] == ["0.75", "0.1"]
    assert row_of(result.stdout, b.id).split()[-2:] == ["0.875", "0.01"]
    # Newest first.
    assert result.stdout.index(b.id[:8]) < result.stdout.index(a.id[:8])
    assert result.stdout.rstrip().endswith("2 runs")


def test_ls_json_is_run_to_json_with_nan_and_inf_as_strings(cli: Invoke, make_run: MakeRun) -> None:
    run = make_run("odd", params={"p": "x"}, metrics={"nan": [float("nan")], "big": [float("inf")]})
    result = cli("runs", "ls", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data == [tane.Client().get_run(run.id).to_json()]
    assert data[0]["metrics"] == {"nan": "NaN", "big": "Infinity"}
    assert data[0]["params"] == {"p": "x"}
    table = cli("runs", "ls", "-c", "metrics.nan,big").stdout
    assert row_of(table, run.id).split()[-2:] == ["nan", "inf"]


def test_ls_columns_option_picks_columns(cli: Invoke, make_run: MakeRun) -> None:
    run = make_run(
        "r1", params={"lr": 0.1, "opt": "adam"}, metrics={"acc": [0.5]}, tags={"team": "vision"}
    )
    make_run("r2", params={"lr": 0.2, "opt": "sgd"}, metrics={"acc": [0.6]})
    result = cli("runs", "ls", "-c", "params.opt", "-c", "acc,tags.team,missing")
    assert header_of(result.stdout)[6:] == ["opt", "acc", "tags.team", "tags.missing"]
    assert row_of(result.stdout, run.id).split()[-4:] == ["adam", "0.5", "vision", "-"]


def test_ls_caps_automatic_columns(cli: Invoke, make_run: MakeRun) -> None:
    for i in range(2):
        make_run(
            f"r{i}",
            params={f"p{k}": i + k for k in range(9)},
            metrics={f"m{k}": [i + k] for k in range(8)},
        )
    result = cli("runs", "ls")
    header = header_of(result.stdout)
    assert header[6:] == [f"m{k}" for k in range(6)] + [f"p{k}" for k in range(6)]
    assert "2 metrics and 3 params that vary not shown: choose columns with -c" in result.stdout


def test_ls_order_filter_max_and_experiment(cli: Invoke, make_run: MakeRun) -> None:
    low = make_run("low", experiment="a", metrics={"acc": [0.1]})
    high = make_run("high", experiment="a", metrics={"acc": [0.9]})
    mid = make_run("mid", experiment="b", metrics={"acc": [0.5]})
    ordered = json.loads(cli("runs", "ls", "-o", "metrics.acc DESC", "--json").stdout)
    assert [r["name"] for r in ordered] == ["high", "mid", "low"]
    filtered = json.loads(cli("runs", "ls", "-f", "metrics.acc > 0.3", "--json").stdout)
    assert {r["id"] for r in filtered} == {high.id, mid.id}
    only_a = json.loads(cli("runs", "ls", "-e", "a", "--json").stdout)
    assert {r["id"] for r in only_a} == {low.id, high.id}
    both = json.loads(cli("runs", "ls", "-e", "a", "-e", "b", "--json").stdout)
    assert len(both) == 3
    result = cli("runs", "ls", "-n", "2", "-o", "metrics.acc")
    assert [line.split()[1] for line in result.stdout.splitlines()[1:3]] == ["low", "mid"]
    assert "more match: raise --max (now 2) to see them" in result.stdout


def test_ls_bad_filter_shows_the_caret(cli: Invoke, make_run: MakeRun) -> None:
    make_run()
    text = "metrics.acc >"
    result = cli("runs", "ls", "-f", text)
    assert result.exit_code == 1
    assert result.stdout == ""
    err = error_lines(result)
    assert err[0].startswith("Error: ")
    assert err[1] == f"  {text}"
    caret = err[2].index("^") - 2
    assert text.index(">") <= caret <= len(text)
    assert err[2].strip() == "^"
    assert "Traceback" not in result.output


def test_ls_unknown_experiment_is_an_error_line(cli: Invoke, make_run: MakeRun) -> None:
    make_run()
    result = cli("runs", "ls", "-e", "nope")
    assert result.exit_code == 1
    assert error_lines(result) == [
        "Error: no experiment named 'nope'; `tane experiments ls` lists them"
    ]


def test_ls_empty_store_is_friendly_and_creates_nothing(cli: Invoke, store: str) -> None:
    result = cli("runs", "ls")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"No runs yet in {store}.")
    assert "tane demo" in result.stdout
    assert "tane.start_run()" in result.stdout
    assert not Path(store).exists()
    assert cli("runs", "ls", "--json").stdout.strip() == "[]"


def test_ls_no_match(cli: Invoke, make_run: MakeRun) -> None:
    make_run(metrics={"acc": [0.1]})
    result = cli("runs", "ls", "-f", "metrics.acc > 5")
    assert result.exit_code == 0
    assert result.stdout.startswith("No runs match.")


def test_ls_deleted_and_all(cli: Invoke, make_run: MakeRun) -> None:
    kept = make_run("kept")
    gone = make_run("gone")
    tane.Client().delete_run(gone.id)
    active = json.loads(cli("runs", "ls", "--json").stdout)
    assert [r["id"] for r in active] == [kept.id]
    deleted = json.loads(cli("runs", "ls", "--deleted", "--json").stdout)
    assert [(r["id"], r["deleted"]) for r in deleted] == [(gone.id, True)]
    everything = json.loads(cli("runs", "ls", "--all", "--json").stdout)
    assert {r["id"] for r in everything} == {kept.id, gone.id}
    table = cli("runs", "ls", "--all").stdout
    assert "gone (deleted)" in row_of(table, gone.id)
    both = cli("runs", "ls", "--all", "--deleted")
    assert both.exit_code == 2
    assert "--all and --deleted exclude each other" in both.stderr


def test_ls_shows_children_under_their_parent(cli: Invoke, store: str) -> None:
    with tane.start_run(experiment="sweep", name="parent", store=store, capture=False) as parent:
        with tane.start_run(name="child-1", capture=False, store=store) as child1:
            pass
        time.sleep(0.01)  # distinct start times: the listing is newest first
        with tane.start_run(name="child-2", capture=False, store=store) as child2:
            pass
    lines = cli("runs", "ls").stdout.splitlines()
    names = [line.split()[1:3] for line in lines[1:4]]
    assert names == [["parent", "sweep"], ["└", "child-2"], ["└", "child-1"]]
    only_children = cli("runs", "ls", "-f", f"attributes.parent_id = '{parent.id}'").stdout
    header = header_of(only_children)
    assert "Parent" in header
    assert header[-1] == "Parent"
    assert row_of(only_children, child1.id).split()[-1] == parent.id[:8]
    assert child2.id[:8] in only_children


# -- show ----------------------------------------------------------------------


def test_show_prints_every_section(cli: Invoke, make_run: MakeRun) -> None:
    run = make_run(
        "shown",
        params={"lr": 0.01, "model": "mlp"},
        metrics={"loss": [1.0, 0.25, 0.5]},
        tags={
            "team": "vision",
            "tane.git.commit": "0123456789abcdef",
            "tane.git.branch": "dev",
            "tane.git.dirty": "true",
            "tane.host": "box-7",
            "tane.command": "train.py --x 1",
        },
        artifacts={"model.pkl": b"x" * 2048, "plots/curve.png": b"png"},
        note="Tried a **smaller** lr.",
    )
    result = cli("runs", "show", run.id[:6])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert run.id in out
    assert "exp (id 1)" in out
    assert "FINISHED" in out
    assert "0123456789ab on dev (uncommitted changes)" in out
    assert "train.py --x 1" in out
    assert "box-7" in out
    # params table
    assert any(line.split() == ["lr", "0.01"] for line in out.splitlines())
    assert any(line.split() == ["model", "mlp"] for line in out.splitlines())
    # metrics: latest, min, max, points
    assert any(line.split() == ["loss", "0.5", "0.25", "1", "3"] for line in out.splitlines())
    # user tags before tane.* tags
    assert out.index("team") < out.index("tane.git.branch")
    assert "smaller" in out
    assert any(line.split() == ["model.pkl", "2.0", "KB"] for line in out.splitlines())
    assert any(line.split() == ["plots/", "3", "B"] for line in out.splitlines())


def test_show_json(cli: Invoke, make_run: MakeRun, store: str) -> None:
    with tane.start_run(experiment="exp", name="p", store=store, capture=False) as parent:
        with tane.start_run(name="c", store=store, capture=False) as child:
            tane.log_text("hello", "a/b.txt")
    result = cli("runs", "show", parent.id, "--json")
    data = json.loads(result.stdout)
    assert data["id"] == parent.id
    assert data["children"] == [child.id]
    assert data["artifacts"] == []
    child_data = json.loads(cli("runs", "show", child.id[:10], "--json").stdout)
    assert child_data["parent_id"] == parent.id
    assert child_data["artifacts"] == [{"path": "a", "is_dir": True, "size": 5}]


def test_show_failed_run_shows_its_error(cli: Invoke, make_run: MakeRun) -> None:
    trace = 'Traceback (most recent call last):\n  File "x.py"\nValueError: boom'
    run = make_run("broken", status="FAILED", error=trace)
    result = cli("runs", "show", run.id[:8])
    assert "FAILED" in result.stdout
    assert "ValueError: boom" in result.stdout
    assert "Traceback (most recent" not in result.stdout
    assert "add --traceback" in result.stdout
    full = cli("runs", "show", run.id[:8], "--traceback").stdout
    assert "Traceback (most recent call last):" in full


def test_show_unknown_id(cli: Invoke, make_run: MakeRun) -> None:
    make_run()
    result = cli("runs", "show", "ffffffff")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = error_lines(result)
    assert len(lines) == 1
    assert lines[0].startswith("Error: no run id starts with 'ffffffff'")
    short = cli("runs", "show", "ab")
    assert short.exit_code == 1
    assert error_lines(short) == [
        "Error: 'ab' is not a run id: give the id or at least its first 4 characters"
    ]


def test_show_on_a_missing_store(cli: Invoke, store: str) -> None:
    result = cli("runs", "show", "abcdef")
    assert result.exit_code == 1
    assert error_lines(result)[0].startswith(f"Error: there is no tane store at {store} yet")
    assert not Path(store).exists()


@pytest.fixture
def twin_ids(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the store give the next runs ids that share their first 6 characters."""
    ids = ["abcdef00000000000000000000000001", "abcdef11000000000000000000000002"]
    pending = iter(uuid.UUID(i) for i in ids)
    fake = SimpleNamespace(uuid4=lambda: next(pending))
    monkeypatch.setattr(sql_store, "uuid", fake)
    monkeypatch.setattr(sqlite_store, "uuid", fake)  # local stores record through sqlite3
    return ids


def test_prefixes_unique_and_ambiguous(cli: Invoke, make_run: MakeRun, twin_ids: list[str]) -> None:
    first = make_run("first")
    second = make_run("second")
    assert [first.id, second.id] == twin_ids
    ambiguous = cli("runs", "show", "abcdef")
    assert ambiguous.exit_code == 1
    lines = error_lines(ambiguous)
    assert len(lines) == 1
    assert lines[0].startswith("Error: run id prefix 'abcdef' is ambiguous")
    assert json.loads(cli("runs", "show", "abcdef0", "--json").stdout)["name"] == "first"
    assert json.loads(cli("runs", "show", "ABCDEF1", "--json").stdout)["name"] == "second"


# -- compare -------------------------------------------------------------------


def _compare_pair(make_run: MakeRun) -> tuple[Run, Run]:
    a = make_run("a", params={"lr": 0.1, "seed": 1}, metrics={"acc": [0.5], "n": [3]})
    b = make_run("b", params={"lr": 0.2, "seed": 1}, metrics={"acc": [0.7], "n": [3]})
    return a, b


def test_compare_shows_only_differing_rows(cli: Invoke, make_run: MakeRun) -> None:
    a, b = _compare_pair(make_run)
    result = cli("runs", "compare", a.id[:6], b.id[:6])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.splitlines()[0].split() == [a.id[:8], b.id[:8]]
    assert any(line.split() == ["≠", "lr", "0.1", "0.2"] for line in out.splitlines())
    assert any(line.split() == ["≠", "acc", "0.5", "0.7"] for line in out.splitlines())
    assert "seed" not in out
    assert not any(line.split()[:1] == ["n"] for line in out.splitlines())
    assert "2 identical rows hidden: --all shows them" in out
    full = cli("runs", "compare", a.id[:6], b.id[:6], "--all").stdout
    assert any(line.split() == ["seed", "1", "1"] for line in full.splitlines())
    assert any(line.split() == ["n", "3", "3"] for line in full.splitlines())
    assert "hidden" not in full


def test_compare_json(cli: Invoke, make_run: MakeRun) -> None:
    a, b = _compare_pair(make_run)
    c = make_run("c", params={"lr": 0.3}, metrics={"acc": [float("nan")]})
    data = json.loads(cli("runs", "compare", a.id, b.id, c.id, "--json").stdout)
    assert [r["id"] for r in data["runs"]] == [a.id, b.id, c.id]
    assert data["params"]["lr"] == {a.id: "0.1", b.id: "0.2", c.id: "0.3"}
    assert data["params"]["seed"] == {a.id: "1", b.id: "1", c.id: None}
    assert data["metrics"]["acc"] == {a.id: 0.5, b.id: 0.7, c.id: "NaN"}
    assert data["differing"] == {"params": ["lr", "seed"], "metrics": ["acc", "n"]}


def test_compare_errors(cli: Invoke, make_run: MakeRun) -> None:
    a, _ = _compare_pair(make_run)
    one = cli("runs", "compare", a.id)
    assert one.exit_code == 2
    assert "give at least two runs to compare" in one.stderr
    twice = cli("runs", "compare", a.id, a.id[:6])
    assert twice.exit_code == 2
    assert f"run {a.id[:8]} is given twice" in twice.stderr
    unknown = cli("runs", "compare", a.id, "0000ffff")
    assert unknown.exit_code == 1
    assert error_lines(unknown)[0].startswith("Error: no run id starts with '0000ffff'")


# -- rm / restore --------------------------------------------------------------


def test_rm_and_restore(cli: Invoke, make_run: MakeRun, store: str) -> None:
    with tane.start_run(experiment="exp", name="parent", store=store, capture=False) as parent:
        with tane.start_run(name="child", store=store, capture=False) as child:
            pass
    other = make_run("other")
    result = cli("runs", "rm", parent.id[:6])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"Deleted run {parent.id[:8]} parent" in out
    assert "child runs are deleted with them" in out
    assert f"tane runs restore {parent.id[:8]}" in out
    assert "tane gc" in out
    client = tane.Client(store)
    assert client.get_run(parent.id).deleted
    assert client.get_run(child.id).deleted
    assert not client.get_run(other.id).deleted
    again = cli("runs", "rm", parent.id)
    assert "(was already deleted)" in again.stdout
    restored = cli("runs", "restore", parent.id[:6])
    assert restored.exit_code == 0
    assert f"Restored run {parent.id[:8]} parent" in restored.stdout
    assert not client.get_run(parent.id).deleted
    assert not client.get_run(child.id).deleted
    assert "(was not deleted)" in cli("runs", "restore", other.id).stdout


def test_rm_unknown_run_changes_nothing(cli: Invoke, make_run: MakeRun) -> None:
    run = make_run()
    result = cli("runs", "rm", run.id, "0000aaaa")
    assert result.exit_code == 1
    assert error_lines(result)[0].startswith("Error: no run id starts with '0000aaaa'")
    assert not tane.Client().get_run(run.id).deleted


def test_runs_commands_require_arguments(cli: Invoke) -> None:
    for command in ("show", "rm", "restore", "compare"):
        result = cli("runs", command)
        assert result.exit_code == 2, command
