"""What a run records of its config: params and ``config.yaml``, with secrets kept out.

A value that comes from the environment (``${oc.env:DB_PASSWORD}``) is recorded as
its interpolation text, never as its value, and so is every value derived from
one: a string that embeds it (``postgres://u:${oc.env:PW}@h``), or an interpolation
that points at such a node (``${db.password}``), however indirectly. Everything
else is resolved.

How: the config is resolved leaf by leaf with the environment resolvers swapped,
for the resolving thread only, for one that notes it was called and returns a
placeholder. A leaf whose resolution called it keeps its text. The swap is
installed under a lock while any thread records and removed after the last one
finishes; other threads resolving configs meanwhile still get the real values.
"""

from __future__ import annotations

import copy
import enum
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omegaconf import DictConfig

MISSING_TEXT = "???"

# Resolvers whose values must never be recorded. `env` is OmegaConf 2.0's name,
# still registered by some projects.
SECRET_RESOLVERS = ("oc.env", "env")

_PLACEHOLDER = "TANESECRETPLACEHOLDER"


class _Kept(str):
    """Interpolation text recorded instead of its value."""

    __slots__ = ()


def config_params(cfg: DictConfig) -> dict[str, str]:
    """Return the config as params: dotted keys, text values, secrets as their interpolation.

    Nested mappings are flattened to dotted keys (``model.alpha``); an empty
    mapping is recorded as ``{}``. Lists are not flattened: a list is one param,
    its JSON text under its key (``layers`` -> ``[64, 32]``), as MLflow records
    them, so a long list does not become hundreds of params. Values are text as
    ``tane.log_params`` writes them (``str``, JSON for lists); enum values by name.

    A value whose node is an interpolation involving ``oc.env`` (directly, with a
    default, inside a longer string, or through other nodes) is recorded as the
    interpolation text, e.g. ``${oc.env:DB_PASSWORD}``; other interpolations are
    resolved, and one that cannot be resolved is recorded as written. A missing
    value is recorded as ``???``. The ``hydra`` node is recorded like any other:
    pass ``strip_hydra(cfg)`` to leave it out.

    Examples:
        >>> from omegaconf import OmegaConf
        >>> cfg = OmegaConf.create(
        ...     {"model": {"alpha": 0.5, "layers": [64, 32]}, "db": "${oc.env:DB_URL,none}"}
        ... )
        >>> config_params(cfg)
        {'model.alpha': '0.5', 'model.layers': '[64, 32]', 'db': '${oc.env:DB_URL,none}'}
    """
    from tane.tracking.values import param_text

    out: dict[str, str] = {}

    def flatten(tree: dict[Any, Any], prefix: str) -> None:
        for key, value in tree.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict):
                if value:
                    flatten(value, name)
                else:
                    out[name] = "{}"
            else:
                out[name] = str(param_text(value))

    flatten(_safe_tree(cfg), "")
    return out


def config_yaml(cfg: DictConfig) -> str:
    """Return the config as YAML, keys in composed order, secrets as their interpolation.

    The same rule as ``config_params``: values involving ``oc.env`` are written as
    the interpolation text (so loading the file with OmegaConf reads them from the
    environment again), everything else resolved. Resolved text that contains
    ``${`` is escaped (``\\${``) so that it reads back as text.

    Examples:
        >>> from omegaconf import OmegaConf
        >>> cfg = OmegaConf.create({"a": 1, "b": "${a}", "pw": "${oc.env:PW}"})
        >>> print(config_yaml(cfg), end="")
        a: 1
        b: 1
        pw: ${oc.env:PW}
    """
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.create(_escape(_safe_tree(cfg))))


def strip_hydra(cfg: DictConfig) -> DictConfig:
    """Return a copy of ``cfg`` without its top-level ``hydra`` node (``cfg`` is unchanged)."""
    from omegaconf import open_dict, read_write

    out = copy.deepcopy(cfg)
    if out._get_node("hydra", validate_access=False) is not None:
        with read_write(out), open_dict(out):
            del out["hydra"]
    return out


# -- resolution with secrets kept ------------------------------------------------------

