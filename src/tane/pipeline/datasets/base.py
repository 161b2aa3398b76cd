"""The dataset contract, and the base of every dataset stored as one file.

A dataset is anything with ``load()`` and ``save(data)``. :class:`Dataset` adds
what a pipeline's cache and lineage need (``path``, ``version``, ``stat()``,
``content_hash()``, ``with_path()``) with defaults that say "unknown", so a
custom dataset only has to implement ``load``, ``save`` and ``exists``.
"""

from __future__ import annotations

import abc
import contextlib
import copy
import io
import os
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, BinaryIO, ClassVar, NoReturn, Protocol, TextIO, runtime_checkable

from tane.errors import DatasetError
from tane.pipeline.datasets._storage import (
    TEXT_ARGS,
    Storage,
    join,
    redact,
    resolve_url,
    secrets_of,
    split,
    storage_options,
)

VERSION_FORMAT = "%Y-%m-%dT%H.%M.%S.%fZ"
"""Kedro's version folder names: UTC time to the millisecond, ``2024-05-01T12.30.05.123Z``."""


@runtime_checkable
class DatasetLike(Protocol):
    """The least a catalog can use: an object that loads and saves."""

    def load(self) -> Any: ...  # pragma: no cover

    def save(self, data: Any) -> None: ...  # pragma: no cover


class Dataset(abc.ABC):
    """One piece of data a pipeline reads or writes, wherever it is stored.

    Subclasses implement :meth:`load`, :meth:`save` and :meth:`exists`; the rest
    has defaults for data that has no file (``path``, ``stat()`` and
    ``content_hash()`` are None, ``with_path()`` raises).

    Attributes:
        name: The catalog name, used in error messages (set by the catalog).
        layer: The catalog's ``layer:`` (such as ``raw`` or ``model_input``).
        metadata: The catalog's ``metadata:``, kept for plugins and ignored here.
    """

    type_name: ClassVar[str] = ""
    name: str | None = None
    layer: str | None = None
    metadata: dict[str, Any] | None = None

    def __init__(
        self,
        *,
        layer: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        self.layer = layer
        self.metadata = dict(metadata) if metadata is not None else None
        self.name = name

    @abc.abstractmethod
    def load(self) -> Any:
        """Return the stored data; raise DatasetError if it cannot be read."""

    @abc.abstractmethod
    def save(self, data: Any) -> None:
        """Store ``data`` atomically; raise DatasetError and keep the old data if it fails."""

    @abc.abstractmethod
    def exists(self) -> bool:
        """Return True if there is data to load."""

    def describe(self) -> dict[str, Any]:
        """Return what the dataset is and where it lives; never its credentials."""
        out = {
            "type": self.kind,
            "path": self.path,
            "layer": self.layer,
            "versioned": False,
            **self._describe(),
        }
        scrubbed: dict[str, Any] = _scrub(out, self._secret_values())
        return scrubbed

    def release(self) -> None:  # noqa: B027 - optional hook: most datasets hold nothing
        """Drop any data held in memory (a no-op for data stored elsewhere)."""

    @property
    def kind(self) -> str:
        """The type name a catalog uses for this class (``pandas.CSVDataset`` ...)."""
        cls = type(self)
        return cls.type_name or f"{cls.__module__}.{cls.__qualname__}"

    @property
    def path(self) -> str | None:
        """The URL or local path of the data; None when it has none (memory, SQL, API)."""
        return None

    @property
    def version(self) -> str | None:
        """The version last loaded or saved, for versioned datasets; else None."""
        return None

    def stat(self) -> tuple[Any, ...] | None:
        """Return a cheap change signature without reading the data, or None.

        ``(size, mtime_ns)`` for a local file, ``(size, ETag or mtime)`` remotely,
        one entry per file for a folder; None if there is no file (yet).
        """
        return None

    def content_hash(self) -> str | None:
        """Return the sha256 hex of the stored bytes, or None when they cannot be known."""
        return None

    def with_path(self, path: str) -> Dataset:
        """Return a copy reading and writing at ``path``; raise DatasetError without a path."""
        raise DatasetError(
            f"{self._label()}: has no path to change; with_path() works for datasets "
            "stored in files"
        )

    def at_version(self, version: str) -> Dataset:
        """Return a copy that loads ``version``; datasets without versions return themselves."""
        return self

    # -- helpers for subclasses ----------------------------------------------------

    def _describe(self) -> dict[str, Any]:
        """Return the type-specific part of :meth:`describe`."""
        return {}

    def _where(self) -> str | None:
        """Return where the data is, for messages (a path as configured, a table ...)."""
        return None

    def _secret_values(self) -> frozenset[str]:
        secrets: frozenset[str] = getattr(self, "_secrets", frozenset())
        return secrets

    def _label(self) -> str:
        who = f"dataset '{self.name}'" if self.name else self.kind
        where = self._where()
        label = f"{who} ({where})" if where else who
        return redact(label, self._secret_values())

    def _fail(self, what: str, exc: BaseException) -> NoReturn:
        """Raise DatasetError naming the dataset, ``what`` failed and why; never a secret."""
        cause = f"{type(exc).__name__}: {exc}"
        clean = redact(cause, self._secret_values())
        error = DatasetError(f"{self._label()}: {redact(what, self._secret_values())}: {clean}")
        if clean != cause:
            # The original exception holds the secret: do not chain it.
            raise error from None
        raise error from exc

    def __repr__(self) -> str:
        where = self._where()
        inner = repr(where) if where else ""
        if self.name:
            inner = f"{inner}, name={self.name!r}" if inner else f"name={self.name!r}"
        return redact(f"{type(self).__name__}({inner})", self._secret_values())


def _scrub(value: Any, secrets: frozenset[str]) -> Any:
    if not secrets:
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, Mapping):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v, secrets) for v in value)
    return value


