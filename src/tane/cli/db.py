"""``tane db``: show or upgrade the schema of a database store."""

from __future__ import annotations

import click

from tane.cli._context import state
from tane.errors import StoreError

_STORE_HELP = (
    "Store to work on (a folder, sqlite:///file.db or postgresql://...); "
    "default: the store of `tane --store`, TANE_STORE or the project."
)


@click.group()
def db() -> None:
    """Show or upgrade the schema of a database store.

    Local stores (a folder or a SQLite file) are upgraded automatically when
    opened; PostgreSQL stores are upgraded only by `tane db upgrade`.
    """


def _store_uri(store: str | None) -> str:
    return store or state().store_uri


def database_url(uri: str) -> tuple[str, str | None]:
    """Return the database URL of a store URI and, for a folder store, its artifact folder."""
    if uri.split("://", 1)[0].lower() in ("http", "https"):
        raise StoreError(
            f"store {uri} is a tane server: it upgrades its own database; "
            "run `tane db upgrade` where the server runs, against its database"
        )
    from tane.tracking.stores import database_location

    return database_location(uri)


def read_revision(db_url: str) -> str | None:
    """Return the schema revision of a store database, None if it has no tane schema yet."""
    from tane.tracking.stores.sql import schema_revision

    return schema_revision(db_url)


def _head() -> str:
    from tane.tracking.stores._common import SCHEMA_REVISION

    return SCHEMA_REVISION


@db.command("current")
@click.option("--store", metavar="URI", help=_STORE_HELP)
def current(store: str | None) -> None:
    """Print the schema revision of the store and whether it is up to date."""
    uri = _store_uri(store)
    url, _ = database_url(uri)
    revision = read_revision(url)
    head = _head()
    if revision is None:
        raise StoreError(f"there is no tane store at {uri} yet: `tane db upgrade` creates one")
    from tane.tracking.stores._common import KNOWN_REVISIONS

    if revision == head:
        click.echo(f"{revision} (up to date)")
    elif revision in KNOWN_REVISIONS:
        click.echo(f"{revision} (this tane needs {head}: run `tane db upgrade`)")
    else:
        click.echo(
            f"{revision} (newer than this tane, which knows up to {head}: pip install -U tane)"
        )


@db.command("upgrade")
@click.option("--store", metavar="URI", help=_STORE_HELP)
def upgrade(store: str | None) -> None:
    """Apply pending schema migrations to the store (creating it if new)."""
    from tane.tracking.stores._common import display_uri
    from tane.tracking.stores.sql import SqlStore

    uri = _store_uri(store)
    url, artifact_root = database_url(uri)
    before = read_revision(url)
    SqlStore(url, artifact_root, upgrade=True).close()
    after = read_revision(url)
    uri = display_uri(uri)  # what is echoed: no database password in a CI log
    if before is None:
        click.echo(f"Created the store {uri} at schema revision {after}.")
    elif before == after:
        click.echo(f"The store {uri} is already at the latest schema revision {after}.")
    else:
        click.echo(f"Upgraded the store {uri} from schema revision {before} to {after}.")
