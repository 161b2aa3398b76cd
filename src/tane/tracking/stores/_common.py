"""What both SQL stores share without importing SQLAlchemy: names, checks, URLs, errors."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from tane.errors import (
    InvalidInput,
    ParamConflict,
    RunNotFound,
    SchemaVersionError,
    StoreError,
    StoreUnavailable,
)
from tane.tracking.values import check_text

#: The Alembic revision this code writes. A test checks it is the migration head.
SCHEMA_REVISION = "0003"
#: Every revision this code can open (older ones are migrated forward).
KNOWN_REVISIONS = ("0001", "0002", "0003")

KEY_LENGTH = 250

#: How long a SQLite writer waits for another process's transaction.
SQLITE_BUSY_MS = 60_000


def id_number(text: str) -> int | None:
    """The id ``text`` writes in ASCII digits (fitting in 64 bits), else None: a name.

    ``str.isdigit`` alone is not enough: ``"²"`` and ``"٣"`` are digits to it, and
    ``int()`` refuses the first and reads the second as 3.

    >>> id_number("12"), id_number("²"), id_number("٣"), id_number("9" * 20)
    (12, None, None, None)
    """
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None


def now_ms() -> int:
    return int(time.time() * 1000)


def normalize_db_url(url: str) -> str:
    """Read ``postgresql://`` and ``postgres://`` as psycopg 3 URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def display_uri(uri: str) -> str:
    """Return ``uri`` as messages and logs show it: a password in it replaced by ``***``.

    >>> display_uri("postgresql://tane:s3cret@db:5432/tane")
    'postgresql://tane:***@db:5432/tane'
    >>> display_uri("/home/ann/project/.tane")
    '/home/ann/project/.tane'
    """
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority = rest[:end]
    if "@" not in authority:
        return uri
    userinfo, host = authority.rsplit("@", 1)
    if ":" not in userinfo:
        return uri
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}{rest[end:]}"


def newer_schema(uri: str, revision: str) -> SchemaVersionError:
    """The error for a store written by a newer tane: both revisions, and the fix."""
    return SchemaVersionError(
        f"the store {display_uri(uri)} has schema revision {revision!r}, written by a newer "
        f"tane than this one, which knows revisions up to {SCHEMA_REVISION!r}; upgrade tane "
        "(pip install -U tane) to open it. The store was left as it is"
    )


def sqlite_path(url: str) -> str | None:
    """Return the file of a ``sqlite:///`` URL, None for an in-memory database."""
    rest = url.split("://", 1)[1] if "://" in url else url
    rest = rest[1:] if rest.startswith("/") else rest
    rest = rest.split("?", 1)[0]
    if not rest or rest == ":memory:":
        return None
    return rest


def default_artifact_root(db_url: str) -> str:
    """The artifact root of a new store: a folder beside a SQLite file, else ./tane-artifacts."""
    path = sqlite_path(db_url) if db_url.startswith("sqlite") else None
    if path is not None:
        return str(Path(path).resolve().parent / "artifacts")
    env = os.environ.get("TANE_ARTIFACTS")
    if env:
        return env
    return str(Path.cwd() / "tane-artifacts")


def sqlite_read_only(path: str) -> str:
    """The sqlite3 URI that reads the store file ``path`` without changing anything.

    Without a write-ahead log beside it the file holds everything, and is read as
    immutable: no ``-wal`` or ``-shm`` file is created next to it either.
    """
    from urllib.parse import quote

    mode = "mode=ro" if Path(path + "-wal").exists() else "immutable=1"
    # Quoted: a '?', '#' or '%' in a folder name is part of the path, not of the URI.
    return f"file:{quote(path, safe='/')}?{mode}"


def check_run_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"run name {name!r} is empty: give it a name, or leave it out")
    if len(name) > KEY_LENGTH:
        raise InvalidInput(f"run name has {len(name)} characters: use at most {KEY_LENGTH}")
    return check_text(name, "run name")


