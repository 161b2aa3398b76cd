"""A pipeline as an orchestrator's graph: an Airflow DAG file or a Kubeflow pipeline.

Every task of the exported graph runs ``tane run --pipeline P --nodes ...`` for
its nodes, so a task is a tracked run like any other and skips what is cached.
Tasks are separate processes: a memory dataset one task writes and another reads
must go through storage, which ``tane run --intermediates URL`` provides (each
memory dataset pickled at ``URL/<name>.pkl``).

Nothing here imports Airflow or kfp: the generators return Python source. The
Kubeflow source is compiled by running it with a Python that has kfp
(:func:`compile_kubeflow`), which may be another virtualenv.

    from tane.pipeline.export import RunCommand, airflow_dag, plan_tasks

    tasks = plan_tasks(pipe, catalog, intermediates="s3://bucket/prefix")
    source = airflow_dag(tasks, RunCommand("main", "s3://bucket/prefix"),
                         dag_id="demo_main", workdir="/srv/demo")
"""

from __future__ import annotations

import importlib.util
import json
import keyword
import os
import re
import shlex
import subprocess
import sys
import tempfile
import unicodedata
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from tane.errors import InvalidInput, PipelineError

if TYPE_CHECKING:
    from tane.pipeline.node import Node
    from tane.pipeline.pipeline import Pipeline

DEFAULT_PIPELINE = "__default__"
GROUP_BY = ("node", "namespace")
#: Names the generated files use: a task may not take them.
_RESERVED = frozenset(
    {"dag", "bashoperator", "timedelta", "workdir", "dsl", "compiler", "sys", "image", "pipeline"}
)
_MAX_ID = 100
_DAG_ID = re.compile(r"[A-Za-z0-9_.-]{1,250}")
_KFP_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,127}")
_INTERMEDIATES_HINT = "--intermediates s3://bucket/prefix"


@dataclass(frozen=True)
class Task:
    """One task of an exported pipeline: the nodes one ``tane run`` runs.

    Attributes:
        id: Unique in the export: lower-case letters, digits and single ``_``
            (an Airflow task id and a Python name; Kubeflow shows ``_`` as ``-``).
        label: The node name, or the namespace of a group of nodes.
        nodes: Names of its nodes, in pipeline order.
        upstream: Ids of the tasks it waits for, in task order.
    """

    id: str
    label: str
    nodes: tuple[str, ...]
    upstream: tuple[str, ...]


@dataclass(frozen=True)
class RunCommand:
    """The ``tane run`` that every task runs for its own nodes.

    Attributes:
        pipeline: The pipeline's name.
        intermediates: Where memory datasets are saved between tasks (a URL or
            folder), or None.
        experiment: The experiment the runs are recorded in (default: the project's).
        env: Kedro layout: the ``conf/<env>`` folder.
    """

    pipeline: str = DEFAULT_PIPELINE
    intermediates: str | None = None
    experiment: str | None = None
    env: str | None = None

    def args(self, nodes: Sequence[str]) -> list[str]:
        """The arguments after ``tane``: ``run --pipeline P --nodes a,b ...``."""
        args = ["run", "--pipeline", self.pipeline, "--nodes", ",".join(nodes)]
        if self.intermediates:
            args += ["--intermediates", self.intermediates]
        if self.experiment:
            args += ["--experiment", self.experiment]
        if self.env:
            args += ["--env", self.env]
        return args


# -- the tasks -----------------------------------------------------------------------------


