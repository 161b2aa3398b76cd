"""Tests for tane.tracking.logcapture: the stdout/stderr tee, logging and draining.

pytest replaces sys.stdout and sys.stderr itself, so each test either reads the
console side through capsys or installs its own stand-in stream first; the
process-level behaviour (basicConfig, real streams) runs in a subprocess.
"""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tane.tracking.logcapture import LogCapture


class FakeConsole(io.StringIO):
    """A stand-in for a terminal: a tty with a file descriptor and a byte buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.raw_bytes = io.BytesIO()
        self.flushes = 0
        self.name = "<fake console>"

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return 99

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "latin-1"

    @property
    def buffer(self) -> io.BytesIO:
        return self.raw_bytes

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


@pytest.fixture
def capture() -> Iterator[LogCapture]:
    cap = LogCapture()
    yield cap
    cap.stop()  # restore the streams even when an assertion failed


def fake_consoles(monkeypatch: pytest.MonkeyPatch) -> tuple[FakeConsole, FakeConsole]:
    """Install stand-in stdout and stderr; call it from the test body.

    Not a fixture: pytest re-installs its own capture streams between fixture
    set-up and the test call.
    """
    out, err = FakeConsole(), FakeConsole()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    return out, err


@pytest.fixture
def logger(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    """A private logger that does not propagate, so pytest's handlers stay out of it."""
    log = logging.getLogger(f"tane-test.{request.node.name}")
    log.setLevel(logging.INFO)
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)


def test_tee_records_and_passes_through(
    capture: LogCapture, capsys: pytest.CaptureFixture[str]
) -> None:
    original_out, original_err = sys.stdout, sys.stderr
    capture.start()
    assert sys.stdout is not original_out
    print("hello")
    sys.stderr.write("oops\n")
    print("héllo ✓")
    capture.stop()
    assert sys.stdout is original_out
    assert sys.stderr is original_err
    assert capture.drain() == "hello\noops\nhéllo ✓\n".encode()
    assert capsys.readouterr() == ("hello\nhéllo ✓\n", "oops\n")


def test_drain_returns_only_new_output(
    capture: LogCapture, capsys: pytest.CaptureFixture[str]
) -> None:
    assert capture.drain() == b""
    capture.start()
    print("one")
    assert capture.drain() == b"one\n"
    assert capture.drain() == b""
    print("two", end="")
    assert capture.drain() == b"two"
    capture.stop()
    print("after stop")
    assert capture.drain() == b""


