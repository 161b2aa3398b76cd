"""Search spaces: Hydra's sweep syntax (and the ``sweep:`` section) as Optuna distributions.

model.alpha='tag(log, interval(1e-4, 1))'   -> FloatDistribution(1e-4, 1, log=True)
model.l1_ratio='interval(0, 1)'             -> FloatDistribution(0, 1)
model.depth='tag(int, interval(2, 10))'     -> IntDistribution(2, 10)
model.layers='range(1, 5)'                  -> IntDistribution(1, 4)   (a..b-1, as -m)
model=elastic_net,catboost / choice(a, b)   -> CategoricalDistribution
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tane.errors import InvalidInput

if TYPE_CHECKING:
    from hydra.core.override_parser.types import Override
    from optuna.distributions import BaseDistribution

#: The most values a range() may list (a search over more is a continuous interval).
MAX_RANGE_VALUES = 1_000_000
# A string Hydra reads back as the same string without quotes.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./\-]*")
_WORDS = frozenset({"true", "false", "null", "nan", "inf", "infinity"})


@dataclass
class SearchSpace:
    """What a sweep searches: a distribution per key, and the overrides every trial gets.

    Attributes:
        params: Config key (or group) -> distribution, in the order given.
        fixed: Overrides that are not searched (``trainer.epochs=5``).
    """

    params: dict[str, BaseDistribution] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)

    def overrides(self, values: Mapping[str, Any]) -> list[str]:
        """The overrides of one trial: the fixed ones, then ``key=value`` per searched key."""
        return [*self.fixed, *(f"{k}={format_value(v)}" for k, v in values.items())]

    def is_grid(self) -> bool:
        """True when every searched key takes a finite list of values."""
        from optuna.distributions import CategoricalDistribution, IntDistribution

        return all(
            isinstance(d, (CategoricalDistribution, IntDistribution))
            or getattr(d, "step", None) is not None
            for d in self.params.values()
        )

    def grid(self) -> dict[str, list[Any]]:
        """Every value of every key, for Optuna's grid sampler."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        out: dict[str, list[Any]] = {}
        for key, dist in self.params.items():
            if isinstance(dist, CategoricalDistribution):
                out[key] = list(dist.choices)
            elif isinstance(dist, IntDistribution):
                out[key] = list(range(dist.low, dist.high + 1, dist.step))
            elif isinstance(dist, FloatDistribution) and dist.step is not None:
                count = round((dist.high - dist.low) / dist.step) + 1
                out[key] = [dist.low + i * dist.step for i in range(count)]
            else:
                raise InvalidInput(
                    f"{key}: a grid sampler needs values to list, and {describe(dist)} is a "
                    "continuous range: give a list (a=0.1,0.2), a range(), or another sampler"
                )
        return out


def format_value(value: Any) -> str:
    """A trial's value as Hydra override text that composes back to the same value.

    Floats in full precision; a string that Hydra would read as something else (a
    number, ``null``, a list, text with commas or quotes) in quotes, Hydra's way.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and value.lower() not in _WORDS:
            return value
        # Hydra halves a run of backslashes only before a quote or the closing quote.
        quoted = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", value)
        quoted = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, quoted)
        return f"'{quoted}'"
    return str(value)


def describe(dist: BaseDistribution) -> str:
    """A distribution in the words of the sweep syntax (for messages and tables)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return f"choice({', '.join(map(str, dist.choices))})"
    if isinstance(dist, (FloatDistribution, IntDistribution)):
        kind = "int " if isinstance(dist, IntDistribution) else ""
        log = "log " if dist.log else ""
        step = f" step {dist.step}" if dist.step not in (None, 1) else ""
        return f"{log}{kind}[{dist.low}, {dist.high}]{step}"
    return repr(dist)


def from_overrides(parsed: Sequence[Override]) -> SearchSpace:
    """A search space from overrides parsed by Hydra's parser (sweeps searched, rest fixed)."""
    space = SearchSpace()
    for override in parsed:
        key = override.get_key_element()
        if not override.is_sweep_override():
            space.fixed.append(
                override.input_line or f"{key}={override.get_value_element_as_str()}"
            )
            continue
        space.params[key] = _distribution(key, override.value(), override.input_line or key)
    return space


def from_expressions(
    exprs: Mapping[str, Any], parse: Any, where: str = "the sweep section"
) -> SearchSpace:
    """A space from ``key: expression`` pairs (``sweep.params`` or ``hydra.sweeper.params``).

    Args:
        exprs: Key -> sweep expression (``interval(0,1)``), a list of choices, or a
            mapping ``{type: float|int|categorical, low:, high:, log:, step:, choices:}``.
        parse: Parses ``["key=expr", ...]`` into Hydra overrides (Composer.parse).
        where: Where the expressions came from, for messages.
    """
    space = SearchSpace()
    lines = []
    for key, expr in exprs.items():
        if isinstance(expr, Mapping):
            space.params[str(key)] = _from_mapping(str(key), expr, where)
        elif isinstance(expr, (list, tuple)):
            lines.append(f"{key}=choice({','.join(format_value(v) for v in expr)})")
        else:
            lines.append(f"{key}={expr}")
    if lines:
        parsed = from_overrides(parse(lines))
        space.fixed += parsed.fixed
        space.params.update(parsed.params)
    return space