def plan_tasks(
    pipe: Pipeline,
    catalog: Container[str],
    *,
    group_by: str = "node",
    intermediates: str | None = None,
) -> list[Task]:
    """Split a pipeline into tasks, in an order where each task follows its upstream tasks.

    Args:
        pipe: The pipeline.
        catalog: The catalog (a DataCatalog, or the names it declares): datasets
            it does not hold are memory datasets.
        group_by: ``node`` (one task per node) or ``namespace`` (one task per
            top-level namespace; nodes without one are tasks of their own).
        intermediates: Where ``tane run --intermediates`` saves memory datasets;
            without it no memory dataset may pass between tasks.

    Raises:
        PipelineError: A memory dataset (one the catalog does not hold, or holds
            as a MemoryDataset) passes between tasks without ``intermediates``,
            grouping by namespace makes a cycle, or a node name cannot be given
            to ``tane run --nodes``.
        InvalidInput: ``group_by`` is unknown.
    """
    if group_by not in GROUP_BY:
        raise InvalidInput(f"group_by must be one of {', '.join(GROUP_BY)}, got {group_by!r}")
    nodes = pipe.nodes
    if not nodes:
        raise PipelineError("the pipeline has no nodes: there is nothing to export")
    for n in nodes:
        if "," in n.name or n.name != n.name.strip():
            raise PipelineError(
                f"node {n.name!r} cannot be selected with `tane run --nodes` (its name has a "
                "comma or leading/trailing spaces): give the node another name="
            )

    groups: dict[tuple[str, str], list[Node]] = {}
    for n in nodes:
        groups.setdefault(_group_key(n, group_by), []).append(n)
    keys = list(groups)
    ids = _unique_ids([key[1] for key in keys])
    task_of = {n.name: ids[i] for i, key in enumerate(keys) for n in groups[key]}
    label = {ids[i]: key[1] for i, key in enumerate(keys)}
    kind = {ids[i]: key[0] for i, key in enumerate(keys)}

    producers = pipe.producers()
    upstream: dict[str, set[str]] = {tid: set() for tid in ids}
    crossing: dict[str, list[tuple[str, str]]] = {}
    for n in nodes:
        for name in n.dataset_inputs:
            source = producers.get(name)
            if source is None or task_of[source.name] == task_of[n.name]:
                continue
            upstream[task_of[n.name]].add(task_of[source.name])
            edges = crossing.setdefault(name, [])
            if (source.name, n.name) not in edges:
                edges.append((source.name, n.name))

    _check_crossing(crossing, catalog, intermediates)
    order = _toposort(ids, upstream, label, kind)
    position = {tid: i for i, tid in enumerate(order)}
    members = {ids[i]: tuple(n.name for n in groups[key]) for i, key in enumerate(keys)}
    return [
        Task(
            id=tid,
            label=label[tid],
            nodes=members[tid],
            upstream=tuple(sorted(upstream[tid], key=position.__getitem__)),
        )
        for tid in order
    ]


def _group_key(n: Node, group_by: str) -> tuple[str, str]:
    if group_by == "namespace" and n.namespace:
        return ("namespace", n.namespace.split(".")[0])
    return ("node", n.name)


def _check_crossing(
    crossing: dict[str, list[tuple[str, str]]],
    catalog: Container[str],
    intermediates: str | None,
) -> None:
    from tane.pipeline.catalog import DataCatalog
    from tane.pipeline.datasets.memory import MemoryDataset

    def listed(names: Iterable[str]) -> str:
        parts = []
        for name in sorted(names):
            edges = ", ".join(f"{src} -> {dst}" for src, dst in crossing[name])
            parts.append(f"{name!r} ({edges})")
        return ", ".join(parts)

    memory = [
        name
        for name in crossing
        if name not in catalog
        or (isinstance(catalog, DataCatalog) and isinstance(catalog.get(name), MemoryDataset))
    ]
    if memory and not intermediates:
        raise PipelineError(
            f"memory datasets pass between tasks: {listed(memory)}; each task is its own "
            f"`tane run` process: pass {_INTERMEDIATES_HINT} to save them there, or give "
            "them file datasets in the catalog (conf/catalog.yaml)"
        )


def _toposort(
    ids: list[str], upstream: dict[str, set[str]], label: dict[str, str], kind: dict[str, str]
) -> list[str]:
    """Tasks in dependency order (first-node order among ready ones); name any cycle."""
    from tane.pipeline.pipeline import stable_order

    order, pending = stable_order(ids, upstream)
    if not pending:
        return order
    cycle = _cycle(upstream, pending)
    path = " -> ".join(f"{kind[t]} {label[t]!r}" for t in cycle)
    raise PipelineError(
        f"grouping the nodes by namespace makes the tasks depend on each other in a cycle: "
        f"{path}; group by node (--group-by node), or move the nodes in between into the "
        "namespace"
    )


def _cycle(upstream: dict[str, set[str]], pending: list[str]) -> list[str]:
    """A cycle among ``pending`` tasks, in data-flow order (first task repeated at the end)."""
    path: list[str] = []
    seen: set[str] = set()
    current = pending[0]
    while current not in seen:
        seen.add(current)
        path.append(current)
        current = min(d for d in upstream[current] if d in pending)
    cycle = [*path[path.index(current) :], current]
    return list(reversed(cycle))


