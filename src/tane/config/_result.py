"""What a task's return value records: the one rule for @tane.main and Hydra apps."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any


def return_metrics(value: Any) -> tuple[dict[str, float], str | None]:
    """Return the metrics a task's return value stands for, and what was left out.

    A number is the metric ``objective``; a mapping gives one metric per key
    whose value is a number; None is no metric. Anything else is left out,
    and the second item says what and why.

    >>> return_metrics(0.5)
    ({'objective': 0.5}, None)
    >>> return_metrics({"acc": 0.9, "model": "lgbm"})
    ({'acc': 0.9}, 'keys model: not numbers')
    >>> return_metrics("done")
    ({}, 'a str: only a number or a dict of numbers is logged as metrics')
    """
    from tane.errors import InvalidInput
    from tane.tracking.values import check_key

    if value is None:
        return {}, None
    number = _number(value)
    if number is not None:
        return {"objective": number}, None
    if isinstance(value, Mapping):
        metrics: dict[str, float] = {}
        left_out: list[str] = []
        for key, item in value.items():
            number = _number(item)
            try:
                if number is None:
                    raise InvalidInput("not a number")
                metrics[check_key(key, "metric key")] = number
            except InvalidInput:
                left_out.append(str(key))
        ignored = f"keys {', '.join(left_out)}: not numbers" if left_out else None
        return metrics, ignored
    return {}, (
        f"a {type(value).__name__}: only a number or a dict of numbers is logged as metrics"
    )


def _number(value: Any) -> float | None:
    if isinstance(value, (bool, str, bytes)) or value is None:
        return None
    if isinstance(value, numbers.Real) or (
        getattr(value, "ndim", None) == 0 and hasattr(value, "__float__")
    ):
        return float(value)
    return None
