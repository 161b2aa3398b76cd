"""``tane new``: scaffold a project from a starter (the templates are in :mod:`tane.starters`)."""

from __future__ import annotations

import csv
import io
import keyword
import os
import re
import shlex
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tane.cli import CliError
from tane.starters import STARTERS, render_path, render_text, template_files

if TYPE_CHECKING:
    from rich.console import Console

#: The data folders of a project, one per layer, from raw data to reports.
DATA_LAYERS = (
    "01_raw",
    "02_intermediate",
    "03_primary",
    "04_feature",
    "05_model_input",
    "06_models",
    "07_model_output",
    "08_reporting",
)
IRIS_COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width", "species")
IRIS_FILE = "data/01_raw/iris.csv"
SKLEARN_MISSING = "the iris starter needs scikit-learn: pip install 'tane[demo]'"

_FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Packages the projects import: a project package of the same name would hide them.
_TAKEN = frozenset({"tane", "pandas", "numpy", "sklearn", "lightgbm", "yaml", "pytest"})


@click.command()
@click.argument("name")
@click.option(
    "--starter",
    type=click.Choice(list(STARTERS)),
    default="iris",
    show_default=True,
    help="iris: a runnable project that trains a classifier; blank: the layout, no nodes.",
)
@click.option(
    "--directory",
    "-d",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    default=Path(),
    help="Folder to make the project folder in. Default: the current folder.",
)
@click.option(
    "--package",
    metavar="PKG",
    help="Python package of the project's code. Default: NAME in lower case, "
    "'-' and spaces as '_'.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write into an existing folder that is not empty (the starter's files are replaced).",
)
def new(name: str, starter: str, directory: Path, package: str | None, force: bool) -> None:
    """Make a new project in the folder NAME, from a starter.

    The iris starter is a project that runs as is: two pipelines that prepare
    scikit-learn's iris data and train and evaluate a classifier, with their
    config, data catalog, tests and data folders. `tane run` in the new folder
    runs them.
    """
    _check_folder_name(name)
    package = _package(name, package)
    root = directory / name
    _check_target(root, force)
    iris = _iris_csv() if starter == "iris" else None
    made = _write_project(root, starter, name=name, package=package, iris=iris)
    _report(root, starter, package, made)


def default_package(name: str) -> str:
    """Return the package name made from a project name.

    Example:
        >>> default_package("Iris-Lab 2")
        'iris_lab_2'
    """
    return re.sub(r"[-\s]+", "_", name.strip().lower())


def iris_csv(bundled: str) -> str:
    """Return scikit-learn's bundled ``iris.csv`` as a plain CSV.

    The bundled file starts with a line ``150,4,setosa,versicolor,virginica``
    (rows, features, class names) and numbers the classes; the result has a
    header of column names and the species by name.

    Raises:
        CliError: The text is not in that format.
    """
    rows = list(csv.reader(io.StringIO(bundled)))
    try:
        n_rows, n_features, *classes = rows[0]
        body = [row for row in rows[1:] if row]
        if int(n_rows) != len(body) or int(n_features) != len(IRIS_COLUMNS) - 1:
            raise ValueError(f"the first line promises {n_rows} rows of {n_features} features")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(IRIS_COLUMNS)
        for *values, label in body:
            if len(values) != int(n_features):
                raise ValueError(f"a row has {len(values)} features")
            writer.writerow([*(v.strip() for v in values), classes[int(label)]])
    except (IndexError, ValueError) as exc:
        raise CliError(
            f"scikit-learn's iris.csv is not in the format tane knows ({exc}): "
            "update tane, or start from --starter blank"
        ) from None
    return out.getvalue()


def _iris_csv() -> str:
    """Return the iris data for the project, read from scikit-learn's files.

    scikit-learn is found, not imported: importing it takes a second.
    """
    spec = find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise CliError(SKLEARN_MISSING)
    source = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "iris.csv"
    try:
        bundled = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(
            f"cannot read scikit-learn's iris data {source} ({exc.strerror or exc}): "
            "reinstall scikit-learn, or start from --starter blank"
        ) from None
    return iris_csv(bundled)


def _check_folder_name(name: str) -> None:
    if "/" in name or "\\" in name:
        raise CliError(
            f"NAME {name!r} is a path: give the project folder's name, "
            "and the folder to make it in with --directory"
        )
    if not _FOLDER_NAME.fullmatch(name) or name != name.strip():
        raise CliError(
            f"NAME {name!r} is not a usable folder name: start with a letter or digit, "
            "then use letters, digits, '-', '_', '.' and spaces"
        )


