"""A search: Optuna's samplers and pruners behind the one sweep driver.

The driver alone holds the Optuna study (in memory; on resume it is rebuilt
from the trials recorded in the store). It asks the study for a trial when a
worker is free, runs it as a job (a child run with the trial's params as
overrides) and tells the study how it ended. Trials report intermediate values
by the ordinary ``tane.log_metric``; ``tane.should_prune()`` hands the new
points of the objective metric to the driver (directly in-process, or over a
local socket from worker processes) and gets the pruner's answer back.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tane.errors import InvalidInput
from tane.sweep.driver import Job, JobResult

if TYPE_CHECKING:
    import optuna

    from tane.sweep.space import SearchSpace

SAMPLERS = ("tpe", "random", "grid", "cmaes", "gp", "nsgaii", "motpe", "qmc")
PRUNERS = ("none", "median", "percentile", "halving", "hyperband")
#: Samplers that steer by Optuna 5's trial constraints (Trial.set_constraint).
CONSTRAINED = ("tpe", "motpe", "nsgaii", "gp")


#: Tag on a trial's run: the Optuna trial number.
TRIAL_TAG = "tane.trial"
DEFAULT_TRIALS = 20


@dataclass
class SweepSettings:
    """How a sweep searches (from the command line, ``tane.sweep()`` or a ``sweep:`` section)."""

    sampler: str = "tpe"
    sampler_options: dict[str, Any] = field(default_factory=dict)
    directions: list[str] = field(default_factory=lambda: ["minimize"])
    objectives: list[str] = field(default_factory=lambda: ["objective"])
    trials: int | None = None
    timeout: float | None = None
    pruner: str = "none"
    pruner_options: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    target: float | None = None
    enqueue: list[dict[str, Any]] = field(default_factory=list)
    #: Metrics that must be <= 0 for a trial to be feasible (Optuna 5's Trial.set_constraint).
    constraints: list[str] = field(default_factory=list)
    #: How parameter importances are computed: "ped-anova" (fast) or "fanova".
    importance: str = "ped-anova"

    def check(self) -> None:
        """Refuse what cannot work, naming the fix."""
        if self.sampler not in SAMPLERS:
            raise InvalidInput(
                f"unknown sampler {self.sampler!r}: use one of {', '.join(SAMPLERS)}"
            )
        if self.pruner not in PRUNERS:
            raise InvalidInput(f"unknown pruner {self.pruner!r}: use one of {', '.join(PRUNERS)}")
        for d in self.directions:
            if d not in ("minimize", "maximize"):
                raise InvalidInput(f"direction {d!r}: use minimize or maximize")
        if len(self.objectives) != len(self.directions):
            if len(self.objectives) == 1 and len(self.directions) > 1:
                raise InvalidInput(
                    f"{len(self.directions)} directions need {len(self.directions)} objective "
                    "metrics (--objective a,b)"
                )
            self.directions = self.directions * len(self.objectives)
        if len(self.directions) > 1 and self.pruner != "none":
            raise InvalidInput(
                "a pruner needs a single objective: Optuna cannot prune multi-objective "
                "studies; drop --pruner or optimize one metric"
            )
        if len(self.directions) > 1 and self.sampler in ("cmaes", "gp", "qmc"):
            pass  # Optuna itself raises for the ones that cannot; its message is clear
        if self.constraints and self.sampler not in CONSTRAINED:
            raise InvalidInput(
                f"the {self.sampler} sampler cannot take constraints: use one of "
                f"{', '.join(CONSTRAINED)}"
            )
        if self.importance not in ("ped-anova", "fanova"):
            raise InvalidInput(f"importance {self.importance!r}: use ped-anova or fanova")
        if self.trials is not None and self.trials < 1:
            raise InvalidInput(f"--trials must be at least 1, got {self.trials}")
        if self.timeout is not None and self.timeout <= 0:
            raise InvalidInput(f"--timeout must be positive, got {self.timeout}")


def make_sampler(settings: SweepSettings, space: SearchSpace | None) -> optuna.samplers.BaseSampler:
    """The Optuna sampler a sweep asks (``space`` is needed for the grid sampler)."""
    import optuna

    name, seed, options = settings.sampler, settings.seed, dict(settings.sampler_options)
    multi = len(settings.directions) > 1
    if name in {"tpe", "motpe"}:
        return optuna.samplers.TPESampler(seed=seed, **options)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed, **options)
    if name == "grid":
        if space is None or not space.params:
            raise InvalidInput("the grid sampler needs a search space of listed values")
        return optuna.samplers.GridSampler(space.grid(), seed=seed, **options)
    if name == "cmaes":
        if multi:
            raise InvalidInput("cmaes optimizes one objective: use tpe or nsgaii for several")
        if importlib.util.find_spec("cmaes") is None:
            raise InvalidInput('the cmaes sampler needs: pip install "tane[sweep]"')
        return optuna.samplers.CmaEsSampler(seed=seed, **options)
    if name == "gp":
        if importlib.util.find_spec("torch") is None:
            raise InvalidInput(
                "the gp sampler needs torch: pip install torch==2.13.0 (the CPU build: "
                '--index-url https://download.pytorch.org/whl/cpu) and "tane[gp]"'
            )
        return optuna.samplers.GPSampler(seed=seed, **options)
    if name == "nsgaii":
        return optuna.samplers.NSGAIISampler(seed=seed, **options)
    if name == "qmc":
        import warnings

        with warnings.catch_warnings():
            # Optuna marks it experimental; tane offers it as one of its samplers.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(seed=seed, **options)
    raise InvalidInput(f"unknown sampler {name!r}: use one of {', '.join(SAMPLERS)}")


def make_pruner(settings: SweepSettings) -> optuna.pruners.BasePruner:
    import optuna

    name, options = settings.pruner, dict(settings.pruner_options)
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(**options)
    if name == "percentile":
        options.setdefault("percentile", 25.0)
        return optuna.pruners.PercentilePruner(**options)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(**options)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(**options)
    raise InvalidInput(f"unknown pruner {name!r}: use one of {', '.join(PRUNERS)}")


def tell(study: optuna.Study, trial: Any, values: Any = None, state: Any = None) -> None:
    """Finish a trial. Optuna's public ``study.tell`` returns a deep copy of the trial,
    which costs more than recording it; ``optimize()`` uses the internal call below,
    and so does tane when it exists."""
    try:
        from optuna.study._tell import _tell_with_warning
    except ImportError:  # a future Optuna: the public call works the same
        study.tell(trial, values, state=state)
        return
    _tell_with_warning(study, trial, values, state, suppress_warning=True)


def make_study(settings: SweepSettings, space: SearchSpace | None) -> optuna.Study:
    import optuna

    settings.check()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        sampler=make_sampler(settings, space),
        pruner=make_pruner(settings),
        directions=settings.directions,  # type: ignore[arg-type]  # checked above
    )


def objective_values(
    settings: SweepSettings, metrics: Mapping[str, float], value: Any
) -> tuple[list[float] | None, str | None]:
    """The objective value(s) of a finished trial, or None and the reason it has none."""
    out = []
    for name in settings.objectives:
        found = metrics.get(name)
        if found is None:
            known = ", ".join(sorted(metrics)) or "none"
            if name == "objective" and value is None:
                # A pipeline's trials return nothing: the metric to optimize has a name.
                return None, (
                    f"the trial returned nothing and logged no metric 'objective' (it logged: "
                    f"{known}): name the metric to optimize with --objective (objective: in "
                    "the sweep: section), or return a number (or a dict of them)"
                )
            if name == "objective" and isinstance(value, str):
                return None, f"the objective returned a string ({value!r}): return a number"
            return None, (
                f"the trial never logged the objective metric {name!r} (it logged: {known}); "
                "return it, log it with tane.log_metric, or name another with --objective"
            )
        if not math.isfinite(found):
            return None, f"objective {name!r} is {found}: a trial needs a finite value"
        out.append(float(found))
    return out, None


# -- the job source ------------------------------------------------------------------


class Search:
    """Asks the study for trials as jobs, and tells it how each ended.

    Args:
        study: The Optuna study (told the finished trials of a resumed sweep).
        space: Keys searched and fixed overrides.
        settings: Trials, timeout, target, objectives.
        already: Trials counted as done before this process started (resume).
    """

    def __init__(
        self, study: optuna.Study, space: SearchSpace, settings: SweepSettings, already: int = 0
    ) -> None:
        self.study = study
        self.space = space
        self.settings = settings
        self.already = already
        self.trials: dict[int, optuna.trial.Trial] = {}
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.asked = 0
        self.finished = 0
        self.stop_reason: str | None = None
        self.best: float | None = None
        done = study.get_trials(deepcopy=False)
        for t in done:
            if t.values is not None and t.state.name == "COMPLETE":
                self.note(t.values)

    def limit(self) -> int:
        if self.settings.trials is not None:
            return self.settings.trials
        if self.settings.sampler == "grid":
            return math.prod(len(v) for v in self.space.grid().values())
        return DEFAULT_TRIALS

    def _should_stop(self) -> bool:
        s = self.settings
        if self.already + self.asked >= self.limit():
            self.stop_reason = f"{self.limit()} trials"
            return True
        if s.timeout is not None and time.monotonic() - self.started >= s.timeout:
            self.stop_reason = f"the {s.timeout:g} s timeout"
            return True
        if s.target is not None and len(s.directions) == 1 and self._best() is not None:
            best = self._best()
            assert best is not None
            reached = best <= s.target if s.directions[0] == "minimize" else best >= s.target
            if reached:
                self.stop_reason = f"the target {s.target:g} (best {best:g})"
                return True
        return False

    def _best(self) -> float | None:
        """The best value so far (single objective), kept as trials are told."""
        return self.best

    def note(self, values: Sequence[float] | float | None) -> None:
        """Keep the best value: Optuna's study.best_value deep-copies a trial per call."""
        if values is None or len(self.settings.directions) != 1:
            return
        value = float(values if isinstance(values, (int, float)) else values[0])
        if self.best is None:
            self.best = value
        elif self.settings.directions[0] == "minimize":
            self.best = min(self.best, value)
        else:
            self.best = max(self.best, value)

    def jobs(self, done: set[tuple[str, ...]]) -> Iterator[Job]:
        while not self._should_stop():
            with self.lock:
                trial = self.study.ask(self.space.params)
                self.trials[trial.number] = trial
                self.asked += 1
            params = tuple(trial.params.items())
            yield Job(trial.number, tuple(self.space.overrides(trial.params)), params)

    def tell(self, result: JobResult) -> None:
        """Tell the study how a job ended (FINISHED, PRUNED or FAILED)."""
        from optuna.trial import TrialState

        with self.lock:
            trial = self.trials.pop(result.index, None)
            if trial is None:
                return
            self.finished += 1
            try:
                if result.status == "PRUNED":
                    tell(self.study, trial, state=TrialState.PRUNED)
                    return
                if result.status != "FINISHED":
                    tell(self.study, trial, state=TrialState.FAIL)
                    return
                values, reason = objective_values(self.settings, result.metrics, result.value)
                if values is not None and self.settings.constraints:
                    missing = [c for c in self.settings.constraints if c not in result.metrics]
                    if missing:
                        values, reason = (
                            None,
                            (f"the trial never logged the constraint metric(s) {missing}"),
                        )
                    else:
                        for name in self.settings.constraints:
                            trial.set_constraint(name, float(result.metrics[name]))
                if values is None:
                    result.status = "FAILED"
                    result.error = reason
                    tell(self.study, trial, state=TrialState.FAIL)
                    return
                tell(self.study, trial, values if len(values) > 1 else values[0])
                self.note(values)
            except RuntimeError as exc:
                # The grid sampler stops the study at its last point; outside
                # optimize() Optuna raises for that. The sweep is over: fine.
                if "stop" not in str(exc).lower():
                    raise

    # -- pruning ----------------------------------------------------------------------

    def should_prune(self, number: int, points: Sequence[tuple[int, float]]) -> bool:
        """Report a trial's new intermediate values; True if the pruner says stop."""
        with self.lock:
            trial = self.trials.get(number)
            if trial is None:
                return False
            for step, value in points:
                if math.isfinite(value):
                    trial.report(float(value), int(step))
            return bool(trial.should_prune())


