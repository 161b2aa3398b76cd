"""``tane new``: scaffold a project from a starter, and the project works."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result

import tane
from tane.cli import new as new_module
from tane.pipeline import Pipeline

Invoke = Callable[..., Result]

LAYERS = [
    "01_raw",
    "02_intermediate",
    "03_primary",
    "04_feature",
    "05_model_input",
    "06_models",
    "07_model_output",
    "08_reporting",
]
COMMON = {
    ".gitignore",
    "README.md",
    "pyproject.toml",
    "tane.yaml",
    "conf/config.yaml",
    "conf/catalog.yaml",
    "conf/local/credentials.yaml",
    "notebooks/README.md",
    "src/myproj/__init__.py",
    "src/myproj/pipelines/__init__.py",
    "src/myproj/pipelines/data_processing/__init__.py",
    "src/myproj/pipelines/data_processing/nodes.py",
    "src/myproj/pipelines/data_processing/pipeline.py",
    "tests/conftest.py",
    *(f"data/{layer}/.gitkeep" for layer in LAYERS),
}
IRIS_ONLY = {
    "data/01_raw/iris.csv",
    "src/myproj/pipelines/data_science/__init__.py",
    "src/myproj/pipelines/data_science/nodes.py",
    "src/myproj/pipelines/data_science/pipeline.py",
    "tests/test_nodes.py",
}


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("TANE_")}


def _make(parent: Path, *args: str) -> Path:
    from click.testing import CliRunner

    from tane.cli import main

    result = CliRunner().invoke(
        main, ["new", "myproj", "--directory", str(parent), *args], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return parent / "myproj"


@pytest.fixture(scope="module")
def iris_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One iris project for the tests that only read it (making one takes a moment)."""
    return _make(tmp_path_factory.mktemp("iris"))


@pytest.fixture(scope="module")
def blank_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make(tmp_path_factory.mktemp("blank"), "--starter", "blank")


def test_iris_project_has_the_layout(cli: Invoke, tmp_path: Path) -> None:
    result = cli("new", "myproj", "--directory", str(tmp_path))
    assert result.exit_code == 0, result.output
    root = tmp_path / "myproj"
    assert _tree(root) == COMMON | IRIS_ONLY
    settings = _yaml(root / "tane.yaml")
    assert settings == {
        "name": "myproj",
        "package": "myproj",
        "pipelines": {"__default__": ["data_processing", "data_science"]},
    }
    assert "# store: .tane" in (root / "tane.yaml").read_text(encoding="utf-8")
    assert _yaml(root / "conf" / "config.yaml") == {
        "defaults": ["_self_"],
        "preprocess": {"contamination": 0.05, "random_state": 0},
        "split": {"test_size": 0.2, "random_state": 42},
        "model": {
            "learning_rate": 0.1,
            "n_estimators": 100,
            "num_leaves": 15,
            "min_child_samples": 5,
            "random_state": 42,
        },
    }
    catalog = _yaml(root / "conf" / "catalog.yaml")
    assert {name: (e["type"], e["filepath"], e["layer"]) for name, e in catalog.items()} == {
        "raw_iris": ("pandas.CSVDataset", "data/01_raw/iris.csv", "raw"),
        "preprocessed_iris": (
            "pandas.CSVDataset",
            "data/03_primary/preprocessed_iris.csv",
            "primary",
        ),
        "model_input_table": (
            "pandas.CSVDataset",
            "data/05_model_input/model_input_table.csv",
            "model_input",
        ),
        "classifier": ("pickle.PickleDataset", "data/06_models/classifier.pkl", "models"),
        "metrics": ("json.JSONDataset", "data/08_reporting/metrics.json", "reporting"),
    }
    assert [n for n, e in catalog.items() if e.get("versioned")] == ["classifier"]
    assert _yaml(root / "conf" / "local" / "credentials.yaml") == {}
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8").splitlines()
    assert 'name = "myproj"' in pyproject
    assert 'where = ["src"]' in pyproject

    out = result.output
    assert f"Created myproj from the iris starter ({len(COMMON | IRIS_ONLY)} files)" in out
    assert "data_processing, data_science" in out
    commands = [line.strip().split("  ")[0] for line in out.split("Next:")[1].splitlines()]
    assert [c for c in commands if c] == [
        "cd myproj",
        "tane run",
        "tane run",
        "tane pipeline show",
        "tane runs ls",
        "python -m pytest tests",
    ]


