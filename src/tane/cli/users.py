"""``tane users`` and ``tane tokens``: who may use a server started with ``--auth``.

Both work on the server's database directly (``--store``, as ``tane db``), so
the first admin can be made before the server ever runs.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from tane.cli._context import state

if TYPE_CHECKING:
    from tane.server.users import AuthStore

_STORE_HELP = (
    "The server's store (a folder, sqlite:///file.db or postgresql://...); "
    "default: the store of `tane --store`, TANE_STORE or the project."
)


def _users(store: str | None) -> AuthStore:
    """Open the user tables of the store (creating or migrating a local store first)."""
    from tane.cli.db import database_url
    from tane.server.users import AuthStore
    from tane.tracking.stores import open_store

    uri = store or state().store_uri
    if uri.split("://", 1)[0].lower() in ("http", "https"):
        from tane.errors import StoreError

        raise StoreError(
            f"{uri} is a tane server: manage its users where it runs, with --store set to "
            "its database, or through its API (/api/v1/users, /api/v1/tokens)"
        )
    url, _ = database_url(uri)
    open_store(uri)  # a local store is created or migrated; PostgreSQL says to upgrade
    return AuthStore(url)


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    from tane.cli._format import relative_time

    return relative_time(ms)


def _read_password(prompt: bool, from_stdin: bool) -> str | None:
    if from_stdin:
        text = sys.stdin.readline().rstrip("\n")
        return text or None
    if prompt:
        value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return value
    return None


@click.group()
def users() -> None:
    """Add, list and remove the users of a server run with --auth; grant permissions.

    Admins may do everything; other users hold read, edit or manage on each
    experiment (granted here, over the API by a manager, or by creating it).
    """


@users.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Make the user an admin (may do everything).")
@click.option(
    "--password/--no-password",
    "ask",
    default=None,
    help="Prompt for a password for browser login (default: prompt when on a terminal). "
    "Without one, the user signs in with API tokens only.",
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@click.option("--store", metavar="URI", help=_STORE_HELP)
def add(name: str, admin: bool, ask: bool | None, password_stdin: bool, store: str | None) -> None:
    """Create the user NAME."""
    prompt = sys.stdin.isatty() if ask is None else ask
    password = _read_password(prompt and not password_stdin, password_stdin)
    auth = _users(store)
    try:
        user = auth.add_user(name, "admin" if admin else "user", password)
    finally:
        auth.close()
    login = "password and tokens" if user.has_password else "tokens only"
    click.echo(f"Created {user.role} {user.name} ({login}).")
    click.echo(f"Give them a token: tane tokens create --user {user.name}")


@users.command("ls")
@click.option("--store", metavar="URI", help=_STORE_HELP)
def ls(store: str | None) -> None:
    """List users with their role."""
    auth = _users(store)
    try:
        found = auth.list_users()
    finally:
        auth.close()
    if not found:
        click.echo("No users yet: tane users add NAME --admin")
        return
    from rich.table import Table

    from tane.cli._render import console

    table = Table(header_style="bold", box=None, pad_edge=False)
    for column in ("User", "Role", "Password", "Created"):
        table.add_column(column)
    for user in found:
        table.add_row(
            user.name, user.role, "yes" if user.has_password else "no", _when(user.created)
        )
    console().print(table)


@users.command("rm")
@click.argument("name")
@click.option("--store", metavar="URI", help=_STORE_HELP)
def rm(name: str, store: str | None) -> None:
    """Remove the user NAME with their tokens, sessions and permissions."""
    auth = _users(store)
    try:
        auth.remove_user(name)
    finally:
        auth.close()
    click.echo(f"Removed user {name}.")


@users.command("passwd")
@click.argument("name")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@click.option("--store", metavar="URI", help=_STORE_HELP)
def passwd(name: str, password_stdin: bool, store: str | None) -> None:
    """Set the password of NAME (ends their browser sessions)."""
    password = _read_password(True, password_stdin)
    if not password:
        from tane.cli import CliError

        raise CliError("no password given")
    auth = _users(store)
    try:
        auth.set_password(name, password)
    finally:
        auth.close()
    click.echo(f"Password of {name} changed.")


@users.command("grant")
@click.argument("name")
@click.option("--experiment", "experiment", required=True, help="Experiment name or id.")
@click.option(
    "--level",
    type=click.Choice(["read", "edit", "manage"]),
    required=True,
    help="read: see runs; edit: also log and change them; manage: also grant others.",
)
@click.option("--store", metavar="URI", help=_STORE_HELP)
def grant(name: str, experiment: str, level: str, store: str | None) -> None:
    """Give NAME a permission on an experiment (replacing what they had)."""
    from tane.tracking.stores import open_store

    uri = store or state().store_uri
    found = open_store(uri).get_experiment(experiment)
    auth = _users(store)
    try:
        auth.grant(name, found.id, level)  # type: ignore[arg-type]
    finally:
        auth.close()
    click.echo(f"{name} may now {level} experiment {found.name} ({found.id}).")


@users.command("revoke")
@click.argument("name")
@click.option("--experiment", "experiment", required=True, help="Experiment name or id.")
@click.option("--store", metavar="URI", help=_STORE_HELP)
def revoke(name: str, experiment: str, store: str | None) -> None:
    """Take back what NAME was granted on an experiment."""
    from tane.tracking.stores import open_store

    uri = store or state().store_uri
    found = open_store(uri).get_experiment(experiment)
    auth = _users(store)
    try:
        auth.revoke(name, found.id)
    finally:
        auth.close()
    click.echo(f"{name} holds nothing on experiment {found.name} beyond the server's default.")


@click.group()
def tokens() -> None:
    """Create, list and revoke API tokens (TANE_TOKEN) of a server run with --auth."""


@tokens.command("create")
@click.option("--user", "user", required=True, help="Whose token it is.")
@click.option("--name", default="token", show_default=True, help="A label, e.g. 'laptop'.")
@click.option(
    "--expires",
    default="90d",
    show_default=True,
    help="How long it lasts: 30d, 12h, 90m, 2w ... or never.",
)
@click.option("--store", metavar="URI", help=_STORE_HELP)
def create(user: str, name: str, expires: str, store: str | None) -> None:
    """Create a token and print it (once: only its hash is kept)."""
    from tane.server.users import parse_duration

    expires_in = parse_duration(expires)
    auth = _users(store)
    try:
        info, secret = auth.create_token(user, name, expires_in)
    finally:
        auth.close()
    click.echo(secret)
    until = "never expires" if info.expires is None else f"expires {_when(info.expires)}"
    click.echo(
        f"Token {info.id} for {info.user} ({until}). It is shown only now: "
        "export TANE_TOKEN=<it> where you log runs.",
        err=True,
    )


@tokens.command("ls")
@click.option("--user", "user", default=None, help="Only this user's tokens.")
@click.option("--store", metavar="URI", help=_STORE_HELP)
def tokens_ls(user: str | None, store: str | None) -> None:
    """List tokens (never their secrets)."""
    auth = _users(store)
    try:
        found = auth.list_tokens(user)
    finally:
        auth.close()
    if not found:
        click.echo("No tokens: tane tokens create --user NAME")
        return
    from rich.table import Table

    from tane.cli._render import console

    table = Table(header_style="bold", box=None, pad_edge=False)
    for column in ("ID", "User", "Name", "State", "Created", "Expires", "Last used"):
        table.add_column(column)
    for t in found:
        table.add_row(
            t.id, t.user, t.name, t.state, _when(t.created), _when(t.expires), _when(t.last_used)
        )
    console().print(table)


@tokens.command("revoke")
@click.argument("token_id")
@click.option("--store", metavar="URI", help=_STORE_HELP)
def tokens_revoke(token_id: str, store: str | None) -> None:
    """Revoke the token TOKEN_ID (refused from the next request on)."""
    auth = _users(store)
    try:
        info = auth.revoke_token(token_id)
    finally:
        auth.close()
    click.echo(f"Revoked token {info.id} of {info.user}.")