def check_experiment_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"experiment name {name!r} is empty: give it a name")
    if len(name) > 500:
        raise InvalidInput(f"experiment name has {len(name)} characters: use at most 500")
    return check_text(name, "experiment name")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def refused_value(uri: str, exc: Exception) -> InvalidInput:
    """The error for a value the database cannot hold, which the caller must change.

    ``exc`` is what the driver raised: OverflowError (an integer beyond 64 bits),
    UnicodeEncodeError (text with a lone surrogate) or a DataError (PostgreSQL:
    a NUL character, a number or text too large for its column).
    """
    if isinstance(exc, OverflowError):
        return InvalidInput(f"store {uri} refused a value: {exc}; integers must fit in 64 bits")
    if isinstance(exc, UnicodeEncodeError):
        return InvalidInput(
            f"store {uri} refused a value: {exc.object[exc.start : exc.end]!r} in "
            f"{exc.object[:50]!r} is not Unicode text (a lone surrogate)"
        )
    text = str(getattr(exc, "orig", None) or exc)
    return InvalidInput(f"store {uri} refused a value: {' '.join(text.split())}")


def sqlite_error(uri: str, text: str, *, operational: bool) -> StoreError:
    """The store error for a SQLite driver error, from its message.

    ``operational`` is True for sqlite3.OperationalError (locked, disk full,
    I/O): those are StoreUnavailable, worth retrying later.
    """
    text = " ".join(text.split())
    lower = text.lower()
    if "file is not a database" in lower or "malformed" in lower:
        return StoreError(
            f"the store database {uri} is corrupt or not a tane store ({text}); "
            "move the file away to start a new store, or point TANE_STORE elsewhere"
        )
    if "disk" in lower and "full" in lower:
        return StoreUnavailable(
            f"cannot write to {uri}: the disk is full ({text}); free space and the "
            "queued points are written on the next try"
        )
    if operational and ("locked" in lower or "busy" in lower):
        return StoreUnavailable(
            f"the store {uri} stayed locked by another process for "
            f"{SQLITE_BUSY_MS // 1000} s; retry, or look for a process stuck holding it"
        )
    if operational:
        return StoreUnavailable(f"store {uri} is unavailable: {text}")
    return StoreError(f"store {uri} refused the data: {text}")


def param_conflict(run_id: str, key: str, old: str, new: str) -> ParamConflict:
    return ParamConflict(
        f"param {key!r} of run {run_id} is already {old!r} and cannot become "
        f"{new!r}: params record what a run started with. Start a new run for "
        "the new value, or log a value that changes as a metric or tag"
    )


def deleted_run(run_id: str) -> RunNotFound:
    return RunNotFound(
        f"run {run_id} is deleted; restore it (`tane runs restore {run_id}`) before logging to it"
    )


def run_updates(
    *,
    status: Any = None,
    end_time: int | None = None,
    name: str | None = None,
    note: str | None = None,
    host: str | None = None,
    pid: int | None = None,
) -> dict[str, Any]:
    """The columns ``update_run`` sets (the same for every SQL store): empty for none."""
    from tane.tracking.entities import RunStatus

    values: dict[str, Any] = {}
    if host is not None:
        values["host"] = host
    if pid is not None:
        values["pid"] = pid
    if status is not None:
        values["status"] = RunStatus.parse(status).value
        if status is RunStatus.RUNNING:
            values["end_time"] = None
            values["heartbeat"] = now_ms()
    if end_time is not None:
        values["end_time"] = end_time
    if name is not None:
        values["name"] = check_run_name(name)
    if note is not None:
        values["note"] = check_text(note, "note")
    return values


def check_model_name(name: str, what: str = "model name") -> None:
    """Refuse registry names that could not be written in ``models:/<name>@<alias>``."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{what} is empty: give it a name, such as 'iris-classifier'")
    if len(name) > KEY_LENGTH:
        raise InvalidInput(f"{what} {name[:40]!r}... is longer than {KEY_LENGTH} characters")
    bad = [c for c in ("/", "@", ":") if c in name] + [c for c in name if ord(c) < 32]
    if bad:
        raise InvalidInput(
            f"{what} {name!r} contains {bad[0]!r}: use letters, digits, '.', '_' and '-' "
            "(it is written in models:/<name>@<alias>)"
        )
