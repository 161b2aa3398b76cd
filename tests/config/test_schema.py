"""Typed schemas (dataclasses, pydantic) and the check for ??? values."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytest
from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, ConfigDict

from tane.config._schema import check_missing, missing_keys, validate
from tane.errors import InvalidInput

SECRET = "s3cr3t-value-never-shown"


def _cfg(data: dict[str, Any], struct: bool = False) -> DictConfig:
    cfg = OmegaConf.create(data)
    assert isinstance(cfg, DictConfig)
    if struct:
        OmegaConf.set_struct(cfg, True)
    return cfg


def _error(data: dict[str, Any], schema: Any) -> str:
    with pytest.raises(InvalidInput) as info:
        validate(_cfg(data), schema)
    return str(info.value)


# -- dataclasses ---------------------------------------------------------------------------


@dataclass
class Model:
    alpha: float = 0.1
    depth: int = 3
    layers: list[int] = field(default_factory=lambda: [64])
    dropout: float | None = None


@dataclass
class Config:
    model: Model = field(default_factory=Model)
    seed: int = 0


def test_dataclass_fills_defaults_and_converts() -> None:
    cfg = validate(_cfg({"model": {"alpha": "0.5"}}), Config)
    assert cfg.model.alpha == 0.5
    assert isinstance(cfg.model.alpha, float)
    assert cfg.model.depth == 3
    assert cfg.seed == 0


def test_dataclass_instance_works_too() -> None:
    cfg = validate(_cfg({"seed": 4}), Config(seed=1))
    assert cfg.seed == 4


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"model": {"alpha": "abc"}}, "model.alpha = 'abc' (str): expected float"),
        ({"model": {"depth": 1.5}}, "model.depth = 1.5 (float): expected int"),
        ({"model": {"layers": [1, "x"]}}, "model.layers.1 = 'x' (str): expected int"),
        ({"model": {"dropout": "high"}}, "model.dropout = 'high' (str): expected float or None"),
        ({"model": 3}, "model = 3 (int): expected a mapping (Model)"),
        ({"model": {"layers": 5}}, "model.layers = 5 (int): expected a list (List[int])"),
        ({"seed": [1]}, "seed = [1] (list): expected int"),
    ],
)
def test_dataclass_type_errors_name_key_value_and_type(data: dict[str, Any], expected: str) -> None:
    message = _error(data, Config)
    assert message.startswith("config does not match the schema Config: ")
    assert expected in message


def test_dataclass_unknown_key_suggests_the_close_one() -> None:
    message = _error({"model": {"alpah": 1}}, Config)
    assert "config key 'model.alpah' is not in the schema" in message
    assert "did you mean 'alpha'" in message


def test_dataclass_keeps_interpolations_and_types_their_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TANE_TEST_ALPHA", "0.25")
    cfg = validate(_cfg({"model": {"alpha": "${oc.env:TANE_TEST_ALPHA}"}}), Config)
    assert OmegaConf.is_interpolation(cfg.model, "alpha")
    assert cfg.model.alpha == 0.25


def test_dataclass_error_never_shows_an_interpolated_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TANE_TEST_SECRET", SECRET)
    with pytest.raises(InvalidInput) as info:
        validate(_cfg({"model": {"alpha": "${oc.env:TANE_TEST_SECRET}"}}), Config)
    assert "model.alpha = '${oc.env:TANE_TEST_SECRET}'" in str(info.value)
    assert "expected float" in str(info.value)
    chain: BaseException | None = info.value
    while chain is not None:
        assert SECRET not in str(chain)
        chain = chain.__cause__


def test_dataclass_required_field_absent_from_the_config() -> None:
    @dataclass
    class Strict:
        alpha: float
        beta: float = 1.0

    message = _error({"beta": 2.0}, Strict)
    assert "config value 'alpha' is missing (???)" in message
    assert "+alpha=<value>" in message  # not in the config: Hydra needs the + form


def test_dataclass_config_mandatory_value_counts_even_with_a_schema_default() -> None:
    message = _error({"seed": "???"}, Config)
    assert "config value 'seed' is missing (???)" in message
    assert "e.g. seed=<value>" in message


def test_dataclass_unresolvable_interpolation_names_the_key() -> None:
    message = _error({"model": {"alpha": "${oc.env:TANE_TEST_UNSET_VAR}"}}, Config)
    assert "config value 'model.alpha' cannot be resolved" in message
    assert "TANE_TEST_UNSET_VAR" in message


def test_hydra_node_is_left_out_of_validation_and_kept() -> None:
    cfg = validate(_cfg({"seed": 1, "hydra": {"job": {"name": "x"}}}, struct=True), Config)
    assert cfg.seed == 1
    assert cfg.hydra.job.name == "x"


# -- pydantic ---------------------------------------------------------------------------------


class PModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alpha: float
    depth: int = 3
    layers: list[int] = [64]
    kind: int | str = 1


class PConfig(BaseModel):
    model: PModel
    seed: int = 0


def test_pydantic_coerces_and_fills_defaults_into_the_config() -> None:
    cfg = validate(
        _cfg({"model": {"alpha": "0.5", "layers": ["1", 2]}, "note": "kept"}, struct=True), PConfig
    )
    assert isinstance(cfg, DictConfig)
    assert cfg.model.alpha == 0.5
    assert isinstance(cfg.model.alpha, float)
    assert list(cfg.model.layers) == [1, 2]
    assert cfg.model.depth == 3
    assert cfg.seed == 0
    assert cfg.note == "kept"  # a key the model ignores stays


def test_pydantic_leaves_the_input_config_unchanged() -> None:
    original = _cfg({"model": {"alpha": "0.5"}})
    validate(original, PConfig)
    assert original.model.alpha == "0.5"
    assert "seed" not in original


def test_pydantic_one_line_per_problem() -> None:
    message = _error(
        {"model": {"alpha": "abc", "depth": 1.5, "layers": [1, "x"], "foo": 1, "kind": [1]}},
        PConfig,
    )
    lines = message.splitlines()
    assert lines[0] == "config does not match the schema PConfig:"
    assert len(lines) == 6
    body = "\n".join(lines[1:])
    assert "model.alpha = 'abc' (str): expected float" in body
    assert "model.depth = 1.5 (float): expected int" in body
    assert "model.layers.1 = 'x' (str): expected int" in body
    assert "model.foo = 1 (int): not in the schema" in body
    # both branches of the union reported on the one key they concern
    assert "model.kind = [1] (list): expected Union[int, str]" in body


def test_pydantic_single_problem_is_one_line() -> None:
    message = _error({"model": {"alpha": "abc"}}, PConfig)
    assert "\n" not in message
    assert message.startswith("config does not match the schema PConfig: model.alpha = 'abc'")


def test_pydantic_required_key_absent() -> None:
    message = _error({"seed": 1}, PConfig)
    assert "model: not in the config, and the schema requires it (PModel)" in message


def test_pydantic_keeps_interpolations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANE_TEST_ALPHA", "0.75")
    cfg = validate(_cfg({"model": {"alpha": "${oc.env:TANE_TEST_ALPHA}"}}), PConfig)
    assert OmegaConf.is_interpolation(cfg.model, "alpha")
    assert cfg.model.depth == 3


def test_pydantic_error_never_shows_an_interpolated_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TANE_TEST_SECRET", SECRET)
    with pytest.raises(InvalidInput) as info:
        validate(_cfg({"model": {"alpha": "${oc.env:TANE_TEST_SECRET}"}}), PConfig)
    assert "model.alpha = '${oc.env:TANE_TEST_SECRET}' (an interpolation)" in str(info.value)
    assert SECRET not in str(info.value)
    assert info.value.__cause__ is None  # pydantic's message would repeat the value


def test_pydantic_mandatory_value() -> None:
    message = _error({"model": {"alpha": "???"}}, PConfig)
    assert message.startswith("config value 'model.alpha' is missing (???)")


def test_not_a_schema() -> None:
    assert "neither a dataclass nor a pydantic model" in _error({}, dict)


# -- missing values -----------------------------------------------------------------------------


def test_missing_keys_in_config_order_with_list_indices() -> None:
    cfg = _cfg(
        {
            "model": {"alpha": "???", "l1": 0.5, "opt": {"lr": "???"}},
            "layers": [1, "???"],
            "data": "???",
            "ref": "${model.alpha}",  # interpolations are not followed
            "hydra": {"job": {"name": "???"}},
        }
    )
    assert missing_keys(cfg) == ["model.alpha", "model.opt.lr", "layers.1", "data"]


def test_missing_keys_of_a_structured_config() -> None:
    @dataclass
    class Need:
        alpha: float = dataclasses.MISSING  # type: ignore[assignment]

    assert missing_keys(OmegaConf.structured(Need)) == ["alpha"]


def test_check_missing_message() -> None:
    with pytest.raises(InvalidInput) as info:
        check_missing(_cfg({"model": {"alpha": "???"}}))
    assert str(info.value) == (
        "config value 'model.alpha' is missing (???): set it on the command line, "
        "e.g. model.alpha=<value>"
    )
    with pytest.raises(InvalidInput, match=r"'a', 'b\.c' are missing .* a=<value> b\.c=<value>"):
        check_missing(_cfg({"a": "???", "b": {"c": "???"}}))
    check_missing(_cfg({"a": 1}))
