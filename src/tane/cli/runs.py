"""``tane runs``: list, show, compare, delete and restore runs."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from tane.cli._context import NoStore, state
from tane.cli._format import dump_json, short_id

if TYPE_CHECKING:
    from tane.cli._render import Column
    from tane.tracking.client import Client
    from tane.tracking.entities import Run
    from tane.tracking.stores.base import RunView

# Metric histories are summarised (points, min, max) only for runs with at most
# this many metrics, each read downsampled to at most _HISTORY_POINTS points
# (the downsampling keeps every bucket's lowest and highest value, so min and
# max stay exact).
_HISTORY_KEYS = 40
_HISTORY_POINTS = 1000


@click.group()
def runs() -> None:
    """List, show, compare, delete and restore runs.

    RUN arguments take a run id or a unique prefix of it (at least 4 characters).
    """


def _now_ms() -> int:
    return int(time.time() * 1000)


# -- ls ------------------------------------------------------------------------


@runs.command("ls")
@click.option(
    "--experiment",
    "-e",
    "experiments",
    multiple=True,
    metavar="NAME",
    help="Only runs of this experiment (name or id); repeat for several.",
)
@click.option(
    "--filter",
    "-f",
    "filter_string",
    default="",
    metavar="FILTER",
    help="Filter such as \"metrics.acc > 0.9 and params.model = 'lgbm'\".",
)
@click.option(
    "--order-by",
    "-o",
    "order_by",
    multiple=True,
    metavar="CLAUSE",
    help="Sort such as 'metrics.acc DESC'; repeat to break ties. Default: newest first.",
)
@click.option(
    "--max",
    "-n",
    "max_results",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Show at most this many runs.",
)
@click.option(
    "--columns",
    "-c",
    multiple=True,
    metavar="KEYS",
    help="Comma-separated columns such as params.lr,metrics.acc,tags.team. "
    "Default: the metrics and params whose values differ between the runs.",
)
@click.option("--all", "show_all", is_flag=True, help="Include deleted runs.")
@click.option("--deleted", "only_deleted", is_flag=True, help="Show only deleted runs.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the runs as a JSON array (NaN and infinities as strings).",
)
def ls(
    experiments: tuple[str, ...],
    filter_string: str,
    order_by: tuple[str, ...],
    max_results: int,
    columns: tuple[str, ...],
    show_all: bool,
    only_deleted: bool,
    as_json: bool,
) -> None:
    """List runs, newest first.

    Besides id, name, experiment, status, start and duration, the table shows
    the metrics and params whose values differ between the listed runs (or
    the columns chosen with -c). Child runs are shown indented under their
    parent when both are listed.
    """
    if show_all and only_deleted:
        raise click.UsageError("--all and --deleted exclude each other: pick one")
    view: RunView = "all" if show_all else "deleted" if only_deleted else "active"
    cli = state()
    try:
        client = cli.client(create=False)
    except NoStore:
        if as_json:
            click.echo("[]")
            return
        _say_no_runs(cli.store_uri, filtered=False)
        return
    found = client.search_runs(
        filter_string,
        experiment=list(experiments) or None,
        order_by=list(order_by),
        max_results=max_results,
        view=view,
    )
    if as_json:
        click.echo(dump_json([run.to_json() for run in found]))
        return
    if not found:
        filtered = bool(experiments or filter_string or only_deleted)
        _say_no_runs(cli.store_uri, filtered=filtered, deleted=only_deleted)
        return
    from tane.cli import _render

    choice = _render.choose_columns(found, columns, first=_order_columns(order_by))
    out = _render.console()
    table, choice = _render.fitted_runs_table(out, found, choice, now_ms=_now_ms())
    out.print(table)
    notes = [f"{len(found)} run{'s' if len(found) != 1 else ''}"]
    if found.next_page_token:
        notes.append(f"more match: raise --max (now {max_results}) to see them")
    hidden = []
    if choice.hidden_metrics:
        hidden.append(f"{choice.hidden_metrics} metric{'s' if choice.hidden_metrics > 1 else ''}")
    if choice.hidden_params:
        hidden.append(f"{choice.hidden_params} param{'s' if choice.hidden_params > 1 else ''}")
    if hidden:
        notes.append(f"{' and '.join(hidden)} that vary not shown: choose columns with -c")
    out.print("[dim]" + "; ".join(notes) + "[/dim]")


def _say_no_runs(store_uri: str, *, filtered: bool, deleted: bool = False) -> None:
    if deleted:
        click.echo("No deleted runs.")
    elif filtered:
        click.echo(
            "No runs match. Drop the filter or --experiment, or add --all to include deleted runs."
        )
    else:
        click.echo(
            f"No runs yet in {store_uri}.\n"
            "Record some with `tane demo`, or in Python:\n"
            "    with tane.start_run():\n"
            "        tane.log_metric('loss', 0.1)"
        )


def _order_columns(order_by: Sequence[str]) -> list[Column]:
    """Return the metric and param columns named by the order-by clauses."""
    from tane.cli._render import Column
    from tane.errors import InvalidFilter
    from tane.tracking.query import parse_order_by

    result = []
    for clause in order_by:
        try:
            key = parse_order_by(clause)
        except InvalidFilter:
            continue  # the search itself reports it
        if key.entity in ("metric", "param"):
            result.append(Column(key.entity + "s", key.key))
    return result


# -- show ----------------------------------------------------------------------


@runs.command("show")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--traceback",
    "show_traceback",
    is_flag=True,
    help="Show the full traceback of a failed run, not only its last line.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the run as JSON, with its children and artifacts.",
)
def show(run_id: str, show_traceback: bool, as_json: bool) -> None:
    """Show one run: overview, params, metrics, tags, note, artifacts, error.

    Metrics show their latest value and, for runs with up to 40 metrics, the
    lowest and highest value and the number of points logged.
    """
    client = state().client(create=False)
    run = client.get_run(run_id)
    children = client.search_runs(
        f"attributes.parent_id = '{run.id}'",
        max_results=1000,
        view="all" if run.deleted else "active",
    )
    artifacts = client.list_artifacts(run.id)
    if as_json:
        data = run.to_json()
        data["children"] = [child.id for child in children]
        data["artifacts"] = [
            {
                "path": a.path,
                "is_dir": a.is_dir,
                "size": a.size if not a.is_dir else _artifact_size(run.artifact_uri, a.path),
            }
            for a in artifacts
        ]
        click.echo(dump_json(data))
        return
    _print_run(client, run, children, artifacts, show_traceback)


def _print_run(
    client: Client,
    run: Run,
    children: Sequence[Run],
    artifacts: Sequence[Any],
    show_traceback: bool,
) -> None:
    from rich.markdown import Markdown
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from tane.cli import _render
    from tane.cli._format import (
        format_metric,
        human_bytes,
        local_time,
        one_line,
        relative_time,
    )
    from tane.errors import RunNotFound

    out = _render.console()
    tags = run.tags
    overview = Table.grid(padding=(0, 2))
    overview.add_column(style="bold")
    overview.add_column()
    overview.add_row("ID", run.id)
    overview.add_row("Name", run.name)
    overview.add_row("Experiment", f"{run.experiment} (id {run.experiment_id})")
    status = _render.status_badge(run.status)
    if run.deleted:
        status.append("  deleted", style="bold red")
        status.append(f" — `tane runs restore {short_id(run.id)}` brings it back", style="dim")
    overview.add_row("Status", status)
    overview.add_row("Started", f"{local_time(run.start_time)} ({relative_time(run.start_time)})")
    overview.add_row("Ended", local_time(run.end_time))
    overview.add_row("Duration", _render.run_duration(run, _now_ms()))
    if run.parent_id:
        try:
            parent = client.get_run(run.parent_id)
            overview.add_row("Parent", f"{short_id(parent.id)} {parent.name}")
        except RunNotFound:
            overview.add_row("Parent", f"{short_id(run.parent_id)} (purged)")
    if children:
        more = "+" if len(children) >= 1000 else ""
        overview.add_row(
            "Children",
            f"{len(children)}{more} (`tane runs ls -f \"attributes.parent_id = '{run.id}'\"`)",
        )
    git = tags.get("tane.git.commit")
    if git:
        line = git[:12]
        if tags.get("tane.git.branch"):
            line += f" on {tags['tane.git.branch']}"
        if tags.get("tane.git.dirty") == "true":
            line += " (uncommitted changes)"
        overview.add_row("Git", line)
    for label, key in (("Command", "tane.command"), ("Host", "tane.host")):
        if tags.get(key):
            overview.add_row(label, one_line(tags[key], 120))
    overview.add_row("Artifacts", run.artifact_uri)
    out.print(Panel(overview, title=f"run {run.name}", title_align="left", expand=False))

    error = tags.get("tane.error")
    if error and run.status.value in ("FAILED", "CRASHED", "KILLED"):
        body = tags.get("tane.traceback", error) if show_traceback else error
        out.print(
            Panel(
                Text(body.rstrip(), style="red"),
                title="error",
                title_align="left",
                border_style="red",
                expand=False,
            )
        )
        if not show_traceback and "tane.traceback" in tags:
            out.print("[dim]The full traceback: add --traceback[/dim]")
        out.print()

    if run.params:
        table = Table(
            title="Params", title_justify="left", title_style="bold", box=None, header_style="bold"
        )
        table.add_column("Key", style="magenta")
        table.add_column("Value", overflow="fold")
        for key in sorted(run.params):
            table.add_row(key, run.params[key])
        out.print(table)
        out.print()

    if run.metrics:
        table = Table(
            title="Metrics", title_justify="left", title_style="bold", box=None, header_style="bold"
        )
        table.add_column("Key", style="cyan")
        table.add_column("Latest", justify="right")
        summarise = len(run.metrics) <= _HISTORY_KEYS
        if summarise:
            table.add_column("Min", justify="right")
            table.add_column("Max", justify="right")
            table.add_column("Points", justify="right")
        for key in sorted(run.metrics, key=lambda k: (k.startswith("system/"), k)):
            row = [key, format_metric(run.metrics[key])]
            if summarise:
                row += _history_summary(client, run.id, key)
            table.add_row(*row)
        out.print(table)
        out.print()

    shown_tags = {k: v for k, v in tags.items() if k not in ("tane.traceback", "tane.error")}
    if shown_tags:
        table = Table(
            title="Tags", title_justify="left", title_style="bold", box=None, header_style="bold"
        )
        table.add_column("Key")
        table.add_column("Value", overflow="fold")
        user = sorted(k for k in shown_tags if not k.startswith("tane."))
        system = sorted(k for k in shown_tags if k.startswith("tane."))
        for key in user:
            table.add_row(key, one_line(shown_tags[key], 200))
        for key in system:
            table.add_row(key, one_line(shown_tags[key], 200), style="dim")
        out.print(table)
        out.print()

    if run.note.strip():
        out.print(
            Panel(Markdown(run.note), title="note", title_align="left", width=min(out.width, 100))
        )

    if artifacts:
        table = Table(
            title="Artifacts",
            title_justify="left",
            title_style="bold",
            box=None,
            header_style="bold",
        )
        table.add_column("Path")
        table.add_column("Size", justify="right")
        for item in artifacts:
            size = _artifact_size(run.artifact_uri, item.path) if item.is_dir else item.size
            table.add_row(item.path + ("/" if item.is_dir else ""), human_bytes(size))
        out.print(table)
    else:
        out.print("[dim]No artifacts.[/dim]")


def _history_summary(client: Client, run_id: str, key: str) -> list[str]:
    """Return min, max and the number of points of a metric's history."""
    import math

    from tane.cli._format import format_metric

    history = client.get_metric_history(run_id, key, max_points=_HISTORY_POINTS)
    values = [p.value for p in history if not math.isnan(p.value)]
    count = f"{len(history)}+" if len(history) >= _HISTORY_POINTS else str(len(history))
    if not values:
        return ["-", "-", count]
    return [format_metric(min(values)), format_metric(max(values)), count]


