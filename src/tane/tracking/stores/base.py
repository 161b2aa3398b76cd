"""The store interface: a dozen batch-shaped methods every backend implements.

A backend (SQL, REST) is any object with these methods; the conformance suite
in :mod:`tane.testing.stores` checks one against the contract.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Literal, NamedTuple, Protocol, runtime_checkable

from tane.tracking.entities import (
    ArtifactInfo,
    Experiment,
    Metric,
    ModelVersion,
    RegisteredModel,
    Run,
    RunStatus,
)

RunView = Literal["active", "deleted", "all"]


def heartbeat_timeout_ms() -> int:
    """A RUNNING run whose heartbeat is older than this is reported CRASHED.

    TANE_HEARTBEAT_TIMEOUT seconds, default 120; the owner beats at least
    four times within it.
    """
    return int(float(os.environ.get("TANE_HEARTBEAT_TIMEOUT", "120")) * 1000)


_owner: tuple[int, str] | None = None


def owner_host() -> str:
    """This process's host as runs record it (see _owner_host); computed once per process."""
    global _owner
    pid = os.getpid()
    if _owner is None or _owner[0] != pid:
        _owner = (pid, _owner_host())
    return _owner[1]


def _owner_host() -> str:
    """This process's host as runs record it, to tell whether a run's owner is alive.

    The host name alone is not enough: containers sharing the host's network
    share its name but not its process ids, so the PID namespace is added.
    """
    import socket

    host = socket.gethostname()
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return host
    return f"{host}#{namespace}"


#: A metric point as a plain tuple: (key, value, step, timestamp). MetricPoint is one.
PointTuple = tuple[str, float, int, int]


class MetricPoint(NamedTuple):
    """A metric point on its way into a store (value already a float)."""

    key: str
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True)
class RunPage:
    """One page of search results and the token for the next page (None at the end)."""

    runs: list[Run]
    next_page_token: str | None


@dataclass(frozen=True)
class PurgeReport:
    """What a purge removed: the run ids and the bytes of artifacts and database freed."""

    run_ids: list[str]
    bytes_freed: int


@runtime_checkable
class Store(Protocol):
    """Where runs live. Every method is safe to call from several threads."""

    uri: str
    artifact_root: str

    # experiments
    def create_experiment(self, name: str, tags: Mapping[str, str] | None = None) -> Experiment:
        """Create an experiment; raise InvalidInput if the name is taken."""
        ...

    def get_experiment(self, id_or_name: str) -> Experiment:
        """Return the experiment with this id or name; raise ExperimentNotFound."""
        ...

    def get_or_create_experiment(self, name: str) -> Experiment:
        """Return the experiment with this name, creating it if needed (race-safe)."""
        ...

    def list_experiments(self, include_deleted: bool = False) -> list[Experiment]:
        """Return every experiment with its run count and last activity."""
        ...

    def update_experiment(
        self,
        id_or_name: str,
        *,
        name: str | None = None,
        deleted: bool | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Experiment:
        """Rename, soft-delete or restore an experiment, or set tags on it; return it.

        Raise ExperimentNotFound, or InvalidInput for a taken name or for
        renaming or deleting the default experiment.
        """
        ...

    # runs
    def create_run(
        self,
        experiment_id: str,
        name: str,
        *,
        parent_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        start_time: int | None = None,
        host: str | None = None,
        pid: int | None = None,
    ) -> Run:
        """Create a RUNNING run and return it."""
        ...

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        name: str | None = None,
        note: str | None = None,
        host: str | None = None,
        pid: int | None = None,
    ) -> None:
        """Change a run's status, end time, name, note or owner; raise RunNotFound."""
        ...

    def heartbeat(self, run_ids: Sequence[str], now: int) -> None:
        """Record that the processes owning these runs are alive."""
        ...

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[PointTuple] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Store metric points, params and tags of one run in one transaction.

        Raise RunNotFound for an unknown or deleted run, ParamConflict if a
        param already holds a different value (nothing of the batch is stored).
        """
        ...

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from a run (no error if absent)."""
        ...

    def get_run(self, run_id: str) -> Run:
        """Return the run with this id (deleted ones too); raise RunNotFound."""
        ...

    def search_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str = "",
        order_by: Sequence[str] = (),
        max_results: int = 1000,
        page_token: str | None = None,
        view: RunView = "active",
    ) -> RunPage:
        """Return runs matching the filter (all experiments when ids is None)."""
        ...

    def get_keys(self, experiment_ids: Sequence[str] | None = None) -> dict[str, list[str]]:
        """The param, metric and tag keys used by active runs of these experiments (all
        when None): ``{"params": [...], "metrics": [...], "tags": [...]}``, each sorted."""
        ...

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        min_step: int | None = None,
        max_step: int | None = None,
        max_points: int | None = None,
    ) -> list[Metric]:
        """Return a metric's points by step; at most ``max_points`` (downsampled) if given."""
        ...

    def delete_runs(self, run_ids: Sequence[str]) -> None:
        """Soft-delete runs (restorable); raise RunNotFound if one is unknown."""
        ...

    def restore_runs(self, run_ids: Sequence[str]) -> None:
        """Undo a soft delete."""
        ...

    def purge_runs(self, run_ids: Sequence[str] | None = None) -> PurgeReport:
        """Remove soft-deleted runs (all, or these) and their artifacts for good."""
        ...

    # artifacts
    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> str:
        """Copy a file or folder into the run's artifacts; return its artifact path."""
        ...

    def log_artifact_bytes(
        self, run_id: str, artifact_path: str, data: bytes, append: bool = False
    ) -> None:
        """Write (or append) bytes as an artifact file."""
        ...

    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactInfo]:
        """List the direct children of an artifact folder ("" is the run's root)."""
        ...

    def open_artifact(self, run_id: str, path: str) -> BinaryIO:
        """Open an artifact file for reading; raise NotFound."""
        ...

    def download_artifacts(self, run_id: str, path: str, dst: str) -> str:
        """Copy an artifact file or folder under ``dst``; return the local path."""
        ...

    # the model registry
    def register_model(
        self, name: str, source: str, run_id: str | None = None, description: str = ""
    ) -> ModelVersion:
        """Add the next version of model ``name`` (created if new) pointing at ``source``."""
        ...

    def get_model_version(
        self, name: str, version: int | None = None, alias: str | None = None
    ) -> ModelVersion:
        """Return a version by number, by alias, or the latest; raise NotFound."""
        ...

    def list_registered_models(self) -> list[RegisteredModel]:
        """Every registered model with its latest version and aliases, by name."""
        ...

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        """The versions of a model, newest first; raise NotFound for an unknown model."""
        ...

    def set_model_alias(self, name: str, alias: str, version: int | None) -> None:
        """Point ``alias`` at a version (None removes it); raise NotFound."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
