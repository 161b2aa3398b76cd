"""The node cache: what each node wrote for a given code, params and inputs.

A folder (by default ``cache/`` in the local store folder) of plain files, safe
for several processes at once because every file is written to a temporary
name and renamed:

- ``entries/ab/<key>.json``: a node run: per output its content hash, and
  where it was written (a dataset path and version) or the object holding it.
- ``objects/ab/<hash>``: memory outputs, pickled, content-addressed. Oldest
  first are removed when the folder grows past its size limit.
- ``hashes/ab/<digest>.json``: content hashes of files remembered by their
  (size, mtime) or ETag, so a large input is read once, not on every run.

A missing, unreadable or inconsistent file is a miss: the node runs again.
Never a wrong output.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import queue
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Bumped when what a key covers changes: old entries then simply miss.
CACHE_FORMAT = 1
DEFAULT_MAX_BYTES = 2 * 1024**3


@dataclass
class OutputRecord:
    """One output of a cached node run."""

    hash: str
    kind: str  # "dataset" or "memory"
    path: str | None = None
    version: str | None = None


@dataclass
class Entry:
    """A cached node run."""

    node: str
    outputs: dict[str, OutputRecord]
    run_id: str | None = None
    duration: float = 0.0
    created: float = field(default_factory=time.time)
    metrics: list[tuple[str, float, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CACHE_FORMAT,
            "node": self.node,
            "run_id": self.run_id,
            "duration": self.duration,
            "created": self.created,
            "outputs": {k: vars(v) for k, v in self.outputs.items()},
            "metrics": [list(m) for m in self.metrics],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(
            node=str(data["node"]),
            outputs={k: OutputRecord(**v) for k, v in data["outputs"].items()},
            run_id=data.get("run_id"),
            duration=float(data.get("duration", 0.0)),
            created=float(data.get("created", 0.0)),
            metrics=[(str(k), float(v), int(s)) for k, v, s in data.get("metrics", [])],
        )


def node_key(
    fingerprint: str, params: dict[str, Any], inputs: dict[str, str], outputs: list[str]
) -> str:
    """The cache key of a node run: code, params read, input content hashes, outputs."""
    blob = json.dumps(
        {
            "format": CACHE_FORMAT,
            "code": fingerprint,
            "params": params,
            "inputs": inputs,
            "outputs": outputs,
        },
        sort_keys=True,
        default=repr,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class NodeCache:
    """Entries, memory objects and remembered file hashes under one folder.

    Args:
        root: The cache folder (created when first written).
        max_bytes: Size limit of the stored memory objects.
        store_memory: False to keep no memory outputs (nodes with memory
            outputs then re-run whenever a node downstream has to run).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        store_memory: bool = True,
    ) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.store_memory = store_memory
        self._queue: queue.Queue[tuple[Path, bytes]] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._objects_written = False

    # -- entries -------------------------------------------------------------------

    def _entry_path(self, key: str) -> Path:
        return self.root / "entries" / key[:2] / f"{key}.json"

    def get(self, key: str) -> Entry | None:
        try:
            data = json.loads(self._entry_path(key).read_text(encoding="utf-8"))
            if data.get("format") != CACHE_FORMAT:
                return None
            return Entry.from_json(data)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, entry: Entry) -> None:
        self._write(self._entry_path(key), json.dumps(entry.to_json()).encode("utf-8"))

    # -- writing in the background ----------------------------------------------------

    def _write(self, path: Path, data: bytes) -> None:
        """Queue an atomic write; a background thread does it while nodes run.

        Writes happen in order, so an entry is never on disk before the objects it
        names were handed over. A failed write only costs a recompute later.
        """
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._drain, name="tane-cache", daemon=True)
                self._thread.start()
            self._queue.put((path, data))

    def _drain(self) -> None:
        while True:
            path, data = self._queue.get()
            try:
                _atomic_write(path, data)
            except OSError:
                pass  # a full or read-only disk: the cache is an optimization
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Wait for queued writes, then keep the memory objects under the size limit."""
        self._queue.join()
        if self._objects_written:
            self._objects_written = False
            self._trim()

    # -- memory objects -----------------------------------------------------------

    def _object_path(self, digest: str) -> Path:
        return self.root / "objects" / digest[:2] / digest

    def has_object(self, digest: str) -> bool:
        return self._object_path(digest).is_file()

    def put_object(self, digest: str, data: bytes) -> bool:
        """Keep pickled bytes under their hash; False when over the size limit."""
        if not self.store_memory or len(data) > self.max_bytes // 4:
            return False
        path = self._object_path(digest)
        if not path.exists():
            self._write(path, data)
            self._objects_written = True
        return True

    def load_object(self, digest: str) -> Any:
        """Unpickle a stored memory output; raise KeyError when it is gone or corrupt."""
        self._queue.join()  # it may still be on its way to disk
        path = self._object_path(digest)
        try:
            data = path.read_bytes()
        except OSError:
            raise KeyError(digest) from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise KeyError(digest)  # damaged on disk: recompute
        os.utime(path)  # recently used: trimmed last
        return pickle.loads(data)  # noqa: S301 - our own cache, written by this code

    def _trim(self) -> None:
        folder = self.root / "objects"
        files = [(p.stat().st_mtime, p.stat().st_size, p) for p in folder.glob("*/*")]
        total = sum(size for _, size, _ in files)
        if total <= self.max_bytes:
            return
        for _, size, path in sorted(files):
            try:
                path.unlink()
            except OSError:
                continue
            total -= size
            if total <= self.max_bytes:
                return

    # -- remembered file hashes ------------------------------------------------------

    def _hash_path(self, location: str) -> Path:
        digest = hashlib.sha1(location.encode("utf-8"), usedforsecurity=False).hexdigest()
        return self.root / "hashes" / digest[:2] / f"{digest}.json"

    def known_hash(self, location: str, signature: Any) -> str | None:
        """The content hash remembered for this location and change signature."""
        try:
            data = json.loads(self._hash_path(location).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if data.get("location") != location or data.get("signature") != _jsonable(signature):
            return None
        value = data.get("hash")
        return value if isinstance(value, str) else None

    def remember_hash(self, location: str, signature: Any, digest: str) -> None:
        payload = {"location": location, "signature": _jsonable(signature), "hash": digest}
        self._write(self._hash_path(location), json.dumps(payload).encode("utf-8"))

    def size(self) -> int:
        """Bytes the cache folder holds."""
        return sum(p.stat().st_size for p in self.root.glob("**/*") if p.is_file())

    def clear(self) -> int:
        """Remove everything; return the bytes freed."""
        import shutil

        freed = self.size() if self.root.exists() else 0
        shutil.rmtree(self.root, ignore_errors=True)
        return freed


def memory_hash(value: Any) -> tuple[str, bytes] | None:
    """Hash of a memory output by its pickle; None if it cannot be pickled."""
    try:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return None
    return hashlib.sha256(data).hexdigest(), data


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=repr))


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