def _artifact_size(run_uri: str, path: str = "") -> int | None:
    """Return the bytes under a run's artifact folder (None when they cannot be read)."""
    return artifact_size(run_uri.rstrip("/") + ("/" + path if path else ""))


def artifact_size(uri: str) -> int | None:
    """Return the total size of the files under an artifact URI, 0 if absent, None on error."""
    try:
        import fsspec

        fs, path = fsspec.core.url_to_fs(uri)
        if not fs.exists(path):
            return 0
        return int(fs.du(path, total=True))
    except Exception:  # sizes are informative only: a remote store may refuse
        return None


# -- compare -------------------------------------------------------------------


@runs.command("compare")
@click.argument("run_ids", metavar="RUN RUN [RUN...]", nargs=-1, required=True)
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Also show the params and metrics that are the same in every run.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the runs, their params and metrics side by side as JSON.",
)
def compare(run_ids: tuple[str, ...], show_all: bool, as_json: bool) -> None:
    """Compare runs side by side, one column per run.

    Rows list the params, then the metrics; rows whose values differ are
    highlighted and marked with ≠. Only those are shown unless --all is given.
    """
    if len(run_ids) < 2:
        raise click.UsageError("give at least two runs to compare")
    client = state().client(create=False)
    found: list[Run] = []
    for given in run_ids:
        run = client.get_run(given)
        if any(r.id == run.id for r in found):
            raise click.UsageError(f"run {short_id(run.id)} is given twice ({given!r})")
        found.append(run)
    params = sorted({k for r in found for k in r.params})
    metrics = sorted(
        {k for r in found for k in r.metrics}, key=lambda k: (k.startswith("system/"), k)
    )
    differing_params = [k for k in params if len({r.params.get(k) for r in found}) > 1]
    differing_metrics = [k for k in metrics if not _same_metric_everywhere(found, k)]
    if as_json:
        from tane.tracking.entities import float_to_json

        click.echo(
            dump_json(
                {
                    "runs": [r.to_json() for r in found],
                    "params": {k: {r.id: r.params.get(k) for r in found} for k in params},
                    "metrics": {
                        k: {
                            r.id: None if k not in r.metrics else float_to_json(r.metrics[k])
                            for r in found
                        }
                        for k in metrics
                    },
                    "differing": {"params": differing_params, "metrics": differing_metrics},
                }
            )
        )
        return
    _print_compare(found, params, metrics, set(differing_params), set(differing_metrics), show_all)


