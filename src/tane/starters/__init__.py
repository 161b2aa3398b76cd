"""Project starters: the template files ``tane new`` copies into a new project.

A starter is a folder of plain files next to this module, laid over ``_base/``
(what every project has). While copying (see :func:`render_path` and
:func:`render_text`):

- ``{{ name }}`` and ``{{ package }}`` in a file become the project and package names;
- a folder called ``__package__`` becomes the package;
- a ``.tmpl`` suffix is dropped: the few Python files that import the package by
  name are kept as ``.py.tmpl``; every other template is plain Python that ruff
  and mypy check where it is;
- ``gitignore`` becomes ``.gitignore`` (a real one here would apply to tane's own
  repository).

The ``data/`` layer folders and the iris data are made by ``tane new`` itself.
"""

from __future__ import annotations

from pathlib import Path

from tane.errors import InvalidInput

__all__ = ["STARTERS", "render_path", "render_text", "template_files"]

#: Starter name -> what it makes.
STARTERS: dict[str, str] = {
    "iris": "a runnable project: two pipelines that train and evaluate an iris classifier",
    "blank": "the same layout with one empty pipeline",
}

_HERE = Path(__file__).parent
_BASE = "_base"
_PACKAGE_DIR = "__package__"
_TEMPLATE_SUFFIX = ".tmpl"
_RENAMED = {"gitignore": ".gitignore"}


def template_files(starter: str) -> dict[str, Path]:
    """Return the starter's template files by their path in a project, before renaming.

    The starter's own files replace those of ``_base/`` with the same path.

    Raises:
        InvalidInput: There is no such starter.
    """
    if starter not in STARTERS:
        raise InvalidInput(f"no starter {starter!r}: choose one of {', '.join(STARTERS)}")
    found: dict[str, Path] = {}
    for folder in (_HERE / _BASE, _HERE / starter):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                found[path.relative_to(folder).as_posix()] = path
    return found


def render_path(template_path: str, package: str) -> str:
    """Return where a template file goes in the project (a relative POSIX path).

    Example:
        >>> render_path("src/__package__/pipelines/__init__.py", "iris_lab")
        'src/iris_lab/pipelines/__init__.py'
        >>> render_path("tests/test_nodes.py.tmpl", "iris_lab")
        'tests/test_nodes.py'
    """
    parts = [package if part == _PACKAGE_DIR else part for part in template_path.split("/")]
    last = parts[-1]
    last = _RENAMED.get(last, last)
    parts[-1] = last.removesuffix(_TEMPLATE_SUFFIX)
    return "/".join(parts)


def render_text(text: str, *, name: str, package: str) -> str:
    """Return a template's text with ``{{ name }}`` and ``{{ package }}`` replaced.

    Example:
        >>> render_text("from {{ package }}.nodes import f  # {{ name }}", name="Iris Lab",
        ...             package="iris_lab")
        'from iris_lab.nodes import f  # Iris Lab'
    """
    return text.replace("{{ name }}", name).replace("{{ package }}", package)
