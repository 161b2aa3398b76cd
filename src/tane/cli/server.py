"""``tane server``: serve a store over HTTP for a team (API under ``/api/v1``)."""

from __future__ import annotations

import ipaddress
import os

import click

from tane.cli._context import state


@click.command()
@click.option(
    "--store",
    "store_option",
    metavar="URI",
    help="Store to serve: a folder, sqlite:///file.db or postgresql://... "
    "Default: the global `tane --store`, else TANE_STORE, else the project's store.",
)
@click.option(
    "--artifacts",
    metavar="URL",
    default=None,
    help="Where a new store keeps artifacts: any fsspec URL (s3://bucket/tane, gs://..., "
    "a folder). Recorded when the store is created; clients never need its credentials.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=5000, show_default=True, type=click.IntRange(0, 65535), help="Port."
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes (each opens its own connections to the store).",
)
@click.option(
    "--auth",
    "auth",
    is_flag=True,
    help="Require credentials (API tokens, passwords, browser login) and check "
    "per-experiment permissions. Users: `tane users add`.",
)
@click.option(
    "--default-permission",
    type=click.Choice(["none", "read", "edit"]),
    default="read",
    show_default=True,
    help="With --auth: what users may do on experiments nobody granted them anything on.",
)
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False), help="TLS key (PEM).")
@click.option(
    "--ssl-certfile", type=click.Path(exists=True, dir_okay=False), help="TLS certificate (PEM)."
)
def server(
    store_option: str | None,
    artifacts: str | None,
    host: str,
    port: int,
    workers: int,
    auth: bool,
    default_permission: str,
    ssl_keyfile: str | None,
    ssl_certfile: str | None,
) -> None:
    """Serve a store over HTTP: runs, metrics and artifacts at one address.

    The REST API lives under /api/v1 (its OpenAPI spec at
    /api/v1/openapi.json); GET /health answers while the process is up and
    GET /ready once the store can be reached. Artifacts are proxied: clients
    need no cloud credentials. With --auth every request needs a token
    (TANE_TOKEN), a password or a browser login; add --ssl-keyfile and
    --ssl-certfile to serve HTTPS.
    """
    from tane.cli import CliError
    from tane.server.app import SETTINGS_ENV

    if bool(ssl_keyfile) != bool(ssl_certfile):
        raise CliError("TLS needs both --ssl-keyfile and --ssl-certfile")
    uri = store_option or state().store_uri
    settings = {
        "store": uri,
        "artifacts": artifacts,
        "auth": auth,
        "default_permission": default_permission,
    }
    scheme = "https" if ssl_certfile else "http"
    _warn(auth, scheme, host, uri)
    if auth:
        _check_users(uri, artifacts)
    shown = _shown(uri)
    click.echo(f"tane server: serving store {shown} at {scheme}://{host}:{port}/api/v1", err=True)
    import json

    from tane.server import serving

    # Every worker builds the app from the same settings, passed in the environment.
    os.environ[SETTINGS_ENV] = json.dumps(settings)
    serving.serve(workers, host=host, port=port, ssl_keyfile=ssl_keyfile, ssl_certfile=ssl_certfile)


def _shown(uri: str) -> str:
    """The store URI as the server's log shows it: without a database password."""
    from tane.tracking.stores._common import display_uri

    return display_uri(uri)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _warn(auth: bool, scheme: str, host: str, uri: str) -> None:
    if _loopback(host):
        return
    if not auth:
        click.secho(
            f"Warning: anyone who can reach {host} may read and change every run of "
            f"{_shown(uri)}: "
            "add --auth (and `tane users add NAME --admin`).",
            fg="yellow",
            err=True,
        )
    elif scheme == "http":
        click.secho(
            "Warning: tokens and passwords travel in clear over plain HTTP: add "
            "--ssl-keyfile/--ssl-certfile, or put a TLS proxy in front.",
            fg="yellow",
            err=True,
        )


def _check_users(uri: str, artifacts: str | None) -> None:
    """Open the store (creating or migrating a local one) and say if nobody can log in."""
    from tane.cli.db import database_url
    from tane.server.users import AuthStore
    from tane.tracking.stores import open_store

    url, _ = database_url(uri)
    open_store(uri, artifacts)
    users = AuthStore(url)
    try:
        count = users.count_users()
    finally:
        users.close()
    if count == 0:
        click.secho(
            "Warning: --auth is on and there are no users yet, so nobody can log in: "
            f"tane users add NAME --admin --store {_shown(uri)}",
            fg="yellow",
            err=True,
        )


@click.command()
@click.option(
    "--store",
    "store_option",
    metavar="URI",
    help="Store to show (default: the global `tane --store`, else TANE_STORE, else the "
    "project's store).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=5000, show_default=True, type=click.IntRange(0, 65535), help="Port."
)
@click.option("--open/--no-open", "open_browser", default=False, help="Open it in a browser.")
def ui(store_option: str | None, host: str, port: int, open_browser: bool) -> None:
    """Show the store's runs, pipelines and sweeps in the web UI, for one person.

    The same app as `tane server` (UI and REST API), on the local store, without
    auth: it listens on 127.0.0.1 unless --host says otherwise.
    """
    import json

    from tane.server import serving
    from tane.server.app import SETTINGS_ENV

    uri = store_option or state().store_uri
    _warn(False, "http", host, uri)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - a display name
    url = f"http://{shown}:{port}/"
    click.echo(f"tane ui: {url} (store {uri}); Ctrl+C stops it", err=True)
    os.environ[SETTINGS_ENV] = json.dumps({"store": uri, "auth": False})
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    serving.serve(1, host=host, port=port, log_level="warning")
