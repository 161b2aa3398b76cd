"""The fluent tracking API: ``tane.start_run`` and the ``log_*`` functions.

Runs started in a process form a stack; the top is the active run, and a run
started while another is active becomes its child. The stack is process-wide,
not per thread, so worker threads log to the run that started them.
"""

from __future__ import annotations

import atexit
import io
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from time import time_ns
from types import FrameType, TracebackType
from typing import Any

from tane.errors import InvalidInput, NoActiveRun, is_pruned
from tane.tracking.entities import Run, RunStatus
from tane.tracking.stores._common import display_uri
from tane.tracking.stores.base import PointTuple, Store, heartbeat_timeout_ms, owner_host
from tane.tracking.values import check_key, metric_value, normalize_mapping
from tane.tracking.writer import EARLY_FLUSH, MetricWriter

log = logging.getLogger("tane")

LOG_ARTIFACT = "logs/output.log"
_HEARTBEAT_EVERY = 10.0
_LOG_FLUSH_EVERY = 2.0


class ActiveRun:
    """A run this process is recording. Use it as a context manager to end it.

    Its methods log to this run even when it is not the top of the stack,
    which is what threads working for one run want.
    """

    def __init__(
        self,
        store: Store,
        run: Run,
        writer: MetricWriter,
        owns_context: bool,
        stack: list[ActiveRun] | None = None,
        lazy: bool = False,
    ) -> None:
        self.store = store
        self.id = run.id
        self.name = run.name
        self.experiment = run.experiment
        self.experiment_id = run.experiment_id
        self.parent_id = run.parent_id
        self.artifact_uri = run.artifact_uri
        self._writer = writer
        # A lazy run (a sweep trial) has no row yet: its points wait here, not in
        # the writer, until the run is written whole at its end (one commit) or
        # something needs the row first (see _materialize).
        self._pending: Run | None = run if lazy else None
        self._queue: deque[PointTuple] = deque() if lazy else writer.queue(run.id)
        # A resumed run continues each metric after its last step.
        self._steps: dict[str, int] = {k: v + 1 for k, v in run.metric_steps.items()}
        self._stack: list[ActiveRun] = stack if stack is not None else []
        self._keys: set[str] = set()
        self._owns_context = owns_context
        self._capture: Any = None  # LogCapture when this run owns the process's output
        self._sampler: Any = None
        self._tasks: list[Any] = []
        self._context_thread: threading.Thread | None = None
        self.run_dir: Path | None = None  # set by tane.run_dir(); logged when the run ends
        self.ended = False
        self.attached = False  # a worker's view of another process's run: never ended here
        self.held_params: dict[str, str] = {}  # stored with the run's end (sweep trials)

    def __repr__(self) -> str:
        return f"<ActiveRun {self.name!r} id={self.id} experiment={self.experiment!r}>"

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.end()
        else:
            status, text = _status_for(exc, tb)
            lines = str(exc).strip().splitlines()
            summary = f"{type(exc).__name__}: {lines[0]}" if lines else None
            _end_run(self, status, text, summary)

    def _materialize(self) -> None:
        """Write a lazy run's row now (something needs it before the run ends)."""
        run = self._pending
        if run is None:
            return
        self._pending = None
        self.store.record_run(run)  # type: ignore[attr-defined]
        self._writer.adopt(self.id, self._queue)
        _start_heartbeat(self)

    @property
    def info(self) -> Run:
        """The run as stored now (status, params, latest metrics, tags)."""
        self._materialize()
        self._writer.flush(self.id)
        return self.store.get_run(self.id)

    # logging -------------------------------------------------------------

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Queue one metric point; step defaults to the key's previous step + 1 (from 0)."""
        # The hot path of every training loop: a few dict lookups and a deque append.
        if self.ended:
            raise InvalidInput(
                f"run {self.id} has ended: start a new run, or resume this one with "
                f"tane.start_run(run_id={self.id!r})"
            )
        if key not in self._keys:
            check_key(key, "metric key")
            self._keys.add(key)
        if type(value) is not float:
            value = metric_value(key, value)
        steps = self._steps
        last = steps.get(key, 0)
        if step is None:
            step = last
        elif type(step) is not int or not _MIN_INT <= step <= _MAX_INT:
            step = _check_int(key, "step", step)
        if step >= last:
            steps[key] = step + 1
        if timestamp is None:
            timestamp = time_ns() // 1_000_000
        elif type(timestamp) is not int or not _MIN_INT <= timestamp <= _MAX_INT:
            timestamp = _check_int(key, "timestamp", timestamp)
        queue = self._queue
        queue.append((key, value, step, timestamp))
        if len(queue) > EARLY_FLUSH or self._writer.stopped:
            if self._pending is not None:
                self._materialize()
            self._writer.wake()
        if _taps:
            tap = _taps.get(threading.get_ident())
            if tap is not None:
                tap.append((key, value, step))

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Queue several metric points at one step and time."""
        if timestamp is None:
            timestamp = int(time.time() * 1000)
        for key, value in metrics.items():
            self.log_metric(key, value, step, timestamp)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Store params now; raise ParamConflict if one already holds another value."""
        self._materialize()
        self.store.log_batch(self.id, params=normalize_mapping(params, "param key"))
        _raise_if_terminated()

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set tags now (a tag may change)."""
        self._materialize()
        self.store.log_batch(self.id, tags=normalize_mapping(tags, "tag key"))
        _raise_if_terminated()

    def set_note(self, text: str) -> None:
        """Replace the run's markdown note."""
        self._materialize()
        self.store.update_run(self.id, note=str(text))

    def log_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> str:
        """Copy a file or folder into the run's artifacts; return its artifact path."""
        self._materialize()
        return self.store.log_artifact(self.id, os.fspath(local_path), artifact_path)

    def log_bytes(self, data: bytes, artifact_file: str) -> None:
        self._materialize()
        self.store.log_artifact_bytes(self.id, artifact_file, data)

    def flush(self) -> None:
        """Write every queued metric point now."""
        self._materialize()
        self._writer.flush(self.id)
        _raise_if_terminated()

    # ending --------------------------------------------------------------

    def end(self, status: RunStatus | str = RunStatus.FINISHED, error: str | None = None) -> None:
        """End the run (and any run started inside it that is still active)."""
        _end_run(self, RunStatus.parse(status), error)


