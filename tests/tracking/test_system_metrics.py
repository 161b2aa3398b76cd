"""Tests for tane.tracking.system_metrics: real psutil samples and the sampler thread."""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from tane.errors import InvalidInput
from tane.tracking.system_metrics import SystemMetricsSampler

BASE_KEYS = {
    "system/cpu_percent",
    "system/memory_percent",
    "system/memory_used_mb",
    "system/process_rss_mb",
    "system/disk_percent",
}
GPU_KEY = re.compile(r"system/gpu\d+/(utilization_percent|memory_used_mb)")
MIB = 1024 * 1024


class Recorder:
    """An emit callback that keeps every call and signals after ``wanted`` of them."""

    def __init__(self, wanted: int = 1) -> None:
        self.calls: list[tuple[dict[str, float], int]] = []
        self.wanted = wanted
        self.enough = threading.Event()
        self.threads: set[str] = set()

    def __call__(self, values: dict[str, float], timestamp_ms: int) -> None:
        self.calls.append((values, timestamp_ms))
        self.threads.add(threading.current_thread().name)
        if len(self.calls) >= self.wanted:
            self.enough.set()


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import pynvml` fail, as on a machine without it.
    monkeypatch.setitem(sys.modules, "pynvml", None)


def sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tane-system-metrics"]


def test_sample_has_sane_values(tmp_path: Path, no_gpu: None) -> None:
    sampler = SystemMetricsSampler(Recorder(), disk_path=str(tmp_path))
    values = sampler.sample()
    assert set(values) == BASE_KEYS
    assert all(isinstance(v, float) for v in values.values())
    assert 0.0 <= values["system/cpu_percent"] <= 100.0
    assert 0.0 < values["system/memory_percent"] <= 100.0
    total_mb = psutil.virtual_memory().total / MIB
    assert 0.0 < values["system/memory_used_mb"] <= total_mb
    rss_mb = psutil.Process().memory_info().rss / MIB
    # This test process is a Python interpreter with pytest loaded: > 5 MiB.
    assert 5.0 < values["system/process_rss_mb"] < total_mb
    assert values["system/process_rss_mb"] == pytest.approx(rss_mb, rel=0.25)
    assert values["system/disk_percent"] == pytest.approx(
        psutil.disk_usage(str(tmp_path)).percent, abs=1.0
    )


def test_cpu_percent_sees_a_busy_thread(no_gpu: None) -> None:
    sampler = SystemMetricsSampler(Recorder())
    sampler.sample()
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        time.sleep(0.3)
        busy = sampler.sample()["system/cpu_percent"]
    finally:
        stop.set()
        spinner.join()
    # One of N CPUs fully busy is at least 100/N percent, minus scheduling noise.
    cpus = psutil.cpu_count() or 1
    assert busy >= 100.0 / cpus * 0.5


def test_one_failing_metric_keeps_the_others(tmp_path: Path, no_gpu: None) -> None:
    sampler = SystemMetricsSampler(Recorder(), disk_path=str(tmp_path / "missing"))
    values = sampler.sample()
    assert set(values) == BASE_KEYS - {"system/disk_percent"}


def test_thread_emits_periodically_and_stops(no_gpu: None) -> None:
    recorder = Recorder(wanted=3)
    sampler = SystemMetricsSampler(recorder, interval=0.05)
    before_ms = time.time() * 1000
    sampler.start()
    try:
        assert recorder.enough.wait(5), "the sampler did not emit 3 samples in 5 s"
    finally:
        started = time.monotonic()
        sampler.stop()
        stop_seconds = time.monotonic() - started
    after_ms = time.time() * 1000
    assert stop_seconds < 1.0
    assert not sampler.running
    assert sampler_threads() == []
    assert recorder.threads == {"tane-system-metrics"}

    stamps = [stamp for _, stamp in recorder.calls]
    assert stamps == sorted(stamps)
    assert before_ms - 1 <= stamps[0] <= stamps[-1] <= after_ms + 1
    for values, _ in recorder.calls:
        assert set(values) == BASE_KEYS

    count = len(recorder.calls)
    time.sleep(0.2)
    assert len(recorder.calls) == count, "emitted after stop()"


def test_first_sample_is_taken_at_start(no_gpu: None) -> None:
    recorder = Recorder()
    sampler = SystemMetricsSampler(recorder, interval=3600)
    sampler.start()
    try:
        assert recorder.enough.wait(5)
    finally:
        started = time.monotonic()
        sampler.stop()
    # stop() wakes the thread out of its hour-long wait at once.
    assert time.monotonic() - started < 1.0
    assert len(recorder.calls) == 1


def test_start_is_idempotent_and_restartable(no_gpu: None) -> None:
    recorder = Recorder()
    sampler = SystemMetricsSampler(recorder, interval=3600)
    sampler.start()
    sampler.start()
    try:
        assert len(sampler_threads()) == 1
        assert sampler_threads()[0].daemon
        assert recorder.enough.wait(5)
    finally:
        sampler.stop()
    assert sampler_threads() == []

    recorder.enough.clear()
    sampler.start()
    try:
        assert recorder.enough.wait(5)
        assert sampler.running
    finally:
        sampler.stop()
    assert len(recorder.calls) == 2


def test_stop_before_start_and_twice() -> None:
    sampler = SystemMetricsSampler(Recorder())
    sampler.stop()
    sampler.stop()
    assert not sampler.running


def test_failing_emit_does_not_kill_the_thread(
    caplog: pytest.LogCaptureFixture, no_gpu: None
) -> None:
    calls: list[int] = []
    done = threading.Event()

    def emit(values: dict[str, float], timestamp_ms: int) -> None:
        calls.append(timestamp_ms)
        if len(calls) <= 2:
            raise RuntimeError("store is down")
        done.set()

    sampler = SystemMetricsSampler(emit, interval=0.02)
    with caplog.at_level(logging.DEBUG, logger="tane.tracking.system_metrics"):
        sampler.start()
        try:
            assert done.wait(5)
            assert sampler.running
        finally:
            sampler.stop()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # warned once, not every interval
    assert "store is down" in (warnings[0].exc_text or "")


def test_stop_from_inside_emit(no_gpu: None) -> None:
    done = threading.Event()
    sampler: SystemMetricsSampler

    def emit(values: dict[str, float], timestamp_ms: int) -> None:
        sampler.stop()
        done.set()

    sampler = SystemMetricsSampler(emit, interval=0.01)
    sampler.start()
    assert done.wait(5)
    for _ in range(100):
        if not sampler_threads():
            break
        time.sleep(0.01)
    assert sampler_threads() == []


@pytest.mark.parametrize("interval", [0, -1.0, float("nan")])
def test_bad_interval(interval: float) -> None:
    with pytest.raises(InvalidInput, match="positive number of seconds"):
        SystemMetricsSampler(Recorder(), interval=interval)


# ------------------------------------------------------------------- GPUs
# No GPU here, so NVML is replaced by a stand-in with pynvml's function names.


class FakeNvml:
    def __init__(self, devices: int = 2, fail_init: bool = False) -> None:
        self.devices = devices
        self.fail_init = fail_init
        self.fail_reads = False
        self.inits = 0
        self.shutdowns = 0

    def nvmlInit(self) -> None:
        if self.fail_init:
            raise RuntimeError("NVML Shared Library Not Found")
        self.inits += 1

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        return self.devices

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:
        if self.fail_reads:
            raise RuntimeError("GPU is lost")
        return SimpleNamespace(gpu=40 + handle, memory=5)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        return SimpleNamespace(used=(handle + 1) * 1024 * MIB, total=16 * 1024 * MIB)


def test_gpu_values(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = FakeNvml(devices=2)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    sampler = SystemMetricsSampler(Recorder())
    values = sampler.sample()
    assert values["system/gpu0/utilization_percent"] == 40.0
    assert values["system/gpu0/memory_used_mb"] == 1024.0
    assert values["system/gpu1/utilization_percent"] == 41.0
    assert values["system/gpu1/memory_used_mb"] == 2048.0
    assert set(values) - BASE_KEYS == {k for k in values if GPU_KEY.fullmatch(k)}
    sampler.sample()
    assert nvml.inits == 1  # initialized once, not per sample
    sampler.stop()
    assert nvml.shutdowns == 0  # never started: NVML stays up for sample()


def test_gpu_error_disables_gpu_sampling(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = FakeNvml(devices=1)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    sampler = SystemMetricsSampler(Recorder())
    assert "system/gpu0/utilization_percent" in sampler.sample()
    nvml.fail_reads = True
    values = sampler.sample()
    assert set(values) == BASE_KEYS
    assert nvml.shutdowns == 1
    nvml.fail_reads = False
    assert set(sampler.sample()) == BASE_KEYS  # stays off
    assert nvml.inits == 1


@pytest.mark.parametrize("nvml", [FakeNvml(fail_init=True), FakeNvml(devices=0)])
def test_no_gpu_found(monkeypatch: pytest.MonkeyPatch, nvml: FakeNvml) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    assert set(SystemMetricsSampler(Recorder()).sample()) == BASE_KEYS


def test_stop_shuts_nvml_down(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = FakeNvml(devices=1)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    recorder = Recorder()
    sampler = SystemMetricsSampler(recorder, interval=3600)
    sampler.start()
    try:
        assert recorder.enough.wait(5)
    finally:
        sampler.stop()
    assert recorder.calls[0][0]["system/gpu0/memory_used_mb"] == 1024.0
    assert (nvml.inits, nvml.shutdowns) == (1, 1)
