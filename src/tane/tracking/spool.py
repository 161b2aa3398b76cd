"""Writes to a tane server kept on local disk while the server cannot be reached.

A :class:`~tane.tracking.stores.rest.RestStore` that cannot reach its server
appends each write of a run (metric points, params and tags, a status change,
a tag removal, an artifact's bytes) to that run's spool file, and sends the
file in order, before any new write of the run, once the server answers again
(``tane sync`` sends what a process left behind).

Layout, one folder per server: ``$TANE_SPOOL_DIR/<key>/``, else
``$XDG_CACHE_HOME/tane/spool/<key>/`` (``~/.cache/tane/spool/<key>/``), where
``<key>`` is the start of the SHA-256 of the server's URL::

    server.json            {"url": "http://host:5000"}
    runs/<run id>.jsonl    the run's writes, one JSON object a line, oldest first
    files/<run id>/<id>    the bytes of spooled artifacts
    rejected.jsonl         writes the server refused for good, with its answer
    rejected-files/<id>    the bytes of refused artifacts
    locks/<run id>.lock    held while a process appends to or sends a run's file

A run's file is append-only: a write is one line ``{"id", "run", "op", "body",
"time"}``, fsynced before the call returns; once the server has accepted it, a
line ``{"ack": id}`` is appended (fsynced), and when a sending pass ends the
file is rewritten without the acknowledged writes (a temporary file renamed
over it) or removed. A write whose fate is unknown (the connection broke after
the request was sent) gets a line ``{"uncertain": id, "body": ...}``: the
sender checks whether the server has it before sending it again. Every change of a run's
file happens under its lock (``filelock``), so several processes may share a
spool.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tane.errors import StoreError, StoreUnavailable, TaneError

#: The environment variable naming the folder that holds every server's spool.
SPOOL_ENV = "TANE_SPOOL_DIR"
#: Seconds to wait for another process holding a run's spool lock.
LOCK_TIMEOUT = 120.0

#: The kinds of spooled writes.
OPS = ("batch", "update", "delete_tag", "artifact")

# Run ids become file names: only plain ones are spooled (tane's are 32 hex digits).
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def spool_root() -> Path:
    """The folder holding every server's spool: TANE_SPOOL_DIR, else the user's cache."""
    configured = os.environ.get(SPOOL_ENV)
    if configured:
        return Path(configured).expanduser()
    from tane._memo import cache_home

    return cache_home() / "spool"


def normalize_url(url: str) -> str:
    """The server URL as spool folders are keyed: without a trailing slash."""
    return url.rstrip("/")


def server_key(url: str) -> str:
    """The name of a server's spool folder: the start of the SHA-256 of its URL."""
    return hashlib.sha256(normalize_url(url).encode("utf-8")).hexdigest()[:16]


def spoolable(run_id: str) -> bool:
    """True if writes of this run id may be spooled (it is safe as a file name)."""
    return _SAFE_ID.fullmatch(run_id) is not None and ".." not in run_id


@dataclass(frozen=True)
class SpoolItem:
    """One spooled write of a run.

    Attributes:
        id: Unique id of the write (hex).
        run_id: The run written to.
        op: ``batch`` (metrics/params/tags), ``update`` (a run's fields),
            ``delete_tag`` or ``artifact``.
        body: The write's arguments, as JSON (metric values as float_to_json gives).
        time: When it was spooled (ms since the epoch).
        uncertain: The server may have received it already: check before sending.
        blob: The file holding an artifact's bytes (``artifact`` only).
    """

    id: str
    run_id: str
    op: str
    body: dict[str, Any]
    time: int
    uncertain: bool = False
    blob: Path | None = None

    @property
    def points(self) -> int:
        """Metric points in this write."""
        if self.op != "batch":
            return 0
        return len(self.body.get("metrics") or ())

    def describe(self) -> str:
        """A few words saying what the write is, for messages."""
        if self.op == "batch":
            parts = []
            if self.points:
                parts.append(f"{self.points} metric points")
            for what in ("params", "tags"):
                names = sorted(self.body.get(what) or {})
                if names:
                    parts.append(f"{what} {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}")
            return "; ".join(parts) or "an empty batch"
        if self.op == "update":
            return "run fields " + ", ".join(f"{k}={v}" for k, v in sorted(self.body.items()))
        if self.op == "delete_tag":
            return f"removal of tag {self.body.get('key')!r}"
        return f"artifact {self.body.get('path')!r}" + (
            " (append)" if self.body.get("append") else ""
        )


