"""Sweeps: tane against Optuna and scikit-optimize on the same objectives and machine.

1. ``(x - 2) ** 2``, x in [-10, 10], 100 TPE trials, seed 0. In-process:
   ``optuna.create_study(...).optimize`` in memory and with its own SQLite
   storage, against ``tane.sweep(objective, n_trials=100, sampler="tpe", seed=0,
   store=<folder>)`` (every trial a run in the store) with the store folder new
   and with it already there; Optuna's ask/tell loop (what tane drives, nothing
   recorded) for reference. As processes: ``python train.py --sweep
   x='interval(-10,10)' --trials 100 --seed 0 --jobs 1`` (``@tane.main``) against
   ``python`` running the same Optuna study, each also with 2 trials (the fixed
   cost). Targets: tane (in-process, store exists) <= 1.5x Optuna in memory,
   faster than Optuna with SQLite, and a best value as good as Optuna's for the
   same seed.
2. The same problem with Gaussian processes: scikit-optimize's ``gp_minimize``
   (100 calls, random_state 0, once: about a minute), Optuna's ``GPSampler`` and
   ``tane.sweep(..., sampler="gp")`` (twice each, interleaved). Reported, no target.
3. The 10-dimensional sphere (sum of x_i^2, x_i in [-5, 5]), 300 TPE trials:
   mean time per trial of trials 1-100 against 201-299 (a trial's time runs
   from its objective call to the next one), for tane.sweep and Optuna in
   memory. Target: tane's growth (last / first) no larger than Optuna's, with
   10% tolerance.
4. A pipeline sweep: a prep node of 2 s (time.sleep), a training node of 0.1 s
   logging ``score`` with ``tane.log_metric``; ``tane sweep model.c='interval(0.1,
   10)' --trials 20 --objective score`` with the node cache against
   ``--no-cache``, each a process in a fresh copy of the project. Target: cached
   >= 5x faster.

Every measurement checks its own result (the trials recorded in the store or the
study, all complete, the best value finite and equal to the best recorded trial;
how often the prep node really ran), so a broken run cannot give a fast number.
A missed target is followed by a cProfile of the tane case (and of its Optuna
peer under the same profiler): self time by package, tane's functions.
"""

from __future__ import annotations

import cProfile
import importlib.metadata as md
import itertools
import json
import math
import os
import pstats
import re
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH_ENV,
    emit,
    fmt_ratio,
    fmt_s,
    fresh_dir,
    met,
    note,
    now,
    parser,
    run_case,
    save,
    summary,
    table,
)

# Environment of every worker and every `python train.py` / `tane sweep` process: no
# store or cache from the caller; bytecode written and read as in normal use.
CLEAN_ENV: dict[str, str | None] = {
    "TANE_STORE": None,
    "TANE_CACHE": None,
    "PYTHONDONTWRITEBYTECODE": None,
}
QUAD_CASES = {
    "optuna-memory": "Optuna study.optimize, in-memory storage",
    "optuna-asktell": "Optuna ask/tell loop, in memory (what tane drives; reference)",
    "optuna-sqlite": "Optuna study.optimize, SQLite storage (database exists)",
    "tane-fresh": "tane.sweep, store folder created by the sweep",
    "tane-exists": "tane.sweep, store exists",
}
GP_CASES = {
    "skopt-gp": "scikit-optimize gp_minimize (once)",
    "optuna-gp": "Optuna GPSampler, in-memory storage",
    "tane-gp": 'tane.sweep(sampler="gp"), store exists',
}
SPHERE_CASES = {
    "optuna-sphere": "Optuna study.optimize, in-memory storage",
    "tane-sphere": "tane.sweep, store exists",
}
SPHERE_DIMS = 10
GROWTH_TOLERANCE = 1.10  # tane's growth ratio may exceed Optuna's by 10% (noise)
WARMUP_TRIALS = 12  # past TPE's 10 random start-up trials: the model's code runs too
EPS = 1e-12


# --------------------------------------------------------------------------- objectives


def quad(trial: Any) -> float:
    x = trial.suggest_float("x", -10, 10)
    return (x - 2) ** 2


def sphere_objective(stamps: list[float]) -> Callable[[Any], float]:
    """The sphere, noting when each call starts (per-trial time = the gap between calls)."""

    def sphere(trial: Any) -> float:
        stamps.append(now())
        return sum(trial.suggest_float(f"x{i}", -5, 5) ** 2 for i in range(SPHERE_DIMS))

    return sphere


# --------------------------------------------------------------------------- checks


def check_optuna(label: str, study: Any, trials: int) -> dict[str, Any]:
    """Every trial COMPLETE, the best value finite and the smallest of them."""
    from optuna.trial import TrialState

    got = study.get_trials(deepcopy=False)
    complete = [t for t in got if t.state == TrialState.COMPLETE]
    if len(got) != trials or len(complete) != trials:
        raise SystemExit(f"{label}: {len(complete)} of {len(got)} trials complete, not {trials}")
    best = float(study.best_value)
    if not math.isfinite(best) or abs(best - min(t.value for t in complete)) > EPS:
        raise SystemExit(f"{label}: best value {best} is not the smallest trial value")
    return {"best_value": best, "best_params": dict(study.best_params), "trials": len(complete)}


