"""The trial side of a sweep: ``tane.should_prune()`` and ``tane.TrialPruned``.

A trial is an ordinary run; the function being optimized reports intermediate
values with ``tane.log_metric(key, value, step)`` as it would anyway. When it
wants to know whether to stop, it asks::

    for epoch in range(100):
        tane.log_metric("val_loss", loss, step=epoch)
        if tane.should_prune():
            raise tane.TrialPruned()

Outside a sweep (or with no pruner) ``should_prune()`` is always False, so the
same code runs unchanged on its own.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tane.sweep.search import Search


class TrialPruned(Exception):
    """Raise it when ``should_prune()`` says so: the trial's run ends PRUNED."""


@dataclass
class TrialContext:
    """The trial this process (thread) is running, and how to reach its driver."""

    number: int
    objective: str
    search: Search | None = None  # in-process: the driver itself
    last_step: int = -1
    connection: Any = field(default=None, repr=False)


_current = threading.local()
_process_trial: TrialContext | None = None


def current() -> TrialContext | None:
    found: TrialContext | None = getattr(_current, "trial", None)
    return found if found is not None else _process_trial


def set_current(trial: TrialContext | None) -> None:
    """Make ``trial`` the one ``should_prune()`` asks about (in this thread and process)."""
    global _process_trial
    _current.trial = trial
    _process_trial = trial


def should_prune(metric: str | None = None) -> bool:
    """True if the sweep's pruner says the running trial should stop now.

    Sends the points of ``metric`` (default: the sweep's objective metric)
    logged since the last call to the sweep driver and returns its pruner's
    answer. Always False outside a sweep.
    """
    trial = current()
    if trial is None:
        return False
    from tane.tracking import fluent

    run = fluent.active_run()
    if run is None:
        return False
    run.flush()
    key = metric or trial.objective
    history = run.store.get_metric_history(run.id, key, min_step=trial.last_step + 1)
    points = [(int(p.step), float(p.value)) for p in history]
    if points:
        trial.last_step = max(step for step, _ in points)
    if trial.search is not None:
        return trial.search.should_prune(trial.number, points)
    return _ask_driver(trial, points)


def _ask_driver(trial: TrialContext, points: list[tuple[int, float]]) -> bool:
    from tane.sweep.search import ADDRESS_ENV, KEY_ENV

    address = os.environ.get(ADDRESS_ENV)
    key = os.environ.get(KEY_ENV)
    if not address or not key:
        return False  # a sweep without a pruner
    if trial.connection is None:
        from multiprocessing.connection import Client

        target: Any = address
        host, _, port = address.rpartition(":")
        if host and port.isdigit():  # a TCP address (Ray workers); else a Unix socket path
            target = (host, int(port))
        trial.connection = Client(target, authkey=bytes.fromhex(key))
    trial.connection.send((trial.number, points))
    return bool(trial.connection.recv())
