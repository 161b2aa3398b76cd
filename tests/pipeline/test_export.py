"""`tane export airflow|kubeflow`: the DAG loads in a real Airflow 3, the pipeline compiles with
the real kfp, and the tasks' commands run the pipeline end to end.

Airflow and kfp are not dependencies of tane: the slow tests make a virtualenv for each
once (in TANE_TEST_VENVS, default ~/.cache/tane-test-venvs) and reuse it afterwards.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from filelock import FileLock

from tane.cli import main
from tane.errors import PipelineError
from tane.pipeline import DataCatalog, Pipeline, node, pipeline
from tane.pipeline.datasets import MemoryDataset
from tane.pipeline.export import RunCommand, airflow_dag, plan_tasks, task_id

PKG = "export_demo"

PIPELINE = """
from tane.pipeline import Pipeline, node, pipeline


def load(raw):
    return [int(x) for x in raw]


def scale(numbers, factor):
    return [x * factor for x in numbers]


def total(values):
    return sum(values)


def count(values):
    return len(values)


def mean(total, count):
    return total / count


def report(scaled, mean):
    return {"scaled": scaled, "mean": mean}


def create_pipeline(**kwargs):
    stats = pipeline(
        [
            node(total, "values", "total", name="total"),
            node(count, "values", "count", name="count"),
            node(mean, ["total", "count"], "mean", name="mean"),
        ],
        namespace="stats",
        inputs={"values": "scaled"},
        outputs={"mean": "mean_value"},
    )
    return Pipeline(
        [
            node(load, "raw", "numbers", name="load"),
            node(scale, ["numbers", "params:factor"], "scaled", name="Scale Up!"),
            stats,
            node(report, ["scaled", "mean_value"], "summary", name="report"),
        ]
    )