def check_store(label: str, store: Path, parent_id: str, trials: int, metric: str) -> list[float]:
    """The parent run has exactly ``trials`` FINISHED child runs, each with a finite metric."""
    import tane

    client = tane.Client(str(store))
    runs = client.search_runs(f"attributes.parent_id = '{parent_id}'", max_results=10_000)
    finished = [r for r in runs if getattr(r.status, "value", r.status) == "FINISHED"]
    values = [r.metrics.get(metric) for r in finished]
    if len(runs) != trials or len(finished) != trials:
        raise SystemExit(
            f"{label}: {len(finished)} of {len(runs)} trial runs FINISHED in the store, "
            f"not {trials}"
        )
    if any(v is None or not math.isfinite(v) for v in values):
        raise SystemExit(f"{label}: a trial run has no finite {metric!r} metric")
    return [float(v) for v in values if v is not None]


def check_outcome(label: str, store: Path, outcome: Any, trials: int) -> dict[str, Any]:
    values = check_store(label, store, outcome.parent_id, trials, "objective")
    best = outcome.best_value
    if best is None or not math.isfinite(best) or abs(best - min(values)) > EPS:
        raise SystemExit(f"{label}: best value {best} is not the smallest recorded {min(values)}")
    if len(outcome.trials) != trials or any(t.status != "FINISHED" for t in outcome.trials):
        raise SystemExit(f"{label}: the outcome does not hold {trials} finished trials")
    return {"best_value": float(best), "best_params": dict(outcome.best_params), "trials": trials}


def latest_sweep(store: Path) -> str:
    """Id of the sweep parent run started last in a store."""
    import tane

    runs = tane.Client(str(store)).search_runs(
        "tags.tane.kind = 'sweep'", order_by=["start_time DESC"], max_results=1
    )
    if not runs:
        raise SystemExit(f"no sweep run in {store}")
    return str(runs[0].id)


# --------------------------------------------------------------------------- profiling


def _group(path: str, func: str) -> str:
    """Package of a profiled function (tane by module), or the built-in's name."""
    if path == "~":
        return func if "sqlite3" in func or "method" in func else "built-ins"
    p = path.replace(os.sep, "/")
    if "/src/tane/" in p:
        return "tane." + p.split("/src/tane/", 1)[1].removesuffix(".py").replace("/", ".")
    if "/site-packages/" in p:
        return p.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    return "stdlib " + Path(p).stem


def profile_summary(prof: cProfile.Profile | pstats.Stats, top: int = 12) -> dict[str, Any]:
    """Self time by package (tane by module), and tane's functions by cumulative time."""
    stats = prof if isinstance(prof, pstats.Stats) else pstats.Stats(prof)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    by_group: dict[str, float] = {}
    tane_funcs = []
    total = 0.0
    for (path, line, func), (_cc, ncalls, tottime, cumtime, _callers) in raw.items():
        total += tottime
        group = _group(path, func)
        by_group[group] = by_group.get(group, 0.0) + tottime
        if "/src/tane/" in path.replace(os.sep, "/"):
            where = path.replace(os.sep, "/").split("/src/", 1)[1]
            tane_funcs.append((f"{where}:{line} {func}", ncalls, tottime, cumtime))
    tane_funcs.sort(key=lambda r: -r[3])
    return {
        "total_s": total,
        "self_by_package": sorted(by_group.items(), key=lambda kv: -kv[1])[: 3 * top],
        "tane_cumulative": tane_funcs[:top],
    }


def profiled(fn: Callable[[], Any]) -> dict[str, Any]:
    prof = cProfile.Profile()
    prof.enable()
    try:
        fn()
    finally:
        prof.disable()
    return profile_summary(prof)


# --------------------------------------------------------------------------- workers


def quiet_optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def case_optuna_quad(args: Any, sqlite: bool) -> dict[str, Any]:
    optuna = quiet_optuna()
    tpe = optuna.samplers.TPESampler
    with fresh_dir("optuna") as root:
        storage = f"sqlite:///{root / 'optuna.db'}" if sqlite else None
        # Warm-up: imports, TPE's model code, and for SQLite the database and its schema.
        warm = optuna.create_study(storage=storage, study_name="warm-up", sampler=tpe(seed=1))
        warm.optimize(quad, n_trials=WARMUP_TRIALS)
        t0 = now()
        study = optuna.create_study(
            storage=storage, study_name="bench", sampler=tpe(seed=args.seed)
        )
        study.optimize(quad, n_trials=args.trials)
        elapsed = now() - t0
        out = check_optuna("optuna", study, args.trials)
        if sqlite:  # what is in the database, read back
            loaded = optuna.load_study(study_name="bench", storage=storage)
            out = check_optuna("optuna-sqlite", loaded, args.trials)
        if args.profile:  # the same study again under cProfile: the scale for tane's profile
            out["profile"] = profiled(
                lambda: optuna.create_study(storage=storage, sampler=tpe(seed=args.seed)).optimize(
                    quad, n_trials=args.trials
                )
            )
    return {"seconds": elapsed, **out}


def case_optuna_asktell(args: Any) -> dict[str, Any]:
    """The loop tane.sweep drives (study.ask, the objective, study.tell), without recording."""
    optuna = quiet_optuna()
    tpe = optuna.samplers.TPESampler

    def loop(seed: int, trials: int) -> Any:
        study = optuna.create_study(sampler=tpe(seed=seed))
        for _ in range(trials):
            trial = study.ask()
            study.tell(trial, quad(trial))
        return study

    loop(1, WARMUP_TRIALS)
    t0 = now()
    study = loop(args.seed, args.trials)
    elapsed = now() - t0
    return {"seconds": elapsed, **check_optuna("optuna-asktell", study, args.trials)}