# -- the channel trials ask through ---------------------------------------------------

ADDRESS_ENV = "TANE_SWEEP_ADDRESS"
KEY_ENV = "TANE_SWEEP_KEY"


class PruneServer:
    """A socket the driver answers ``should_prune`` on, for trials in other processes.

    A local Unix socket for worker processes; for Ray workers, which may be on
    other machines, a TCP port on ``host`` (the address Ray knows this machine
    by). Only a client holding the random key is answered.
    """

    def __init__(self, search: Search, host: str | None = None) -> None:
        from multiprocessing.connection import Listener

        self.search = search
        self.key = os.urandom(16)
        if host is not None:
            self.listener = Listener((host, 0), family="AF_INET", authkey=self.key)
        else:
            self.listener = Listener(
                family="AF_UNIX" if os.name == "posix" else "AF_INET", authkey=self.key
            )
        self.address = self.listener.address
        self.thread = threading.Thread(target=self._serve, name="tane-prune", daemon=True)
        self.closed = False
        self.thread.start()

    def env(self) -> dict[str, str]:
        address = self.address
        if isinstance(address, tuple):
            address = f"{address[0]}:{address[1]}"
        return {ADDRESS_ENV: str(address), KEY_ENV: self.key.hex()}

    def _serve(self) -> None:
        while not self.closed:
            try:
                conn = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: Any) -> None:
        with conn:
            while True:
                try:
                    number, points = conn.recv()
                except (EOFError, OSError):
                    return
                conn.send(self.search.should_prune(number, points))

    def close(self) -> None:
        self.closed = True
        self.listener.close()
