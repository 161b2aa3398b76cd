"""Rich renderings shared by the commands: the console, status badges, the runs table."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tane.cli._format import (
    format_duration,
    format_metric,
    one_line,
    relative_time,
    short_id,
)
from tane.tracking.entities import Run, RunStatus

#: How many metric and param columns ``tane runs ls`` picks by itself.
AUTO_METRICS = 6
AUTO_PARAMS = 6

_STATUS_STYLES = {
    RunStatus.FINISHED: "bold white on green",
    RunStatus.FAILED: "bold white on red",
    RunStatus.CRASHED: "bold white on red",
    RunStatus.RUNNING: "bold white on blue",
    RunStatus.KILLED: "bold black on yellow",
    RunStatus.PRUNED: "bold black on yellow",
}


def console(stderr: bool = False) -> Console:
    """Return a console on stdout (or stderr).

    Output that goes to a file or a pipe is not cut to 80 columns: it gets
    ``COLUMNS`` characters, else 200.
    """
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(highlight=False, stderr=stderr)
    width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else 200
    return Console(highlight=False, width=width, stderr=stderr)


def status_badge(status: RunStatus) -> Text:
    """Return the run status as a coloured badge."""
    return Text(f" {status.value} ", style=_STATUS_STYLES.get(status, "bold"))


def run_duration(run: Run, now_ms: int | None = None) -> str:
    """Return the run's duration; a running run shows its time so far with a ``…``."""
    if run.end_time is not None:
        return format_duration(run.duration)
    if run.status is RunStatus.RUNNING and now_ms is not None:
        return format_duration(max(0, now_ms - run.start_time) / 1000) + "…"
    return "-"


@dataclass(frozen=True)
class Column:
    """A metric, param or tag column of the runs table."""

    entity: str  # "metrics", "params" or "tags"
    key: str

    def value(self, run: Run) -> str:
        """Return this column's cell for ``run``."""
        if self.entity == "metrics":
            return format_metric(run.metrics.get(self.key))
        source = run.params if self.entity == "params" else run.tags
        found = source.get(self.key)
        return "-" if found is None else one_line(found, 40)

    def cell(self, run: Run) -> Text:
        """Return the cell as rich text (a missing value dimmed)."""
        text = self.value(run)
        missing = self.key not in (
            run.metrics
            if self.entity == "metrics"
            else run.params
            if self.entity == "params"
            else run.tags
        )
        return Text(text, style="dim" if missing else "")


@dataclass
class ColumnChoice:
    """The columns chosen for a runs table and how many varying ones were left out."""

    columns: list[Column] = field(default_factory=list)
    hidden_metrics: int = 0
    hidden_params: int = 0
    explicit: bool = False


def parse_columns(spec: Sequence[str], runs: Sequence[Run]) -> list[Column]:
    """Return the columns named by ``-c`` values such as ``"params.lr,metrics.acc"``.

    A bare key is a metric if any run has that metric, else a param if any
    run has that param, else a tag.
    """
    prefixes = {
        "metrics": "metrics",
        "metric": "metrics",
        "params": "params",
        "param": "params",
        "parameter": "params",
        "parameters": "params",
        "tags": "tags",
        "tag": "tags",
    }
    columns: list[Column] = []
    for item in spec:
        for raw in item.split(","):
            name = raw.strip()
            if not name:
                continue
            head, _, rest = name.partition(".")
            if rest and head.lower() in prefixes:
                column = Column(prefixes[head.lower()], rest)
            elif any(name in r.metrics for r in runs):
                column = Column("metrics", name)
            elif any(name in r.params for r in runs):
                column = Column("params", name)
            else:
                column = Column("tags", name)
            if column not in columns:
                columns.append(column)
    return columns


def varying_keys(runs: Sequence[Run], entity: str) -> list[str]:
    """Return the metric or param keys whose values differ across ``runs``.

    With a single run every key counts. System metrics (``system/...``) come last.
    """
    keys: set[str] = set()
    for run in runs:
        keys.update(run.metrics if entity == "metrics" else run.params)
    ordered = sorted(keys, key=lambda k: (k.startswith("system/"), k))
    if len(runs) <= 1:
        return ordered
    result = []
    for key in ordered:
        if entity == "metrics":
            values = {_metric_identity(r.metrics.get(key)) for r in runs}
        else:
            values = {r.params.get(key) for r in runs}
        if len(values) > 1:
            result.append(key)
    return result


def _metric_identity(value: float | None) -> object:
    if value is None:
        return None
    return "nan" if math.isnan(value) else value


