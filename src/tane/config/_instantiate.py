"""``tane.instantiate``: build objects from ``_target_`` config nodes with Hydra's instantiate."""

from __future__ import annotations

import difflib
import inspect
import re
from importlib import import_module
from types import ModuleType, TracebackType
from typing import Any

from tane.errors import InvalidInput

_FULL_KEY = re.compile(r"\n\s*full_key: ?(.*)\s*$")
_LOCATE = re.compile(r"^Error locating target '(.*?)'")
_CALL = re.compile(
    r"^(?:Error in call to target '(.*?)'|Error in creating partial\((.*?), \.\.\.\) object"
    r"|Error in collecting args and kwargs for '(.*?)')"
)
_HYDRA_HINT = re.compile(
    r",? ?set env var HYDRA_FULL_ERROR=1 to see chained (?:exception|stack trace)\.?"
)
# TypeErrors Python raises when arguments do not fit a signature.
_BINDING = re.compile(
    r"unexpected keyword argument|required (?:positional|keyword-only) argument|"
    r"positional arguments? but|multiple values for argument|takes no (?:keyword )?arguments"
)
_UNEXPECTED = re.compile(r"unexpected keyword argument '(\w+)'")


def instantiate(config: Any, *args: Any, **kwargs: Any) -> Any:
    """Build the object a ``_target_`` node describes, with ``hydra.utils.instantiate``.

    Everything Hydra's instantiate does works the same: nested ``_target_`` nodes are
    built first (``_recursive_``), ``_partial_: true`` returns a ``functools.partial``
    (a subclass of it in Hydra 1.3.8, which checks the target again when called),
    ``_convert_`` chooses what non-target containers become, ``_args_`` gives
    positional arguments, and ``args``/``kwargs`` given here override the config's.

    Args:
        config: A ``DictConfig`` (usually a node of the composed config, such as
            ``cfg.model``), a ``ListConfig``, a dict or a structured config.
        *args: Positional arguments for the target.
        **kwargs: Keyword arguments merged over the node's own.

    Returns:
        The object built; a config without ``_target_`` comes back as a container.

    Raises:
        InvalidInput: The target cannot be found (module not installed, name
            misspelled), the node's arguments do not fit the target's signature, or
            the node is malformed. The message names the node's key and its
            ``_target_``; the underlying error is chained.

    An exception raised by the target's own code (a constructor rejecting a value,
    say) propagates unchanged, with a note naming the node when Python supports
    notes (3.11+).
    """
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate as hydra_instantiate
    from omegaconf.errors import OmegaConfBaseException

    try:
        return hydra_instantiate(config, *args, **kwargs)
    except InstantiationException as exc:
        error = _translate(exc)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or _unresolvable_key(config)
        where = f"config value {key!r}" if key else "the config"
        error = InvalidInput(f"cannot instantiate: {where} cannot be resolved: {_one_line(exc)}")
        error.__cause__ = exc
    error.__suppress_context__ = True
    raise error


def _translate(exc: BaseException) -> BaseException:
    """The error to raise for one of Hydra's InstantiationExceptions."""
    message = str(exc)
    match = _FULL_KEY.search(message)
    key = match.group(1).strip() if match else ""
    if match:
        message = message[: match.start()]
    message = _HYDRA_HINT.sub("", message)
    cause = exc.__cause__
    node = f"config node {key!r}" if key else "the config"

    located = _LOCATE.match(message)
    if located:
        target = located.group(1)
        error = InvalidInput(
            f"cannot instantiate {node}: _target_ {target!r} not found: "
            f"{_explain_locate(target, cause)}"
        )
        error.__cause__ = cause or exc
        return error

    called = _CALL.match(message)
    if called and cause is not None:
        target = next(group for group in called.groups() if group is not None)
        if not _raised_at_call(cause):
            note = f"while instantiating {node} (_target_ {target!r})"
            add_note = getattr(cause, "add_note", None)
            if add_note is not None:
                add_note(note)
            return cause
        text = f"{type(cause).__name__}: {cause}"
        error = InvalidInput(
            f"cannot instantiate {node}: _target_ {target!r} rejected its arguments: "
            f"{text}{_signature_hint(target, cause)}"
        )
        error.__cause__ = cause
        return error

    error = InvalidInput(f"cannot instantiate {node}: {_one_line(message)}")
    error.__cause__ = cause or exc
    return error


