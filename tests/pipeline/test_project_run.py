"""`tane run` on a project: recorded runs, caching across runs, overrides, multirun, layouts."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from tane.cli import main
from tane.tracking.client import Client

NODES = """
from pathlib import Path


def note(name):
    with (Path(__file__).parents[4] / "calls.txt").open("a") as fh:
        fh.write(name + "\\n")


def scale(raw, factor):
    note("scale")
    return [x * factor for x in raw]


def summarize(scaled, params):
    import tane

    note("summarize")
    total = sum(scaled) + params["offset"]
    tane.log_metric("total", total)
    return {"total": total}
"""

PIPELINE = """
from tane.pipeline import Pipeline, node

from {pkg}.pipelines.main.nodes import scale, summarize


def create_pipeline(**kwargs):
    return Pipeline(
        [
            node(scale, ["raw", "params:prep.factor"], "scaled", name="scale", tags="prep"),
            node(summarize, ["scaled", "params:report"], "summary", name="summarize"),
        ]
    )
"""


def make_project(root: Path, pkg: str = "demo_pkg", kedro: bool = False) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.json").write_text("[1, 2, 3]")
    (root / "tane.yaml").write_text(f"name: demo\npackage: {pkg}\n")
    code = root / "src" / pkg / "pipelines" / "main"
    code.mkdir(parents=True)
    for folder in (root / "src" / pkg, root / "src" / pkg / "pipelines", code):
        (folder / "__init__.py").write_text("")
    (code / "nodes.py").write_text(textwrap.dedent(NODES))
    (code / "pipeline.py").write_text(textwrap.dedent(PIPELINE.format(pkg=pkg)))
    catalog = textwrap.dedent(
        """
        raw:
          type: json.JSONDataset
          filepath: data/raw.json
        summary:
          type: json.JSONDataset
          filepath: ${data_dir}/summary.json
        """
    )
    params = "data_dir: data\nprep:\n  factor: 2\nreport:\n  offset: 1\n"
    if kedro:
        (root / "conf" / "base").mkdir(parents=True)
        (root / "conf" / "local").mkdir()
        (root / "conf" / "base" / "catalog.yml").write_text(catalog)
        (root / "conf" / "base" / "parameters.yml").write_text(params)
        (root / "conf" / "base" / "parameters_report.yml").write_text("")
        (root / "conf" / "staging").mkdir()
        (root / "conf" / "staging" / "parameters.yml").write_text("prep:\n  factor: 5\n")
    else:
        (root / "conf" / "local").mkdir(parents=True)
        (root / "conf" / "config.yaml").write_text("defaults:\n  - _self_\n" + params)
        (root / "conf" / "catalog.yaml").write_text(catalog)
    (root / "conf" / "local" / "credentials.yaml").write_text("db:\n  password: hunter2\n")
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_project(tmp_path / "proj")
    monkeypatch.chdir(root)
    monkeypatch.delenv("TANE_STORE")  # the project's own store: .tane/ in its root
    return root


def tane(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def calls(root: Path) -> list[str]:
    path = root / "calls.txt"
    return path.read_text().split() if path.exists() else []


def runs(root: Path) -> list:
    return Client(str(root / ".tane")).search_runs(order_by=["start_time"])


def pipeline_doc(run_id: str, root: Path) -> dict:
    client = Client(str(root / ".tane"))
    with client.store.open_artifact(run_id, "pipeline.json") as fh:
        return json.load(fh)


def test_tane_run_records_a_run_and_a_second_run_is_all_cached(project: Path) -> None:
    out = tane("run")
    assert "2 ran" in out
    assert json.loads((project / "data" / "summary.json").read_text()) == {"total": 13}
    assert calls(project) == ["scale", "summarize"]
    out = tane("run")
    assert "2 cached" in out and "0 ran" in out
    assert calls(project) == ["scale", "summarize"]
    first, second = runs(project)
    assert first.params["prep.factor"] == "2"
    assert first.metrics["total"] == 13
    assert first.tags["tane.kind"] == "pipeline"
    assert second.tags["tane.nodes.cached"] == "2"
    doc = pipeline_doc(second.id, project)
    assert [n["status"] for n in doc["nodes"]] == ["cached", "cached"]
    written = {r["dataset"]: r for r in doc["lineage"] if r["direction"] == "write"}
    assert written["summary"]["node"] == "summarize" and written["summary"]["hash"]
    assert "hunter2" not in json.dumps(doc) and "hunter2" not in json.dumps(first.params)


def test_an_override_reruns_only_what_reads_the_changed_param(project: Path) -> None:
    tane("run")
    out = tane("run", "report.offset=10")
    assert "1 ran" in out and "1 cached" in out
    assert calls(project) == ["scale", "summarize", "summarize"]
    assert json.loads((project / "data" / "summary.json").read_text()) == {"total": 22}
    tane("run", "--no-cache")
    assert calls(project)[-2:] == ["scale", "summarize"]


def test_filters_select_nodes(project: Path) -> None:
    tane("run", "--tags", "prep")
    assert calls(project) == ["scale"]
    tane("run", "--from-nodes", "summarize")
    assert calls(project) == ["scale", "summarize"]


def test_a_multirun_gives_each_job_its_own_outputs(project: Path) -> None:
    result = CliRunner().invoke(main, ["run", "-m", "report.offset=1,2"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    children = [r for r in runs(project) if r.parent_id]
    assert sorted(r.metrics["total"] for r in children) == [13, 14]
    # Side-by-side runs never write the catalog's declared paths.
    assert not (project / "data" / "summary.json").exists()
    scoped = list((project / ".tane" / "scoped").rglob("summary.json"))
    assert len(scoped) == 2
    assert calls(project).count("scale") == 1  # the shared prep step ran once


@pytest.mark.parametrize("runner", ["thread", "process"])
def test_metrics_logged_in_nodes_reach_the_run_from_every_runner(
    project: Path, runner: str
) -> None:
    tane("run", "--runner", runner, "--jobs", "2")
    assert runs(project)[0].metrics["total"] == 13


def test_a_failing_node_fails_the_run_with_a_resume_hint(project: Path) -> None:
    (project / "data" / "raw.json").write_text('["a"]')
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 1
    assert "node 'summarize' failed" in result.output
    assert "--from-nodes summarize" in result.output
    assert runs(project)[0].status.value == "FAILED"


def test_pipeline_show_and_catalog_ls(project: Path) -> None:
    out = tane("pipeline", "show")
    assert "scale" in out and "summarize" in out and "params:prep.factor" in out
    data = json.loads(tane("pipeline", "show", "--json"))
    assert data["edges"] == [["scale", "summarize"]]
    assert "main" in tane("pipeline", "ls")
    rows = {r["name"]: r for r in json.loads(tane("catalog", "ls", "--json"))}
    assert rows["raw"]["type"] and rows["raw"]["path"].endswith("raw.json")
    assert rows["scaled"]["type"] == "memory"
    assert rows["summary"]["path"].endswith("data/summary.json")


def test_unknown_pipeline_and_missing_project_are_clear(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = CliRunner().invoke(main, ["run", "--pipeline", "mian"])
    assert result.exit_code == 1 and "did you mean 'main'" in result.output
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 1 and "tane new" in result.output


def test_kedro_layout_with_parameter_files_and_an_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path / "kproj", pkg="kedro_pkg", kedro=True)
    monkeypatch.chdir(root)
    monkeypatch.delenv("TANE_STORE")
    tane("run")
    assert json.loads((root / "data" / "summary.json").read_text()) == {"total": 13}
    tane("run", "--env", "staging")
    assert json.loads((root / "data" / "summary.json").read_text()) == {"total": 31}
    assert "hunter2" not in json.dumps([r.params for r in runs(root)])


def test_hooks_from_the_project_file_are_called(project: Path) -> None:
    (project / "src" / "demo_pkg" / "hooks.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            from tane.pipeline import hook_impl

            class Record:
                @hook_impl
                def after_node_run(self, node, status):
                    with Path("hooks.txt").open("a") as fh:
                        fh.write(f"{node.name}:{status}\\n")
            """
        )
    )
    settings = (project / "tane.yaml").read_text()
    (project / "tane.yaml").write_text(settings + "hooks:\n  - demo_pkg.hooks:Record\n")
    tane("run")
    tane("run")
    assert (project / "hooks.txt").read_text().split() == [
        "scale:ran",
        "summarize:ran",
        "scale:cached",
        "summarize:cached",
    ]