def _same_metric_everywhere(found: Sequence[Run], key: str) -> bool:
    from tane.cli._format import same_metric

    first = found[0].metrics.get(key)
    return all(same_metric(first, r.metrics.get(key)) for r in found[1:])


def _print_compare(
    found: Sequence[Run],
    params: Sequence[str],
    metrics: Sequence[str],
    differing_params: set[str],
    differing_metrics: set[str],
    show_all: bool,
) -> None:
    from rich.table import Table
    from rich.text import Text

    from tane.cli import _render
    from tane.cli._format import format_metric, one_line

    table = Table(header_style="bold", box=None, pad_edge=False)
    table.add_column("", no_wrap=True)
    for run in found:
        header = Text(short_id(run.id), style="bold cyan")
        header.append("\n" + run.name, style="bold")
        table.add_column(header, no_wrap=True, max_width=32)
    table.add_row(Text("experiment", style="dim"), *[r.experiment for r in found])
    table.add_row(Text("status", style="dim"), *[_render.status_badge(r.status) for r in found])
    table.add_row(
        Text("duration", style="dim"), *[_render.run_duration(r, _now_ms()) for r in found]
    )
    hidden = 0
    for section, keys, differing in (
        ("params", params, differing_params),
        ("metrics", metrics, differing_metrics),
    ):
        shown = [k for k in keys if show_all or k in differing]
        hidden += len(keys) - len(shown)
        if not shown:
            continue
        table.add_row()
        table.add_row(Text(section, style="bold underline"))
        for key in shown:
            if section == "params":
                values = [one_line(r.params[key], 32) if key in r.params else "-" for r in found]
            else:
                values = [format_metric(r.metrics.get(key)) for r in found]
            style = "bold yellow" if key in differing else "dim"
            prefix = "≠ " if key in differing else "  "
            table.add_row(
                Text(prefix + key, style=style),
                *[Text(v, style="yellow" if key in differing else "dim") for v in values],
            )
    out = _render.console()
    out.print(table)
    if not show_all and hidden:
        out.print(
            f"[dim]{hidden} identical row{'s' if hidden != 1 else ''} hidden: "
            "--all shows them[/dim]"
        )
    elif not differing_params and not differing_metrics:
        out.print("[dim]The runs have the same params and metrics.[/dim]")


