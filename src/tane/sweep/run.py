"""Running a search over a configured app (``--sweep``, ``tane sweep``): the parent run,
the trials as child runs, the report, the record and resume."""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tane.errors import InvalidInput
from tane.sweep.driver import KIND_TAG, SWEEP_TAG, JobResult, run_jobs
from tane.sweep.search import (
    TRIAL_TAG,
    PruneServer,
    Search,
    SweepSettings,
    make_study,
    objective_values,
)

if TYPE_CHECKING:
    import optuna

    from tane.sweep.space import SearchSpace

SETTINGS_TAG = "tane.sweep.settings"
PARAMS_TAG = "tane.trial.params"
_SECTION_KEYS = {
    "params",
    "sampler",
    "trials",
    "direction",
    "directions",
    "objective",
    "objectives",
    "pruner",
    "timeout",
    "seed",
    "target",
    "enqueue",
    "constraints",
    "importance",
}


def is_sweep_section(value: Any) -> bool:
    """True for a config's ``sweep:`` mapping (tane's search settings, not task config)."""
    return isinstance(value, Mapping) and bool(set(map(str, value)) & _SECTION_KEYS)


def settings_from(section: Mapping[str, Any], args: Any = None) -> SweepSettings:
    """Sweep settings: the config's ``sweep:`` section, then the command line on top."""
    s = SweepSettings()

    def named(value: Any) -> tuple[str, dict[str, Any]]:
        if isinstance(value, Mapping):
            options = {k: v for k, v in value.items() if k != "name"}
            return str(value.get("name", "tpe")), options
        return str(value), {}

    if "sampler" in section:
        s.sampler, s.sampler_options = named(section["sampler"])
    if "pruner" in section:
        s.pruner, s.pruner_options = named(section["pruner"])
    directions = section.get("directions", section.get("direction"))
    if directions is not None:
        s.directions = _as_list(directions)
    objectives = section.get("objectives", section.get("objective"))
    if objectives is not None:
        s.objectives = _as_list(objectives)
    for key in ("trials", "timeout", "seed", "target"):
        if section.get(key) is not None:
            setattr(s, key, section[key])
    if section.get("enqueue"):
        s.enqueue = [dict(p) for p in section["enqueue"]]
    if section.get("constraints"):
        s.constraints = _as_list(section["constraints"])
    if section.get("importance"):
        s.importance = str(section["importance"])
    if args is not None:
        if getattr(args, "sampler", None):
            s.sampler, s.sampler_options = args.sampler, {}
        if getattr(args, "pruner", None):
            s.pruner, s.pruner_options = args.pruner, {}
        if getattr(args, "direction", None):
            s.directions = _as_list(args.direction)
        if getattr(args, "objective", None):
            s.objectives = _as_list(args.objective)
        if getattr(args, "constraint", None):
            s.constraints = _as_list(args.constraint)
        for key in ("trials", "timeout", "seed", "target"):
            if getattr(args, key, None) is not None:
                setattr(s, key, getattr(args, key))
    if len(s.directions) == 1 and len(s.objectives) > 1:
        s.directions = s.directions * len(s.objectives)
    s.check()
    return s


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


@dataclass
class SweepOutcome:
    """What a sweep found."""

    parent_id: str
    best_value: float | list[float] | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_run_id: str | None = None
    trials: list[JobResult] = field(default_factory=list)
    importances: dict[str, float] = field(default_factory=dict)
    study: Any = None

    def _repr_html_(self) -> str:
        from tane.tracking._html import sweep_html

        return sweep_html(self)


def search_space(app: Any, overrides: Sequence[str], section: Mapping[str, Any]) -> SearchSpace:
    """The space: sweep overrides if there are any, else ``sweep.params``, else Hydra's."""
    from tane.sweep.space import from_expressions, from_overrides

    space = from_overrides(app.composer.parse(list(overrides)))
    if space.params:
        return space
    params = section.get("params")
    where = "the sweep: section of the config"
    if not params:
        params = app.composer.sweeper_params(list(space.fixed))
        where = "hydra.sweeper.params"
    if not params:
        raise InvalidInput(
            "nothing to search: give sweep overrides (model.lr='interval(1e-4,1)', "
            "model=a,b), or a sweep: params: section in the config"
        )
    found = from_expressions(params, app.composer.parse, where)
    found.fixed = [*space.fixed, *found.fixed]
    return found


