"""tane: configs, pipelines, tracked runs and sweeps in one toolkit.

``import tane`` loads nothing heavy: each name below is imported on first use.
"""

from __future__ import annotations

from importlib import import_module

from tane._version import __version__

# Not imported from typing: importing typing alone costs more than the rest of
# `import tane` (see docs/benchmarks.md).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tane.config._app import main
    from tane.config._capture import capture
    from tane.config._compose import compose
    from tane.config._context import active_config
    from tane.config._instantiate import instantiate
    from tane.errors import (
        ExperimentNotFound,
        InvalidFilter,
        InvalidInput,
        NoActiveRun,
        ParamConflict,
        RunNotFound,
        StoreError,
        TaneError,
    )
    from tane.sweep.trial import TrialPruned, should_prune
    from tane.tracking.client import Client
    from tane.tracking.entities import Experiment, Metric, Run, RunStatus
    from tane.tracking.fluent import (
        ActiveRun,
        active_run,
        end_run,
        flush,
        log_artifact,
        log_artifacts,
        log_dict,
        log_figure,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        log_text,
        run_dir,
        set_note,
        set_tag,
        set_tags,
        start_run,
    )
    from tane.tracking.models import load_model, log_model

_LAZY = {
    "start_run": "tane.tracking.fluent",
    "end_run": "tane.tracking.fluent",
    "active_run": "tane.tracking.fluent",
    "ActiveRun": "tane.tracking.fluent",
    "log_metric": "tane.tracking.fluent",
    "log_metrics": "tane.tracking.fluent",
    "log_param": "tane.tracking.fluent",
    "log_params": "tane.tracking.fluent",
    "set_tag": "tane.tracking.fluent",
    "set_tags": "tane.tracking.fluent",
    "set_note": "tane.tracking.fluent",
    "log_artifact": "tane.tracking.fluent",
    "log_artifacts": "tane.tracking.fluent",
    "log_text": "tane.tracking.fluent",
    "log_dict": "tane.tracking.fluent",
    "log_figure": "tane.tracking.fluent",
    "run_dir": "tane.tracking.fluent",
    "main": "tane.config._app",
    "compose": "tane.config._compose",
    "capture": "tane.config._capture",
    "instantiate": "tane.config._instantiate",
    "active_config": "tane.config._context",
    "flush": "tane.tracking.fluent",
    "Client": "tane.tracking.client",
    "Run": "tane.tracking.entities",
    "RunStatus": "tane.tracking.entities",
    "Experiment": "tane.tracking.entities",
    "Metric": "tane.tracking.entities",
    "TaneError": "tane.errors",
    "StoreError": "tane.errors",
    "InvalidInput": "tane.errors",
    "InvalidFilter": "tane.errors",
    "ParamConflict": "tane.errors",
    "RunNotFound": "tane.errors",
    "ExperimentNotFound": "tane.errors",
    "NoActiveRun": "tane.errors",
    "should_prune": "tane.sweep.trial",
    "TrialPruned": "tane.sweep.trial",
    "log_model": "tane.tracking.models",
    "load_model": "tane.tracking.models",
    # Not in the type-checking imports above: the core may not import integrations.
    "autolog": "tane.integrations.sklearn",
    # IPython's hook for `%load_ext tane` (not in __all__: not for calling by hand)
    "load_ipython_extension": "tane.integrations.jupyter",
}

__all__ = [
    "ActiveRun",
    "Client",
    "Experiment",
    "ExperimentNotFound",
    "InvalidFilter",
    "InvalidInput",
    "Metric",
    "NoActiveRun",
    "ParamConflict",
    "Run",
    "RunNotFound",
    "RunStatus",
    "StoreError",
    "TaneError",
    "TrialPruned",
    "__version__",
    "active_config",
    "active_run",
    "autolog",
    "capture",
    "compose",
    "end_run",
    "flush",
    "instantiate",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_text",
    "main",
    "run_dir",
    "set_note",
    "set_tag",
    "set_tags",
    "should_prune",
    "start_run",
    "sweep",
]


def __getattr__(name: str) -> Any:
    if name == "sweep":
        # The package, which is callable: tane.sweep(objective, n_trials=...).
        return import_module("tane.sweep")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tane' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
