"""Record what a run prints: stdout, stderr and console logging, as UTF-8 bytes.

:class:`LogCapture` replaces ``sys.stdout`` and ``sys.stderr`` by tee objects
that pass every write on unchanged and keep a copy; :meth:`LogCapture.drain`
hands the copy over in pieces so a background writer can stream it into the
run's ``logs/`` artifact.

Logging and the duplication problem: a ``logging.StreamHandler`` created after
``start()`` (``basicConfig()`` inside the run, for example) writes into the tee,
so its records are captured like any print. One created before ``start()``
holds the original stream object and would bypass the tee. Rather than adding a
root handler that re-formats records (and has to guess which ones the console
already showed), ``start()`` points such console handlers at the tee and
``stop()`` points them back. Each record is then captured exactly once, in the
format the user sees. A root handler has a second, worse flaw: ``basicConfig()``
does nothing while the root logger has any handler, so the user's own logging
set-up inside the run would silently be ignored.

Not captured: output written to the file descriptors directly (child
processes, C extensions, ``os.write(1, ...)``).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any, TextIO

__all__ = ["DEFAULT_MAX_BUFFER_BYTES", "LogCapture"]

DEFAULT_MAX_BUFFER_BYTES = 8 * 1024 * 1024

_STREAM_NAMES = ("stdout", "stderr")


class _Buffer:
    """Bytes captured since the last take, capped; safe from any thread."""

    def __init__(self, limit: int) -> None:
        # Re-entrant because a signal handler runs in the main thread, possibly
        # while that thread is inside add(), and may well print.
        self._lock = threading.RLock()
        self._limit = limit
        self._chunks: list[bytes] = []
        self._size = 0
        self._dropped = 0

    def add(self, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            # Once over the cap, drop everything until the next take so that the
            # marker sits where the gap is instead of output arriving out of order.
            if self._dropped or self._size + len(data) > self._limit:
                self._dropped += len(data)
                return
            self._chunks.append(data)
            self._size += len(data)

    def take(self) -> bytes:
        with self._lock:
            if not self._size and not self._dropped:
                return b""
            chunks, dropped = self._chunks, self._dropped
            self._chunks, self._size, self._dropped = [], 0, 0
        data = b"".join(chunks)
        if dropped:
            if data and not data.endswith(b"\n"):
                data += b"\n"
            data += f"[tane: {dropped} bytes of output dropped]\n".encode()
        return data


class _TeeText:
    """A text stream that writes to the stream it wraps and records a copy.

    Everything but writing is delegated, so ``isatty()``, ``fileno()``,
    ``encoding`` and the like answer as the wrapped stream does and libraries
    (tqdm, rich, click) behave as without it. After ``stop()`` it only passes
    writes on, for code that kept a reference to it.
    """

    def __init__(self, original: TextIO, buffer: _Buffer) -> None:
        # Prefixed names: anything else is looked up on the wrapped stream.
        self._tane_original = original
        self._tane_buffer = buffer
        self._tane_active = True
        self._tane_binary: _TeeBinary | None = None

    def write(self, text: str) -> int:
        if self._tane_active and isinstance(text, str):
            # Recorded before writing, so output is kept even when the console
            # write fails (a closed pipe, an unencodable character).
            self._tane_buffer.add(text.encode("utf-8", "backslashreplace"))
        return self._tane_original.write(text)

    def writelines(self, lines: Iterable[str]) -> None:
        lines = list(lines)
        if self._tane_active:
            for line in lines:
                if isinstance(line, str):
                    self._tane_buffer.add(line.encode("utf-8", "backslashreplace"))
        self._tane_original.writelines(lines)

    def flush(self) -> None:
        self._tane_original.flush()

    def isatty(self) -> bool:
        return self._tane_original.isatty()

    def fileno(self) -> int:
        return self._tane_original.fileno()

    @property
    def buffer(self) -> Any:
        # Some code writes bytes to sys.stdout.buffer; tee that too. The wrapper
        # is cached so `sys.stdout.buffer is sys.stdout.buffer` still holds.
        raw = self._tane_original.buffer
        binary = self._tane_binary
        if binary is None or binary._tane_original is not raw:
            binary = self._tane_binary = _TeeBinary(raw, self)
        return binary

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tane_original, name)

    def __repr__(self) -> str:
        return f"<tane log tee of {self._tane_original!r}>"


class _TeeBinary:
    """The ``buffer`` of a :class:`_TeeText`: tees bytes written below the text layer."""

    def __init__(self, original: Any, text: _TeeText) -> None:
        self._tane_original = original
        self._tane_text = text

    def write(self, data: Any) -> Any:
        if self._tane_text._tane_active:
            # Not bytes-like: record nothing and let the wrapped stream raise.
            with contextlib.suppress(TypeError):
                self._tane_text._tane_buffer.add(bytes(data))
        return self._tane_original.write(data)

    def writelines(self, lines: Iterable[Any]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tane_original, name)

    def __repr__(self) -> str:
        return f"<tane log tee of {self._tane_original!r}>"


def _unwrap(stream: Any) -> Any:
    """Skip stopped tees, so restoring never reinstates one that is only a pass-through."""
    while isinstance(stream, _TeeText) and not stream._tane_active:
        stream = stream._tane_original
    return stream


def _stream_handlers() -> list[logging.StreamHandler[Any]]:
    loggers: list[logging.Logger] = [logging.getLogger()]
    # A copy: another thread may create loggers meanwhile.
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):  # skip PlaceHolder nodes
            loggers.append(logger)
    handlers: dict[int, logging.StreamHandler[Any]] = {}
    for logger in loggers:
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler):
                handlers.setdefault(id(handler), handler)
    return list(handlers.values())


def _retarget(handler: logging.StreamHandler[Any], stream: Any) -> None:
    # A subclass whose stream is a read-only property (like logging's own
    # last-resort handler) already follows sys.stderr by itself.
    with contextlib.suppress(Exception):
        handler.setStream(stream)


class LogCapture:
    """Record everything the process prints to stdout and stderr, logging included.

    ``start()`` tees ``sys.stdout`` and ``sys.stderr``; ``drain()`` returns what
    was printed since the previous drain; ``stop()`` puts the streams back. The
    console output is unchanged throughout.

    Args:
        max_buffer_bytes: Most bytes kept between two drains. Past it, output
            is dropped until the next drain, which reports how much with a line
            ``[tane: N bytes of output dropped]``.

    Example:
        >>> capture = LogCapture()
        >>> capture.start()
        >>> print("epoch 1")
        epoch 1
        >>> capture.stop()
        >>> capture.drain()
        b'epoch 1\\n'
    """

    def __init__(self, *, max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES) -> None:
        self._buffer = _Buffer(max_buffer_bytes)
        self._lock = threading.Lock()
        self._tees: dict[str, _TeeText] = {}

    @property
    def active(self) -> bool:
        """Whether output is being recorded."""
        return bool(self._tees)

    def start(self) -> None:
        """Start recording; do nothing if already recording. Callable from any thread."""
        with self._lock:
            if self._tees:
                return
            tees: dict[str, _TeeText] = {}
            by_stream: dict[int, _TeeText] = {}
            for name in _STREAM_NAMES:
                original = getattr(sys, name)
                if original is None:
                    continue  # pythonw and some daemons run without the stream
                tee = by_stream.get(id(original)) or _TeeText(original, self._buffer)
                by_stream[id(original)] = tee
                tees[name] = tee
                setattr(sys, name, tee)
            self._tees = tees
            for handler in _stream_handlers():
                tee_for = by_stream.get(id(handler.stream))
                if tee_for is not None:
                    _retarget(handler, tee_for)

    def stop(self) -> None:
        """Stop recording and restore the streams; what is left stays for ``drain()``.

        A stream is put back only if it is still this capture's tee; if other
        code replaced it meanwhile, that replacement stays and the tee it may
        wrap becomes a plain pass-through.
        """
        with self._lock:
            tees, self._tees = self._tees, {}
            if not tees:
                return
            for tee in tees.values():
                tee._tane_active = False
            for name, tee in tees.items():
                if getattr(sys, name) is tee:
                    setattr(sys, name, _unwrap(tee))
            ours = {id(tee): tee for tee in tees.values()}
            # Handlers created during the run hold the tee too; point them at
            # the real stream so no stale wrapper outlives the capture.
            for handler in _stream_handlers():
                tee_held = ours.get(id(handler.stream))
                if tee_held is not None:
                    _retarget(handler, _unwrap(tee_held))

    def drain(self) -> bytes:
        """Return, as UTF-8, what was printed since the last drain (``b""`` if nothing)."""
        return self._buffer.take()

    def __enter__(self) -> LogCapture:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
