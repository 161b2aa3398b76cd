"""`tane run --runner ray` against a real local Ray instance (2 CPUs, started once per session)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tane.cli import main
from tane.cluster import RayCluster, RayValue, is_local_store, runtime_env_for
from tane.errors import InvalidInput
from tane.tracking.client import Client

pytestmark = pytest.mark.slow

NODES = """
import os
from pathlib import Path

import tane


def make(raw, factor):
    # Runs in a Ray worker: its cwd is the project sent as working_dir.
    return {"values": [x * factor for x in raw], "pid": os.getpid(), "cwd": os.getcwd()}


def left(made):
    return sum(made["values"])


def right(made):
    return max(made["values"])


def join(a, b, marker):
    attempts = Path(marker)
    count = int(attempts.read_text()) if attempts.exists() else 0
    attempts.write_text(str(count + 1))
    if count == 0:
        raise RuntimeError("first attempt fails on purpose")
    tane.log_metric("total", a + b)
    return {"total": a + b}


def big(made):
    return made


def broken(made):
    raise ValueError("the data is wrong: " + str(len(made["values"])))


def die_once(raw, marker):
    # The worker process dies on the first attempt: Ray runs the task again.
    done = Path(marker + ".died")
    if not done.exists():
        done.write_text(str(os.getpid()))
        os._exit(1)
    return {"pid": os.getpid(), "died": int(done.read_text())}


def fit(alpha):
    tane.log_metric("pid", os.getpid())
    for step in range(6):
        tane.log_metric("loss", (alpha - 0.3) ** 2 + 1.0 / (step + 1), step=step)
        if tane.should_prune("loss"):
            raise tane.TrialPruned()
    tane.log_metric("objective", (alpha - 0.3) ** 2)
    return (alpha - 0.3) ** 2
"""

PIPELINE = """
from tane.pipeline import Pipeline, node

from {pkg}.nodes import big, broken, die_once, fit, join, left, make, right


def create_pipeline(**kwargs):
    return Pipeline(
        [
            node(make, ["raw", "params:factor"], "made", name="make"),
            node(left, "made", "a", name="left", resources={{"num_cpus": 2}}),
            node(right, "made", "b", name="right"),
            node(join, ["a", "b", "params:marker"], "summary", name="join", retries=1),
        ]
    )


def gpu_pipeline(**kwargs):
    return Pipeline([node(big, "raw", "out", name="train", resources={{"num_gpus": 1}})])


def crash_pipeline(**kwargs):
    return Pipeline(
        [node(die_once, ["raw", "params:marker"], "survivor", name="die_once", retries=1)]
    )


def fit_pipeline(**kwargs):
    return Pipeline([node(fit, "params:alpha", "objective", name="fit")])


def broken_pipeline(**kwargs):
    return Pipeline(
        [
            node(make, ["raw", "params:factor"], "made", name="make"),
            node(broken, "made", "out", name="broken"),
        ]
    )
