"""``tane experiments``: list and create experiments."""

from __future__ import annotations

import click

from tane.cli._context import NoStore, state
from tane.cli._format import dump_json


@click.group()
def experiments() -> None:
    """List and create experiments (named groups of runs)."""


@experiments.command("ls")
@click.option("--all", "show_all", is_flag=True, help="Include deleted experiments.")
@click.option("--json", "as_json", is_flag=True, help="Print the experiments as a JSON array.")
def ls(show_all: bool, as_json: bool) -> None:
    """List experiments with their number of runs and last activity."""
    cli = state()
    try:
        found = cli.client(create=False).list_experiments(include_deleted=show_all)
    except NoStore:
        found = []
    if as_json:
        click.echo(
            dump_json(
                [
                    {
                        "id": e.id,
                        "name": e.name,
                        "runs": e.run_count,
                        "created": e.created,
                        "last_activity": e.last_activity,
                        "tags": e.tags,
                        "deleted": e.deleted,
                    }
                    for e in found
                ]
            )
        )
        return
    if not found:
        click.echo(
            f"No experiments yet in {cli.store_uri}: `tane demo` records a few runs, "
            "`tane experiments create NAME` makes an empty one."
        )
        return
    from rich.table import Table

    from tane.cli._format import relative_time
    from tane.cli._render import console

    table = Table(header_style="bold", box=None, pad_edge=False)
    table.add_column("Name", style="bold")
    table.add_column("ID", justify="right", style="cyan")
    table.add_column("Runs", justify="right")
    table.add_column("Last activity")
    for exp in found:
        name = exp.name + (" (deleted)" if exp.deleted else "")
        table.add_row(name, exp.id, str(exp.run_count), relative_time(exp.last_activity))
    console().print(table)


@experiments.command("create")
@click.argument("name")
def create(name: str) -> None:
    """Create an empty experiment called NAME."""
    import shlex

    exp = state().client().create_experiment(name)
    click.echo(
        f"Created experiment {exp.name!r} (id {exp.id}). Runs join it with "
        f"tane.start_run(experiment={exp.name!r}) or "
        f"TANE_EXPERIMENT={shlex.quote(exp.name)}."
    )
