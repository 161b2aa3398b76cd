"""A folder of files, each one a dataset (Kedro's ``partitions.PartitionedDataset``)."""

from __future__ import annotations

import copy
import hashlib
import os
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from tane.errors import DatasetError
from tane.pipeline.datasets._storage import (
    Storage,
    join,
    resolve_url,
    secrets_of,
    split,
    storage_options,
)
from tane.pipeline.datasets.base import Dataset


class PartitionedDataset(Dataset):
    """A folder whose files are partitions, each read and written by an inner dataset.

    ``load()`` returns ``{partition_id: load_function}`` sorted by id, so a node
    loads only the partitions it needs (as in Kedro); a partition id is the file's
    path below the folder without ``filename_suffix``. ``save()`` takes
    ``{partition_id: data or a function returning data}``.

    Args:
        path: The folder (a local path or any fsspec URL).
        dataset: The inner dataset: a type name (``pandas.CSVDataset``), a class,
            or a mapping with ``type`` and its arguments.
        filepath_arg: The inner dataset's argument that takes the file's path.
        filename_suffix: Only files ending with it are partitions; it is added to
            the partition id on save.
        credentials: Storage options that are secrets, for the folder and (unless
            the inner dataset has its own) for each partition.
        load_args: Arguments of the file system's ``find`` (``maxdepth`` ...).
        fs_args: Storage options, also given to each partition unless the inner
            dataset has its own.
        overwrite: On save, delete the partitions that are not in the new data.
        layer: The catalog's layer.
        metadata: Free-form, ignored.
        name: The catalog name, for messages.
        base_dir: The folder relative paths are relative to.

    Files and folders whose names start with ``.`` (``.gitkeep``, temporary files)
    are not partitions. A save writes every partition to a hidden folder next to
    this one first and moves them in only when all were written, so a partition
    that fails leaves the folder as it was.
    """

    type_name: ClassVar[str] = "partitions.PartitionedDataset"

    def __init__(
        self,
        path: str | os.PathLike[str],
        dataset: str | type | Mapping[str, Any],
        *,
        filepath_arg: str = "filepath",
        filename_suffix: str = "",
        credentials: Mapping[str, Any] | None = None,
        load_args: Mapping[str, Any] | None = None,
        fs_args: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        layer: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        name: str | None = None,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(layer=layer, metadata=metadata, name=name)
        self._secrets = secrets_of(credentials, fs_args)
        self._path = os.fspath(path)
        self._base_dir = os.fspath(base_dir) if base_dir is not None else os.getcwd()
        self._url = resolve_url(self._path, self._base_dir)
        self._options, _, _ = storage_options(credentials, fs_args)
        self._storage = Storage(self._url, self._options)
        self._filepath_arg = filepath_arg
        self._suffix = filename_suffix
        self._find_args = dict(load_args or {})
        self._overwrite = overwrite
        if isinstance(dataset, Mapping):
            inner = dict(dataset)
        elif isinstance(dataset, str | type):
            inner = {"type": dataset}
        else:
            raise DatasetError(
                f"{self._label()}: dataset must be a type name, a class or a mapping "
                f"with 'type', not {type(dataset).__name__}"
            )
        if "type" not in inner:
            raise DatasetError(f"{self._label()}: the inner dataset has no 'type'")
        if inner.get("versioned"):
            raise DatasetError(
                f"{self._label()}: partitions cannot be versioned: remove versioned from "
                "the inner dataset"
            )
        if filepath_arg in inner:
            raise DatasetError(
                f"{self._label()}: the inner dataset sets {filepath_arg!r}, which each "
                "partition's path replaces: remove it"
            )
        if credentials is not None and "credentials" not in inner:
            inner["credentials"] = copy.deepcopy(dict(credentials))
        if fs_args is not None and "fs_args" not in inner:
            inner["fs_args"] = copy.deepcopy(dict(fs_args))
        self._inner = inner
        self._secrets |= secrets_of(inner.get("credentials"), inner.get("fs_args"))
        probe = self._dataset_at(self._url)
        self._inner_type = probe.kind

    def _dataset_at(self, url: str) -> Dataset:
        from tane.pipeline.datasets._types import dataset_from_config

        config = {**self._inner, self._filepath_arg: url}
        try:
            return dataset_from_config(None, config, base_dir=self._base_dir)
        except DatasetError as exc:
            raise DatasetError(f"{self._label()}: inner dataset: {exc}") from exc

    def _where(self) -> str:
        return self._path

    # -- partitions ----------------------------------------------------------------

    def _relative(self, url: str, base: str) -> str:
        if self._storage.local:
            return os.path.relpath(url, base).replace(os.sep, "/")
        native, root = self._storage.native(url), self._storage.native(base).rstrip("/")
        return native[len(root) + 1 :]

    def _partitions(self) -> dict[str, str]:
        """Return {partition id: file URL}, sorted by id."""
        try:
            files = self._storage.files(self._url, **self._find_args)
        except Exception as exc:
            self._fail(f"cannot list {self._url}", exc)
        out: dict[str, str] = {}
        for url in files:
            rel = self._relative(url, self._url)
            if any(part.startswith(".") for part in rel.split("/")):
                continue
            if self._suffix:
                if not rel.endswith(self._suffix):
                    continue
                rel = rel[: -len(self._suffix)]
            out[rel] = url
        return dict(sorted(out.items()))

    def _partition_url(self, root: str, partition_id: str) -> str:
        return join(root, *f"{partition_id}{self._suffix}".split("/"))

    def _check_id(self, partition_id: Any) -> str:
        parts = partition_id.split("/") if isinstance(partition_id, str) else []
        if not parts or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise DatasetError(
                f"{self._label()}: partition id {partition_id!r} is not a relative path "
                "without '.', '..' or hidden parts, such as '2024-05' or 'region/eu'"
            )
        return str(partition_id)

    # -- the contract --------------------------------------------------------------

    def load(self) -> dict[str, Callable[[], Any]]:
        partitions = self._partitions()
        if not partitions:
            raise DatasetError(
                f"{self._label()}: no partitions found in {self._url!r}"
                + (f" (files ending with {self._suffix!r})" if self._suffix else "")
            )
        return {pid: self._dataset_at(url).load for pid, url in partitions.items()}

    def save(self, data: Any) -> None:
        if not isinstance(data, Mapping):
            raise DatasetError(
                f"{self._label()}: cannot save {type(data).__name__}: expected a mapping "
                "of partition id to data (or to a function returning it)"
            )
        ids = {self._check_id(pid): value for pid, value in data.items()}
        parent, base = split(self._url)
        staging = join(parent, f".{base}.{uuid.uuid4().hex[:12]}.staging")
        try:
            for pid, value in sorted(ids.items()):
                try:
                    item = value() if callable(value) else value
                except Exception as exc:
                    self._fail(f"cannot compute partition {pid!r}", exc)
                try:
                    self._dataset_at(self._partition_url(staging, pid)).save(item)
                except DatasetError as exc:
                    raise DatasetError(
                        f"{self._label()}: cannot save partition {pid!r}: {exc}"
                    ) from exc
            old = self._partitions() if self._overwrite else {}
            for pid in ids:
                self._storage.move(
                    self._partition_url(staging, pid), self._partition_url(self._url, pid)
                )
            for pid, url in old.items():
                if pid not in ids:
                    self._storage.remove(url)
        except DatasetError:
            raise
        except Exception as exc:
            self._fail(f"cannot save to {self._url}", exc)
        finally:
            self._storage.remove(staging, recursive=True)

    def exists(self) -> bool:
        return bool(self._partitions())

    @property
    def path(self) -> str:
        return self._url

    def stat(self) -> tuple[Any, ...] | None:
        partitions = self._partitions()
        if not partitions:
            return None
        return tuple((pid, *(self._storage.stat(url) or ())) for pid, url in partitions.items())

    def content_hash(self) -> str | None:
        partitions = self._partitions()
        if not partitions:
            return None
        digest = hashlib.sha256()
        for rel, url in sorted((self._relative(u, self._url), u) for u in partitions.values()):
            try:
                file_hash = self._storage.sha256(url) or ""
            except Exception as exc:
                self._fail(f"cannot read {url}", exc)
            digest.update(f"{rel}\0{file_hash}\n".encode())
        return digest.hexdigest()

    def with_path(self, path: str) -> PartitionedDataset:
        new = copy.copy(self)
        new._path = os.fspath(path)
        new._url = resolve_url(new._path, self._base_dir)
        new._storage = Storage(new._url, self._options)
        return new

    def _describe(self) -> dict[str, Any]:
        return {
            "dataset": self._inner_type,
            "filename_suffix": self._suffix,
            "overwrite": self._overwrite,
        }
