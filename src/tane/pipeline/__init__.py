"""Pipelines: nodes over a data catalog, runners, content-hash caching and lineage.

    from tane.pipeline import DataCatalog, Pipeline, node

    pipe = Pipeline([node(clean, "raw", "clean"), node(train, ["clean", "params:model"], "model")])
    catalog = DataCatalog.from_yaml("conf/catalog.yaml")
    result = tane.pipeline.run(pipe, catalog, params={"model": {"lr": 0.1}})

Everything here works in a notebook without a project; ``tane run`` adds the
project (config, catalog, registry), the cache and the tracked run.
"""

from __future__ import annotations

from typing import Any

# Imported now (both are light): the functions `node` and `pipeline` must win
# over the submodules of the same names as attributes of this package.
from tane.pipeline.node import Node, node
from tane.pipeline.pipeline import Pipeline, pipeline

__all__ = [
    "DataCatalog",
    "Node",
    "NodeCache",
    "Pipeline",
    "PipelineResult",
    "hook_impl",
    "node",
    "pipeline",
    "run",
    "run_project",
]

_WHERE = {
    "DataCatalog": "tane.pipeline.catalog",
    "NodeCache": "tane.pipeline.cache",
    "PipelineResult": "tane.pipeline.runner",
    "run": "tane.pipeline.runner",
    "hook_impl": "tane.pipeline.hooks",
    "run_project": "tane.pipeline.session",
}

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tane.pipeline.cache import NodeCache
    from tane.pipeline.catalog import DataCatalog
    from tane.pipeline.hooks import hook_impl
    from tane.pipeline.runner import PipelineResult, run
    from tane.pipeline.session import run_project


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tane.pipeline' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
