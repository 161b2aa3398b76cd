"""Hooks around pipeline runs, with Kedro's names, through pluggy.

A hook implementation is any object with methods named as below (a subset of
the arguments is fine), marked with ``@hook_impl``::

    from tane.pipeline.hooks import hook_impl

    class Timing:
        @hook_impl
        def after_node_run(self, node, duration):
            print(node.name, duration)

Register it in ``tane.yaml`` (``hooks: ["my_pkg.hooks:Timing"]``; a class is
instantiated) or from an installed package through the ``tane.hooks`` entry
point group.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import pluggy

from tane.errors import InvalidInput

hook_spec = pluggy.HookspecMarker("tane")
hook_impl = pluggy.HookimplMarker("tane")

ENTRY_POINT_GROUP = "tane.hooks"


class PipelineHooks:
    """The hook specifications (what a hook implementation may define)."""

    @hook_spec
    def after_catalog_created(self, catalog: Any) -> None:
        """The catalog of a run is ready."""

    @hook_spec
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        """A pipeline run starts (``run_params`` holds run_id, pipeline_name, runner ...)."""

    @hook_spec
    def after_pipeline_run(
        self, run_params: dict[str, Any], run_result: dict[str, Any], pipeline: Any, catalog: Any
    ) -> None:
        """A pipeline run finished; ``run_result`` holds its free memory outputs."""

    @hook_spec
    def on_pipeline_error(
        self, error: BaseException, run_params: dict[str, Any], pipeline: Any, catalog: Any
    ) -> None:
        """A pipeline run failed."""

    @hook_spec
    def before_node_run(self, node: Any, catalog: Any, inputs: dict[str, Any], run_id: str) -> None:
        """A node is about to run (``inputs`` describes each input)."""

    @hook_spec
    def after_node_run(
        self,
        node: Any,
        catalog: Any,
        outputs: dict[str, Any],
        status: str,
        duration: float,
        run_id: str,
    ) -> None:
        """A node ran or was taken from the cache (``status`` says which)."""

    @hook_spec
    def on_node_error(
        self, error: BaseException, node: Any, catalog: Any, inputs: dict[str, Any], run_id: str
    ) -> None:
        """A node failed on its last attempt."""


def hook_manager(
    refs: Sequence[Any] = (), found: Sequence[tuple[str, str]] | None = None
) -> pluggy.PluginManager:
    """A plugin manager with the entry-point plugins and the given hook objects or refs."""
    from tane.pipeline._nohooks import entry_points

    found = entry_points() if found is None else found
    manager = pluggy.PluginManager("tane")
    manager.add_hookspecs(PipelineHooks)
    for name, value in found:
        plugin = _resolve(value)
        if manager.get_plugin(name) is None and not manager.is_registered(plugin):
            manager.register(plugin, name=name)
    for ref in refs:
        plugin = _resolve(ref) if isinstance(ref, str) else ref
        if manager.is_registered(plugin):
            continue
        try:
            manager.register(plugin)
        except (ValueError, pluggy.PluginValidationError) as exc:
            raise InvalidInput(f"hook {ref!r} cannot be registered: {exc}") from None
    return manager


def _resolve(ref: str) -> Any:
    module_name, _, attr = ref.partition(":")
    if not attr:
        raise InvalidInput(f"hook {ref!r} must look like 'package.module:HookClass'")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidInput(f"hook {ref!r} cannot be imported: {exc}") from None
    return obj() if isinstance(obj, type) else obj
