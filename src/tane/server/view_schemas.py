"""The JSON of the routes the web UI draws from: a pipeline run's DAG, dataset lineage, sweeps.

Times are integer milliseconds since the Unix epoch (as everywhere in the API);
durations are float seconds, as ``pipeline.json`` and ``sweep.json`` record them.
Values that may be NaN or infinite (objective values, intermediate values) travel
as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tane.server.schemas import JsonFloatOut

#: What a dataset of a pipeline is: a catalog entry, a value kept in memory, or params.
DatasetKind = Literal["dataset", "memory", "params"]
#: A trial's state, in Optuna's words (``FAILED`` for Optuna's ``FAIL``).
TrialState = Literal["COMPLETE", "PRUNED", "FAILED", "RUNNING"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- a pipeline run ------------------------------------------------------------------


class PipelineNodeOut(_Model):
    """A node of a pipeline run: its place in the graph and how it ended."""

    name: str
    namespace: str | None = None
    tags: list[str] = Field(default_factory=list)
    inputs: list[str] = Field(description="Dataset names, params (`params:x`) included.")
    outputs: list[str]
    status: str = Field(
        description="`ran`, `cached`, `failed` or `not run` (a node after a failure)."
    )
    cached: bool = Field(description="Taken from the cache instead of running.")
    duration: float = Field(description="Seconds this run spent on the node.")
    saved_duration: float = Field(
        description="For a cached node: seconds the run that computed it took (saved here)."
    )
    attempts: int = Field(description="Times it was called (retries included); 0 if not run.")
    error: str | None = None
    rank: int = Field(
        description="Column of a left-to-right layout: 1 + the highest rank of its inputs "
        "(datasets no node writes have rank 0, each node's outputs its rank + 1)."
    )
    layer: str | None = Field(
        default=None, description="The catalog layer of its outputs (the first one that has one)."
    )


class PipelineDatasetOut(_Model):
    """A dataset of a pipeline run (an input or output of its nodes)."""

    name: str
    kind: DatasetKind | None = Field(
        description="`dataset` (in the catalog), `memory` (kept in memory), `params`; "
        "null if no node that touches it ran."
    )
    type: str | None = Field(
        default=None, description="The catalog type (`pandas.CSVDataset`), when recorded."
    )
    layer: str | None = Field(default=None, description="The catalog layer, when recorded.")
    rank: int = Field(description="Column of a left-to-right layout (see nodes).")
    producer: str | None = Field(description="The node that writes it; null for a free input.")
    consumers: list[str] = Field(description="The nodes that read it.")
    hash: str | None = Field(
        description="Content hash in this run: what was written, else what was read."
    )
    version: str | None = Field(default=None, description="Version of a versioned dataset.")
    path: str | None = Field(default=None, description="Where it was read or written.")


class PipelineEdgeOut(_Model):
    """An edge of the node-and-dataset graph."""

    source: str
    target: str
    kind: Literal["reads", "writes"] = Field(
        description="`writes`: node `source` writes dataset `target`; "
        "`reads`: node `target` reads dataset `source`."
    )


class NodeEdgeOut(_Model):
    """Node ``target`` reads something node ``source`` writes."""

    source: str
    target: str


class LineageOut(_Model):
    """One dataset read or written by one node of a run."""

    dataset: str
    direction: str = Field(description="`read` or `write`.")
    node: str
    hash: str | None = None
    path: str | None = None
    version: str | None = None
    kind: str = "dataset"


class PipelineOut(_Model):
    """The DAG of one pipeline run, with each node's outcome and the data lineage."""

    run_id: str
    run_name: str
    experiment_id: str
    status: str = Field(description="The run's status (FINISHED, FAILED ...).")
    start_time: int
    end_time: int | None
    pipeline: str = Field(description="The pipeline's name (`__default__` ...).")
    duration: float = Field(description="Seconds the pipeline took.")
    counts: dict[str, int] = Field(
        description="Nodes by status: `ran`, `cached`, `failed`, `not run`."
    )
    nodes: list[PipelineNodeOut]
    datasets: list[PipelineDatasetOut]
    edges: list[PipelineEdgeOut] = Field(description="Node -> dataset and dataset -> node.")
    node_edges: list[NodeEdgeOut] = Field(description="Node -> node dependencies.")
    layers: list[str] = Field(
        description="The catalog layers of its datasets, upstream first (bands of the view)."
    )
    lineage: list[LineageOut]


# -- datasets of an experiment -------------------------------------------------------


class DatasetSummaryOut(_Model):
    """A dataset seen in an experiment's pipeline runs."""

    name: str
    kind: str = Field(description="`dataset` or `memory`.")
    type: str | None = None
    layer: str | None = None
    path: str | None = Field(description="The path of its latest use.")
    versions: int = Field(description="Distinct contents (hash and version) seen.")
    latest_hash: str | None
    latest_version: str | None
    runs: int = Field(description="Pipeline runs that read or wrote it.")
    writers: list[str] = Field(description="Nodes that write it.")
    readers: list[str] = Field(description="Nodes that read it.")
    last_run_id: str
    last_used: int = Field(description="Start time of the latest run that used it.")