def test_stream_attributes_are_delegated(
    capture: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _ = fake_consoles(monkeypatch)
    capture.start()
    tee = sys.stdout
    assert tee is not out
    assert tee.isatty() is True
    assert tee.fileno() == 99
    assert tee.encoding == "latin-1"
    assert tee.name == "<fake console>"
    assert tee.write("abc") == 3
    tee.writelines(["x\n", "y\n"])
    tee.flush()
    assert out.flushes == 1
    assert out.getvalue() == "abcx\ny\n"
    assert capture.drain() == b"abcx\ny\n"


def test_binary_buffer_is_teed(capture: LogCapture, monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = fake_consoles(monkeypatch)
    capture.start()
    assert sys.stdout.buffer is sys.stdout.buffer
    sys.stdout.buffer.write(b"raw \xe2\x9c\x93\n")
    sys.stdout.buffer.write(memoryview(b"view\n"))
    assert out.raw_bytes.getvalue() == b"raw \xe2\x9c\x93\nview\n"
    assert capture.drain() == b"raw \xe2\x9c\x93\nview\n"


def test_non_text_write_fails_as_before(
    capture: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_consoles(monkeypatch)
    capture.start()
    with pytest.raises(TypeError):
        sys.stdout.write(b"bytes")  # type: ignore[arg-type]
    assert capture.drain() == b""


def test_start_twice_wraps_once(capture: LogCapture, capsys: pytest.CaptureFixture[str]) -> None:
    capture.start()
    capture.start()
    print("once")
    assert capture.drain() == b"once\n"
    capture.stop()
    capture.stop()
    assert capsys.readouterr().out == "once\n"


def test_stop_leaves_a_foreign_replacement(
    capture: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", sys.stdout)  # restored after the test
    capture.start()
    tee = sys.stdout
    other = io.StringIO()
    sys.stdout = other
    capture.stop()
    assert sys.stdout is other
    # The tee someone may still hold only passes writes on now.
    tee.write("late\n")
    assert capture.drain() == b""


def test_nested_captures_restore_in_any_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    original = sys.stdout
    outer, inner = LogCapture(), LogCapture()
    try:
        outer.start()
        inner.start()
        print("both")
        outer.stop()  # not the last one started: sys.stdout stays inner's tee
        print("inner only")
        inner.stop()
        # Restored to the real stream, not to outer's stopped tee.
        assert sys.stdout is original
    finally:
        inner.stop()
        outer.stop()
    assert outer.drain() == b"both\n"
    assert inner.drain() == b"both\ninner only\n"
    assert capsys.readouterr().out == "both\ninner only\n"


def test_context_manager(capsys: pytest.CaptureFixture[str]) -> None:
    original = sys.stdout
    with LogCapture() as capture:
        assert sys.stdout is not original
        print("inside")
    assert sys.stdout is original
    assert capture.drain() == b"inside\n"


def test_buffer_cap_drops_with_a_marker(capsys: pytest.CaptureFixture[str]) -> None:
    capture = LogCapture(max_buffer_bytes=100)
    with capture:
        sys.stdout.write("a" * 59 + "\n")
        sys.stdout.write("b" * 59 + "\n")
        sys.stdout.write("c\n")  # fits, but comes after the gap: dropped too
        assert capture.drain() == b"a" * 59 + b"\n[tane: 62 bytes of output dropped]\n"
        sys.stdout.write("d")
        sys.stdout.write("e" * 200)
        assert capture.drain() == b"d\n[tane: 200 bytes of output dropped]\n"
        print("recovered")
        assert capture.drain() == b"recovered\n"
    # The console got everything regardless of the cap.
    assert capsys.readouterr().out.count("b" * 59) == 1


def test_many_threads_printing(capture: LogCapture, capsys: pytest.CaptureFixture[str]) -> None:
    capture.start()
    chunks: list[bytes] = []
    stop_draining = threading.Event()

    def drain_loop() -> None:
        while not stop_draining.is_set():
            chunks.append(capture.drain())

    def writer(index: int) -> None:
        for line in range(300):
            sys.stdout.write(f"t{index}-{line}\n")

    drainer = threading.Thread(target=drain_loop)
    drainer.start()
    writers = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop_draining.set()
    drainer.join()
    capture.stop()
    chunks.append(capture.drain())

    lines = b"".join(chunks).decode().splitlines()
    expected = {f"t{i}-{n}" for i in range(8) for n in range(300)}
    assert len(lines) == len(expected)
    assert set(lines) == expected
    # Each thread's own lines stay in order.
    for i in range(8):
        mine = [line for line in lines if line.startswith(f"t{i}-")]
        assert mine == [f"t{i}-{n}" for n in range(300)]


def test_start_and_stop_from_another_thread(
    capture: LogCapture, capsys: pytest.CaptureFixture[str]
) -> None:
    original = sys.stdout
    starter = threading.Thread(target=capture.start)
    starter.start()
    starter.join()
    print("from main")
    stopper = threading.Thread(target=capture.stop)
    stopper.start()
    stopper.join()
    assert sys.stdout is original
    assert capture.drain() == b"from main\n"


# ------------------------------------------------------------------ logging


def test_handler_created_before_start_is_captured_once(
    capture: LogCapture,
    monkeypatch: pytest.MonkeyPatch,
    logger: logging.Logger,
) -> None:
    _, err = fake_consoles(monkeypatch)
    early = logging.StreamHandler(sys.stderr)  # holds the original stream object
    early.setFormatter(logging.Formatter("%(levelname)s:%(message)s"))
    logger.addHandler(early)

    capture.start()
    logger.info("epoch 1 done")
    capture.stop()

    assert capture.drain() == b"INFO:epoch 1 done\n"
    assert err.getvalue() == "INFO:epoch 1 done\n"
    assert early.stream is err  # pointed back at the real stream
    logger.info("after the run")
    assert capture.drain() == b""


def test_handler_created_after_start_is_captured_once(
    capture: LogCapture,
    monkeypatch: pytest.MonkeyPatch,
    logger: logging.Logger,
) -> None:
    _, err = fake_consoles(monkeypatch)
    capture.start()
    late = logging.StreamHandler()  # binds sys.stderr now: the tee
    logger.addHandler(late)
    logger.warning("loss is nan")
    capture.stop()

    assert capture.drain() == b"loss is nan\n"
    assert err.getvalue() == "loss is nan\n"
    # No stale tee left inside the handler after the run.
    assert late.stream is err


def test_file_handler_is_left_alone(
    capture: LogCapture,
    monkeypatch: pytest.MonkeyPatch,
    logger: logging.Logger,
    tmp_path: Path,
) -> None:
    fake_consoles(monkeypatch)
    path = tmp_path / "app.log"
    file_handler = logging.FileHandler(path)
    logger.addHandler(file_handler)
    try:
        capture.start()
        logger.info("to the file only")
        capture.stop()
    finally:
        file_handler.close()
    assert path.read_text() == "to the file only\n"
    assert capture.drain() == b""


def test_whole_process(tmp_path: Path) -> None:
    """Real streams, basicConfig inside the run, a pre-existing handler, no duplicates."""
    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent(
            """
            import logging, sys, threading
            from tane.tracking.logcapture import LogCapture

            early = logging.getLogger("early")
            early.addHandler(logging.StreamHandler(sys.stderr))
            early.propagate = False
            early.setLevel(logging.INFO)
            original = (sys.stdout, sys.stderr)

            capture = LogCapture()
            capture.start()
            print("print line")
            early.info("early handler line")
            # basicConfig must still work inside a captured run.
            logging.basicConfig(level=logging.INFO, format="%(levelname)s|%(message)s")
            logging.getLogger("train").info("basicConfig line")
            logging.getLogger("other").warning("warning line")
            t = threading.Thread(target=print, args=("thread line",))
            t.start(); t.join()
            capture.stop()
            assert (sys.stdout, sys.stderr) == original
            print("after stop")
            with open(sys.argv[1], "wb") as f:
                f.write(capture.drain())
            """
        )
    )
    out_file = tmp_path / "captured.txt"
    result = subprocess.run(
        [sys.executable, str(script), str(out_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "print line\nthread line\nafter stop\n"
    assert result.stderr == ("early handler line\nINFO|basicConfig line\nWARNING|warning line\n")
    captured = out_file.read_text()
    assert captured == (
        "print line\nearly handler line\nINFO|basicConfig line\nWARNING|warning line\nthread line\n"
    )
