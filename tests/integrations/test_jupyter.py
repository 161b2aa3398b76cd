"""`%load_ext tane` in a real IPython shell, and the HTML of runs, experiments and sweeps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tane
from tane.cli import main


@pytest.fixture
def shell() -> Iterator[Any]:
    from IPython.core.interactiveshell import InteractiveShell

    instance = InteractiveShell.instance()
    yield instance
    InteractiveShell.clear_instance()


def test_load_ext_in_a_project_defines_catalog_params_pipelines_and_runs(
    shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(main, ["new", "proj"]).exit_code == 0
    monkeypatch.chdir(tmp_path / "proj")
    monkeypatch.delenv("TANE_STORE")  # the project's own store
    assert CliRunner().invoke(main, ["run"]).exit_code == 0
    shell.run_line_magic("load_ext", "tane")
    out = capsys.readouterr().out
    assert "tane: defined catalog, params, pipelines, runs, client" in out
    ns = shell.user_ns
    from omegaconf import DictConfig

    from tane.pipeline.catalog import DataCatalog

    assert isinstance(ns["catalog"], DataCatalog)
    assert isinstance(ns["params"], DictConfig)
    assert "__default__" in ns["pipelines"]
    runs = ns["runs"]
    assert len(runs) == 1 and runs["status"].iloc[0] == "FINISHED"
    # %tane_runs searches again, with a filter.
    shell.run_line_magic("tane_runs", "attributes.status = 'FAILED'")
    assert len(shell.user_ns["runs"]) == 0
    shell.run_line_magic("tane_runs", "")
    assert len(shell.user_ns["runs"]) == 1


def test_load_ext_outside_a_project_defines_runs_and_says_why(
    shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with tane.start_run(experiment="nb", name="from-a-script"):
        tane.log_metric("acc", 0.9)
    shell.run_line_magic("load_ext", "tane")
    out = capsys.readouterr().out
    assert "tane: defined runs, client" in out
    assert "no tane.yaml" in out and "tane new NAME" in out
    assert list(shell.user_ns["runs"]["run_name"]) == ["from-a-script"]
    assert "catalog" not in shell.user_ns


def test_runs_experiments_and_sweeps_render_as_html(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    with tane.start_run(experiment="html", name="<b>bold</b>", store=store) as run:
        tane.log_params({"lr": 0.1, "evil": "<script>alert(1)</script>"})
        tane.log_metric("acc", 0.912345678)
    client = tane.Client(store)
    shown = client.get_run(run.id)._repr_html_()
    assert "&lt;b&gt;bold&lt;/b&gt;" in shown and "<script>" not in shown
    assert "FINISHED" in shown and "0.912346" in shown and "lr" in shown
    experiment = client.get_experiment("html")._repr_html_()
    assert "html" in experiment and "<td" in experiment
    outcome = tane.sweep(
        lambda t: (t.suggest_float("x", 0, 1) - 0.5) ** 2, n_trials=4, seed=0, store=store
    )
    swept = outcome._repr_html_()
    assert "4 (4 complete)" in swept or "4 (4 finished)" in swept
    assert "best params" in swept and "x" in swept
