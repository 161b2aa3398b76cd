"""The Client: query and manage runs and experiments of a store."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tane.errors import InvalidInput, RunNotFound
from tane.tracking.entities import ArtifactInfo, Experiment, Metric, Run, RunStatus
from tane.tracking.stores.base import MetricPoint, PurgeReport, RunView, Store
from tane.tracking.values import check_key, metric_value, normalize_mapping


class RunList(list[Run]):
    """A page of runs; ``next_page_token`` fetches the next page (None at the end)."""

    next_page_token: str | None = None


class Client:
    """Read and manage the runs of one store.

    Args:
        store: A store, a store URI (folder, ``sqlite:///``, ``postgresql://``),
            or None for the default (TANE_STORE, else the project's store).
    """

    def __init__(self, store: Store | str | None = None) -> None:
        from tane.tracking.fluent import _resolve_store

        self.store: Store = _resolve_store(store)

    def __repr__(self) -> str:
        from tane.tracking.stores._common import display_uri

        return f"Client({display_uri(self.store.uri)!r})"

    # experiments ---------------------------------------------------------------

    def create_experiment(self, name: str, tags: Mapping[str, Any] | None = None) -> Experiment:
        """Create an experiment; raise InvalidInput if the name is taken."""
        return self.store.create_experiment(name, normalize_mapping(tags, "tag key"))

    def get_experiment(self, id_or_name: str) -> Experiment:
        """Return the experiment with this id or name; raise ExperimentNotFound."""
        return self.store.get_experiment(id_or_name)

    def get_or_create_experiment(self, name: str) -> Experiment:
        """Return the experiment with this name, created if new."""
        return self.store.get_or_create_experiment(name)

    def list_experiments(self, include_deleted: bool = False) -> list[Experiment]:
        """Return every experiment with its run count and last activity."""
        return self.store.list_experiments(include_deleted)

    # runs -------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        name: str | None = None,
        *,
        parent_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        start_time: int | None = None,
    ) -> Run:
        """Create a RUNNING run without making it active (for bulk or remote logging)."""
        from tane.tracking.fluent import _generate_name

        return self.store.create_run(
            experiment_id,
            name or _generate_name(),
            parent_id=parent_id,
            tags=normalize_mapping(tags, "tag key"),
            start_time=start_time,
        )

    def set_terminated(
        self, run_id: str, status: RunStatus | str = RunStatus.FINISHED, end_time: int | None = None
    ) -> None:
        """End a run with ``status`` (FINISHED by default)."""
        self.store.update_run(
            self.resolve_run_id(run_id),
            status=RunStatus.parse(status),
            end_time=end_time or int(time.time() * 1000),
        )

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[MetricPoint | tuple[str, float, int, int]] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Store metrics (key, value, step, timestamp), params and tags in one transaction."""
        from tane.tracking.fluent import _check_int

        points = []
        for item in metrics:
            key, value, step, timestamp = item
            check_key(key, "metric key")
            points.append(
                MetricPoint(
                    key,
                    metric_value(key, value),
                    _check_int(key, "step", step),
                    _check_int(key, "timestamp", timestamp),
                )
            )
        self.store.log_batch(
            run_id,
            points,
            normalize_mapping(params, "param key"),
            normalize_mapping(tags, "tag key"),
        )

    def log_metric(
        self, run_id: str, key: str, value: float, step: int = 0, timestamp: int | None = None
    ) -> None:
        """Store one metric point synchronously."""
        self.log_batch(run_id, [(key, value, step, timestamp or int(time.time() * 1000))])

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.log_batch(run_id, params={key: value})

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.log_batch(run_id, tags={key: value})

    def delete_tag(self, run_id: str, key: str) -> None:
        self.store.delete_tag(run_id, key)

    def set_note(self, run_id: str, text: str) -> None:
        """Replace a run's markdown note."""
        self.store.update_run(run_id, note=text)

    def rename_run(self, run_id: str, name: str) -> None:
        self.store.update_run(run_id, name=name)

    def get_run(self, run_id: str) -> Run:
        """Return the run with this id (or a unique prefix of it); raise RunNotFound."""
        return self.store.get_run(self.resolve_run_id(run_id))

    def resolve_run_id(self, prefix: str) -> str:
        """Return the full id of the run whose id starts with ``prefix``.

        Raise RunNotFound if none does and InvalidInput if several do.
        """
        prefix = str(prefix).strip().lower()
        if len(prefix) == 32:
            return prefix
        if len(prefix) < 4 or not all(c in "0123456789abcdef" for c in prefix):
            raise RunNotFound(
                f"{prefix!r} is not a run id: give the id or at least its first 4 characters"
            )
        page = self.store.search_runs(
            None, f"attributes.run_id LIKE '{prefix}%'", max_results=2, view="all"
        )
        if not page.runs:
            raise RunNotFound(f"no run id starts with {prefix!r}; `tane runs ls` lists runs")
        if len(page.runs) > 1:
            raise InvalidInput(
                f"run id prefix {prefix!r} is ambiguous ({page.runs[0].id}, {page.runs[1].id}, "
                "...): give more characters"
            )
        return page.runs[0].id

    def search_runs(
        self,
        filter_string: str = "",
        *,
        experiment: str | Sequence[str] | None = None,
        order_by: Sequence[str] | str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
        view: RunView | None = None,
        as_pandas: bool = False,
    ) -> Any:
        """Return runs matching a filter, across every experiment unless one is named.

        Args:
            filter_string: MLflow's filter grammar plus OR and parentheses, e.g.
                ``"metrics.acc > 0.9 and params.model = 'lgbm'"``.
            experiment: Experiment name or id, or a list of them.
            order_by: Clauses such as ``["metrics.acc DESC"]``.
            max_results: Page size.
            page_token: ``next_page_token`` of the previous page.
            include_deleted: Also return soft-deleted runs (``view="all"``).
            view: "active", "deleted" or "all" (overrides include_deleted).
            as_pandas: Return a DataFrame with ``params.*``, ``metrics.*``,
                ``tags.*`` columns, as ``mlflow.search_runs`` does.

        Returns:
            A RunList (a list with ``next_page_token``), or a DataFrame.
        """
        experiments: list[str] | None
        if experiment is None:
            experiments = None
        elif isinstance(experiment, str):
            experiments = [experiment]
        else:
            experiments = list(experiment)
        orders = [order_by] if isinstance(order_by, str) else list(order_by or ())
        chosen: RunView = view or ("all" if include_deleted else "active")
        page = self.store.search_runs(
            experiments, filter_string, orders, max_results, page_token, chosen
        )
        if as_pandas:
            return runs_to_frame(page.runs)
        result = RunList(page.runs)
        result.next_page_token = page.next_page_token
        return result

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        *,
        min_step: int | None = None,
        max_step: int | None = None,
        max_points: int | None = None,
    ) -> list[Metric]:
        """Return a metric's points ordered by step.

        With ``max_points`` the database returns at most that many points: per
        step bucket the first, lowest and highest, so spikes survive.
        """
        return self.store.get_metric_history(
            self.resolve_run_id(run_id), key, min_step, max_step, max_points
        )

    def delete_runs(self, run_ids: Sequence[str]) -> None:
        """Soft-delete runs and their children (restorable until ``gc``)."""
        self.store.delete_runs([self.resolve_run_id(r) for r in run_ids])

    def delete_run(self, run_id: str) -> None:
        self.delete_runs([run_id])

    def restore_runs(self, run_ids: Sequence[str]) -> None:
        """Undo ``delete_runs``."""
        self.store.restore_runs([self.resolve_run_id(r) for r in run_ids])

    def restore_run(self, run_id: str) -> None:
        self.restore_runs([run_id])

    def gc(self, run_ids: Sequence[str] | None = None) -> PurgeReport:
        """Remove deleted runs (all, or these) and their artifacts for good."""
        ids = None if run_ids is None else [self.resolve_run_id(r) for r in run_ids]
        return self.store.purge_runs(ids)

    # artifacts -----------------------------------------------------------------

    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactInfo]:
        """List the files and folders directly under ``path`` of a run's artifacts."""
        return self.store.list_artifacts(self.resolve_run_id(run_id), path)

    def download_artifacts(self, run_id: str, path: str = "", dst: str = ".") -> str:
        """Copy an artifact file or folder (default: all) into ``dst``; return the local path."""
        return self.store.download_artifacts(self.resolve_run_id(run_id), path, dst)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """Return the bytes of an artifact file."""
        with self.store.open_artifact(self.resolve_run_id(run_id), path) as fh:
            return fh.read()

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> str:
        return self.store.log_artifact(run_id, local_path, artifact_path)


