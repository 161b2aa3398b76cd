"""``tane gc``: remove deleted runs and their artifacts for good."""

from __future__ import annotations

import sys

import click

from tane.cli import CliError
from tane.cli._context import NoStore, state
from tane.cli._format import human_bytes, short_id


def stdin_is_interactive() -> bool:
    """Return True if a person can answer a question on stdin."""
    return sys.stdin.isatty()


@click.command()
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
def gc(yes: bool, dry_run: bool) -> None:
    """Remove deleted runs and their artifacts for good, and free their space.

    `tane runs rm` only marks runs as deleted (`tane runs restore` brings them
    back); gc removes them from the database and the artifact store. It lists
    them first and asks for confirmation unless --yes is given.
    """
    cli = state()
    try:
        client = cli.client(create=False)
    except NoStore:
        click.echo(f"Nothing to remove: there is no store at {cli.store_uri}.")
        return
    deleted = []
    token: str | None = None
    while True:
        page = client.search_runs(view="deleted", max_results=1000, page_token=token)
        deleted.extend(page)
        token = page.next_page_token
        if token is None:
            break
    if not deleted:
        click.echo("Nothing to remove: no deleted runs.")
        return

    from rich.table import Table

    from tane.cli._render import console, status_badge
    from tane.cli.runs import artifact_size

    sizes = {run.id: artifact_size(run.artifact_uri) for run in deleted}
    total = sum(size or 0 for size in sizes.values())
    table = Table(header_style="bold", box=None, pad_edge=False)
    table.add_column("ID", style="bold cyan")
    table.add_column("Name")
    table.add_column("Experiment")
    table.add_column("Status")
    table.add_column("Artifacts", justify="right")
    for run in deleted:
        table.add_row(
            short_id(run.id),
            run.name,
            run.experiment,
            status_badge(run.status),
            human_bytes(sizes[run.id]),
        )
    out = console()
    out.print(table)
    count = f"{len(deleted)} deleted run{'s' if len(deleted) != 1 else ''}"
    out.print(f"{count}, {human_bytes(total)} of artifacts.")
    if dry_run:
        click.echo("Dry run: nothing was removed. `tane gc --yes` removes them.")
        return
    if not yes:
        if not stdin_is_interactive():
            raise CliError(
                f"not removing {count} without confirmation: stdin is not a "
                "terminal; pass --yes to remove them"
            )
        click.confirm(f"Remove {count} and their artifacts for good?", abort=True)
    report = client.gc([run.id for run in deleted])
    removed = len(report.run_ids)
    freed = report.bytes_freed + _remove_scoped(report.run_ids)
    click.echo(f"Removed {removed} run{'s' if removed != 1 else ''}, freed {human_bytes(freed)}.")


def _remove_scoped(run_ids: list[str]) -> int:
    """Remove the outputs side-by-side pipeline runs wrote (``.tane/scoped/<run>``)."""
    import shutil

    from tane.project import DEFAULT_STORE_DIR, find_project

    folder = find_project().root / DEFAULT_STORE_DIR / "scoped"
    freed = 0
    for run_id in run_ids:
        target = folder / run_id
        if target.is_dir():
            freed += sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
            shutil.rmtree(target, ignore_errors=True)
    return freed
