"""What every command shares: the chosen store, opened once and only when needed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from tane.errors import StoreError

if TYPE_CHECKING:
    from tane.tracking.client import Client


class NoStore(StoreError):
    """The store a read-only command was pointed at does not exist yet."""


class CliState:
    """The ``--store`` option of ``tane`` and the client opened on it.

    Args:
        store_option: The ``--store`` value (or TANE_STORE), None for the default.
    """

    def __init__(self, store_option: str | None = None) -> None:
        self.store_option = store_option
        self._client: Client | None = None
        self._uri: str | None = None

    @property
    def store_uri(self) -> str:
        """The store URI in use: ``--store``, else TANE_STORE, else the project's store."""
        if self._uri is None:
            from tane.project import resolve_store_uri

            self._uri = resolve_store_uri(self.store_option)
        return self._uri

    def client(self, *, create: bool = True) -> Client:
        """Return a client on the store.

        Args:
            create: Create a local store that does not exist yet. Commands that
                only read pass False, so that looking does not leave a ``.tane/``
                folder behind.

        Raises:
            NoStore: ``create`` is False and the local store does not exist.
        """
        if self._client is None:
            uri = self.store_uri
            if not create and not store_exists(uri):
                raise NoStore(
                    f"there is no tane store at {uri} yet: record a run first (`tane demo` "
                    "records a few), or point --store / TANE_STORE at an existing store"
                )
            from tane.tracking.client import Client

            self._client = Client(uri)
        return self._client


def store_exists(uri: str) -> bool:
    """Return False if ``uri`` names a local store (folder or SQLite file) that is missing.

    Database servers and remote stores are assumed to exist.
    """
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme.startswith("sqlite"):
        from tane.tracking.stores._common import sqlite_path

        path = sqlite_path(uri)
        return path is None or Path(path).is_file()
    if scheme == "file":
        uri = uri[len("file://") :]
    elif scheme:
        return True
    return (Path(uri).expanduser() / "tane.db").is_file()


def state() -> CliState:
    """Return the CliState of the running command (a default one outside ``tane``)."""
    ctx = click.get_current_context()
    found = ctx.find_object(CliState)
    if found is None:
        found = CliState()
        ctx.obj = found
    return found