def _unresolvable_key(config: Any) -> str:
    """The full key of the first interpolation in ``config`` that fails to resolve, or ''."""
    from omegaconf import DictConfig, ListConfig

    def walk(node: Any) -> str:
        keys = list(node) if isinstance(node, DictConfig) else range(len(node))
        for key in keys:
            child: Any = node._get_node(key, validate_access=False)
            if child is None or child._is_missing():
                continue
            if child._is_interpolation():
                try:
                    node[key]
                except Exception:  # any failure: this is the node to name
                    return str(child._get_full_key(None))
            elif isinstance(child, (DictConfig, ListConfig)) and not child._is_none():
                found = walk(child)
                if found:
                    return found
        return ""

    if not isinstance(config, (DictConfig, ListConfig)) or config._is_none():
        return ""
    return walk(config)


def _raised_at_call(cause: BaseException) -> bool:
    """Whether the error came from calling the target, not from inside its own code.

    Python raises argument-binding errors before the callee's frame exists, so the
    innermost frame is Hydra's; C-implemented targets raise there too. A TypeError
    with a binding message from a wrapper (``functools.wraps``) counts as well.
    """
    if isinstance(cause, TypeError) and _BINDING.search(str(cause)):
        return True
    tb: TracebackType | None = cause.__traceback__
    last: TracebackType | None = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return True
    module = str(last.tb_frame.f_globals.get("__name__", ""))
    return module == "hydra" or module.startswith("hydra.")


def _explain_locate(target: str, cause: BaseException | None) -> str:
    """Which part of a dotted target path cannot be imported, and a likely fix."""
    parts = target.split(".")
    if not target or not all(parts):
        return "write it as a full dotted path such as 'sklearn.linear_model.ElasticNet'"
    try:
        obj: Any = import_module(parts[0])
    except ModuleNotFoundError as exc:
        if exc.name == parts[0]:
            return (
                f"there is no module named {parts[0]!r}: is it installed, and is the name "
                "spelled right?"
            )
        return f"importing {parts[0]!r} failed: {exc}"
    except Exception as exc:  # any import-time error is the user's to see
        return f"importing {parts[0]!r} failed: {type(exc).__name__}: {exc}"
    for index in range(1, len(parts)):
        part = parts[index]
        parent = ".".join(parts[:index])
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        if isinstance(obj, ModuleType):
            dotted = f"{parent}.{part}"
            try:
                obj = import_module(dotted)
                continue
            except ModuleNotFoundError as exc:
                if exc.name != dotted:
                    return f"importing {dotted!r} failed: {exc}"
            except Exception as exc:
                return f"importing {dotted!r} failed: {type(exc).__name__}: {exc}"
        names = [name for name in dir(obj) if not name.startswith("_")]
        close = difflib.get_close_matches(part, names, n=1)
        hint = f"; did you mean '{parent}.{close[0]}'?" if close else ""
        kind = "module" if isinstance(obj, ModuleType) else type(obj).__name__
        return f"{kind} {parent!r} has no attribute {part!r}{hint}"
    return _one_line(str(cause)) if cause is not None else "it cannot be imported"


def _signature_hint(target: str, cause: BaseException) -> str:
    """'; it accepts: a, b' (with a close match for a misspelt keyword), or ''."""
    try:
        parts = target.split(".")
        obj: Any = import_module(parts[0])
        for index in range(1, len(parts)):
            try:
                obj = getattr(obj, parts[index])
            except AttributeError:
                obj = import_module(".".join(parts[: index + 1]))
        signature = inspect.signature(obj)
    except Exception:  # a hint is optional
        return ""
    params = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return ""
    names = [p.name for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    if not names:
        return "; it takes no named arguments"
    hint = f"; it accepts: {', '.join(names)}"
    bad = _UNEXPECTED.search(str(cause))
    if bad:
        close = difflib.get_close_matches(bad.group(1), names, n=1)
        if close:
            hint = f"; did you mean {close[0]!r}? (it accepts: {', '.join(names)})"
    return hint


def _one_line(message: object) -> str:
    return " ".join(line.strip() for line in str(message).strip().splitlines() if line.strip())
