"""``tane server``: serve a store over HTTP for a team (API under ``/api/v1``)."""

from __future__ import annotations

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
def server(store_option: str | None, host: str, port: int, workers: int) -> None:
    """Serve a store over HTTP: runs, metrics and artifacts at one address.

    The REST API lives under /api/v1 (its OpenAPI spec at
    /api/v1/openapi.json); GET /health answers while the process is up and
    GET /ready once the store can be reached. There is no authentication
    yet: listen on 127.0.0.1 or behind a proxy that checks who is calling.
    """
    uri = store_option or state().store_uri
    import uvicorn

    from tane.server.app import STORE_ENV, create_app

    click.echo(f"tane server: serving store {uri} at http://{host}:{port}/api/v1", err=True)
    if workers == 1:
        uvicorn.run(create_app(uri), host=host, port=port)
        return
    # Several workers each import the app: they find the store in the environment.
    os.environ[STORE_ENV] = uri
    uvicorn.run("tane.server.app:app_from_env", factory=True, host=host, port=port, workers=workers)