# -- versions ------------------------------------------------------------------------

_version_lock = threading.Lock()
_last_version: list[datetime] = []


def _parse_version(version: str) -> datetime | None:
    try:
        return datetime.strptime(version, VERSION_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _format_version(moment: datetime) -> str:
    return moment.strftime(VERSION_FORMAT)[:-4] + "Z"


def generate_version(after: str | None = None) -> str:
    """Return a new version string, later than any this process made and than ``after``."""
    now = datetime.now(timezone.utc)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    floor = _parse_version(after) if after else None
    with _version_lock:
        if _last_version and now <= _last_version[0]:
            now = _last_version[0] + timedelta(milliseconds=1)
        if floor is not None and now <= floor:
            now = floor + timedelta(milliseconds=1)
        _last_version[:] = [now]
    return _format_version(now)


def _bump(version: str) -> str:
    moment = _parse_version(version)
    if moment is None:
        return generate_version()
    return generate_version(_format_version(moment))


# -- text helpers ----------------------------------------------------------------------


def read_text(fh: BinaryIO, args: Mapping[str, Any]) -> str:
    """Read a whole binary file as text (``encoding``/``errors`` from the open args)."""
    data: str = fh.read().decode(args.get("encoding") or "utf-8", args.get("errors") or "strict")
    return data


@contextlib.contextmanager
def text_writer(fh: BinaryIO, args: Mapping[str, Any]) -> Iterator[TextIO]:
    """Write text to a binary file, streaming (``encoding``/``errors``/``newline``)."""
    wrapper = io.TextIOWrapper(
        fh,
        encoding=args.get("encoding") or "utf-8",
        errors=args.get("errors") or "strict",
        newline=args.get("newline", ""),
    )
    try:
        yield wrapper
        wrapper.flush()
    finally:
        with contextlib.suppress(ValueError):
            wrapper.detach()


# -- one file --------------------------------------------------------------------------


class FileDataset(Dataset):
    """Data stored as one file at a local path or any fsspec URL, optionally versioned.

    Subclasses implement :meth:`_read` and :meth:`_write` on binary file objects
    and may refuse data early in :meth:`_validate`.

    Args:
        filepath: A local path (relative to ``base_dir``, else the working
            directory when the dataset is made) or a URL (``s3://``, ``gs://``,
            ``memory://``, ``file://`` ...).
        load_args: Keyword arguments of the reader.
        save_args: Keyword arguments of the writer.
        fs_args: Storage options of the file system; ``open_args_load`` and
            ``open_args_save`` go to ``open()`` (``compression``, ``encoding``).
        credentials: Storage options that are secrets (``key``, ``secret``,
            ``token`` ...); never shown.
        versioned: Save each time to a new ``<filepath>/<version>/<basename>``
            and load the latest (Kedro's layout).
        load_version: The version to load instead of the latest.
        save_version: The version to save as (by default a new one per save).
        layer: The catalog's layer.
        metadata: Free-form, ignored.
        name: The catalog name, for messages.
        base_dir: The folder relative paths are relative to.
    """

    DEFAULT_LOAD_ARGS: ClassVar[Mapping[str, Any]] = {}
    DEFAULT_SAVE_ARGS: ClassVar[Mapping[str, Any]] = {}

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        *,
        load_args: Mapping[str, Any] | None = None,
        save_args: Mapping[str, Any] | None = None,
        fs_args: Mapping[str, Any] | None = None,
        credentials: Mapping[str, Any] | None = None,
        versioned: bool = False,
        load_version: str | None = None,
        save_version: str | None = None,
        layer: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        name: str | None = None,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(layer=layer, metadata=metadata, name=name)
        if credentials is not None and not isinstance(credentials, Mapping):
            raise DatasetError(
                f"{self._label()}: credentials must be a mapping of storage options, "
                f"not {type(credentials).__name__}; in a catalog, name an entry of the "
                "credentials file"
            )
        self._secrets = secrets_of(credentials, fs_args)
        if not isinstance(filepath, str | os.PathLike) or not os.fspath(filepath):
            raise DatasetError(f"{self._label()}: filepath must be a non-empty path or URL")
        self._filepath = os.fspath(filepath)
        self._base_dir = os.fspath(base_dir) if base_dir is not None else os.getcwd()
        self._url = resolve_url(self._filepath, self._base_dir)
        self._load_args = {**self.DEFAULT_LOAD_ARGS, **(load_args or {})}
        self._save_args = {**self.DEFAULT_SAVE_ARGS, **(save_args or {})}
        self._options, open_load, open_save = storage_options(credentials, fs_args)
        self._text_load = {k: open_load.pop(k) for k in TEXT_ARGS if k in open_load}
        self._text_save = {k: open_save.pop(k) for k in TEXT_ARGS if k in open_save}
        self._open_load, self._open_save = open_load, open_save
        self._storage = Storage(self._url, self._options)
        self._versioned = bool(versioned)
        if (load_version or save_version) and not self._versioned:
            raise DatasetError(
                f"{self._label()}: a load or save version is given but the dataset is "
                "not versioned: set versioned: true"
            )
        self._load_version = load_version
        self._save_version = save_version
        self._version: str | None = None

    # -- reading and writing (subclasses) -------------------------------------------

    @abc.abstractmethod
    def _read(self, fh: BinaryIO) -> Any:
        """Return the data read from an open binary file."""

    @abc.abstractmethod
    def _write(self, data: Any, fh: BinaryIO) -> None:
        """Write ``data`` to an open binary file (a temporary one)."""

    def _validate(self, data: Any) -> None:
        """Raise DatasetError for data this format cannot store (before any write)."""

    def _prepare_load(self) -> None:
        """Raise DatasetError if this format cannot be read here (a missing library)."""

    def _expect(self, data: Any, attribute: str, what: str) -> None:
        if not hasattr(data, attribute):
            raise DatasetError(
                f"{self._label()}: cannot save {type(data).__name__}: expected {what}"
            )

    # -- the contract --------------------------------------------------------------

    def load(self) -> Any:
        self._prepare_load()
        url, version = self._load_target()
        try:
            with self._storage.open_read(url, self._open_load) as fh:
                data = self._read(fh)
        except DatasetError:
            raise
        except FileNotFoundError:
            relative = self._storage.local and not os.path.isabs(
                self._filepath.removeprefix("file://")
            )
            where = (
                f" (relative paths are relative to the catalog's base_dir, here {self._base_dir!r})"
                if relative
                else ""
            )
            raise DatasetError(
                f"{self._label()}: no such file {url!r}: save it first, or check the path{where}"
            ) from None
        except IsADirectoryError:
            raise DatasetError(f"{self._label()}: {url!r} is a folder, not a file") from None
        except Exception as exc:
            self._fail(f"cannot load {url}", exc)
        self._version = version
        return data

    def save(self, data: Any) -> None:
        self._validate(data)
        url, version = self._save_target()
        try:
            self._storage.write(url, lambda fh: self._write(data, fh), self._open_save)
        except Exception as exc:
            self._drop_version_folder(url, version)
            if isinstance(exc, DatasetError):
                raise
            self._fail(f"cannot save {type(data).__name__} to {url}", exc)
        except BaseException:
            self._drop_version_folder(url, version)
            raise
        self._version = version

    def _drop_version_folder(self, url: str, version: str | None) -> None:
        if version is not None:
            self._storage.remove_empty_folder(split(url)[0])

    def exists(self) -> bool:
        try:
            if not self._versioned:
                return self._storage.exists(self._url)
            if self._load_version:
                return self._storage.exists(self._versioned_url(self._load_version))
            return bool(self.versions())
        except DatasetError:
            raise
        except Exception as exc:
            self._fail("cannot check whether it exists", exc)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["versioned"] = self._versioned
        return out

    def _describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"filepath": self._filepath, "protocol": self._storage.protocol}
        if self._versioned:
            out["version"] = self._version
        out["load_args"] = dict(self._load_args)
        out["save_args"] = dict(self._save_args)
        return out

    def _where(self) -> str | None:
        filepath: str | None = getattr(self, "_filepath", None)
        return filepath

    @property
    def path(self) -> str:
        if self._versioned and self._version is not None:
            return self._versioned_url(self._version)
        return self._url

    @property
    def version(self) -> str | None:
        return self._version if self._versioned else None

    @property
    def versioned(self) -> bool:
        """True if each save makes a new version."""
        return self._versioned

    def stat(self) -> tuple[Any, ...] | None:
        url = self._current_url()
        return None if url is None else self._storage.stat(url)

    def content_hash(self) -> str | None:
        url = self._current_url()
        if url is None:
            return None
        try:
            return self._storage.sha256(url)
        except Exception as exc:
            self._fail(f"cannot read {url}", exc)

    def at_version(self, version: str) -> FileDataset:
        """A copy that loads ``version`` (the one a run wrote) instead of the latest."""
        if not self._versioned:
            return self
        new = copy.copy(self)
        new._load_version = version
        new._version = None
        return new

    def with_path(self, path: str) -> FileDataset:
        new = copy.copy(self)
        new._filepath = os.fspath(path)
        new._url = resolve_url(new._filepath, self._base_dir)
        new._storage = Storage(new._url, self._options)
        new._version = None
        return new

    # -- versions ------------------------------------------------------------------

    def versions(self) -> list[str]:
        """Return the saved versions, oldest first ([] when not versioned or none saved)."""
        if not self._versioned:
            return []
        _, basename = split(self._url)
        if self._storage.local:
            found = [
                v
                for v in self._storage.subfolders(self._url)
                if os.path.isfile(join(self._url, v, basename))
            ]
        else:
            base = self._storage.native(self._url).rstrip("/")
            found = []
            for url in self._storage.files(self._url, maxdepth=2):
                rel = self._storage.native(url)[len(base) + 1 :]
                parts = rel.split("/")
                if len(parts) == 2 and parts[1] == basename:
                    found.append(parts[0])
        return sorted(found)

    def _versioned_url(self, version: str) -> str:
        return join(self._url, version, split(self._url)[1])

    def _current_url(self) -> str | None:
        """The file a load would read now, or None if there is none."""
        if not self._versioned:
            return self._url
        if self._load_version:
            return self._versioned_url(self._load_version)
        versions = self.versions()
        return self._versioned_url(versions[-1]) if versions else None

    def _load_target(self) -> tuple[str, str | None]:
        if not self._versioned:
            return self._url, None
        try:
            versions = self.versions()
        except Exception as exc:
            self._fail(f"cannot list the versions in {self._url}", exc)
        if self._load_version:
            if self._load_version not in versions:
                shown = ", ".join(versions[-10:]) if versions else "none yet"
                raise DatasetError(
                    f"{self._label()}: version {self._load_version!r} not found in "
                    f"{self._url}; versions that exist (newest last): {shown}"
                )
            return self._versioned_url(self._load_version), self._load_version
        if not versions:
            raise DatasetError(
                f"{self._label()}: no such file: no version has been saved under {self._url!r} yet"
            )
        return self._versioned_url(versions[-1]), versions[-1]

    def _save_target(self) -> tuple[str, str | None]:
        if not self._versioned:
            return self._url, None
        try:
            if self._save_version:
                version = self._save_version
                folder = join(self._url, version)
                if not self._storage.make_folder_exclusive(folder):
                    raise DatasetError(
                        f"{self._label()}: version {version!r} already exists in "
                        f"{self._url}; versions are never overwritten"
                    )
                return self._versioned_url(version), version
            existing = self.versions()
            version = generate_version(existing[-1] if existing else None)
            for _ in range(1000):
                if self._storage.make_folder_exclusive(join(self._url, version)):
                    return self._versioned_url(version), version
                version = _bump(version)
        except DatasetError:
            raise
        except Exception as exc:
            self._fail(f"cannot create a version folder in {self._url}", exc)
        raise DatasetError(f"{self._label()}: cannot find a free version folder in {self._url}")


