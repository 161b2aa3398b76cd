"""Whether a run has hooks at all, found without importing pluggy.

Most runs have no hook implementation; importing pluggy (and the package
metadata machinery it loads) for nothing costs a run a couple of dozen
milliseconds. The ``tane.hooks`` entry points of installed packages are
remembered between processes (see ``tane._memo``).
"""

from __future__ import annotations

import json
from typing import Any

ENTRY_POINT_GROUP = "tane.hooks"
SPEC_NAMES = frozenset(
    {
        "after_catalog_created",
        "before_pipeline_run",
        "after_pipeline_run",
        "on_pipeline_error",
        "before_node_run",
        "after_node_run",
        "on_node_error",
    }
)


def entry_points() -> list[tuple[str, str]]:
    """The ``tane.hooks`` entry points of installed packages: (name, "module:attr")."""
    from tane._memo import remembered

    def scan() -> bytes:
        from importlib.metadata import entry_points as installed

        found = [(ep.name, ep.value) for ep in installed(group=ENTRY_POINT_GROUP)]
        return json.dumps(found).encode()

    return [(str(n), str(v)) for n, v in json.loads(remembered("hook-entry-points", scan))]


def _ignore(**kwargs: Any) -> None:
    return None


class _Relay:
    def __getattr__(self, name: str) -> Any:
        if name not in SPEC_NAMES:
            raise AttributeError(name)
        return _ignore


class NoHooks:
    """Stands in for the plugin manager of a run without hooks: every hook call does nothing."""

    hook = _Relay()


def hooks_for(refs: list[Any]) -> Any:
    """The plugin manager of a run, or NoHooks when there is nothing to call."""
    found = entry_points()
    if not refs and not found:
        return NoHooks()
    from tane.pipeline.hooks import hook_manager

    return hook_manager(refs, found)
