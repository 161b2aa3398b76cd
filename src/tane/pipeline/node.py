"""A node: a function, the datasets it reads and the datasets it writes."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tane.errors import InvalidInput, PipelineError

#: Inputs that come from the composed config rather than the catalog.
PARAMS_PREFIX = "params:"
ALL_PARAMS = "parameters"

Names = str | Iterable[str] | Mapping[str, str] | None


def is_param(name: str) -> bool:
    """True for ``params:a.b`` and ``parameters`` inputs."""
    return name == ALL_PARAMS or name.startswith(PARAMS_PREFIX)


@dataclass(frozen=True)
class Node:
    """One step of a pipeline. Build it with :func:`node`.

    Attributes:
        func: The function called with the loaded inputs.
        inputs: Dataset names in call order (``params:...`` read the config).
        input_kwargs: For dict inputs, the keyword each input is passed as (else None).
        outputs: Dataset names the results are saved to.
        output_keys: For dict outputs, the key of the returned dict each output takes.
        name: Unique within a pipeline (namespace included).
        tags: Tags for ``--tags`` filtering.
        namespace: The modular pipeline the node belongs to, or None.
        retries: How many times a failing run is repeated before the pipeline fails.
        cache: Whether the node may be skipped when nothing it depends on changed.
        cache_memory: Whether its memory outputs are kept in the cache.
        resources: What the node needs on a cluster (``{"num_cpus": 2}``).
    """

    func: Callable[..., Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    name: str
    input_kwargs: tuple[str, ...] | None = None
    output_keys: tuple[str, ...] | None = None
    tags: frozenset[str] = field(default_factory=frozenset)
    namespace: str | None = None
    retries: int = 0
    cache: bool = True
    cache_memory: bool = True
    resources: Mapping[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        ins = ", ".join(self.inputs) or "None"
        outs = ", ".join(self.outputs) or "None"
        return f"Node({self.name}: [{ins}] -> [{outs}])"

    @property
    def dataset_inputs(self) -> tuple[str, ...]:
        """Inputs that are datasets (not params)."""
        return tuple(i for i in self.inputs if not is_param(i))

    @property
    def param_inputs(self) -> tuple[str, ...]:
        return tuple(i for i in self.inputs if is_param(i))

    def call(self, values: list[Any]) -> dict[str, Any]:
        """Call the function with input values (in ``inputs`` order); map results to outputs.

        Raises:
            PipelineError: The function returned something that does not match
                the declared outputs.
        """
        if self.input_kwargs is not None:
            result = self.func(**dict(zip(self.input_kwargs, values, strict=True)))
        else:
            result = self.func(*values)
        return self.map_outputs(result)

    def map_outputs(self, result: Any) -> dict[str, Any]:
        outs = self.outputs
        if not outs:
            return {}
        if self.output_keys is not None:
            if not isinstance(result, Mapping):
                raise PipelineError(
                    f"node {self.name!r} must return a dict with keys "
                    f"{list(self.output_keys)}, got {type(result).__name__}"
                )
            missing = [k for k in self.output_keys if k not in result]
            if missing:
                raise PipelineError(
                    f"node {self.name!r} returned a dict without keys {missing} "
                    f"(it declares outputs {dict(zip(self.output_keys, outs, strict=True))})"
                )
            return {o: result[k] for k, o in zip(self.output_keys, outs, strict=True)}
        if len(outs) == 1:
            return {outs[0]: result}
        if not isinstance(result, (list, tuple)):
            raise PipelineError(
                f"node {self.name!r} declares {len(outs)} outputs {list(outs)} but returned "
                f"one {type(result).__name__}: return a tuple of {len(outs)} values"
            )
        if len(result) != len(outs):
            raise PipelineError(
                f"node {self.name!r} declares {len(outs)} outputs {list(outs)} but returned "
                f"{len(result)} values"
            )
        return dict(zip(outs, result, strict=True))

    def renamed(
        self,
        rename: Callable[[str], str],
        *,
        name: str | None = None,
        namespace: str | None = None,
        tags: Iterable[str] = (),
    ) -> Node:
        """A copy with every input and output name passed through ``rename``."""
        return replace(
            self,
            inputs=tuple(rename(i) for i in self.inputs),
            outputs=tuple(rename(o) for o in self.outputs),
            name=name or self.name,
            namespace=namespace if namespace is not None else self.namespace,
            tags=self.tags | frozenset(tags),
        )


def node(
    func: Callable[..., Any],
    inputs: Names,
    outputs: Names,
    *,
    name: str | None = None,
    tags: str | Iterable[str] | None = None,
    retries: int = 0,
    cache: bool = True,
    cache_memory: bool = True,
    resources: Mapping[str, float] | None = None,
    namespace: str | None = None,
) -> Node:
    """Make a node: ``func`` called with the ``inputs`` datasets, saving to ``outputs``.

    Args:
        func: Any callable; its code (and the project code it reaches) is part of
            the cache key.
        inputs: A dataset name, a list (passed positionally), a dict
            ``{argument: dataset}`` (passed by keyword), or None. ``params:a.b``
            passes that part of the composed config; ``parameters`` all of it.
        outputs: A name, a list (the function returns a tuple), a dict
            ``{key: dataset}`` (the function returns a dict), or None.
        name: Unique node name; default: the function's name.
        tags: Tags for ``tane run --tags``.
        retries: Extra attempts when the node raises.
        cache: False to always run this node (e.g. it reads a clock or a live API).
        cache_memory: False to keep its memory outputs out of the cache (huge or
            cheap to make): a cached run then makes them again only when a node
            that reads them has to run.
        resources: Resources the node needs on a cluster runner.
        namespace: The modular pipeline it belongs to.

    Raises:
        InvalidInput: A name is empty or not a string, an output is listed twice,
            or a node reads what it writes.
    """
    if not callable(func):
        raise InvalidInput(f"node func must be callable, got {func!r}")
    ins, kwargs = _names(inputs, "inputs")
    outs, keys = _names(outputs, "outputs")
    node_name = name or _func_name(func)
    if not isinstance(node_name, str) or not node_name.strip():
        raise InvalidInput(f"node name {node_name!r} is empty")
    if len(set(outs)) != len(outs):
        raise InvalidInput(f"node {node_name!r} lists an output twice: {list(outs)}")
    for out in outs:
        if is_param(out):
            raise InvalidInput(f"node {node_name!r}: output {out!r} cannot be a parameter")
    both = set(ins) & set(outs)
    if both:
        raise InvalidInput(f"node {node_name!r} reads and writes {sorted(both)}: rename one")
    if retries < 0:
        raise InvalidInput(f"node {node_name!r}: retries must be >= 0, got {retries}")
    if isinstance(tags, str):
        tags = [tags]
    _check_signature(func, node_name, ins, kwargs)
    return Node(
        func=func,
        inputs=ins,
        outputs=outs,
        name=node_name,
        input_kwargs=kwargs,
        output_keys=keys,
        tags=frozenset(tags or ()),
        namespace=namespace,
        retries=retries,
        cache=cache,
        cache_memory=cache_memory,
        resources=dict(resources or {}),
    )


def _names(value: Names, what: str) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    if value is None:
        return (), None
    if isinstance(value, str):
        items: list[str] = [value]
        keys = None
    elif isinstance(value, Mapping):
        keys = tuple(str(k) for k in value)
        items = list(value.values())
    else:
        items = list(value)
        keys = None
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise InvalidInput(f"node {what} must be non-empty dataset names, got {item!r}")
    return tuple(items), keys


def _func_name(func: Callable[..., Any]) -> str:
    name = getattr(func, "__name__", None)
    if isinstance(name, str) and name != "<lambda>":
        return name
    inner = getattr(func, "func", None)  # functools.partial
    if inner is not None:
        return _func_name(inner)
    raise InvalidInput(f"give the node of {func!r} a name=: it has no usable function name")


def _check_signature(
    func: Callable[..., Any], name: str, ins: tuple[str, ...], kwargs: tuple[str, ...] | None
) -> None:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return  # builtins without a signature: found out when called
    try:
        if kwargs is not None:
            sig.bind(**dict.fromkeys(kwargs))
        else:
            sig.bind(*ins)
    except TypeError as exc:
        raise InvalidInput(
            f"node {name!r}: {_func_name_or(func)} cannot take inputs {list(ins)} ({exc})"
        ) from None


def _func_name_or(func: Callable[..., Any]) -> str:
    return getattr(func, "__qualname__", None) or repr(func)
