"""Benchmark 2: ``search_runs`` over 2,000 runs, tane vs MLflow (SQLite).

One experiment of 2,000 finished runs, each with 10 params and 5 metrics (one
point each). Half the runs have ``params.model = 'lgbm'``; ``metrics.acc`` is
uniform in [0, 1) from a fixed seed, so both tools hold the same data. Runs are
created with each tool's fastest bulk path (tane: ``Client.create_run`` +
``Client.log_batch`` + ``set_terminated``; MLflow: ``MlflowClient.create_run`` +
``log_batch`` + ``set_terminated``); creation time is reported, not a target.

The query ``metrics.acc > 0.9 and params.model = 'lgbm'`` ordered by
``metrics.acc DESC``, top 100, is timed as the median of N repetitions after one
warm-up, for:

* tane ``Client().search_runs(..., as_pandas=True)``   (the target's subject)
* tane ``Client().search_runs(..., as_pandas=False)``  (list of Run)
* ``mlflow.search_runs(...)``                           (pandas; the peer)
* ``MlflowClient().search_runs(...)``                   (list of Run, reference)

Both tools must return the same number of runs with the same acc ordering.

Target: tane (pandas) >= 10x faster than ``mlflow.search_runs``.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from common import fmt_ratio, fmt_s, note

TARGET = 10.0
SEED = 20261126
EXPERIMENT = "bench-search"
FILTER = "metrics.acc > 0.9 and params.model = 'lgbm'"
ORDER_BY = ["metrics.acc DESC"]
TOP = 100
BASE_TS = 1_700_000_000_000


def dataset(n_runs: int) -> list[tuple[str, dict[str, str], dict[str, float]]]:
    """The same runs for both tools: (name, params, metrics)."""
    rng = random.Random(SEED)
    runs = []
    for i in range(n_runs):
        params = {
            "model": "lgbm" if i % 2 == 0 else "xgb",
            "lr": f"{rng.choice([0.01, 0.03, 0.05, 0.1, 0.3])}",
            "max_depth": str(rng.randint(2, 12)),
            "n_estimators": str(rng.choice([100, 200, 500, 1000])),
            "subsample": f"{rng.uniform(0.5, 1.0):.3f}",
            "colsample": f"{rng.uniform(0.5, 1.0):.3f}",
            "reg_alpha": f"{rng.uniform(0, 1):.4f}",
            "reg_lambda": f"{rng.uniform(0, 1):.4f}",
            "seed": str(i),
            "optimizer": rng.choice(["gbdt", "dart", "goss"]),
        }
        acc = rng.random()
        metrics = {
            "acc": acc,
            "loss": rng.uniform(0.05, 2.0),
            "f1": rng.random(),
            "auc": rng.random(),
            "precision": rng.random(),
        }
        runs.append((f"run-{i:05d}", params, metrics))
    return runs


def expected(runs) -> list[float]:
    accs = sorted(
        (m["acc"] for _, p, m in runs if m["acc"] > 0.9 and p["model"] == "lgbm"), reverse=True
    )
    return accs[:TOP]


# --------------------------------------------------------------------------- workers


def case_tane(n_runs: int, reps: int) -> dict:
    import tane

    data = dataset(n_runs)
    with common.fresh_dir("tane-store") as store:
        client = tane.Client(str(store))
        exp = client.get_or_create_experiment(EXPERIMENT)
        t0 = common.now()
        for i, (name, params, metrics) in enumerate(data):
            run = client.create_run(exp.id, name=name)
            client.log_batch(
                run.id,
                metrics=[(k, v, 0, BASE_TS + i) for k, v in metrics.items()],
                params=params,
                tags={},
            )
            client.set_terminated(run.id)
        create_s = common.now() - t0
        note(f"  tane: created {n_runs} runs in {create_s:.2f} s")

        def pandas():
            return client.search_runs(
                FILTER, experiment=EXPERIMENT, order_by=ORDER_BY, max_results=TOP, as_pandas=True
            )

        def listed():
            return client.search_runs(
                FILTER, experiment=EXPERIMENT, order_by=ORDER_BY, max_results=TOP, as_pandas=False
            )

        df = pandas()
        runs = listed()
        acc_col = "metrics.acc" if "metrics.acc" in df.columns else None
        assert acc_col, f"no metrics.acc column in tane's DataFrame: {list(df.columns)[:20]}"
        df_accs = [float(x) for x in df[acc_col]]
        list_accs = [float(r.metrics["acc"]) for r in runs]
        assert df_accs == list_accs, "tane: pandas and list forms disagree"

        t_pandas = common.repeat(pandas, reps, warmup=1)
        t_list = common.repeat(listed, reps, warmup=1)
        return {
            "runs": n_runs,
            "create_s": create_s,
            "pandas": common.summary(t_pandas),
            "list": common.summary(t_list),
            "count": len(df),
            "columns": len(df.columns),
            "accs": df_accs,
            "expected": expected(data),
        }


def case_mlflow(n_runs: int, reps: int) -> dict:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    data = dataset(n_runs)
    with common.fresh_dir("mlflow") as tmp:
        mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
        client = MlflowClient()
        exp_id = client.create_experiment(EXPERIMENT)
        t0 = common.now()
        for i, (name, params, metrics) in enumerate(data):
            run = client.create_run(exp_id, run_name=name)
            rid = run.info.run_id
            client.log_batch(
                rid,
                metrics=[Metric(k, v, BASE_TS + i, 0) for k, v in metrics.items()],
                params=[Param(k, v) for k, v in params.items()],
            )
            client.set_terminated(rid)
            if i and i % 500 == 0:
                note(f"  mlflow: {i} runs, {common.now() - t0:.1f} s")
        create_s = common.now() - t0
        note(f"  mlflow: created {n_runs} runs in {create_s:.2f} s")

        def pandas():
            return mlflow.search_runs(
                experiment_ids=[exp_id], filter_string=FILTER, order_by=ORDER_BY, max_results=TOP
            )

        def listed():
            return client.search_runs(
                [exp_id], filter_string=FILTER, order_by=ORDER_BY, max_results=TOP
            )

        df = pandas()
        runs = listed()
        df_accs = [float(x) for x in df["metrics.acc"]]
        assert df_accs == [float(r.data.metrics["acc"]) for r in runs]

        t_pandas = common.repeat(pandas, reps, warmup=1)
        t_list = common.repeat(listed, reps, warmup=1)
        return {
            "runs": n_runs,
            "create_s": create_s,
            "pandas": common.summary(t_pandas),
            "list": common.summary(t_list),
            "count": len(df),
            "columns": len(df.columns),
            "accs": df_accs,
            "expected": expected(data),
        }


# --------------------------------------------------------------------------- orchestrator


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=2_000)
    p.add_argument("--reps", type=int, default=21, help="timed repetitions (median reported)")
    a = p.parse_args()
    args = ["--runs", str(a.runs), "--reps", str(a.reps)]

    if a.case == "tane":
        common.emit(case_tane(a.runs, a.reps))
        return
    if a.case == "mlflow":
        common.emit(case_mlflow(a.runs, a.reps))
        return
    if a.case:
        raise SystemExit(f"unknown case {a.case}")

    note(f"[search] tane: {a.runs} runs ...")
    tane_r = common.run_case("bench_search.py", "tane", args)
    note(f"[search] mlflow: {a.runs} runs (about 25 ms per run to create) ...")
    t0 = time.perf_counter()
    ml_r = common.run_case("bench_search.py", "mlflow", args)
    note(f"  mlflow case took {time.perf_counter() - t0:.0f} s")

    # correctness: same count, same acc ordering, and both equal to the truth
    exp = tane_r["expected"]
    problems = []
    if tane_r["count"] != ml_r["count"]:
        problems.append(f"run count differs: tane {tane_r['count']} vs mlflow {ml_r['count']}")
    if tane_r["accs"] != ml_r["accs"]:
        problems.append("acc ordering differs between tane and mlflow")
    if tane_r["accs"] != exp:
        problems.append(f"tane's result differs from the expected top {TOP}")
    if ml_r["accs"] != exp:
        problems.append(f"mlflow's result differs from the expected top {TOP}")

    peer = ml_r["pandas"]["median_s"]
    rows = [
        [
            "tane Client.search_runs(as_pandas=True)",
            fmt_s(tane_r["pandas"]["median_s"]),
            fmt_s(tane_r["pandas"]["min_s"]),
            tane_r["count"],
            fmt_ratio(peer / tane_r["pandas"]["median_s"]),
        ],
        [
            "tane Client.search_runs(as_pandas=False)",
            fmt_s(tane_r["list"]["median_s"]),
            fmt_s(tane_r["list"]["min_s"]),
            tane_r["count"],
            fmt_ratio(peer / tane_r["list"]["median_s"]),
        ],
        [
            "mlflow.search_runs (pandas)",
            fmt_s(peer),
            fmt_s(ml_r["pandas"]["min_s"]),
            ml_r["count"],
            "1.0x",
        ],
        [
            "MlflowClient.search_runs (list)",
            fmt_s(ml_r["list"]["median_s"]),
            fmt_s(ml_r["list"]["min_s"]),
            ml_r["count"],
            fmt_ratio(peer / ml_r["list"]["median_s"]),
        ],
    ]
    print(
        common.table(
            ["case", "median", "min", "runs", "speed vs mlflow.search_runs"],
            rows,
            title=f"search_runs over {a.runs:,} runs: {FILTER!r}, "
            f"order by acc DESC, top {TOP} (median of {a.reps} after 1 warm-up)",
        )
    )
    print(
        common.table(
            ["tool", f"create {a.runs:,} runs", "runs/s"],
            [
                [
                    "tane (create_run + log_batch + set_terminated)",
                    fmt_s(tane_r["create_s"]),
                    f"{a.runs / tane_r['create_s']:,.0f}",
                ],
                [
                    "mlflow (create_run + log_batch + set_terminated)",
                    fmt_s(ml_r["create_s"]),
                    f"{a.runs / ml_r['create_s']:,.0f}",
                ],
            ],
            title="creation (reported, not a target)",
        )
    )
    ratio = peer / tane_r["pandas"]["median_s"]
    print(
        common.table(
            ["tane pandas", "mlflow pandas", "ratio", "target", "met"],
            [
                [
                    fmt_s(tane_r["pandas"]["median_s"]),
                    fmt_s(peer),
                    fmt_ratio(ratio),
                    f">= {TARGET:.0f}x",
                    common.met(ratio, TARGET),
                ]
            ],
            title="target",
        )
    )
    if problems:
        print("\nCORRECTNESS PROBLEMS:\n  " + "\n  ".join(problems))
    else:
        print(f"\nresults agree: {tane_r['count']} runs, identical acc ordering")
    for r in (tane_r, ml_r):
        r.pop("expected", None)
    common.save(
        a.json,
        "search",
        {"target": TARGET, "filter": FILTER, "problems": problems, "tane": tane_r, "mlflow": ml_r},
    )
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
