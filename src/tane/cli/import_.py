"""``tane import``: bring runs recorded by other tools into this store."""

from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING, Any

import click

from tane.cli import CliError
from tane.cli._context import NoStore, state
from tane.cli._copying import CopyDisplay, count
from tane.cli._format import human_bytes

if TYPE_CHECKING:
    from tane.integrations.mlflow_import import ImportReport


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


class _Display(CopyDisplay):
    """A line per run imported; a progress bar on a terminal while it goes."""

    def __init__(self, dry_run: bool) -> None:
        super().__init__(
            dry_run,
            doing="importing",
            done="imported",
            would="would import",
            result="imported",
            width=12,
        )

    def detail(self, copied: Any) -> str:
        return f"  {copied.status}"


def _summary(report: ImportReport, store: str) -> None:
    for note in report.notes:
        click.echo(f"Note: {note}.")
    runs = count(len(report.imported), "run")
    if report.dry_run:
        head = f"Dry run: would import {runs} from {report.source}; nothing was written."
    elif not report.imported:
        head = f"Nothing to import from {report.source}."
    else:
        resumed = sum(1 for r in report.imported if r.resumed)
        completed = f" ({resumed} completed from an earlier import)" if resumed else ""
        head = (
            f"Imported {runs}{completed} from {report.source} into {store}: "
            f"{count(report.points, 'point')}, {count(report.artifacts, 'artifact')} "
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
            f"{count(len(report.running), 'run')} still running in MLflow: imported as "
            "they are; import again once they end to bring the rest."
        )