def test_cd_is_relative_inside_the_cwd(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = cli("new", "my proj", "--starter", "blank")  # the cli fixture's cwd is tmp_path
    assert result.exit_code == 0, result.output
    assert (tmp_path / "my proj" / "tane.yaml").is_file()
    assert "\n  cd 'my proj'\n" in result.output
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    result = cli("new", "other", "--starter", "blank", "-d", str(tmp_path / "elsewhere"))
    assert result.exit_code == 0, result.output
    assert f"\n  cd {tmp_path / 'elsewhere' / 'other'}\n" in result.output


def test_iris_csv_is_the_iris_data(iris_project: Path) -> None:
    lines = (iris_project / "data" / "01_raw" / "iris.csv").read_text("utf-8").splitlines()
    assert lines[0] == "sepal_length,sepal_width,petal_length,petal_width,species"
    assert len(lines) == 151
    assert lines[1] == "5.1,3.5,1.4,0.2,setosa"
    assert Counter(line.rsplit(",", 1)[1] for line in lines[1:]) == {
        "setosa": 50,
        "versicolor": 50,
        "virginica": 50,
    }


def test_gitignore_keeps_the_layer_folders_but_not_data_or_secrets(
    iris_project: Path, tmp_path: Path
) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    project = tmp_path / "myproj"
    shutil.copytree(iris_project, project)
    for made in (".tane/runs.db", "src/myproj/__pycache__/nodes.pyc", "data/06_models/m.pkl"):
        (project / made).parent.mkdir(parents=True, exist_ok=True)
        (project / made).write_text("", encoding="utf-8")
    subprocess.run([git, "init", "-q"], cwd=project, check=True, timeout=30)
    status = subprocess.run(
        [git, "status", "--porcelain", "--untracked-files=all"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    tracked = {line.removeprefix("?? ") for line in status.splitlines()}
    assert tracked == (COMMON | IRIS_ONLY) - {"data/01_raw/iris.csv", "conf/local/credentials.yaml"}


@pytest.mark.parametrize("starter", ["iris", "blank"])
def test_no_template_token_is_left(cli: Invoke, tmp_path: Path, starter: str) -> None:
    result = cli("new", "Iris Lab", "--directory", str(tmp_path), "--starter", starter)
    assert result.exit_code == 0, result.output
    root = tmp_path / "Iris Lab"
    for path in root.rglob("*"):
        relative = path.relative_to(root).as_posix()
        assert "__package__" not in relative
        assert not relative.endswith(".tmpl")
        assert "__pycache__" not in relative
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            for token in ("{{", "}}", "__package__"):
                assert token not in text, f"{relative} has {token}"
    assert not (root / "gitignore").exists()
    assert (root / "src" / "iris_lab" / "pipelines" / "data_processing" / "pipeline.py").is_file()
    assert _yaml(root / "tane.yaml")["name"] == "Iris Lab"
    assert _yaml(root / "tane.yaml")["package"] == "iris_lab"
    assert 'name = "iris_lab"' in (root / "pyproject.toml").read_text("utf-8").splitlines()
    assert "from iris_lab.pipelines" in (root / "notebooks" / "README.md").read_text("utf-8")
    assert (root / "README.md").read_text("utf-8").startswith("# Iris Lab\n")


def test_package_option(cli: Invoke, tmp_path: Path) -> None:
    result = cli("new", "myproj", "-d", str(tmp_path), "--package", "flowers")
    assert result.exit_code == 0, result.output
    root = tmp_path / "myproj"
    assert (root / "src" / "flowers" / "pipelines" / "data_science" / "nodes.py").is_file()
    assert not (root / "src" / "myproj").exists()
    assert _yaml(root / "tane.yaml")["package"] == "flowers"
    assert "from flowers.pipelines.data_science.nodes import" in (
        root / "tests" / "test_nodes.py"
    ).read_text("utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["2024-iris"],
            "package name '2024_iris' (made from NAME '2024-iris') is not a Python identifier: "
            "choose one with --package, e.g. --package project_2024_iris",
        ),
        (["iris.lab"], "choose one with --package, e.g. --package iris_lab"),
        (["myproj", "--package", "my-pkg"], "package name 'my-pkg' is not a Python identifier"),
        (["class"], "package name 'class' (made from NAME 'class') is a Python keyword"),
        (["json"], "would hide the module json that the project imports: choose another with"),
        (["myproj", "--package", "tane"], "package name 'tane' would hide the module tane"),
        (["a/b"], "NAME 'a/b' is a path: give the project folder's name, and the folder"),
        ([".hidden"], "NAME '.hidden' is not a usable folder name: start with a letter or digit"),
    ],
)
def test_bad_names_are_refused(cli: Invoke, tmp_path: Path, args: list[str], message: str) -> None:
    before = _tree(tmp_path)
    result = cli("new", *args, "--directory", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert result.output.startswith("Error: ")
    assert not (tmp_path / "out").exists()
    assert _tree(tmp_path) == before


def test_refuses_a_folder_that_is_not_empty(cli: Invoke, tmp_path: Path) -> None:
    root = tmp_path / "myproj"
    root.mkdir()
    (root / "notes.txt").write_text("mine", encoding="utf-8")
    result = cli("new", "myproj", "--directory", str(tmp_path))
    assert result.exit_code == 1
    assert f"folder {root} already exists and is not empty" in " ".join(result.output.split())
    assert "--force" in result.output
    assert _tree(root) == {"notes.txt"}

    (tmp_path / "empty").mkdir()
    assert cli("new", "empty", "--directory", str(tmp_path)).exit_code == 0
    (tmp_path / "file").write_text("", encoding="utf-8")
    result = cli("new", "file", "--directory", str(tmp_path))
    assert result.exit_code == 1
    assert "exists and is not a folder" in result.output


def test_force_writes_into_the_folder(cli: Invoke, tmp_path: Path) -> None:
    root = tmp_path / "myproj"
    root.mkdir()
    (root / "notes.txt").write_text("mine", encoding="utf-8")
    (root / "tane.yaml").write_text("name: old\n", encoding="utf-8")
    result = cli("new", "myproj", "--directory", str(tmp_path), "--force")
    assert result.exit_code == 0, result.output
    assert _tree(root) == COMMON | IRIS_ONLY | {"notes.txt"}
    assert (root / "notes.txt").read_text("utf-8") == "mine"
    assert _yaml(root / "tane.yaml")["name"] == "myproj"


def test_blank_starter(cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(new_module, "find_spec", lambda name: None)  # needs no scikit-learn
    result = cli("new", "myproj", "--directory", str(tmp_path), "--starter", "blank")
    assert result.exit_code == 0, result.output
    root = tmp_path / "myproj"
    assert _tree(root) == COMMON | {"tests/test_pipelines.py"}
    assert _yaml(root / "tane.yaml")["pipelines"] == {"__default__": ["data_processing"]}
    assert _yaml(root / "conf" / "catalog.yaml") == {}
    assert _yaml(root / "conf" / "config.yaml") == {"defaults": ["_self_"]}
    assert "Created myproj from the blank starter" in result.output
    assert "src/myproj/pipelines/data_processing/nodes.py" in result.output
    assert "tane runs ls" not in result.output


def test_iris_without_scikit_learn(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def no_sklearn(name: str) -> None:
        asked.append(name)

    monkeypatch.setattr(new_module, "find_spec", no_sklearn)
    result = cli("new", "myproj", "--directory", str(tmp_path))
    assert result.exit_code == 1
    assert result.output == (
        "Error: the iris starter needs scikit-learn: pip install 'tane[demo]'\n"
    )
    assert asked == ["sklearn"]
    assert not (tmp_path / "myproj").exists()


def test_iris_csv_rejects_an_unknown_format() -> None:
    with pytest.raises(new_module.CliError, match="not in the format tane knows"):
        new_module.iris_csv("sepal length,sepal width\n5.1,3.5\n")
    assert new_module.iris_csv("2,4,a,b\n1,2,3,4,0\n5,6,7,8,1\n").splitlines() == [
        "sepal_length,sepal_width,petal_length,petal_width,species",
        "1,2,3,4,a",
        "5,6,7,8,b",
    ]


def _pytest(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", "tests"],
        cwd=project,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_generated_tests_pass(iris_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "myproj"
    shutil.copytree(iris_project, project)
    done = _pytest(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout
    assert not (project / ".tane").exists()  # the tests log to their own store
    assert not (project / "data" / "03_primary" / "preprocessed_iris.csv").exists()


def test_the_blank_tests_pass(blank_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "myproj"
    shutil.copytree(blank_project, project)
    done = _pytest(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


@pytest.mark.parametrize("starter", ["iris", "blank"])
def test_the_generated_code_is_lint_clean(request: pytest.FixtureRequest, starter: str) -> None:
    project: Path = request.getfixturevalue(f"{starter}_project")
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.is_file():
        pytest.skip("ruff is not installed next to this Python")
    done = subprocess.run(
        [
            str(ruff),
            "check",
            "--no-cache",
            "--isolated",
            "--target-version",
            "py310",
            "--line-length",
            "100",
            "--select",
            "E,F,W,I,B,UP,SIM,C4,RUF,PT,PIE,RET",
            ".",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run(
        [str(ruff), "format", "--no-cache", "--isolated", "--line-length", "100", "--check", "."],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("starter", ["iris", "blank"])
def test_the_pipelines_build(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starter: str
) -> None:
    """The generated pipeline.py modules build with tane's own Pipeline and node."""
    result = cli("new", "Flowerpipes", "--directory", str(tmp_path), "--starter", starter)
    assert result.exit_code == 0, result.output
    monkeypatch.syspath_prepend(str(tmp_path / "Flowerpipes" / "src"))
    built = {}
    try:
        for name in _yaml(tmp_path / "Flowerpipes" / "tane.yaml")["pipelines"]["__default__"]:
            module = importlib.import_module(f"flowerpipes.pipelines.{name}.pipeline")
            built[name] = module.create_pipeline()
            assert isinstance(built[name], Pipeline)
    finally:
        for name in [m for m in sys.modules if m.partition(".")[0] == "flowerpipes"]:
            del sys.modules[name]
    if starter == "blank":
        assert [len(p) for p in built.values()] == [0]
        return
    processing, science = built["data_processing"], built["data_science"]
    assert [n.name for n in processing.nodes] == ["preprocess", "create_model_input"]
    assert [n.name for n in science.nodes] == ["split_data", "train_model", "evaluate_model"]
    assert {n.name: sorted(n.tags) for n in (processing + science).nodes} == {
        "preprocess": ["preprocessing"],
        "create_model_input": ["preprocessing"],
        "split_data": ["training"],
        "train_model": ["training"],
        "evaluate_model": ["evaluation"],
    }
    whole = processing + science
    assert whole.inputs() == {"raw_iris", "params:preprocess", "params:split", "params:model"}
    catalog = _yaml(tmp_path / "Flowerpipes" / "conf" / "catalog.yaml")
    in_memory = whole.datasets() - set(catalog)
    assert in_memory == {"X_train", "X_test", "y_train", "y_test"}


def test_tane_run_runs_the_iris_project(iris_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "myproj"
    shutil.copytree(iris_project, project)
    for attempt in ("first", "cached"):
        done = subprocess.run(
            [sys.executable, "-m", "tane", "run"],
            cwd=project,
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{attempt} run:\n{done.stdout}{done.stderr}"
    metrics = json.loads((project / "data" / "08_reporting" / "metrics.json").read_text("utf-8"))
    assert metrics["accuracy"] > 0.8
    assert (project / "data" / "05_model_input" / "model_input_table.csv").is_file()
    assert {p.name for p in (project / "data" / "06_models").rglob("*")} > {".gitkeep"}
    runs = tane.Client(str(project / ".tane")).search_runs(order_by=["attributes.start_time"])
    assert len(runs) == 2
    assert runs[0].metrics["accuracy"] == pytest.approx(metrics["accuracy"])
