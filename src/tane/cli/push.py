"""``tane push``: copy local runs to a team server (or any other store)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from tane.cli import CliError
from tane.cli._context import NoStore, state
from tane.cli._copying import CopyDisplay, count
from tane.cli._format import human_bytes

if TYPE_CHECKING:
    from tane.tracking.push import PushReport


@click.command()
@click.option(
    "--to",
    "to",
    required=True,
    metavar="URL",
    help="Where to copy the runs: a tane server (http://host:5000) or any store URI.",
)
@click.option(
    "--experiment",
    "-e",
    metavar="NAME",
    help="Only the runs of this experiment (name or id).",
)
@click.option(
    "--run",
    "run_ids",
    multiple=True,
    metavar="RUN",
    help="Only this run and its child runs (id or unique prefix); repeat for several.",
)
@click.option(
    "--include-running",
    is_flag=True,
    help="Also copy runs still running, as they are now (a later push brings the rest).",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be copied.")
def push(
    to: str, experiment: str | None, run_ids: tuple[str, ...], include_running: bool, dry_run: bool
) -> None:
    """Copy runs of this store to a team server: params, metric histories, tags,
    artifacts, notes and parent links.

    Pushing again copies nothing twice: a run already there is skipped, and a
    push that was interrupted (the server went away, Ctrl-C) is completed.
    Runs still running are skipped unless --include-running is given; deleted
    runs are never pushed. The runs come from the global --store, else
    TANE_STORE, else the project's store.
    """
    from tane.tracking.stores import database_location, open_store

    cli = state()
    try:
        client = cli.client(create=False)
    except NoStore:
        raise CliError(
            f"nothing to push: there is no tane store at {cli.store_uri}; record runs first, "
            "or point --store / TANE_STORE at the store to push"
        ) from None
    if _same_location(cli.store_uri, to, database_location):
        raise CliError(
            f"--to {to} is the store the runs come from: give another store, such as a "
            "tane server's URL (--to http://host:5000)"
        )
    ids = [client.resolve_run_id(given) for given in run_ids]
    if to.split("://", 1)[0].lower() in ("http", "https"):
        # A push resumes by itself: never copy a run's artifacts into the spool.
        from tane.tracking.stores.rest import RestStore

        target: Any = RestStore(to, token=os.environ.get("TANE_TOKEN") or None, spool=False)
        owned = True
    else:
        target = open_store(to)
        owned = False
    display = _Display(to, dry_run)
    try:
        _push(client, target, display, experiment, ids, include_running, dry_run)
    finally:
        if owned:
            target.close()


def _push(
    client: Any,
    target: Any,
    display: Any,
    experiment: str | None,
    ids: list[str],
    include_running: bool,
    dry_run: bool,
) -> None:
    from tane.tracking.push import push_runs

    try:
        report = push_runs(
            client.store,
            target,
            experiment,
            ids or None,
            include_running=include_running,
            dry_run=dry_run,
            progress=display.event,
        )
    except Exception as exc:
        display.close()
        from tane.errors import StoreUnavailable

        if isinstance(exc, StoreUnavailable) and display.planned:
            raise CliError(
                f"{exc}\n{display.done} of {display.planned} runs were pushed before it stopped; "
                "run the same `tane push` again to finish: nothing is copied twice"
            ) from exc
        raise
    display.close()
    _summary(report, include_running)


def _same_location(source: str, target: str, location: Any) -> bool:
    def normal(uri: str) -> str:
        try:
            found: str = location(uri)[0]
        except Exception:  # an odd URI: the store itself will say what is wrong
            found = uri
        return found.rstrip("/")

    return normal(source) == normal(target)


class _Display(CopyDisplay):
    """A line per run pushed; a progress bar on a terminal while it goes."""

    def __init__(self, to: str, dry_run: bool) -> None:
        super().__init__(
            dry_run, doing="pushing", done="pushed", would="would push", result="pushed", width=10
        )
        self.to = to

    def name_of(self, event: Any) -> str:
        return str(event.run.name) if event.run is not None else ""


def _summary(report: PushReport, include_running: bool) -> None:
    skipped = []
    if report.present:
        skipped.append(f"{len(report.present)} already there")
    if report.running:
        hint = "" if include_running else " (--include-running pushes them as they are)"
        skipped.append(f"{len(report.running)} running{hint}")
    if report.deleted:
        skipped.append(f"{report.deleted} deleted")
    runs = count(len(report.pushed), "run")
    if report.dry_run:
        head = f"Dry run: would push {runs} to {report.target}; nothing was copied."
    elif not report.pushed:
        head = f"Nothing to push to {report.target}."
    else:
        resumed = sum(1 for r in report.pushed if r.resumed)
        completed = f" ({resumed} completed from an earlier push)" if resumed else ""
        head = (
            f"Pushed {runs}{completed} to {report.target}: {count(report.points, 'point')}, "
            f"{count(report.artifacts, 'artifact')} ({human_bytes(report.bytes)})."
        )
    click.echo(head)
    if report.experiments_created:
        names = ", ".join(report.experiments_created)
        what = "Experiment" if len(report.experiments_created) == 1 else "Experiments"
        verb = "to create" if report.dry_run else "created"
        click.echo(f"{what} {verb} there: {names}.")
    if skipped:
        click.echo("Skipped: " + ", ".join(skipped) + ".")