#: Thread id -> list receiving the metric points logged in that thread (see tap_metrics).
_taps: dict[int, list[tuple[str, float, int]]] = {}


@contextmanager
def tap_metrics() -> Iterator[list[tuple[str, float, int]]]:
    """Collect (key, value, step) of every metric point this thread logs inside the block.

    Pipeline runners use it to remember what a node logged, so that a run
    taking the node from the cache still shows its metrics.
    """
    points: list[tuple[str, float, int]] = []
    ident = threading.get_ident()
    _taps[ident] = points
    try:
        yield points
    finally:
        _taps.pop(ident, None)


_MIN_INT = -(2**63)
_MAX_INT = 2**63 - 1


def _check_int(key: str, what: str, value: object) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InvalidInput(f"metric {key!r}: {what} {value!r} is not an integer")
    number = int(value)
    if not _MIN_INT <= number <= _MAX_INT:
        raise InvalidInput(f"metric {key!r}: {what} {number} does not fit in 64 bits")
    return number


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM, so runs end KILLED as the stack unwinds.

    Doing the shutdown inside the signal handler itself could deadlock on a
    lock the interrupted code holds; unwinding releases every lock first.
    The process exits with code 143 (128 + SIGTERM), as shells report it.
    """


def _status_for(exc: BaseException, tb: TracebackType | None) -> tuple[RunStatus, str | None]:
    if is_pruned(exc):
        # tane.TrialPruned or optuna.TrialPruned (maybe raised in a pipeline node):
        # a sweep's pruner stopped this trial.
        return RunStatus.PRUNED, None
    if isinstance(exc, Terminated):
        return RunStatus.KILLED, "terminated by SIGTERM"
    if isinstance(exc, KeyboardInterrupt):
        return RunStatus.KILLED, "interrupted (KeyboardInterrupt)"
    if isinstance(exc, SystemExit) and exc.code in (0, None):
        return RunStatus.FINISHED, None
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    return RunStatus.FAILED, text


# -- process state ------------------------------------------------------------


class _State:
    """Runs of this process: one stack per thread, and the writers of its stores."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.local = threading.local()
        self.stacks: list[list[ActiveRun]] = []  # every thread's stack, for exit
        self.main_stack: list[ActiveRun] | None = None
        self.writers: dict[int, MetricWriter] = {}
        self.hooks_installed = False
        self.sigterm_installed = False
        self.uncaught: tuple[RunStatus, str | None] | None = None
        self.terminated = False
        self.deferred_signals = 0
        self.pending_terminate = False

    def own_stack(self, create: bool = False) -> list[ActiveRun] | None:
        stack: list[ActiveRun] | None = getattr(self.local, "stack", None)
        if stack is None and create:
            stack = []
            self.local.stack = stack
            with self.lock:
                self.stacks.append(stack)
                if threading.current_thread() is threading.main_thread():
                    self.main_stack = stack
        return stack