def _package(name: str, explicit: str | None) -> str:
    package = explicit if explicit is not None else default_package(name)
    origin = "" if explicit is not None else f" (made from NAME {name!r})"
    if not _IDENTIFIER.fullmatch(package):
        raise CliError(
            f"package name {package!r}{origin} is not a Python identifier: "
            f"choose one with --package, e.g. --package {_suggest(package)}"
        )
    if keyword.iskeyword(package):
        raise CliError(
            f"package name {package!r}{origin} is a Python keyword: choose another with --package"
        )
    if package in _TAKEN or package in sys.stdlib_module_names:
        raise CliError(
            f"package name {package!r}{origin} would hide the module {package} "
            "that the project imports: choose another with --package"
        )
    return package


def _suggest(package: str) -> str:
    cleaned = re.sub(r"\W+", "_", package, flags=re.ASCII).strip("_") or "project"
    return f"project_{cleaned}" if cleaned[0].isdigit() else cleaned


def _check_target(root: Path, force: bool) -> None:
    if root.exists() and not root.is_dir():
        raise CliError(f"{root} exists and is not a folder: choose another NAME or --directory")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise CliError(
            f"folder {root} already exists and is not empty: choose another NAME or "
            "--directory, or pass --force to write the starter's files into it"
        )


def _write_project(
    root: Path, starter: str, *, name: str, package: str, iris: str | None
) -> list[str]:
    """Write the project's files; return their paths relative to ``root``."""
    files: dict[str, str] = {}
    for template_path, source in template_files(starter).items():
        text = source.read_text(encoding="utf-8")
        files[render_path(template_path, package)] = render_text(text, name=name, package=package)
    for layer in DATA_LAYERS:
        files[f"data/{layer}/.gitkeep"] = ""
    if iris is not None:
        files[IRIS_FILE] = iris
    for relative, text in files.items():
        path = root / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
    return sorted(files)


def _report(root: Path, starter: str, package: str, made: list[str]) -> None:
    from rich.markup import escape

    from tane.cli._render import console

    pipelines = sorted(
        {
            parts[3]
            for parts in (p.split("/") for p in made)
            if parts[:3] == ["src", package, "pipelines"] and len(parts) == 5
        }
    )
    described = [
        ("tane.yaml", "the project: name, package, the pipelines `tane run` runs"),
        ("conf/config.yaml", "the parameters of the nodes"),
        ("conf/catalog.yaml", "the datasets: where each is stored, in which format"),
        ("conf/local/", "secrets: never committed, never logged"),
        ("data/", "one folder a data layer, 01_raw to 08_reporting; not committed"),
    ]
    if IRIS_FILE in made:
        described.append((IRIS_FILE, "150 iris flowers, from scikit-learn"))
    described += [
        (f"src/{package}/pipelines/", ", ".join(pipelines)),
        ("tests/", "the tests of the project"),
        ("notebooks/README.md", "the catalog and the pipelines in a notebook"),
        ("README.md", "what the project is, its commands"),
    ]
    steps = [(f"cd {shlex.quote(_shown(root))}", "")]
    if starter == "blank":
        steps += [
            (
                f"src/{package}/pipelines/{pipelines[0]}/nodes.py",
                "write the nodes there, then join them in pipeline.py next to it",
            ),
            ("tane pipeline show", "the nodes and the datasets between them"),
            ("tane run", "run the pipeline; the run is recorded"),
        ]
    else:
        steps += [
            ("tane run", "run the pipelines; the run and its metrics are recorded"),
            ("tane run", "again: nothing changed, so every node is cached"),
            ("tane pipeline show", "the nodes and the datasets between them"),
            ("tane runs ls", "the recorded runs and their metrics"),
        ]
    steps.append(("python -m pytest tests", "the tests of the project"))

    out = console()
    out.print(
        f"Created [bold]{escape(root.name)}[/bold] from the {starter} starter "
        f"({len(made)} files) in {escape(str(root.resolve().parent))}"
    )
    _print_rows(out, described, "cyan")
    out.print()
    out.print("Next:")
    _print_rows(out, steps, "bold")


def _print_rows(out: Console, rows: list[tuple[str, str]], style: str) -> None:
    """Print two aligned columns, indented, without trailing spaces (for copy and paste)."""
    from rich.markup import escape

    width = max(len(first) for first, _ in rows)
    for first, second in rows:
        gap = f"{' ' * (width - len(first))}  [dim]{escape(second)}[/dim]" if second else ""
        out.print(f"  [{style}]{escape(first)}[/{style}]{gap}", soft_wrap=True)


def _shown(root: Path) -> str:
    """Return ``root`` as the user would type it: relative to the cwd if inside it."""
    try:
        relative = os.path.relpath(root.resolve())
    except ValueError:  # another drive on Windows
        return str(root.resolve())
    return str(root.resolve()) if relative.startswith("..") else relative
