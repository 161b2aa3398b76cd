"""The ``tane`` group: help, version, lazy loading, error display, start-up imports."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import tane
from tane.cli import LazyGroup, _format, main
from tane.errors import InvalidInput

Invoke = Callable[..., Result]

HEAVY = ("sqlalchemy", "pandas", "rich", "numpy", "alembic", "fsspec")


def _loaded_after(code: str, tmp_path: Path) -> set[str]:
    """Run ``code`` in a fresh interpreter; return the heavy top-level modules it loaded."""
    script = tmp_path / "probe.py"
    script.write_text(
        "import sys\n"
        f"{code}\n"
        "top = {m.split('.')[0] for m in sys.modules}\n"
        f"print('loaded:' + ','.join(sorted(top & set({HEAVY!r}))))\n"
    )
    env = {**os.environ, "TANE_STORE": str(tmp_path / "never-opened")}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, check=True
    )
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("loaded:"), done.stdout
    return set(filter(None, last.removeprefix("loaded:").split(",")))


def test_import_tane_cli_loads_nothing_heavy(tmp_path: Path) -> None:
    assert _loaded_after("import tane.cli", tmp_path) == set()


def test_help_loads_nothing_heavy(tmp_path: Path) -> None:
    code = (
        "from tane.cli import main\n"
        "try:\n"
        "    main(['--help'], prog_name='tane')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    assert _loaded_after(code, tmp_path) == set()
    assert not (tmp_path / "never-opened").exists()


def test_subcommand_help_loads_no_database_or_pandas(tmp_path: Path) -> None:
    for command in ("runs", "gc", "experiments", "db", "demo"):
        code = (
            "from tane.cli import main\n"
            "try:\n"
            f"    main([{command!r}, '--help'], prog_name='tane')\n"
            "except SystemExit:\n"
            "    pass\n"
        )
        loaded = _loaded_after(code, tmp_path)
        assert not loaded & {"sqlalchemy", "pandas", "alembic", "numpy"}, (command, loaded)


def test_python_m_tane_help_imports_nothing_heavy(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tane", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert "Commands:" in done.stdout
    assert "runs" in done.stdout
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "click" in imported  # the probe sees imports at all
    assert not imported & set(HEAVY), imported & set(HEAVY)


def test_python_m_tane_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tane", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == f"tane {tane.__version__}"


def test_help_lists_every_command(cli: Invoke) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for name in ("runs", "experiments", "gc", "db", "demo"):
        assert f"  {name} " in result.stdout
    assert "TANE_STORE" in result.stdout


def test_every_command_and_option_has_help() -> None:
    ctx = click.Context(main)
    missing: list[str] = []

    def visit(command: click.Command, path: str) -> None:
        if not (command.help or "").strip():
            missing.append(path)
        for param in command.params:
            if isinstance(param, click.Option) and not (param.help or "").strip():
                missing.append(f"{path} {param.opts[0]}")
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, name
                visit(sub, f"{path} {name}")

    visit(main, "tane")
    assert missing == []


def _group_with(command: click.Command) -> click.Group:
    group = LazyGroup(name="t", lazy_subcommands={"ghost": ("no_such_module_xyz:cmd", "Ghost.")})
    group.add_command(command)
    return group


def test_tane_error_is_one_red_line_and_exit_1() -> None:
    @click.command()
    def bad() -> None:
        raise InvalidInput("param 'x' is wrong: give a number")

    result = CliRunner().invoke(_group_with(bad), ["bad"], color=True)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "\x1b[31mError: param 'x' is wrong: give a number\x1b[0m\n"
    assert "Traceback" not in result.output


def test_unexpected_error_keeps_its_traceback() -> None:
    @click.command()
    def broken() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        CliRunner().invoke(_group_with(broken), ["broken"], catch_exceptions=False)


def test_lazy_commands_are_listed_without_import_and_loaded_on_use() -> None:
    @click.command()
    def other() -> None:
        """Another command."""

    group = _group_with(other)
    result = CliRunner().invoke(group, ["--help"])
    assert result.exit_code == 0
    assert "ghost  Ghost." in result.stdout
    assert "no_such_module_xyz" not in sys.modules
    with pytest.raises(ModuleNotFoundError):
        CliRunner().invoke(group, ["ghost"], catch_exceptions=False)


def test_store_option_overrides_environment(
    cli: Invoke, tmp_path: Path, make_run: Callable[..., object]
) -> None:
    make_run("in-env-store")
    other = tmp_path / "other"
    result = cli("--store", str(other), "experiments", "create", "elsewhere")
    assert result.exit_code == 0
    assert (other / "tane.db").is_file()
    listed = cli("--store", str(other), "runs", "ls", "--json")
    assert listed.stdout.strip() == "[]"


def test_default_store_is_dot_tane_of_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TANE_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, ["experiments", "create", "here"])
    finally:
        from tane.tracking.stores import clear_cache

        clear_cache()
    assert result.exit_code == 0, result.output
    assert (tmp_path / ".tane" / "tane.db").is_file()


def test_format_doctests() -> None:
    failures, tried = doctest.testmod(_format)
    assert tried >= 6
    assert failures == 0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.25, "250ms"),
        (12.34, "12.3s"),
        (61, "1m 01s"),
        (3 * 3600 + 5 * 60, "3h 05m"),
        (2 * 86400 + 3600, "2d 01h"),
        (None, "-"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert _format.format_duration(seconds) == text


def test_human_bytes_and_relative_time() -> None:
    assert _format.human_bytes(0) == "0 B"
    assert _format.human_bytes(5 * 1024**2) == "5.0 MB"
    assert _format.human_bytes(None) == "-"
    now = 1_800_000_000.0
    assert _format.relative_time(int(now * 1000) - 3_000, now) == "just now"
    assert _format.relative_time(int(now * 1000) - 7_200_000, now) == "2h ago"
    assert _format.format_metric(float("nan")) == "nan"
    assert _format.format_metric(float("-inf")) == "-inf"
