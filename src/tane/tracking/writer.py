"""The background writer: metric points queue in memory and reach the store in batches.

Each run has its own queue (a deque, so appending never waits for the
database). A daemon thread flushes every ``interval`` seconds, early when many
points wait, and then runs the periodic tasks registered with it (heartbeats,
log streaming). A process killed without warning loses at most the last
interval's points.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from tane.errors import NotFound, StoreUnavailable, TaneError
from tane.tracking.stores._common import display_uri
from tane.tracking.stores.base import PointTuple, Store

#: Points waiting in one run's queue that wake the writer before its interval.
EARLY_FLUSH = 20_000
#: Finished runs waiting to be written that wake the writer before its interval.
RECORDS_BATCH = 500


def flush_interval() -> float:
    """Seconds between flushes: TANE_FLUSH_INTERVAL, default 1."""
    try:
        return max(0.01, float(os.environ.get("TANE_FLUSH_INTERVAL", "1.0")))
    except ValueError:
        return 1.0


class MetricWriter:
    """Batches the metric points of any number of runs of one store."""

    def __init__(self, store: Store, interval: float | None = None) -> None:
        self.store = store
        self.interval = flush_interval() if interval is None else interval
        self._queues: dict[str, deque[PointTuple]] = {}
        # Whole runs that ended before they had a row (lazy sweep trials), written
        # together: many in one commit.
        self._records: deque[tuple[Any, dict[str, Any]]] = deque()
        self._flush_lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._tasks: list[Callable[[], None]] = []
        self._warned = False
        _writers.add(self)

    @property
    def stopped(self) -> bool:
        """True when no thread flushes this writer (not started yet, or after a fork)."""
        return self._thread is None

    def queue(self, run_id: str) -> deque[PointTuple]:
        """Return the queue of a run: append points to it, call ``wake`` when it is long."""
        found = self._queues.get(run_id)
        if found is None:
            found = self._queues.setdefault(run_id, deque())
        if self._thread is None:
            self._start()
        return found

    def submit(self, run: Any, **fields: Any) -> None:
        """Queue a whole run for ``store.record_run`` (written with the next flush)."""
        self._records.append((run, fields))
        if self._thread is None:
            self._start()
        if len(self._records) >= RECORDS_BATCH:
            self.wake()

    def _write_records(self) -> None:
        if not self._records:
            return
        taken = []
        try:
            while True:
                taken.append(self._records.popleft())
        except IndexError:
            pass
        batch = getattr(self.store, "batch", None)
        try:
            with batch() if batch is not None else nullcontext():
                for run, fields in taken:
                    self.store.record_run(run, **fields)  # type: ignore[attr-defined]
        except StoreUnavailable:
            self._records.extendleft(reversed(taken))
            raise
        except BaseException as exc:
            if isinstance(exc, Exception):
                print(
                    f"tane: the store refused {len(taken)} finished runs, which are dropped: {exc}",
                    file=sys.__stderr__,
                )
                return
            self._records.extendleft(reversed(taken))
            raise

    def adopt(self, run_id: str, queue: deque[PointTuple]) -> None:
        """Take over the points a run queued before it had a row (a lazy run)."""
        self._queues[run_id] = queue
        if self._thread is None:
            self._start()
        if queue:
            self.wake()

    def put(self, run_id: str, point: PointTuple) -> None:
        """Queue one point of a run."""
        queue = self.queue(run_id)
        queue.append(point)
        if len(queue) > EARLY_FLUSH:
            self._wake.set()

    def wake(self) -> None:
        """Ask the thread to flush now rather than at the end of its interval."""
        if self._thread is None:
            self._start()
        self._wake.set()

    def add_task(self, task: Callable[[], None]) -> None:
        """Run ``task`` in the writer thread after every flush."""
        self._tasks.append(task)
        if self._thread is None:
            self._start()

    def remove_task(self, task: Callable[[], None]) -> None:
        if task in self._tasks:
            self._tasks.remove(task)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._loop, name="tane-writer", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self._flush_safely()
            for task in list(self._tasks):
                try:
                    task()
                except Exception as exc:  # a periodic task must not stop the flushing
                    self._warn(f"tane: background task failed: {exc}")

    def _flush_safely(self) -> None:
        try:
            self.flush()
        except Exception as exc:  # the thread must survive whatever the store raises
            self._warn(f"tane: could not write metrics yet, will retry: {exc}")

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            print(message, file=sys.__stderr__)

    def pending(self) -> int:
        """Points (and whole runs) queued and not yet stored."""
        return sum(len(q) for q in list(self._queues.values())) + len(self._records)

    def flush(self, run_id: str | None = None) -> None:
        """Write the queued points (of one run, or all) now.

        A store that spooled writes while it was unreachable (a server) sends
        those first, in order (``sync_spool``). While the store is unavailable
        the points go back to the front of their queue, in order, and the error
        is raised after the other runs were tried. Points the store refuses for
        good (their run was deleted, or the store rejects the data) are dropped
        with a warning, so one bad batch cannot block every later point.
        """
        first_error: BaseException | None = None
        with self._flush_lock:
            self._send_spooled(run_id)
            try:
                self._write_records()
            except StoreUnavailable as exc:
                first_error = exc
            targets = [run_id] if run_id is not None else list(self._queues)
            for rid in targets:
                queue = self._queues.get(rid)
                if not queue:
                    continue
                taken: list[PointTuple] = []
                try:
                    while True:
                        taken.append(queue.popleft())
                except IndexError:
                    pass
                try:
                    self.store.log_batch(rid, taken)
                except NotFound:
                    self._warn(f"tane: run {rid} no longer exists; {len(taken)} points dropped")
                except StoreUnavailable as exc:
                    queue.extendleft(reversed(taken))
                    first_error = first_error or exc
                except Exception as exc:
                    print(
                        f"tane: the store refused {len(taken)} metric points of run {rid}, "
                        f"which are dropped: {exc}",
                        file=sys.__stderr__,
                    )
                except BaseException:
                    # Interrupted (Ctrl-C, SIGTERM): keep the points for the final flush.
                    queue.extendleft(reversed(taken))
                    raise
            if first_error is None:
                self._warned = False
        if first_error is not None:
            raise first_error

    def _send_spooled(self, run_id: str | None) -> None:
        """Send what the store spooled while it could not be reached (a server's writes)."""
        # Looked up on the class: a store's __getattr__ may do real work (the sqlite3
        # store hands unknown names to a SQLAlchemy one it would then create).
        sync = getattr(type(self.store), "sync_spool", None)
        if sync is None:
            return
        try:
            sync(self.store, run_id)
        except Exception as exc:  # the points queued here must still be written
            self._warn(
                f"tane: could not send the writes spooled for {display_uri(self.store.uri)}: {exc}"
            )

    def flushing(self) -> threading.RLock:
        """The flush lock, to hold while writing what must follow a run's last points."""
        return self._flush_lock

    def release(self, run_id: str) -> None:
        """Flush a run's points and forget its queue (the run has ended)."""
        self.flush(run_id)
        queue = self._queues.get(run_id)
        if queue is not None and not queue:
            self._queues.pop(run_id, None)

    def close(self, timeout: float = 30.0) -> None:
        """Flush everything and stop the thread."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            try:
                self.flush()
            except TaneError:
                time.sleep(0.2)
        if self.pending():
            print(
                f"tane: {self.pending()} metric points could not be written to "
                f"{display_uri(self.store.uri)} before exit",
                file=sys.__stderr__,
            )

    def _after_fork(self) -> None:
        # The child has no writer thread; the parent's queued points and
        # periodic tasks are the parent's to handle.
        self._flush_lock = threading.RLock()
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self._tasks = []
        self._records.clear()
        for queue in self._queues.values():
            queue.clear()


_writers: weakref.WeakSet[MetricWriter] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for writer in list(_writers):
        writer._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)
