"""Search spaces from Hydra's sweep syntax and from the sweep: section."""

from __future__ import annotations

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from tane.config._compose import Composer
from tane.errors import InvalidInput
from tane.sweep.space import SearchSpace, format_value, from_expressions, from_overrides


def space(*overrides: str) -> SearchSpace:
    return from_overrides(Composer(None, None, "t").parse(list(overrides)))


def test_each_sweep_form_becomes_its_distribution() -> None:
    s = space(
        "a=interval(0,1)",
        "b=tag(log, interval(1e-4, 1))",
        "c=tag(int, interval(2, 10))",
        "d=range(1,5)",
        "e=choice(x,y)",
        "f=1,2,3",
        "g=range(0,1,0.25)",
        "fixed=5",
    )
    assert s.params["a"] == FloatDistribution(0.0, 1.0)
    assert s.params["b"] == FloatDistribution(1e-4, 1.0, log=True)
    assert s.params["c"] == IntDistribution(2, 10)
    assert s.params["d"] == IntDistribution(1, 4)  # a..b-1, as in -m
    assert s.params["e"] == CategoricalDistribution(["x", "y"])
    assert s.params["f"] == CategoricalDistribution([1, 2, 3])
    assert s.params["g"] == FloatDistribution(0.0, 0.75, step=0.25)
    assert s.fixed == ["fixed=5"]
    assert s.overrides({"a": 0.5, "e": "x"}) == ["fixed=5", "a=0.5", "e=x"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("a=interval(1,0)", "inverted"),
        ("a=interval(1,1)", "empty"),
        ("a=tag(log, interval(0, 1))", "positive low end"),
        ("a=range(5,1)", "holds no value"),
    ],
)
def test_bad_ranges_are_refused_with_the_fix(override: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        space(override)


def test_a_grid_lists_every_value_and_refuses_continuous_ranges() -> None:
    assert space("a=1,2", "b=range(0,3)").grid() == {"a": [1, 2], "b": [0, 1, 2]}
    assert space("a=1,2").is_grid()
    with pytest.raises(InvalidInput, match="a grid sampler needs values to list"):
        space("a=interval(0,1)").grid()


def test_the_sweep_section_takes_expressions_lists_and_mappings() -> None:
    parse = Composer(None, None, "t").parse
    s = from_expressions(
        {
            "lr": "tag(log, interval(1e-4, 0.1))",
            "depth": [3, 5, 7],
            "dropout": {"type": "float", "low": 0.0, "high": 0.5},
            "layers": {"type": "int", "low": 1, "high": 4},
        },
        parse,
    )
    assert s.params["lr"] == FloatDistribution(1e-4, 0.1, log=True)
    assert s.params["depth"] == CategoricalDistribution([3, 5, 7])
    assert s.params["dropout"] == FloatDistribution(0.0, 0.5)
    assert s.params["layers"] == IntDistribution(1, 4)
    with pytest.raises(InvalidInput, match="type 'normal' is not float"):
        from_expressions({"x": {"type": "normal", "low": 0, "high": 1}}, parse)


def test_values_are_written_back_as_override_text() -> None:
    assert format_value(0.1 + 0.2) == "0.30000000000000004"
    assert format_value(True) == "true"
    assert format_value(None) == "null"
    assert format_value("catboost") == "catboost"
