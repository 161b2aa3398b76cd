"""Benchmark 8: the web UI in headless Chromium, ``tane server`` against ``mlflow server``.

The same data in both tools, each served by its own server process on a SQLite
database in a temp folder (``bench_server.Server``), one server at a time:

* experiment ``bench-ui-10k``: 10,000 finished runs of 10 params and 5 metrics
  (one point each; ``bench_search.dataset``);
* experiment ``bench-ui-curves``: run ``million`` with one metric ``loss`` of
  1,000,000 points (steps 0..999,999), and 100 runs ``curve-000`` .. ``curve-099``
  with a ``loss`` of 1,000 points each and 3 params.

tane's store is filled through its store API (``create_run``, ``log_batch``,
``update_run`` inside ``SqliteStore.batch()``). MLflow's through ``MlflowClient``
would take about 8 minutes (25 ms per run, 6,000 points/s), so one template run is
made with ``MlflowClient`` and the rest are copies of its rows inserted into MLflow's
own tables (``runs``, ``params``, ``tags``, ``metrics``, ``latest_metrics``); then
``MlflowClient`` reads them back (run counts, params, the latest and the last points)
before anything is measured.

A worker process per tool drives Debian's Chromium (``playwright`` with
``executable_path=shutil.which("chromium")``, headless): every measurement opens a
new browser context (no HTTP cache: what opening a link in a fresh tab costs, the
bundle included), navigates, and takes the time from navigation start
(``performance.timeOrigin``) to the moment the page is usable, read inside the page
with ``performance.now()``:

* tane: the first time the view sets ``window.__TANE_READY__`` (with
  ``#root[data-ready="true"]``: its data loaded and drawn, after a paint). Then the
  page is checked: the runs table holds the 10,000 runs (``aria-rowcount``), a chart
  says ``data-loaded`` with how many points it drew (``data-points``).
* MLflow: the first animation frame in which what the user waits for is on
  screen: the runs table's rows, the metric chart's line, the compare page's
  tables (``PEER_PAGES`` has the selectors, found in screenshots of MLflow's DOM).

Pages (median of ``--reps`` after ``--warmup`` untimed loads of each):

1. the runs page of the 10,000-run experiment (tane ``/experiments/<id>``, which
   loads every run; MLflow ``#/experiments/<id>``, which shows its first page of
   runs and loads more on demand). Target: tane < 1.5 s.
2. the 1,000,000-point metric drawn (tane ``/runs/<id>?tab=metrics``; MLflow the run's
   "Model metrics" tab). Target: tane < 1 s.
3. 100 runs' curves (tane ``/compare?runs=<100 ids>``; MLflow ``#/metric/loss`` with
   the 100 runs, its chart of one metric over several runs, and its
   ``#/compare-runs`` page, which has no curves, for reference). Target: tane < 2 s.

The tables also show, per page, when the last API answer arrived (Resource Timing),
how many API requests were made and how many bytes they carried: the server's share.
Screenshots of the last measurement of every page go to ``benchmarks/results/ui/``.
Every server is stopped (its whole process tree), also on errors.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from bench_search import dataset
from bench_server import Server, tree_rss
from common import fmt_ratio, fmt_s, note

RUNS_EXPERIMENT = "bench-ui-10k"
CURVES_EXPERIMENT = "bench-ui-curves"
BASE_TS = 1_700_000_000_000
SHOTS = common.HERE / "results" / "ui"
TARGETS = {"runs": 1.5, "metric": 1.0, "compare": 2.0}  # seconds, tane
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
VIEWPORT = {"width": 1400, "height": 900}
INSERT_METRIC = (
    "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, 0)"
)
INSERT_LATEST = (
    "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
    "VALUES (?, ?, ?, ?, 0, ?)"
)

#: Records, inside the page, when tane's view first says it is ready.
TANE_WATCH = """
(() => {
  let value;
  Object.defineProperty(window, '__TANE_READY__', {
    configurable: true,
    get() { return value; },
    set(v) {
      value = v;
      if (v === true && window.__benchDoneAt === undefined) {
        window.__benchDoneAt = performance.now();
      }
    },
  });
})();
"""

#: Checks a condition on every animation frame; records when it first holds.
PEER_WATCH = """
(() => {
  const done = () => { %s };
  const tick = () => {
    let ok = false;
    try { ok = !!done(); } catch (e) { ok = false; }
    if (ok) { window.__benchDoneAt = performance.now(); return; }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
"""

#: What the user waits for on MLflow's pages (a JavaScript function body returning true).
PEER_PAGES = {
    # the runs table's rows (ag-grid), with run names of the data set in them
    "runs": """
      const rows = document.querySelectorAll('.ag-row');
      return Array.from(rows).filter(r => /run-\\d{5}/.test(r.textContent)).length >= 10;
    """,
    # the chart's line (plotly): a trace path with points
    "metric": """
      const lines = document.querySelectorAll('.js-plotly-plot .scatterlayer .trace path.js-line');
      return Array.from(lines).some(p => (p.getAttribute('d') || '').length > 100);
    """,
    # a line per run, and the page's own "Completed Runs n/n"
    "compare-curves": """
      const paths = document.querySelectorAll('.js-plotly-plot .scatterlayer .trace path.js-line');
      const lines = Array.from(paths).filter(p => (p.getAttribute('d') || '').length > 20).length;
      const done = /Completed Runs\\D{0,80}?(\\d+)\\/(\\d+)/.exec(document.body.textContent);
      return lines >= %d && !!done && done[1] === done[2];
    """,
    # the compare page's tables, with the runs' names
    "compare": """
      const cells = Array.from(document.querySelectorAll('table.mlflow-compare-table td'));
      return cells.filter(c => /^curve-\\d{3}$/.test(c.textContent.trim())).length >= %d;
    """,
}


# --------------------------------------------------------------------------- the data


def curve(step: int, seed: int, length: int) -> float:
    """A loss curve: decaying, with some wiggle, different per run."""
    return (1 + seed % 7) * math.exp(-step / (0.2 * length)) + 0.01 * math.sin(step / 7 + seed)


def curve_runs(n: int) -> list[tuple[str, dict[str, str]]]:
    return [
        (
            f"curve-{i:03d}",
            {"lr": str([0.001, 0.01, 0.1][i % 3]), "depth": str(2 + i % 5), "seed": str(i)},
        )
        for i in range(n)
    ]


def case_seed_tane(a: argparse.Namespace) -> dict[str, Any]:
    """Worker: fill a tane store (SQLite) through its store API."""
    from tane.tracking.stores import open_store

    t0 = common.now()
    store = open_store(f"sqlite:///{a.db}")
    runs_exp = store.get_or_create_experiment(RUNS_EXPERIMENT)
    data = dataset(a.runs)
    for lo in range(0, len(data), 500):
        with store.batch():
            for i in range(lo, min(lo + 500, len(data))):
                name, params, metrics = data[i]
                ts = BASE_TS + i * 1000
                run = store.create_run(runs_exp.id, name, start_time=ts)
                store.log_batch(run.id, [(k, v, 0, ts) for k, v in metrics.items()], params)
                store.update_run(run.id, status="FINISHED", end_time=ts + 500)
    curves_exp = store.get_or_create_experiment(CURVES_EXPERIMENT)
    million = store.create_run(curves_exp.id, "million", start_time=BASE_TS)
    chunk = 100_000
    for lo in range(0, a.points, chunk):
        steps = range(lo, min(lo + chunk, a.points))
        store.log_batch(
            million.id, [("loss", curve(s, 1, a.points), s, BASE_TS + s) for s in steps]
        )
    store.update_run(million.id, status="FINISHED", end_time=BASE_TS + a.points)
    curve_ids = []
    with store.batch():
        for i, (name, params) in enumerate(curve_runs(a.curves)):
            ts = BASE_TS + 10_000_000 + i * 1000
            run = store.create_run(curves_exp.id, name, start_time=ts)
            points = [
                ("loss", curve(s, i, a.curve_points), s, ts + s) for s in range(a.curve_points)
            ]
            store.log_batch(run.id, points, params)
            store.update_run(run.id, status="FINISHED", end_time=ts + a.curve_points)
            curve_ids.append(run.id)
    seed_s = common.now() - t0
    # read back what the pages will show
    found = store.search_runs([runs_exp.id], "", [], 50_000, None, "active").runs
    assert len(found) == a.runs, (len(found), a.runs)
    last = store.get_metric_history(million.id, "loss", a.points - 2, None, None)
    assert [p.step for p in last] == [a.points - 2, a.points - 1], last
    assert len(store.get_metric_history(curve_ids[-1], "loss", None, None, None)) == a.curve_points
    store.close()
    return {
        "seed_s": seed_s,
        "runs_experiment": runs_exp.id,
        "curves_experiment": curves_exp.id,
        "million": million.id,
        "curves": curve_ids,
    }


def case_seed_mlflow(a: argparse.Namespace) -> dict[str, Any]:
    """Worker: fill an MLflow database: one template run by MlflowClient, copies of its rows."""
    import uuid

    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    t0 = common.now()
    db = Path(a.db)
    artifacts = db.parent / "mlartifacts"
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    client = MlflowClient()
    runs_exp = client.create_experiment(RUNS_EXPERIMENT, artifact_location=str(artifacts))
    curves_exp = client.create_experiment(CURVES_EXPERIMENT, artifact_location=str(artifacts))
    for exp in (runs_exp, curves_exp):  # runs, not traces: its "model training" pages
        client.set_experiment_tag(exp, "mlflow.experimentKind", "custom_model_development")
    template = client.create_run(runs_exp, run_name="template")
    tid = template.info.run_id
    client.log_batch(tid, metrics=[Metric("acc", 0.5, BASE_TS, 0)], params=[Param("lr", "0.1")])
    client.set_terminated(tid)
    init_s = common.now() - t0

    conn = sqlite3.connect(db)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
    row = dict(
        zip(
            cols,
            conn.execute("SELECT * FROM runs WHERE run_uuid = ?", (tid,)).fetchone(),
            strict=True,
        )
    )
    tag_rows = conn.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (tid,)).fetchall()
    conn.execute("DELETE FROM params WHERE run_uuid = ?", (tid,))
    conn.execute("DELETE FROM metrics WHERE run_uuid = ?", (tid,))
    conn.execute("DELETE FROM latest_metrics WHERE run_uuid = ?", (tid,))
    conn.execute("DELETE FROM tags WHERE run_uuid = ?", (tid,))
    conn.execute("DELETE FROM runs WHERE run_uuid = ?", (tid,))
    insert_run = f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"

    def add_run(exp: str, name: str, start: int, end: int) -> str:
        rid = uuid.uuid4().hex
        values = {
            **row,
            "run_uuid": rid,
            "name": name,
            "start_time": start,
            "end_time": end,
            "experiment_id": int(exp),
            "artifact_uri": f"{artifacts}/{rid}/artifacts",
        }
        conn.execute(insert_run, [values[c] for c in cols])
        tags = [(k, name if k == "mlflow.runName" else v, rid) for k, v in tag_rows]
        conn.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags)
        return rid

    def add_metrics(rid: str, points: list[tuple[str, float, int, int]]) -> None:
        conn.executemany(INSERT_METRIC, [(k, v, ts, rid, s) for k, v, s, ts in points])
        latest: dict[str, tuple[str, float, int, int]] = {}
        for p in points:
            if p[0] not in latest or p[2] >= latest[p[0]][2]:
                latest[p[0]] = p
        conn.executemany(INSERT_LATEST, [(k, v, ts, s, rid) for k, v, s, ts in latest.values()])

    def add_params(rid: str, params: dict[str, str]) -> None:
        conn.executemany(
            "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
            [(k, v, rid) for k, v in params.items()],
        )

    with conn:
        for i, (name, params, metrics) in enumerate(dataset(a.runs)):
            ts = BASE_TS + i * 1000
            rid = add_run(runs_exp, name, ts, ts + 500)
            add_params(rid, params)
            add_metrics(rid, [(k, v, 0, ts) for k, v in metrics.items()])
        million = add_run(curves_exp, "million", BASE_TS, BASE_TS + a.points)
        chunk = 100_000
        for lo in range(0, a.points, chunk):
            steps = range(lo, min(lo + chunk, a.points))
            conn.executemany(
                INSERT_METRIC,
                [("loss", curve(s, 1, a.points), BASE_TS + s, million, s) for s in steps],
            )
        last = a.points - 1
        conn.execute(
            INSERT_LATEST, ("loss", curve(last, 1, a.points), BASE_TS + last, last, million)
        )
        curve_ids = []
        for i, (name, params) in enumerate(curve_runs(a.curves)):
            ts = BASE_TS + 10_000_000 + i * 1000
            rid = add_run(curves_exp, name, ts, ts + a.curve_points)
            add_params(rid, params)
            add_metrics(
                rid,
                [("loss", curve(s, i, a.curve_points), s, ts + s) for s in range(a.curve_points)],
            )
            curve_ids.append(rid)
    conn.close()
    seed_s = common.now() - t0

    # read back through MLflow's own client: the copies are runs it knows
    data = dataset(a.runs)
    found = client.search_runs([runs_exp], max_results=50_000)
    assert len(found) == a.runs, (len(found), a.runs)
    by_name = {r.info.run_name: r for r in found}
    for i in (0, a.runs - 1):
        name, params, metrics = data[i]
        got = by_name[name]
        assert got.data.params == params, (name, got.data.params)
        assert got.data.metrics == metrics, (name, got.data.metrics)
        assert got.info.status == "FINISHED"
    m = client.get_run(million).data.metrics
    assert m["loss"] == curve(last, 1, a.points), m
    hist = client.get_metric_history(curve_ids[-1], "loss")
    assert len(hist) == a.curve_points, len(hist)
    return {
        "seed_s": seed_s,
        "template_s": init_s,
        "runs_experiment": runs_exp,
        "curves_experiment": curves_exp,
        "million": million,
        "curves": curve_ids,
    }


# --------------------------------------------------------------------------- the browser


def page_urls(tool: str, ids: dict[str, Any]) -> dict[str, str]:
    """The pages measured, by name."""
    curves = ids["curves"]
    if tool == "tane":
        return {
            "runs": f"/experiments/{ids['runs_experiment']}",
            "metric": f"/runs/{ids['million']}?tab=metrics",
            "compare": "/compare?runs=" + ",".join(curves),
        }
    runs_json = json.dumps(curves, separators=(",", ":"))
    exp = ids["curves_experiment"]
    ml = "workflowType=machine_learning"
    return {
        "runs": f"/#/experiments/{ids['runs_experiment']}/runs?{ml}",
        "metric": f"/#/experiments/{exp}/runs/{ids['million']}/model-metrics?{ml}",
        # MLflow's metric page (what its compare page links a metric to): the URL its
        # Routes.getMetricPageRoute builds
        "compare-curves": f"/#/metric?runs={runs_json}&metric=%22loss%22&experiments=[%22{exp}%22]"
        "&plot_metric_keys=%5B%22loss%22%5D&plot_layout={}&x_axis=step&y_axis_scale=linear"
        "&line_smoothness=1&show_point=false&deselected_curves=[]&last_linear_y_axis_range=[]",
        "compare": f'/#/compare-runs?runs={runs_json}&experiments=["{exp}"]',
    }


def measure_once(
    browser: Any, tool: str, url: str, name: str, curves: int, shot: Path | None
) -> dict[str, Any]:
    """One load of a page in a new browser context: seconds to usable, and what it showed."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        if tool == "tane":
            page.add_init_script(TANE_WATCH)
        else:
            body = PEER_PAGES[name]
            if "%d" in body:
                body = body % curves
            page.add_init_script(PEER_WATCH % body)
        page.goto(url, wait_until="commit")
        page.wait_for_function("() => window.__benchDoneAt !== undefined", timeout=180_000)
        out: dict[str, Any] = page.evaluate(
            """() => {
              const api = performance.getEntriesByType('resource')
                .filter(e => /\\/(api|ajax-api)\\//.test(e.name))
                .filter(e => e.responseEnd <= window.__benchDoneAt);
              const nav = performance.getEntriesByType('navigation')[0];
              return {
                done_s: window.__benchDoneAt / 1000,
                api_end_s: api.length ? Math.max(...api.map(e => e.responseEnd)) / 1000 : null,
                api_requests: api.length,
                api_bytes: api.reduce((s, e) => s + (e.encodedBodySize || 0), 0),
                document_s: nav ? nav.responseEnd / 1000 : null,
              };
            }"""
        )
        if tool == "tane":
            out.update(check_tane(page, name, curves))
        if shot is not None:
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot))
        out["errors"] = errors
        return out
    finally:
        context.close()


def check_tane(page: Any, name: str, curves: int) -> dict[str, Any]:
    """What tane's page shows once ready: the rows it holds, the points a chart drew."""
    assert page.evaluate("() => window.__TANE_READY__ === true"), "tane: not ready any more"
    if name == "runs":
        rows = int(page.get_attribute('[data-testid="runs-table"]', "aria-rowcount"))
        return {"rows": rows, "rendered": page.locator('[data-testid="run-row"]').count()}
    chart = page.locator('.metric-chart[data-metric="loss"]')
    assert chart.get_attribute("data-loaded") == "true", "tane: the chart is not loaded"
    assert chart.locator("canvas").count() > 0, "tane: no canvas"
    out = {"points": int(chart.get_attribute("data-points") or 0)}
    if name == "compare":
        out["chips"] = page.locator('[data-testid="compare-runs"] .run-chip').count()
    return out


def case_browser(a: argparse.Namespace) -> dict[str, Any]:
    """Worker: load every page of one tool in headless Chromium; return the timings."""
    from playwright.sync_api import sync_playwright

    ids = json.loads(Path(a.ids).read_text())
    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("Chromium is not installed (apt-get install chromium)")
    results: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            for name, path in page_urls(a.tool, ids).items():
                if a.pages and name not in a.pages.split(","):
                    continue
                url = a.url + path
                for i in range(a.warmup):
                    r = measure_once(browser, a.tool, url, name, len(ids["curves"]), None)
                    note(f"  {a.tool} {name}: warm-up {i + 1} {r['done_s']:.2f} s")
                loads = []
                for i in range(a.reps):
                    shot = SHOTS / f"{a.tool}-{name}.png" if i == a.reps - 1 else None
                    r = measure_once(browser, a.tool, url, name, len(ids["curves"]), shot)
                    note(f"  {a.tool} {name}: {r['done_s']:.2f} s")
                    loads.append(r)
                results[name] = summarize(loads)
        finally:
            browser.close()
    return {"tool": a.tool, "pages": results, "load": os.getloadavg()[0]}


def summarize(loads: list[dict[str, Any]]) -> dict[str, Any]:
    times = [x["done_s"] for x in loads]
    mid = sorted(loads, key=lambda x: x["done_s"])[len(loads) // 2]
    return {**common.summary(times), "median_load": mid, "times": times}


# --------------------------------------------------------------------------- orchestrator


def serve_and_measure(
    tool: str, folder: Path, ids_file: Path, a: argparse.Namespace
) -> dict[str, Any]:
    """Start the tool's server on its seeded database, measure its pages, stop it."""
    srv = Server(tool, None, folder)
    try:
        srv.start()
        assert srv.proc is not None
        srv.wait_for("/health")
        srv.wait_for(srv.db_path)
        if tool == "mlflow":
            srv.settle(min_s=3.0)  # it keeps starting job consumers after /health
        args = ["--tool", tool, "--url", srv.url, "--ids", str(ids_file)]
        args += ["--reps", str(a.reps), "--warmup", str(a.warmup)]
        if a.pages:
            args += ["--pages", a.pages]
        r = common.run_case("bench_ui.py", "browser", args, timeout=3600)
        r["server_procs"], r["server_rss_mib"] = tree_rss(srv.proc.pid)
        return r
    except Exception:
        note(f"--- {tool} server log (tail) ---\n{srv.tail()}")
        raise
    finally:
        srv.stop()


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10_000, help="runs of the runs-page experiment")
    p.add_argument("--points", type=int, default=1_000_000, help="points of the long metric")
    p.add_argument("--curves", type=int, default=100, help="runs compared")
    p.add_argument("--curve-points", type=int, default=1_000, help="points per compared run")
    p.add_argument("--reps", type=int, default=5, help="timed loads of each page (median reported)")
    p.add_argument("--warmup", type=int, default=1, help="untimed loads of each page first")
    p.add_argument("--tools", default="tane,mlflow", help="tane, mlflow or both")
    p.add_argument(
        "--pages", default="", help="only these pages (runs,metric,compare,compare-curves)"
    )
    # worker-only options
    p.add_argument("--db", help=argparse.SUPPRESS)
    p.add_argument("--tool", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--ids", help=argparse.SUPPRESS)
    a = p.parse_args()

    if a.case == "seed-tane":
        common.emit(case_seed_tane(a))
        return
    if a.case == "seed-mlflow":
        common.emit(case_seed_mlflow(a))
        return
    if a.case == "browser":
        common.emit(case_browser(a))
        return
    if a.case:
        raise SystemExit(f"unknown case {a.case}")

    tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    sizes = ["--runs", str(a.runs), "--points", str(a.points)]
    sizes += ["--curves", str(a.curves), "--curve-points", str(a.curve_points)]
    results: dict[str, Any] = {}
    seeds: dict[str, Any] = {}
    shutil.rmtree(SHOTS, ignore_errors=True)
    with common.fresh_dir("ui") as tmp:
        for tool in tools:
            folder = tmp / tool
            folder.mkdir()
            db = folder / ("tane.db" if tool == "tane" else "mlflow.db")
            note(
                f"[ui] {tool}: seeding {a.runs:,} runs, a metric of {a.points:,} points, "
                f"{a.curves} runs of {a.curve_points:,} points ..."
            )
            seeds[tool] = common.run_case("bench_ui.py", f"seed-{tool}", [*sizes, "--db", str(db)])
            note(f"  seeded in {seeds[tool]['seed_s']:.1f} s")
            ids_file = folder / "ids.json"
            ids_file.write_text(json.dumps(seeds[tool]))
        for tool in tools:
            note(f"[ui] {tool}: serving and measuring in Chromium ...")
            results[tool] = serve_and_measure(tool, tmp / tool, tmp / tool / "ids.json", a)
    problems = report(a, results)
    for s in seeds.values():
        s.pop("curves", None)
    common.save(
        a.json, "ui", {"targets": TARGETS, "seeds": seeds, "results": results, "problems": problems}
    )
    if problems:
        raise SystemExit(1)


def api_detail(x: dict[str, Any]) -> str:
    """When the last API answer came, and how many requests and bytes there were."""
    return (
        f"API done {fmt_s(x['api_end_s'])}, {x['api_requests']} requests, "
        f"{x['api_bytes'] / 1e6:.1f} MB"
    )


def report(a: argparse.Namespace, results: dict[str, Any]) -> list[str]:
    """Print the tables; return correctness problems."""
    problems: list[str] = []
    tane = results.get("tane", {}).get("pages", {})
    peer = results.get("mlflow", {}).get("pages", {})
    runs = tane.get("runs", {}).get("median_load", {})
    if runs and runs.get("rows") != a.runs:
        problems.append(f"tane's runs table holds {runs.get('rows')} runs, not {a.runs}")
    expect_chips = min(a.curves, 30)  # the compare page shows 30 chips, then "+N more"
    compare = tane.get("compare", {}).get("median_load", {})
    if compare and compare.get("chips") != expect_chips:
        problems.append(f"tane's compare page shows {compare.get('chips')} runs' chips")
    for name in ("metric", "compare"):
        shown = tane.get(name, {}).get("median_load", {})
        if shown and not shown.get("points"):
            problems.append(f"tane's {name} chart drew no points")
    for tool, pages in (("tane", tane), ("mlflow", peer)):
        for name, r in pages.items():
            if r["median_load"].get("errors"):
                problems.append(f"{tool} {name}: page errors {r['median_load']['errors']}")
    labels = {
        "runs": f"runs page, {a.runs:,} runs",
        "metric": f"one metric of {a.points:,} points drawn",
        "compare": f"{a.curves} runs' curves ({a.curve_points:,} points each)",
    }
    peer_for = {"runs": "runs", "metric": "metric", "compare": "compare-curves"}
    rows = []
    for name, label in labels.items():
        t = tane.get(name)
        m = peer.get(peer_for[name])
        if not t and not m:
            continue
        tm = t["median_s"] if t else None
        mm = m["median_s"] if m else None
        shown = ""
        if t:
            x = t["median_load"]
            what = f"{x['rows']:,} runs" if name == "runs" else f"{x['points']:,} points drawn"
            shown = f"{what}; {api_detail(x)}"
        rows.append(
            [
                label,
                fmt_s(tm),
                f"{fmt_s(t['min_s'])} .. {fmt_s(t['max_s'])}" if t else "-",
                fmt_s(mm),
                f"{fmt_s(m['min_s'])} .. {fmt_s(m['max_s'])}" if m else "-",
                fmt_ratio(mm / tm) if tm and mm else "-",
                f"< {TARGETS[name]:g} s",
                ("yes" if tm < TARGETS[name] else "NO") if tm else "n/a",
                shown,
                api_detail(m["median_load"]) if m else "-",
            ]
        )
    print(
        common.table(
            [
                "page",
                "tane",
                "range",
                "MLflow",
                "range",
                "MLflow / tane",
                "target (tane)",
                "met?",
                "tane showed",
                "MLflow",
            ],
            rows,
            title=f"navigation start -> page usable, headless Chromium, median of {a.reps} "
            f"after {a.warmup} warm-up (a fresh browser context each)",
        )
    )
    if "compare" in peer:
        m = peer["compare"]
        print(
            f"\nMLflow's compare page (#/compare-runs, {a.curves} runs: plots of params and "
            f"latest metrics, tables; no curves): {fmt_s(m['median_s'])} "
            f"({fmt_s(m['min_s'])} .. {fmt_s(m['max_s'])}); {api_detail(m['median_load'])}"
        )
    for tool, r in results.items():
        print(
            f"{tool}: server tree of {r['server_procs']} processes, {r['server_rss_mib']:.0f} MiB "
            f"after the loads; 1-minute load average {r['load']:.1f} at the end"
        )
    if problems:
        print("\nPROBLEMS:\n  " + "\n  ".join(problems))
    return problems


if __name__ == "__main__":
    main()
