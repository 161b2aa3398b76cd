"""``tane import``: bring runs recorded by other tools into this store."""

from __future__ import annotations

import sys
import tempfile
from typing import TYPE_CHECKING, Any

import click

from tane.cli import CliError
from tane.cli._context import NoStore, state
from tane.cli._format import human_bytes, short_id

if TYPE_CHECKING:
    from tane.integrations.mlflow_import import ImportedRun, ImportEvent, ImportReport


@click.group(name="import")
def import_() -> None:
    """Bring runs recorded by other tools into this store."""


@import_.command("mlflow")
@click.option(
    "--from",
    "source",
    required=True,
    metavar="SOURCE",
    help="The MLflow tracking store: sqlite:///mlflow.db, a folder such as ./mlruns, "
    "or http(s)://host of an MLflow server. It is never modified.",
)
@click.option(
    "--experiment",
    "-e",
    "experiments",
    multiple=True,
    metavar="NAME",
    help="Only this MLflow experiment (name or id); repeat for several.",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be imported.")
def mlflow(source: str, experiments: tuple[str, ...], dry_run: bool) -> None:
    """Copy MLflow's experiments and runs into this store: params, every point of
    every metric, tags, artifacts, statuses, times and parent links.

    Importing again imports nothing twice: imported runs are tagged
    tane.imported_from, and an import that was cut off is completed. Deleted
    MLflow runs and experiments are left out. The runs go to the global --store,
    else TANE_STORE, else the project's store.
    """
    cli = state()
    with tempfile.TemporaryDirectory(prefix="tane-import-") as scratch:
        owned: Any = None
        try:
            target: Any = cli.client(create=not dry_run).store
        except NoStore:
            # A dry run into a store that does not exist yet: everything is new,
            # which an empty scratch store says without creating the real one.
            from tane.tracking.stores.sql import SqlStore

            target = owned = SqlStore(f"sqlite:///{scratch}/tane.db")
        try:
            report = _import(source, target, experiments, dry_run)
        finally:
            if owned is not None:
                owned.close()
    _summary(report, cli.store_uri)


def _import(source: str, target: Any, experiments: tuple[str, ...], dry_run: bool) -> ImportReport:
    from tane.errors import StoreUnavailable
    from tane.integrations.mlflow_import import import_mlflow

    display = _Display(dry_run)
    try:
        report = import_mlflow(source, target, experiments or None, display.event, dry_run=dry_run)
    except StoreUnavailable as exc:
        display.close()
        if display.done:
            raise CliError(
                f"{exc}\n{display.done} of {display.planned} runs were imported before it "
                "stopped; run the same `tane import mlflow` again to finish"
            ) from exc
        raise
    finally:
        display.close()
    return report


class _Display:
    """A line per run imported; a progress bar on a terminal while it goes."""

    def __init__(self, dry_run: bool) -> None:
        from tane.cli._render import console

        self.out = console()
        self.dry_run = dry_run
        self.planned = 0
        self.done = 0
        self.progress: Any = None
        self.task: Any = None
        self.tty = sys.stderr.isatty()

    def event(self, event: ImportEvent) -> None:
        """Show one step of the import."""
        if event.kind == "plan":
            self.planned = event.count
            if self.tty and event.count and not self.dry_run:
                self._start_bar(event.count)
        elif event.kind == "start" and self.progress is not None:
            self.progress.update(self.task, description=event.name, status="")
        elif event.kind == "points" and self.progress is not None:
            self.progress.update(self.task, status=f"+{event.count} points")
        elif event.kind == "artifact" and self.progress is not None:
            self.progress.update(self.task, status=f"{event.detail} ({human_bytes(event.count)})")
        elif event.kind == "done" and event.imported is not None:
            self.done += 1
            self._line(event.imported)
            if self.progress is not None:
                self.progress.advance(self.task)

    def _start_bar(self, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from tane.cli._render import console

        self.progress = Progress(
            TextColumn("importing {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[cyan]{task.fields[status]}"),
            console=console(stderr=True),
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task("", total=total, status="")

    def _line(self, imported: ImportedRun) -> None:
        from rich.text import Text

        verb = "would import" if self.dry_run else "completed" if imported.resumed else "imported"
        line = Text.assemble(
            (f"  {verb:<12} ", "green"),
            (short_id(imported.source_id), "bold cyan"),
            f" {imported.name}",
            (f"  {imported.experiment}  {imported.status}", "dim"),
        )
        if not self.dry_run:
            line.append(
                f"  {_count(imported.points, 'point')}, {_count(imported.artifacts, 'artifact')} "
                f"({human_bytes(imported.bytes)})  -> {short_id(imported.target_id)}",
                style="dim",
            )
        self.out.print(line)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _summary(report: ImportReport, store: str) -> None:
    for note in report.notes:
        click.echo(f"Note: {note}.")
    runs = _count(len(report.imported), "run")
    if report.dry_run:
        head = f"Dry run: would import {runs} from {report.source}; nothing was written."
    elif not report.imported:
        head = f"Nothing to import from {report.source}."
    else:
        resumed = sum(1 for r in report.imported if r.resumed)
        completed = f" ({resumed} completed from an earlier import)" if resumed else ""
        head = (
            f"Imported {runs}{completed} from {report.source} into {store}: "
            f"{_count(report.points, 'point')}, {_count(report.artifacts, 'artifact')} "
            f"({human_bytes(report.bytes)})."
        )
    click.echo(head)
    if report.experiments_created:
        names = ", ".join(report.experiments_created)
        what = "Experiment" if len(report.experiments_created) == 1 else "Experiments"
        click.echo(f"{what} {'to create' if report.dry_run else 'created'}: {names}.")
    skipped = []
    if report.present:
        skipped.append(f"{len(report.present)} imported before")
    if report.deleted:
        skipped.append(f"{report.deleted} deleted in MLflow")
    if skipped:
        click.echo("Skipped: " + ", ".join(skipped) + ".")
    if report.running and not report.dry_run:
        click.echo(
            f"{_count(len(report.running), 'run')} still running in MLflow: imported as "
            "they are; import again once they end to bring the rest."
        )


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' if n != 1 else ''}"
