"""Record the runs of an unchanged ``@hydra.main`` app: a Hydra callback.

Enable it with one line of config, in the app's primary config::

    hydra:
      callbacks:
        tane:
          _target_: tane.integrations.hydra.TaneCallback

or on the command line: ``+hydra.callbacks.tane._target_=tane.integrations.hydra.TaneCallback``.

Each Hydra job becomes a tane run (params: the composed config; artifacts:
``config.yaml`` and ``overrides.yaml``; metrics: the task function's return
value). A multirun is a parent run with one child run per job. Code inside the
task may call ``tane.log_metric`` and friends: they log to the job's run.
"""

from __future__ import annotations

import atexit
import os
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.experimental.callback import Callback

if TYPE_CHECKING:
    from hydra.core.utils import JobReturn
    from hydra.types import TaskFunction
    from omegaconf import DictConfig

    from tane.tracking.fluent import ActiveRun

__all__ = ["TaneCallback"]

_MAX_NAME = 250
_MAX_TAG_LIST = 1000


class TaneCallback(Callback):
    """A Hydra callback that records every Hydra job as a tane run.

    Hydra builds it from ``hydra.callbacks`` before the first job starts and
    before it changes the working directory (``hydra.job.chdir``), so the store
    is chosen here, once: ``store``, else ``TANE_STORE``, else the project's
    store, as an absolute location.

    Args:
        experiment: The experiment of the runs; default ``TANE_EXPERIMENT``, else
            ``experiment:`` in ``tane.yaml``, else the Hydra job name.
        store: A store URI (folder, ``sqlite:///``, ``postgresql://``); default
            ``TANE_STORE``, else the project's store.
    """

    def __init__(self, experiment: str | None = None, store: str | None = None) -> None:
        from tane.project import find_project, resolve_store_uri

        self.store_uri = _absolute_store_uri(resolve_store_uri(store))
        if not experiment:
            configured = os.environ.get("TANE_EXPERIMENT") or find_project().settings.get(
                "experiment"
            )
            experiment = str(configured) if configured else None
        self.experiment = experiment
        self.parent_id: str | None = None
        self._parent: ActiveRun | None = None
        self._job: ActiveRun | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Launchers that run jobs in other processes (joblib, submitit, ray)
        # pickle the callbacks after on_multirun_start: send the parent's id,
        # never the live run with its store connections.
        state = dict(self.__dict__)
        state["_parent"] = None
        state["_job"] = None
        return state

    # -- multirun -----------------------------------------------------------

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Start the multirun's parent run."""
        import tane

        job_name = _job_name(config)
        overrides = _task_overrides(config)
        tags = {
            "hydra.job_name": job_name,
            "hydra.overrides": " ".join(overrides),
            "hydra.mode": "MULTIRUN",
        }
        sweep_dir = _select_text(config, "hydra.sweep.dir")
        if sweep_dir is not None:
            tags["hydra.sweep_dir"] = str(Path(sweep_dir).resolve())
        parent = tane.start_run(
            experiment=self.experiment or job_name,
            name=f"{job_name} multirun"[:_MAX_NAME],
            tags=tags,
            store=self.store_uri,
        )
        self._parent = parent
        self.parent_id = parent.id
        parent.log_bytes(_overrides_yaml(config).encode("utf-8"), "overrides.yaml")
        # Hydra's sweepers raise on the first failed job after the batch ran, and
        # then never call on_multirun_end: end the parent on the way out instead.
        atexit.register(self._end_abandoned_parent)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """End the parent run FINISHED, tagged with the number of jobs and failures."""
        atexit.unregister(self._end_abandoned_parent)
        parent = self._parent
        self._parent = None
        if parent is None or parent.ended:
            return
        try:
            self._tag_counts(parent)
        finally:
            parent.end("FINISHED")

    def _end_abandoned_parent(self) -> None:
        parent = self._parent
        self._parent = None
        if parent is None or parent.ended:
            return
        jobs, failures = self._tag_counts(parent)
        if getattr(sys, "last_value", None) is not None or _terminated():
            # An uncaught exception, Ctrl-C or SIGTERM: tane's own exit handler,
            # which runs next, records the right status and traceback.
            return
        parent.end(
            "FAILED",
            error=(
                f"Hydra stopped the multirun before it ended: {failures} of {jobs} jobs "
                "failed (see the child runs' tane.error tags)"
            ),
        )

    def _tag_counts(self, parent: ActiveRun) -> tuple[int, int]:
        from tane.tracking.entities import RunStatus

        jobs = failures = 0
        page_token: str | None = None
        while True:
            page = parent.store.search_runs(
                filter_string=f"attributes.parent_id = '{parent.id}'",
                page_token=page_token,
                view="all",
            )
            for run in page.runs:
                jobs += 1
                failures += run.status == RunStatus.FAILED
            page_token = page.next_page_token
            if not page_token:
                break
        parent.set_tags({"hydra.jobs": jobs, "hydra.failures": failures})
        return jobs, failures

    # -- jobs ---------------------------------------------------------------

    def on_job_start(
        self, config: DictConfig, *, task_function: TaskFunction, **kwargs: Any
    ) -> None:
        """Start the job's run: params, tags, ``config.yaml`` and ``overrides.yaml``."""
        import tane
        from tane.config._record import config_params, config_yaml, strip_hydra

        job_name = _job_name(config)
        overrides = _task_overrides(config)
        multirun = _is_multirun(config)
        tags = {
            "hydra.job_name": job_name,
            "hydra.overrides": " ".join(overrides),
            # The same tag @tane.main runs carry, so one filter finds both.
            "tane.overrides": " ".join(overrides),
            "hydra.mode": "MULTIRUN" if multirun else "RUN",
        }
        output_dir = _select_text(config, "hydra.runtime.output_dir")
        if output_dir is not None:
            tags["hydra.output_dir"] = output_dir
        name = job_name
        if multirun:
            num = _select_text(config, "hydra.job.num")
            if num is not None:
                tags["hydra.job_num"] = num
                name = f"{job_name} #{num}"
        if overrides:
            name = f"{name} {' '.join(overrides)}"
        self._job = run = tane.start_run(
            experiment=self.experiment or job_name,
            name=name[:_MAX_NAME],
            tags=tags,
            parent_id=self.parent_id if multirun else None,
            store=self.store_uri,
        )
        task_config = strip_hydra(config)
        params, skipped = _valid_params(config_params(task_config))
        run.log_params(params)
        if skipped:
            run.set_tags({"hydra.params_skipped": ", ".join(skipped)[:_MAX_TAG_LIST]})
        run.log_bytes(config_yaml(task_config).encode("utf-8"), "config.yaml")
        run.log_bytes(_overrides_yaml(config).encode("utf-8"), "overrides.yaml")

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """Log the return value as metrics and end the run FINISHED, or FAILED with the error."""
        from hydra.core.utils import JobStatus

        run = self._job
        self._job = None
        if run is None or run.ended:
            return
        # job_return.return_value re-raises a failed job's exception: read the field.
        value = job_return._return_value
        if job_return.status != JobStatus.COMPLETED:
            run.end("FAILED", error=_error_text(value))
            return
        try:
            from tane.config._result import return_metrics

            metrics, ignored = return_metrics(value)
            if metrics:
                run.log_metrics(metrics)
            if ignored:
                run.set_tags({"hydra.return_ignored": ignored[:_MAX_TAG_LIST]})
        finally:
            run.end("FINISHED")