_local = threading.local()
_lock = threading.Lock()
_originals: dict[str, Any] = {}
_recorders = 0


class _SecretProbe:
    """Stands in for an environment resolver: in a recording thread it notes the call."""

    def __init__(self, original: Callable[..., Any]) -> None:
        self.original = original

    def __call__(
        self,
        config: Any,
        parent: Any,
        node: Any,
        args: tuple[Any, ...],
        args_str: tuple[str, ...],
    ) -> Any:
        if getattr(_local, "recording", 0):
            _local.used = True
            return _PLACEHOLDER
        return self.original(config, parent, node, args, args_str)


@contextmanager
def _recording() -> Iterator[None]:
    """Swap the environment resolvers for probes while this thread resolves a config."""
    global _recorders
    from omegaconf.basecontainer import BaseContainer

    with _lock:
        if _recorders == 0:
            for name in SECRET_RESOLVERS:
                original = BaseContainer._resolvers.get(name)
                if original is not None and not isinstance(original, _SecretProbe):
                    _originals[name] = original
                    BaseContainer._resolvers[name] = _SecretProbe(original)
        _recorders += 1
    depth = getattr(_local, "recording", 0)
    _local.recording = depth + 1
    try:
        yield
    finally:
        _local.recording = depth
        with _lock:
            _recorders -= 1
            if _recorders == 0:
                # OmegaConf.clear_resolvers() replaces the dict; read it again, and put
                # back only what is still our probe.
                resolvers = BaseContainer._resolvers
                for name, original in _originals.items():
                    if isinstance(resolvers.get(name), _SecretProbe):
                        resolvers[name] = original
                _originals.clear()


def _safe_tree(cfg: DictConfig) -> dict[Any, Any]:
    """The config as plain dicts and lists, secrets kept as their interpolation text."""
    from omegaconf import DictConfig

    if not isinstance(cfg, DictConfig):
        raise TypeError(f"expected a DictConfig, got {type(cfg).__name__}")
    # Resolve a copy: resolvers with use_cache=True would otherwise keep results
    # computed from the placeholder in the caller's config.
    root = cfg._get_root()
    memo: dict[int, Any] = {}
    work_root = copy.deepcopy(root, memo)
    work = memo.get(id(cfg), work_root) if root is not cfg else work_root
    if work._is_none() or work._is_missing():
        return {}
    with _recording():
        tree = _container(work)
    assert isinstance(tree, dict)
    return tree


def _container(node: Any) -> dict[Any, Any] | list[Any]:
    from omegaconf import DictConfig

    if isinstance(node, DictConfig):
        return {key: _child(node, key) for key in node}
    return [_child(node, index) for index in range(len(node))]


def _child(parent: Any, key: Any) -> Any:
    from omegaconf import Container

    node: Any = parent._get_node(key, validate_access=False)
    if node is None:
        return None
    if node._is_missing():
        return MISSING_TEXT
    if node._is_interpolation():
        text = _Kept(node._value())
        _local.used = False
        try:
            value = parent[key]
        except Exception:
            return text
        if _local.used:
            return text
        return _value(value)
    if isinstance(node, Container):
        return None if node._is_none() else _container(node)
    return _scalar(node._value())


def _value(value: Any) -> Any:
    """A resolved value as plain data; resolved containers are walked leaf by leaf."""
    from omegaconf import Container

    if isinstance(value, Container):
        if value._is_none():
            return None
        if value._is_missing():
            return MISSING_TEXT
        return _container(value)
    if isinstance(value, dict):
        return {key: _value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_value(item) for item in value]
    return _scalar(value)


def _scalar(value: Any) -> Any:
    """Primitives as they are, enums by name, anything else (paths, objects) as text."""
    if value is None or isinstance(value, (str, bool, int, float, bytes)):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    return str(value)


def _escape(tree: Any) -> Any:
    """Plain strings for OmegaConf.create: resolved ``${`` escaped, kept text as written."""
    if isinstance(tree, dict):
        return {key: _escape(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_escape(value) for value in tree]
    if isinstance(tree, _Kept):
        return str(tree)
    if isinstance(tree, str) and "${" in tree:
        return tree.replace("${", "\\${")
    return tree