"""

#: The memory datasets of PIPELINE that pass between tasks when each node is a task.
CROSSING = ["mean_value", "numbers", "scaled", "stats.count", "stats.total"]


def make_project(root: Path) -> Path:
    """A project whose pipeline `main` passes five memory datasets between its six nodes."""
    code = root / "src" / PKG / "pipelines" / "main"
    code.mkdir(parents=True)
    for folder in (root / "src" / PKG, code.parent, code):
        (folder / "__init__.py").write_text("")
    (code / "pipeline.py").write_text(PIPELINE)
    (root / "data").mkdir()
    (root / "data" / "raw.json").write_text("[1, 2, 3, 4]")
    (root / "conf").mkdir()
    (root / "conf" / "config.yaml").write_text("factor: 3\n")
    (root / "conf" / "catalog.yaml").write_text(
        textwrap.dedent(
            """
            raw:
              type: json.JSONDataset
              filepath: data/raw.json
            summary:
              type: json.JSONDataset
              filepath: data/summary.json
            """
        )
    )
    (root / "tane.yaml").write_text(f"name: expo\npackage: {PKG}\n")
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_project(tmp_path / "proj")
    monkeypatch.chdir(root)
    monkeypatch.delenv("TANE_STORE")  # the tasks record in the project's own store
    return root


def tane(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def tane_fails(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 1, result.output
    return result.output


# -- the tasks ----------------------------------------------------------------------------------


def ident(x):
    return x


def join(a, b):
    return a + b


def test_tasks_follow_the_data_and_only_memory_datasets_need_intermediates() -> None:
    pipe = Pipeline(
        [
            node(ident, "raw", "clean", name="clean"),
            node(ident, "clean", "features", name="features"),
            node(ident, "features", "model", name="train"),
            node(join, ["model", "clean"], "report", name="evaluate"),
        ]
    )
    catalog = DataCatalog({"raw": MemoryDataset([1]), "model": MemoryDataset()})
    with pytest.raises(PipelineError) as caught:
        plan_tasks(pipe, catalog)
    message = str(caught.value)
    # "model" is a MemoryDataset of the catalog: a task cannot hand it on either.
    assert message.startswith(
        "memory datasets pass between tasks: 'clean' (clean -> features, clean -> evaluate), "
        "'features' (features -> train), 'model' (train -> evaluate); "
    )
    assert "--intermediates s3://bucket/prefix" in message and "catalog" in message

    tasks = plan_tasks(pipe, catalog, intermediates="s3://bucket/inter")
    assert [(t.id, t.nodes, t.upstream) for t in tasks] == [
        ("clean", ("clean",), ()),
        ("features", ("features",), ("clean",)),
        ("train", ("train",), ("features",)),
        ("evaluate", ("evaluate",), ("clean", "train")),
    ]
    # Datasets on disk need nothing: the names a catalog declares are enough.
    on_disk = {"raw", "clean", "features", "model", "report"}
    assert [t.id for t in plan_tasks(pipe, on_disk)] == ["clean", "features", "train", "evaluate"]


def test_grouping_by_namespace_makes_one_task_per_namespace() -> None:
    inner = pipeline(
        [node(ident, "x", "y", name="a"), node(ident, "y", "z", name="b")],
        namespace="prep",
        inputs={"x": "raw"},
        outputs={"z": "ready"},
    )
    pipe = Pipeline([inner, node(ident, "ready", "out", name="use")])
    # prep.y stays inside its task: only "ready" crosses.
    with pytest.raises(PipelineError, match=r"between tasks: 'ready' \(prep\.b -> use\);"):
        plan_tasks(pipe, {"raw", "out"}, group_by="namespace")
    tasks = plan_tasks(pipe, {"raw", "out", "ready"}, group_by="namespace")
    assert [(t.id, t.label, t.nodes, t.upstream) for t in tasks] == [
        ("prep", "prep", ("prep.a", "prep.b"), ()),
        ("use", "use", ("use",), ("prep",)),
    ]


def test_grouping_by_namespace_refuses_a_cycle_and_names_it() -> None:
    pipe = Pipeline(
        [
            node(ident, "raw", "eu.x", name="a", namespace="eu"),
            node(ident, "eu.x", "mid", name="outside"),
            node(ident, "mid", "eu.y", name="b", namespace="eu"),
        ]
    )
    with pytest.raises(PipelineError) as caught:
        plan_tasks(pipe, {"raw", "eu.x", "mid", "eu.y"}, group_by="namespace")
    assert "namespace 'eu' -> node 'outside' -> namespace 'eu'" in str(caught.value)
    assert "--group-by node" in str(caught.value)


def test_task_ids_are_valid_unique_and_readable() -> None:
    assert task_id("Scale Up!") == "scale_up"
    assert task_id("eu.train_model") == "eu_train_model"
    assert task_id("Café crème") == "cafe_creme"
    assert task_id("2nd pass") == "task_2nd_pass"
    assert task_id("訓練") == "task"
    names = ["Scale Up!", "scale-up", "dag", "pipeline", "if", "訓練", "学習", "x" * 300]
    pipe = Pipeline([node(ident, f"d{i}", f"d{i + 1}", name=name) for i, name in enumerate(names)])
    ids = [t.id for t in plan_tasks(pipe, {f"d{i}" for i in range(len(names) + 1)})]
    assert ids == [
        "scale_up",
        "scale_up_2",
        "dag_2",
        "pipeline_2",
        "if_2",
        "task",
        "task_2",
        "x" * 100,
    ]


def test_a_node_name_that_tane_run_cannot_select_is_refused() -> None:
    pipe = Pipeline([node(ident, "a", "b", name="one,two")])
    with pytest.raises(PipelineError, match="'one,two' cannot be selected with `tane run --nodes`"):
        plan_tasks(pipe, {"a", "b"})


def test_a_command_ending_like_a_template_file_is_not_read_as_one() -> None:
    pipe = Pipeline([node(ident, "a", "b", name="setup.sh")])
    source = airflow_dag(
        plan_tasks(pipe, {"a", "b"}),
        RunCommand("main"),
        dag_id="d",
        workdir="/srv/project",
    )
    assert 'bash_command="tane run --pipeline main --nodes setup.sh ",' in source


# -- the commands --------------------------------------------------------------------------------


def test_export_airflow_refuses_memory_datasets_without_intermediates(project: Path) -> None:
    out = tane_fails("export", "airflow", "--pipeline", "main", "-o", "dags/main.py")
    listed = out.split("memory datasets pass between tasks: ", 1)[1].split("; ", 1)[0]
    assert [part.split(" (")[0].strip("'") for part in listed.split("), ")] == CROSSING
    assert "pass --intermediates s3://bucket/prefix" in out
    assert not (project / "dags").exists()
    # Grouped by namespace, the namespace's own datasets stay in its task.
    out = tane_fails("export", "airflow", "-p", "main", "-o", "d.py", "--group-by", "namespace")
    assert "'stats.total'" not in out and "'scaled'" in out


def test_export_airflow_is_deterministic_and_says_how_to_regenerate(
    project: Path, tmp_path: Path
) -> None:
    args = ["export", "airflow", "-p", "main", "--intermediates", "s3://bucket/expo"]
    out = tane(*args, "-o", "dags/main.py", "--schedule", "@daily", "--retry-delay", "90")
    assert "Wrote dags/main.py: DAG expo_main with 6 tasks (load, scale_up, stats_total" in out
    first = (project / "dags" / "main.py").read_bytes()
    tane(*args, "-o", "dags/main.py", "--schedule", "@daily", "--retry-delay", "90")
    assert (project / "dags" / "main.py").read_bytes() == first
    text = first.decode("ascii")
    assert text.splitlines()[:3] == [
        "# Generated by `tane export airflow` from the tane pipeline 'main' of project 'expo'.",
        "# Do not edit: regenerate it in the project folder with",
        "#   tane export airflow --pipeline main -o dags/main.py --intermediates s3://bucket/expo"
        " --retry-delay 90 --schedule @daily",
    ]
    assert f"WORKDIR = {json.dumps(str(project.resolve()))}" in text
    assert 'default_args={"retries": 2, "retry_delay": timedelta(seconds=90)},' in text
    assert "bash_command=\"tane run --pipeline main --nodes 'Scale Up!' --intermediates" in text
    compile(text, "main.py", "exec")  # valid Python, whatever Airflow makes of it
    # Another workdir, a DAG id, an experiment and an environment reach every task.
    tane(*args, "-o", "other.py", "--dag-id", "nightly", "--workdir", "/srv/expo")
    text = (project / "other.py").read_text()
    assert 'WORKDIR = "/srv/expo"' in text and 'dag_id="nightly"' in text
    out = tane_fails(*args, "-o", "bad.py", "--dag-id", "my dag")
    assert "DAG id 'my dag'" in out and "'my_dag'" in out
    out = tane_fails(*args, "-o", "bad.py", "--workdir", "relative/path")
    assert "must be an absolute path" in out


def test_export_kubeflow_says_how_to_get_kfp(project: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare-venv"
    venv.create(bare, with_pip=False)
    args = ["export", "kubeflow", "-p", "main", "-o", "p.yaml", "--image", "img:1"]
    out = tane_fails(*args, "--intermediates", "/x", "--kfp-python", str(python_of(bare)))
    assert "kfp is not installed in" in out and "--kfp-python /path/to/venv/bin/python" in out
    if importlib.util.find_spec("kfp") is None:
        out = tane_fails(*args, "--intermediates", "/x")
        assert "`pip install kfp`" in out
    out = tane_fails(*args, "--kfp-python", str(python_of(bare)))
    assert "memory datasets pass between tasks" in out
    out = tane_fails(*args[:-4], "-o", "p.json", "--image", "img:1")
    assert "name the file .yaml" in out
    assert not (project / "p.yaml").exists()


# -- in the real Airflow and kfp ---------------------------------------------------------------


def python_of(env: Path) -> Path:
    return env / ("Scripts" if os.name == "nt" else "bin") / "python"


def cached_venv(name: str, requirement: str, probe: str) -> Path:
    """A virtualenv in the test venv cache with ``requirement`` installed, made once."""
    root = Path(os.environ.get("TANE_TEST_VENVS", Path.home() / ".cache" / "tane-test-venvs"))
    root.mkdir(parents=True, exist_ok=True)
    env = root / name
    python = python_of(env)
    with FileLock(str(root / f"{name}.lock")):
        if python.exists() and _runs(python, probe):
            return env
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(env)], check=True)
        pip = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement],
            capture_output=True,
            text=True,
            check=False,
        )
        if pip.returncode != 0 or not _runs(python, probe):
            pytest.fail(f"pip install {requirement!r} into {env} failed:\n{pip.stderr[-3000:]}")
    return env


def _runs(python: Path, code: str) -> bool:
    proc = subprocess.run([str(python), "-c", code], capture_output=True, check=False)
    return proc.returncode == 0


@pytest.fixture(scope="session")
def airflow_venv() -> Path:
    return cached_venv(
        "airflow-3",
        "apache-airflow>=3,<4",
        "import airflow, airflow.sdk; assert airflow.__version__.startswith('3.')",
    )


@pytest.fixture(scope="session")
def kfp_venv() -> Path:
    return cached_venv(
        "kfp", "kfp>=2,<3", "import kfp, kfp.compiler; assert kfp.__version__.startswith('2.')"
    )


LOAD_DAGS = """
import json, sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
dags = {}
for dag_id, dag in sorted(bag.dags.items()):
    dags[dag_id] = {
        "schedule": dag.schedule,
        "max_active_runs": dag.max_active_runs,
        "tasks": {
            t.task_id: {
                "type": type(t).__name__,
                "upstream": sorted(t.upstream_task_ids),
                "retries": t.retries,
                "retry_delay": t.retry_delay.total_seconds(),
                "bash_command": t.bash_command,
                "cwd": t.cwd,
            }
            for t in dag.tasks
        },
    }