"""


def make_project(root: Path, pkg: str = "raypkg") -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.json").write_text("[1, 2, 3]")
    (root / "tane.yaml").write_text(
        textwrap.dedent(
            f"""
            name: raydemo
            package: {pkg}
            pipelines:
              __default__: {pkg}.pipeline:create_pipeline
              gpu: {pkg}.pipeline:gpu_pipeline
              broken: {pkg}.pipeline:broken_pipeline
              fit: {pkg}.pipeline:fit_pipeline
              crash: {pkg}.pipeline:crash_pipeline
            """
        )
    )
    code = root / "src" / pkg
    code.mkdir(parents=True)
    (code / "__init__.py").write_text("")
    (code / "nodes.py").write_text(textwrap.dedent(NODES))
    (code / "pipeline.py").write_text(textwrap.dedent(PIPELINE.format(pkg=pkg)))
    (root / "conf").mkdir()
    (root / "conf" / "catalog.yaml").write_text(
        "raw:\n  type: json.JSONDataset\n  filepath: data/raw.json\n"
        "summary:\n  type: json.JSONDataset\n  filepath: data/summary.json\n"
    )
    (root / "conf" / "config.yaml").write_text(
        f"factor: 2\nalpha: 0.5\nmarker: {root / 'attempts.txt'}\n"
    )
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_project(tmp_path / "proj")
    monkeypatch.chdir(root)
    monkeypatch.setenv("TANE_STORE", str(root / ".tane"))
    return root


def tane(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_nodes_run_as_ray_tasks_cache_and_record_to_the_same_store(
    project: Path, ray_address: str
) -> None:
    result = tane("run", "--runner", "ray", "--address", ray_address)
    assert result.exit_code == 0, result.output
    assert json.loads((project / "data" / "summary.json").read_text()) == {"total": 18}
    # join failed once and was retried in its task.
    assert (project / "attempts.txt").read_text() == "2"

    client = Client()
    (run,) = client.search_runs()
    assert run.status.value == "FINISHED"
    assert run.metrics["total"] == 18.0  # logged by the node in a Ray worker
    with client.store.open_artifact(run.id, "pipeline.json") as fh:
        nodes = {n["name"]: n for n in json.load(fh)["nodes"]}
    assert {n: nodes[n]["status"] for n in nodes} == dict.fromkeys(
        ["make", "left", "right", "join"], "ran"
    )
    assert nodes["join"]["attempts"] == 2

    again = tane("run", "--runner", "ray", "--address", ray_address)
    assert again.exit_code == 0, again.output
    assert "0 ran, 4 cached" in again.output
    changed = tane("run", "--runner", "ray", "--address", ray_address, "factor=3")
    assert changed.exit_code == 0, changed.output
    assert json.loads((project / "data" / "summary.json").read_text()) == {"total": 27}


def test_memory_datasets_stay_in_the_object_store(project: Path, ray_address: str) -> None:
    from tane.pipeline.catalog import DataCatalog
    from tane.pipeline.datasets.json import JSONDataset
    from tane.pipeline.runner import NullObserver, run
    from tane.pipeline.session import PipelineProject

    project_obj = PipelineProject.find(project)
    pipe = project_obj.pipeline().filter(node_names=["make", "left", "right"])
    catalog = DataCatalog()
    catalog.add("raw", JSONDataset(str(project / "data" / "raw.json")))
    seen: dict[str, Any] = {}

    class Watch(NullObserver):
        def node_finished(self, node: Any, result: Any, outputs: Mapping[str, Any] | None) -> None:
            seen.update(outputs or {})

    with RayCluster.connect(ray_address, project_root=project) as cluster:
        assert cluster.runtime_env["working_dir"] == str(project)
        assert cluster.runtime_env["py_modules"] == [str(project / "src" / "raypkg")]
        result = run(
            pipe,
            catalog,
            params={"factor": 1},
            runner="ray",
            observers=[Watch()],
            cluster=cluster,
        )
        # The driver held references, never the values, while the nodes ran.
        assert {name: type(v) for name, v in seen.items()} == dict.fromkeys(
            ["made", "a", "b"], RayValue
        )
        made = seen["made"].fetch()
    assert made["values"] == [1, 2, 3]
    assert made["pid"] != __import__("os").getpid()
    assert result.outputs == {"a": 6, "b": 3}  # free outputs come back


def test_a_node_no_machine_can_hold_is_refused_before_submission(
    project: Path, ray_address: str
) -> None:
    result = CliRunner().invoke(
        main, ["run", "--runner", "ray", "--address", ray_address, "-p", "gpu"]
    )
    assert result.exit_code == 1
    assert "node 'train' asks for num_gpus=1, which no machine of the Ray cluster has" in (
        result.output
    )
    assert "CPU 2" in result.output
    assert Client().search_runs() == []  # nothing recorded, nothing submitted


def test_a_failing_node_fails_the_run_with_its_remote_traceback(
    project: Path, ray_address: str
) -> None:
    result = CliRunner().invoke(
        main, ["run", "--runner", "ray", "--address", ray_address, "-p", "broken"]
    )
    assert result.exit_code == 1
    assert "node 'broken' failed: ValueError: the data is wrong: 3" in result.output
    (run,) = Client().search_runs()
    assert run.status.value == "FAILED"
    shown = tane("runs", "show", run.id, "--traceback")
    assert 'raise ValueError("the data is wrong: "' in shown.output  # the worker's frame


def test_persisted_datasets_go_through_fsspec_from_the_workers(
    project: Path, ray_address: str, moto_endpoint: str
) -> None:
    import uuid

    import s3fs

    credentials = {
        "key": "ray-key",
        "secret": "ray-secret",
        "client_kwargs": {"endpoint_url": moto_endpoint},
    }
    fs = s3fs.S3FileSystem(**credentials)
    bucket = f"tane-ray-{uuid.uuid4().hex[:8]}"
    fs.mkdir(bucket)
    (project / "conf" / "local").mkdir()
    (project / "conf" / "local" / "credentials.yaml").write_text(
        f"s3:\n  key: ray-key\n  secret: ray-secret\n"
        f"  client_kwargs:\n    endpoint_url: {moto_endpoint}\n"
    )
    (project / "conf" / "catalog.yaml").write_text(
        (project / "conf" / "catalog.yaml").read_text()
        + f"made:\n  type: pickle.PickleDataset\n  filepath: s3://{bucket}/made.pkl\n"
        "  credentials: s3\n"
    )
    result = tane("run", "--runner", "ray", "--address", ray_address)
    assert result.exit_code == 0, result.output
    assert json.loads((project / "data" / "summary.json").read_text()) == {"total": 18}
    import pickle

    with fs.open(f"{bucket}/made.pkl", "rb") as fh:
        made = pickle.load(fh)
    assert made["values"] == [2, 4, 6] and made["pid"] != os.getpid()


def test_a_task_whose_worker_died_is_run_again(project: Path, ray_address: str) -> None:
    (project / "conf" / "catalog.yaml").write_text(
        (project / "conf" / "catalog.yaml").read_text()
        + "survivor:\n  type: json.JSONDataset\n  filepath: data/survivor.json\n"
    )
    result = tane("run", "--runner", "ray", "--address", ray_address, "-p", "crash")
    assert result.exit_code == 0, result.output
    saved = json.loads((project / "data" / "survivor.json").read_text())
    assert saved["pid"] != saved["died"]  # another worker process finished the node


def test_resources_are_checked_against_each_machine() -> None:
    cluster = RayCluster("auto", started=False, remote=False, machines=[{"CPU": 2.0}, {"CPU": 4.0}])
    from tane.pipeline.node import node

    cluster.check_resources([node(lambda x: x, "a", "b", name="n", resources={"num_cpus": 4})])
    with pytest.raises(Exception, match=r"asks for num_cpus=5.*CPU 2; CPU 4"):
        cluster.check_resources([node(lambda x: x, "a", "b", name="n", resources={"num_cpus": 5})])
    with pytest.raises(Exception, match="asks for accelerator=1"):
        cluster.check_resources(
            [node(lambda x: x, "a", "b", name="n", resources={"accelerator": 1})]
        )


def test_a_store_file_is_refused_when_workers_are_on_other_machines() -> None:
    remote = RayCluster("ray://head:10001", started=False, remote=True)
    for uri in ("sqlite:////data/tane.db", "/home/me/proj/.tane", ".tane"):
        assert is_local_store(uri)
        with pytest.raises(InvalidInput, match="use|point TANE_STORE at a tane server"):
            remote.check_store(uri)
    for uri in ("postgresql://tane@db/tane", "https://tane.internal:5000"):
        remote.check_store(uri)
    RayCluster(None, started=True, remote=False).check_store("sqlite:////tmp/x.db")


def test_runtime_env_sends_the_project_and_keeps_stores_and_data_out(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    env = runtime_env_for(root, {"env_vars": {"A": 1}, "excludes": ["big/"], "pip": ["x"]})
    assert env["working_dir"] == str(root)
    assert env["py_modules"] == [str(root / "src" / "raypkg")]
    assert {".tane/", ".git/", "data/", "big/"} <= set(env["excludes"])
    assert env["env_vars"] == {"A": "1"} and env["pip"] == ["x"]


def test_an_unreachable_cluster_is_one_clear_error(project: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--runner", "ray", "--address", "127.0.0.1:1"])
    assert result.exit_code == 1
    assert "cannot connect to the Ray cluster at 127.0.0.1:1" in result.output
    assert "Traceback" not in result.output


def test_address_needs_the_ray_runner(project: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--address", "auto"])
    assert result.exit_code == 1 and "add --runner ray" in result.output


def test_the_core_never_imports_ray() -> None:
    code = (
        "import sys, tane, tane.pipeline, tane.sweep, tane.cluster\n"
        "from tane.pipeline.runner import run\n"
        "assert 'ray' not in sys.modules, 'ray imported'\n"
        "sys.modules['ray'] = None\n"
        "from tane.cluster import RayCluster\n"
        "try:\n"
        "    RayCluster.connect()\n"
        "except Exception as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'tane[ray]'" in out.stdout


def test_sweep_trials_run_as_ray_tasks_side_by_side_and_are_pruned(
    project: Path, ray_address: str
) -> None:
    result = tane(
        "sweep",
        "alpha=interval(0,1)",
        "-p",
        "fit",
        "--objective",
        "objective",
        "--trials",
        "12",
        "--seed",
        "3",
        "--pruner",
        "median",
        "--launcher",
        "ray",
        "--jobs",
        "2",
        "--address",
        ray_address,
    )
    assert result.exit_code == 0, result.output
    found = Client().search_runs(max_results=100)
    parent = next(r for r in found if r.parent_id is None)
    trials = [r for r in found if r.parent_id == parent.id]
    assert len(trials) == 12
    statuses = {r.status.value for r in trials}
    assert statuses == {"FINISHED", "PRUNED"}, statuses
    assert {r.metrics["pid"] for r in trials}.isdisjoint({float(os.getpid())})
    # Asynchronous, two at a time: some trials overlap in time.
    spans = sorted((r.start_time, r.end_time or r.start_time) for r in trials)
    assert any(b[0] < a[1] for a, b in itertools.pairwise(spans))
    best = min(
        (r for r in trials if r.status.value == "FINISHED"), key=lambda r: r.metrics["objective"]
    )
    assert parent.tags["tane.sweep.best_run"] == best.id


def test_the_ray_launcher_refuses_a_store_file_for_a_remote_cluster(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tane.pipeline.session import PipelineApp

    remote = RayCluster("ray://head:10001", started=False, remote=True)
    monkeypatch.setattr(PipelineApp, "cluster", lambda self: remote)
    result = CliRunner().invoke(
        main, ["sweep", "alpha=interval(0,1)", "-p", "fit", "--launcher", "ray", "--trials", "2"]
    )
    assert result.exit_code == 1
    assert "point TANE_STORE at a tane server" in result.output
    assert Client().search_runs() == []
