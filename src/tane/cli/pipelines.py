"""``tane run``, ``tane pipeline`` and ``tane catalog``: a project's pipelines from the shell."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tane.cli._context import state
from tane.cli._format import dump_json

if TYPE_CHECKING:
    from tane.pipeline.node import Node
    from tane.pipeline.pipeline import Pipeline
    from tane.pipeline.runner import NodeResult, PipelineResult
    from tane.pipeline.session import PipelineApp, PipelineProject


F = TypeVar("F", bound=Callable[..., Any])


def _names(values: tuple[str, ...]) -> list[str]:
    """``--nodes a,b --nodes c`` -> [a, b, c]."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _selection(pipeline_help: str) -> Callable[[F], F]:
    """The options choosing a pipeline and its nodes, shared by `tane run` and `tane sweep`."""

    def decorate(func: F) -> F:
        for option in reversed(
            [
                click.option(
                    "-p",
                    "--pipeline",
                    "pipeline_name",
                    default="__default__",
                    show_default=True,
                    help=pipeline_help,
                ),
                click.option(
                    "-n",
                    "--nodes",
                    multiple=True,
                    metavar="NAMES",
                    help="Only these nodes (comma-separated; repeatable).",
                ),
                click.option(
                    "--from-nodes",
                    multiple=True,
                    metavar="NAMES",
                    help="These nodes and everything downstream of them.",
                ),
                click.option(
                    "--to-nodes",
                    multiple=True,
                    metavar="NAMES",
                    help="These nodes and everything upstream of them.",
                ),
                click.option(
                    "-t",
                    "--tags",
                    multiple=True,
                    metavar="TAGS",
                    help="Only nodes with any of these tags.",
                ),
            ]
        ):
            func = option(func)
        return func

    return decorate


@click.command(context_settings={"ignore_unknown_options": False})
@click.argument("overrides", nargs=-1)
@_selection("Pipeline to run.")
@click.option("--namespace", metavar="NAME", help="Run only the nodes of this namespace.")
@click.option(
    "-r",
    "--runner",
    type=click.Choice(["sequential", "thread", "process", "ray"]),
    default="sequential",
    show_default=True,
    help="How nodes are executed: in order, on threads, on processes, or as Ray tasks.",
)
@click.option(
    "--address",
    metavar="ADDRESS",
    help="With --runner ray: the cluster (auto, HOST:PORT or ray://HOST:10001). Default: "
    "RAY_ADDRESS, else ray: address: in tane.yaml, else a new local Ray instance.",
)
@click.option(
    "--intermediates",
    metavar="URL",
    help="Keep memory datasets as pickles under URL (a folder, s3://...), so runs of "
    "separate nodes in separate processes hand them to each other.",
)
@click.option(
    "-j",
    "--jobs",
    type=int,
    default=None,
    metavar="N",
    help="Workers: node workers for the thread/process runner; with -m, jobs run "
    "side by side in N processes.",
)
@click.option(
    "-m",
    "--multirun",
    is_flag=True,
    help="One run per combination of sweep overrides (a=1,2 b=x,y), under a parent run.",
)
@click.option(
    "--no-cache", is_flag=True, help="Run every node, even those whose cached outputs are current."
)
@click.option(
    "-e",
    "--env",
    metavar="NAME",
    help="Kedro layout: the conf/<NAME> folder laid over conf/base (default local).",
)
@click.option("--experiment", metavar="NAME", help="Experiment to record in.")
@click.option("--name", metavar="NAME", help="Name of the run (or parent run).")
@click.option("--cfg", "show_cfg", is_flag=True, help="Print the composed config and exit.")
@click.option("--resume", metavar="RUN_ID", help="With -m: continue an interrupted multirun.")
def run(
    overrides: tuple[str, ...],
    pipeline_name: str,
    nodes: tuple[str, ...],
    from_nodes: tuple[str, ...],
    to_nodes: tuple[str, ...],
    tags: tuple[str, ...],
    namespace: str | None,
    runner: str,
    address: str | None,
    intermediates: str | None,
    jobs: int | None,
    multirun: bool,
    no_cache: bool,
    env: str | None,
    experiment: str | None,
    name: str | None,
    show_cfg: bool,
    resume: str | None,
) -> None:
    """Run a pipeline of the project as a tracked run, skipping nodes that are cached.

    OVERRIDES change the config as in a @tane.main script: model.lr=0.1,
    +extra=1, ~key; with -m, a=1,2 runs one job per value.
    """
    from tane.errors import InvalidInput
    from tane.pipeline.session import PipelineApp, PipelineProject, RunOptions

    cli = state()
    if cli.store_option:
        os.environ["TANE_STORE"] = cli.store_option  # jobs and workers inherit it
    if jobs is not None and jobs < 1:
        raise InvalidInput(f"--jobs must be at least 1, got {jobs}")
    if address and runner != "ray":
        raise InvalidInput("--address is the Ray cluster of --runner ray: add --runner ray")
    side_by_side = multirun or resume is not None
    options = RunOptions(
        pipeline=pipeline_name,
        nodes=_names(nodes),
        from_nodes=_names(from_nodes),
        to_nodes=_names(to_nodes),
        tags=_names(tags),
        namespace=namespace,
        runner=runner,
        jobs=None if side_by_side else jobs,
        use_cache=not no_cache,
        env=env,
        progress=not side_by_side,
        address=address,
        intermediates=intermediates,
    )
    project = PipelineProject.find(env=env)
    progress = ConsoleProgress(pipeline_name) if options.progress else None
    app = PipelineApp(project, options, experiment, [progress] if progress else [])
    if show_cfg:
        app.print_config(list(overrides), resolve=False)
        return
    if side_by_side:
        if runner == "ray":
            app.cluster()  # started here once; the jobs' processes join it (RAY_ADDRESS)
        try:
            results = app.multirun(list(overrides), jobs or 1, resume, name)
        finally:
            app.close()
        if any(r.status != "FINISHED" for r in results):
            sys.exit(1)
        return
    try:
        _, run_id = app.run(list(overrides), name=name)
    finally:
        if progress is not None:
            progress.close()
        app.close()
    _report(app, run_id)