def test_the_store_option_is_honoured(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere-store"
    tane("--store", str(other), "run")
    assert len(Client(str(other)).search_runs()) == 1
    assert os.environ.get("TANE_STORE") in (None, str(other))


@pytest.mark.slow
def test_a_multirun_in_worker_processes(project: Path) -> None:
    result = CliRunner().invoke(
        main, ["run", "-m", "report.offset=1,2,3", "--jobs", "2"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    children = [r for r in runs(project) if r.parent_id]
    assert sorted(r.metrics["total"] for r in children) == [13, 14, 15]
    assert all(r.tags["tane.kind"] == "pipeline" for r in children)
    assert not (project / "data" / "summary.json").exists()


def test_a_param_named_like_a_dataset_is_not_merged_into_it(project: Path) -> None:
    config = project / "conf" / "config.yaml"
    config.write_text(config.read_text() + "summary:\n  threshold: 0.5\n")
    tane("run")
    assert json.loads((project / "data" / "summary.json").read_text()) == {"total": 13}


def test_a_failure_keeps_the_nodes_traceback_and_the_command_to_resume(project: Path) -> None:
    (project / "data" / "raw.json").write_text('["a"]')
    result = CliRunner().invoke(main, ["run", "report.offset=5", "--runner", "thread"])
    assert result.exit_code == 1
    assert "tane run --runner thread report.offset=5 --from-nodes summarize" in result.output
    failed = runs(project)[0]
    assert failed.tags["tane.error"].startswith("NodeFailed: node 'summarize' failed: TypeError")
    assert "nodes.py" in failed.tags["tane.traceback"]  # the user's own frame


def test_a_syntax_error_in_the_project_code_is_one_clear_line(project: Path) -> None:
    nodes = project / "src" / "demo_pkg" / "pipelines" / "main" / "nodes.py"
    nodes.write_text(nodes.read_text() + "\ndef broken(:\n")
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 1
    assert "nodes.py, line" in result.output and "syntax error" in result.output
    assert "Traceback" not in result.output


def test_hooks_from_installed_packages_through_entry_points(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    dist = site / "tane_demo_hooks-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tane-demo-hooks\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[tane.hooks]\ncounter = tane_demo_hooks:Counter\n")
    (site / "tane_demo_hooks.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            from tane.pipeline import hook_impl

            class Counter:
                @hook_impl
                def before_pipeline_run(self, run_params):
                    Path("entry-point-hook.txt").write_text(run_params["pipeline_name"])
            """
        )
    )
    monkeypatch.syspath_prepend(str(site))
    tane("run")
    assert (project / "entry-point-hook.txt").read_text() == "__default__"


def test_gc_removes_the_outputs_of_purged_side_by_side_runs(project: Path) -> None:
    result = CliRunner().invoke(main, ["run", "-m", "report.offset=1,2"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    children = [r for r in runs(project) if r.parent_id]
    scoped = project / ".tane" / "scoped"
    assert {p.name for p in scoped.iterdir()} == {r.id for r in children}
    doomed = children[0]
    tane("runs", "rm", doomed.id)
    tane("gc", "--yes")
    assert {p.name for p in scoped.iterdir()} == {children[1].id}


def test_a_node_raising_trial_pruned_prunes_the_trial_without_retries(project: Path) -> None:
    nodes = project / "src" / "demo_pkg" / "pipelines" / "main" / "nodes.py"
    nodes.write_text(
        nodes.read_text()
        + textwrap.dedent(
            """

            def judge(summary, factor):
                import tane

                note("judge")
                tane.log_metric("score", summary["total"])
                if factor > 2:
                    raise tane.TrialPruned()
                return summary["total"]
            """
        )
    )
    pipeline = project / "src" / "demo_pkg" / "pipelines" / "main" / "pipeline.py"
    pipeline.write_text(
        pipeline.read_text()
        .replace("import scale, summarize", "import judge, scale, summarize")
        .replace(
            'name="summarize"),',
            'name="summarize"),\n'
            '            node(judge, ["summary", "params:prep.factor"], "verdict",'
            ' name="judge", retries=2),',
        )
    )
    out = tane("sweep", "prep.factor=2,3", "--sampler", "grid", "--objective", "score")
    assert "PRUNED" in out or "pruned" in out
    trials = {r.params["prep.factor"]: r for r in runs(project) if r.parent_id}
    assert trials["2"].status.name == "FINISHED"
    assert trials["3"].status.name == "PRUNED"
    # Pruning is not a failure: the node ran once, not 1 + 2 retries.
    assert calls(project).count("judge") == 2


def test_a_pipeline_sweep_without_objective_names_the_metrics_to_choose(project: Path) -> None:
    out = tane("sweep", "prep.factor=2,3", "--sampler", "grid")
    assert "logged no metric 'objective' (it logged: total)" in out
    assert "name the metric to optimize with --objective" in out
    done = tane("sweep", "prep.factor=2,3", "--sampler", "grid", "--objective", "total")
    assert "best total:" in done
