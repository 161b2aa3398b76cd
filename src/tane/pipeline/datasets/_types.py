"""Dataset type names, and datasets made from catalog entries.

A ``type:`` is one of tane's short names (``csv``), a Kedro name
(``pandas.CSVDataset``, with or without ``kedro_datasets.``, old ``DataSet``
spelling too) or the import path of any class with ``load`` and ``save``
(``my_pkg.datasets.MyDataset`` or ``my_pkg.datasets:MyDataset``). Names map to
``"module:Class"`` strings, so nothing is imported until a type is used.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import os
import re
from collections.abc import Mapping
from typing import Any

from tane.errors import DatasetError
from tane.pipeline.datasets._storage import redact, secrets_of
from tane.pipeline.datasets.base import Dataset, ObjectDataset

_PKG = "tane.pipeline.datasets"

TYPES: dict[str, str] = {
    "csv": f"{_PKG}.csv:CSVDataset",
    "parquet": f"{_PKG}.parquet:ParquetDataset",
    "json": f"{_PKG}.json:JSONDataset",
    "pandas_json": f"{_PKG}.json:PandasJSONDataset",
    "yaml": f"{_PKG}.yaml:YAMLDataset",
    "text": f"{_PKG}.text:TextDataset",
    "pickle": f"{_PKG}.pickle:PickleDataset",
    "sql_table": f"{_PKG}.sql:SQLTableDataset",
    "sql_query": f"{_PKG}.sql:SQLQueryDataset",
    "api": f"{_PKG}.api:APIDataset",
    "memory": f"{_PKG}.memory:MemoryDataset",
    "partitioned": f"{_PKG}.partitioned:PartitionedDataset",
}
"""tane's short type names."""

KEDRO_TYPES: dict[str, str] = {
    "pandas.CSVDataset": "csv",
    "pandas.ParquetDataset": "parquet",
    "pandas.JSONDataset": "pandas_json",
    "json.JSONDataset": "json",
    "yaml.YAMLDataset": "yaml",
    "text.TextDataset": "text",
    "pickle.PickleDataset": "pickle",
    "pandas.SQLTableDataset": "sql_table",
    "pandas.SQLQueryDataset": "sql_query",
    "api.APIDataset": "api",
    "partitions.PartitionedDataset": "partitioned",
    "PartitionedDataset": "partitioned",
    "kedro.io.PartitionedDataset": "partitioned",
    "MemoryDataset": "memory",
    "kedro.io.MemoryDataset": "memory",
    "io.MemoryDataset": "memory",
}
"""Kedro's type names and the short name each maps to."""


def _canonical(type_name: str) -> str | None:
    """Return the short name of a short or Kedro type name, else None."""
    name = type_name.strip()
    if name in TYPES:
        return name
    for prefix in ("kedro_datasets.", "kedro.extras.datasets."):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    if name.endswith("DataSet"):
        name = name[: -len("DataSet")] + "Dataset"
    return KEDRO_TYPES.get(name)


def known_type_names() -> list[str]:
    """Return every short and Kedro type name."""
    return [*TYPES, *KEDRO_TYPES]


def _load(target: str) -> type:
    module, _, attr = target.partition(":")
    cls: type = getattr(importlib.import_module(module), attr)
    return cls


def _prefix(entry: str | None) -> str:
    return f"catalog entry '{entry}': " if entry else ""


