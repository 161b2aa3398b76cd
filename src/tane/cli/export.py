"""``tane export airflow|kubeflow``: a project's pipeline as an orchestrator's graph."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from tane.pipeline.export import Task
    from tane.pipeline.session import PipelineProject

F = TypeVar("F", bound=Callable[..., Any])


@click.group()
def export() -> None:
    """Export a pipeline as an Airflow DAG or a Kubeflow pipeline: a task per node."""


def _shared(func: F) -> F:
    """The options of both exporters: which pipeline, how tasks are cut and what they run."""
    for option in reversed(
        [
            click.option(
                "-p",
                "--pipeline",
                "pipeline_name",
                default="__default__",
                show_default=True,
                metavar="NAME",
                help="Pipeline to export.",
            ),
            click.option(
                "-o",
                "--output",
                required=True,
                type=click.Path(dir_okay=False, path_type=Path),
                metavar="FILE",
                help="File to write.",
            ),
            click.option(
                "--intermediates",
                metavar="URL",
                help="Where tasks save the memory datasets they pass on "
                "(`tane run --intermediates`), e.g. s3://bucket/prefix.",
            ),
            click.option(
                "--retries",
                type=int,
                default=2,
                show_default=True,
                metavar="N",
                help="Retries of a failed task.",
            ),
            click.option(
                "--group-by",
                type=click.Choice(["node", "namespace"]),
                default="node",
                show_default=True,
                help="One task per node, or per top-level namespace.",
            ),
            click.option("--experiment", metavar="NAME", help="Experiment the runs go to."),
            click.option(
                "-e",
                "--env",
                metavar="NAME",
                help="Kedro layout: the conf/<NAME> folder the tasks run with.",
            ),
        ]
    ):
        func = option(func)
    return func


@export.command("airflow")
@_shared
@click.option("--retry-delay", type=float, metavar="SECONDS", help="Wait between retries.")
@click.option("--dag-id", metavar="ID", help="The DAG's id. Default: <project>_<pipeline>.")
@click.option("--schedule", metavar="CRON", help="Cron expression or preset (@daily).")
@click.option(
    "--workdir",
    metavar="PATH",
    help="The project folder on the Airflow workers. Default: the project root here.",
)
def airflow(
    pipeline_name: str,
    output: Path,
    intermediates: str | None,
    retries: int,
    group_by: str,
    experiment: str | None,
    env: str | None,
    retry_delay: float | None,
    dag_id: str | None,
    schedule: str | None,
    workdir: str | None,
) -> None:
    """Write an Airflow 3 DAG file: a task per node running `tane run --nodes ...`.

    Task dependencies follow the pipeline's datasets. Memory datasets passed
    between tasks need --intermediates (or catalog entries).
    """
    from tane.pipeline.export import RunCommand, airflow_dag, default_dag_id

    project, tasks = _plan(pipeline_name, env, group_by, intermediates)
    command = RunCommand(pipeline_name, intermediates, experiment, env)
    regenerate = _regenerate(
        "airflow",
        project,
        output,
        [
            ("--pipeline", pipeline_name),
            ("--intermediates", intermediates),
            ("--retries", None if retries == 2 else str(retries)),
            ("--retry-delay", None if retry_delay is None else f"{retry_delay:g}"),
            ("--dag-id", dag_id),
            ("--schedule", schedule),
            ("--workdir", workdir),
            ("--experiment", experiment),
            ("--env", env),
            ("--group-by", None if group_by == "node" else group_by),
        ],
    )
    dag_id = dag_id or default_dag_id(project.name, pipeline_name)
    source = airflow_dag(
        tasks,
        command,
        dag_id=dag_id,
        workdir=workdir or str(project.root.resolve()),
        retries=retries,
        retry_delay=retry_delay,
        schedule=schedule,
        project=project.name,
        regenerate=regenerate,
    )
    _write(output, source)
    click.echo(
        f"Wrote {output}: DAG {click.style(dag_id, bold=True)} with {_count(tasks)} "
        f"({', '.join(t.id for t in tasks)})"
    )


@export.command("kubeflow")
@_shared
@click.option(
    "--image",
    required=True,
    metavar="IMAGE",
    help="Container image with tane and the project, its working folder the project folder.",
)
@click.option(
    "--kfp-python",
    metavar="PATH",
    help="Python with kfp that compiles the pipeline. Default: this one, if it has kfp.",
)
@click.option(
    "--dsl",
    "dsl_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also keep the generated kfp DSL source in FILE.",
)
def kubeflow(
    pipeline_name: str,
    output: Path,
    intermediates: str | None,
    retries: int,
    group_by: str,
    experiment: str | None,
    env: str | None,
    image: str,
    kfp_python: str | None,
    dsl_file: Path | None,
) -> None:
    """Compile a Kubeflow Pipelines v2 YAML: a container task per node running `tane run`.

    The pipeline is written with kfp's DSL and compiled by kfp's compiler,
    run with --kfp-python when kfp lives in another virtualenv.
    """
    from tane.errors import InvalidInput
    from tane.pipeline import export as exporting

    if output.suffix not in (".yaml", ".yml"):
        raise InvalidInput(f"-o {output}: kfp compiles pipelines to YAML; name the file .yaml")
    python = exporting.kfp_python(kfp_python)
    project, tasks = _plan(pipeline_name, env, group_by, intermediates)
    command = exporting.RunCommand(pipeline_name, intermediates, experiment, env)
    regenerate = _regenerate(
        "kubeflow",
        project,
        output,
        [
            ("--pipeline", pipeline_name),
            ("--image", image),
            ("--intermediates", intermediates),
            ("--retries", None if retries == 2 else str(retries)),
            ("--experiment", experiment),
            ("--env", env),
            ("--group-by", None if group_by == "node" else group_by),
        ],
    )
    name = exporting.default_kubeflow_name(project.name, pipeline_name)
    source = exporting.kubeflow_dsl(
        tasks,
        command,
        image=image,
        name=name,
        retries=retries,
        project=project.name,
        regenerate=regenerate,
    )
    exporting.compile_kubeflow(source, output, python, dsl_file)
    kept = f" (DSL in {dsl_file})" if dsl_file else ""
    click.echo(
        f"Wrote {output}: Kubeflow pipeline {click.style(name, bold=True)} with "
        f"{_count(tasks)} ({', '.join(t.id.replace('_', '-') for t in tasks)}){kept}"
    )


def _plan(
    pipeline_name: str, env: str | None, group_by: str, intermediates: str | None
) -> tuple[PipelineProject, list[Task]]:
    from tane.pipeline.export import plan_tasks
    from tane.pipeline.session import PipelineProject

    project = PipelineProject.find(env=env)
    pipe = project.pipeline(pipeline_name)
    catalog = project.catalog(project.composer().compose([]))
    return project, plan_tasks(pipe, catalog, group_by=group_by, intermediates=intermediates)


def _regenerate(
    kind: str,
    project: PipelineProject,
    output: Path,
    options: Sequence[tuple[str, str | None]],
) -> str:
    """The command that writes the same file again, run in the project folder."""
    target = output.resolve()
    root = project.root.resolve()
    shown = target.relative_to(root) if target.is_relative_to(root) else target
    parts = ["tane", "export", kind]
    for flag, value in [*options[:1], ("-o", str(shown)), *options[1:]]:
        if value is not None:
            parts += [flag, value]
    return shlex.join(parts)


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _count(tasks: Sequence[Task]) -> str:
    return f"{len(tasks)} task" + ("" if len(tasks) == 1 else "s")