with open(sys.argv[2], "w") as fh:
    json.dump({"errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dags": dags}, fh)
"""


def load_dags(airflow_venv: Path, folder: Path, tmp_path: Path) -> dict:
    """The DAGs of ``folder`` as Airflow 3 parses them, as plain data."""
    out = tmp_path / "dags.json"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(folder),
    }
    proc = subprocess.run(
        [str(python_of(airflow_venv)), "-c", LOAD_DAGS, str(folder), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(out.read_text())
    assert loaded["errors"] == {}
    return loaded["dags"]


def topological(tasks: dict) -> list[str]:
    order: list[str] = []
    while len(order) < len(tasks):
        ready = [t for t, v in tasks.items() if t not in order and set(v["upstream"]) <= set(order)]
        assert ready, f"a cycle among {sorted(set(tasks) - set(order))}"
        order.append(ready[0])
    return order


@pytest.mark.slow
def test_the_dag_loads_in_airflow_3_and_its_commands_run_the_pipeline(
    project: Path, tmp_path: Path, airflow_venv: Path
) -> None:
    inter = tmp_path / "intermediates"
    dags = tmp_path / "dags"
    common = ["-p", "main", "--intermediates", str(inter), "--experiment", "nightly"]
    tane("export", "airflow", *common, "-o", str(dags / "by_node.py"), "--retries", "3")
    tane(
        "export", "airflow", *common, "-o", str(dags / "by_namespace.py"),
        "--group-by", "namespace", "--dag-id", "expo_grouped", "--retry-delay", "30",
        "--schedule", "0 3 * * *",
    )  # fmt: skip
    loaded = load_dags(airflow_venv, dags, tmp_path)
    assert sorted(loaded) == ["expo_grouped", "expo_main"]

    def run(nodes: str) -> str:
        return (
            f"tane run --pipeline main --nodes {nodes} --intermediates {inter} --experiment nightly"
        )

    workdir = str(project.resolve())
    by_node = loaded["expo_main"]
    assert by_node["schedule"] is None and by_node["max_active_runs"] == 1
    assert by_node["tasks"] == {
        task: {
            "type": "BashOperator",
            "upstream": upstream,
            "retries": 3,
            "retry_delay": 300.0,  # Airflow's default
            "bash_command": run(nodes),
            "cwd": workdir,
        }
        for task, nodes, upstream in [
            ("load", "load", []),
            ("scale_up", "'Scale Up!'", ["load"]),
            ("stats_total", "stats.total", ["scale_up"]),
            ("stats_count", "stats.count", ["scale_up"]),
            ("stats_mean", "stats.mean", ["stats_count", "stats_total"]),
            ("report", "report", ["scale_up", "stats_mean"]),
        ]
    }
    grouped = loaded["expo_grouped"]
    assert grouped["schedule"] == "0 3 * * *"
    assert {t: (v["upstream"], v["bash_command"]) for t, v in grouped["tasks"].items()} == {
        "load": ([], run("load")),
        "scale_up": (["load"], run("'Scale Up!'")),
        "stats": (["scale_up"], run("stats.total,stats.count,stats.mean")),
        "report": (["scale_up", "stats"], run("report")),
    }
    assert {v["retries"] for v in grouped["tasks"].values()} == {2}
    assert {v["retry_delay"] for v in grouped["tasks"].values()} == {30.0}

    # What Airflow would run, task after task, each its own process: the pipeline's result.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for name in topological(by_node["tasks"]):
        task = by_node["tasks"][name]
        proc = subprocess.run(
            ["bash", "-c", task["bash_command"]],
            cwd=task["cwd"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, f"{name}: {proc.stdout}\n{proc.stderr}"
    summary = json.loads((project / "data" / "summary.json").read_text())
    assert summary == {"scaled": [3, 6, 9, 12], "mean": 7.5}
    assert sorted(p.name for p in inter.iterdir()) == [f"{name}.pkl" for name in CROSSING]


@pytest.mark.slow
def test_the_kubeflow_pipeline_compiles_with_kfp(
    project: Path, tmp_path: Path, kfp_venv: Path
) -> None:
    out = tane(
        "export", "kubeflow", "-p", "main", "-o", "kfp/main.yaml",
        "--image", "registry.example.com/expo:1.0", "--intermediates", "s3://bucket/expo",
        "--retries", "4", "--kfp-python", str(python_of(kfp_venv)),
        "--dsl", "kfp/main_dsl.py", "--group-by", "namespace",
    )  # fmt: skip
    assert "Wrote kfp/main.yaml: Kubeflow pipeline expo-main with 4 tasks" in out
    spec = yaml.safe_load((project / "kfp" / "main.yaml").read_text())
    assert spec["pipelineInfo"]["name"] == "expo-main"
    executors = spec["deploymentSpec"]["executors"]
    args = {name.removeprefix("exec-"): e["container"]["args"] for name, e in executors.items()}
    run = ["run", "--pipeline", "main", "--nodes"]
    assert args == {
        "load": [*run, "load", "--intermediates", "s3://bucket/expo"],
        "scale-up": [*run, "Scale Up!", "--intermediates", "s3://bucket/expo"],
        "stats": [
            *run,
            "stats.total,stats.count,stats.mean",
            "--intermediates",
            "s3://bucket/expo",
        ],
        "report": [*run, "report", "--intermediates", "s3://bucket/expo"],
    }
    for e in executors.values():
        assert e["container"]["image"] == "registry.example.com/expo:1.0"
        assert e["container"]["command"] == ["tane"]
    tasks = spec["root"]["dag"]["tasks"]
    assert {name: t.get("dependentTasks", []) for name, t in tasks.items()} == {
        "load": [],
        "scale-up": ["load"],
        "stats": ["scale-up"],
        "report": ["scale-up", "stats"],
    }
    assert {t["retryPolicy"]["maxRetryCount"] for t in tasks.values()} == {4}
    # tane's cache decides; Kubeflow's must not skip a task that has no inputs.
    assert all(not t["cachingOptions"].get("enableCache") for t in tasks.values())
    assert tasks["scale-up"]["taskInfo"]["name"] == "Scale Up!"
    assert tasks["scale-up"]["componentRef"]["name"] == "comp-scale-up"

    dsl = (project / "kfp" / "main_dsl.py").read_text()
    assert dsl.startswith("# Generated by `tane export kubeflow` from the tane pipeline 'main'")
    assert "#   tane export kubeflow --pipeline main -o kfp/main.yaml --image" in dsl
    before = (project / "kfp" / "main.yaml").read_bytes()
    subprocess.run(
        [str(python_of(kfp_venv)), "kfp/main_dsl.py", str(tmp_path / "again.yaml")], check=True
    )
    assert (tmp_path / "again.yaml").read_bytes() == before