# -- rm / restore --------------------------------------------------------------


@runs.command("rm")
@click.argument("run_ids", metavar="RUN...", nargs=-1, required=True)
def rm(run_ids: tuple[str, ...]) -> None:
    """Delete runs (and their child runs); restorable until `tane gc`."""
    client = state().client(create=False)
    targets = _resolve(client, run_ids)
    client.delete_runs([r.id for r in targets])
    for run in targets:
        was = " (was already deleted)" if run.deleted else ""
        click.echo(f"Deleted run {short_id(run.id)} {run.name}{was}")
    children = client.search_runs(_parent_filter(targets), max_results=1, view="all")
    if children:
        click.echo("Their child runs are deleted with them.")
    ids = " ".join(short_id(r.id) for r in targets)
    click.echo(
        f"Restore with `tane runs restore {ids}`; `tane gc` removes deleted runs "
        "and frees their space for good."
    )


@runs.command("restore")
@click.argument("run_ids", metavar="RUN...", nargs=-1, required=True)
def restore(run_ids: tuple[str, ...]) -> None:
    """Restore deleted runs (and their child runs)."""
    client = state().client(create=False)
    targets = _resolve(client, run_ids)
    client.restore_runs([r.id for r in targets])
    for run in targets:
        was = "" if run.deleted else " (was not deleted)"
        click.echo(f"Restored run {short_id(run.id)} {run.name}{was}")


def _resolve(client: Client, run_ids: Sequence[str]) -> list[Run]:
    found: dict[str, Run] = {}
    for given in run_ids:
        run = client.get_run(given)
        found.setdefault(run.id, run)
    return list(found.values())


def _parent_filter(targets: Sequence[Run]) -> str:
    # Run ids are validated hex strings, so quoting them here is safe.
    ids = ", ".join(f"'{r.id}'" for r in targets)
    return f"attributes.parent_id IN ({ids})"