@click.command()
@click.argument("overrides", nargs=-1)
@_selection("Pipeline each trial runs.")
@click.option("--trials", type=int, default=None, metavar="N", help="How many trials (default 20).")
@click.option(
    "--sampler",
    default=None,
    metavar="NAME",
    help="tpe (default), random, grid, cmaes, gp, nsgaii, motpe, qmc.",
)
@click.option(
    "--direction",
    default=None,
    metavar="DIR",
    help="minimize (default) or maximize; comma-separated for several objectives.",
)
@click.option(
    "--objective",
    default=None,
    metavar="METRIC",
    help="Metric(s) a node logs with tane.log_metric to optimize.",
)
@click.option(
    "--pruner",
    default=None,
    metavar="NAME",
    help="none (default), median, percentile, halving, hyperband.",
)
@click.option("--timeout", type=float, default=None, metavar="S", help="Stop asking after S s.")
@click.option("--seed", type=int, default=None, metavar="N", help="Seed of the sampler.")
@click.option(
    "--target", type=float, default=None, metavar="V", help="Stop once the best value reaches V."
)
@click.option(
    "--constraint",
    default=None,
    metavar="METRIC",
    help="Metric(s) a node logs that must be <= 0 for a trial to be feasible.",
)
@click.option(
    "-j",
    "--jobs",
    type=int,
    default=1,
    metavar="N",
    help="Trials side by side: N worker processes, or N Ray tasks with --launcher ray.",
)
@click.option(
    "--launcher",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where trials run: this machine's processes, or Ray tasks on a cluster.",
)
@click.option(
    "--address",
    metavar="ADDRESS",
    help="With --launcher ray: the cluster (auto, HOST:PORT or ray://HOST:10001).",
)
@click.option("--no-cache", is_flag=True, help="Run every node of every trial.")
@click.option("-e", "--env", metavar="NAME", help="Kedro layout: the conf/<NAME> folder.")
@click.option("--experiment", metavar="NAME", help="Experiment to record in.")
@click.option("--name", metavar="NAME", help="Name of the sweep's parent run.")
@click.option("--resume", metavar="RUN_ID", help="Continue an interrupted sweep.")
def sweep(
    overrides: tuple[str, ...],
    pipeline_name: str,
    nodes: tuple[str, ...],
    from_nodes: tuple[str, ...],
    to_nodes: tuple[str, ...],
    tags: tuple[str, ...],
    trials: int | None,
    sampler: str | None,
    direction: str | None,
    objective: str | None,
    pruner: str | None,
    timeout: float | None,
    seed: int | None,
    target: float | None,
    constraint: str | None,
    jobs: int,
    launcher: str,
    address: str | None,
    no_cache: bool,
    env: str | None,
    experiment: str | None,
    name: str | None,
    resume: str | None,
) -> None:
    """Search a pipeline's params: every trial a pipeline run, cached nodes reused.

    OVERRIDES give the search space in Hydra's sweep syntax:
    model.lr='tag(log, interval(1e-3, 0.3))', model.depth='range(2, 9)',
    model=a,b; fixed overrides (trainer.epochs=5) apply to every trial.
    """
    from argparse import Namespace

    from tane.errors import InvalidInput
    from tane.pipeline.session import PipelineApp, PipelineProject, RunOptions

    cli = state()
    if cli.store_option:
        os.environ["TANE_STORE"] = cli.store_option
    if jobs < 1:
        raise InvalidInput(f"--jobs must be at least 1, got {jobs}")
    if address and launcher != "ray":
        raise InvalidInput("--address is the Ray cluster of --launcher ray: add --launcher ray")
    options = RunOptions(
        pipeline=pipeline_name,
        nodes=_names(nodes),
        from_nodes=_names(from_nodes),
        to_nodes=_names(to_nodes),
        tags=_names(tags),
        use_cache=not no_cache,
        env=env,
        progress=False,
        address=address,
    )
    project = PipelineProject.find(env=env)
    app = PipelineApp(project, options, experiment)
    args = Namespace(
        sampler=sampler,
        direction=direction,
        objective=objective,
        pruner=pruner,
        trials=trials,
        timeout=timeout,
        seed=seed,
        target=target,
        constraint=constraint,
    )
    try:
        outcome = app.sweep(list(overrides), app.sweep_settings(args), jobs, resume, name, launcher)
    finally:
        app.close()
    _cache_report(outcome)


