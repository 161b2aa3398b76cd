"""The background writer: metric points queue in memory and reach the store in batches.

``put`` is a deque append, so logging never waits for the database. A daemon
thread flushes every ``interval`` seconds (and early when many points wait),
then runs the periodic tasks registered with it (heartbeats, log streaming).
A process killed without warning loses at most the last interval's points.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

from tane.errors import NotFound, TaneError
from tane.tracking.stores.base import MetricPoint, Store

_EARLY_FLUSH = 50_000


def flush_interval() -> float:
    """Seconds between flushes: TANE_FLUSH_INTERVAL, default 1."""
    try:
        return max(0.01, float(os.environ.get("TANE_FLUSH_INTERVAL", "1.0")))
    except ValueError:
        return 1.0


class MetricWriter:
    """Batches metric points of any number of runs into one store."""

    def __init__(self, store: Store, interval: float | None = None) -> None:
        self.store = store
        self.interval = flush_interval() if interval is None else interval
        self._queue: deque[tuple[str, MetricPoint]] = deque()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._tasks: list[Callable[[], None]] = []
        self._warned = False

    def put(self, run_id: str, point: MetricPoint) -> None:
        """Queue one point (cheap; starts the thread on first use)."""
        self._queue.append((run_id, point))
        if self._thread is None:
            self._start()
        elif len(self._queue) > _EARLY_FLUSH:
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
        except TaneError as exc:
            self._warn(f"tane: could not write metrics yet, will retry: {exc}")

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            print(message, file=sys.__stderr__)

    def pending(self) -> int:
        """Points queued and not yet stored."""
        return len(self._queue)

    def flush(self) -> None:
        """Write every queued point now (from any thread); raise the store's error.

        Points of a run that no longer exists are dropped; on any other error
        the points stay queued, in order, for the next attempt.
        """
        with self._flush_lock:
            if not self._queue:
                return
            taken: list[tuple[str, MetricPoint]] = []
            queue = self._queue
            try:
                while True:
                    taken.append(queue.popleft())
            except IndexError:
                pass
            by_run: dict[str, list[MetricPoint]] = {}
            for run_id, point in taken:
                by_run.setdefault(run_id, []).append(point)
            done: set[str] = set()
            try:
                for run_id, points in by_run.items():
                    try:
                        self.store.log_batch(run_id, points)
                    except NotFound:
                        self._warn(
                            f"tane: run {run_id} no longer exists; "
                            f"{len(points)} metric points dropped"
                        )
                    done.add(run_id)
            except BaseException:
                # Put back what was not written, ahead of newer points, keeping order.
                rest = [item for item in taken if item[0] not in done]
                queue.extendleft(reversed(rest))
                raise
            self._warned = False

    def close(self, timeout: float = 30.0) -> None:
        """Flush and stop the thread."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        deadline = time.monotonic() + timeout
        while self._queue and time.monotonic() < deadline:
            try:
                self.flush()
            except TaneError:
                time.sleep(0.2)
