"""Artifact files of runs under one fsspec root (a folder, ``s3://``, ``gs://`` ...)."""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from tane.errors import InvalidInput, NotFound, StoreUnavailable
from tane.tracking.entities import ArtifactInfo

#: Bytes (UTF-8) of one folder or file name in an artifact path. File systems
#: allow 255; a file is written under a temporary name a few bytes longer.
MAX_NAME_BYTES = 240
#: Bytes (UTF-8) of a whole artifact path (object stores allow 1024 per key).
MAX_PATH_BYTES = 900


def safe_artifact_path(path: str | None, *, allow_root: bool = True) -> str:
    """Return ``path`` normalised to a relative POSIX path inside a run's artifacts.

    Raise InvalidInput for absolute paths, ``..`` parts, backslashes and control
    characters: an artifact can never be written or read outside its run. Names
    longer than a file system holds (MAX_NAME_BYTES, MAX_PATH_BYTES) and text
    that is not Unicode are refused too.
    """
    if path is None or path in ("", "."):
        if allow_root:
            return ""
        raise InvalidInput("artifact path is empty: name a file such as 'model.pkl'")
    if not isinstance(path, str):
        raise InvalidInput(f"artifact path {path!r} is not a string")
    if any(ord(c) < 32 for c in path) or "\\" in path:
        raise InvalidInput(
            f"artifact path {path!r} contains a control character or a backslash: "
            "use '/' between folders"
        )
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise InvalidInput(
            f"artifact path {path!r} is absolute: give a path relative to the run's "
            "artifacts, such as 'plots/curve.png'"
        )
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidInput(
            f"artifact path {path!r} contains '..' and would leave the run's artifacts: "
            "give a path inside them, such as 'plots/curve.png'"
        )
    rel = "/".join(parts)
    try:
        size = len(rel.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput(
            f"artifact path {path!r} is not Unicode text (it holds a lone surrogate)"
        ) from None
    long_names = [p for p in parts if len(p.encode("utf-8")) > MAX_NAME_BYTES]
    if long_names:
        raise InvalidInput(
            f"artifact path {path[:80]!r}...: the name {long_names[0][:40]!r}... has "
            f"{len(long_names[0].encode('utf-8'))} bytes; use at most {MAX_NAME_BYTES} "
            "per folder or file name"
        )
    if size > MAX_PATH_BYTES:
        raise InvalidInput(
            f"artifact path {path[:80]!r}... has {size} bytes; use at most {MAX_PATH_BYTES}"
        )
    return rel


class ArtifactRepository:
    """Files of all runs under one root URL; each run has a folder below it."""

    def __init__(self, root: str) -> None:
        self.root = root
        # A local folder needs no fsspec to write files; it is imported only
        # when a listing or a remote root needs it (it costs ~10 ms at start-up).
        self.is_local = "://" not in root or root.startswith("file://")
        self._fs: Any = None

    @property
    def fs(self) -> Any:
        """The fsspec file system of the root."""
        if self._fs is None:
            import fsspec

            self._fs, _ = fsspec.core.url_to_fs(self.root)
        return self._fs

    def run_uri(self, experiment_id: str, run_id: str) -> str:
        """Return the artifact URI of a new run."""
        return f"{self.root.rstrip('/')}/{experiment_id}/{run_id}"

    def _path(self, run_uri: str, rel: str) -> str:
        if self.is_local:
            base = run_uri[len("file://") :] if run_uri.startswith("file://") else run_uri
        else:
            import fsspec

            _, base = fsspec.core.url_to_fs(run_uri)
        return posixpath.join(base, rel) if rel else base

    def log_file(self, run_uri: str, local_path: str, artifact_path: str | None) -> str:
        """Copy a local file or folder into the run; return its artifact path."""
        # Resolved first: "some/dir/.." must be named after the folder it is.
        src = Path(os.path.abspath(local_path))
        if not src.exists():
            raise NotFound(f"cannot log artifact {local_path!r}: no such file or folder")
        rel = safe_artifact_path(artifact_path)
        rel = safe_artifact_path(posixpath.join(rel, src.name) if rel else src.name or "root")
        dest = self._path(run_uri, rel)
        with _in_the_way(rel), _disk_full(rel, dest):
            if src.is_dir():
                if self.is_local:
                    shutil.copytree(src, dest, dirs_exist_ok=True)
                else:
                    self.fs.put(str(src), dest, recursive=True)
            elif self.is_local:
                _atomic_copy(src, Path(dest))
            else:
                self.fs.put_file(str(src), dest)
        return rel

    def write_bytes(
        self, run_uri: str, artifact_path: str, data: bytes, append: bool = False
    ) -> None:
        """Write bytes to an artifact file atomically (or append to it)."""
        rel = safe_artifact_path(artifact_path, allow_root=False)
        dest = self._path(run_uri, rel)
        if self.is_local:
            target = Path(dest)
            with _in_the_way(rel), _disk_full(rel, dest):
                target.parent.mkdir(parents=True, exist_ok=True)
                if append:
                    with open(target, "ab") as fh:
                        fh.write(data)
                else:
                    _atomic_write(target, data)
            return
        if append and self.fs.exists(dest):
            with self.fs.open(dest, "rb") as fh:
                data = fh.read() + data
        with self.fs.open(dest, "wb") as fh:
            fh.write(data)

    def list(self, run_uri: str, path: str = "") -> list[ArtifactInfo]:
        """List the direct children of an artifact folder, folders first."""
        rel = safe_artifact_path(path)
        target = self._path(run_uri, rel)
        if not self.fs.exists(target):
            return []
        if not self.fs.isdir(target):
            return [ArtifactInfo(rel, False, int(self.fs.size(target)))]
        out = []
        base = self._path(run_uri, "").rstrip("/")
        for entry in self.fs.ls(target, detail=True):
            name = str(entry["name"]).rstrip("/")
            child = (
                name[len(base) :].lstrip("/")
                if name.startswith(base)
                else posixpath.join(rel, posixpath.basename(name))
            )
            is_dir = entry.get("type") == "directory"
            size = None if is_dir else int(entry.get("size") or 0)
            out.append(ArtifactInfo(child, is_dir, size))
        return sorted(out, key=lambda a: (not a.is_dir, a.path))

    def open(self, run_uri: str, path: str) -> BinaryIO:
        """Open an artifact file for reading; raise NotFound."""
        rel = safe_artifact_path(path, allow_root=False)
        target = self._path(run_uri, rel)
        if not self.fs.isfile(target):
            raise NotFound(f"artifact {rel!r} not found in {run_uri}")
        fh: BinaryIO = self.fs.open(target, "rb")
        return fh

    def download(self, run_uri: str, path: str, dst: str) -> str:
        """Copy an artifact file or folder into the folder ``dst``; return the local path."""
        rel = safe_artifact_path(path)
        target = self._path(run_uri, rel)
        if not self.fs.exists(target):
            raise NotFound(f"artifact {rel or '/'!r} not found in {run_uri}")
        name = posixpath.basename(rel) if rel else run_uri.rstrip("/").rsplit("/", 1)[-1]
        local = Path(dst) / name
        local.parent.mkdir(parents=True, exist_ok=True)
        if self.fs.isdir(target):
            self.fs.get(target.rstrip("/") + "/", str(local), recursive=True)
        else:
            self.fs.get_file(target, str(local))
        return str(local)

    def delete_run(self, run_uri: str) -> int:
        """Remove a run's artifacts; return the bytes freed."""
        target = self._path(run_uri, "")
        if not self.fs.exists(target):
            return 0
        size = int(self.fs.du(target, total=True))
        self.fs.rm(target, recursive=True)
        return size

    def sizes(self, run_uris: Sequence[str]) -> int:
        """Return the total size of these runs' artifacts in bytes."""
        total = 0
        for uri in run_uris:
            target = self._path(uri, "")
            if self.fs.exists(target):
                total += int(self.fs.du(target, total=True))
        return total


@contextmanager
def _in_the_way(rel: str) -> Iterator[None]:
    """Turn "a file is where a folder must go" (or the reverse) into InvalidInput."""
    try:
        yield
    except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        name = exc.filename2 or exc.filename
        where = f" at {Path(name).name!r}" if name else ""
        raise InvalidInput(
            f"artifact {rel!r} cannot be written: {reason}{where} (a file and a folder "
            "cannot share a name); pick another path"
        ) from exc


#: What a write gets from a file system that has no room left for it.
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


@contextmanager
def _disk_full(rel: str, dest: str) -> Iterator[None]:
    """Turn "no space left on device" (or over quota, or file too large) into StoreUnavailable."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _NO_ROOM:
            raise
        raise StoreUnavailable(
            f"cannot write artifact {rel!r} to {posixpath.dirname(dest) or dest}: "
            f"{(exc.strerror or 'no space left').lower()}; free space (or raise the "
            "quota) and log it again"
        ) from exc


def _atomic_write(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _atomic_copy(src: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