def case_tane_quad(args: Any, exists: bool) -> dict[str, Any]:
    import tane

    quiet_optuna()
    with fresh_dir("tane") as root:
        store = root / "store"
        # Warm-up: imports, TPE's model code, the tracking layer; for "exists" also the store.
        warm = store if exists else root / "warm-up-store"
        tane.sweep(quad, n_trials=WARMUP_TRIALS, sampler="tpe", seed=1, store=str(warm))

        def sweep() -> Any:
            return tane.sweep(
                quad, n_trials=args.trials, sampler="tpe", seed=args.seed, store=str(store)
            )

        if not exists and store.exists():
            raise SystemExit("tane-fresh: the store folder exists before the clock")
        t0 = now()
        outcome = sweep()
        elapsed = now() - t0
        out = check_outcome("tane", store, outcome, args.trials)
        if args.profile:
            out["profile"] = profiled(sweep)  # the store exists by now
    return {"seconds": elapsed, **out}


TANE_SCRIPT = """\
import tane


@tane.main(config_path="conf", config_name="config")
def train(cfg):
    return (cfg.x - 2) ** 2


if __name__ == "__main__":
    train()
"""

OPTUNA_SCRIPT = """\
import json
import sys

import optuna


def objective(trial):
    x = trial.suggest_float("x", -10, 10)
    return (x - 2) ** 2


if __name__ == "__main__":
    trials, seed = int(sys.argv[1]), int(sys.argv[2])
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    done = sum(t.state.name == "COMPLETE" for t in study.trials)
    print(json.dumps({"complete": done, "best_value": study.best_value}))
"""


def clean_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(BENCH_ENV)
    for k, v in CLEAN_ENV.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    env.update(extra)
    return env


def timed_cli(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str, str]:
    """Wall time of a command (a process), its stdout and its stderr."""
    t0 = now()
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    elapsed = now() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout, proc.stderr


FANOVA_PROBE = """\
import time
import optuna
t0 = time.perf_counter()
import optuna.importance
optuna.importance.FanovaImportanceEvaluator
from sklearn.ensemble import RandomForestRegressor
print(time.perf_counter() - t0)
"""


def case_scripts(args: Any) -> dict[str, Any]:
    """`python train.py --sweep ...` against `python optuna_train.py`, interleaved.

    Each also runs with 2 trials (its fixed cost), so the cost of one more trial is
    (T(100) - T(2)) / 98.
    """
    py = sys.executable
    with fresh_dir("scripts") as root:
        (root / "conf").mkdir()
        (root / "conf" / "config.yaml").write_text("x: 0.0\n")
        (root / "tane_train.py").write_text(TANE_SCRIPT)
        (root / "optuna_train.py").write_text(OPTUNA_SCRIPT)
        store = root / "store"
        env = clean_env(TANE_STORE=str(store))
        space = "x=interval(-10,10)"

        def tane_cmd(trials: int, seed: int) -> list[str]:
            cmd = [py, "tane_train.py", "--sweep", space, "--trials", str(trials)]
            return [*cmd, "--seed", str(seed), "--jobs", "1"]

        def optuna_cmd(trials: int, seed: int) -> list[str]:
            return [py, "optuna_train.py", str(trials), str(seed)]

        def run_optuna(trials: int) -> tuple[float, float]:
            elapsed, out, _ = timed_cli(optuna_cmd(trials, args.seed), root, env)
            lines = [ln for ln in out.splitlines() if ln.startswith("{")]
            result = json.loads(lines[-1]) if lines else {}
            if result.get("complete") != trials or not math.isfinite(result["best_value"]):
                raise SystemExit(f"optuna script: {result}")
            return elapsed, float(result["best_value"])

        def run_tane(trials: int) -> tuple[float, float]:
            elapsed, _, _ = timed_cli(tane_cmd(trials, args.seed), root, env)
            values = check_store("tane script", store, latest_sweep(store), trials, "objective")
            return elapsed, min(values)

        # Warm-up of both (.pyc files, page cache); tane's also creates the store.
        timed_cli(tane_cmd(2, 1), root, env)
        timed_cli(optuna_cmd(2, 1), root, env)
        times: dict[str, list[float]] = {"tane": [], "optuna": [], "tane2": [], "optuna2": []}
        best: dict[str, list[float]] = {"tane": [], "optuna": []}
        for _ in range(args.script_reps):
            for name, fn in (("optuna", run_optuna), ("tane", run_tane)):
                elapsed, value = fn(args.trials)
                times[name].append(elapsed)
                best[name].append(value)
                times[name + "2"].append(fn(2)[0])
        # What computing the importances at the end imports (fANOVA: scikit-learn).
        probe = subprocess.run(
            [py, "-c", FANOVA_PROBE], env=env, capture_output=True, text=True, check=True
        )
    return {
        **{k: summary(v) for k, v in times.items()},
        **{f"{k}_times": v for k, v in times.items()},
        "tane_best": best["tane"],
        "optuna_best": best["optuna"],
        "fanova_import_s": float(probe.stdout.strip().splitlines()[-1]),
    }


def case_skopt(args: Any) -> dict[str, Any]:
    import numpy as np
    from skopt import gp_minimize

    def f(v: list[float]) -> float:
        return (v[0] - 2) ** 2

    space = [(-10.0, 10.0)]
    gp_minimize(f, space, n_calls=WARMUP_TRIALS, random_state=1)  # imports, first fit
    t0 = now()
    res = gp_minimize(f, space, n_calls=args.trials, random_state=args.seed)
    elapsed = now() - t0
    vals = np.asarray(res.func_vals, dtype=float)
    if len(vals) != args.trials or not np.isfinite(vals).all() or res.fun != vals.min():
        raise SystemExit(f"skopt: {len(vals)} calls, best {res.fun}")
    return {"seconds": elapsed, "best_value": float(res.fun), "best_params": {"x": res.x[0]}}