def runs_to_frame(runs: Sequence[Run]) -> Any:
    """Return runs as a pandas DataFrame in ``mlflow.search_runs``'s shape.

    Columns: run_id, run_name, experiment_id, experiment, status, start_time and
    end_time (UTC datetimes), parent_id, then ``metrics.*``, ``params.*``, ``tags.*``.
    """
    import numpy as np
    import pandas as pd

    n = len(runs)

    def text(values: list[Any]) -> Any:
        return np.array(values, dtype=object)

    def times(values: list[int | None]) -> Any:
        return pd.DatetimeIndex(np.array(values, dtype="datetime64[ms]"), tz="UTC")

    # Built column by column from arrays: far cheaper than a DataFrame from one
    # dict per run, which is what a search returning pandas is judged on.
    columns: dict[str, Any] = {
        "run_id": text([r.id for r in runs]),
        "run_name": text([r.name for r in runs]),
        "experiment_id": text([r.experiment_id for r in runs]),
        "experiment": text([r.experiment for r in runs]),
        "status": text([r.status.value for r in runs]),
        "start_time": times([r.start_time for r in runs]),
        "end_time": times([r.end_time for r in runs]),
        "parent_id": text([r.parent_id for r in runs]),
    }
    for prefix, attribute in (("metrics.", "metrics"), ("params.", "params"), ("tags.", "tags")):
        extra: dict[str, Any] = {}
        for i, run in enumerate(runs):
            for key, value in getattr(run, attribute).items():
                column = extra.get(key)
                if column is None:
                    column = extra[key] = (
                        np.full(n, np.nan) if prefix == "metrics." else np.full(n, None, object)
                    )
                column[i] = value
        for key in sorted(extra):
            columns[prefix + key] = extra[key]
    return pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)
