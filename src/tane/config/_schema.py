"""Typed schemas for configs (dataclasses or pydantic models) and the check for ``???`` values.

Every error names the full key (``model.alpha``), the value given and the type
expected. A value given as an interpolation is shown as written, never as what it
resolves to, so a secret read from the environment cannot reach an error message.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import sys
import types
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin

from tane.errors import InvalidInput

if TYPE_CHECKING:
    from omegaconf import DictConfig

_INDEX = re.compile(r"\[(\d+)\]")
_MAX_SHOWN = 10


def missing_keys(cfg: DictConfig) -> list[str]:
    """Return the dotted keys of the config's mandatory values (``???``), in config order.

    List items are numbered (``layers.0``), as Hydra's override grammar writes them.
    The top-level ``hydra`` node is skipped, and interpolations are not followed.

    Examples:
        >>> from omegaconf import OmegaConf
        >>> missing_keys(OmegaConf.create({"model": {"alpha": "???", "l1": 0.5}, "seed": "???"}))
        ['model.alpha', 'seed']
    """
    out: list[str] = []
    _walk_missing(cfg, "", out, top=True)
    return out


def check_missing(cfg: DictConfig) -> None:
    """Raise InvalidInput naming every mandatory value (``???``) the config leaves unset.

    Called before a job runs, so that a missing value is reported with the fix
    rather than as an error deep inside the job.

    Raises:
        InvalidInput: e.g. "config value 'model.alpha' is missing (???): set it on the
            command line, e.g. model.alpha=<value>".
    """
    keys = missing_keys(cfg)
    if keys:
        raise InvalidInput(_missing_message(keys, set()))


def validate(cfg: DictConfig, schema: Any) -> DictConfig:
    """Return ``cfg`` checked against a typed schema; raise InvalidInput naming each problem.

    Args:
        cfg: The composed config.
        schema: A dataclass (class or instance) or a pydantic ``BaseModel`` subclass.
            A dataclass is applied as Hydra applies structured configs: ``cfg`` is
            merged into ``OmegaConf.structured(schema)``, so the result has the
            schema's defaults, converts values to the declared types and refuses
            keys the schema does not declare. A pydantic model validates the
            resolved config; its coerced values and defaults are written back into a
            copy of ``cfg`` (keys the model ignores are kept).

    Returns:
        The validated config. Values written as interpolations stay
        interpolations (their resolved value was validated), so the record
        still shows ``${oc.env:...}`` as written.

    Raises:
        InvalidInput: A value has the wrong type, a key is unknown to the schema, a
            value is missing (``???`` or a required field not in the config) or an
            interpolation cannot be resolved. For pydantic, one line per problem.

    A top-level ``hydra`` node is left out of validation unless the schema declares it.
    A ``???`` written in the config is reported even where the dataclass has a
    default (OmegaConf's merge would silently keep the default).
    """
    from omegaconf import DictConfig

    if not isinstance(cfg, DictConfig):
        raise InvalidInput(f"validate needs a DictConfig, got {type(cfg).__name__}")
    if dataclasses.is_dataclass(schema):
        return _validate_dataclass(cfg, schema)
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(schema, type) and issubclass(schema, pydantic.BaseModel):
        return _validate_pydantic(cfg, schema)
    raise InvalidInput(
        f"schema {schema!r} is neither a dataclass nor a pydantic model: pass a "
        "@dataclass class or a pydantic.BaseModel subclass"
    )


# -- missing values ----------------------------------------------------------------------


def _walk_missing(node: Any, prefix: str, out: list[str], top: bool = False) -> None:
    from omegaconf import Container, DictConfig

    keys: Sequence[Any] = list(node) if isinstance(node, DictConfig) else range(len(node))
    for key in keys:
        if top and key == "hydra":
            continue
        child: Any = node._get_node(key, validate_access=False)
        if child is None:
            continue
        name = f"{prefix}.{key}" if prefix else str(key)
        if child._is_missing():
            out.append(name)
        elif (
            isinstance(child, Container) and not child._is_interpolation() and not child._is_none()
        ):
            _walk_missing(child, name, out)


def _missing_message(keys: list[str], added: set[str]) -> str:
    """The error for missing values; keys the config lacks need Hydra's ``+key=`` form."""
    examples = " ".join(f"{'+' if key in added else ''}{key}=<value>" for key in keys[:_MAX_SHOWN])
    if len(keys) == 1:
        return (
            f"config value {keys[0]!r} is missing (???): set it on the command line, "
            f"e.g. {examples}"
        )
    shown = ", ".join(repr(key) for key in keys[:_MAX_SHOWN])
    more = f" and {len(keys) - _MAX_SHOWN} more" if len(keys) > _MAX_SHOWN else ""
    return (
        f"config values {shown}{more} are missing (???): set them on the command line, "
        f"e.g. {examples}"
    )


# -- dataclasses ---------------------------------------------------------------------------


def _validate_dataclass(cfg: DictConfig, schema: Any) -> DictConfig:
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    name = schema.__name__ if isinstance(schema, type) else type(schema).__name__
    field_names = {field.name for field in dataclasses.fields(schema)}
    work, hydra = _without_hydra(cfg, keep="hydra" in field_names)
    try:
        base = OmegaConf.structured(schema)
    except OmegaConfBaseException as exc:
        raise InvalidInput(
            f"schema {name} cannot be used as a structured config: {_first_line(exc)}"
        ) from exc
    assert isinstance(base, DictConfig)
    _check_shapes(base, work, "", name)
    try:
        merged = OmegaConf.merge(base, work)
    except OmegaConfBaseException as exc:
        raise _omegaconf_error(exc, base, work, name) from _safe_cause(exc, work)
    assert isinstance(merged, DictConfig)

    # OmegaConf keeps a schema default when the config says ???; the config's own
    # ??? still means "must be set", so both count.
    missing = list(dict.fromkeys([*missing_keys(work), *missing_keys(merged)]))
    if missing:
        present = {key for key in missing if _has_key(work, key)}
        raise InvalidInput(_missing_message(missing, set(missing) - present))
    try:
        # Interpolations are validated when read: read them all now.
        OmegaConf.to_container(merged, resolve=True)
    except OmegaConfBaseException as exc:
        raise _omegaconf_error(exc, base, work, name) from _safe_cause(exc, work)
    if hydra is not None:
        _attach(merged, "hydra", hydra)
    return merged


def _check_shapes(schema: Any, cfg: Any, prefix: str, name: str) -> None:
    """A scalar where the schema has a mapping or list (OmegaConf's message has no key)."""
    from omegaconf import DictConfig, ListConfig

    if not isinstance(schema, DictConfig) or not isinstance(cfg, DictConfig):
        return
    for key in cfg:
        want: Any = schema._get_node(key, validate_access=False)
        have: Any = cfg._get_node(key, validate_access=False)
        if want is None or have is None:
            continue
        full = f"{prefix}.{key!s}" if prefix else str(key)
        if have._is_missing() or have._is_interpolation() or have._is_none():
            continue
        if isinstance(want, (DictConfig, ListConfig)) and not isinstance(
            have, (DictConfig, ListConfig)
        ):
            kind = "a mapping" if isinstance(want, DictConfig) else "a list"
            raise InvalidInput(
                f"config does not match the schema {name}: {full} = "
                f"{_short(have._value())} ({type(have._value()).__name__}): expected "
                f"{kind} ({_node_type(want)})"
            )
        _check_shapes(want, have, full, name)


def _omegaconf_error(exc: Exception, base: DictConfig, cfg: DictConfig, name: str) -> InvalidInput:
    from omegaconf.errors import ConfigKeyError, InterpolationResolutionError, ValidationError

    key = _INDEX.sub(r".\1", str(getattr(exc, "full_key", "") or ""))
    parts = key.split(".") if key else []
    if isinstance(exc, ConfigKeyError) and parts:
        known = _schema_keys(base, parts[:-1])
        close = _close(parts[-1], known)
        fields = f" (it has: {', '.join(known)})" if known else ""
        return InvalidInput(
            f"config does not match the schema {name}: config key {key!r} is not in the "
            f"schema{fields}{close}"
        )
    if isinstance(exc, ValidationError) and parts:
        given = _given(cfg, parts, getattr(exc, "value", None))
        return InvalidInput(
            f"config does not match the schema {name}: {key} = {given}: expected "
            f"{_expected_in(base, parts)}"
        )
    if isinstance(exc, InterpolationResolutionError) and parts:
        return InvalidInput(
            f"config value {key!r} cannot be resolved: {_first_line(exc)}"
            f" (written as {_given(cfg, parts, None, with_type=False)})"
        )
    where = f" at {key!r}" if key else ""
    return InvalidInput(f"config does not match the schema {name}{where}: {_first_line(exc)}")


def _expected_in(base: DictConfig, parts: list[str]) -> str:
    """The declared type at ``parts`` of a structured config (element type past its end)."""
    from omegaconf import DictConfig, ListConfig

    node: Any = base
    for part in parts:
        child: Any = None
        if isinstance(node, DictConfig):
            child = node._get_node(part, validate_access=False)
        elif isinstance(node, ListConfig) and part.isdigit() and int(part) < len(node):
            child = node._get_node(int(part))
        if child is None:
            element = getattr(node._metadata, "element_type", Any)
            return _type_name(element)
        node = child
    text = _node_type(node)
    return f"{text} or None" if node._metadata.optional and text != "Any" else text


def _node_type(node: Any) -> str:
    return _type_name(node._metadata.ref_type)


def _schema_keys(base: DictConfig, parts: list[str]) -> list[str]:
    from omegaconf import DictConfig

    node: Any = base
    for part in parts:
        if not isinstance(node, DictConfig):
            return []
        node = node._get_node(part, validate_access=False)
    return [str(key) for key in node] if isinstance(node, DictConfig) else []


# -- pydantic ------------------------------------------------------------------------------


def _validate_pydantic(cfg: DictConfig, schema: Any) -> DictConfig:
    import pydantic
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    name = schema.__name__
    fields = schema.model_fields
    declares_hydra = "hydra" in fields or any(f.alias == "hydra" for f in fields.values())
    work, hydra = _without_hydra(cfg, keep=declares_hydra)
    keys = missing_keys(work)
    if keys:
        raise InvalidInput(_missing_message(keys, set()))
    try:
        data = OmegaConf.to_container(work, resolve=True)
    except OmegaConfBaseException as exc:
        key = _INDEX.sub(r".\1", str(getattr(exc, "full_key", "") or ""))
        raise InvalidInput(
            f"config value {key!r} cannot be resolved: {_first_line(exc)}"
        ) from _safe_cause(exc, work)
    try:
        model = schema.model_validate(data)
    except pydantic.ValidationError as exc:
        lines, interpolated = _pydantic_lines(exc, data, work, schema)
        header = f"config does not match the schema {name}"
        message = (
            f"{header}: {lines[0]}" if len(lines) == 1 else header + ":\n  " + "\n  ".join(lines)
        )
        # pydantic's own message repeats the resolved input values: never chain it
        # when one of them came from an interpolation (it may be a secret).
        raise InvalidInput(message) from (None if interpolated else exc)
    out = copy.deepcopy(work)
    _merge_back(out, model.model_dump(by_alias=True))
    if hydra is not None:
        _attach(out, "hydra", hydra)
    return out


def _pydantic_lines(exc: Any, data: Any, cfg: DictConfig, schema: Any) -> tuple[list[str], bool]:
    """One line per config key with problems, and whether any value was interpolated."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    paths: dict[str, tuple[list[Any], bool]] = {}
    for error in exc.errors():
        path, present = _config_path(error["loc"], data, error["type"])
        key = ".".join(str(part) for part in path) or "(the whole config)"
        grouped.setdefault(key, []).append(error)
        paths[key] = (path, present)
    lines = []
    interpolated = False
    for key, errors in grouped.items():
        path, present = paths[key]
        expected = _expected_pydantic(schema, path)
        kinds = {error["type"] for error in errors}
        if not present:
            lines.append(
                f"{key}: not in the config, and the schema requires it"
                + (f" ({expected})" if expected else "")
            )
            continue
        interpolated = interpolated or _interpolation_text(cfg, path) is not None
        given = _given(cfg, [str(part) for part in path], errors[0]["input"])
        if kinds == {"extra_forbidden"}:
            lines.append(f"{key} = {given}: not in the schema")
            continue
        messages = list(dict.fromkeys(str(error["msg"]) for error in errors))
        want = f"expected {expected}: " if expected else ""
        lines.append(f"{key} = {given}: {want}{'; '.join(messages)}")
    return lines, interpolated


def _config_path(loc: tuple[Any, ...], data: Any, kind: str) -> tuple[list[Any], bool]:
    """The config key of a pydantic error location (union branch tags dropped)."""
    path: list[Any] = []
    node = data
    rest = list(loc)
    while rest:
        item = rest[0]
        in_dict = isinstance(node, dict) and item in node
        in_list = isinstance(node, list) and isinstance(item, int) and 0 <= item < len(node)
        if not (in_dict or in_list):
            break
        node = node[item]
        path.append(rest.pop(0))
    if kind == "missing" and rest:
        path.append(rest[0])
        return path, False
    return path, True


def _expected_pydantic(schema: Any, path: list[Any]) -> str:
    """The annotation of the schema at a config path, as text ('' when unknown)."""
    import pydantic

    annotation: Any = schema
    for part in path:
        annotation = _strip_optional(annotation)
        origin = get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
            fields = annotation.model_fields
            field = fields.get(part) or next((f for f in fields.values() if f.alias == part), None)
            if field is None:
                return ""
            annotation = field.annotation
        elif dataclasses.is_dataclass(annotation):
            hints = {f.name: f.type for f in dataclasses.fields(annotation)}
            if part not in hints or isinstance(hints[part], str):
                return ""
            annotation = hints[part]
        elif isinstance(origin, type) and issubclass(origin, Mapping):
            args = get_args(annotation)
            annotation = args[1] if len(args) == 2 else Any
        elif isinstance(origin, type) and issubclass(origin, (list, tuple, set, frozenset)):
            args = get_args(annotation)
            if origin is tuple and args and args[-1] is not Ellipsis:
                annotation = args[part] if isinstance(part, int) and part < len(args) else Any
            else:
                annotation = args[0] if args else Any
        else:
            return ""
    return _type_name(annotation)


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _merge_back(node: Any, data: Any) -> None:
    """Write validated values into the config copy, leaving interpolations as written."""
    from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write
    from omegaconf.errors import OmegaConfBaseException

    items = data.items() if isinstance(node, DictConfig) else enumerate(data)
    for key, value in items:
        child: Any = node._get_node(key, validate_access=False)
        if child is not None:
            if child._is_interpolation():
                continue
            if (
                isinstance(value, dict) and isinstance(child, DictConfig) and not child._is_none()
            ) or (
                isinstance(value, list)
                and isinstance(child, ListConfig)
                and not child._is_none()
                and len(child) == len(value)
            ):
                _merge_back(child, value)
                continue
            current = (
                OmegaConf.to_container(child)
                if isinstance(child, (DictConfig, ListConfig))
                else child._value()
            )
            if type(current) is type(value) and current == value:
                continue
        try:
            with read_write(node), open_dict(node):
                node[key] = _config_value(value)
        except OmegaConfBaseException:
            continue  # a type OmegaConf cannot hold: the config keeps what it had


def _config_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _config_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_config_value(item) for item in value]
    return value


# -- shared ----------------------------------------------------------------------------------


def _without_hydra(cfg: DictConfig, keep: bool) -> tuple[DictConfig, Any]:
    """``cfg`` without its ``hydra`` node (and that node), unless the schema declares it."""
    node = cfg._get_node("hydra", validate_access=False)
    if keep or node is None:
        return cfg, None
    from tane.config._record import strip_hydra

    return strip_hydra(cfg), copy.deepcopy(node)


def _attach(cfg: DictConfig, key: str, node: Any) -> None:
    from omegaconf import open_dict, read_write

    with read_write(cfg), open_dict(cfg):
        cfg[key] = node


def _has_key(cfg: DictConfig, dotted: str) -> bool:
    from omegaconf import DictConfig, ListConfig

    node: Any = cfg
    for part in dotted.split("."):
        if isinstance(node, DictConfig):
            node = node._get_node(part, validate_access=False)
        elif isinstance(node, ListConfig) and part.isdigit() and int(part) < len(node):
            node = node._get_node(int(part))
        else:
            return False
        if node is None:
            return False
    return True


def _interpolation_text(cfg: DictConfig, parts: Sequence[Any]) -> str | None:
    """The interpolation written at ``parts`` or at a node above it, if there is one."""
    from omegaconf import DictConfig, ListConfig

    node: Any = cfg
    for part in parts:
        if isinstance(node, DictConfig):
            node = node._get_node(part, validate_access=False)
        elif isinstance(node, ListConfig) and str(part).isdigit() and int(part) < len(node):
            node = node._get_node(int(part))
        else:
            return None
        if node is None:
            return None
        if node._is_interpolation():
            return str(node._value())
    return None


def _given(cfg: DictConfig, parts: Sequence[Any], value: Any, with_type: bool = True) -> str:
    """The value as the user gave it: an interpolation as written, else the value and type."""
    text = _interpolation_text(cfg, parts)
    if text is not None:
        return repr(text) + (" (an interpolation)" if with_type else "")
    return f"{_short(value)} ({_kind(value)})" if with_type else _short(value)


def _kind(value: Any) -> str:
    """The type of a value in the user's words: OmegaConf containers are dicts and lists."""
    from omegaconf import DictConfig, ListConfig

    if isinstance(value, DictConfig):
        return "dict"
    if isinstance(value, ListConfig):
        return "list"
    return type(value).__name__


def _safe_cause(exc: BaseException, cfg: DictConfig) -> BaseException | None:
    """``exc`` to chain, or None when its message may show an interpolated (secret) value."""
    key = _INDEX.sub(r".\1", str(getattr(exc, "full_key", "") or ""))
    if key and _interpolation_text(cfg, key.split(".")) is not None:
        return None
    return exc


def _type_name(annotation: Any) -> str:
    if annotation is Any:
        return "Any"
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__name__
    try:
        from omegaconf._utils import type_str

        return str(type_str(annotation))
    except Exception:  # a name for a message: any text will do
        return repr(annotation).replace("typing.", "")


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _close(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
