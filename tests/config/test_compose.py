"""Composition: Hydra config folders as Hydra composes them, without Hydra's surprises."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

import tane
from tane.config import Composer
from tane.errors import InvalidInput


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    root = tmp_path / "conf"
    (root / "model").mkdir(parents=True)
    (root / "config.yaml").write_text(
        "defaults:\n  - model: elastic_net\n  - _self_\nseed: 1\nname: ${hydra:job.name}\n"
        "home: ${oc.env:TANE_TEST_HOME,/nowhere}\n"
    )
    (root / "model" / "elastic_net.yaml").write_text("alpha: 0.0005\nl1_ratio: 0.9\n")
    (root / "model" / "catboost.yaml").write_text("learning_rate: 0.05\ndepth: 10\n")
    return root


def test_compose_relative_to_the_calling_file(conf: Path) -> None:
    here = Path(__file__).resolve().parent
    relative = os.path.relpath(conf, here)
    cfg = tane.compose(relative, "config", ["model=catboost"])
    assert cfg.model.learning_rate == 0.05
    assert "hydra" not in cfg
    assert tane.compose(str(conf), "config").model.alpha == 0.0005


def test_hydra_and_env_interpolations_resolve(conf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANE_TEST_HOME", "/home/me")
    cfg = Composer(str(conf), "config", "train").compose([])
    assert cfg.name == "train"
    assert cfg.home == "/home/me"


def test_group_package_global_like_hydra_011(conf: Path) -> None:
    (conf / "model" / "legacy.yaml").write_text("# @package _global_\nmodel:\n  alpha: 0.3\n")
    cfg = Composer(str(conf), "config").compose(["model=legacy"])
    assert cfg.model.alpha == 0.3


def test_overrides_use_hydras_grammar(conf: Path) -> None:
    c = Composer(str(conf), "config")
    cfg = c.compose(["model=catboost", "+extra.deep=[1,2]", "~model.depth", "seed=7"])
    assert cfg.model == {"learning_rate": 0.05}
    assert list(cfg.extra.deep) == [1, 2]
    assert cfg.seed == 7
    assert c.compose(["++seed=9"]).seed == 9


def test_composes_once_per_group_choice(conf: Path) -> None:
    c = Composer(str(conf), "config")
    for alpha in (0.1, 0.2, 0.3):
        for model in ("elastic_net", "catboost"):
            cfg = c.compose([f"model={model}", f"+alpha={alpha}"])
            assert cfg.alpha == alpha
    assert len(c._cache) == 2
    # Value overrides never leak into the cached composition.
    assert "alpha" not in c.compose(["model=catboost"])


def test_expand_is_hydras_multirun_grid(conf: Path) -> None:
    c = Composer(str(conf), "config")
    assert c.expand(["model=glob(*)", "seed=range(1,3)"]) == [
        ["model=catboost", "seed=1"],
        ["model=catboost", "seed=2"],
        ["model=elastic_net", "seed=1"],
        ["model=elastic_net", "seed=2"],
    ]
    assert c.expand(["seed=choice(4,5)", "+x=1"]) == [["seed=4", "+x=1"], ["seed=5", "+x=1"]]
    assert c.expand([]) == [[]]
    with pytest.raises(InvalidInput, match="continuous"):
        c.expand(["model.alpha=interval(0,1)"])


def test_group_options(conf: Path) -> None:
    (conf / "data" / "source").mkdir(parents=True)
    (conf / "data" / "source" / "csv.yaml").write_text("path: x\n")
    assert Composer(str(conf), "config").group_options() == {
        "data/source": ["csv"],
        "model": ["catboost", "elastic_net"],
    }


def test_hydra_plugin_groups_are_reported_and_ignored(
    conf: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (conf / "config.yaml").write_text(
        "defaults:\n  - model: elastic_net\n  - override hydra/launcher: joblib\n  - _self_\n"
    )
    (conf / "hydra" / "launcher").mkdir(parents=True)
    (conf / "hydra" / "launcher" / "joblib.yaml").write_text("n_jobs: 4\n")
    with caplog.at_level(logging.WARNING, logger="tane"):
        cfg = Composer(str(conf), "config").compose([])
    assert cfg.model.alpha == 0.0005
    assert "hydra/launcher=joblib" in caplog.text


def test_sweeper_params_are_read(conf: Path) -> None:
    (conf / "config.yaml").write_text(
        "defaults:\n  - model: elastic_net\n  - _self_\n"
        "hydra:\n  sweeper:\n    params:\n      model.alpha: tag(log, interval(1e-4, 1))\n"
        "      model: choice(elastic_net, catboost)\n"
    )
    assert Composer(str(conf), "config").sweeper_params() == {
        "model.alpha": "tag(log, interval(1e-4, 1))",
        "model": "choice(elastic_net, catboost)",
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=nope"], "Available options in 'model': catboost elastic_net"),
        (["a=[1,"], "malformed override"),
        (["seed=1,2"], "is a sweep"),
        (["missing.key=1"], "+missing.key=1"),
    ],
)
def test_bad_input(conf: Path, overrides: list[str], message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        Composer(str(conf), "config").compose(overrides)
    assert message in str(info.value)


def test_missing_config_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=str(tmp_path / "nope")):
        tane.compose(str(tmp_path / "nope"), "config")


def test_no_config_at_all() -> None:
    assert dict(Composer(None, None).compose([])) == {}
