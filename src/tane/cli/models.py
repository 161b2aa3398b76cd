"""``tane models``: the model registry (named models, numbered versions, aliases)."""

from __future__ import annotations

import click

from tane.cli._context import NoStore, state


@click.group()
def models() -> None:
    """List registered models, register versions and move aliases.

    A version points at a logged model (runs:/<run id>/model); an alias such
    as champion names a version, and tane.load_model("models:/NAME@champion")
    loads whichever version it names.
    """


@models.command("ls")
@click.argument("name", required=False)
def ls(name: str | None) -> None:
    """List registered models, or the versions of NAME."""
    from rich.table import Table

    from tane.cli._format import relative_time
    from tane.cli._render import console

    try:
        store = state().client(create=False).store
    except NoStore:
        click.echo("No registered models yet: tane models register runs:/<run id>/model NAME")
        return
    table = Table(header_style="bold", box=None, pad_edge=False)
    if name is None:
        found = store.list_registered_models()
        if not found:
            click.echo("No registered models yet: tane models register runs:/<run id>/model NAME")
            return
        for column in ("Model", "Latest", "Aliases", "Updated"):
            table.add_column(column)
        for model in found:
            aliases = ", ".join(f"{a}=v{v}" for a, v in model.aliases.items()) or "-"
            latest = f"v{model.latest_version}" if model.latest_version else "-"
            table.add_row(model.name, latest, aliases, relative_time(model.updated))
    else:
        for column in ("Version", "Aliases", "Source", "Run", "Registered"):
            table.add_column(column)
        for version in store.list_model_versions(name):
            table.add_row(
                f"v{version.version}",
                ", ".join(version.aliases) or "-",
                version.source,
                (version.run_id or "-")[:8],
                relative_time(version.created),
            )
    console().print(table)


@models.command("register")
@click.argument("source")
@click.argument("name")
@click.option("--description", default="", help="What this version is.")
def register(source: str, name: str, description: str) -> None:
    """Register SOURCE (runs:/<run id>/model; an id prefix is enough) as a new version of NAME."""
    client = state().client(create=False)
    run_id = None
    if source.startswith("runs:/"):
        given, _, path = source[len("runs:/") :].partition("/")
        run_id = client.resolve_run_id(given)
        source = f"runs:/{run_id}/{path or 'model'}"
    made = client.store.register_model(name, source, run_id, description)
    click.echo(f"Registered {made.name} v{made.version} ({made.source}): {made.uri}")


@models.command("alias")
@click.argument("name")
@click.argument("alias")
@click.argument("version", type=click.IntRange(min=1), required=False)
@click.option("--remove", is_flag=True, help="Remove the alias instead.")
def alias(name: str, alias: str, version: int | None, remove: bool) -> None:
    """Point ALIAS of model NAME at VERSION (e.g. tane models alias iris champion 3)."""
    from tane.cli import CliError

    if remove == (version is not None):
        raise CliError("give a VERSION to point the alias at, or --remove (not both)")
    store = state().client(create=False).store
    store.set_model_alias(name, alias, None if remove else version)
    if remove:
        click.echo(f"Removed alias {alias} of {name}.")
    else:
        click.echo(f"{name}@{alias} is now v{version}: models:/{name}@{alias}")
