"""``tane.sweep(objective, ...)``: define-by-run search, as Optuna users write it, recorded.

    def objective(trial):
        x = trial.suggest_float("x", -10, 10)
        return (x - 2) ** 2

    best = tane.sweep(objective, n_trials=100, sampler="tpe", experiment="quad")
    best.best_params, best.best_value, best.best_run_id

Every trial is a child run of one parent run: the suggested values as params, the
returned value as the ``objective`` metric (a dict's numbers under their keys),
intermediate values as metrics, PRUNED/FAILED with the reason.
"""

from __future__ import annotations

import json
import math
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from tane.errors import InvalidInput
from tane.sweep.driver import KIND_TAG, JobResult
from tane.sweep.run import SETTINGS_TAG, SweepOutcome, _record, _Reporter
from tane.sweep.search import TRIAL_TAG, Search, SweepSettings, make_study, tell
from tane.sweep.space import SearchSpace
from tane.sweep.trial import TrialPruned


class Trial:
    """One trial of a define-by-run sweep: Optuna's ``suggest_*`` API, recorded in its run.

    Each suggested value is logged as a param of the trial's run when it is
    suggested; ``report`` logs an intermediate value as a metric and hands it to
    the pruner.
    """

    def __init__(self, trial: Any, run: Any, objective: str) -> None:
        self._trial = trial
        self._run = run
        self._objective = objective
        self._params: dict[str, Any] = {}
        self.constrained = False

    @property
    def number(self) -> int:
        return int(self._trial.number)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._trial.params)

    @property
    def run_id(self) -> str:
        return str(self._run.id)

    def _logged(self, name: str, value: Any) -> Any:
        self._params[name] = value  # stored with the trial's end, in one write
        return value

    def _store_params(self) -> None:
        if self._params:
            from tane.tracking.values import normalize_mapping

            # Written with the run's end, in the same commit (ActiveRun.held_params).
            self._run.held_params.update(normalize_mapping(self._params, "param key"))
            self._params = {}

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        return float(
            self._logged(name, self._trial.suggest_float(name, low, high, step=step, log=log))
        )

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        return int(self._logged(name, self._trial.suggest_int(name, low, high, step=step, log=log)))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self._logged(name, self._trial.suggest_categorical(name, choices))

    def report(self, value: float, step: int) -> None:
        """Log an intermediate value (as the objective metric at ``step``) for the pruner."""
        self._run.log_metric(self._objective, float(value), step=step)
        self._trial.report(float(value), step)

    def should_prune(self) -> bool:
        return bool(self._trial.should_prune())

    def set_constraint(self, key: str, value: float) -> None:
        """One constraint value, as Optuna 5 takes it: feasible when every one is <= 0.

        For a sweep started with ``constraints=True``; logged as a metric too.
        """
        self._trial.set_constraint(key, float(value))
        self._run.log_metrics({key: float(value)})
        self.constrained = True

    def set_constraints(self, values: Sequence[float]) -> None:
        """Several constraint values at once, named ``constraint_0``, ``constraint_1``, ..."""
        for i, value in enumerate(values):
            self.set_constraint(f"constraint_{i}", value)

    def set_user_attr(self, key: str, value: Any) -> None:
        self._trial.set_user_attr(key, value)
        self._run.set_tags({f"user.{key}": value})


def sweep(
    objective: Callable[[Trial], Any],
    *,
    n_trials: int | None = None,
    timeout: float | None = None,
    sampler: str = "tpe",
    sampler_options: dict[str, Any] | None = None,
    direction: str = "minimize",
    directions: Sequence[str] | None = None,
    pruner: str = "none",
    pruner_options: dict[str, Any] | None = None,
    seed: int | None = None,
    target: float | None = None,
    enqueue: Sequence[dict[str, Any]] = (),
    constraints: bool = False,
    experiment: str | None = None,
    name: str | None = None,
    store: str | None = None,
    verbose: bool = False,
) -> SweepOutcome:
    """Search ``objective(trial)`` with an Optuna sampler; every trial a recorded child run.

    Args:
        objective: Takes a :class:`Trial`, returns a number (or, for several
            directions, a sequence of numbers).
        n_trials: How many trials (default 20); ``timeout`` stops asking after
            that many seconds; ``target`` once the best value reaches it.
        sampler: ``tpe`` (default), ``random``, ``cmaes``, ``gp``, ``nsgaii``,
            ``motpe``, ``qmc`` (``grid`` needs a space: use ``--sweep`` overrides).
        direction: ``minimize`` or ``maximize``; ``directions`` for several objectives.
        pruner: ``none``, ``median``, ``percentile``, ``halving``, ``hyperband``.
        seed: Makes the sampler reproducible.
        enqueue: Params to try first (known-good settings).
        constraints: Every trial calls ``trial.set_constraints([...])``; the
            sampler (tpe, motpe, nsgaii, gp) prefers trials whose values are all <= 0.
        experiment: Experiment of the runs; ``name`` names the parent run.
        store: A store URI (default: TANE_STORE or the project's).
        verbose: Print a line per trial and the best at the end.

    Returns:
        The best value, params and run, every trial, the importances and the study.
    """
    import tane

    dirs = list(directions) if directions else [direction]
    settings = SweepSettings(
        sampler=sampler,
        sampler_options=dict(sampler_options or {}),
        directions=dirs,
        objectives=["objective"]
        if len(dirs) == 1
        else [f"objective_{i}" for i in range(len(dirs))],
        trials=n_trials,
        timeout=timeout,
        pruner=pruner,
        pruner_options=dict(pruner_options or {}),
        seed=seed,
        target=target,
        enqueue=[dict(p) for p in enqueue],
        constraints=["(set by the trial)"] if constraints else [],
    )
    if settings.sampler == "grid":
        raise InvalidInput(
            "the grid sampler needs its values up front: sweep a script with "
            "--sweep a=1,2 --sampler grid, or use random/tpe here"
        )
    space = SearchSpace()
    study = make_study(settings, space)
    for params in settings.enqueue:
        study.enqueue_trial(params)
    search = Search(study, space, settings)
    reporter = _Reporter(search, settings) if verbose else None
    results: list[JobResult] = []
    with tane.start_run(
        experiment=experiment,
        name=name or f"{getattr(objective, '__name__', 'objective')} sweep",
        tags={
            KIND_TAG: "sweep",
            "tane.sweep.sampler": settings.sampler,
            # Known from the start, so that a sweep still running can be shown whole.
            SETTINGS_TAG: json.dumps(asdict(settings), default=str),
        },
        store=store,
    ) as parent:
        while not search._should_stop():
            trial = study.ask()
            search.asked += 1
            result = _one_trial(objective, trial, parent, settings, study, search)
            results.append(result)
            search.finished += 1
            if reporter is not None:
                reporter.trial_done(result)
            best = search._best() if len(dirs) == 1 else None
            if best is not None:
                parent.log_metric("best_value", best, step=trial.number)
        # Trials are written in groups by the writer: all of them before returning.
        from tane.tracking.fluent import flush

        flush()
        outcome = _record(parent, study, space, settings, results, search)
    if reporter is not None:
        reporter.summary(outcome, search)
    return outcome