_state = _State()


def _writer_for(store: Store) -> MetricWriter:
    writer = _state.writers.get(id(store))
    if writer is None:
        writer = MetricWriter(store)
        _state.writers[id(store)] = writer
    return writer


def _resolve_store(store: Store | str | None) -> Store:
    from tane.project import resolve_store_uri
    from tane.tracking.stores import open_store

    if store is None or isinstance(store, str):
        return open_store(resolve_store_uri(store))
    return store


def _default_experiment() -> str:
    env = os.environ.get("TANE_EXPERIMENT")
    if env:
        return env
    from tane.project import find_project

    configured = find_project().settings.get("experiment")
    return str(configured) if configured else "Default"


def start_run(
    experiment: str | None = None,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    *,
    run_id: str | None = None,
    parent_id: str | None = None,
    note: str | None = None,
    capture: bool | Iterable[str] | Mapping[str, bool] | None = None,
    store: Store | str | None = None,
    _lazy: bool = False,
) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it the active run.

    Args:
        experiment: Experiment name, created if new. Default: TANE_EXPERIMENT,
            the project's ``experiment:`` setting, else "Default".
        name: Run name; a readable one is generated when omitted.
        tags: Tags to set at the start.
        run_id: Resume this existing run instead of creating one.
        parent_id: Make the new run a child of this run. Without it, a run
            started while another is active becomes that run's child.
        note: A markdown note.
        capture: What context to record (git, environment, packages, logs,
            system_metrics); True for all, False for none, or a list.
        store: A store or store URI; default from TANE_STORE or the project.

    Returns:
        The ActiveRun; ``with tane.start_run(...) as run:`` ends it on exit,
        FAILED with the traceback if the block raises.
    """
    from tane.tracking.context import CaptureSettings

    settings = CaptureSettings.from_value(capture)
    parent = active_run()
    # A run started inside another goes to the same store unless told otherwise.
    resolved = parent.store if store is None and parent is not None else _resolve_store(store)
    tag_values = normalize_mapping(tags, "tag key")
    stack = _state.own_stack(create=True)
    assert stack is not None
    with _state.lock:
        _install_hooks()
        if parent_id is None and parent is not None and parent.store is resolved:
            parent_id = parent.id
        owns_context = parent_id is None
        if run_id is not None:
            run = resolved.get_run(run_id)
            resolved.update_run(
                run_id, status=RunStatus.RUNNING, host=owner_host(), pid=os.getpid()
            )
            if tag_values:
                resolved.log_batch(run_id, tags=tag_values)
            run = resolved.get_run(run_id)
        else:
            if experiment is None and parent is not None and parent_id == parent.id:
                # A child joins its parent's experiment: no lookup (a sweep starts
                # hundreds of children, and counting an experiment's runs grows).
                exp_id = parent.experiment_id
                if _lazy and hasattr(resolved, "record_run") and not note:
                    run = _lazy_run(resolved, parent, name, tag_values)
                    active = ActiveRun(
                        resolved, run, _writer_for(resolved), False, stack, lazy=True
                    )
                    stack.append(active)
                    return active
            else:
                exp_id = resolved.get_or_create_experiment(experiment or _default_experiment()).id
            if owns_context:
                from tane.tracking.context import capture_tags

                tag_values = {**capture_tags(settings), **tag_values}
            elif parent_id is not None:
                tag_values = {"tane.parent_context": parent_id, **tag_values}
            run = resolved.create_run(
                exp_id,
                name or _generate_name(),
                parent_id=parent_id,
                tags=tag_values,
                host=owner_host(),
                pid=os.getpid(),
            )
            if note:
                resolved.update_run(run.id, note=note)
        active = ActiveRun(resolved, run, _writer_for(resolved), owns_context, stack)
        stack.append(active)
    try:
        if owns_context and run_id is None:
            _start_context(active, settings)
        _start_heartbeat(active)
    except BaseException as exc:
        # Never leave a half-started run active: later logging would land in it.
        active.end(RunStatus.FAILED, error=f"tane could not start the run: {exc!r}")
        raise
    return active


def _lazy_run(store: Store, parent: ActiveRun, name: str | None, tags: dict[str, str]) -> Run:
    """The Run entity of a lazy child run: what its row will hold when it is written."""
    import uuid

    run_id = uuid.uuid4().hex
    now = int(time.time() * 1000)
    artifacts = getattr(store, "artifacts", None)
    uri = artifacts.run_uri(parent.experiment_id, run_id) if artifacts is not None else ""
    return Run(
        id=run_id,
        name=name or _generate_name(),
        experiment_id=parent.experiment_id,
        experiment=parent.experiment,
        status=RunStatus.RUNNING,
        start_time=now,
        parent_id=parent.id,
        tags={"tane.parent_context": parent.id, **tags},
        artifact_uri=uri,
        heartbeat=now,
    )


def _artifact_exists(active: ActiveRun, path: str) -> bool:
    folder = path.rpartition("/")[0]
    try:
        return any(a.path == path for a in active.store.list_artifacts(active.id, folder))
    except Exception:  # an unlisted folder is a folder without that file
        return False


def _start_context(active: ActiveRun, settings: Any) -> None:
    from tane.tracking.context import capture_artifacts

    def save_artifacts() -> None:
        try:
            for path, data in capture_artifacts(settings).items():
                if _artifact_exists(active, path):
                    continue  # the run logged its own file of that name meanwhile: it wins
                active.store.log_artifact_bytes(active.id, path, data)
        except Exception as exc:  # context is a courtesy: never fail the run for it
            log.debug("tane: context capture failed: %s", exc)

    thread = threading.Thread(target=save_artifacts, name="tane-context", daemon=True)
    thread.start()
    active._context_thread = thread
    writer = active._writer
    if settings.logs and not _capturing():
        from tane.tracking.logcapture import LogCapture

        capture = LogCapture()
        capture.start()
        active._capture = capture
        last = [0.0]

        def stream_logs(force: bool = False) -> None:
            if not force and time.monotonic() - last[0] < _LOG_FLUSH_EVERY:
                return
            last[0] = time.monotonic()
            data = capture.drain()
            if data:
                active.store.log_artifact_bytes(active.id, LOG_ARTIFACT, data, append=True)

        active._tasks.append(stream_logs)
        writer.add_task(stream_logs)
    if settings.system_metrics:
        from tane.tracking.system_metrics import SystemMetricsSampler

        def emit(values: dict[str, float], timestamp: int) -> None:
            if not active.ended:
                active.log_metrics(values, timestamp=timestamp)

        interval = float(os.environ.get("TANE_SYSTEM_METRICS_INTERVAL", "10"))
        sampler = SystemMetricsSampler(emit, interval=interval)
        active._sampler = sampler
        # Sampling starts a moment after the run: a run over in less than that has
        # nothing worth sampling, and never pays for importing psutil.
        starter = threading.Timer(min(1.0, interval), _start_sampler, (active, sampler))
        starter.daemon = True
        starter.start()


def _start_sampler(active: ActiveRun, sampler: Any) -> None:
    with _state.lock:
        if not active.ended:
            sampler.start()


def _start_heartbeat(active: ActiveRun) -> None:
    last = [time.monotonic()]

    # Often enough that a live run is never taken for a crashed one.
    every = min(_HEARTBEAT_EVERY, heartbeat_timeout_ms() / 4000)

    def beat() -> None:
        if time.monotonic() - last[0] >= every:
            last[0] = time.monotonic()
            active.store.heartbeat([active.id], int(time.time() * 1000))

    active._tasks.append(beat)
    active._writer.add_task(beat)


def _capturing() -> bool:
    """True when a run of this process already records the console output."""
    with _state.lock:
        return any(r._capture is not None for stack in _state.stacks for r in stack)


def _end_run(
    active: ActiveRun, status: RunStatus, error: str | None, summary: str | None = None
) -> None:
    with _state.lock:
        if active.ended:
            return
        stack = active._stack
        if active in stack:
            # Runs started inside this one, in the same thread, end with it.
            while stack and stack[-1] is not active:
                _finish(stack[-1], status, None)
        _finish(active, status, error, summary)


def _finish(
    active: ActiveRun, status: RunStatus, error: str | None, summary: str | None = None
) -> None:
    if active in active._stack:
        active._stack.remove(active)
    active.ended = True
    pending = active._pending
    has_outputs = active.run_dir is not None and active.run_dir.is_dir()
    if pending is not None and not has_outputs and active._capture is None:
        # A lazy run that needed no row until now: written whole, in one commit.
        active._pending = None
        tags = _error_tags(error, summary)
        points = list(active._queue)
        active._queue.clear()
        # Written by the writer with the next flush, with the other runs that ended
        # meanwhile: a sweep of hundreds of short trials commits a few times.
        active._writer.submit(
            pending,
            params=active.held_params,
            tags=tags,
            points=points,
            status=status,
            end_time=int(time.time() * 1000),
        )
        active.held_params = {}
        return
    active._materialize()
    if active.attached:
        # The owning process ends the run; a worker only sends what it logged.
        active._writer.release(active.id)
        _warn_spooled(active)
        return
    for task in active._tasks:
        active._writer.remove_task(task)
    if active._sampler is not None:
        active._sampler.stop()
    if active._context_thread is not None:
        # A short run still gets its git diff and package list.
        active._context_thread.join(timeout=30)
    try:
        if active.run_dir is not None and active.run_dir.is_dir() and any(active.run_dir.iterdir()):
            for child in sorted(active.run_dir.iterdir()):
                active.store.log_artifact(active.id, str(child), "outputs")
    finally:
        if active._capture is not None:
            active._capture.stop()
            data = active._capture.drain()
            if data:
                active.store.log_artifact_bytes(active.id, LOG_ARTIFACT, data, append=True)
        # The last points, the params held back (a sweep trial's), the error tags
        # and the status: one commit where the store can group writes. The writer's
        # flush lock is taken first, so that its thread is never inside a flush
        # waiting for the database while this one holds it.
        failure: BaseException | None = None
        with active._writer.flushing(), _grouped(active.store):
            try:
                active._writer.release(active.id)
            except BaseException as exc:
                failure = exc
            if active.held_params:
                active.store.log_batch(active.id, params=active.held_params)
                active.held_params = {}
            if error:
                active.store.log_batch(active.id, tags=_error_tags(error, summary))
            active.store.update_run(active.id, status=status, end_time=int(time.time() * 1000))
        _warn_spooled(active)
        if failure is not None:
            raise failure


def _warn_spooled(active: ActiveRun) -> None:
    """Say so when a run ends with writes still spooled (its server cannot be reached)."""
    # On the class: the sqlite3 store's __getattr__ would load SQLAlchemy to answer.
    backlog_of = getattr(type(active.store), "spool_backlog", None)
    if backlog_of is None:
        return
    try:
        backlog = backlog_of(active.store, active.id)
    except Exception:  # a courtesy: the run has ended either way
        return
    if backlog is None:
        return
    what = f"{backlog.items} write{'s' if backlog.items != 1 else ''}"
    details = [f"{backlog.points} metric points"] if backlog.points else []
    if backlog.artifact_bytes:
        details.append(f"{backlog.artifact_bytes} bytes of artifacts")
    if details:
        what += f" ({', '.join(details)})"
    print(
        f"tane: run {active.id} ended with {what} spooled in {backlog.path}, as the server "
        f"{display_uri(active.store.uri)} could not take them; run `tane sync` when the "
        "server is back",
        file=sys.__stderr__,
    )


def _error_tags(error: str | None, summary: str | None) -> dict[str, str]:
    """The tags of a run that failed: its error line and its traceback."""
    if not error:
        return {}
    # The exception's first line, not the traceback's last: a long message ends
    # with hints, and the tag is what `tane runs show` puts first.
    first = summary or (error.strip().splitlines()[-1] if error.strip() else error)
    return {"tane.error": first[:1000], "tane.traceback": error}


def _grouped(store: Any) -> Any:
    batch = getattr(store, "batch", None)
    return batch() if batch is not None else nullcontext()


def attach_run(run_id: str, store: Store | str | None = None) -> ActiveRun:
    """Make another process's run the active run here, to log into it.

    For worker processes doing part of a run's work (pipeline nodes on the
    process runner): metrics, params and artifacts logged here go to that run;
    its status, context capture and end stay with the process that started it.
    Ending the returned object (or this process exiting) only flushes.
    """
    resolved = _resolve_store(store)
    run = resolved.get_run(run_id)
    stack = _state.own_stack(create=True)
    assert stack is not None
    with _state.lock:
        _install_hooks()
        active = ActiveRun(resolved, run, _writer_for(resolved), False, stack)
        active.attached = True
        stack.append(active)
    return active


def active_run() -> ActiveRun | None:
    """Return the active run: this thread's latest, else the main thread's, else None.

    A run started in a thread is active in that thread. Threads that started
    no run of their own (workers of a pool, say) see the main thread's run.
    """
    stack: list[ActiveRun] | None = getattr(_state.local, "stack", None)
    if stack:
        return stack[-1]
    main = _state.main_stack
    return main[-1] if main else None


def _require() -> ActiveRun:
    run = active_run()
    if run is None:
        raise NoActiveRun("no active run: start one with `with tane.start_run():` before logging")
    return run


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> None:
    """End the active run with ``status`` (FINISHED by default); no-op without one."""
    run = active_run()
    if run is not None:
        run.end(status)


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    """Log one metric point to the active run; never blocks on the store."""
    _require().log_metric(key, value, step, timestamp)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
) -> None:
    """Log several metrics at one step to the active run."""
    _require().log_metrics(metrics, step, timestamp)


def log_param(key: str, value: Any) -> None:
    """Log one param (stored as text; lists and dicts as JSON)."""
    _require().log_params({key: value})


def log_params(params: Mapping[str, Any]) -> None:
    """Log params; raise ParamConflict if one was logged before with another value."""
    _require().log_params(params)


def set_tag(key: str, value: Any) -> None:
    """Set one tag on the active run."""
    _require().set_tags({key: value})


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set tags on the active run."""
    _require().set_tags(tags)