def _import_path(path: str, entry: str | None) -> Any:
    """Import ``module.Class`` or ``module:Class``; return None if the module does not exist."""
    if ":" in path:
        module_name, _, attr = path.partition(":")
    else:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        return None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            return None
        raise DatasetError(
            f"{_prefix(entry)}type {path!r}: importing {module_name!r} failed: {exc} "
            f"(pip install {missing})"
        ) from exc
    except Exception as exc:
        raise DatasetError(
            f"{_prefix(entry)}type {path!r}: importing {module_name!r} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            # A misspelt Kedro name ('pandas.CSVDatset') names a real module too.
            known = difflib.get_close_matches(path, known_type_names(), n=1, cutoff=0.8)
            if known:
                raise DatasetError(
                    f"{_prefix(entry)}type '{path}' not found — did you mean '{known[0]}'?"
                )
            names = [n for n in dir(module) if not n.startswith("_")]
            near = difflib.get_close_matches(part, names, n=1)
            hint = f" — did you mean '{module_name}.{near[0]}'?" if near else ""
            raise DatasetError(
                f"{_prefix(entry)}type '{path}' not found: module {module_name!r} has no "
                f"{part!r}{hint}"
            )
        obj = getattr(obj, part)
    return obj


def resolve_type(type_name: str | type, *, entry: str | None = None) -> type:
    """Return the dataset class a ``type:`` names; raise DatasetError with near matches.

    Example:
        >>> resolve_type("pandas.CSVDataSet").__name__
        'CSVDataset'
    """
    if isinstance(type_name, type):
        cls = type_name
    elif not isinstance(type_name, str) or not type_name.strip():
        raise DatasetError(f"{_prefix(entry)}type must be a type name, not {type_name!r}")
    else:
        short = _canonical(type_name)
        if short is not None:
            return _load(TYPES[short])
        found = _import_path(type_name, entry) if "." in type_name or ":" in type_name else None
        if (
            found is None
            and not type_name.startswith("kedro_datasets.")
            and importlib.util.find_spec("kedro_datasets") is not None
        ):
            found = _import_path(f"kedro_datasets.{type_name}", entry)
        if found is None:
            near = difflib.get_close_matches(type_name, known_type_names(), n=1, cutoff=0.6)
            hint = (
                f" — did you mean '{near[0]}'?"
                if near
                else f": use one of {', '.join(TYPES)}, a Kedro name such as "
                "'pandas.CSVDataset', or an import path such as 'my_pkg.datasets.MyDataset'"
            )
            raise DatasetError(f"{_prefix(entry)}type '{type_name}' not found{hint}")
        cls = found
    if not isinstance(cls, type) or not (hasattr(cls, "load") and hasattr(cls, "save")):
        raise DatasetError(
            f"{_prefix(entry)}type {type_name!r} is not a dataset class: it needs load() "
            "and save() methods"
        )
    return cls


def _parameters(cls: type) -> set[str] | None:
    """Return the keyword arguments ``cls`` accepts, or None if it takes any."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        names |= {
            p.name
            for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
        }
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names
        # **kwargs: tane's own classes pass them on to their base; others take anything.
        if not klass.__module__.startswith("tane."):
            return None
    return names


def _resolve_credentials(
    value: Any, credentials: Mapping[str, Any] | None, entry: str | None
) -> Any:
    if not isinstance(value, str):
        return value
    if credentials is None or value not in credentials:
        names = sorted(credentials or {})
        near = difflib.get_close_matches(value, names, n=1)
        hint = f" — did you mean '{near[0]}'?" if near else ""
        known = (
            f" (the credentials have: {', '.join(names)})"
            if names
            else ": no credentials were given; pass credentials= (a mapping or a YAML file)"
        )
        raise DatasetError(f"{_prefix(entry)}credentials '{value}' not found{hint}{known}")
    return credentials[value]


def resolve_credentials(
    config: Any, credentials: Mapping[str, Any] | None, entry: str | None
) -> Any:
    """Return ``config`` with every ``credentials: <name>`` (at any depth) replaced by its value."""
    if isinstance(config, Mapping):
        out = {}
        for key, value in config.items():
            if key == "credentials":
                out[key] = _resolve_credentials(value, credentials, entry)
            else:
                out[key] = resolve_credentials(value, credentials, entry)
        return out
    if isinstance(config, list):
        return [resolve_credentials(v, credentials, entry) for v in config]
    return config


def dataset_from_config(
    name: str | None,
    config: Mapping[str, Any],
    *,
    credentials: Mapping[str, Any] | None = None,
    load_version: str | None = None,
    save_version: str | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> Dataset:
    """Return the dataset a catalog entry describes; raise DatasetError naming the entry.

    Args:
        name: The catalog name (for messages; None for an unnamed dataset).
        config: The entry: ``type`` and the class's arguments, plus ``layer``,
            ``metadata`` (ignored), ``versioned`` and ``credentials`` (a mapping,
            or the name of one in ``credentials``).
        credentials: Credentials by name.
        load_version: The version to load, for a versioned dataset.
        save_version: The version to save as, for a versioned dataset.
        base_dir: The folder relative paths are relative to (default: the
            working directory now).

    Example:
        >>> ds = dataset_from_config("scores", {"type": "memory"})
        >>> ds.describe()["type"]
        'MemoryDataset'
    """
    prefix = _prefix(name)
    if not isinstance(config, Mapping):
        raise DatasetError(
            f"{prefix}expected a mapping with 'type' and its arguments, got {type(config).__name__}"
        )
    cfg: dict[str, Any] = resolve_credentials(dict(config), credentials, name)
    if "type" not in cfg:
        raise DatasetError(f"{prefix}has no 'type' (such as 'pandas.CSVDataset' or 'csv')")
    cls = resolve_type(cfg.pop("type"), entry=name)
    layer = cfg.pop("layer", None)
    metadata = cfg.pop("metadata", None)
    versioned = bool(cfg.pop("versioned", False))
    params = _parameters(cls)
    accepts = (lambda key: True) if params is None else params.__contains__
    type_label = getattr(cls, "type_name", "") or f"{cls.__module__}.{cls.__qualname__}"

    for given, wanted in (("path", "filepath"), ("filepath", "path")):
        if given in cfg and wanted not in cfg and not accepts(given) and accepts(wanted):
            cfg[wanted] = cfg.pop(given)
    if versioned or load_version or save_version:
        if params is None or "versioned" not in params:
            raise DatasetError(
                f"{prefix}{type_label} cannot be versioned: remove versioned: true"
                if versioned
                else f"{prefix}a load version is given but {type_label} is not versioned"
            )
        if not versioned:
            raise DatasetError(
                f"{prefix}a load version is given but the entry is not versioned: set "
                "versioned: true"
            )
        cfg["versioned"] = True
        if load_version:
            cfg["load_version"] = load_version
        if save_version:
            cfg["save_version"] = save_version
    for key, value in (("name", name), ("base_dir", base_dir), ("layer", layer)):
        if value is not None and params is not None and key in params:
            cfg[key] = value
    if metadata is not None and params is not None and "metadata" in params:
        cfg["metadata"] = metadata

    if params is not None:
        unknown = sorted(set(cfg) - params)
        if unknown:
            near = difflib.get_close_matches(unknown[0], sorted(params), n=1)
            hint = f" — did you mean '{near[0]}'?" if near else ""
            raise DatasetError(
                f"{prefix}{type_label} has no argument '{unknown[0]}'{hint} "
                f"(it takes {', '.join(sorted(params - {'name', 'base_dir'}))})"
            )
    try:
        inspect.signature(cls).bind(**cfg)
    except TypeError as exc:
        raise DatasetError(f"{prefix}{type_label}: {exc}") from None
    except ValueError:
        pass
    try:
        made = cls(**cfg)
    except DatasetError as exc:
        if name and f"'{name}'" in str(exc):
            raise
        raise DatasetError(f"{prefix}{exc}") from exc
    except Exception as exc:
        unexpected = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
        if isinstance(exc, TypeError) and unexpected is not None:
            raise DatasetError(
                f"{prefix}{type_label} has no argument '{unexpected.group(1)}'"
            ) from exc
        cause = f"{type(exc).__name__}: {exc}"
        clean = redact(cause, secrets_of(cfg.get("credentials"), cfg.get("fs_args")))
        error = DatasetError(f"{prefix}{type_label}: {clean}")
        if clean != cause:
            raise error from None
        raise error from exc
    dataset = made if isinstance(made, Dataset) else ObjectDataset(made)
    if dataset.name is None:
        dataset.name = name
    if layer is not None:
        dataset.layer = layer
    return dataset
