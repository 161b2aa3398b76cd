"""The project: the nearest folder upward holding ``tane.yaml``, and where its store is."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tane.errors import InvalidInput

PROJECT_FILE = "tane.yaml"
DEFAULT_STORE_DIR = ".tane"


@dataclass(frozen=True)
class Project:
    """A project folder and the settings of its ``tane.yaml`` (empty when there is none)."""

    root: Path
    settings: dict[str, Any] = field(default_factory=dict)
    has_file: bool = False

    @property
    def name(self) -> str:
        return str(self.settings.get("name") or self.root.name)


def find_project(start: str | os.PathLike[str] | None = None) -> Project:
    """Return the project containing ``start`` (default: the cwd).

    Walks up from ``start`` to the first folder holding ``tane.yaml``; without
    one, the project is ``start`` itself with no settings.
    """
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return Project(folder, _read_settings(candidate), True)
    return Project(here, {}, False)


def _read_settings(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} must be a mapping of settings (name:, store:, ...)")
    return data


def resolve_store_uri(
    explicit: str | None = None, start: str | os.PathLike[str] | None = None
) -> str:
    """Return the store URI to use: ``explicit``, else TANE_STORE, else the project's.

    The project's is the ``store:`` setting of ``tane.yaml`` (a relative folder is
    relative to the project root), else ``.tane/`` in the project root.
    """
    if explicit:
        return explicit
    env = os.environ.get("TANE_STORE")
    if env:
        return env
    project = find_project(start)
    configured = project.settings.get("store")
    if configured:
        uri = str(configured)
        if "://" not in uri and not Path(uri).expanduser().is_absolute():
            return str(project.root / uri)
        return uri
    return str(project.root / DEFAULT_STORE_DIR)