@dataclass(frozen=True)
class Backlog:
    """What is spooled for one run: writes, metric points among them, artifact bytes."""

    run_id: str
    items: int
    points: int
    artifact_bytes: int
    oldest: int | None
    path: Path


@dataclass
class ReplayReport:
    """The outcome of sending a run's spool.

    Attributes:
        sent: Writes the server accepted now.
        points: Metric points among them.
        already: Uncertain writes the server turned out to have already.
        rejected: Writes the server refused for good, with its error (moved to
            ``rejected.jsonl``).
        pending: Writes still spooled.
        error: Why sending stopped (the server unreachable), or None.
    """

    run_id: str
    sent: int = 0
    points: int = 0
    already: int = 0
    rejected: list[tuple[SpoolItem, TaneError]] = field(default_factory=list)
    pending: int = 0
    error: StoreUnavailable | None = None


class Spool:
    """The spooled writes for one server, shared by every process of this user.

    Args:
        url: The server's URL (its folder is keyed by it).
        root: The folder holding every server's spool (default: :func:`spool_root`).
    """

    def __init__(self, url: str, root: Path | None = None) -> None:
        self.url = normalize_url(url)
        self.folder = (root if root is not None else spool_root()) / server_key(url)
        self._lock = threading.Lock()
        self._run_locks: dict[str, threading.RLock] = {}

    def __repr__(self) -> str:
        return f"Spool({self.url!r} at {str(self.folder)!r})"

    # -- paths ------------------------------------------------------------------------

    def run_file(self, run_id: str) -> Path:
        """The JSON-lines file of a run's spooled writes."""
        return self.folder / "runs" / f"{run_id}.jsonl"

    @property
    def rejected_file(self) -> Path:
        """Where writes the server refused are kept, one JSON object a line."""
        return self.folder / "rejected.jsonl"

    def _blob_dir(self, run_id: str) -> Path:
        return self.folder / "files" / run_id

    # -- locking ------------------------------------------------------------------------

    @contextmanager
    def locked(self, run_id: str) -> Iterator[None]:
        """Hold a run's spool lock (this thread and other processes wait)."""
        from filelock import FileLock, Timeout

        with self._lock:
            thread_lock = self._run_locks.setdefault(run_id, threading.RLock())
        with thread_lock:
            locks = self.folder / "locks"
            locks.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(locks / f"{run_id}.lock"), timeout=LOCK_TIMEOUT)
            try:
                lock.acquire()
            except Timeout:
                raise StoreError(
                    f"the spool of run {run_id} ({self.run_file(run_id)}) has been locked by "
                    f"another process for {LOCK_TIMEOUT:.0f} s; is a `tane sync` stuck?"
                ) from None
            try:
                yield
            finally:
                lock.release()

    def after_fork(self) -> None:
        """Forget the parent's thread locks in a forked child."""
        self._lock = threading.Lock()
        self._run_locks = {}

    # -- writing ------------------------------------------------------------------------

    def has(self, run_id: str) -> bool:
        """True if writes of this run are spooled (one stat: cheap enough for every write)."""
        return spoolable(run_id) and self.run_file(run_id).exists()

    def append(
        self,
        run_id: str,
        op: str,
        body: Mapping[str, Any],
        *,
        data: bytes | None = None,
        source: str | None = None,
        uncertain: bool = False,
    ) -> SpoolItem:
        """Add one write at the end of a run's spool, on disk before returning.

        Args:
            run_id: The run.
            op: One of :data:`OPS`.
            body: The write's arguments (JSON-ready).
            data: An artifact's bytes (``artifact``).
            source: A file whose bytes are copied instead of ``data``.
            uncertain: The server may have received this write already.

        Raises:
            StoreError: The run id cannot be a file name, or the spool cannot be
                written (disk full, no permission): the message names the folder.
        """
        if op not in OPS:
            raise ValueError(f"unknown spool operation {op!r}")
        if not spoolable(run_id):
            raise StoreError(f"run id {run_id!r} cannot be spooled")
        item_id = uuid.uuid4().hex
        record: dict[str, Any] = {
            "id": item_id,
            "run": run_id,
            "op": op,
            "body": dict(body),
            "time": int(time.time() * 1000),
        }
        if uncertain:
            record["uncertain"] = True
        line = _dumps(record)
        try:
            with self.locked(run_id):
                self._write_server_file()
                blob: Path | None = None
                if data is not None or source is not None:
                    blob = self._blob_dir(run_id) / item_id
                    _write_blob(blob, data, source)
                self._append_line(run_id, line)
        except OSError as exc:
            raise StoreError(
                f"cannot spool a write of run {run_id} to {self.folder} ({exc}); free some "
                f"space there or set {SPOOL_ENV} to another folder"
            ) from exc
        return SpoolItem(item_id, run_id, op, dict(body), record["time"], uncertain, blob)

    def _write_server_file(self) -> None:
        marker = self.folder / "server.json"
        if not marker.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            _atomic_write(marker, _dumps({"url": self.url}).encode("utf-8"))

    def _append_line(self, run_id: str, line: str) -> None:
        path = self.run_file(run_id)
        created = not path.exists()
        if created:
            path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as fh:
            # A crash in the middle of a write leaves a line without its end: start
            # on a new line, so that the torn one is skipped alone when read.
            if fh.tell() > 0:
                with open(path, "rb") as check:
                    check.seek(-1, os.SEEK_END)
                    if check.read(1) != b"\n":
                        fh.write(b"\n")
            fh.write(line.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        if created:
            _fsync_dir(path.parent)

    # -- reading --------------------------------------------------------------------------

    def runs(self) -> list[str]:
        """The runs with spooled writes, oldest file first."""
        folder = self.folder / "runs"
        try:
            files = [p for p in folder.iterdir() if p.suffix == ".jsonl"]
        except FileNotFoundError:
            return []
        return [p.stem for p in sorted(files, key=_mtime)]

    def items(self, run_id: str) -> list[SpoolItem]:
        """The run's spooled writes not yet acknowledged, in order."""
        with self.locked(run_id):
            return self._read(run_id)

    def _read(self, run_id: str) -> list[SpoolItem]:
        path = self.run_file(run_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return []
        records: dict[str, dict[str, Any]] = {}
        acked: set[str] = set()
        uncertain: set[str] = set()
        bodies: dict[str, dict[str, Any]] = {}
        for line in raw.splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue  # a line torn by a crash: its write never returned
            if not isinstance(obj, dict):
                continue
            if "op" in obj and "id" in obj:
                records[str(obj["id"])] = obj
            elif "ack" in obj:
                acked.add(str(obj["ack"]))
            elif "uncertain" in obj:
                uncertain.add(str(obj["uncertain"]))
                if isinstance(obj.get("body"), dict):
                    bodies[str(obj["uncertain"])] = obj["body"]
        items = []
        for item_id, obj in records.items():
            if item_id in acked:
                continue
            blob = self._blob_dir(run_id) / item_id if obj["op"] == "artifact" else None
            items.append(
                SpoolItem(
                    id=item_id,
                    run_id=str(obj.get("run", run_id)),
                    op=str(obj["op"]),
                    body=dict(bodies.get(item_id) or obj.get("body") or {}),
                    time=int(obj.get("time", 0)),
                    uncertain=bool(obj.get("uncertain")) or item_id in uncertain,
                    blob=blob,
                )
            )
        return items

    def backlog(self, run_id: str) -> Backlog:
        """How much is spooled for a run."""
        items = self.items(run_id) if self.has(run_id) else []
        size = 0
        for item in items:
            if item.blob is not None:
                with suppress(OSError):
                    size += item.blob.stat().st_size
        return Backlog(
            run_id=run_id,
            items=len(items),
            points=sum(i.points for i in items),
            artifact_bytes=size,
            oldest=min((i.time for i in items), default=None),
            path=self.run_file(run_id),
        )

    def rejected(self) -> list[dict[str, Any]]:
        """The writes the server refused for good, oldest first."""
        try:
            raw = self.rejected_file.read_bytes()
        except FileNotFoundError:
            return []
        found = []
        for line in raw.splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                found.append(obj)
        return found

    # -- sending ------------------------------------------------------------------------

    def replay(
        self,
        run_id: str,
        send: Callable[[SpoolItem], bool],
        progress: Callable[[SpoolItem], None] | None = None,
    ) -> ReplayReport:
        """Send a run's spooled writes in order with ``send``; stop at the first that fails.

        ``send(item)`` returns True when the server accepted the write, False
        when it had it already (an uncertain write), raises StoreUnavailable
        when the server cannot be reached (sending stops there; an exception
        with a true ``maybe_sent`` attribute marks the write uncertain), and
        another TaneError when the server refuses it for good: the write is
        then moved to ``rejected.jsonl`` and the next one is sent.
        """
        report = ReplayReport(run_id)
        with self.locked(run_id):
            items = self._read(run_id)
            done: set[str] = set()
            marked: set[str] = set()
            try:
                for item in items:
                    try:
                        accepted = send(item)
                    except StoreUnavailable as exc:
                        if getattr(exc, "maybe_sent", False):
                            # ``send`` may have noted in the body how to tell later.
                            mark = {"uncertain": item.id, "body": item.body}
                            self._append_line(run_id, _dumps(mark))
                            marked.add(item.id)
                        report.error = exc
                        break
                    except TaneError as exc:
                        self._reject(item, exc)
                        report.rejected.append((item, exc))
                    else:
                        if accepted:
                            report.sent += 1
                            report.points += item.points
                        else:
                            report.already += 1
                    # Acknowledged on disk before anything else is sent: a crash from
                    # here on never sends this write again.
                    self._append_line(run_id, _dumps({"ack": item.id}))
                    done.add(item.id)
                    if item.blob is not None:
                        item.blob.unlink(missing_ok=True)
                    if progress is not None:
                        progress(item)
            finally:
                remaining = [i for i in items if i.id not in done]
                report.pending = len(remaining)
                if done or marked or not items:
                    self._compact(run_id, remaining, marked)
        return report

    def _compact(self, run_id: str, remaining: list[SpoolItem], marked: set[str]) -> None:
        """Rewrite a run's file with only the writes not yet acknowledged (or remove it)."""
        path = self.run_file(run_id)
        if not remaining:
            path.unlink(missing_ok=True)
            shutil.rmtree(self._blob_dir(run_id), ignore_errors=True)
            return
        lines = []
        for item in remaining:
            record: dict[str, Any] = {
                "id": item.id,
                "run": item.run_id,
                "op": item.op,
                "body": item.body,
                "time": item.time,
            }
            if item.uncertain or item.id in marked:
                record["uncertain"] = True
            lines.append(_dumps(record))
        _atomic_write(path, "".join(lines).encode("utf-8"))

    def _reject(self, item: SpoolItem, error: TaneError) -> None:
        """Keep a refused write in ``rejected.jsonl`` (its bytes in ``rejected-files/``)."""
        kept: str | None = None
        if item.blob is not None and item.blob.exists():
            target = self.folder / "rejected-files" / item.id
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(item.blob, target)
            kept = str(target)
        record = {
            "id": item.id,
            "run": item.run_id,
            "op": item.op,
            "body": item.body,
            "time": item.time,
            "rejected_at": int(time.time() * 1000),
            "error": {"type": type(error).__name__, "message": str(error)},
            "file": kept,
        }
        from filelock import FileLock

        locks = self.folder / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        with (
            FileLock(str(locks / "rejected.lock"), timeout=LOCK_TIMEOUT),
            open(self.rejected_file, "ab") as fh,
        ):
            fh.write(_dumps(record).encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())


def spooled_servers(root: Path | None = None) -> list[Spool]:
    """Every server with a spool folder under ``root`` (default: :func:`spool_root`)."""
    base = root if root is not None else spool_root()
    found = []
    try:
        folders = sorted(p for p in base.iterdir() if p.is_dir())
    except FileNotFoundError:
        return []
    for folder in folders:
        try:
            url = json.loads((folder / "server.json").read_text(encoding="utf-8"))["url"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        spool = Spool(str(url), base)
        if spool.folder == folder:
            found.append(spool)
    return found


def _dumps(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not possible on every OS (Windows): the file itself was fsynced
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _write_blob(path: Path, data: bytes | None, source: str | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if source is not None:
            shutil.copyfile(source, tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        else:
            with open(tmp, "wb") as fh:
                fh.write(data or b"")
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
