"""tane.instantiate: Hydra's instantiate with errors that name the node and the target."""

from __future__ import annotations

import functools
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf

from tane.config._instantiate import instantiate
from tane.errors import InvalidInput

MODULE = "tane_test_targets"

SOURCE = """
class Optimizer:
    def __init__(self, lr, momentum=0.9):
        self.lr = lr
        self.momentum = momentum


class Model:
    def __init__(self, alpha, optimizer=None, layers=None, extra=None):
        if alpha < 0:
            raise ValueError("alpha must be >= 0")
        self.alpha = alpha
        self.optimizer = optimizer
        self.layers = layers
        self.extra = extra


def scale(x, factor=2):
    return x * factor
"""


@pytest.fixture
def targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An importable module of targets, written to a temporary folder."""
    (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent(SOURCE), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield MODULE
    sys.modules.pop(MODULE, None)


def _cfg(targets: str, **model: Any) -> DictConfig:
    node = {"_target_": f"{targets}.Model", "alpha": 0.5, **model}
    cfg = OmegaConf.create({"seed": 3, "model": node})
    assert isinstance(cfg, DictConfig)
    return cfg


# -- building --------------------------------------------------------------------------------


def test_builds_an_object(targets: str) -> None:
    model = instantiate(_cfg(targets).model)
    assert type(model).__name__ == "Model"
    assert model.alpha == 0.5


def test_nested_targets_are_built_first(targets: str) -> None:
    cfg = _cfg(targets, optimizer={"_target_": f"{targets}.Optimizer", "lr": "${seed}"})
    model = instantiate(cfg.model)
    assert type(model.optimizer).__name__ == "Optimizer"
    assert model.optimizer.lr == 3


def test_partial_returns_a_callable(targets: str) -> None:
    cfg = OmegaConf.create({"f": {"_target_": f"{targets}.scale", "_partial_": True, "factor": 3}})
    scale = instantiate(cfg.f)
    assert isinstance(scale, functools.partial)
    assert scale(2) == 6


def test_args_and_call_time_arguments(targets: str) -> None:
    cfg = OmegaConf.create({"f": {"_target_": f"{targets}.scale", "_args_": [5]}})
    assert instantiate(cfg.f) == 10
    assert instantiate(cfg.f, factor=10) == 50


def test_convert_controls_what_plain_containers_become(targets: str) -> None:
    cfg = _cfg(targets, layers=[1, 2], extra={"a": 1})
    kept = instantiate(cfg.model)
    assert isinstance(kept.extra, DictConfig)
    converted = instantiate(cfg.model, _convert_="all")
    assert type(converted.layers) is list
    assert type(converted.extra) is dict


def test_a_plain_dict_works(targets: str) -> None:
    model = instantiate({"_target_": f"{targets}.Model", "alpha": 1})
    assert model.alpha == 1


# -- errors ----------------------------------------------------------------------------------


def _error(config: Any, *args: Any, **kwargs: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        instantiate(config, *args, **kwargs)
    error = info.value
    assert not isinstance(error, InstantiationException)
    assert error.__cause__ is not None
    assert "HYDRA_FULL_ERROR" not in str(error)
    return error


def test_unknown_module() -> None:
    cfg = OmegaConf.create({"model": {"_target_": "no_such_module_xyz.Model", "alpha": 1}})
    message = str(_error(cfg.model))
    assert "'model'" in message
    assert "'no_such_module_xyz.Model'" in message
    assert "no module named 'no_such_module_xyz'" in message
    assert "installed" in message


def test_unknown_class_suggests_the_close_name(targets: str) -> None:
    cfg = _cfg(targets)
    cfg.model._target_ = f"{targets}.Modle"
    message = str(_error(cfg.model))
    assert f"'{targets}.Modle'" in message
    assert "has no attribute 'Modle'" in message
    assert f"did you mean '{targets}.Model'" in message


def test_bad_keyword_names_target_key_and_fix(targets: str) -> None:
    error = _error(_cfg(targets, alpah=1).model)
    message = str(error)
    assert "config node 'model'" in message
    assert f"'{targets}.Model'" in message
    assert "unexpected keyword argument 'alpah'" in message
    assert "did you mean 'alpha'" in message
    assert "it accepts: alpha, optimizer, layers, extra" in message
    assert isinstance(error.__cause__, TypeError)


def test_missing_argument(targets: str) -> None:
    cfg = OmegaConf.create({"opt": {"_target_": f"{targets}.Optimizer"}})
    message = str(_error(cfg.opt))
    assert "'opt'" in message
    assert "missing 1 required positional argument: 'lr'" in message


def test_nested_error_names_the_nested_node(targets: str) -> None:
    cfg = _cfg(targets, optimizer={"_target_": f"{targets}.Optimizer", "lr": 1, "moment": 0})
    message = str(_error(cfg.model))
    assert "config node 'model.optimizer'" in message
    assert f"'{targets}.Optimizer'" in message
    assert "did you mean 'momentum'" in message


def test_unresolvable_interpolation_names_the_key(targets: str) -> None:
    message = str(_error(_cfg(targets, layers="${nope}").model))
    assert "'model.layers'" in message
    assert "nope" in message


def test_target_that_is_not_callable() -> None:
    message = str(_error(OmegaConf.create({"m": {"_target_": 3}}).m))
    assert "config node 'm'" in message
    assert "callable" in message


def test_errors_from_the_targets_own_code_propagate_unchanged(targets: str) -> None:
    with pytest.raises(ValueError, match="alpha must be >= 0") as info:
        instantiate(_cfg(targets, alpha=-1).model)
    assert not isinstance(info.value, InvalidInput)
    if sys.version_info >= (3, 11):
        assert any("config node 'model'" in note for note in info.value.__notes__)