def _cache_report(outcome: Any) -> None:
    """How many node executions the cache saved across the trials."""
    import tane

    client = tane.Client()
    ran = cached = 0
    for result in outcome.trials:
        if not result.run_id:
            continue
        tags = client.get_run(result.run_id).tags
        ran += int(tags.get("tane.nodes.ran", 0))
        cached += int(tags.get("tane.nodes.cached", 0))
    if ran or cached:
        click.echo(
            f"nodes: {ran} ran, {cached} taken from the cache across {len(outcome.trials)} trials"
        )


def _report(app: PipelineApp, run_id: str) -> None:
    # click's styling, not rich: a cached run should not pay for importing rich.
    result = app.last_result
    if result is None:
        return
    ran, cached, count = len(result.ran), len(result.cached), len(result.nodes)
    saved = _saved(result)
    click.echo(
        f"{click.style(app.options.pipeline, bold=True)}: {count} "
        f"{'node' if count == 1 else 'nodes'}, {click.style(f'{ran} ran', fg='green')}, "
        f"{click.style(f'{cached} cached', fg='cyan')} in {result.duration:.2f} s"
        + (f" (saved {saved:.1f} s)" if cached and saved >= 0.05 else "")
    )
    click.echo(f"Run {click.style(run_id, fg='cyan')}: `tane runs show {run_id}`")


def _saved(result: PipelineResult) -> float:
    return sum(n.saved_duration for n in result.nodes if n.status == "cached")


class ConsoleProgress:
    """Shows nodes as they run: a live line on a terminal, a line per node otherwise."""

    def __init__(self, name: str) -> None:
        self.tty = sys.stderr.isatty()
        self.out: Any = None
        if self.tty:
            from tane.cli._render import console

            self.out = console(stderr=True)
        self.name = name
        self.total = 0
        self.done = 0
        self.current: dict[str, float] = {}
        self.live: Any = None
        self.started = time.perf_counter()

    def pipeline_started(self, pipeline: Pipeline, total: int) -> None:
        self.total = total
        self.started = time.perf_counter()
        if self.tty:
            from rich.live import Live

            self.live = Live(self._status(), console=self.out, refresh_per_second=8, transient=True)
            self.live.start()

    def _status(self) -> Any:
        from rich.text import Text

        running = ", ".join(self.current) or "-"
        elapsed = time.perf_counter() - self.started
        return Text.assemble(
            (f"  {self.done}/{self.total} nodes", "bold"),
            f"  {elapsed:.1f} s  running: ",
            (running, "yellow"),
        )

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._status())

    def node_started(self, node: Node, inputs: Mapping[str, Any] | None) -> None:
        self.current[node.name] = time.perf_counter()
        self._refresh()

    def node_finished(
        self, node: Node, result: NodeResult, outputs: Mapping[str, Any] | None
    ) -> None:
        self.current.pop(node.name, None)
        self.done += 1
        if result.status == "cached":
            self._line("cached", "cyan", node.name, "")
        else:
            retry = f" (attempt {result.attempts})" if result.attempts > 1 else ""
            self._line("ran", "green", node.name, f"{result.duration:.2f} s{retry}")
        self._refresh()

    def _line(self, status: str, color: str, name: str, detail: str) -> None:
        if self.out is not None:
            text = f"  [{color}]{status:<7}[/] {name}" + (f"  [dim]{detail}[/]" if detail else "")
            self.out.print(text, highlight=False)
            return
        click.echo(
            f"  {click.style(f'{status:<7}', fg=color)} {name}" + (f"  {detail}" if detail else ""),
            err=True,
        )

    def node_failed(self, node: Node, error: BaseException, inputs: Mapping[str, Any]) -> None:
        self.current.pop(node.name, None)
        self._line("failed", "red", node.name, "")
        self._refresh()

    def pipeline_finished(self, result: PipelineResult) -> None:
        self.close()

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