class ObjectDataset(Dataset):
    """A catalog's view of an object that has ``load`` and ``save`` but is no :class:`Dataset`.

    ``exists`` and ``release`` are forwarded when the object has them
    (``exists`` is False otherwise); ``path`` is its ``filepath`` or ``path``
    attribute when that is a string. Kedro's own datasets work this way.
    """

    def __init__(self, wrapped: Any, *, layer: str | None = None, name: str | None = None) -> None:
        super().__init__(layer=layer, name=name)
        self.wrapped = wrapped

    @property
    def kind(self) -> str:
        cls = type(self.wrapped)
        return f"{cls.__module__}.{cls.__qualname__}"

    def _call(self, what: str, *args: Any) -> Any:
        try:
            return getattr(self.wrapped, what)(*args)
        except DatasetError:
            raise
        except Exception as exc:
            self._fail(f"{what}() failed", exc)

    def load(self) -> Any:
        return self._call("load")

    def save(self, data: Any) -> None:
        self._call("save", data)

    def exists(self) -> bool:
        if not callable(getattr(self.wrapped, "exists", None)):
            return False
        return bool(self._call("exists"))

    def release(self) -> None:
        if callable(getattr(self.wrapped, "release", None)):
            self._call("release")

    @property
    def path(self) -> str | None:
        for attribute in ("filepath", "path", "_filepath"):
            value = getattr(self.wrapped, attribute, None)
            if isinstance(value, str | os.PathLike):
                return os.fspath(value)
        return None

    def _where(self) -> str | None:
        return self.path
