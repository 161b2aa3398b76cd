"""The Hydra callback: real ``@hydra.main`` apps, run as processes, recorded in a real store."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import tane
from tane.config._result import return_metrics
from tane.integrations.hydra import TaneCallback, _absolute_store_uri
from tane.tracking.entities import Run, RunStatus

CALLBACK = "tane.integrations.hydra.TaneCallback"

ENABLED = f"""\
hydra:
  callbacks:
    tane:
      _target_: {CALLBACK}
"""

MODEL = """\
model:
  lr: 0.1
  layers: 2
name: base
"""


def write_app(folder: Path, body: str, config: str) -> Path:
    """Write an unchanged Hydra app (app.py + conf/config.yaml) into ``folder``."""
    (folder / "conf").mkdir(parents=True)
    (folder / "conf" / "config.yaml").write_text(config, encoding="utf-8")
    code = (
        "import os\n\nimport hydra\n\n\n"
        '@hydra.main(version_base=None, config_path="conf", config_name="config")\n'
        "def main(cfg):\n" + textwrap.indent(textwrap.dedent(body), "    ") + "\n\n"
        'if __name__ == "__main__":\n    main()\n'
    )
    (folder / "app.py").write_text(code, encoding="utf-8")
    return folder


def run_app(
    folder: Path,
    *args: str,
    store: str | None,
    capture: str = "none",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TANE_", "HYDRA_"))}
    environ["TANE_CAPTURE"] = capture
    if store is not None:
        environ["TANE_STORE"] = store
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "app.py", *args],
        cwd=folder,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    # Hydra turns an exception in a callback into a warning and carries on.
    assert "Callback TaneCallback" not in result.stderr, result.stderr


def runs_of(store: Path) -> list[Run]:
    return list(tane.Client(str(store)).search_runs("", view="all"))


def only_run(store: Path) -> Run:
    runs = runs_of(store)
    assert len(runs) == 1, [r.name for r in runs]
    return runs[0]


def artifact(store: Path, run: Run, path: str) -> str:
    return tane.Client(str(store)).read_artifact(run.id, path).decode("utf-8")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


def test_single_run_records_config_overrides_tags_and_objective(
    tmp_path: Path, store: Path
) -> None:
    app = write_app(
        tmp_path / "app",
        "return cfg.model.lr * 10",
        ENABLED + "      experiment: my-exp\n" + MODEL,
    )
    result = run_app(app, "model.lr=0.5", "+extra=x", store=str(store))
    ok(result)

    run = only_run(store)
    assert run.experiment == "my-exp"
    assert run.status == RunStatus.FINISHED
    assert run.name == "app model.lr=0.5 +extra=x"
    assert run.parent_id is None
    assert run.params == {
        "model.lr": "0.5",
        "model.layers": "2",
        "name": "base",
        "extra": "x",
    }
    assert run.metrics == {"objective": 5.0}
    assert run.tags["hydra.overrides"] == "model.lr=0.5 +extra=x"
    assert run.tags["hydra.job_name"] == "app"
    assert "hydra.job_num" not in run.tags
    output_dir = Path(run.tags["hydra.output_dir"])
    assert output_dir.is_dir()
    assert output_dir.relative_to(app / "outputs")
    assert (output_dir / ".hydra" / "config.yaml").is_file()

    assert yaml.safe_load(artifact(store, run, "config.yaml")) == {
        "model": {"lr": 0.5, "layers": 2},
        "name": "base",
        "extra": "x",
    }
    saved = (output_dir / ".hydra" / "overrides.yaml").read_text(encoding="utf-8")
    assert artifact(store, run, "overrides.yaml") == saved
    assert yaml.safe_load(saved) == ["model.lr=0.5", "+extra=x"]


def test_a_dict_return_value_is_logged_under_its_keys_with_console_output(
    tmp_path: Path, store: Path
) -> None:
    app = write_app(
        tmp_path / "app",
        """\
        print("hello from the task")
        return {"acc": 0.75, "loss": cfg.model.layers * 1.5, "note": "not a number"}
        """,
        ENABLED + MODEL,
    )
    ok(run_app(app, "model.layers=4", store=str(store), capture="logs"))

    run = only_run(store)
    assert run.experiment == "app"  # the Hydra job name by default
    assert run.metrics == {"acc": 0.75, "loss": 6.0}
    assert run.tags["hydra.return_ignored"] == "keys note: not numbers"
    assert "hello from the task" in artifact(store, run, "logs/output.log")


def test_a_return_value_that_is_no_number_is_tagged_not_logged(tmp_path: Path, store: Path) -> None:
    app = write_app(tmp_path / "app", 'return "done"', ENABLED + MODEL)
    ok(run_app(app, store=str(store)))

    run = only_run(store)
    assert run.status == RunStatus.FINISHED
    assert run.metrics == {}
    assert run.tags["hydra.return_ignored"] == (
        "a str: only a number or a dict of numbers is logged as metrics"
    )


def test_a_failing_task_ends_its_run_failed_with_the_error(tmp_path: Path, store: Path) -> None:
    app = write_app(
        tmp_path / "app",
        """\
        import tane
        tane.log_metric("loss", 0.25)
        raise ValueError(f"boom {cfg.model.layers}")
        """,
        ENABLED + MODEL,
    )
    result = run_app(app, "model.layers=42", store=str(store))

    assert result.returncode == 1  # what Hydra exits with after a failed job
    assert "boom 42" in result.stderr
    assert "Callback TaneCallback" not in result.stderr
    run = only_run(store)
    assert run.status == RunStatus.FAILED
    assert run.tags["tane.error"] == "ValueError: boom 42"
    assert 'raise ValueError(f"boom {cfg.model.layers}")' in run.tags["tane.traceback"]
    assert run.metrics == {"loss": 0.25}  # logged by the task itself, into the job's run
    assert run.params["model.layers"] == "42"


@pytest.mark.slow
def test_multirun_is_a_parent_run_with_one_child_per_job(tmp_path: Path, store: Path) -> None:
    app = write_app(
        tmp_path / "app",
        "return cfg.model.lr * cfg.model.layers",
        ENABLED + MODEL,
    )
    ok(run_app(app, "-m", "model.lr=0.1,0.2", "model.layers=1,3", store=str(store)))

    runs = runs_of(store)
    assert len(runs) == 5
    (parent,) = [r for r in runs if r.parent_id is None]
    children = [r for r in runs if r.parent_id is not None]
    assert parent.name == "app multirun"
    assert parent.status == RunStatus.FINISHED
    assert parent.tags["hydra.jobs"] == "4"
    assert parent.tags["hydra.failures"] == "0"
    assert parent.tags["hydra.overrides"] == "model.lr=0.1,0.2 model.layers=1,3"
    assert parent.params == {}
    assert Path(parent.tags["hydra.sweep_dir"]).is_relative_to(app / "multirun")
    assert yaml.safe_load(artifact(store, parent, "overrides.yaml")) == [
        "model.lr=0.1,0.2",
        "model.layers=1,3",
    ]
    assert {c.parent_id for c in children} == {parent.id}
    assert {c.experiment for c in children} == {parent.experiment} == {"app"}
    assert all(c.status == RunStatus.FINISHED for c in children)
    combos = {
        (c.params["model.lr"], c.params["model.layers"], c.tags["hydra.job_num"]): (
            c.metrics["objective"]
        )
        for c in children
    }
    assert combos == {
        ("0.1", "1", "0"): pytest.approx(0.1),
        ("0.1", "3", "1"): pytest.approx(0.3),
        ("0.2", "1", "2"): pytest.approx(0.2),
        ("0.2", "3", "3"): pytest.approx(0.6),
    }
    by_num = {c.tags["hydra.job_num"]: c for c in children}
    assert by_num["1"].name == "app #1 model.lr=0.1 model.layers=3"
    assert by_num["1"].tags["hydra.overrides"] == "model.lr=0.1 model.layers=3"
    assert Path(by_num["1"].tags["hydra.output_dir"]).name == "1"
    assert yaml.safe_load(artifact(store, by_num["2"], "config.yaml"))["model"] == {
        "lr": 0.2,
        "layers": 1,
    }


@pytest.mark.slow
def test_a_multirun_that_hydra_stops_after_a_failed_job_ends_its_parent_failed(
    tmp_path: Path, store: Path
) -> None:
    app = write_app(
        tmp_path / "app",
        """\
        if cfg.fail:
            raise RuntimeError("job failed on purpose")
        return 1.0
        """,
        ENABLED + "fail: false\n",
    )
    result = run_app(app, "-m", "fail=false,true,false", store=str(store))

    assert result.returncode == 1
    runs = runs_of(store)
    (parent,) = [r for r in runs if r.parent_id is None]
    children = {r.tags["hydra.job_num"]: r for r in runs if r.parent_id == parent.id}
    assert len(runs) == 4
    assert parent.status == RunStatus.FAILED
    assert parent.tags["hydra.jobs"] == "3"
    assert parent.tags["hydra.failures"] == "1"
    assert "1 of 3 jobs failed" in parent.tags["tane.error"]
    assert children["1"].status == RunStatus.FAILED
    assert children["1"].tags["tane.error"] == "RuntimeError: job failed on purpose"
    assert children["0"].status == children["2"].status == RunStatus.FINISHED


def test_secrets_from_the_environment_never_reach_the_record(tmp_path: Path, store: Path) -> None:
    secret = "hunter2-s3cr3t-value"
    app = write_app(
        tmp_path / "app",
        """\
        assert cfg.db.password == os.environ["SECRET"]  # the app itself sees the value
        return 1.0
        """,
        ENABLED + "db:\n  user: alice\n  password: ${oc.env:SECRET}\n",
    )
    ok(run_app(app, store=str(store), env={"SECRET": secret}))

    run = only_run(store)
    assert run.params == {"db.user": "alice", "db.password": "${oc.env:SECRET}"}
    config = artifact(store, run, "config.yaml")
    assert "${oc.env:SECRET}" in config
    for text in (config, artifact(store, run, "overrides.yaml"), *run.tags.values()):
        assert secret not in text
    assert secret not in repr(run)


def test_one_command_line_override_enables_it_in_an_app_that_knows_nothing_of_tane(
    tmp_path: Path, store: Path
) -> None:
    app = write_app(tmp_path / "app", "return cfg.a * 2", "a: 1\n")
    ok(run_app(app, store=str(store)))
    assert not store.exists()  # not enabled: nothing recorded

    ok(run_app(app, f"+hydra.callbacks.tane._target_={CALLBACK}", "a=3", store=str(store)))
    run = only_run(store)
    assert run.params == {"a": "3"}
    assert run.metrics == {"objective": 6.0}
    # Hydra keeps overrides of its own node apart: only the task's are the run's.
    assert run.tags["hydra.overrides"] == "a=3"


@pytest.mark.parametrize("store_setting", ["relative-store", None])
def test_hydra_changing_the_working_directory_does_not_move_the_store(
    tmp_path: Path, store_setting: str | None
) -> None:
    app = write_app(
        tmp_path / "app",
        "return float(os.getcwd() != hydra.utils.get_original_cwd())",
        ENABLED.replace("hydra:\n", "hydra:\n  job:\n    chdir: true\n", 1),
    )
    ok(run_app(app, "+a=1", store=store_setting))

    expected = app / (store_setting or ".tane")
    run = only_run(expected)
    assert run.metrics == {"objective": 1.0}  # the job did run in another folder
    assert run.params == {"a": "1"}
    assert Path(run.tags["hydra.output_dir"]).is_relative_to(app / "outputs")
    assert list((app / "outputs").rglob("tane.db")) == []


def test_printing_the_config_records_nothing(tmp_path: Path, store: Path) -> None:
    app = write_app(tmp_path / "app", "return 1.0", ENABLED + MODEL)
    result = run_app(app, "--cfg", "job", store=str(store))
    ok(result)
    assert "lr: 0.1" in result.stdout
    assert not store.exists()


# -- in-process: the pieces -----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "metrics", "ignored"),
    [
        (0.5, {"objective": 0.5}, None),
        (3, {"objective": 3.0}, None),
        (None, {}, None),
        ({"a": 1, "b/c": 2.5}, {"a": 1.0, "b/c": 2.5}, None),
        ({"a": 1, "b": "x", "c": [1]}, {"a": 1.0}, "keys b, c: not numbers"),
        (True, {}, "a bool: only a number or a dict of numbers is logged as metrics"),
        ([1, 2], {}, "a list: only a number or a dict of numbers is logged as metrics"),
    ],
)
def test_return_metrics(value: object, metrics: dict[str, float], ignored: str | None) -> None:
    assert return_metrics(value) == (metrics, ignored)


def test_return_metrics_reads_numpy_scalars() -> None:
    import numpy as np

    assert return_metrics(np.float32(0.5)) == ({"objective": 0.5}, None)
    assert return_metrics(np.array(2.0)) == ({"objective": 2.0}, None)
    assert return_metrics({"n": np.int64(7)}) == ({"n": 7.0}, None)
    assert return_metrics(np.array([1.0, 2.0]))[0] == {}


def test_store_locations_are_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _absolute_store_uri("runs") == str(tmp_path / "runs")
    assert _absolute_store_uri("sqlite:///runs.db") == f"sqlite:///{tmp_path / 'runs.db'}"
    assert _absolute_store_uri("sqlite:////data/runs.db") == "sqlite:////data/runs.db"
    assert _absolute_store_uri("postgresql://u@h/db") == "postgresql://u@h/db"
    monkeypatch.setenv("TANE_STORE", "rel")
    assert TaneCallback().store_uri == str(tmp_path / "rel")


def test_the_callback_pickles_for_launchers_in_other_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANE_STORE", str(tmp_path / "s"))
    callback = TaneCallback(experiment="e")
    callback.parent_id = "abc123"
    callback._job = tane.start_run(store=str(tmp_path / "s"), capture=False)
    copy = pickle.loads(pickle.dumps(callback))
    assert (copy.store_uri, copy.experiment, copy.parent_id) == (
        str(tmp_path / "s"),
        "e",
        "abc123",
    )
    assert copy._job is None
    callback._job.end()