def run_sweep(
    app: Any,
    overrides: list[str],
    settings: SweepSettings,
    n_jobs: int = 1,
    resume: str | None = None,
    name: str | None = None,
    launcher: str = "local",
) -> SweepOutcome:
    """Search with Optuna through the sweep driver; every trial a child run of one parent.

    ``launcher`` ``ray`` runs the trials as Ray tasks, ``n_jobs`` at a time, on the
    cluster of ``app.cluster()`` (a pipeline app's: ``--address``, tane.yaml's ``ray:``).
    """
    import tane

    client = tane.Client()
    parent = None
    if resume:
        parent = client.get_run(resume)
        if parent.tags.get(KIND_TAG) != "sweep":
            raise InvalidInput(f"run {parent.id} is not a sweep: nothing to resume")
        overrides = json.loads(parent.tags[SWEEP_TAG])
        settings = SweepSettings(**json.loads(parent.tags[SETTINGS_TAG]))
    section = app.compose_base_sweep_section()
    space = search_space(app, overrides, section)
    if settings.sampler == "grid":
        space.grid()  # continuous ranges refused here, naming the key
    app.compose(space.fixed)  # a bad config fails before any run is recorded
    cluster = None
    if launcher == "ray":
        cluster_of = getattr(app, "cluster", None)
        if cluster_of is None:
            raise InvalidInput("the ray launcher runs the trials of `tane sweep` (pipelines)")
        from tane.project import resolve_store_uri

        cluster = cluster_of()
        cluster.check_store(resolve_store_uri(None))
    elif launcher != "local":
        raise InvalidInput(f"unknown launcher {launcher!r}: use local or ray")
    remote = cluster is not None or n_jobs > 1  # trials run in other processes
    study = make_study(settings, space)
    for params in settings.enqueue:
        study.enqueue_trial(params)
    parent_run = tane.start_run(
        experiment=app.experiment_name(),
        name=name or f"{app.job_name} sweep",
        run_id=parent.id if parent is not None else None,
        tags={
            KIND_TAG: "sweep",
            SWEEP_TAG: json.dumps(list(overrides)),
            SETTINGS_TAG: json.dumps(asdict(settings)),
            "tane.app": app.job_name,
            "tane.sweep.sampler": settings.sampler,
        },
    )
    already = _restore(client, study, space, settings, parent_run.id) if parent else 0
    search = Search(study, space, settings, already)
    reporter = _Reporter(search, settings)
    server = None
    prune: dict[str, str] = {}
    if remote and settings.pruner != "none":
        host = None
        if cluster is not None:
            from tane.cluster import node_ip

            host = node_ip()  # Ray's workers may be elsewhere
        server = PruneServer(search, host)
        prune = server.env()
    store = parent_run.store.uri
    execute = functools.partial(
        _execute_trial,
        app.entry,
        store if remote else None,
        settings.objectives[0],
        None if remote else search,
        prune,
    )

    def finished(result: JobResult) -> None:
        missing = [k for k in settings.objectives if k not in result.metrics]
        if missing and result.run_id and result.status == "FINISHED":
            # Logged with tane.log_metric (a pipeline's nodes do) rather than returned.
            logged = client.get_run(result.run_id).metrics
            result.metrics.update({k: v for k, v in logged.items() if k not in result.metrics})
        search.tell(result)
        reporter.trial_done(result)
        best = search._best()
        if best is not None and len(settings.directions) == 1:
            parent_run.log_metric("best_value", best, step=result.index)

    try:
        with parent_run:
            pool = cluster.executor() if cluster is not None else None
            results = run_jobs(
                search.jobs(set()), execute, parent_run.id, n_jobs, finished, pool=pool
            )
            outcome = _record(parent_run, study, space, settings, results, search)
    finally:
        reporter.close()
        if server is not None:
            server.close()
    reporter.summary(outcome, search)
    return outcome


def _execute_trial(
    entry: Any,
    store: str | None,
    objective: str,
    search: Search | None,
    prune: dict[str, str],
    job: Any,
    parent: str,
) -> JobResult:
    """Run one trial (module level, so worker processes can unpickle it).

    ``prune`` is where the driver answers ``should_prune`` (empty: no pruner,
    or the driver is this process: ``search``).
    """
    from tane.sweep.driver import timed
    from tane.sweep.search import ADDRESS_ENV, KEY_ENV
    from tane.sweep.trial import TrialContext, set_current

    for name in (ADDRESS_ENV, KEY_ENV):  # a reused worker: not an earlier sweep's driver
        os.environ.pop(name, None)
    os.environ.update(prune)

    app = entry.tane_app
    set_current(TrialContext(job.index, objective, search))
    try:
        result = timed(
            lambda: app.run_job(
                job.overrides,
                job.index,
                parent,
                store,
                extra_tags={
                    TRIAL_TAG: str(job.index),
                    PARAMS_TAG: json.dumps(dict(job.params), default=str),
                },
            )
        )
        result.params = dict(job.params)
        return result
    finally:
        set_current(None)