class DatasetListOut(_Model):
    experiment_id: str
    datasets: list[DatasetSummaryOut] = Field(description="By name.")
    runs_scanned: int = Field(description="Pipeline runs read (the newest first).")
    truncated: bool = Field(
        description="True if the experiment has more pipeline runs than `max_runs`."
    )


class DatasetUseOut(_Model):
    """One run reading or writing the dataset."""

    run_id: str
    run_name: str
    run_status: str
    start_time: int
    end_time: int | None
    direction: str = Field(description="`read` or `write`.")
    node: str
    cached: bool = Field(
        description="The node was taken from the cache: the run re-used this content, "
        "computed by an earlier run."
    )
    hash: str | None
    version: str | None
    path: str | None


class DatasetVersionOut(_Model):
    """One content of the dataset (a hash, and a version for versioned datasets)."""

    hash: str | None = Field(description="Null when the content cannot be known (SQL, APIs).")
    version: str | None
    paths: list[str] = Field(description="Where this content was read or written.")
    first_seen: int = Field(description="Start time of the first run that used it.")
    last_seen: int
    written_by: list[DatasetUseOut]
    read_by: list[DatasetUseOut]


class DatasetOut(_Model):
    """One dataset of an experiment: its versions and which runs read or wrote each."""

    experiment_id: str
    name: str
    kind: str
    type: str | None = None
    layer: str | None = None
    versions: list[DatasetVersionOut] = Field(description="Newest first.")
    uses: list[DatasetUseOut] = Field(description="Every read and write, newest run first.")
    runs_scanned: int
    truncated: bool


# -- sweeps --------------------------------------------------------------------------


class SweepSettingsOut(_Model):
    """How the sweep searches; fields it did not record are null."""

    sampler: str | None
    sampler_options: dict[str, Any] = Field(default_factory=dict)
    pruner: str | None = None
    pruner_options: dict[str, Any] = Field(default_factory=dict)
    directions: list[str] | None = Field(
        default=None,
        description="`minimize`/`maximize`, one per objective; null if not recorded yet "
        "(a define-by-run sweep records its settings when it ends).",
    )
    objectives: list[str] | None = Field(default=None, description="The metrics optimized.")
    trials: int | None = Field(default=None, description="The trial budget.")
    timeout: float | None = None
    seed: int | None = None
    target: float | None = None
    constraints: list[str] = Field(default_factory=list)
    importance: str | None = Field(default=None, description="`ped-anova` or `fanova`.")
    overrides: list[str] | None = Field(
        default=None, description="The sweep overrides of a script or pipeline sweep."
    )
    fixed: list[str] = Field(default_factory=list, description="Overrides every trial shares.")


class SpaceParamOut(_Model):
    """A searched parameter."""

    name: str
    distribution: str | None = Field(
        description="In the sweep syntax's words (`log [0.0001, 1]`, `choice(a, b)`); "
        "null until the sweep records its space."
    )
    kind: Literal["float", "int", "categorical"] | None


class TrialOut(_Model):
    """One trial: a child run of the sweep."""

    run_id: str
    run_name: str
    number: int | None = Field(description="The Optuna trial number (tag `tane.trial`).")
    state: TrialState
    run_status: str = Field(description="The run's own status (KILLED, CRASHED ... are FAILED).")
    params: dict[str, Any] = Field(description="The searched values, typed when recorded so.")
    values: list[JsonFloatOut] | None = Field(
        description="The objective value(s) of a COMPLETE trial; null otherwise."
    )
    feasible: bool | None = Field(
        default=None,
        description="With constraints: whether every constraint metric is <= 0.",
    )
    error: str | None = None
    start_time: int
    end_time: int | None
    duration: float | None = Field(description="Seconds; null while RUNNING.")
    intermediate_count: int | None = Field(
        description="Intermediate values reported to the pruner; null until the sweep records "
        "them (when it ends)."
    )
    last_intermediate: JsonFloatOut | None = Field(
        default=None, description="The last one (where a PRUNED trial stopped)."
    )


class BestSoFarOut(_Model):
    """A point of the optimization history."""

    number: int | None
    run_id: str
    value: JsonFloatOut = Field(description="This trial's objective value.")
    best: JsonFloatOut = Field(description="The best value up to and including this trial.")


class SweepOut(_Model):
    """A sweep's parent run: settings, every trial, the best, the history and importances."""

    run_id: str
    run_name: str
    experiment_id: str
    status: str
    start_time: int
    end_time: int | None
    finished: bool = Field(
        description="The sweep recorded its summary (sweep.json): best, importances and "
        "intermediate values come from it."
    )
    stopped_by: str | None = None
    settings: SweepSettingsOut
    space: list[SpaceParamOut]
    counts: dict[str, int] = Field(description="Trials by state.")
    trials: list[TrialOut] = Field(description="By number.")
    best_trial: TrialOut | None = Field(
        description="The best COMPLETE (and feasible) trial of a single-objective sweep."
    )
    best_so_far: list[BestSoFarOut] = Field(
        description="The optimization history: one point per COMPLETE trial, by number; "
        "empty for several objectives."
    )
    pareto_front: list[str] = Field(
        description="Run ids of the Pareto-optimal trials of a multi-objective sweep."
    )
    importances: dict[str, float] | None = Field(
        description="Parameter importances, most important first; null until the sweep ends "
        "(empty if it could not compute them)."
    )