class _Direct:
    """What ``tane.should_prune()`` asks in a define-by-run trial: its Optuna trial."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial

    def should_prune(self, number: int, points: Sequence[tuple[int, float]]) -> bool:
        for step, value in points:
            if math.isfinite(value):
                self.trial.report(float(value), int(step))
        return bool(self.trial.should_prune())


def _one_trial(
    objective: Callable[[Trial], Any],
    trial: Any,
    parent: Any,
    settings: SweepSettings,
    study: Any,
    search: Search | None = None,
) -> JobResult:
    from optuna.trial import TrialState

    started = time.perf_counter()
    result = JobResult(trial.number, (), "FINISHED")
    from tane.tracking.fluent import start_run

    # Lazy: written whole at its end, in one commit (sooner if it logs an artifact).
    run = start_run(
        name=f"trial-{trial.number}",
        parent_id=parent.id,
        tags={TRIAL_TAG: str(trial.number)},
        _lazy=True,
    )
    result.run_id = run.id
    wrapped = Trial(trial, run, settings.objectives[0])
    from tane.sweep.trial import TrialContext, set_current

    # tane.should_prune() (what the framework callbacks ask) reaches this Optuna trial.
    set_current(TrialContext(trial.number, settings.objectives[0], _Direct(trial)))  # type: ignore[arg-type]
    try:
        with run:
            try:
                value = objective(wrapped)
            finally:
                wrapped._store_params()
            values, reason = _values(value, len(settings.directions))
            if values is None:
                raise _NoValue(reason or "no value")
            if settings.constraints and not wrapped.constrained:
                raise _NoValue(
                    "the sweep takes constraints: call trial.set_constraint(name, value) (or "
                    "set_constraints([...])) in every trial"
                )
            run.log_metrics(dict(zip(settings.objectives, values, strict=True)))
            result.metrics.update(zip(settings.objectives, values, strict=True))
            result.value = value
    except TrialPruned:
        result.status = "PRUNED"
    except _NoValue as exc:
        result.status, result.error = "FAILED", str(exc)
    except Exception as exc:
        if type(exc).__name__ == "TrialPruned":  # optuna.TrialPruned
            result.status = "PRUNED"
        else:
            result.status = "FAILED"
            result.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    set_current(None)
    if result.status == "FINISHED":
        values = [result.metrics[k] for k in settings.objectives]
        tell(study, trial, values if len(values) > 1 else values[0])
        if search is not None:
            search.note(values)
    else:
        state = TrialState.PRUNED if result.status == "PRUNED" else TrialState.FAIL
        tell(study, trial, state=state)
    result.seconds = time.perf_counter() - started
    result.params = dict(trial.params)
    return result


class _NoValue(Exception):
    pass


def _values(value: Any, count: int) -> tuple[list[float] | None, str | None]:
    if value is None:
        return None, "the objective returned None: return a number"
    if isinstance(value, str):
        return None, f"the objective returned a string ({value!r}): return a number"
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(items) != count:
        return None, f"the objective returned {len(items)} values for {count} directions"
    out = []
    for item in items:
        try:
            number = float(item)
        except (TypeError, ValueError):
            return None, f"the objective returned {item!r}, not a number"
        if not math.isfinite(number):
            return None, f"the objective returned {number}: a trial needs a finite value"
        out.append(number)
    return out, None