def _restore(
    client: Any, study: optuna.Study, space: SearchSpace, settings: SweepSettings, parent_id: str
) -> int:
    """Tell a resumed sweep's study every recorded trial; re-ask those that were cut off."""
    import optuna
    from optuna.trial import TrialState

    done = 0
    for run in _children(client, parent_id):
        text = run.tags.get(PARAMS_TAG)
        if text is None:
            continue
        params = json.loads(text)
        dists = {k: v for k, v in space.params.items() if k in params}
        status = run.status.value
        if status == "FINISHED":
            values, _ = objective_values(settings, run.metrics, None)
            state = TrialState.COMPLETE if values is not None else TrialState.FAIL
        elif status == "PRUNED":
            values, state = None, TrialState.PRUNED
        elif status == "FAILED":
            values, state = None, TrialState.FAIL
        else:  # RUNNING, CRASHED, KILLED: cut off by the interruption
            if status == "RUNNING":
                client.store.update_run(run.id, status=_killed(), end_time=int(time.time() * 1000))
            study.enqueue_trial(params)
            continue
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions=dists,
                values=values,
                state=state,
            )
        )
        done += 1
    return done


def importances(study: optuna.Study, evaluator: str = "ped-anova") -> dict[str, float]:
    """Parameter importances by Optuna's PED-ANOVA (milliseconds), or fANOVA on request.

    fANOVA, Optuna's default, fits a random forest with scikit-learn: about a
    second in a fresh process, more than many sweeps' trials together.
    """
    import optuna

    chosen = (
        optuna.importance.FanovaImportanceEvaluator(seed=0)
        if evaluator == "fanova"
        else optuna.importance.PedAnovaImportanceEvaluator()
    )
    try:
        found = optuna.importance.get_param_importances(study, evaluator=chosen)
    except (RuntimeError, ValueError):
        return {}
    return {k: float(v) for k, v in found.items()}


def _children(client: Any, parent_id: str) -> list[Any]:
    found: list[Any] = []
    token = None
    while True:
        page = client.search_runs(
            f"attributes.parent_id = '{parent_id}'", max_results=1000, page_token=token
        )
        found.extend(page)
        token = page.next_page_token
        if token is None:
            return found


def _killed() -> Any:
    from tane.tracking.entities import RunStatus

    return RunStatus.KILLED


def _record(
    parent: Any,
    study: optuna.Study,
    space: SearchSpace,
    settings: SweepSettings,
    results: list[JobResult],
    search: Search,
) -> SweepOutcome:
    """Best trial, best params, importances and every trial, in the parent run."""
    from optuna.trial import TrialState

    from tane.sweep.space import describe

    outcome = SweepOutcome(parent.id, trials=results, study=study)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    by_number = {r.index: r for r in results}
    if complete:
        if len(settings.directions) == 1:
            best = study.best_trial
            outcome.best_value = best.value
            outcome.best_params = dict(best.params)
            found = by_number.get(best.number)
            outcome.best_run_id = found.run_id if found else None
            if best.value is not None:
                parent.log_metrics({"best_value": float(best.value)})
        else:
            front = study.best_trials
            outcome.best_value = list(front[0].values) if front else None
            outcome.best_params = dict(front[0].params) if front else {}
        # Define-by-run sweeps have no space up front: their trials' params count.
        if len(complete) >= 2 and len(settings.directions) == 1 and complete[0].params:
            outcome.importances = importances(study, settings.importance)
    every = study.get_trials(deepcopy=False)
    tags = {
        "tane.sweep.trials": str(len(every)),
        "tane.sweep.complete": str(len(complete)),
        "tane.sweep.pruned": str(sum(1 for t in every if t.state == TrialState.PRUNED)),
        "tane.sweep.failed": str(sum(1 for t in every if t.state == TrialState.FAIL)),
    }
    if outcome.best_run_id:
        tags["tane.sweep.best_run"] = outcome.best_run_id
    if outcome.best_params:
        tags["tane.sweep.best_params"] = json.dumps(outcome.best_params)
    if search.stop_reason:
        tags["tane.sweep.stopped_by"] = search.stop_reason
    parent.set_tags(tags)
    doc = {
        "settings": asdict(settings),
        "space": {k: describe(v) for k, v in space.params.items()},
        "fixed": space.fixed,
        "best": {
            "value": outcome.best_value,
            "params": outcome.best_params,
            "run_id": outcome.best_run_id,
        },
        "importances": outcome.importances,
        "pareto": (
            [
                {"number": t.number, "values": t.values, "params": t.params}
                for t in study.best_trials
            ]
            if len(settings.directions) > 1 and complete
            else []
        ),
        "trials": [
            {
                "number": t.number,
                "state": t.state.name,
                "params": t.params,
                "values": t.values,
                "intermediate": {str(k): v for k, v in t.intermediate_values.items()},
                "run_id": by_number[t.number].run_id if t.number in by_number else None,
                "seconds": by_number[t.number].seconds if t.number in by_number else None,
            }
            for t in study.get_trials(deepcopy=False)
        ],
    }
    parent.log_bytes(json.dumps(doc, indent=1, default=str).encode("utf-8"), "sweep.json")
    return outcome