def set_note(text: str) -> None:
    """Replace the active run's markdown note."""
    _require().set_note(text)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
    """Copy a file or folder into the active run's artifacts (under ``artifact_path``)."""
    return _require().log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Copy the contents of a folder into the active run's artifacts."""
    run = _require()
    folder = Path(local_dir)
    if not folder.is_dir():
        raise InvalidInput(f"log_artifacts: {folder} is not a folder")
    for child in sorted(folder.iterdir()):
        run.log_artifact(child, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    """Save ``text`` as an artifact file (UTF-8)."""
    _require().log_bytes(str(text).encode("utf-8"), artifact_file)


def log_dict(data: Mapping[str, Any] | list[Any], artifact_file: str) -> None:
    """Save a dict or list as JSON, or YAML when ``artifact_file`` ends in .yaml/.yml."""
    if artifact_file.endswith((".yaml", ".yml")):
        import yaml

        text = yaml.safe_dump(_plain(data), sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
    _require().log_bytes(text.encode("utf-8"), artifact_file)


def _plain(data: Any) -> Any:
    return json.loads(json.dumps(data, default=str))


def log_figure(figure: Any, artifact_file: str) -> str:
    """Save a matplotlib or plotly figure; return the artifact path used.

    Matplotlib figures are saved in the format of the file's extension (png,
    svg, pdf, ...). Plotly figures are saved as self-contained HTML (a
    non-.html name gets .html appended) or as JSON for a .json name.
    """
    run = _require()
    module = type(figure).__module__
    if module.startswith("plotly"):
        if artifact_file.endswith(".json"):
            run.log_bytes(figure.to_json().encode("utf-8"), artifact_file)
            return artifact_file
        if not artifact_file.endswith(".html"):
            artifact_file = artifact_file.rsplit(".", 1)[0] + ".html"
        html = figure.to_html(include_plotlyjs=True, full_html=True)
        run.log_bytes(html.encode("utf-8"), artifact_file)
        return artifact_file
    if hasattr(figure, "savefig"):
        buffer = io.BytesIO()
        ext = artifact_file.rsplit(".", 1)[-1].lower() if "." in artifact_file else "png"
        figure.savefig(buffer, format=ext, bbox_inches="tight")
        run.log_bytes(buffer.getvalue(), artifact_file)
        return artifact_file
    raise InvalidInput(
        f"log_figure: {type(figure).__name__} is neither a matplotlib nor a plotly figure"
    )


def run_dir() -> Path:
    """Return a folder for the active run's files (created on first use).

    It is ``.tane/outputs/<run id>/`` in the project root; whatever is in it
    when the run ends is logged as the run's ``outputs/`` artifacts. Nothing
    is created for runs that never ask (the working directory never changes).
    """
    run = _require()
    if run.run_dir is None:
        from tane.project import DEFAULT_STORE_DIR, find_project

        folder = find_project().root / DEFAULT_STORE_DIR / "outputs" / run.id
        folder.mkdir(parents=True, exist_ok=True)
        run.run_dir = folder
    return run.run_dir


def flush() -> None:
    """Write every queued metric point of this process now."""
    for writer in list(_state.writers.values()):
        writer.flush()
    _raise_if_terminated()


# -- process hooks: exit, uncaught exceptions, SIGTERM, fork --------------------


def _install_hooks() -> None:
    if not _state.hooks_installed:
        _state.hooks_installed = True
        atexit.register(_at_exit)
        previous_hook = sys.excepthook

        def excepthook(
            exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
        ) -> None:
            _state.uncaught = _status_for(exc, tb)
            previous_hook(exc_type, exc, tb)

        sys.excepthook = excepthook
    if not _state.sigterm_installed and threading.current_thread() is threading.main_thread():
        _state.sigterm_installed = True
        previous = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            # Only set a flag and raise: ending runs here could deadlock on a
            # lock held by the code this signal interrupted.
            _state.terminated = True
            if callable(previous):
                previous(signum, frame)  # the application shuts down its own way
                return
            if previous == signal.SIG_IGN:
                return
            if _inside_store_code(frame) and _state.deferred_signals < 3000:
                # Raising in the middle of a database transaction or a flush could
                # leave a connection holding the write lock. tane's own calls raise
                # it when they return (_raise_if_terminated); code that never calls
                # tane again is interrupted by the same signal 10 ms later.
                _state.deferred_signals += 1
                _state.pending_terminate = True
                threading.Timer(0.01, os.kill, (os.getpid(), signum)).start()
                return
            _state.pending_terminate = False
            raise Terminated(128 + signum)

        signal.signal(signal.SIGTERM, on_sigterm)


_UNSAFE_MODULES = (
    "tane.tracking",
    "sqlalchemy",
    "sqlite3",
    "psycopg",
    "alembic",
    "fsspec",
    "filelock",
)


def _raise_if_terminated() -> None:
    """Raise the SIGTERM that arrived while the main thread was inside tane."""
    if _state.pending_terminate and threading.current_thread() is threading.main_thread():
        _state.pending_terminate = False
        raise Terminated(128 + signal.SIGTERM)


def _inside_store_code(frame: FrameType | None) -> bool:
    """True if the interrupted code is tane's own or its database and file layers."""
    depth = 0
    while frame is not None and depth < 80:
        name = frame.f_globals.get("__name__", "")
        if isinstance(name, str) and name.startswith(_UNSAFE_MODULES):
            return True
        frame = frame.f_back
        depth += 1
    return False


def _end_all(status: RunStatus, error: str | None) -> None:
    with _state.lock:
        stacks = [list(stack) for stack in _state.stacks]
    for stack in stacks:
        for depth in range(len(stack) - 1, -1, -1):
            run = stack[depth]
            try:
                _finish(run, status, error if depth == 0 else None)
            except Exception as exc:
                print(f"tane: could not end run {run.id}: {exc}", file=sys.__stderr__)
    for writer in list(_state.writers.values()):
        writer.close()


def _at_exit() -> None:
    status: RunStatus
    error: str | None
    if _state.terminated:
        status, error = RunStatus.KILLED, "terminated by SIGTERM"
    else:
        status, error = _state.uncaught or (RunStatus.FINISHED, None)
    _end_all(status, error)


def _after_fork() -> None:
    # A forked child has no active run. Its writers (reset by the writer module)
    # stay known, so a run object inherited from the parent still flushes at exit.
    global _state
    writers = _state.writers
    _state = _State()
    _state.writers = writers


os.register_at_fork(after_in_child=_after_fork)


# -- names -------------------------------------------------------------------

_ADJECTIVES = [
    "amber",
    "bold",
    "brisk",
    "calm",
    "clever",
    "crisp",
    "daring",
    "deft",
    "eager",
    "fair",
    "fierce",
    "gentle",
    "glad",
    "grand",
    "hardy",
    "honest",
    "jolly",
    "keen",
    "kind",
    "lively",
    "lucid",
    "merry",
    "mighty",
    "nimble",
    "noble",
    "plucky",
    "proud",
    "quick",
    "quiet",
    "rapid",
    "sharp",
    "shy",
    "silent",
    "sleek",
    "smart",
    "snug",
    "solid",
    "spry",
    "steady",
    "stoic",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "warm",
    "wise",
    "witty",
    "zesty",
]
_NOUNS = [
    "acorn",
    "alder",
    "aspen",
    "birch",
    "bloom",
    "bud",
    "cedar",
    "clover",
    "cone",
    "cypress",
    "elm",
    "fern",
    "fig",
    "ginkgo",
    "grove",
    "hazel",
    "ivy",
    "juniper",
    "kelp",
    "larch",
    "laurel",
    "leaf",
    "lichen",
    "lotus",
    "maple",
    "moss",
    "oak",
    "olive",
    "orchid",
    "palm",
    "pine",
    "plum",
    "poplar",
    "reed",
    "root",
    "rowan",
    "sage",
    "seed",
    "sequoia",
    "shoot",
    "spruce",
    "sprout",
    "thorn",
    "willow",
    "yew",
]


def _generate_name() -> str:
    import random

    rng = random.SystemRandom()
    return f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{rng.randint(1, 99)}"