# -- tane pipeline ------------------------------------------------------------------------


@click.group()
def pipeline() -> None:
    """Show the project's pipelines and their nodes."""


@pipeline.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print the pipelines as JSON.")
def pipeline_ls(as_json: bool) -> None:
    """List the project's pipelines with their number of nodes."""
    project = _project()
    found = project.pipelines()
    if as_json:
        click.echo(dump_json({name: len(p.nodes) for name, p in found.items()}))
        return
    if not found:
        click.echo(
            f"No pipelines in {project.root}: add src/{project.package}/pipelines/<name>/"
            "pipeline.py with create_pipeline()"
        )
        return
    for name, pipe in found.items():
        click.echo(f"{name}  ({len(pipe.nodes)} nodes)")


@pipeline.command("show")
@click.argument("name", default="__default__")
@click.option("--json", "as_json", is_flag=True, help="Print nodes and edges as JSON.")
def pipeline_show(name: str, as_json: bool) -> None:
    """Print the DAG of a pipeline: nodes in order, what each reads and writes."""
    project = _project()
    pipe = project.pipeline(name)
    if as_json:
        click.echo(dump_json(pipe.to_json()))
        return
    from rich.tree import Tree

    from tane.cli._render import console

    out = console()
    producers = pipe.producers()
    tree = Tree(f"[bold]{name}[/] ({len(pipe.nodes)} nodes)")
    for depth, layer in enumerate(pipe.layers()):
        branch = tree.add(f"[dim]step {depth + 1}[/]")
        for n in layer:
            label = f"[bold]{n.name}[/]"
            if n.tags:
                label += f"  [dim]tags: {', '.join(sorted(n.tags))}[/]"
            node_branch = branch.add(label)
            for i in n.inputs:
                source = producers.get(i)
                origin = f" [dim]<- {source.name}[/]" if source is not None else ""
                style = "magenta" if i.startswith("params:") or i == "parameters" else "cyan"
                node_branch.add(f"in  [{style}]{i}[/]{origin}")
            for o in n.outputs:
                node_branch.add(f"out [green]{o}[/]")
    out.print(tree)


# -- tane catalog -------------------------------------------------------------------------


@click.group()
def catalog() -> None:
    """List the datasets of the project's catalog."""


@catalog.command("ls")
@click.option(
    "-p",
    "--pipeline",
    "pipeline_name",
    default=None,
    help="Only datasets this pipeline uses (with the memory ones it passes around).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the datasets as JSON.")
def catalog_ls(pipeline_name: str | None, as_json: bool) -> None:
    """List datasets with type, path, layer and last version."""
    project = _project()
    from tane.pipeline.session import DEFAULT_PIPELINE

    cfg = project.composer().compose([])
    cat = project.catalog(cfg)
    names = set(cat.names())
    used: set[str] = set()
    if pipeline_name is not None or project.pipelines():
        pipe = project.pipeline(pipeline_name or DEFAULT_PIPELINE)
        used = pipe.datasets()
        if pipeline_name is not None:
            names &= used
    rows = []
    for name in sorted(names | used):
        if name in cat:
            info = cat.describe(name)
            rows.append(
                {
                    "name": name,
                    "type": info.get("type"),
                    "path": info.get("path") or info.get("filepath"),
                    "layer": info.get("layer"),
                    "versioned": bool(info.get("versioned")),
                    "last_version": _last_version(cat, name, info),
                    "used": name in used,
                }
            )
        else:
            rows.append(
                {
                    "name": name,
                    "type": "memory",
                    "path": None,
                    "layer": None,
                    "versioned": False,
                    "last_version": None,
                    "used": True,
                }
            )
    if as_json:
        click.echo(dump_json(rows))
        return
    from rich.table import Table

    from tane.cli._render import console

    table = Table(header_style="bold", box=None, pad_edge=False)
    for col in ("Name", "Type", "Path", "Layer", "Last version"):
        table.add_column(col)
    for row in rows:
        table.add_row(
            str(row["name"]),
            str(row["type"]),
            str(row["path"] or "-"),
            str(row["layer"] or "-"),
            str(row["last_version"] or ("-" if not row["versioned"] else "none yet")),
        )
    console().print(table)


def _last_version(cat: Any, name: str, info: Mapping[str, Any]) -> str | None:
    if not info.get("versioned"):
        return None
    versions = getattr(cat.get(name), "versions", None)
    if callable(versions):
        found = versions()
        return str(found[-1]) if found else None
    return None


def _project() -> PipelineProject:
    from tane.pipeline.session import PipelineProject

    return PipelineProject.find()
