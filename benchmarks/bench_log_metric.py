"""Benchmark 1: one-call-at-a-time ``log_metric`` on SQLite, tane vs MLflow.

tane logs 10 metrics x 10,000 steps (100,000 points), one ``tane.log_metric``
call per point. The clock starts at the first ``log_metric`` call and stops when
``end_run`` returns, i.e. when every point is stored; afterwards every point is
read back and counted (outside the clock).

MLflow manages only a few hundred points/s this way, so it gets a smaller sample
(default 10 metrics x 200 steps) and the two are compared by *rate* (points/s).
For reference MLflow is also measured with async logging on
(``mlflow.config.enable_async_logging(True)``) and with ``MlflowClient.log_batch``
(1,000 points per call, MLflow's limit).

Each case runs in a fresh Python process with fresh temp dirs. tane is measured
with its default capture (git, packages, system metrics: what users get) and
with ``TANE_CAPTURE=none``.

Target: tane (default capture) >= 500x MLflow's synchronous points/s.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from common import fmt_rate, fmt_ratio, fmt_s, note

TARGET = 500.0
N_METRICS = 10
KEYS = [f"m{i}" for i in range(N_METRICS)]


def value(k: int, step: int) -> float:
    return math.sin(0.001 * step + k) + 0.0001 * step


# --------------------------------------------------------------------------- workers


def case_tane(steps: int) -> dict:
    import tane

    with common.fresh_dir("tane-store") as store:
        os.environ["TANE_STORE"] = str(store)
        # start_run (experiment creation, capture) is outside the clock, as for MLflow
        t_start = common.now()
        run = tane.start_run(experiment="bench-log-metric", name="log-metric")
        start_run_s = common.now() - t_start
        run_id = run.id
        log_metric = tane.log_metric
        t0 = common.now()
        for step in range(steps):
            for k, key in enumerate(KEYS):
                log_metric(key, value(k, step), step=step)
        t_loop = common.now()
        tane.end_run()
        t1 = common.now()

        # verify: every point stored, with the right values
        client = tane.Client(str(store))
        stored = 0
        for k, key in enumerate(KEYS):
            hist = client.get_metric_history(run_id, key)
            stored += len(hist)
            assert len(hist) == steps, (key, len(hist), steps)
            last = max(hist, key=lambda m: m.step)
            assert last.step == steps - 1
            assert abs(last.value - value(k, steps - 1)) < 1e-9, (key, last.value)
        points = steps * N_METRICS
        assert stored == points, (stored, points)
        status = client.get_run(run_id).status
        return {
            "points": points,
            "seconds": t1 - t0,
            "loop_s": t_loop - t0,
            "end_run_s": t1 - t_loop,
            "start_run_s": start_run_s,
            "rate": points / (t1 - t0),
            "per_call_us": (t_loop - t0) / points * 1e6,
            "status": str(getattr(status, "value", status)),
            "capture": os.environ.get("TANE_CAPTURE", "(default)"),
        }


def _mlflow_setup(tmp: Path):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    # creating the DB (alembic migrations) happens here, outside the clock
    mlflow.set_experiment("bench-log-metric")
    return mlflow


def _mlflow_verify(mlflow, run_id: str, steps: int) -> int:
    from mlflow import MlflowClient

    client = MlflowClient()
    stored = 0
    for k, key in enumerate(KEYS):
        hist = client.get_metric_history(run_id, key)
        stored += len(hist)
        assert len(hist) == steps, (key, len(hist), steps)
        last = max(hist, key=lambda m: m.step)
        assert abs(last.value - value(k, steps - 1)) < 1e-9
    assert stored == steps * N_METRICS
    return stored


def case_mlflow(steps: int, asynchronous: bool) -> dict:
    with common.fresh_dir("mlflow") as tmp:
        mlflow = _mlflow_setup(tmp)
        mlflow.config.enable_async_logging(asynchronous)
        t_start = common.now()
        run = mlflow.start_run(run_name="log-metric")
        start_run_s = common.now() - t_start
        run_id = run.info.run_id
        log_metric = mlflow.log_metric
        t0 = common.now()
        for step in range(steps):
            for k, key in enumerate(KEYS):
                log_metric(key, value(k, step), step=step)
        t_loop = common.now()
        # end_run -> set_terminated -> shut_down_async_logging() drains the queue
        mlflow.end_run()
        t1 = common.now()
        stored = _mlflow_verify(mlflow, run_id, steps)
        return {
            "points": stored,
            "seconds": t1 - t0,
            "loop_s": t_loop - t0,
            "end_run_s": t1 - t_loop,
            "start_run_s": start_run_s,
            "rate": stored / (t1 - t0),
            "per_call_us": (t_loop - t0) / stored * 1e6,
        }


def case_mlflow_batch(steps: int) -> dict:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    with common.fresh_dir("mlflow") as tmp:
        mlflow = _mlflow_setup(tmp)
        run = mlflow.start_run(run_name="log-batch")
        run_id = run.info.run_id
        client = MlflowClient()
        ts = 1_700_000_000_000
        t0 = common.now()
        batch = []
        for step in range(steps):
            for k, key in enumerate(KEYS):
                batch.append(Metric(key, value(k, step), ts + step, step))
                if len(batch) == 1000:  # MLflow's MAX_METRICS_PER_BATCH
                    client.log_batch(run_id, metrics=batch)
                    batch = []
        if batch:
            client.log_batch(run_id, metrics=batch)
        mlflow.end_run()
        t1 = common.now()
        stored = _mlflow_verify(mlflow, run_id, steps)
        return {"points": stored, "seconds": t1 - t0, "rate": stored / (t1 - t0)}


# --------------------------------------------------------------------------- orchestrator


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10_000, help="tane steps per metric")
    p.add_argument("--mlflow-steps", type=int, default=200, help="MLflow steps per metric")
    p.add_argument("--mlflow-async-steps", type=int, default=200)
    p.add_argument("--mlflow-batch-steps", type=int, default=2_000)
    p.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="fresh processes per case, the median rate is reported "
        "(default: 5 for tane and MLflow sync, 3 for the others)",
    )
    p.add_argument("--skip", action="append", default=[], help="skip a case (repeatable)")
    a = p.parse_args()

    if a.case:
        if a.case == "tane" or a.case == "tane-nocapture":
            common.emit(case_tane(a.steps))
        elif a.case == "mlflow":
            common.emit(case_mlflow(a.mlflow_steps, asynchronous=False))
        elif a.case == "mlflow-async":
            common.emit(case_mlflow(a.mlflow_async_steps, asynchronous=True))
        elif a.case == "mlflow-batch":
            common.emit(case_mlflow_batch(a.mlflow_batch_steps))
        else:
            raise SystemExit(f"unknown case {a.case}")
        return

    passthrough = [
        "--steps",
        str(a.steps),
        "--mlflow-steps",
        str(a.mlflow_steps),
        "--mlflow-async-steps",
        str(a.mlflow_async_steps),
        "--mlflow-batch-steps",
        str(a.mlflow_batch_steps),
    ]
    cases = [
        (
            "tane",
            "tane log_metric (default capture)",
            {"TANE_CAPTURE": None, "TANE_NO_CAPTURE": None},
            5,
        ),
        (
            "tane-nocapture",
            "tane log_metric (TANE_CAPTURE=none)",
            {"TANE_CAPTURE": "none", "TANE_NO_CAPTURE": None},
            5,
        ),
        # the target's denominator: more trials, since its rate follows disk latency
        ("mlflow", "mlflow log_metric (sync)", {}, 5),
        ("mlflow-async", "mlflow log_metric (async logging)", {}, 3),
        ("mlflow-batch", "mlflow MlflowClient.log_batch (reference)", {}, 3),
    ]
    results: dict[str, dict] = {}
    for case, label, env, default_repeat in cases:
        if case in a.skip:
            continue
        repeat = a.repeat or default_repeat
        note(f"[log_metric] {label}: {repeat} fresh processes ...")
        trials = []
        for _ in range(repeat):
            r = common.run_case("bench_log_metric.py", case, passthrough, env=env)
            note(f"  {fmt_rate(r['rate'])} over {r['points']:,} points")
            trials.append(r)
        # report the trial with the median rate (an odd count makes it a real trial)
        trials.sort(key=lambda r: r["rate"])
        chosen = dict(trials[len(trials) // 2])
        chosen["label"] = label
        chosen["rates"] = [r["rate"] for r in trials]
        results[case] = chosen

    base = results.get("mlflow", {}).get("rate")
    rows = []
    for r in results.values():
        rows.append(
            [
                r["label"],
                f"{r['points']:,}",
                fmt_s(r["seconds"]),
                fmt_rate(r["rate"]),
                f"{min(r['rates']):,.0f} .. {max(r['rates']):,.0f}",
                f"{r['per_call_us']:.1f} us" if "per_call_us" in r else "-",
                fmt_s(r.get("end_run_s")),
                fmt_ratio(r["rate"] / base) if base else "-",
            ]
        )
    print(
        common.table(
            [
                "case",
                "points",
                "time",
                "points/s",
                "range of trials",
                "per call",
                "end_run",
                "vs mlflow sync",
            ],
            rows,
            title="log_metric, one call per point, SQLite (clock: first call .. end_run); "
            "median of fresh processes",
        )
    )

    summary_rows = []
    for case in ("tane", "tane-nocapture"):
        if case in results and base:
            ratio = results[case]["rate"] / base
            summary_rows.append(
                [
                    results[case]["label"],
                    fmt_rate(results[case]["rate"]),
                    fmt_rate(base),
                    fmt_ratio(ratio),
                    f">= {TARGET:.0f}x",
                    common.met(ratio, TARGET),
                ]
            )
    if summary_rows:
        print(
            common.table(
                ["tane", "points/s", "mlflow sync points/s", "ratio", "target", "met"],
                summary_rows,
                title="target",
            )
        )
    common.save(a.json, "log_metric", {"target": TARGET, "results": results})


if __name__ == "__main__":
    main()