def torch_info() -> dict[str, Any]:
    import torch

    return {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def case_optuna_gp(args: Any) -> dict[str, Any]:
    optuna = quiet_optuna()
    gp = optuna.samplers.GPSampler
    warm = optuna.create_study(sampler=gp(seed=1))
    warm.optimize(quad, n_trials=WARMUP_TRIALS)  # imports torch, first fit
    t0 = now()
    study = optuna.create_study(sampler=gp(seed=args.seed))
    study.optimize(quad, n_trials=args.trials)
    elapsed = now() - t0
    return {"seconds": elapsed, **check_optuna("optuna-gp", study, args.trials), **torch_info()}


def case_tane_gp(args: Any) -> dict[str, Any]:
    import tane

    quiet_optuna()
    with fresh_dir("tane-gp") as root:
        store = root / "store"
        tane.sweep(quad, n_trials=WARMUP_TRIALS, sampler="gp", seed=1, store=str(store))

        def sweep() -> Any:
            return tane.sweep(
                quad, n_trials=args.trials, sampler="gp", seed=args.seed, store=str(store)
            )

        t0 = now()
        outcome = sweep()
        elapsed = now() - t0
        out = check_outcome("tane-gp", store, outcome, args.trials)
        if args.profile:
            out["profile"] = profiled(sweep)
    return {"seconds": elapsed, **out, **torch_info()}


def growth(stamps: list[float], first: int = 100) -> dict[str, Any]:
    """Mean gap between consecutive objective calls: trials 1-100 and 201-(n-1)."""
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    head, tail = gaps[:first], gaps[2 * first :]
    a, b = statistics.fmean(head), statistics.fmean(tail)
    return {"first_s": a, "last_s": b, "growth": b / a, "last_count": len(tail)}


def case_optuna_sphere(args: Any) -> dict[str, Any]:
    optuna = quiet_optuna()
    tpe = optuna.samplers.TPESampler
    optuna.create_study(sampler=tpe(seed=1)).optimize(sphere_objective([]), n_trials=WARMUP_TRIALS)
    stamps: list[float] = []
    t0 = now()
    study = optuna.create_study(sampler=tpe(seed=args.seed))
    study.optimize(sphere_objective(stamps), n_trials=args.sphere_trials)
    elapsed = now() - t0
    out = check_optuna("optuna-sphere", study, args.sphere_trials)
    out.pop("best_params")
    if args.profile:
        out["profile"] = profiled(
            lambda: optuna.create_study(sampler=tpe(seed=args.seed)).optimize(
                sphere_objective([]), n_trials=args.sphere_trials
            )
        )
    return {"seconds": elapsed, **out, **growth(stamps)}


def case_tane_sphere(args: Any) -> dict[str, Any]:
    import tane

    quiet_optuna()
    with fresh_dir("tane-sphere") as root:
        store = root / "store"
        tane.sweep(sphere_objective([]), n_trials=WARMUP_TRIALS, seed=1, store=str(store))
        stamps: list[float] = []

        def sweep(into: list[float]) -> Any:
            return tane.sweep(
                sphere_objective(into),
                n_trials=args.sphere_trials,
                sampler="tpe",
                seed=args.seed,
                store=str(store),
            )

        t0 = now()
        outcome = sweep(stamps)
        elapsed = now() - t0
        out = check_outcome("tane-sphere", store, outcome, args.sphere_trials)
        out.pop("best_params")
        if args.profile:
            out["profile"] = profiled(lambda: sweep([]))
    return {"seconds": elapsed, **out, **growth(stamps)}


# --------------------------------------------------------------------------- pipeline sweep

PIPELINE_NODES = """\
import time
from pathlib import Path

import tane


def prep(params):
    time.sleep(params["seconds"])  # the expensive step
    with Path("prep_calls.log").open("a") as fh:  # counts real calls (the benchmark checks it)
        fh.write("prep\\n")
    return {"rows": [i * 0.5 for i in range(params["rows"])]}


def train(raw, params):
    time.sleep(params["seconds"])
    with Path("train_calls.log").open("a") as fh:
        fh.write("train\\n")
    score = (params["c"] - 3.0) ** 2 + 0.0 * len(raw["rows"])
    tane.log_metric("score", score)
    return {"c": params["c"], "score": score}
"""

PIPELINE_CODE = """\
from tane.pipeline import Pipeline, node

from bench_sweep_project.pipelines.p.nodes import prep, train


def create_pipeline(**kwargs):
    return Pipeline(
        [
            node(prep, "params:prep", "raw", name="prep"),
            node(train, ["raw", "params:model"], "model", name="train"),
        ]
    )
"""

PIPELINE_CONFIG = """\
prep:
  seconds: {prep}
  rows: 1000
model:
  c: 1.0
  seconds: {train}
"""

PIPELINE_CATALOG = """\
raw:
  type: json.JSONDataset
  filepath: data/raw.json
"""


def write_sweep_project(folder: Path, prep_s: float, train_s: float) -> Path:
    code = folder / "src" / "bench_sweep_project" / "pipelines" / "p"
    code.mkdir(parents=True)
    (folder / "conf").mkdir()
    (folder / "tane.yaml").write_text("name: bench_sweep_project\npackage: bench_sweep_project\n")
    (folder / "conf" / "config.yaml").write_text(PIPELINE_CONFIG.format(prep=prep_s, train=train_s))
    (folder / "conf" / "catalog.yaml").write_text(PIPELINE_CATALOG)
    for init in (code.parent.parent, code.parent, code):
        (init / "__init__.py").write_text("")
    (code / "nodes.py").write_text(PIPELINE_NODES)
    (code / "pipeline.py").write_text(PIPELINE_CODE)
    return folder


def calls(folder: Path, name: str) -> int:
    log = folder / f"{name}_calls.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def sweep_cmd(trials: int, seed: int, *extra: str) -> list[str]:
    tane_bin = str(Path(sys.executable).parent / "tane")
    cmd = [tane_bin, "sweep", "model.c=interval(0.1, 10)", "--trials", str(trials)]
    return [*cmd, "--objective", "score", "--seed", str(seed), *extra]


def pipeline_sweep(folder: Path, env: dict[str, str], trials: int, seed: int, *extra: str) -> dict:
    elapsed, out, err = timed_cli(sweep_cmd(trials, seed, *extra), folder, env)
    out += err
    label = f"tane sweep {' '.join(extra)}".strip()
    values = check_store(label, folder / ".tane", latest_sweep(folder / ".tane"), trials, "score")
    want_prep = trials if "--no-cache" in extra else 1
    if calls(folder, "prep") != want_prep or calls(folder, "train") != trials:
        raise SystemExit(
            f"{label}: prep ran {calls(folder, 'prep')} times (expected {want_prep}), "
            f"train {calls(folder, 'train')} (expected {trials})"
        )
    m = re.search(r"nodes: (\d+) ran, (\d+) taken from the cache", out)
    return {
        "seconds": elapsed,
        "best_value": min(values),
        "prep_calls": calls(folder, "prep"),
        "nodes_ran": int(m.group(1)) if m else None,
        "nodes_cached": int(m.group(2)) if m else None,
        "trial_runs": trial_seconds(folder / ".tane", trials),
    }


def case_pipeline(args: Any) -> dict[str, Any]:
    env = clean_env()
    trials = args.pipeline_trials
    with fresh_dir("pipeline-sweep") as root:
        warm = write_sweep_project(root / "warm", 0.0, 0.0)  # .pyc files and the page cache
        timed_cli(sweep_cmd(2, 1), warm, env)
        if args.profile:  # only the cached sweep, in a fresh copy, under cProfile
            folder = write_sweep_project(root / "profiled", args.prep_seconds, args.train_seconds)
            prof_file = root / "sweep.prof"
            cmd = sweep_cmd(trials, args.seed)
            elapsed, _, _ = timed_cli(
                [sys.executable, "-m", "cProfile", "-o", str(prof_file), *cmd], folder, env
            )
            return {
                "seconds": elapsed,
                "profile": profile_summary(pstats.Stats(str(prof_file))),
                "trial_runs": trial_seconds(folder / ".tane", trials),
            }
        cached = write_sweep_project(root / "cached", args.prep_seconds, args.train_seconds)
        nocache = write_sweep_project(root / "nocache", args.prep_seconds, args.train_seconds)
        note(f"[sweep] pipeline: tane sweep, {trials} trials, cache on ...")
        out: dict[str, Any] = {"cached": pipeline_sweep(cached, env, trials, args.seed)}
        note(f"[sweep] pipeline: tane sweep --no-cache, {trials} trials (about 45 s) ...")
        out["nocache"] = pipeline_sweep(nocache, env, trials, args.seed, "--no-cache")
    return out


def trial_seconds(store: Path, trials: int) -> dict[str, float]:
    """Wall time of the trial runs of the last sweep: the first, the others' median, the sum."""
    import tane

    runs = tane.Client(str(store)).search_runs(
        f"attributes.parent_id = '{latest_sweep(store)}'", order_by=["start_time ASC"]
    )
    secs = [r.duration for r in runs if r.duration is not None]
    if len(secs) != trials:
        return {}
    return {"first_s": secs[0], "others_median_s": statistics.median(secs[1:]), "sum_s": sum(secs)}


# --------------------------------------------------------------------------- printing


def num(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.6g}"


def print_quad(r: dict[str, Any], scripts: dict[str, Any], trials: int) -> dict[str, Any]:
    base = r["optuna-memory"]["median_s"]
    rows = []
    for case, label in QUAD_CASES.items():
        x = r[case]
        rows.append(
            [
                label,
                fmt_s(x["median_s"]),
                f"{fmt_s(x['min_s'])} .. {fmt_s(x['max_s'])}, {x['n']}",
                fmt_s(x["median_s"] / trials),
                num(x["best_value"]),
                fmt_ratio(x["median_s"] / base),
            ]
        )
    print(
        table(
            ["case", "wall time", "range, runs", "per trial", "best value", "this / Optuna memory"],
            rows,
            title=f"(x - 2) ** 2, {trials} TPE trials, seed 0, in-process: median of fresh "
            "processes (clock: create study / sweep to return; warm-up of 12 trials before it)",
        )
    )
    o = scripts["optuna"]["median_s"]
    rows = []
    for name, label in (
        ("optuna", "python optuna_train.py (in-memory study, Optuna's default logging)"),
        ("tane", "python train.py --sweep x='interval(-10,10)' --trials N --seed 0 --jobs 1"),
    ):
        xs, two = scripts[f"{name}_times"], scripts[f"{name}2"]["median_s"]
        full = scripts[name]["median_s"]
        rows.append(
            [
                label,
                fmt_s(full),
                f"{fmt_s(min(xs))} .. {fmt_s(max(xs))}, {len(xs)}",
                fmt_s(two),
                fmt_s((full - two) / (trials - 2)),
                num(scripts[f"{name}_best"][0]),
                fmt_ratio(full / o),
            ]
        )
    print(
        table(
            [
                "command (a process each)",
                f"N = {trials}",
                "range, runs",
                "N = 2",
                "per extra trial",
                "best value",
                "tane / Optuna",
            ],
            rows,
            title="the same as processes (interleaved, after a warm-up run of each; tane's "
            "store exists). Importing scikit-learn for the fANOVA importances at the end: "
            f"{fmt_s(scripts['fanova_import_s'])} in a fresh process",
        )
    )
    exists = r["tane-exists"]["median_s"]
    sqlite = r["optuna-sqlite"]["median_s"]
    best_o = r["optuna-memory"]["best_value"]
    tane_bests = {
        "tane.sweep (store exists)": r["tane-exists"]["best_value"],
        "tane.sweep (fresh store)": r["tane-fresh"]["best_value"],
        "python train.py --sweep": scripts["tane_best"][0],
    }
    worst = max(tane_bests.values())
    same = all(abs(v - best_o) <= EPS for v in tane_bests.values())
    targets = {
        "vs_memory": exists / base,
        "vs_sqlite": exists / sqlite,
        "best_ok": worst <= best_o + EPS,
        "best_identical": same,
    }
    print(
        table(
            ["target", "tane", "Optuna", "ratio", "target", "met?"],
            [
                [
                    "tane.sweep (store exists) vs Optuna in memory",
                    fmt_s(exists),
                    fmt_s(base),
                    fmt_ratio(exists / base),
                    "<= 1.5x",
                    met(1.5 / (exists / base), 1.0),
                ],
                [
                    "tane.sweep (store exists) vs Optuna with SQLite",
                    fmt_s(exists),
                    fmt_s(sqlite),
                    fmt_ratio(exists / sqlite),
                    "< 1x",
                    "yes" if exists < sqlite else "NO",
                ],
                [
                    "best value, same seed (worst of the 3 tane paths)",
                    num(worst),
                    num(best_o),
                    "identical" if same else fmt_ratio(worst / best_o if best_o else None),
                    "<= Optuna's",
                    "yes" if targets["best_ok"] else "NO",
                ],
            ],
            title="targets",
        )
    )
    return targets


def print_gp(r: dict[str, list[dict[str, Any]]], trials: int) -> None:
    base = statistics.median(x["seconds"] for x in r["skopt-gp"])
    rows = []
    for case, label in GP_CASES.items():
        xs = r[case]
        secs = statistics.median(x["seconds"] for x in xs)
        rows.append(
            [
                label,
                fmt_s(secs),
                ", ".join(f"{fmt_s(x['seconds'])} (load {x['loadavg']:.1f})" for x in xs),
                fmt_s(secs / trials),
                num(xs[0]["best_value"]),
                fmt_ratio(base / secs),
            ]
        )
    info = r["optuna-gp"][0]
    print(
        table(
            [
                "case",
                "wall time",
                "each run (1-min load average)",
                "per call",
                "best value",
                "skopt / this",
            ],
            rows,
            title=f"(x - 2) ** 2 with Gaussian processes, {trials} calls, seed 0 "
            f"(torch {info.get('torch')}, {info.get('torch_threads')} intra-op threads)",
        )
    )


def print_sphere(r: dict[str, Any], trials: int, reps: int) -> dict[str, Any]:
    rows = []
    med: dict[str, dict[str, float]] = {}
    for case, label in SPHERE_CASES.items():
        runs = r[case]
        g = statistics.median(x["growth"] for x in runs)
        a = statistics.median(x["first_s"] for x in runs)
        b = statistics.median(x["last_s"] for x in runs)
        med[case] = {"growth": g, "first_s": a, "last_s": b}
        rows.append(
            [
                label,
                fmt_s(statistics.median(x["seconds"] for x in runs)),
                fmt_s(a),
                fmt_s(b),
                fmt_ratio(g),
                ", ".join(f"{x['growth']:.2f}" for x in runs),
                num(runs[0]["best_value"]),
            ]
        )
    last = r["tane-sphere"][0]["last_count"]
    print(
        table(
            [
                "case",
                f"{trials} trials",
                "per trial, 1-100",
                f"per trial, 201-{200 + last}",
                "growth (last / first)",
                "growth of each run",
                "best value",
            ],
            rows,
            title=f"{SPHERE_DIMS}-d sphere, {trials} TPE trials, seed 0: medians of {reps} runs "
            "(a trial's time: from its objective call to the next one)",
        )
    )
    t, o = med["tane-sphere"], med["optuna-sphere"]
    ok = t["growth"] <= o["growth"] * GROWTH_TOLERANCE
    print(
        table(
            ["target", "tane", "Optuna", "tane / Optuna", "target", "met?"],
            [
                [
                    "growth of the per-trial time",
                    fmt_ratio(t["growth"]),
                    fmt_ratio(o["growth"]),
                    f"{t['growth'] / o['growth']:.2f}",
                    f"<= {GROWTH_TOLERANCE:.2f} (10% tolerance)",
                    "yes" if ok else "NO",
                ],
                [
                    f"tane's cost per trial over Optuna's, trials 1-100 / 201-{200 + last}",
                    f"{fmt_s(t['first_s'] - o['first_s'])} / {fmt_s(t['last_s'] - o['last_s'])}",
                    "",
                    "",
                    "",
                    "",
                ],
            ],
        )
    )
    return {"medians": med, "met": ok}


def print_pipeline(r: dict[str, Any], trials: int, prep: float, train: float) -> float:
    c, n = r["cached"], r["nocache"]
    speedup = n["seconds"] / c["seconds"]

    def nodes(x: dict[str, Any]) -> str:
        return (
            "-" if x["nodes_ran"] is None else f"{x['nodes_ran']} ran, {x['nodes_cached']} cached"
        )

    print(
        table(
            [
                "command (a process each, fresh project)",
                "wall time",
                "prep ran",
                "nodes",
                "best score",
                "no-cache / this",
            ],
            [
                [
                    "tane sweep --no-cache",
                    fmt_s(n["seconds"]),
                    str(n["prep_calls"]),
                    nodes(n),
                    num(n["best_value"]),
                    "1.0x",
                ],
                [
                    "tane sweep (cache on)",
                    fmt_s(c["seconds"]),
                    str(c["prep_calls"]),
                    nodes(c),
                    num(c["best_value"]),
                    fmt_ratio(speedup),
                ],
            ],
            title=f"pipeline sweep: prep {prep:g} s, train {train:g} s, {trials} TPE trials "
            "over model.c, objective score",
        )
    )
    for label, x in (("--no-cache", n), ("cache on", c)):
        tr = x.get("trial_runs") or {}
        if tr:
            print(
                f"{label}: trial runs took {fmt_s(tr['sum_s'])} of the {fmt_s(x['seconds'])} "
                f"(first trial {fmt_s(tr['first_s'])}, the others {fmt_s(tr['others_median_s'])} "
                "each, median)."
            )
    print(
        table(
            ["target", "no-cache", "cached", "ratio", "target", "met?"],
            [
                [
                    "cached sweep faster than --no-cache",
                    fmt_s(n["seconds"]),
                    fmt_s(c["seconds"]),
                    fmt_ratio(speedup),
                    ">= 5x",
                    met(speedup, 5.0),
                ]
            ],
        )
    )
    return speedup


def print_profile(title: str, prof: dict[str, Any], peer: dict[str, Any] | None = None) -> None:
    """Self time by package of a tane case (and of its Optuna peer under the same profiler)."""
    total = prof["total_s"]
    theirs = dict(peer["self_by_package"]) if peer else {}
    headers = ["package or module (self time)", "tane", "share"]
    rows = [[g, fmt_s(s), f"{100 * s / total:.0f}%"] for g, s in prof["self_by_package"][:14]]
    rows.append(["all", fmt_s(total), "100%"])
    if peer:
        headers.append("Optuna in memory, same profiler")
        for row, (g, _) in zip(rows, prof["self_by_package"][:14], strict=False):
            row.append(fmt_s(theirs.get(g, 0.0)))
        rows[-1].append(fmt_s(peer["total_s"]))
    print(table(headers, rows, title=f"{title}: where the time goes (cProfile slows it)"))
    rows = [[f, str(n), fmt_s(tt), fmt_s(ct)] for f, n, tt, ct in prof["tane_cumulative"]]
    print(table(["tane function", "calls", "self", "cumulative"], rows))


# --------------------------------------------------------------------------- main


def peer_versions() -> dict[str, str]:
    out = {}
    for name in ("optuna", "scikit-optimize", "scikit-learn", "torch", "cmaes", "scipy", "numpy"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "missing"
    return out


def main() -> None:
    p = parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--trials", type=int, default=100, help="trials of (x-2)^2 (TPE and GP)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reps", type=int, default=5, help="fresh processes per in-process case")
    p.add_argument("--sqlite-reps", type=int, default=3, help="... for Optuna with SQLite")
    p.add_argument("--script-reps", type=int, default=3, help="runs of each script")
    p.add_argument("--sphere-trials", type=int, default=300)
    p.add_argument("--sphere-reps", type=int, default=3)
    p.add_argument("--pipeline-trials", type=int, default=20)
    p.add_argument("--prep-seconds", type=float, default=2.0)
    p.add_argument("--train-seconds", type=float, default=0.1)
    p.add_argument("--gp-reps", type=int, default=2, help="runs of Optuna's and tane's GP")
    p.add_argument("--skip-gp", action="store_true", help="skip section 2 (about 90 s)")
    p.add_argument("--profile", action="store_true", help="worker: also profile the tane case")
    p.add_argument(
        "--always-profile", action="store_true", help="profile the tane cases even if targets met"
    )
    args = p.parse_args()

    workers: dict[str, Callable[[], dict[str, Any]]] = {
        "optuna-memory": lambda: case_optuna_quad(args, sqlite=False),
        "optuna-sqlite": lambda: case_optuna_quad(args, sqlite=True),
        "optuna-asktell": lambda: case_optuna_asktell(args),
        "tane-fresh": lambda: case_tane_quad(args, exists=False),
        "tane-exists": lambda: case_tane_quad(args, exists=True),
        "scripts": lambda: case_scripts(args),
        "skopt-gp": lambda: case_skopt(args),
        "optuna-gp": lambda: case_optuna_gp(args),
        "tane-gp": lambda: case_tane_gp(args),
        "optuna-sphere": lambda: case_optuna_sphere(args),
        "tane-sphere": lambda: case_tane_sphere(args),
        "pipeline": lambda: case_pipeline(args),
    }
    if args.case:
        if args.case not in workers:
            raise SystemExit(f"unknown case {args.case}")
        result = workers[args.case]()
        result["loadavg"] = os.getloadavg()[0]
        emit(result)
        return

    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # tables before notes
    started = now()
    common = ["--trials", str(args.trials), "--seed", str(args.seed)]
    common += ["--sphere-trials", str(args.sphere_trials), "--script-reps", str(args.script_reps)]
    common += ["--pipeline-trials", str(args.pipeline_trials)]
    common += ["--prep-seconds", str(args.prep_seconds), "--train-seconds", str(args.train_seconds)]

    def case(name: str, *extra: str) -> dict[str, Any]:
        return run_case("bench_sweep.py", name, [*common, *extra], env=CLEAN_ENV)

    results: dict[str, Any] = {"settings": vars(args), "peers": peer_versions()}
    results["loadavg_start"] = os.getloadavg()

    # 1. (x-2)^2, TPE: in-process cases interleaved, one fresh process each.
    note(f"[sweep] (x-2)^2, {args.trials} TPE trials: {args.reps} rounds of the in-process cases")
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in QUAD_CASES}
    for rep in range(args.reps):
        for name in QUAD_CASES:
            if name == "optuna-sqlite" and rep >= args.sqlite_reps:
                continue
            runs[name].append(case(name))
    quad_r: dict[str, Any] = {}
    for name, xs in runs.items():
        bests = {round(x["best_value"], 15) for x in xs}
        if len(bests) != 1:
            raise SystemExit(f"{name}: the same seed gave different best values {bests}")
        quad_r[name] = {
            **summary([x["seconds"] for x in xs]),
            "best_value": xs[0]["best_value"],
            "best_params": xs[0]["best_params"],
            "runs": xs,
        }
    note(f"[sweep] scripts: python train.py --sweep / optuna, {args.script_reps} runs each ...")
    scripts = case("scripts")
    results["quad"] = quad_r
    results["scripts"] = scripts
    results["quad_targets"] = print_quad(quad_r, scripts, args.trials)

    # 3. sphere: growth of the per-trial time.
    note(
        f"[sweep] {SPHERE_DIMS}-d sphere, {args.sphere_trials} TPE trials, "
        f"{args.sphere_reps} rounds"
    )
    sphere: dict[str, list[dict[str, Any]]] = {c: [] for c in SPHERE_CASES}
    for _ in range(args.sphere_reps):
        for name in SPHERE_CASES:
            sphere[name].append(case(name))
    results["sphere"] = sphere
    results["sphere_targets"] = print_sphere(sphere, args.sphere_trials, args.sphere_reps)

    # 2. Gaussian processes: once each (scikit-optimize takes about a minute).
    if not args.skip_gp:
        gp: dict[str, list[dict[str, Any]]] = {c: [] for c in GP_CASES}
        note(f"[sweep] {GP_CASES['skopt-gp']}: {args.trials} calls, once (about a minute) ...")
        gp["skopt-gp"].append(case("skopt-gp"))
        for _ in range(args.gp_reps):  # Optuna's and tane's GP, interleaved
            for name in ("optuna-gp", "tane-gp"):
                note(f"[sweep] {GP_CASES[name]}: {args.trials} calls ...")
                gp[name].append(case(name))
        results["gp"] = gp
        print_gp(gp, args.trials)

    # 4. pipeline sweep, cache on against --no-cache.
    pipe = case("pipeline")
    results["pipeline"] = pipe
    speedup = print_pipeline(pipe, args.pipeline_trials, args.prep_seconds, args.train_seconds)
    results["pipeline"]["speedup"] = speedup

    # Where tane's time goes, for each missed target.
    profiles: dict[str, Any] = {}
    qt = results["quad_targets"]
    if args.always_profile or qt["vs_memory"] > 1.5 or qt["vs_sqlite"] >= 1.0:
        note("[sweep] profiling tane.sweep (store exists) ...")
        profiles["tane-exists"] = case("tane-exists", "--profile")["profile"]
        profiles["optuna-memory"] = case("optuna-memory", "--profile")["profile"]
        print_profile(
            f"tane.sweep, {args.trials} TPE trials of (x-2)^2, store exists",
            profiles["tane-exists"],
            profiles["optuna-memory"],
        )
    if args.always_profile or not results["sphere_targets"]["met"]:
        note("[sweep] profiling tane.sweep on the sphere ...")
        profiles["tane-sphere"] = case("tane-sphere", "--profile")["profile"]
        profiles["optuna-sphere"] = case("optuna-sphere", "--profile")["profile"]
        print_profile(
            f"tane.sweep, {args.sphere_trials} TPE trials of the sphere",
            profiles["tane-sphere"],
            profiles["optuna-sphere"],
        )
    if args.always_profile or speedup < 5.0:
        note("[sweep] profiling the cached pipeline sweep ...")
        prof = case("pipeline", "--profile")
        profiles["pipeline"] = prof["profile"]
        print_profile(
            f"tane sweep, {args.pipeline_trials} trials, cache on (a process: "
            f"{fmt_s(prof['seconds'])} under cProfile)",
            prof["profile"],
        )
    results["profiles"] = profiles
    results["loadavg_end"] = os.getloadavg()
    la0, la1 = results["loadavg_start"][0], results["loadavg_end"][0]
    print(
        f"\nLoad average (1 min) at the start / end: {la0:.2f} / {la1:.2f} "
        f"on {os.cpu_count()} cores."
    )
    note(f"[sweep] done in {now() - started:.0f} s")
    save(args.json, "sweep", results)


if __name__ == "__main__":
    main()
