"""Render the results of the last ``benchmarks/run`` as Markdown (for docs/benchmarks.md).

    benchmarks/.venv/bin/python benchmarks/report.py

(docs/benchmarks.md is this output plus a hand-written findings section.)

Reads ``benchmarks/results/{log_metric,search,import}.json``; a missing one is
noted, not fatal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fmt_rate, fmt_ratio, fmt_s, met, table

RESULTS = Path(__file__).resolve().parent / "results"


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def log_metric(d: dict) -> list[str]:
    r = d["results"]
    base = r["mlflow"]["rate"]
    out = ["## 1. `log_metric`, one call per point, SQLite", ""]
    out.append(
        "tane logs 10 metrics x 10,000 steps (100,000 points); MLflow, too slow for that, "
        f"logs {r['mlflow']['points']:,} points and the two are compared by rate. Clock: "
        "first `log_metric` call until `end_run` returns (every point stored, then read back "
        "and counted). Each case ran in "
        "several fresh processes (the range column); the median trial is shown."
    )
    out.append("")
    rows = []
    for case in ("tane", "tane-nocapture", "mlflow", "mlflow-async", "mlflow-batch"):
        if case not in r:
            continue
        x = r[case]
        rows.append(
            [
                x["label"],
                f"{x['points']:,}",
                fmt_rate(x["rate"]),
                f"{min(x['rates']):,.0f} .. {max(x['rates']):,.0f}, {len(x['rates'])}",
                f"{x['per_call_us']:.1f} us" if "per_call_us" in x else "-",
                fmt_s(x.get("end_run_s")),
                fmt_ratio(x["rate"] / base),
            ]
        )
    out.append(
        table(
            [
                "case",
                "points",
                "points/s",
                "range (points/s), trials",
                "per call",
                "end_run",
                "vs MLflow sync",
            ],
            rows,
        )
    )
    out.append("")
    rows = []
    for case in ("tane", "tane-nocapture"):
        if case in r:
            ratio = r[case]["rate"] / base
            rows.append(
                [
                    r[case]["label"],
                    fmt_rate(r[case]["rate"]),
                    fmt_rate(base),
                    fmt_ratio(ratio),
                    f">= {d['target']:.0f}x",
                    met(ratio, d["target"]),
                ]
            )
    out.append(
        table(["tane", "tane points/s", "MLflow sync points/s", "ratio", "target", "met?"], rows)
    )
    return out


def search(d: dict) -> list[str]:
    tn, ml = d["tane"], d["mlflow"]
    peer = ml["pandas"]["median_s"]
    out = ["## 2. `search_runs` over 2,000 runs", ""]
    out.append(
        f"{tn['runs']:,} runs x 10 params x 5 metrics in one experiment; query "
        f"`{d['filter']}` ordered by `metrics.acc DESC`, top 100. Median of "
        f"{tn['pandas']['n']} repetitions after one warm-up. Both tools returned "
        f"{tn['count']} / {ml['count']} runs"
        + (
            " with identical acc ordering."
            if not d["problems"]
            else f": **{'; '.join(d['problems'])}**."
        )
    )
    out.append("")
    rows = [
        [
            "tane `Client().search_runs(..., as_pandas=True)`",
            fmt_s(tn["pandas"]["median_s"]),
            fmt_s(tn["pandas"]["min_s"]),
            fmt_ratio(peer / tn["pandas"]["median_s"]),
        ],
        [
            "tane `Client().search_runs(..., as_pandas=False)`",
            fmt_s(tn["list"]["median_s"]),
            fmt_s(tn["list"]["min_s"]),
            fmt_ratio(peer / tn["list"]["median_s"]),
        ],
        ["`mlflow.search_runs(...)` (pandas)", fmt_s(peer), fmt_s(ml["pandas"]["min_s"]), "1.0x"],
        [
            "`MlflowClient().search_runs(...)` (list)",
            fmt_s(ml["list"]["median_s"]),
            fmt_s(ml["list"]["min_s"]),
            fmt_ratio(peer / ml["list"]["median_s"]),
        ],
    ]
    out.append(table(["case", "median", "min", "speed vs mlflow.search_runs"], rows))
    out.append("")
    ratio = peer / tn["pandas"]["median_s"]
    out.append(
        table(
            ["tane (pandas)", "MLflow (pandas)", "ratio", "target", "met?"],
            [
                [
                    fmt_s(tn["pandas"]["median_s"]),
                    fmt_s(peer),
                    fmt_ratio(ratio),
                    f">= {d['target']:.0f}x",
                    met(ratio, d["target"]),
                ]
            ],
        )
    )
    out.append("")
    out.append(
        f"Creating the runs (reported, not a target): tane {fmt_s(tn['create_s'])} "
        f"({tn['runs'] / tn['create_s']:,.0f} runs/s), MLflow {fmt_s(ml['create_s'])} "
        f"({ml['runs'] / ml['create_s']:,.0f} runs/s), each with `create_run` + `log_batch` + "
        f"`set_terminated` per run: {fmt_ratio(ml['create_s'] / tn['create_s'])}."
    )
    return out


def imports(d: dict) -> list[str]:
    r = d["results"]
    base = r["python -c pass"]["median_s"]
    out = ["## 3. Import time", ""]
    n = r["import tane"]["n"]
    out.append(f"Fresh process each, median of {n} interleaved rounds after one warm-up.")
    out.append("")
    rows = []
    for label, x in r.items():
        cmd = label if label == "python -c pass" else f'python -c "{label}"'
        rows.append(
            [
                f"`{cmd}`",
                fmt_s(x["median_s"]),
                fmt_s(x["min_s"]),
                fmt_s(x["max_s"]),
                "-" if label == "python -c pass" else fmt_s(max(x["median_s"] - base, 0)),
            ]
        )
    out.append(table(["command", "median", "min", "max", "net of interpreter"], rows))
    out.append("")
    t, m = r["import tane"]["median_s"], r["import mlflow"]["median_s"]
    out.append(
        table(
            ["tane", "MLflow", "ratio", "target", "met?"],
            [
                [
                    fmt_s(t),
                    fmt_s(m),
                    fmt_ratio(m / t),
                    f">= {d['target']:.0f}x",
                    met(m / t, d["target"]),
                ]
            ],
        )
    )
    return out


def main() -> None:
    parts = {name: load(name) for name in ("log_metric", "search", "import")}
    first = next((p for p in parts.values() if p), None)
    if first is None:
        raise SystemExit("no results: run benchmarks/run first")
    mach, ver = first["machine"], first["versions"]
    lines = [
        "# Benchmarks: tane vs MLflow",
        "",
        "Measured side by side in one invocation of `benchmarks/run` (see "
        "[benchmarks/README.md](../benchmarks/README.md) for what each one measures).",
        "",
        f"- Date: {first['date']} (each section gives its own time and tane commit)",
        f"- Machine: {mach.get('cpus')} cores ({mach.get('cpu', '?')}), "
        f"{mach.get('mem_gib', '?')} GiB RAM, {mach.get('platform')}",
        f"- Versions: Python {ver['python']}, tane {ver['tane']} "
        f"(commit {first.get('tane_commit', '?')}), mlflow {ver['mlflow']}, "
        f"SQLAlchemy {ver['sqlalchemy']}, pandas {ver['pandas']}",
        "- Backends: MLflow on `sqlite:///<tmp>/mlflow.db`; tane on a local store in a "
        "temp folder (SQLite, WAL). Fresh temp dirs and a fresh process per case.",
        "",
        "## Summary",
        "",
    ]
    summary = []
    if parts["log_metric"]:
        d = parts["log_metric"]
        r = d["results"]
        ratio = r["tane"]["rate"] / r["mlflow"]["rate"]
        summary.append(
            [
                "`log_metric` points/s (default capture)",
                fmt_rate(r["tane"]["rate"]),
                fmt_rate(r["mlflow"]["rate"]),
                fmt_ratio(ratio),
                f">= {d['target']:.0f}x",
                met(ratio, d["target"]),
            ]
        )
    if parts["search"]:
        d = parts["search"]
        t, m = d["tane"]["pandas"]["median_s"], d["mlflow"]["pandas"]["median_s"]
        summary.append(
            [
                "`search_runs` (pandas), 2,000 runs",
                fmt_s(t),
                fmt_s(m),
                fmt_ratio(m / t),
                f">= {d['target']:.0f}x",
                met(m / t, d["target"]),
            ]
        )
    if parts["import"]:
        d = parts["import"]
        t, m = d["results"]["import tane"]["median_s"], d["results"]["import mlflow"]["median_s"]
        summary.append(
            [
                "`import` (fresh process)",
                fmt_s(t),
                fmt_s(m),
                fmt_ratio(m / t),
                f">= {d['target']:.0f}x",
                met(m / t, d["target"]),
            ]
        )
    lines.append(table(["benchmark", "tane", "MLflow 3.17", "ratio", "target", "met?"], summary))
    for name, render in (("log_metric", log_metric), ("search", search), ("import", imports)):
        lines.append("")
        if parts[name]:
            body = render(parts[name])
            body[1:1] = [
                "",
                f"_Measured {parts[name]['date']}, tane commit "
                f"{parts[name].get('tane_commit', '?')}._",
            ]
            lines.extend(body)
        else:
            lines.append(f"## {name}\n\nNot run.")
    lines += [
        "",
        "## Reproduce",
        "",
        "```bash",
        "benchmarks/run                  # sets up benchmarks/.venv (mlflow 3.17 + tane), "
        "then all three",
        "benchmarks/run search           # or one: log_metric | search | import",
        "benchmarks/.venv/bin/python benchmarks/report.py   # prints the tables above "
        "from benchmarks/results/",
        "```",
        "",
        "The machine has 2 cores and MLflow's per-call SQLite commits depend on disk latency, "
        "so MLflow's one-call-at-a-time rates move by 2x or more between runs; compare the "
        "ratios of one invocation.",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