def choose_columns(
    runs: Sequence[Run], spec: Sequence[str] = (), first: Sequence[Column] = ()
) -> ColumnChoice:
    """Pick the metric and param columns of a runs table.

    Args:
        runs: The runs shown.
        spec: ``-c`` values; when given, exactly those columns are shown.
        first: Columns to put first when choosing automatically (the order-by keys).

    Returns:
        The columns, and how many varying metrics and params did not fit.
    """
    if spec:
        return ColumnChoice(parse_columns(spec, runs), explicit=True)
    # What the user logged comes before the machine's own numbers.
    metrics = sorted(varying_keys(runs, "metrics"), key=lambda k: k.startswith("system/"))
    params = varying_keys(runs, "params")
    chosen: list[Column] = [
        c for c in first if c.key in (metrics if c.entity == "metrics" else params)
    ]
    picked_metrics = [c.key for c in chosen if c.entity == "metrics"]
    picked_params = [c.key for c in chosen if c.entity == "params"]
    for key in metrics:
        if len(picked_metrics) >= AUTO_METRICS:
            break
        if key not in picked_metrics:
            picked_metrics.append(key)
    for key in params:
        if len(picked_params) >= AUTO_PARAMS:
            break
        if key not in picked_params:
            picked_params.append(key)
    columns = [Column("metrics", k) for k in picked_metrics]
    columns += [Column("params", k) for k in picked_params]
    return ColumnChoice(
        columns, len(metrics) - len(picked_metrics), len(params) - len(picked_params)
    )


def tree_order(runs: Sequence[Run]) -> list[tuple[Run, int]]:
    """Return runs with their depth, each listed child right under its listed parent.

    Runs keep their given order otherwise.
    """
    listed = {r.id for r in runs}
    children: dict[str, list[Run]] = {}
    roots: list[Run] = []
    for run in runs:
        if run.parent_id is not None and run.parent_id in listed and run.parent_id != run.id:
            children.setdefault(run.parent_id, []).append(run)
        else:
            roots.append(run)
    out: list[tuple[Run, int]] = []
    seen: set[str] = set()

    def visit(run: Run, depth: int) -> None:
        if run.id in seen:
            return
        seen.add(run.id)
        out.append((run, depth))
        for child in children.get(run.id, []):
            visit(child, depth + 1)

    for root in roots:
        visit(root, 0)
    for run in runs:  # runs caught in a parent cycle: show them anyway
        visit(run, 0)
    return out


def runs_table(
    runs: Sequence[Run],
    choice: ColumnChoice,
    *,
    now_ms: int,
    title: str | None = None,
    show_experiment: bool = True,
) -> Table:
    """Return the runs table of ``tane runs ls`` (and of ``tane demo``)."""
    ordered = tree_order(runs)
    listed = {r.id for r in runs}
    show_parent = any(r.parent_id and r.parent_id not in listed for r in runs)
    table = Table(title=title, header_style="bold", pad_edge=False, box=None)
    table.add_column("ID", style="bold cyan", no_wrap=True, min_width=8)
    table.add_column("Name", no_wrap=True, max_width=40, min_width=8)
    if show_experiment:
        table.add_column("Experiment", no_wrap=True, max_width=24, min_width=6)
    table.add_column("Status", no_wrap=True, min_width=10)
    table.add_column("Started", no_wrap=True, min_width=8)
    table.add_column("Duration", justify="right", no_wrap=True, min_width=6)
    if show_parent:
        table.add_column("Parent", style="cyan", no_wrap=True, min_width=8)
    metric_keys = {c.key for c in choice.columns if c.entity == "metrics"}
    param_keys = {c.key for c in choice.columns if c.entity == "params"}
    clash = metric_keys & param_keys
    for column in choice.columns:
        header = (
            f"{column.entity}.{column.key}"
            if column.entity == "tags" or column.key in clash
            else column.key
        )
        style = {"metrics": "bold cyan", "params": "bold magenta"}.get(column.entity, "bold")
        table.add_column(
            Text(header, style=style),
            justify="right" if column.entity == "metrics" else "left",
            no_wrap=True,
        )
    for run, depth in ordered:
        name = Text("  " * (depth - 1) + "└ " if depth else "")
        name.append(run.name, style="dim strike" if run.deleted else "")
        if run.deleted:
            name.append(" (deleted)", style="dim")
        cells: list[Text | str] = [short_id(run.id), name]
        if show_experiment:
            cells.append(run.experiment)
        cells += [
            status_badge(run.status),
            relative_time(run.start_time),
            run_duration(run, now_ms),
        ]
        if show_parent:
            cells.append(
                short_id(run.parent_id) if run.parent_id and run.parent_id not in listed else ""
            )
        cells += [column.cell(run) for column in choice.columns]
        table.add_row(*cells)
    return table


def fitted_runs_table(
    out: Console, runs: Sequence[Run], choice: ColumnChoice, *, now_ms: int, **options: Any
) -> tuple[Table, ColumnChoice]:
    """Return the runs table, leaving out automatic columns that would not fit ``out``.

    Columns chosen with ``-c`` are always kept. Returns the table and the
    columns actually shown (with the hidden counts raised accordingly).
    """
    while True:
        table = runs_table(runs, choice, now_ms=now_ms, **options)
        if choice.explicit or not choice.columns:
            return table, choice
        wanted = out.measure(table, options=out.options.update_width(100_000)).maximum
        if wanted <= out.width:
            return table, choice
        metrics = [c for c in choice.columns if c.entity == "metrics"]
        params = [c for c in choice.columns if c.entity == "params"]
        drop = params[-1] if len(params) >= len(metrics) else metrics[-1]
        choice = ColumnChoice(
            [c for c in choice.columns if c != drop],
            choice.hidden_metrics + (drop.entity == "metrics"),
            choice.hidden_params + (drop.entity == "params"),
        )
