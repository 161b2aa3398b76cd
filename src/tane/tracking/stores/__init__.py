"""Opening a store from its URI."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from tane.errors import StoreError

if TYPE_CHECKING:
    from tane.tracking.stores.base import Store

_cache: dict[tuple[str, int], Store] = {}
_cache_lock = threading.Lock()


def open_store(uri: str, artifact_root: str | None = None) -> Store:
    """Open (creating if needed) the store named by ``uri``.

    ``uri`` is a folder (a local store: ``tane.db`` and ``artifacts/`` in it),
    ``sqlite:///file.db``, ``postgresql://...`` or a tane server
    (``http://host:port``, ``https://...``). Stores are cached per process.
    """
    key = (uri, os.getpid())
    with _cache_lock:
        store = _cache.get(key)
        if store is None:
            store = _open(uri, artifact_root)
            _cache[key] = store
        return store


def database_location(uri: str) -> tuple[str, str | None]:
    """Return the database URL of a store URI and, for a folder store, its artifact folder.

    A server (``http(s)://``) is its own location: the URL comes back unchanged.

    Raises:
        StoreError: The URI names an unknown kind of store, or a file where a
            folder was expected.
    """
    scheme = _scheme(uri)
    if scheme in ("http", "https"):
        # A server: its database lives behind it, addressed by the URL itself.
        return uri, None
    if scheme.startswith(("sqlite", "postgres")):
        return uri, None
    if scheme == "file":
        uri = uri[len("file://") :]
    elif scheme:
        raise StoreError(
            f"store {uri}: unknown scheme {scheme!r}; a store is a folder, sqlite:///file.db "
            "postgresql://user@host/db or http://host:port (a tane server)"
        )
    folder = Path(uri).expanduser().resolve()
    if "?" in str(folder):
        # A sqlite:/// URL ends its path at '?': the database would be another file.
        raise StoreError(
            f"store folder {folder} has a '?' in its path, which a SQLite URL cannot hold: "
            "rename the folder, or point TANE_STORE elsewhere"
        )
    if folder.exists() and not folder.is_dir():
        raise StoreError(
            f"store {folder} is a file, not a folder: for a SQLite file use sqlite:///{folder}"
        )
    return f"sqlite:///{folder / 'tane.db'}", str(folder / "artifacts")


def _scheme(uri: str) -> str:
    return uri.split("://", 1)[0].lower() if "://" in uri else ""


def _open(uri: str, artifact_root: str | None) -> Store:
    if _scheme(uri) in ("http", "https"):
        from tane.tracking.stores.rest import RestStore

        return RestStore(uri, token=os.environ.get("TANE_TOKEN") or None)
    db_url, folder_artifacts = database_location(uri)
    if db_url.startswith("sqlite:") and "?" not in db_url:
        # An existing local store records through sqlite3 alone (no SQLAlchemy
        # import at start-up); SqlStore creates and migrates.
        from tane.tracking.stores._common import sqlite_path
        from tane.tracking.stores.sqlite import open_sqlite

        path = sqlite_path(db_url)
        fast = open_sqlite(db_url, path) if path is not None else None
        if fast is not None:
            return fast
    from tane.tracking.stores.sql import SqlStore

    created = SqlStore(db_url, artifact_root or folder_artifacts)
    if db_url.startswith("sqlite:") and "?" not in db_url:
        # Created (or migrated) now: record through sqlite3 from here on too,
        # with this SqlStore serving what the sqlite3 path hands over.
        from tane.tracking.stores._common import sqlite_path
        from tane.tracking.stores.sqlite import open_sqlite

        path = sqlite_path(db_url)
        fast = open_sqlite(db_url, path) if path is not None else None
        if fast is not None:
            fast._full = created
            return fast
    return created


def clear_cache() -> None:
    """Close every cached store (tests and forked children use this)."""
    with _cache_lock:
        for store in _cache.values():
            store.close()
        _cache.clear()


def _after_fork() -> None:
    # A forked child must not share pooled connections with its parent.
    global _cache_lock
    _cache_lock = threading.Lock()
    for store in list(_cache.values()):
        after = getattr(store, "after_fork", None)
        if after is not None:
            after()
    _cache.clear()


os.register_at_fork(after_in_child=_after_fork)