def task_id(name: str) -> str:
    """A node or namespace name as a task id: ``"Scale Up!"`` -> ``"scale_up"``.

    Lower-case ASCII letters, digits and single underscores; it starts with a
    letter, so it is a valid Airflow task id, Python name and (``_`` as ``-``)
    Kubeflow task name.

    Example:
        >>> task_id("eu.Train model"), task_id("1st"), task_id("Café")
        ('eu_train_model', 'task_1st', 'cafe')
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:_MAX_ID].rstrip("_")
    if not text:
        return "task"
    if text[0].isdigit():
        return f"task_{text}"
    return text


def _unique_ids(names: Sequence[str]) -> list[str]:
    taken: set[str] = set(_RESERVED) | set(keyword.kwlist)
    out = []
    for name in names:
        out.append(_unique(task_id(name), taken))
    return out


def _unique(base: str, taken: set[str]) -> str:
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}_{n}"
    taken.add(candidate)
    return candidate


# -- Airflow --------------------------------------------------------------------------------


def default_dag_id(project: str, pipeline: str) -> str:
    """``<project>_<pipeline>`` (the project alone for ``__default__``) as an Airflow DAG id."""
    name = project if pipeline == DEFAULT_PIPELINE else f"{project}_{pipeline}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:250] or "tane"


def airflow_dag(
    tasks: Sequence[Task],
    command: RunCommand,
    *,
    dag_id: str,
    workdir: str,
    retries: int = 2,
    retry_delay: float | None = None,
    schedule: str | None = None,
    project: str | None = None,
    regenerate: str | None = None,
) -> str:
    """The source of an Airflow 3 DAG file: a BashOperator per task running ``tane run``.

    The same arguments give the same text.

    Args:
        tasks: From :func:`plan_tasks`.
        command: The ``tane run`` each task runs for its nodes.
        dag_id: The DAG's id.
        workdir: The project folder on the Airflow workers (absolute).
        retries: Retries of a failed task.
        retry_delay: Seconds between retries (default: Airflow's).
        schedule: A cron expression or preset (``@daily``); None: triggered by hand.
        project: The project's name, for the header and description.
        regenerate: The command that makes this file again, for the header.

    Raises:
        InvalidInput: The DAG id, workdir, retries or retry delay is not acceptable.
    """
    if not _DAG_ID.fullmatch(dag_id):
        raise InvalidInput(
            f"DAG id {dag_id!r}: Airflow takes letters, digits, '_', '-' and '.' (at most "
            f"250), e.g. {default_dag_id(dag_id, DEFAULT_PIPELINE)!r}"
        )
    if not (PurePosixPath(workdir).is_absolute() or workdir.startswith("{{")):
        raise InvalidInput(
            f"workdir {workdir!r} must be an absolute path: the project folder on the "
            "Airflow workers"
        )
    _check_retries(retries)
    if retry_delay is not None and retry_delay < 0:
        raise InvalidInput(f"retry delay must be at least 0 seconds, got {retry_delay}")
    if not tasks:
        raise InvalidInput("an Airflow DAG needs at least one task")

    what = _what(command.pipeline, project)
    per = "namespace" if any(len(t.nodes) > 1 for t in tasks) else "node"
    default_args = f'"retries": {retries}'
    if retry_delay is not None:
        default_args += f', "retry_delay": timedelta(seconds={_number(retry_delay)})'
    lines = _header("airflow", what, regenerate)
    lines += [
        f'"""The {_line(what)} as an Airflow DAG: one task per {per}.',
        "",
        "Each task runs `tane run` for its nodes in WORKDIR, the project folder on the",
        "workers, where tane and the project's dependencies must be installed.",
    ]
    if command.intermediates:
        lines += [
            "Memory datasets passed between tasks are saved as pickles under",
            f"{_line(command.intermediates)}.",
        ]
    lines += ['"""', ""]
    if retry_delay is not None:
        lines += ["from datetime import timedelta", ""]
    lines += [
        "from airflow.providers.standard.operators.bash import BashOperator",
        "from airflow.sdk import DAG",
        "",
        f"WORKDIR = {_str(workdir)}",
        "",
        "with DAG(",
        f"    dag_id={_str(dag_id)},",
        f"    description={_str(what)},",
        f"    schedule={_str(schedule) if schedule else 'None'},",
        "    catchup=False,",
        "    # Every run writes the catalog's paths (and the intermediates): one run at a time.",
        "    max_active_runs=1,",
        f"    default_args={{{default_args}}},",
        '    tags=["tane"],',
        "):",
    ]
    for t in tasks:
        lines += [
            f"    {t.id} = BashOperator(",
            f"        task_id={_str(t.id)},",
            f"        bash_command={_str(bash_command(command, t.nodes))},",
            "        cwd=WORKDIR,",
            "    )",
        ]
    edges = [t for t in tasks if t.upstream]
    if edges:
        lines.append("")
    for t in edges:
        source = t.upstream[0] if len(t.upstream) == 1 else f"[{', '.join(t.upstream)}]"
        lines.append(f"    {source} >> {t.id}")
    return "\n".join(lines) + "\n"


