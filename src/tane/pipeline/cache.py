"""The node cache: what each node wrote for a given code, params and inputs.

A folder (by default ``cache/`` in the local store folder) holding:

- ``index.db``: a SQLite file (the standard library's sqlite3, WAL) with the
  entries (a node run: per output its content hash, and where it was written
  or the object holding it), memory outputs up to 256 KiB (pickled,
  content-addressed), and file content hashes remembered by (size, mtime) or
  ETag so a large input is read once, not on every run;
- ``objects/ab/<hash>``: larger memory outputs, written to a temporary name
  and renamed.

A run's writes are kept in memory and committed in one transaction (at the end
of the run, and every couple of seconds on long runs): a pipeline of thousands
of small nodes pays one commit, not thousands of file creations. Several
processes may use one cache (SQLite's locking, busy timeout). The oldest
objects go first when they pass the size limit. A missing, unreadable or damaged
entry or object (each object is checked against its hash when read) is a miss:
the node runs again. A damaged index is moved aside and a new one started.
Never a wrong output.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import sqlite3
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

    INLINE_BYTES = 256 * 1024
    FLUSH_SECONDS = 2.0

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
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._entries: dict[str, str] = {}
        self._objects: dict[str, bytes] = {}
        self._hashes: dict[str, tuple[str, str]] = {}
        self._last_flush = time.monotonic()

    # -- the index ------------------------------------------------------------------

    def _index(self) -> sqlite3.Connection | None:
        """The open index (created on first use); None if it cannot be opened."""
        if self._db is not None:
            return self._db
        path = self.root / "index.db"
        for attempt in range(2):
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(
                    path, timeout=30, isolation_level=None, check_same_thread=False
                )
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
                db.executescript(_SCHEMA)
                self._db = db
                return db
            except sqlite3.DatabaseError:
                if attempt == 0 and path.exists():
                    # The cache is disposable: a damaged index is set aside, not trusted.
                    with contextlib.suppress(OSError):
                        path.replace(path.with_name(f"index.db.damaged-{int(time.time())}"))
                    continue
                return None
            except OSError:
                return None
        return None

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        with self._lock:
            db = self._index()
            if db is None:
                return []
            try:
                return db.execute(sql, args).fetchall()
            except sqlite3.DatabaseError:
                return []

    # -- entries -------------------------------------------------------------------

    def get(self, key: str) -> Entry | None:
        text = self._entries.get(key)
        if text is None:
            rows = self._query("SELECT data FROM entries WHERE key = ?", (key,))
            if not rows:
                return None
            text = rows[0][0]
        try:
            data = json.loads(text)
            if data.get("format") != CACHE_FORMAT:
                return None
            return Entry.from_json(data)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def put(self, key: str, entry: Entry) -> None:
        with self._lock:
            self._entries[key] = json.dumps(entry.to_json())
        self._maybe_flush()

    # -- memory objects -----------------------------------------------------------

    def _object_path(self, digest: str) -> Path:
        return self.root / "objects" / digest[:2] / digest

    def has_object(self, digest: str) -> bool:
        if digest in self._objects or self._object_path(digest).is_file():
            return True
        return bool(self._query("SELECT 1 FROM objects WHERE hash = ?", (digest,)))

    def put_object(self, digest: str, data: bytes) -> bool:
        """Keep pickled bytes under their hash; False when over the size limit."""
        if not self.store_memory or len(data) > self.max_bytes // 4:
            return False
        if len(data) > self.INLINE_BYTES:
            path = self._object_path(digest)
            if not path.exists():
                with contextlib.suppress(OSError):
                    _atomic_write(path, data)
            return True
        with self._lock:
            self._objects[digest] = data
        self._maybe_flush()
        return True

    def load_object(self, digest: str) -> Any:
        """Unpickle a stored memory output; raise KeyError when it is gone or corrupt."""
        data = self._objects.get(digest)
        if data is None:
            rows = self._query("SELECT data FROM objects WHERE hash = ?", (digest,))
            if rows:
                data = bytes(rows[0][0])
                self._query("UPDATE objects SET used = ? WHERE hash = ?", (time.time(), digest))
            else:
                path = self._object_path(digest)
                try:
                    data = path.read_bytes()
                    os.utime(path)  # recently used: trimmed last
                except OSError:
                    raise KeyError(digest) from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise KeyError(digest)  # damaged: recompute
        try:
            return pickle.loads(data)  # noqa: S301 - our own cache, written by this code
        except Exception:
            raise KeyError(digest) from None

    # -- remembered file hashes ------------------------------------------------------

    def known_hash(self, location: str, signature: Any) -> str | None:
        """The content hash remembered for this location and change signature."""
        wanted = json.dumps(_jsonable(signature))
        pending = self._hashes.get(location)
        if pending is not None:
            return pending[1] if pending[0] == wanted else None
        rows = self._query(
            "SELECT hash FROM hashes WHERE location = ? AND signature = ?", (location, wanted)
        )
        return str(rows[0][0]) if rows else None

    def remember_hash(self, location: str, signature: Any, digest: str) -> None:
        with self._lock:
            self._hashes[location] = (json.dumps(_jsonable(signature)), digest)
        self._maybe_flush()

    # -- writing ----------------------------------------------------------------------

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Commit what this process wrote, then keep the objects under the size limit."""
        with self._lock:
            self._last_flush = time.monotonic()
            if not (self._entries or self._objects or self._hashes):
                return
            entries, objects, hashes = self._entries, self._objects, self._hashes
            db = self._index()
            if db is None:
                self._entries, self._objects, self._hashes = {}, {}, {}
                return
            now = time.time()
            try:
                db.execute("BEGIN IMMEDIATE")
                # Objects first: an entry never names an object that is not stored.
                db.executemany(
                    "INSERT OR REPLACE INTO objects (hash, data, size, used) VALUES (?, ?, ?, ?)",
                    [(h, d, len(d), now) for h, d in objects.items()],
                )
                db.executemany(
                    "INSERT OR REPLACE INTO entries (key, data) VALUES (?, ?)",
                    list(entries.items()),
                )
                db.executemany(
                    "INSERT OR REPLACE INTO hashes (location, signature, hash) VALUES (?, ?, ?)",
                    [(loc, sig, h) for loc, (sig, h) in hashes.items()],
                )
                db.execute("COMMIT")
            except sqlite3.DatabaseError:
                with contextlib.suppress(sqlite3.DatabaseError):
                    db.execute("ROLLBACK")
            self._entries, self._objects, self._hashes = {}, {}, {}
            if objects:
                self._trim(db)

    def _trim(self, db: sqlite3.Connection) -> None:
        try:
            inline = db.execute("SELECT coalesce(sum(size), 0) FROM objects").fetchone()[0]
        except sqlite3.DatabaseError:
            return
        files = []
        folder = self.root / "objects"
        if folder.is_dir():
            for path in folder.glob("*/*"):
                with contextlib.suppress(OSError):
                    st = path.stat()
                    files.append((st.st_mtime, st.st_size, path))
        total = int(inline) + sum(size for _, size, _ in files)
        if total <= self.max_bytes:
            return
        rows = db.execute("SELECT used, size, hash FROM objects").fetchall()
        candidates = sorted(
            [(u, s, ("row", h)) for u, s, h in rows] + [(m, s, ("file", p)) for m, s, p in files],
            key=lambda c: c[0],
        )
        for _, size, (kind, ref) in candidates:
            if total <= self.max_bytes:
                break
            if kind == "row":
                db.execute("DELETE FROM objects WHERE hash = ?", (ref,))
            else:
                with contextlib.suppress(OSError):
                    Path(ref).unlink()
            total -= size

    def size(self) -> int:
        """Bytes the cache folder holds."""
        return sum(p.stat().st_size for p in self.root.glob("**/*") if p.is_file())

    def clear(self) -> int:
        """Remove everything; return the bytes freed."""
        import shutil

        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            self._entries, self._objects, self._hashes = {}, {}, {}
        freed = self.size() if self.root.exists() else 0
        shutil.rmtree(self.root, ignore_errors=True)
        return freed

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    hash TEXT PRIMARY KEY, data BLOB NOT NULL, size INTEGER NOT NULL, used REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS hashes (
    location TEXT PRIMARY KEY, signature TEXT NOT NULL, hash TEXT NOT NULL
);
"""


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
