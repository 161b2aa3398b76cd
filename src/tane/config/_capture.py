"""``tane.capture``: fill a function's missing keyword arguments from the active config."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast, get_args, overload

from tane.config._context import active_config
from tane.errors import InvalidInput

if TYPE_CHECKING:
    from omegaconf import DictConfig

R = TypeVar("R")

_CONTAINER_NAME = re.compile(r"\b(DictConfig|ListConfig)\b")
_FILLABLE = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
_UNSET: Any = object()


class CaptureError(InvalidInput, TypeError):
    """A captured function has no value for a parameter, or its config value is unusable.

    It is a ``TypeError`` too, as Python's own error for a missing argument is.
    """


class _Param(NamedTuple):
    name: str
    position: int  # index among the positional parameters; -1 for keyword-only
    required: bool  # no default
    keep_container: bool  # annotated DictConfig/ListConfig: pass OmegaConf containers as-is


@overload
def capture(func: Callable[..., R], *, prefix: str | None = None) -> Callable[..., R]: ...


@overload
def capture(
    func: None = None, *, prefix: str | None = None
) -> Callable[[Callable[..., R]], Callable[..., R]]: ...


def capture(
    func: Callable[..., R] | None = None, *, prefix: str | None = None
) -> Callable[..., R] | Callable[[Callable[..., R]], Callable[..., R]]:
    """Fill the keyword parameters a caller leaves out from the active config, by name.

    Use it as ``@tane.capture`` (top-level keys) or ``@tane.capture(prefix="model")``
    (keys under ``model``; dotted prefixes such as ``"model.optimizer"`` work). At each
    call, a parameter that the caller did not pass, positionally or by keyword, takes
    the config value of the same name; explicit arguments always win, and the
    function's default applies when the config has no such key. Outside any
    ``use_config`` block (no active config) the function is called as it is.

    Config values arrive as plain Python: ``DictConfig`` and ``ListConfig`` values are
    converted with their interpolations resolved, unless the parameter is annotated
    ``DictConfig`` or ``ListConfig``. Positional-only and ``*args``/``**kwargs``
    parameters are never filled. Works on functions, methods, ``classmethod`` and
    ``staticmethod`` objects and coroutine functions.

    Args:
        func: The function (when used as a bare decorator).
        prefix: The config node to read from, e.g. ``"model"``.

    Returns:
        The wrapped function, with the same name, docstring and ``inspect.signature``.
        Its static type accepts any arguments (``Callable[..., R]``): leaving out
        the parameters the config fills is the point, and a type checker cannot
        know which those are.

    Raises:
        CaptureError: (at call time) a parameter without default is neither passed
            nor in the config, its value is missing (``???``) or cannot be resolved,
            or ``prefix`` names a value that is not a mapping.
    """
    if prefix is not None and (
        not isinstance(prefix, str) or not all(part for part in prefix.split("."))
    ):
        raise InvalidInput(
            f"capture prefix {prefix!r} is not a config key: use a dotted key such as 'model' "
            "or 'model.optimizer'"
        )

    def decorate(target: Callable[..., R]) -> Callable[..., R]:
        return _decorate(target, prefix)

    if func is None:
        return decorate
    return decorate(func)


def _decorate(func: Callable[..., R], prefix: str | None) -> Callable[..., R]:
    if isinstance(func, (classmethod, staticmethod)):
        wrapped = _decorate(func.__func__, prefix)
        return cast("Callable[..., R]", type(func)(wrapped))
    if not callable(func):
        raise InvalidInput(f"capture: {func!r} is not a function")
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"capture: cannot read the signature of {func!r}: {exc}") from exc

    params: list[_Param] = []
    position = 0
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            position += 1
            continue
        if param.kind not in _FILLABLE:
            continue
        params.append(
            _Param(
                param.name,
                position if param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD else -1,
                param.default is inspect.Parameter.empty,
                _wants_container(param.annotation),
            )
        )
        if param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            position += 1

    fillable = tuple(params)
    parts = tuple(prefix.split(".")) if prefix else ()
    name = getattr(func, "__qualname__", None) or repr(func)

    def fill(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        cfg = active_config()
        if cfg is None or not fillable:
            return kwargs
        section: Any = _UNSET
        given = len(args)
        for param in fillable:
            if param.name in kwargs or 0 <= param.position < given:
                continue
            if section is _UNSET:
                section = _section(cfg, parts, name)
            found, value = _lookup(section, param, parts, name)
            if found:
                kwargs[param.name] = value
            elif param.required:
                where = ".".join((*parts, param.name))
                raise CaptureError(
                    f"{name}() missing argument {param.name!r}: {where} not in the config and "
                    f"no default; pass {param.name}=... or set it in the config "
                    f"(e.g. +{where}=<value> on the command line)"
                )
        return kwargs

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            return await func(*args, **fill(args, kwargs))

        return cast("Callable[..., R]", async_wrapper)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> R:
        return func(*args, **fill(args, kwargs))

    return wrapper


def _section(cfg: DictConfig, parts: tuple[str, ...], name: str) -> DictConfig | None:
    """The node under ``parts``, or None when the config has no such node."""
    from omegaconf import DictConfig
    from omegaconf.errors import OmegaConfBaseException

    node: Any = cfg
    for depth, part in enumerate(parts):
        child = node._get_node(part, validate_access=False)
        where = ".".join(parts[: depth + 1])
        if child is None:
            return None
        if child._is_missing():
            raise CaptureError(
                f"{name}(): config value {where!r} is missing (???): set it on the command "
                f"line, e.g. {where}=<value>"
            )
        if isinstance(child, DictConfig) and not child._is_interpolation():
            node = None if child._is_none() else child
            if node is None:
                return None
            continue
        try:
            node = node[part]
        except OmegaConfBaseException as exc:
            raise CaptureError(
                f"{name}(): config value {where!r} cannot be resolved: {_first_line(exc)}"
            ) from exc
        if node is None:
            return None
        if not isinstance(node, DictConfig):
            raise CaptureError(
                f"{name}(): capture prefix {'.'.join(parts)!r} needs a mapping, but config "
                f"value {where!r} is a {type(node).__name__}"
            )
    return cast("DictConfig", node)


def _lookup(
    section: DictConfig | None, param: _Param, parts: tuple[str, ...], name: str
) -> tuple[bool, Any]:
    """(True, value) when the config holds this parameter, else (False, None)."""
    if section is None:
        return False, None
    node = section._get_node(param.name, validate_access=False)
    if node is None:
        return False, None
    if node._is_missing():
        where = ".".join((*parts, param.name))
        raise CaptureError(
            f"{name}(): config value {where!r} is missing (???): set it on the command line, "
            f"e.g. {where}=<value>, or pass {param.name}=..."
        )
    from omegaconf import Container, OmegaConf, ValueNode
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(node, ValueNode) and not node._is_interpolation():
        return True, node._value()
    try:
        value = section[param.name]
        if isinstance(value, Container) and not param.keep_container:
            value = OmegaConf.to_container(value, resolve=True)
    except OmegaConfBaseException as exc:
        where = ".".join((*parts, param.name))
        raise CaptureError(
            f"{name}(): config value {where!r} for parameter {param.name!r} cannot be "
            f"resolved: {_first_line(exc)}"
        ) from exc
    return True, value


def _wants_container(annotation: Any) -> bool:
    """Whether a parameter annotation names DictConfig or ListConfig (possibly in a union)."""
    if annotation is inspect.Parameter.empty:
        return False
    if isinstance(annotation, str):
        return _CONTAINER_NAME.search(annotation) is not None
    module = getattr(annotation, "__module__", "") or ""
    if module.startswith("omegaconf") and getattr(annotation, "__name__", "") in (
        "DictConfig",
        "ListConfig",
    ):
        return True
    return any(_wants_container(arg) for arg in get_args(annotation))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