def bash_command(command: RunCommand, nodes: Sequence[str]) -> str:
    """The shell command of an Airflow task: ``tane run ...``, quoted for bash."""
    text = shlex.join(["tane", *command.args(nodes)])
    # Airflow reads a bash_command ending in .sh or .bash as a template file's name.
    if text.endswith((".sh", ".bash")):
        text += " "
    return text


# -- Kubeflow -------------------------------------------------------------------------------


def default_kubeflow_name(project: str, pipeline: str) -> str:
    """``<project>-<pipeline>`` (the project alone for ``__default__``) as a Kubeflow name."""
    name = project if pipeline == DEFAULT_PIPELINE else f"{project}-{pipeline}"
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:128].rstrip("-")
    return text or "tane"


def kubeflow_dsl(
    tasks: Sequence[Task],
    command: RunCommand,
    *,
    image: str,
    name: str,
    retries: int = 2,
    project: str | None = None,
    regenerate: str | None = None,
) -> str:
    """The source of a kfp v2 script that compiles the pipeline: ``python FILE OUT.yaml``.

    One container component per task, running ``tane run`` in ``image``; tasks
    ordered with ``.after()``, retried with ``.set_retry()``, and Kubeflow's own
    cache off (tane's cache decides what runs). The same arguments give the same text.

    Args:
        tasks: From :func:`plan_tasks`.
        command: The ``tane run`` each task runs for its nodes.
        image: The container image: tane and the project installed, its working
            folder the project folder.
        name: The pipeline's name in Kubeflow (lower-case letters, digits, ``-``).
        retries: Retries of a failed task.
        project: The project's name, for the header and description.
        regenerate: The command that makes the pipeline again, for the header.

    Raises:
        InvalidInput: The image, name or retries is not acceptable.
    """
    if not image or any(c.isspace() for c in image):
        raise InvalidInput(f"image {image!r}: give an image reference like registry/name:tag")
    if not _KFP_NAME.fullmatch(name):
        raise InvalidInput(
            f"Kubeflow pipeline name {name!r}: use lower-case letters, digits and '-' (at "
            f"most 128, starting with a letter or digit), e.g. "
            f"{default_kubeflow_name(name, DEFAULT_PIPELINE)!r}"
        )
    _check_retries(retries)
    if not tasks:
        raise InvalidInput("a Kubeflow pipeline needs at least one task")

    what = _what(command.pipeline, project)
    per = "namespace" if any(len(t.nodes) > 1 for t in tasks) else "node"
    lines = _header("kubeflow", what, regenerate)
    lines += [
        f'"""The {_line(what)} as a Kubeflow pipeline: one task per {per}.',
        "",
        "Compile it with `python THIS_FILE OUTPUT.yaml` where kfp is installed. Each task",
        "runs `tane run` for its nodes in IMAGE, whose working folder is the project folder.",
    ]
    if command.intermediates:
        lines += [
            "Memory datasets passed between tasks are saved as pickles under",
            f"{_line(command.intermediates)}.",
        ]
    lines += [
        '"""',
        "",
        "import sys",
        "",
        "from kfp import compiler, dsl",
        "",
        f"IMAGE = {_str(image)}",
    ]
    for t in tasks:
        lines += [
            "",
            "",
            "@dsl.container_component",
            f"def {t.id}():",
            "    return dsl.ContainerSpec(",
            "        image=IMAGE,",
            '        command=["tane"],',
            *_list("args", command.args(t.nodes), indent=8),
            "    )",
        ]
    lines += [
        "",
        "",
        f"@dsl.pipeline(name={_str(name)}, description={_str(what)})",
        "def pipeline():",
        "    # tane's cache decides what runs: Kubeflow's would skip tasks without inputs.",
    ]
    taken = {t.id for t in tasks} | set(_RESERVED)
    variable = {t.id: _unique(f"{t.id}_task", taken) for t in tasks}
    for t in tasks:
        after = "".join(f".after({variable[u]})" for u in t.upstream)
        lines.append(f"    {variable[t.id]} = {t.id}(){after}")
        lines.append(f"    {variable[t.id]}.set_display_name({_str(t.label)})")
        lines.append(f"    {variable[t.id]}.set_caching_options(False)")
        if retries:
            lines.append(f"    {variable[t.id]}.set_retry(num_retries={retries})")
    lines += [
        "",
        "",
        'if __name__ == "__main__":',
        "    compiler.Compiler().compile(pipeline, package_path=sys.argv[1])",
    ]
    return "\n".join(lines) + "\n"


