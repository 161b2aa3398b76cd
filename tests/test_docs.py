"""Docs cannot fall behind: every command, option and setting is documented."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click

from tane.cli import main

ROOT = Path(__file__).resolve().parent.parent
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
TRACKING_DOC = (ROOT / "docs" / "tracking.md").read_text(encoding="utf-8")
ALL_DOCS = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md")))


def _commands(group: click.Group, prefix: str) -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from _commands(command, path)
        else:
            yield path, command


def _section(path: str) -> str:
    match = re.search(
        rf"^## `{re.escape(path)}(?: [^`]*)?`\n(.*?)(?=^## |\Z)", CLI_DOC, re.M | re.S
    )
    assert match, f"docs/cli.md has no section for `{path}`"
    return match.group(1)


def test_every_command_and_option_is_documented() -> None:
    commands = list(_commands(main, "tane"))
    assert len(commands) >= 10
    for path, command in commands:
        section = _section(path)
        for param in command.params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            longest = max(param.opts, key=len)
            if longest == "--help":
                continue
            assert f"`{longest}" in section, f"`{path}`: option {longest} is not in docs/cli.md"
        assert command.help, f"`{path}` has no help text"


def test_every_setting_is_documented() -> None:
    used: set[str] = set()
    for path in (ROOT / "src" / "tane").rglob("*.py"):
        used |= set(re.findall(r"TANE_[A-Z_]+[A-Z]", path.read_text(encoding="utf-8")))
    assert "TANE_STORE" in used
    missing = sorted(v for v in used if f"`{v}`" not in ALL_DOCS)
    assert missing == [], f"settings missing from docs/tracking.md: {missing}"


def test_every_public_name_is_documented() -> None:
    import tane

    undocumented = [
        name
        for name in tane.__all__
        if name[0].islower() and not name.startswith("_") and f"{name}(" not in ALL_DOCS
    ]
    assert undocumented == []
