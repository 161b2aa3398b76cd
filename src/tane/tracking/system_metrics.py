"""Periodic samples of CPU, memory, disk and GPU use, for a run's system metrics.

:class:`SystemMetricsSampler` runs one daemon thread that calls ``emit`` with a
dict of ``system/...`` values and a millisecond timestamp every ``interval``
seconds. psutil is imported on first use and pynvml (from ``nvidia-ml-py``) only
if present, so importing this module costs nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from tane.errors import InvalidInput

__all__ = ["SystemMetricsSampler"]

_log = logging.getLogger(__name__)

_MB = 1024 * 1024
# A CPU percentage needs two readings of the CPU counters at least this far apart;
# short enough not to delay the first emit noticeably.
_CPU_MIN_SPAN_SECONDS = 0.1


def _cpu_busy_total(times: Any) -> tuple[float, float]:
    """Return (busy, total) CPU seconds from a ``psutil.cpu_times()`` tuple."""
    # The same accounting as psutil.cpu_percent: on Linux guest time is already
    # part of user/nice time, and iowait is idle time.
    total = float(sum(times))
    total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    idle = times.idle + getattr(times, "iowait", 0.0)
    return total - idle, total


class SystemMetricsSampler:
    """Sample system use periodically in a daemon thread and pass it to ``emit``.

    Keys: ``system/cpu_percent``, ``system/memory_percent``,
    ``system/memory_used_mb``, ``system/process_rss_mb``, ``system/disk_percent``
    and, when pynvml finds GPUs, ``system/gpu{i}/utilization_percent`` and
    ``system/gpu{i}/memory_used_mb``. Sizes are in MiB (1024 * 1024 bytes).
    A metric that cannot be read is left out of the sample; any GPU error
    switches GPU sampling off for this sampler.

    Args:
        emit: Called from the sampler thread with the values and the sample
            time in milliseconds since the epoch. Exceptions it raises are
            logged and the sampling goes on.
        interval: Seconds between samples; the first sample is taken at start.
        disk_path: Path whose file system ``system/disk_percent`` describes;
            the working directory at construction if None.

    Raises:
        InvalidInput: ``interval`` is not a positive number.

    Example:
        >>> sampler = SystemMetricsSampler(lambda values, ms: None, interval=5)
        >>> 0 <= sampler.sample()["system/memory_percent"] <= 100
        True
    """

    def __init__(
        self,
        emit: Callable[[dict[str, float], int], None],
        interval: float = 10.0,
        *,
        disk_path: str | None = None,
    ) -> None:
        if not interval > 0:
            raise InvalidInput(
                f"system metrics interval must be a positive number of seconds, got {interval!r}"
            )
        self._emit = emit
        self._interval = float(interval)
        self._disk_path = disk_path if disk_path is not None else _default_disk_path()
        self._lock = threading.Lock()
        # Re-entrant: a GPU error inside sample() shuts NVML down under the same lock.
        self._sample_lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._cpu_last: tuple[float, float, float] | None = None
        self._process: Any = None
        self._process_pid = -1
        # None: not tried yet; []: no GPU or disabled; else NVML device handles.
        self._gpus: list[Any] | None = None
        self._nvml: Any = None
        self._failures = 0

    @property
    def interval(self) -> float:
        """Seconds between two samples."""
        return self._interval

    @property
    def running(self) -> bool:
        """Whether the sampler thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> None:
        """Start the sampler thread; do nothing if it is already running."""
        with self._lock:
            if self.running:
                return
            # A fresh Event per thread: a stop() still waiting on the old
            # thread must not be undone by this start().
            self._stop_event = threading.Event()
            self._thread = threading.Thread(
                target=self._run,
                args=(self._stop_event,),
                name="tane-system-metrics",
                daemon=True,
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the sampler thread and wait up to ``timeout`` seconds for it.

        Safe to call when not started, more than once, and from ``emit`` itself.
        """
        with self._lock:
            thread = self._thread
            self._stop_event.set()
        if thread is None:
            return
        if thread is not threading.current_thread():
            thread.join(timeout)
        if not thread.is_alive():
            with self._lock:
                if self._thread is thread:
                    self._thread = None

    def sample(self) -> dict[str, float]:
        """Take one sample now, in the calling thread, and return it."""
        import psutil

        values: dict[str, float] = {}
        # Serialized because the CPU baseline and NVML state are shared with the
        # sampler thread.
        with self._sample_lock:
            readers: list[Callable[[Any, dict[str, float]], None]] = [
                self._read_cpu,
                self._read_memory,
                self._read_process,
                self._read_disk,
            ]
            for read in readers:
                try:
                    read(psutil, values)
                except Exception:
                    # One unreadable metric (a deleted disk path, a restricted
                    # /proc) must not cost the others.
                    _log.debug("system metric %s failed", read.__name__, exc_info=True)
            self._read_gpus(values)
        return values

    # ------------------------------------------------------------ internals

    def _run(self, stop_event: threading.Event) -> None:
        try:
            self._loop(stop_event)
        finally:
            # Here rather than in stop(): the thread may outlive stop()'s join
            # (a slow emit) or be the caller of stop() itself.
            self._shutdown_gpu()

    def _loop(self, stop_event: threading.Event) -> None:
        while not stop_event.is_set():
            try:
                values = self.sample()
                # Stamped after sampling: the CPU figure covers the span that
                # ends now, and sample() may wait for that span.
                timestamp_ms = time.time_ns() // 1_000_000
                if values and not stop_event.is_set():
                    self._emit(values, timestamp_ms)
            except Exception:
                self._failures += 1
                # Warn once so a broken sink is visible without flooding the
                # run's own log every interval.
                if self._failures == 1:
                    _log.warning("tane: system metrics sample failed", exc_info=True)
                else:
                    _log.debug("tane: system metrics sample failed", exc_info=True)
            if stop_event.wait(self._interval):
                break

    def _read_cpu(self, psutil: Any, values: dict[str, float]) -> None:
        if self._cpu_last is None:
            self._cpu_last = (time.monotonic(), *_cpu_busy_total(psutil.cpu_times()))
        # CPU counters tick at ~100 Hz: two readings closer together than this
        # (the first sample, or sample() called right before the thread's)
        # would give 0 % or 100 % by rounding.
        wait = self._cpu_last[0] + _CPU_MIN_SPAN_SECONDS - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        busy, total = _cpu_busy_total(psutil.cpu_times())
        _, last_busy, last_total = self._cpu_last
        self._cpu_last = (time.monotonic(), busy, total)
        busy_delta = max(0.0, busy - last_busy)
        total_delta = total - last_total
        if total_delta > 0:
            values["system/cpu_percent"] = round(min(100.0, busy_delta / total_delta * 100), 1)

    def _read_memory(self, psutil: Any, values: dict[str, float]) -> None:
        memory = psutil.virtual_memory()
        values["system/memory_percent"] = float(memory.percent)
        # total - available is what `percent` is computed from; psutil's `used`
        # is defined differently per platform.
        values["system/memory_used_mb"] = round((memory.total - memory.available) / _MB, 1)

    def _read_process(self, psutil: Any, values: dict[str, float]) -> None:
        pid = os.getpid()
        if self._process is None or self._process_pid != pid:
            # Re-created after a fork so the child reports its own memory.
            self._process = psutil.Process(pid)
            self._process_pid = pid
        values["system/process_rss_mb"] = round(self._process.memory_info().rss / _MB, 1)

    def _read_disk(self, psutil: Any, values: dict[str, float]) -> None:
        values["system/disk_percent"] = float(psutil.disk_usage(self._disk_path).percent)

    def _read_gpus(self, values: dict[str, float]) -> None:
        if self._gpus is None:
            self._gpus = self._init_gpu()
        if not self._gpus:
            return
        gpu_values: dict[str, float] = {}
        try:
            for index, handle in enumerate(self._gpus):
                prefix = f"system/gpu{index}/"
                rates = self._nvml.nvmlDeviceGetUtilizationRates(handle)
                memory = self._nvml.nvmlDeviceGetMemoryInfo(handle)
                gpu_values[prefix + "utilization_percent"] = float(rates.gpu)
                gpu_values[prefix + "memory_used_mb"] = round(memory.used / _MB, 1)
        except Exception:
            # A driver reset or a lost device: stop asking rather than fail
            # (and log) every interval for the rest of the run.
            _log.debug("tane: GPU sampling disabled", exc_info=True)
            self._shutdown_gpu()
            self._gpus = []
            return
        values.update(gpu_values)

    def _init_gpu(self) -> list[Any]:
        try:
            import pynvml
        except Exception:  # ImportError, or a warning turned into an error
            return []
        try:
            pynvml.nvmlInit()
        except Exception:
            return []  # no driver: the common case on CPU machines
        self._nvml = pynvml
        try:
            count = int(pynvml.nvmlDeviceGetCount())
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception:
            handles = []
        if not handles:
            self._shutdown_gpu()
        return handles

    def _shutdown_gpu(self) -> None:
        with self._sample_lock:
            nvml, self._nvml = self._nvml, None
            if self._gpus:
                self._gpus = None  # a later start() initializes NVML again
            if nvml is not None:
                try:
                    nvml.nvmlShutdown()
                except Exception:
                    _log.debug("tane: nvmlShutdown failed", exc_info=True)


def _default_disk_path() -> str:
    try:
        return os.getcwd()
    except OSError:
        # The working directory was deleted; the root of the file system is
        # the next best thing to report on.
        return os.path.abspath(os.sep)
