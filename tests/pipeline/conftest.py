"""Fixtures of the pipeline tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_imports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Each test's project package is imported from its own folder.

    Projects made in tmp_path share package names; whatever a test imported from
    a temporary folder is forgotten after it, with the sys.path entries it added.
    """
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    base = str(tmp_path_factory.getbasetemp())
    for name in set(sys.modules) - modules:
        where = getattr(sys.modules[name], "__file__", None) or ""
        search = getattr(sys.modules[name], "__path__", None) or []
        if where.startswith(base) or any(str(p).startswith(base) for p in search):
            del sys.modules[name]
