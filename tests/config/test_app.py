"""@tane.main as users run it: scripts in subprocesses, a real store, Hydra config folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tane
from tane.tracking.entities import RunStatus

pytestmark = pytest.mark.slow

TRAIN = '''
import os, sys
import tane

@tane.main(config_path="conf", config_name="config")
def train(cfg) -> float:
    """Train a toy model."""
    if os.environ.get("FAIL_ON") and os.environ["FAIL_ON"] in str(cfg.model):
        raise RuntimeError("this model diverged")
    model = cfg.model
    score = float(model.get("alpha", 0.0)) * 10 + float(model.get("l1_ratio", 0.0))
    score += float(model.get("learning_rate", 0.0)) + float(model.get("depth", 0)) / 100
    print("SCORE", score, flush=True)
    return score

if __name__ == "__main__":
    train()
'''


@pytest.fixture
def app(tmp_path: Path) -> Path:
    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True)
    (conf / "config.yaml").write_text(
        "defaults:\n  - model: elastic_net\n  - _self_\nseed: 1\n"
        "name: ${hydra:job.name}\ndb_password: ${oc.env:DB_PASSWORD,none}\n"
    )
    (conf / "model" / "elastic_net.yaml").write_text(
        "alpha: 0.0005\nl1_ratio: 0.9\nrandom_state: 3\n"
    )
    (conf / "model" / "catboost.yaml").write_text("learning_rate: 0.05\ndepth: 10\n")
    (tmp_path / "train.py").write_text(TRAIN)
    return tmp_path


def _run(
    app: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full.update({"TANE_STORE": str(app / "store"), "TANE_CAPTURE": "none", **(env or {})})
    return subprocess.run(
        [sys.executable, str(app / "train.py"), *args],
        cwd=cwd or app,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _runs(app: Path, filter_string: str = "") -> list[tane.Run]:
    return list(tane.Client(str(app / "store")).search_runs(filter_string))


def test_one_run_records_config_overrides_and_result(app: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = _run(app, "model.l1_ratio=0.01", cwd=elsewhere, env={"DB_PASSWORD": "hunter2"})
    assert proc.returncode == 0, proc.stderr
    (run,) = _runs(app)
    assert run.status is RunStatus.FINISHED
    assert run.experiment == "train"
    assert run.params["model.alpha"] == "0.0005"
    assert run.params["model.l1_ratio"] == "0.01"
    assert run.params["seed"] == "1"
    assert run.params["name"] == "train"
    assert run.tags["tane.overrides"] == "model.l1_ratio=0.01"
    assert run.metrics["objective"] == pytest.approx(0.005 + 0.01)
    client = tane.Client(str(app / "store"))
    config_yaml = client.read_artifact(run.id, "config.yaml").decode()
    assert "l1_ratio: 0.01" in config_yaml
    # The secret came from the environment: recorded as its interpolation, never its value.
    assert "hunter2" not in config_yaml
    assert "hunter2" not in json.dumps(run.params)
    assert "${oc.env:DB_PASSWORD,none}" in run.params["db_password"]
    # The working directory did not change and nothing appeared in it.
    assert list(elsewhere.iterdir()) == []


def test_group_choice_add_and_delete(app: Path) -> None:
    proc = _run(app, "model=catboost", "+extra=1", "~model.depth")
    assert proc.returncode == 0, proc.stderr
    (run,) = _runs(app)
    assert run.params["model.learning_rate"] == "0.05"
    assert "model.depth" not in run.params
    assert "model.alpha" not in run.params
    assert run.params["extra"] == "1"


def test_multirun_in_process(app: Path) -> None:
    proc = _run(app, "-m", "model=elastic_net,catboost")
    assert proc.returncode == 0, proc.stderr
    assert "multirun" in proc.stdout and "2 jobs" in proc.stdout
    runs = _runs(app)
    (parent,) = [r for r in runs if r.parent_id is None]
    children = [r for r in runs if r.parent_id == parent.id]
    assert parent.tags["tane.kind"] == "multirun"
    assert parent.status is RunStatus.FINISHED
    assert sorted(c.tags["tane.overrides"] for c in children) == [
        "model=catboost",
        "model=elastic_net",
    ]
    assert all(c.status is RunStatus.FINISHED for c in children)
    assert all("objective" in c.metrics for c in children)


def test_multirun_cartesian_product_in_two_workers(app: Path) -> None:
    proc = _run(app, "-m", "model.alpha=0.1,0.2,0.3", "model.l1_ratio=0.5,0.9", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    runs = _runs(app)
    children = [r for r in runs if r.parent_id is not None]
    assert len(children) == 6
    combos = sorted((c.params["model.alpha"], c.params["model.l1_ratio"]) for c in children)
    assert combos == [(a, b) for a in ("0.1", "0.2", "0.3") for b in ("0.5", "0.9")]
    pids = {c.tags.get("tane.pid") for c in children}
    for child in children:
        expected = float(child.params["model.alpha"]) * 10 + float(child.params["model.l1_ratio"])
        assert child.metrics["objective"] == pytest.approx(expected)
    assert pids  # recorded by the workers themselves


def test_range_and_glob_sweeps(app: Path) -> None:
    proc = _run(app, "-m", "model=glob(*)", "seed=range(1,3)")
    assert proc.returncode == 0, proc.stderr
    children = [r for r in _runs(app) if r.parent_id is not None]
    assert sorted(c.tags["tane.overrides"] for c in children) == [
        "model=catboost seed=1",
        "model=catboost seed=2",
        "model=elastic_net seed=1",
        "model=elastic_net seed=2",
    ]


def test_failing_job_does_not_stop_the_others_and_resume_reruns_it(app: Path) -> None:
    proc = _run(app, "-m", "model=elastic_net,catboost", env={"FAIL_ON": "learning_rate"})
    assert proc.returncode == 1
    assert "1 of 2 jobs failed" in proc.stdout
    assert "this model diverged" in proc.stdout
    runs = _runs(app)
    (parent,) = [r for r in runs if r.parent_id is None]
    statuses = {r.tags["tane.overrides"]: r.status for r in runs if r.parent_id}
    assert statuses == {"model=elastic_net": RunStatus.FINISHED, "model=catboost": RunStatus.FAILED}
    again = _run(app, "-m", "--resume", parent.id)
    assert again.returncode == 0, again.stderr
    runs = _runs(app)
    children = [r for r in runs if r.parent_id == parent.id]
    assert len(children) == 3  # only the failed job ran again
    finished = sorted(r.tags["tane.overrides"] for r in children if r.status is RunStatus.FINISHED)
    assert finished == ["model=catboost", "model=elastic_net"]


def test_cfg_prints_the_composed_config(app: Path) -> None:
    proc = _run(app, "--cfg", "model=catboost")
    assert proc.returncode == 0, proc.stderr
    assert "learning_rate: 0.05" in proc.stdout
    assert "${hydra:job.name}" in proc.stdout
    assert _runs(app) == [] if (app / "store").exists() else True
    resolved = _run(app, "--cfg", "--resolve")
    assert "name: train" in resolved.stdout


def test_help_lists_groups_and_options(app: Path) -> None:
    proc = _run(app, "--help")
    assert proc.returncode == 0
    assert "model: catboost, elastic_net" in proc.stdout
    assert "Train a toy model." in proc.stdout
    assert "--multirun" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model=nope"], "model/nope"),
        (["model.alpha=[1,"], "malformed override"),
        (["model.alpha=0.1,0.2"], "-m"),
        (["nokey=1"], "+nokey=1"),
    ],
)
def test_bad_input(app: Path, args: list[str], message: str) -> None:
    proc = _run(app, *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_option_lists_the_options(app: Path) -> None:
    proc = _run(app, "model=nope")
    assert "catboost" in proc.stderr and "elastic_net" in proc.stderr


def test_missing_value(app: Path) -> None:
    (app / "conf" / "model" / "needs.yaml").write_text("alpha: ???\n")
    proc = _run(app, "model=needs")
    assert proc.returncode == 2
    assert "'model.alpha' is missing" in proc.stderr
    ok = _run(app, "model=needs", "model.alpha=0.3")
    assert ok.returncode == 0, ok.stderr


def test_config_directory_that_does_not_exist(tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text(
        textwrap.dedent("""
        import tane
        @tane.main(config_path="no_such_conf", config_name="config")
        def f(cfg):
            return 1.0
        if __name__ == "__main__":
            f()
    """)
    )
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env={**os.environ, "TANE_STORE": str(tmp_path / "s")},
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert str(tmp_path / "no_such_conf") in proc.stderr


def test_schema_violation_names_key_value_and_type(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.yaml").write_text("lr: 0.1\nepochs: 3\n")
    script = tmp_path / "typed.py"
    script.write_text(
        textwrap.dedent("""
        from dataclasses import dataclass
        import tane

        @dataclass
        class Schema:
            lr: float
            epochs: int

        @tane.main(config_path="conf", config_name="config", schema=Schema)
        def fit(cfg):
            return cfg.lr * cfg.epochs

        if __name__ == "__main__":
            fit()
        """)
    )
    env = {**os.environ, "TANE_STORE": str(tmp_path / "store"), "TANE_CAPTURE": "none"}
    bad = subprocess.run(
        [sys.executable, str(script), "epochs=many"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert "epochs" in bad.stderr and "many" in bad.stderr and "int" in bad.stderr
    assert "Traceback" not in bad.stderr
    good = subprocess.run(
        [sys.executable, str(script), "epochs=4"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert good.returncode == 0, good.stderr
    (run,) = tane.Client(str(tmp_path / "store")).search_runs()
    assert run.metrics["objective"] == pytest.approx(0.4)


def test_run_dir_files_become_artifacts(tmp_path: Path) -> None:
    (tmp_path / "tane.yaml").write_text("name: proj\n")
    script = tmp_path / "outputs_app.py"
    script.write_text(
        textwrap.dedent("""
        import tane

        @tane.main()
        def go(cfg):
            folder = tane.run_dir()
            (folder / "predictions.csv").write_text("id,y\\n1,0.5\\n")
            return 1.0

        if __name__ == "__main__":
            go()
        """)
    )
    env = {**os.environ, "TANE_CAPTURE": "none"}
    env.pop("TANE_STORE", None)
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    client = tane.Client(str(tmp_path / ".tane"))
    (run,) = client.search_runs()
    assert client.read_artifact(run.id, "outputs/predictions.csv") == b"id,y\n1,0.5\n"
    assert (tmp_path / ".tane" / "outputs" / run.id / "predictions.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tane", "outputs_app.py", "tane.yaml"]