def _valid_params(params: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Split params into those with valid keys and the keys tane cannot store."""
    from tane.errors import InvalidInput
    from tane.tracking.values import check_key

    valid: dict[str, str] = {}
    skipped: list[str] = []
    for key, value in params.items():
        try:
            valid[check_key(key, "param key")] = value
        except InvalidInput:
            skipped.append(key)
    return valid, skipped


def _error_text(value: Any) -> str:
    if isinstance(value, BaseException):
        return "".join(traceback.format_exception(type(value), value, value.__traceback__))
    return f"the Hydra job failed: {value!r}"


def _job_name(config: DictConfig) -> str:
    return _select_text(config, "hydra.job.name") or "hydra-app"


def _task_overrides(config: DictConfig) -> list[str]:
    from omegaconf import OmegaConf

    overrides = OmegaConf.select(config, "hydra.overrides.task", default=None)
    return [str(item) for item in overrides] if overrides is not None else []


def _overrides_yaml(config: DictConfig) -> str:
    """The text Hydra writes to ``.hydra/overrides.yaml``."""
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.create(_task_overrides(config)))


def _is_multirun(config: DictConfig) -> bool:
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    return bool(OmegaConf.select(config, "hydra.mode", default=None) == RunMode.MULTIRUN)


def _select_text(config: DictConfig, key: str) -> str | None:
    """The value at ``key`` as text, or None when it is missing or does not resolve."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        value = OmegaConf.select(config, key, default=None, throw_on_missing=False)
    except OmegaConfBaseException:
        return None
    return None if value is None else str(value)


def _terminated() -> bool:
    from tane.tracking import fluent

    return bool(fluent._state.terminated)


def _absolute_store_uri(uri: str) -> str:
    """Return ``uri`` with a relative folder or SQLite path made absolute.

    Hydra may change the working directory per job; a store named relative to
    the directory the app started in must stay that store.
    """
    if "://" not in uri:
        return str(Path(uri).expanduser().resolve())
    scheme, rest = uri.split("://", 1)
    if scheme.lower() == "file":
        return f"file://{Path(rest).expanduser().resolve()}"
    if scheme.lower().startswith("sqlite") and rest.startswith("/"):
        path, sep, query = rest[1:].partition("?")
        if path and path != ":memory:" and not os.path.isabs(path):
            return f"{scheme}:///{Path(path).expanduser().resolve()}{sep}{query}"
    return uri
