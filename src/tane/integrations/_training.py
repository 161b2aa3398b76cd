"""What the training callbacks share: their run, their params and the pruner's question."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tane.tracking.fluent import ActiveRun, active_run, start_run


class RunUser:
    """The run a callback logs to: the active one, else one it starts and ends itself."""

    def __init__(self) -> None:
        self.run: ActiveRun | None = None
        self.owned = False

    def get(self) -> ActiveRun:
        if self.run is None or self.run.ended:
            active = active_run()
            self.owned = active is None
            self.run = start_run() if active is None else active
        return self.run

    def finish(self, error: BaseException | None = None) -> None:
        """End the run if this callback started it (as ``error`` ends a ``with`` block)."""
        if self.run is not None and self.owned and not self.run.ended:
            if error is None:
                self.run.end()
            else:
                self.run.__exit__(type(error), error, error.__traceback__)
        self.run = None
        self.owned = False


def plain_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Params as tane stores them: numbers, text, and the text of anything else."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None or isinstance(value, (bool, int, float, str, list, tuple, dict)):
            out[str(key)] = value
        else:
            out[str(key)] = getattr(value, "__name__", None) or repr(value)
    return out


def check_pruning(value: float, step: int, metric: str, trial: Any) -> None:
    """Ask the sweep's pruner about the running trial; raise TrialPruned if it says stop.

    ``trial`` is the ``Trial`` of a define-by-run sweep (``tane.sweep(objective)``):
    the value is reported to it. Without one, ``tane.should_prune(metric)`` asks the
    driver of a script or pipeline sweep about the points of ``metric`` logged so
    far; outside a sweep it never prunes.
    """
    from tane.sweep.trial import TrialPruned, should_prune

    if trial is not None:
        trial.report(value, step)
        if trial.should_prune():
            raise TrialPruned(f"pruned at step {step} ({metric} = {value:g})")
    elif should_prune(metric):
        raise TrialPruned(f"pruned at step {step} ({metric} = {value:g})")
