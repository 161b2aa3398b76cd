"""Facts about the installed packages, remembered between processes.

Listing installed distributions (their versions, their entry points) reads every
package's metadata: tens of milliseconds, paid by every run. The answers are
kept in the user's cache folder (``$XDG_CACHE_HOME/tane``, else ``~/.cache/tane``),
keyed by the interpreter and the modification times of the folders on
``sys.path``: installing, upgrading or removing a package changes its folder's.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path


def cache_home() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tane"


def path_state() -> list[tuple[str, int]]:
    """Each folder on ``sys.path`` with its modification time."""
    state = []
    for entry in sys.path:
        try:
            state.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            continue
    return state


def remembered(name: str, compute: Callable[[], bytes]) -> bytes:
    """``compute()``, or what it gave last time for this interpreter and these packages."""
    key = hashlib.sha256(repr((sys.executable, sys.version, path_state())).encode()).hexdigest()
    memo = cache_home() / f"{name}-{key[:24]}"
    try:
        return memo.read_bytes()
    except OSError:
        pass
    data = compute()
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f"{memo.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, memo)
    except OSError:
        pass  # a read-only home: computed again next time
    return data
