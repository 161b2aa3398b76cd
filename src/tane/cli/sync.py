"""``tane sync``: send the writes spooled while a tane server could not be reached."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from tane.cli import CliError
from tane.cli._context import state
from tane.cli._format import human_bytes, one_line, relative_time, short_id
from tane.errors import StoreUnavailable

if TYPE_CHECKING:
    from tane.tracking.spool import Spool, SpoolItem


def _is_server(uri: str) -> bool:
    return uri.split("://", 1)[0].lower() in ("http", "https") if "://" in uri else False


@click.command()
@click.option(
    "--store",
    "store_option",
    metavar="URL",
    help="The server whose spooled writes to send. Default: the global `tane --store`, "
    "else TANE_STORE, else the project's store.",
)
@click.option(
    "--list",
    "list_only",
    is_flag=True,
    help="Only show what is spooled (for every server if the store is not one); send nothing.",
)
def sync(store_option: str | None, list_only: bool) -> None:
    """Send the writes spooled while a tane server could not be reached.

    A process logging to a server (TANE_STORE=http://...) that cannot reach it
    keeps each run's metric points, params, tags, status and artifacts on local
    disk, and sends them itself once the server is back. What is left when the
    process ends is sent by this command, run by run, in the order it was
    logged. Writes the server refuses for good (their run was deleted, a param
    holds another value) are set aside in the spool's rejected.jsonl.

    Exits with 1 if the server still cannot be reached or refused writes.
    """
    uri = store_option or state().store_uri
    if list_only:
        _list(uri)
        return
    if not _is_server(uri):
        raise CliError(_not_a_server(uri))

    from tane.tracking.stores.rest import WRITE_ATTEMPTS, RestStore

    store = RestStore(uri, token=os.environ.get("TANE_TOKEN") or None)
    try:
        spool = store.spool
        backlogs = [spool.backlog(run_id) for run_id in spool.runs()]
        backlogs = [b for b in backlogs if b.items]
        if not backlogs:
            click.echo(f"Nothing to send: no writes are spooled for {spool.url}.")
            return
        total = sum(b.items for b in backlogs)
        click.echo(
            f"Sending {total} spooled write{_s(total)} of {len(backlogs)} run{_s(len(backlogs))} "
            f"to {spool.url} (spool: {spool.folder})"
        )
        sent = points = already = 0
        rejected: list[tuple[SpoolItem, str]] = []
        down: StoreUnavailable | None = None
        with _progress(total) as advance:
            for backlog in backlogs:
                report = store.replay(
                    backlog.run_id, attempts=WRITE_ATTEMPTS, progress=advance, quiet=True
                )
                sent += report.sent
                points += report.points
                already += report.already
                rejected.extend((item, f"{type(e).__name__}: {e}") for item, e in report.rejected)
                click.echo(
                    f"run {short_id(backlog.run_id)}: {report.sent} sent"
                    + (f" ({report.points} metric points)" if report.points else "")
                    + (f", {report.already} already there" if report.already else "")
                    + (f", {len(report.rejected)} refused" if report.rejected else "")
                    + (f", {report.pending} still spooled" if report.pending else "")
                )
                if report.error is not None:
                    down = report.error
                    break
    finally:
        store.close()
    _report(spool, sent, points, already, rejected, down)


def _report(
    spool: Spool,
    sent: int,
    points: int,
    already: int,
    rejected: list[tuple[SpoolItem, str]],
    down: StoreUnavailable | None,
) -> None:
    line = f"Sent {sent} write{_s(sent)}"
    if points:
        line += f" ({points} metric points)"
    if already:
        line += f"; {already} the server had already"
    click.echo(line + ".")
    for item, error in rejected:
        click.secho(
            f"Refused: run {short_id(item.run_id)}, {item.describe()}: {one_line(error, 200)}",
            fg="yellow",
            err=True,
        )
    pending = [b for b in (spool.backlog(r) for r in spool.runs()) if b.items]
    waiting = sum(b.items for b in pending)
    if down is not None:
        from tane.tracking.stores.rest import AccessRefused, ServerUnreachable

        left = (
            f"{waiting} write{_s(waiting)} of {len(pending)} run{_s(len(pending))} "
            f"{'is' if waiting == 1 else 'are'} still spooled in {spool.folder}"
        )
        if isinstance(down, AccessRefused):
            raise CliError(f"{left}: {down}")
        if isinstance(down, ServerUnreachable):
            reason = f"server {spool.url} cannot be reached ({down.reason})"
        else:
            reason = str(down)
        raise CliError(f"{reason}: {left}; run `tane sync` again when the server is back")
    if rejected:
        raise CliError(
            f"the server refused {len(rejected)} spooled write{_s(len(rejected))} (listed "
            f"above); they are kept in {spool.rejected_file}"
        )


@contextmanager
def _progress(total: int) -> Iterator[Callable[[SpoolItem], None]]:
    """A progress bar on a terminal (none elsewhere); the callable advances it by one write."""
    from tane.cli._render import console

    out = console()
    if not out.is_terminal:
        yield lambda item: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("sending"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=out, transient=True) as progress:
        task = progress.add_task("sending", total=total)
        yield lambda item: progress.advance(task)


def _list(uri: str) -> None:
    from rich.table import Table

    from tane.cli._render import console
    from tane.tracking.spool import Spool, spooled_servers

    spools = [Spool(uri)] if _is_server(uri) else spooled_servers()
    table = Table(header_style="bold", box=None, pad_edge=False)
    table.add_column("Server")
    table.add_column("Run", style="bold cyan")
    table.add_column("Writes", justify="right")
    table.add_column("Points", justify="right")
    table.add_column("Artifacts", justify="right")
    table.add_column("Oldest")
    rows = 0
    notes = []
    for spool in spools:
        for run_id in spool.runs():
            backlog = spool.backlog(run_id)
            if not backlog.items:
                continue
            rows += 1
            table.add_row(
                spool.url,
                short_id(run_id),
                str(backlog.items),
                str(backlog.points),
                human_bytes(backlog.artifact_bytes) if backlog.artifact_bytes else "-",
                relative_time(backlog.oldest),
            )
        refused = len(spool.rejected())
        if refused:
            notes.append(
                f"{refused} write{_s(refused)} refused by {spool.url} are kept in "
                f"{spool.rejected_file}"
            )
    out = console()
    if rows:
        out.print(table)
    else:
        where = spools[0].url if _is_server(uri) else "any server"
        out.print(f"Nothing spooled for {where}.")
    for note in notes:
        out.print(note)


def _not_a_server(uri: str) -> str:
    from tane.tracking.spool import spooled_servers

    waiting = [s.url for s in spooled_servers() if s.runs()]
    hint = (
        f"; writes are spooled for {', '.join(waiting)}"
        if waiting
        else "; no writes are spooled for any server"
    )
    return (
        f"the store {uri} is not a tane server: `tane sync` sends what was spooled for a "
        f"server, so pass --store http://host:port{hint}"
    )


def _s(count: int) -> str:
    return "" if count == 1 else "s"
