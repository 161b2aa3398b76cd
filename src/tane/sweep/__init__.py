"""Sweeps: many jobs of one app as child runs of one parent run, by grid or by search.

``tane.sweep`` is this package and also the define-by-run entry point:
``tane.sweep(objective, n_trials=100)`` calls :func:`tane.sweep.define.sweep`.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    """Lets ``tane.sweep(objective, ...)`` work although ``tane.sweep`` is a package."""

    def __call__(self, objective: Any, **options: Any) -> Any:
        from tane.sweep.define import sweep

        return sweep(objective, **options)


sys.modules[__name__].__class__ = _CallablePackage