def _from_mapping(key: str, spec: Mapping[str, Any], where: str) -> BaseDistribution:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    kind = str(spec.get("type", "float" if "low" in spec else "categorical"))
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, (list, tuple)) or not choices:
            raise InvalidInput(f"{where}: {key}: a categorical needs a non-empty `choices:` list")
        return CategoricalDistribution(list(choices))
    if kind not in ("float", "int"):
        raise InvalidInput(f"{where}: {key}: type {kind!r} is not float, int or categorical")
    try:
        low, high = float(spec["low"]), float(spec["high"])
    except (KeyError, TypeError, ValueError):
        raise InvalidInput(f"{where}: {key}: give numbers `low:` and `high:`") from None
    log = bool(spec.get("log", False))
    step = spec.get("step")
    _check_bounds(key, low, high, log)
    if kind == "int":
        return IntDistribution(int(low), int(high), log=log, step=int(step or 1))
    return FloatDistribution(low, high, log=log, step=float(step) if step else None)


def _range(key: str, start: Any, stop: Any, step: Any, log: bool, line: str) -> BaseDistribution:
    """``range(start, stop[, step])`` as -m lists it (stop excluded), counting up or down."""
    from optuna.distributions import FloatDistribution, IntDistribution

    if start is None or stop is None:
        raise InvalidInput(f"{line!r}: a range needs a start and a stop")
    step = 1 if step is None else step
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise InvalidInput(f"{line!r}: a range needs finite numbers")
    if step == 0:
        raise InvalidInput(f"{line!r}: a range's step cannot be 0")
    if (stop - start) * step <= 0:
        direction = "above" if step > 0 else "below"
        raise InvalidInput(
            f"{line!r}: range({start}, {stop}, {step}) holds no value (a..b-1, as in -m): "
            f"give a stop {direction} the start"
        )
    span = (stop - start) / step  # inf when the ends are far apart and the step tiny
    count = math.ceil(span) if math.isfinite(span) else math.inf
    if count > MAX_RANGE_VALUES:
        raise InvalidInput(
            f"{line!r}: a range of {count:,.0f} values: use interval({start}, {stop}) "
            f"(tag(int, ...) for integers) to search it as a continuous range"
        )
    last = start + (count - 1) * step
    low, high, stride = (start, last, step) if step > 0 else (last, start, -step)
    if all(isinstance(v, int) for v in (start, stop, step)):
        _check_bounds(key, low, high + 0.5, log)
        return IntDistribution(int(low), int(high), log=log, step=int(stride))
    _check_bounds(key, float(low), float(high) + abs(step) / 2, log)
    return FloatDistribution(float(low), float(high), log=log, step=float(stride))


def _check_bounds(key: str, low: float, high: float, log: bool) -> None:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InvalidInput(f"{key}: the range [{low}, {high}] must have finite bounds")
    if low > high:
        raise InvalidInput(f"{key}: the range [{low}, {high}] is inverted: write the low end first")
    if low == high:
        raise InvalidInput(f"{key}: the range [{low}, {high}] is empty: give two different ends")
    if log and low <= 0:
        raise InvalidInput(
            f"{key}: a log scale needs a positive low end, got {low} "
            "(use interval(1e-6, ...) or drop tag(log, ...))"
        )


def _distribution(key: str, value: Any, line: str) -> BaseDistribution:
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    tags = set(getattr(value, "tags", set()) or set())
    log = "log" in tags
    if isinstance(value, ChoiceSweep):
        choices = list(value.list)
        if not choices:
            raise InvalidInput(f"{line!r}: an empty choice")
        for choice in choices:
            if not isinstance(choice, (str, int, float, bool)) and choice is not None:
                raise InvalidInput(
                    f"{line!r}: choices must be numbers, strings or booleans, got {choice!r}"
                )
        return CategoricalDistribution(choices)  # type: ignore[arg-type]
    if isinstance(value, RangeSweep):
        return _range(key, value.start, value.stop, value.step, log, line)
    if isinstance(value, IntervalSweep):
        if value.start is None or value.end is None:
            raise InvalidInput(f"{line!r}: an interval needs two ends")
        low, high = float(value.start), float(value.end)
        _check_bounds(key, low, high, log)
        if "int" in tags:
            lowest, highest = math.ceil(low), math.floor(high)
            if lowest > highest:
                raise InvalidInput(f"{line!r}: no integer lies in [{low}, {high}]")
            return IntDistribution(lowest, highest, log=log)
        return FloatDistribution(low, high, log=log)
    raise InvalidInput(
        f"{line!r}: a sweep searches interval(), range(), choice() or a comma list; "
        f"{type(value).__name__} is not searchable"
    )