def kfp_python(python: str | None = None) -> str:
    """The Python that compiles Kubeflow pipelines: ``python``, else this one if it has kfp.

    Raises:
        InvalidInput: ``python`` is not a file, or kfp is not installed here.
    """
    if python is not None:
        if not Path(python).is_file():
            raise InvalidInput(
                f"--kfp-python {python}: no such file; give the python of a virtualenv "
                "with kfp (/path/to/venv/bin/python)"
            )
        return python
    if importlib.util.find_spec("kfp") is None:
        raise InvalidInput(
            f"kfp is not installed in this Python ({sys.executable}): `pip install kfp`, or "
            "pass --kfp-python /path/to/venv/bin/python of a virtualenv that has it"
        )
    return sys.executable


def compile_kubeflow(
    source: str, output: str | os.PathLike[str], python: str, dsl_file: Path | None = None
) -> None:
    """Compile DSL source from :func:`kubeflow_dsl` to a pipeline YAML with kfp's compiler.

    The source runs in ``python`` (which needs kfp); ``output`` is replaced
    only when compiling succeeds.

    Args:
        source: The DSL source.
        output: The YAML file to write (``.yaml`` or ``.yml``).
        python: The interpreter to run the source with.
        dsl_file: Where to keep the source (default: a temporary file).

    Raises:
        InvalidInput: ``output`` does not end in ``.yaml``/``.yml``.
        PipelineError: Compiling failed (kfp missing, or its error).
    """
    out = Path(output)
    if out.suffix not in (".yaml", ".yml"):
        raise InvalidInput(f"{out}: kfp compiles pipelines to YAML; name the file .yaml")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tane-kfp-") as tmp:
        script = (dsl_file or Path(tmp) / "pipeline_dsl.py").resolve()
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(source, encoding="utf-8")
        compiled = Path(tmp) / f"pipeline{out.suffix}"
        try:
            proc = subprocess.run(
                [python, str(script), str(compiled)],
                capture_output=True,
                text=True,
                check=False,
                cwd=tmp,
                timeout=600,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PipelineError(
                f"cannot compile the Kubeflow pipeline with {python}: {exc}"
            ) from exc
        if proc.returncode != 0 or not compiled.is_file():
            raise PipelineError(_compile_error(proc.stderr or proc.stdout, python))
        tmp_out = out.with_name(f".{out.name}.tmp")
        tmp_out.write_bytes(compiled.read_bytes())
        os.replace(tmp_out, out)


def _compile_error(output: str, python: str) -> str:
    if "No module named 'kfp'" in output:
        return (
            f"kfp is not installed in {python}: `{python} -m pip install kfp`, or pass "
            "--kfp-python /path/to/venv/bin/python of a virtualenv that has it"
        )
    lines = [line for line in output.strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else "no output"
    return f"compiling the Kubeflow pipeline with {python} failed: {last}"


# -- helpers --------------------------------------------------------------------------------


def _check_retries(retries: int) -> None:
    if retries < 0:
        raise InvalidInput(f"retries must be at least 0, got {retries}")


def _what(pipeline: str, project: str | None) -> str:
    what = f"tane pipeline {pipeline!r}"
    return f"{what} of project {project!r}" if project else what


def _header(kind: str, what: str, regenerate: str | None) -> list[str]:
    lines = [f"# Generated by `tane export {kind}` from the {_line(what)}."]
    if regenerate:
        lines += [
            "# Do not edit: regenerate it in the project folder with",
            f"#   {_line(regenerate)}",
        ]
    else:
        lines.append(f"# Do not edit: regenerate it with `tane export {kind}`.")
    return lines


def _line(text: str) -> str:
    """Text as one line of ASCII, safe in a comment or a docstring."""
    return text.encode("unicode_escape").decode("ascii").replace('"""', '\\"\\"\\"')


def _str(text: str) -> str:
    """A Python string literal (double quotes, ASCII only)."""
    return json.dumps(text)


def _list(keyword: str, items: Sequence[str], indent: int) -> list[str]:
    """``keyword=[...],`` on one line if it fits in 100 columns, else one item a line."""
    pad = " " * indent
    line = f"{pad}{keyword}=[{', '.join(_str(i) for i in items)}],"
    if len(line) <= 100:
        return [line]
    return [f"{pad}{keyword}=[", *(f"{pad}    {_str(i)}," for i in items), f"{pad}],"]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
