"""Record LightGBM training: a callback for ``lightgbm.train`` and the scikit-learn API.

    booster = lightgbm.train(
        params, train, valid_sets=[valid], callbacks=[tane.integrations.lightgbm.callback()]
    )

Each round's evaluation results become metrics ``<dataset>/<metric>`` (step: the
round), the params are logged once, and after the last round the booster is logged
with ``tane.log_model``. In a sweep trial the monitored metric goes to the pruner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tane.errors import InvalidInput
from tane.integrations._training import RunUser, check_pruning, plain_params

__all__ = ["callback"]


def callback(
    *,
    monitor: str | None = None,
    trial: Any = None,
    log_params: bool = True,
    log_model: bool = True,
    artifact_path: str = "model",
) -> Callable[[Any], None]:
    """Return a LightGBM callback that logs to the active run (or a run of its own).

    Args:
        monitor: The metric the sweep's pruner sees, as logged (``valid_0/l2``);
            default: the first metric of the first dataset that is not the
            training data.
        trial: The trial of a define-by-run sweep (``tane.sweep(objective)``);
            in script and pipeline sweeps ``tane.should_prune`` needs none.
        log_params: Log the training params when training starts.
        log_model: Log the booster (``tane.log_model``) after the last round.
        artifact_path: Where the booster goes in the run's artifacts.

    A sweep trial that the pruner stops raises ``tane.TrialPruned`` out of
    ``lightgbm.train``. When early stopping ends training before the last round,
    no model is logged: call ``tane.log_model(booster)`` afterwards.
    """
    user = RunUser()
    state: dict[str, Any] = {"params_logged": False, "monitor": monitor}

    def _callback(env: Any) -> None:
        run = user.get()
        if log_params and not state["params_logged"]:
            state["params_logged"] = True
            run.log_params(plain_params(env.params))
        values: dict[str, float] = {}
        for entry in env.evaluation_result_list or []:
            data_name, eval_name, result = entry[0], entry[1], entry[2]
            values[f"{data_name}/{eval_name}"] = float(result)
        if values:
            run.log_metrics(values, step=env.iteration)
            key = state["monitor"] or _default_monitor(env.evaluation_result_list)
            state["monitor"] = key
            if key not in values:
                raise InvalidInput(
                    f"tane LightGBM callback: monitor {key!r} is not among the evaluation "
                    f"results {sorted(values)}"
                )
            try:
                check_pruning(values[key], env.iteration, key, trial)
            except BaseException as exc:
                user.finish(exc)
                raise
        if env.iteration >= env.end_iteration - 1:
            if log_model:
                from tane.tracking.models import log_model as save

                save(env.model, artifact_path)
            user.finish()

    _callback.order = 40  # type: ignore[attr-defined]  # after LightGBM's own (<= 30)
    return _callback


def _default_monitor(results: list[Any]) -> str:
    for entry in results:
        if entry[0] != "training":
            return f"{entry[0]}/{entry[1]}"
    return f"{results[0][0]}/{results[0][1]}"
