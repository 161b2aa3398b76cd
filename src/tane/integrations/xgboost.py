"""Record XGBoost training: a ``TrainingCallback`` for ``xgboost.train`` and its sklearn API.

    booster = xgboost.train(
        params, dtrain, evals=[(dvalid, "valid")],
        callbacks=[tane.integrations.xgboost.TaneCallback(params=params)],
    )

Each round's evaluation results become metrics ``<dataset>/<metric>`` (step: the
round), the params are logged once, and when training ends the booster is logged
with ``tane.log_model``. In a sweep trial the monitored metric goes to the pruner.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import xgboost

from tane.errors import InvalidInput
from tane.integrations._training import RunUser, check_pruning, plain_params

__all__ = ["TaneCallback"]


class TaneCallback(xgboost.callback.TrainingCallback):
    """An XGBoost callback that logs to the active run (or a run of its own).

    Args:
        params: The params to log; default: the booster's training params as
            XGBoost reports them (``learner_train_param`` and the tree params,
            defaults included).
        monitor: The metric the sweep's pruner sees, as logged (``valid/rmse``);
            default: the last metric of the last dataset in ``evals`` (the one
            XGBoost's early stopping watches).
        trial: The trial of a define-by-run sweep (``tane.sweep(objective)``);
            in script and pipeline sweeps ``tane.should_prune`` needs none.
        log_params: Log the params when training starts.
        log_model: Log the booster (``tane.log_model``) when training ends.
        artifact_path: Where the booster goes in the run's artifacts.

    A sweep trial that the pruner stops raises ``tane.TrialPruned`` out of
    ``xgboost.train``.
    """

    def __init__(
        self,
        *,
        params: Mapping[str, Any] | None = None,
        monitor: str | None = None,
        trial: Any = None,
        log_params: bool = True,
        log_model: bool = True,
        artifact_path: str = "model",
    ) -> None:
        super().__init__()
        self.params = dict(params) if params is not None else None
        self.monitor = monitor
        self.trial = trial
        self.log_params = log_params
        self.log_model = log_model
        self.artifact_path = artifact_path
        self._user = RunUser()

    def before_training(self, model: Any) -> Any:
        run = self._user.get()
        if self.log_params:
            params = self.params if self.params is not None else _booster_params(model)
            run.log_params(plain_params(params))
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: Mapping[str, Any]) -> bool:
        run = self._user.get()
        values: dict[str, float] = {}
        for data_name, metrics in evals_log.items():
            for metric_name, history in metrics.items():
                last = history[-1]
                # With cross-validation each point is (mean, std).
                value = last[0] if isinstance(last, tuple) else last
                values[f"{data_name}/{metric_name}"] = float(value)
        if not values:
            return False
        run.log_metrics(values, step=epoch)
        key = self.monitor or list(values)[-1]
        if key not in values:
            raise InvalidInput(
                f"tane XGBoost callback: monitor {key!r} is not among the evaluation "
                f"results {sorted(values)}"
            )
        try:
            check_pruning(values[key], epoch, key, self.trial)
        except BaseException as exc:
            self._user.finish(exc)
            raise
        return False

    def after_training(self, model: Any) -> Any:
        if self.log_model:
            from tane.tracking.models import log_model

            self._user.get()
            log_model(model, self.artifact_path)
        self._user.finish()
        return model


def _booster_params(model: Any) -> dict[str, Any]:
    learner = json.loads(model.save_config())["learner"]
    params: dict[str, Any] = dict(learner.get("learner_train_param", {}))
    booster = learner.get("gradient_booster", {})
    params.update(booster.get("tree_train_param", {}))
    params.update(booster.get("gbtree_train_param", {}))
    params.pop("updater_seq", None)
    return params
