"""Plain-text formatting of sizes, times and values for the command line."""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from typing import Any

SHORT_ID = 8


def short_id(run_id: str) -> str:
    """Return the first characters of a run id, enough to tell runs apart."""
    return run_id[:SHORT_ID]


def human_bytes(size: int | None) -> str:
    """Return a size such as ``"1.5 MB"`` (powers of 1024; ``"-"`` for unknown).

    Example:
        >>> human_bytes(1536)
        '1.5 KB'
        >>> human_bytes(12)
        '12 B'
    """
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_duration(seconds: float | None) -> str:
    """Return a duration such as ``"850ms"``, ``"12.3s"``, ``"4m 05s"`` or ``"2h 03m"``.

    Example:
        >>> format_duration(245)
        '4m 05s'
    """
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d {whole % 86400 // 3600:02d}h"


def local_time(ms: int | None) -> str:
    """Return an epoch-milliseconds time as local ``YYYY-MM-DD HH:MM:SS`` (``"-"`` for None)."""
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def relative_time(ms: int | None, now: float | None = None) -> str:
    """Return how long ago a time was (``"5m ago"``); older than a week: the local date.

    Example:
        >>> relative_time(1_000_000, now=1_000 + 90)
        '1m ago'
    """
    if ms is None:
        return "-"
    now = time.time() if now is None else now
    ago = now - ms / 1000
    if ago < 0:
        return local_time(ms)
    if ago < 10:
        return "just now"
    if ago < 60:
        return f"{int(ago)}s ago"
    if ago < 3600:
        return f"{int(ago // 60)}m ago"
    if ago < 86400:
        return f"{int(ago // 3600)}h ago"
    if ago < 7 * 86400:
        return f"{int(ago // 86400)}d ago"
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")


def format_metric(value: float | None) -> str:
    """Return a metric value with about five significant digits (``"-"`` when missing).

    Example:
        >>> format_metric(0.123456789)
        '0.12346'
        >>> format_metric(3.0)
        '3'
    """
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.5g}"


def one_line(text: str, limit: int = 80) -> str:
    """Return ``text`` on one line, cut to ``limit`` characters with an ellipsis.

    Example:
        >>> one_line("a\\nb", 10)
        'a ⏎ b'
    """
    flat = text.replace("\r\n", "\n").replace("\n", " ⏎ ")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def dump_json(data: Any) -> str:
    """Return ``data`` as indented JSON; NaN and inf must already be strings."""
    return json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False)


def same_metric(a: float | None, b: float | None) -> bool:
    """Return True if two metric values are equal, NaN counting as equal to NaN."""
    if a is None or b is None:
        return a is b
    if math.isnan(a) and math.isnan(b):
        return True
    return a == b
