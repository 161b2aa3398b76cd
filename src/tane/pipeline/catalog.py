"""The data catalog: datasets by name, from a Kedro-style ``catalog.yaml`` or from code.

Usable alone, in a notebook::

    catalog = DataCatalog.from_yaml("conf/catalog.yaml", "conf/credentials.yaml")
    iris = catalog.load("iris")

Nothing heavy is imported here: OmegaConf when a YAML file is read, pandas,
fsspec and the rest when a dataset loads or saves. See ``docs/catalog.md``.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tane.errors import DatasetError
from tane.pipeline.datasets._types import dataset_from_config, resolve_credentials
from tane.pipeline.datasets.base import Dataset, DatasetLike, ObjectDataset

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Factory:
    """A catalog entry whose name has ``{placeholders}`` (a Kedro dataset factory)."""

    def __init__(self, pattern: str, entry: Mapping[str, Any]) -> None:
        self.pattern = pattern
        self.entry = entry
        self.placeholders: list[str] = []
        parts: list[str] = []
        position = 0
        for match in _PLACEHOLDER.finditer(pattern):
            parts.append(re.escape(pattern[position : match.start()]))
            name = match.group(1)
            if name in self.placeholders:
                parts.append(f"(?P={name})")
            else:
                parts.append(f"(?P<{name}>.+?)")
                self.placeholders.append(name)
            position = match.end()
        parts.append(re.escape(pattern[position:]))
        self.regex = re.compile("".join(parts), re.DOTALL)
        # Kedro's specificity: the characters outside the braces.
        self.specificity = len(re.sub(r"\{.*?\}", "", pattern))

    def sort_key(self) -> tuple[int, int, str]:
        # Kedro's order: more literal characters, then more placeholders, then by name.
        return (-self.specificity, -self.pattern.count("{"), self.pattern)

    def match(self, name: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(name)
        return found.groupdict() if found else None

    def config_for(self, values: Mapping[str, str]) -> Any:
        return _substitute(self.entry, values)


def _substitute(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, Mapping):
        return {k: _substitute(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, values) for v in value]
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _to_plain(config: Any) -> Any:
    """Return a plain container for an OmegaConf config (resolved); anything else as is."""
    if type(config).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        try:
            return OmegaConf.to_container(config, resolve=True)
        except OmegaConfBaseException as exc:
            raise DatasetError(f"catalog: cannot resolve an interpolation: {exc}") from None
    return config


class DataCatalog:
    """Datasets by name: load, save and check them; resolve Kedro-style dataset factories.

    Args:
        datasets: Datasets by name (objects with ``load`` and ``save`` are wrapped).
        base_dir: The folder that relative paths of entries made by
            :meth:`from_config` are relative to (the project root); default: the
            working directory when the catalog is made.

    Example:
        >>> from tane.pipeline.datasets import MemoryDataset
        >>> catalog = DataCatalog({"numbers": MemoryDataset([1, 2, 3])})
        >>> catalog.load("numbers")
        [1, 2, 3]
        >>> "numbers" in catalog, "letters" in catalog
        (True, False)
    """

    def __init__(
        self,
        datasets: Mapping[str, Dataset] | None = None,
        *,
        base_dir: str | Path | None = None,
    ) -> None:
        self._base_dir = os.path.abspath(base_dir) if base_dir is not None else os.getcwd()
        self._datasets: dict[str, Dataset] = {}
        self._declared: list[str] = []
        self._factories: list[_Factory] = []
        self._from_pattern: dict[str, str] = {}
        self._credentials: dict[str, Any] = {}
        self._load_versions: dict[str, str] = {}
        self._save_version: str | None = None
        for name, dataset in (datasets or {}).items():
            self.add(name, dataset)

    # -- building ------------------------------------------------------------------

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        credentials: Mapping[str, Any] | None = None,
        *,
        load_versions: Mapping[str, str] | None = None,
        base_dir: str | Path | None = None,
        save_version: str | None = None,
    ) -> DataCatalog:
        """Return a catalog of the entries of a (parsed) ``catalog.yaml``.

        Args:
            config: Entries by name. Names that start with ``_`` are templates,
                not datasets; names with ``{placeholders}`` are dataset factories.
            credentials: Credentials by name, for entries whose ``credentials:``
                is a name.
            load_versions: Versions to load instead of the latest, by dataset name.
            base_dir: The folder relative paths are relative to (default: cwd).
            save_version: One version for every versioned save (as a Kedro
                session does); by default each save makes a new version.

        Raises:
            DatasetError: An entry is malformed (naming it), a type or a
                credentials name is unknown, or a load version names no versioned
                dataset.
        """
        config = _to_plain(config)
        credentials = _to_plain(credentials)
        if not isinstance(config, Mapping):
            raise DatasetError(
                f"catalog: expected a mapping of dataset names to entries, got "
                f"{type(config).__name__}"
            )
        if credentials is not None and not isinstance(credentials, Mapping):
            raise DatasetError(
                f"catalog: credentials must be a mapping of names to credentials, got "
                f"{type(credentials).__name__}"
            )
        catalog = cls(base_dir=base_dir)
        catalog._credentials = dict(credentials or {})
        catalog._load_versions = dict(load_versions or {})
        catalog._save_version = save_version
        for name, entry in config.items():
            if not isinstance(name, str):
                raise DatasetError(f"catalog: dataset name {name!r} is not a string")
            if name.startswith("_"):
                continue
            if "{" in name:
                catalog._add_factory(name, entry)
            else:
                catalog._datasets[name] = catalog._make(name, entry)
                catalog._declared.append(name)
        catalog._factories.sort(key=_Factory.sort_key)
        catch_all = [f.pattern for f in catalog._factories if f.specificity == 0]
        if len(catch_all) > 1:
            raise DatasetError(
                f"catalog: more than one catch-all pattern ({', '.join(catch_all)}); keep one"
            )
        for name in catalog._load_versions:
            if name not in catalog:
                raise DatasetError(
                    f"catalog: load_versions names '{name}', which is not in the catalog"
                    + catalog._near(name)
                )
        return catalog

    @classmethod
    def from_yaml(
        cls,
        path: str | Path,
        credentials: str | Path | Mapping[str, Any] | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        load_versions: Mapping[str, str] | None = None,
        base_dir: str | Path | None = None,
        save_version: str | None = None,
    ) -> DataCatalog:
        """Return the catalog of a YAML file, with its ``${...}`` interpolations resolved.

        Interpolations resolve against the file's own keys (``${_root}`` for a
        ``_root: data/`` entry), the keys of ``context`` (the composed project
        config) and ``${oc.env:VAR}``; YAML anchors (``&csv`` / ``<<: *csv``) work.

        Args:
            path: The catalog file.
            credentials: A credentials YAML file (interpolations such as
                ``${oc.env:DB_PASSWORD}`` resolved) or a mapping; entries name them
                with ``credentials: <name>``.
            context: Values interpolations may use; the file's keys win over them.
            load_versions: Versions to load instead of the latest, by dataset name.
            base_dir: The folder relative paths are relative to (default: cwd).
            save_version: One version for every versioned save.

        Raises:
            DatasetError: The file is missing or is not valid YAML, an interpolation
                cannot be resolved, or an entry is malformed.
        """
        raw = _read_yaml(path, "catalog")
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise DatasetError(f"catalog file {path}: expected a mapping of dataset names")
        resolved = _resolve(raw, context, str(path))
        creds: Mapping[str, Any] | None
        if credentials is None or isinstance(credentials, Mapping):
            creds = credentials
        else:
            loaded = _read_yaml(credentials, "credentials")
            if loaded is not None and not isinstance(loaded, Mapping):
                raise DatasetError(f"credentials file {credentials}: expected a mapping of names")
            creds = _resolve(loaded or {}, None, str(credentials), secret=True)
        return cls.from_config(
            resolved,
            creds,
            load_versions=load_versions,
            base_dir=base_dir,
            save_version=save_version,
        )

    def _make(self, name: str, entry: Any, pattern: str | None = None) -> Dataset:
        try:
            return dataset_from_config(
                name,
                entry,
                credentials=self._credentials,
                load_version=self._load_versions.get(name),
                save_version=self._save_version if _is_versioned(entry) else None,
                base_dir=self._base_dir,
            )
        except DatasetError as exc:
            if pattern is None:
                raise
            raise DatasetError(f"{exc} (the entry comes from pattern '{pattern}')") from exc

    def _add_factory(self, pattern: str, entry: Any) -> None:
        if not isinstance(entry, Mapping):
            raise DatasetError(
                f"catalog pattern '{pattern}': expected a mapping with 'type', got "
                f"{type(entry).__name__}"
            )
        factory = _Factory(pattern, entry)
        for text in _strings(entry):
            for match in _PLACEHOLDER.finditer(text):
                if match.group(1) not in factory.placeholders:
                    raise DatasetError(
                        f"catalog pattern '{pattern}': the entry uses '{match.group(0)}', "
                        f"which is not a placeholder of the pattern "
                        f"({', '.join(factory.placeholders)})"
                    )
        # A credentials name without placeholders can be checked now, not at first use.
        if not any("{" in s for s in _strings(entry.get("credentials"))):
            resolve_credentials(dict(entry), self._credentials, pattern)
        self._factories.append(factory)

    # -- datasets by name ---------------------------------------------------------------

    def _match(self, name: str) -> tuple[_Factory, dict[str, str]] | None:
        for factory in self._factories:
            values = factory.match(name)
            if values is not None:
                return factory, values
        return None

    def _near(self, name: str) -> str:
        names = [*self._datasets, *(f.pattern for f in self._factories)]
        near = difflib.get_close_matches(name, list(self._datasets), n=3, cutoff=0.6)
        if near:
            return " — did you mean " + " or ".join(f"'{n}'" for n in near) + "?"
        if not names:
            return "; the catalog is empty"
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        return f"; it has {shown}"

    def get(self, name: str) -> Dataset:
        """Return the dataset of this name (made from a matching pattern if need be).

        Raises:
            DatasetError: No dataset or pattern has this name (near matches named).
        """
        dataset = self._datasets.get(name)
        if dataset is not None:
            return dataset
        found = self._match(name)
        if found is None:
            raise DatasetError(f"dataset '{name}' not found in the catalog{self._near(name)}")
        factory, values = found
        dataset = self._make(name, factory.config_for(values), factory.pattern)
        self._datasets[name] = dataset
        self._from_pattern[name] = factory.pattern
        return dataset

    def load(self, name: str) -> Any:
        """Return the data of a dataset; raise DatasetError naming it and its path."""
        return self.get(name).load()

    def save(self, name: str, data: Any) -> None:
        """Save data to a dataset (atomically; on failure the old data stays)."""
        self.get(name).save(data)

    def exists(self, name: str) -> bool:
        """Return True if the dataset has data; False for a name the catalog does not know."""
        if name not in self:
            return False
        return self.get(name).exists()

    def add(self, name: str, dataset: Dataset | DatasetLike, replace: bool = False) -> None:
        """Add a dataset under ``name``.

        Raises:
            DatasetError: The name is taken and ``replace`` is False, or ``dataset``
                has no ``load`` and ``save``.
        """
        if not isinstance(name, str) or not name:
            raise DatasetError(f"catalog: dataset name {name!r} is not a non-empty string")
        if name in self._datasets and not replace:
            raise DatasetError(
                f"dataset '{name}' is already in the catalog: pass replace=True to replace it"
            )
        if not isinstance(dataset, Dataset):
            if not isinstance(dataset, DatasetLike):
                raise DatasetError(
                    f"catalog: cannot add '{name}': {type(dataset).__name__} has no load() "
                    "and save()"
                )
            dataset = ObjectDataset(dataset)
        if dataset.name is None:
            dataset.name = name
        self._datasets[name] = dataset
        self._from_pattern.pop(name, None)
        if name not in self._declared:
            self._declared.append(name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return name in self._datasets or self._match(name) is not None

    def names(self) -> list[str]:
        """Return the names of the declared and added datasets (not those made from patterns)."""
        return list(self._declared)

    def patterns(self) -> list[str]:
        """Return the dataset factory patterns, the one that wins first."""
        return [f.pattern for f in self._factories]

    def describe(self, name: str) -> dict[str, Any]:
        """Return the dataset's description (never its credentials), with its name."""
        out = {"name": name, **self.get(name).describe()}
        if name in self._from_pattern:
            out["pattern"] = self._from_pattern[name]
        return out

    def release(self, name: str) -> None:
        """Drop the data a dataset holds in memory."""
        self.get(name).release()

    def __repr__(self) -> str:
        return f"DataCatalog(names={self.names()!r}, patterns={self.patterns()!r})"


