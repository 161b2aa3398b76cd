"""``%load_ext tane``: a project's catalog, params, pipelines and runs in a notebook.

In a notebook started anywhere inside a project (a folder holding ``tane.yaml``)::

    %load_ext tane
    catalog.load("raw_iris")            # the project's DataCatalog
    params["model"]                     # the composed config, as `tane run` sees it
    pipelines["__default__"]            # every registered pipeline
    runs.head()                         # the project experiment's runs (a DataFrame)

``%reload_ext tane`` reads them again (after editing the config or the catalog);
``%tane_runs FILTER`` refreshes ``runs`` with a filter. Outside a project only
``runs`` and ``client`` (the store's) are defined. Runs, experiments and sweep
outcomes show as HTML tables in notebooks (their ``_repr_html_``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: The names %load_ext tane defines, in the order it reports them.
NAMES = ("catalog", "params", "pipelines", "runs", "client")


def project_namespace(start: str | Path | None = None) -> tuple[dict[str, Any], list[str]]:
    """What ``%load_ext tane`` puts in the namespace, and notes on what it left out."""
    from tane.project import find_project
    from tane.tracking.client import Client

    found: dict[str, Any] = {}
    notes: list[str] = []
    project = find_project(start)
    experiment: str | None = None
    if project.has_file:
        from tane.pipeline.session import PipelineProject

        pipeline_project = PipelineProject(project.root, project.settings)
        experiment = project_experiment(project.settings, pipeline_project.name)
        try:
            params = pipeline_project.composer().compose([])
            found["params"] = params
            found["catalog"] = pipeline_project.catalog(params)
        except Exception as exc:  # shown, not raised: the rest still loads
            notes.append(f"params and catalog not loaded: {exc}")
        try:
            found["pipelines"] = pipeline_project.pipelines()
        except Exception as exc:
            notes.append(f"pipelines not loaded: {exc}")
    else:
        notes.append(
            f"no tane.yaml in {project.root} or above: only runs and client are defined "
            "(tane new NAME starts a project)"
        )
    client = Client()
    found["client"] = client
    found["runs"] = _runs(client, experiment, "")
    return found, notes


def _runs(client: Any, experiment: str | None, filter_string: str) -> Any:
    from tane.errors import NotFound

    try:
        return client.search_runs(filter_string, experiment=experiment, as_pandas=True)
    except NotFound:  # the project's experiment has no runs yet
        return client.search_runs(filter_string, as_pandas=True).iloc[0:0]


def load_ipython_extension(ipython: Any) -> None:
    """Define catalog, params, pipelines, runs and client in the notebook (``%load_ext``)."""
    found, notes = project_namespace()
    ipython.push(found)

    def tane_runs(line: str) -> Any:
        """%tane_runs [FILTER]: search the runs again (MLflow's filter language)."""
        project_runs = _runs(found["client"], _experiment(), line.strip())
        ipython.push({"runs": project_runs})
        return project_runs

    ipython.register_magic_function(tane_runs, "line", "tane_runs")
    defined = ", ".join(n for n in NAMES if n in found)
    print(f"tane: defined {defined}")
    for note in notes:
        print(f"tane: {note}")


def project_experiment(settings: Any, name: str) -> str:
    """The experiment a project's runs go to: TANE_EXPERIMENT, ``experiment:``, its name."""
    import os

    return os.environ.get("TANE_EXPERIMENT") or str(settings.get("experiment") or name)


def _experiment() -> str | None:
    from tane.project import find_project

    project = find_project(None)
    if not project.has_file:
        return None
    return project_experiment(
        project.settings, str(project.settings.get("name") or project.root.name)
    )
