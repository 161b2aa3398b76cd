"""Record PyTorch Lightning training: ``TaneLogger`` and, for sweeps, ``TanePruning``.

    trainer = lightning.Trainer(
        logger=tane.integrations.lightning.TaneLogger(),
        callbacks=[tane.integrations.lightning.TanePruning(monitor="val_loss")],
    )

The logger records ``save_hyperparameters()`` (flattened to dotted keys) as params
and everything ``self.log`` sends to loggers as metrics, with the trainer's global
step as their step. It logs to the active run, or starts a run of its own when
training starts and ends it with the training (FINISHED, FAILED, or KILLED).
"""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from lightning.fabric.utilities.logger import _convert_params, _flatten_dict
from lightning.pytorch import Callback
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

from tane.integrations._training import RunUser, check_pruning, plain_params
from tane.tracking.entities import RunStatus

__all__ = ["TaneLogger", "TanePruning"]

_STATUS = {"success": RunStatus.FINISHED, "failed": RunStatus.FAILED}


class TaneLogger(Logger):
    """A Lightning logger writing params and metrics to a tane run.

    Args:
        prefix: Put before every metric key (``"fold1/"``: ``fold1/val_loss``).
    """

    def __init__(self, prefix: str = "") -> None:
        super().__init__()
        self._prefix = prefix
        self._user = RunUser()

    @property
    def run(self) -> Any:
        """The run being logged to (started on first use when none is active)."""
        return self._user.get()

    @property
    def name(self) -> str | None:
        return str(self.run.experiment)

    @property
    def version(self) -> str | None:
        return str(self.run.id)

    @rank_zero_only
    def log_hyperparams(
        self, params: Mapping[str, Any] | Namespace, *args: Any, **kwargs: Any
    ) -> None:
        flat = _flatten_dict(
            _convert_params(params if isinstance(params, Namespace) else dict(params)),
            delimiter=".",
        )
        if flat:
            self.run.log_params(plain_params(flat))

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        values = {f"{self._prefix}{key}": float(value) for key, value in metrics.items()}
        self.run.log_metrics(values, step=step)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        run = self._user.run
        if run is None:
            return
        run.flush()
        if self._user.owned and not run.ended:
            run.end(_STATUS.get(status, RunStatus.KILLED))
        self._user.run = None


class TanePruning(Callback):
    """Stop a sweep trial the pruner gives up on, after a validation epoch.

    Args:
        monitor: The metric the pruner sees, as ``self.log`` names it (``val_loss``).
        trial: The trial of a define-by-run sweep (``tane.sweep(objective)``);
            in script and pipeline sweeps ``tane.should_prune`` needs none.

    Raises ``tane.TrialPruned`` out of ``trainer.fit``; outside a sweep it does nothing.
    """

    def __init__(self, monitor: str, trial: Any = None) -> None:
        super().__init__()
        self.monitor = monitor
        self.trial = trial

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        for logger in trainer.loggers:
            if isinstance(logger, TaneLogger):
                logger.run.flush()
        check_pruning(float(value), int(trainer.current_epoch), self.monitor, self.trial)