def _is_versioned(entry: Any) -> bool:
    return isinstance(entry, Mapping) and bool(entry.get("versioned"))


def _read_yaml(path: str | Path, what: str) -> Any:
    """Return the OmegaConf config of a YAML file; raise DatasetError if it cannot be read."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.load(path)
    except FileNotFoundError:
        raise DatasetError(f"{what} file {os.fspath(path)!r} not found") from None
    except (OSError, OmegaConfBaseException) as exc:
        raise DatasetError(f"{what} file {os.fspath(path)}: {exc}") from None
    except Exception as exc:  # YAML syntax errors
        first = str(exc).strip().splitlines()
        raise DatasetError(
            f"{what} file {os.fspath(path)}: not valid YAML: {' '.join(first[:4])}"
        ) from None


def _resolve(
    raw: Any, context: Mapping[str, Any] | None, source: str, secret: bool = False
) -> dict[str, Any]:
    """Return the entries of a YAML config with interpolations resolved, one entry at a time."""
    from omegaconf import DictConfig, ListConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    own = raw if isinstance(raw, DictConfig) else OmegaConf.create(dict(raw))
    keys = [str(k) for k in own]
    if context:
        plain = context
        if type(context).__module__.startswith("omegaconf"):
            plain = OmegaConf.to_container(context, resolve=False)  # type: ignore[assignment]
        extra = {k: v for k, v in dict(plain).items() if k not in keys}
        root: Any = OmegaConf.merge(OmegaConf.create(extra), own)
    else:
        root = own
    out: dict[str, Any] = {}
    for key in keys:
        try:
            node = root[key]
            out[key] = (
                OmegaConf.to_container(node, resolve=True)
                if isinstance(node, DictConfig | ListConfig)
                else node
            )
        except OmegaConfBaseException as exc:
            if secret:
                raise DatasetError(
                    f"credentials file {source}: entry '{key}': cannot resolve an "
                    f"interpolation ({type(exc).__name__})"
                ) from None
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DatasetError(
                f"catalog file {source}: entry '{key}': cannot resolve an interpolation: {reason}"
            ) from None
    return out