class _Reporter:
    """A line per finished trial with the best so far; the best and importances at the end."""

    def __init__(self, search: Search, settings: SweepSettings) -> None:
        self.search = search
        self.settings = settings
        self.total = search.limit()
        self.count = search.already
        self.rows: list[tuple[str, ...]] = []
        self.live: Any = None
        if sys.stdout.isatty():
            # On a terminal: a live table of the latest trials and the best so far.
            from rich.live import Live

            self.live = Live(self._table(), refresh_per_second=4, transient=False)
            self.live.start()

    def _table(self) -> Any:
        from rich.table import Table

        best = self.search._best() if len(self.settings.directions) == 1 else None
        title = f"trials {self.count}/{self.total}" + (
            f", best {self.settings.objectives[0]} {_fmt(best)}" if best is not None else ""
        )
        table = Table(title=title, title_justify="left", header_style="bold", box=None)
        for col in ("#", *self.search.space.params, self.settings.objectives[0], "status", "s"):
            table.add_column(col)
        for row in self.rows[-15:]:
            table.add_row(*row)
        return table

    def close(self) -> None:
        if self.live is not None:
            self.live.update(self._table())
            self.live.stop()
            self.live = None

    def trial_done(self, result: JobResult) -> None:
        self.count += 1
        if self.live is not None:
            values = dict(result.params)
            value = result.metrics.get(self.settings.objectives[0])
            self.rows.append(
                (
                    str(result.index),
                    *[_short(values.get(k)) for k in self.search.space.params],
                    _fmt(value) if value is not None else "-",
                    result.status if result.status != "FAILED" else f"FAILED: {result.error}",
                    f"{result.seconds:.1f}",
                )
            )
            self.live.update(self._table())
            return
        objective = self.settings.objectives[0]
        value = result.metrics.get(objective)
        shown = f"{objective}={_fmt(value)}" if value is not None else ""
        if result.status == "FAILED":
            shown = f"FAILED: {result.error}"
        elif result.status == "PRUNED":
            shown = "PRUNED"
        best = self.search._best() if len(self.settings.directions) == 1 else None
        best_text = f"  best {_fmt(best)}" if best is not None else ""
        searched = " ".join(o for o in result.overrides if o not in self.search.space.fixed)
        if not searched and result.params:  # a define-by-run trial
            searched = " ".join(f"{k}={_short(v)}" for k, v in result.params.items())
        print(
            f"[{self.count}/{self.total}] #{result.index} {searched}  {shown}{best_text}"
            f"  ({result.seconds:.1f} s)",
            flush=True,
        )

    def summary(self, outcome: SweepOutcome, search: Search) -> None:
        self.close()
        trials = outcome.study.get_trials(deepcopy=False) if outcome.study is not None else []
        states: dict[str, int] = {}
        for t in trials:
            states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
        counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        print(f"\nsweep {outcome.parent_id[:8]}: {len(trials)} trials ({counts})")
        if search.stop_reason:
            print(f"stopped by {search.stop_reason}")
        if outcome.best_value is None:
            print("no trial finished with a value")
            sys.stdout.flush()
            return
        run = f" (run {outcome.best_run_id[:8]})" if outcome.best_run_id else ""
        print(f"best {self.settings.objectives[0]}: {_fmt_any(outcome.best_value)}{run}")
        for key, value in outcome.best_params.items():
            print(f"  {key} = {value}")
        if outcome.importances:
            print("parameter importances:")
            for key, value in sorted(outcome.importances.items(), key=lambda kv: -kv[1]):
                print(f"  {key:<30} {value:.3f}")
        sys.stdout.flush()


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.6g}"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _fmt_any(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return _fmt(value)
