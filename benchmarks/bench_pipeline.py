"""Pipelines: tane against Kedro 1.x on the same nodes, datasets and machine.

1. Per-node overhead, sequential. A chain of N trivial nodes (node i reads
   d{i}, writes d{i+1}) and a fan-out of N (every node reads d0 and writes its
   own output), ``def f(x): return x`` over memory datasets. Per node =
   (wall time of the run on N nodes - the same runner on 1 node) / (N - 1),
   from the medians of --reps runs in one worker process after one warm-up.
   Cases: Kedro ``SequentialRunner`` with Kedro's default logging; Kedro with
   the ``kedro`` logger at WARNING; ``tane.pipeline.run`` without a cache, with
   a cold ``NodeCache``, and with a warm one (reference); and
   ``tane.pipeline.run_project`` (what ``tane run`` does: a tracked run of a
   generated project, cold cache). The two cold-cache cases run again with
   their temp dirs on tmpfs (/dev/shm), to separate CPU cost from disk latency.
   Targets: tane <= 1/5 of Kedro with default logging, and below Kedro quieted.
2. Process runner on the fan-out: Kedro ``ParallelRunner(max_workers=2)``
   (run once: it is slow) against ``tane.pipeline.run(runner="process",
   jobs=2)``. Target: tane >= 10x faster.
3. Cached re-run of a small project (a 2 s prep node writing JSON, then two
   light nodes): ``tane run`` as a process, first run against a re-run with
   nothing changed (target >= 20x), and ``kedro run`` on the same nodes in a
   Kedro project (Kedro does not cache: about 1x). Then where the re-run's time
   goes: interpreter start, phases of ``tane run``, imports by package.

Every run checks its own result (outputs present and equal to the input, node
statuses, files written, how often the prep node really ran).
"""

from __future__ import annotations

import importlib.metadata as md
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
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

SHAPES = ("chain", "fanout")
SEQUENTIAL_CASES = {
    "kedro": "Kedro SequentialRunner, default logging",
    "kedro-quiet": "Kedro SequentialRunner, logging quieted",
    "tane": "tane run(pipe, catalog), no cache",
    "tane-cache": "tane run(..., cache=NodeCache), cold",
    "tane-tracked": "tane run_project (tracked run, cold cache)",
    "tane-cached": "tane run(..., cache=NodeCache), warm: all cached (reference)",
    "tane-cache-tmpfs": "tane run(..., cache=NodeCache), cold, on tmpfs (diagnostic)",
    "tane-tracked-tmpfs": "tane run_project, cold, project on tmpfs (diagnostic)",
}
# The cold-cache cases again with their temp dirs (cache, project, store) in memory:
# what they cost without the disk's latency.
TMPFS = "/dev/shm"
TMPFS_CASES = ("tane-cache-tmpfs", "tane-tracked-tmpfs")
PROBED_CASES = ("tane-cache", "tane-tracked", *TMPFS_CASES)
TARGET_CASES = ("tane", "tane-cache", "tane-tracked")
# Environment of every worker and `tane run`/`kedro run` process: no store or
# cache from the caller; bytecode written and read as in normal use (a session
# that sets PYTHONDONTWRITEBYTECODE would make every import compile from source).
CLEAN_ENV: dict[str, str | None] = {
    "TANE_STORE": None,
    "TANE_CACHE": None,
    "PYTHONDONTWRITEBYTECODE": None,
    "KEDRO_DISABLE_TELEMETRY": "true",
}

NODE_MODULE = '''\
"""Node functions of the pipeline benchmark (a module, so process workers can import them)."""


def f(x):
    return x


def source(payload):
    return payload
'''


# --------------------------------------------------------------------------- shared


def edges(shape: str, n: int) -> list[tuple[str, str, str]]:
    """(input, output, node name) of each node."""
    if shape == "chain":
        return [(f"d{i}", f"d{i + 1}", f"n{i}") for i in range(n)]
    return [("d0", f"o{i}", f"n{i}") for i in range(n)]


def free_outputs(shape: str, n: int) -> list[str]:
    return [f"d{n}"] if shape == "chain" else [f"o{i}" for i in range(n)]


def check(label: str, shape: str, n: int, outputs: dict[str, Any], payload: str) -> None:
    """The run's free outputs are exactly the expected ones, each equal to the input."""
    want = free_outputs(shape, n)
    if sorted(outputs) != sorted(want):
        raise SystemExit(f"{label} {shape} x{n}: outputs {sorted(outputs)[:5]}... != expected")
    bad = [k for k, v in outputs.items() if v != payload]
    if bad:
        raise SystemExit(f"{label} {shape} x{n}: {len(bad)} outputs differ from the input")


def node_function(root: Path) -> Callable[[Any], Any]:
    (root / "bench_pipeline_nodes.py").write_text(NODE_MODULE)
    sys.path.insert(0, str(root))
    import bench_pipeline_nodes  # type: ignore[import-not-found]

    return bench_pipeline_nodes.f


def per_node(once: Callable[[str, int], float], n: int, reps: int) -> dict[str, Any]:
    """Per shape: T(1), T(n) (one warm-up each, then ``reps`` interleaved) and the slope."""
    out: dict[str, Any] = {}
    for shape in SHAPES:
        once(shape, 1)
        once(shape, n)
        t1, tn = [], []
        for _ in range(reps):
            t1.append(once(shape, 1))
            tn.append(once(shape, n))
        slope = (statistics.median(tn) - statistics.median(t1)) / (n - 1)
        out[shape] = {"t1": summary(t1), "tn": summary(tn), "per_node_s": slope}
    return out


def disk_probe(folder: Path, n: int = 100) -> float:
    """Seconds per small atomic file write (mkdir, create, write, rename): a cache entry's I/O."""
    t0 = now()
    for i in range(n):
        bucket = folder / f"{i:02x}"
        bucket.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=bucket, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"x" * 300)
        os.replace(tmp, bucket / f"{i}.json")
    return (now() - t0) / n


def payload_value() -> str:
    return f"payload-{os.getpid()}"


def kedro_logging(quiet: bool) -> None:
    """Kedro's default logging as `kedro run` sets it up (rich handler, kedro at INFO)."""
    import logging

    import kedro.framework.project  # noqa: F401  - applies Kedro's default logging config

    if quiet:
        logging.getLogger("kedro").setLevel(logging.WARNING)


# --------------------------------------------------------------------------- workers


def case_kedro(args: Any, quiet: bool) -> dict[str, Any]:
    kedro_logging(quiet)
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.pipeline import Pipeline, node
    from kedro.runner import SequentialRunner

    payload = payload_value()
    with fresh_dir("kedro") as root:
        f = node_function(root)

        def once(shape: str, n: int) -> float:
            pipe = Pipeline([node(f, i, o, name=name) for i, o, name in edges(shape, n)])
            catalog = DataCatalog({"d0": MemoryDataset(payload)})
            runner = SequentialRunner()
            t0 = now()
            out = runner.run(pipe, catalog)
            elapsed = now() - t0
            check("kedro", shape, n, {k: ds.load() for k, ds in out.items()}, payload)
            return elapsed

        return per_node(once, args.nodes, args.reps)


def case_tane(args: Any, variant: str) -> dict[str, Any]:
    from tane.pipeline import DataCatalog, NodeCache, Pipeline, node, run
    from tane.pipeline.datasets import MemoryDataset

    payload = payload_value()
    counter = itertools.count()
    with fresh_dir("tane") as root:
        f = node_function(root)

        def once(shape: str, n: int) -> float:
            pipe = Pipeline([node(f, i, o, name=name) for i, o, name in edges(shape, n)])
            cache = None
            if variant == "tane-cache":  # a new folder every run: cold
                cache = NodeCache(root / "cold" / str(next(counter)))
            elif variant == "tane-cached":  # one folder per pipeline, filled once
                folder = root / "warm" / f"{shape}-{n}"
                cache = NodeCache(folder)
                if not folder.exists():
                    run(pipe, DataCatalog({"d0": MemoryDataset(payload)}), cache=cache)
            catalog = DataCatalog({"d0": MemoryDataset(payload)})
            t0 = now()
            result = run(pipe, catalog, cache=cache)
            elapsed = now() - t0
            check(variant, shape, n, result.outputs, payload)
            status = result.cached if variant == "tane-cached" else result.ran
            if len(status) != n:
                raise SystemExit(f"{variant} {shape} x{n}: {len(status)} nodes ran/cached, not {n}")
            return elapsed

        probe = [disk_probe(root / "probe-before")]
        out = per_node(once, args.nodes, args.reps)
        out["disk_write_s"] = [*probe, disk_probe(root / "probe-after")]
        return out


def write_node_project(root: Path, shape: str, n: int, payload: str) -> Path:
    """A tane project whose pipeline is a source node followed by the n benchmark nodes."""
    pkg = f"bench_{shape}_{n}"
    folder = root / pkg
    code = folder / "src" / pkg / "pipelines" / "p"
    code.mkdir(parents=True)
    (folder / "conf").mkdir()
    (folder / "tane.yaml").write_text(f"name: {pkg}\npackage: {pkg}\n")
    (folder / "conf" / "config.yaml").write_text(f"payload: {payload}\n")
    (folder / "conf" / "catalog.yaml").write_text("{}\n")
    for init in (code.parent.parent, code.parent, code):
        (init / "__init__.py").write_text("")
    (code / "nodes.py").write_text(NODE_MODULE)
    if shape == "chain":
        body = f'[node(f, f"d{{i}}", f"d{{i + 1}}", name=f"n{{i}}") for i in range({n})]'
    else:
        body = f'[node(f, "d0", f"o{{i}}", name=f"n{{i}}") for i in range({n})]'
    (code / "pipeline.py").write_text(
        "from tane.pipeline import Pipeline, node\n\n"
        f"from {pkg}.pipelines.p.nodes import f, source\n\n\n"
        "def create_pipeline(**kwargs):\n"
        f'    return Pipeline([node(source, "params:payload", "d0", name="source"), *{body}])\n'
    )
    return folder


def case_tane_tracked(args: Any) -> dict[str, Any]:
    from tane.pipeline import run_project
    from tane.pipeline.session import RunOptions

    payload = payload_value()
    counter = itertools.count()
    with fresh_dir("tracked") as root:
        projects = {
            (shape, n): write_node_project(root, shape, n, payload)
            for shape in SHAPES
            for n in (1, args.nodes)
        }

        def once(shape: str, n: int) -> float:
            os.environ["TANE_CACHE"] = str(root / "cache" / str(next(counter)))  # cold
            os.chdir(projects[shape, n])  # as `tane run` is run from the project
            t0 = now()
            result, _run_id = run_project(options=RunOptions(progress=False))
            elapsed = now() - t0
            if result is None or len(result.ran) != n + 1:
                raise SystemExit(f"tane-tracked {shape} x{n}: not every node ran")
            check("tane-tracked", shape, n, result.outputs, payload)
            return elapsed

        try:
            probe = [disk_probe(root / "probe-before")]
            out = per_node(once, args.nodes, args.reps)
            out["disk_write_s"] = [*probe, disk_probe(root / "probe-after")]
            return out
        finally:
            os.chdir(root.parent)


def case_kedro_parallel(args: Any) -> dict[str, Any]:
    kedro_logging(quiet=True)
    from kedro.io import MemoryDataset, SharedMemoryDataCatalog
    from kedro.pipeline import Pipeline, node
    from kedro.runner import ParallelRunner

    payload = payload_value()
    n = args.nodes
    with fresh_dir("kedro-parallel") as root:
        f = node_function(root)
        pipe = Pipeline([node(f, i, o, name=name) for i, o, name in edges("fanout", n)])
        catalog = SharedMemoryDataCatalog({"d0": MemoryDataset(payload)})
        t0 = now()
        runner = ParallelRunner(max_workers=args.jobs)  # starts its manager process
        out = runner.run(pipe, catalog)
        elapsed = now() - t0
        check("kedro-parallel", "fanout", n, {k: ds.load() for k, ds in out.items()}, payload)
        del runner
    return {"times": [elapsed], "median_s": elapsed}


def case_tane_process(args: Any) -> dict[str, Any]:
    from tane.pipeline import DataCatalog, Pipeline, node, run
    from tane.pipeline.datasets import MemoryDataset

    payload = payload_value()
    n = args.nodes
    times = []
    with fresh_dir("tane-process") as root:
        f = node_function(root)
        for i in range(1 + args.process_reps):  # the first one is a warm-up
            pipe = Pipeline([node(f, a, b, name=name) for a, b, name in edges("fanout", n)])
            catalog = DataCatalog({"d0": MemoryDataset(payload)})
            t0 = now()
            result = run(pipe, catalog, runner="process", jobs=args.jobs)
            elapsed = now() - t0
            check("tane-process", "fanout", n, result.outputs, payload)
            if len(result.ran) != n:
                raise SystemExit(f"tane-process: {len(result.ran)} nodes ran, not {n}")
            if i:
                times.append(elapsed)
    return {"times": times, "median_s": statistics.median(times)}


# --------------------------------------------------------------------------- re-run project

RERUN_NODES = """\
import time
from pathlib import Path


def prep(params):
    time.sleep(params["seconds"])  # the expensive step
    with Path("prep_calls.log").open("a") as fh:  # counts real calls (the benchmark checks it)
        fh.write("prep\\n")
    return {"rows": [{"i": i, "x": i * 0.5} for i in range(params["rows"])]}


def featurize(raw, params):
    return [row["x"] * params["scale"] for row in raw["rows"]]


def summarize(features):
    return {"n": len(features), "total": sum(features)}
"""

RERUN_NODE_LIST = """[
            node(prep, "params:prep", "raw", name="prep"),
            node(featurize, ["raw", "params:features"], "features", name="featurize"),
            node(summarize, "features", "summary", name="summarize"),
        ]"""

RERUN_PARAMS = """\
prep:
  seconds: {seconds}
  rows: 1000
features:
  scale: 2.0
"""

RERUN_CATALOG = """\
raw:
  type: json.JSONDataset
  filepath: data/raw.json
summary:
  type: json.JSONDataset
  filepath: data/summary.json
"""
RERUN_SUMMARY = {"n": 1000, "total": 499500.0}


def write_tane_rerun(folder: Path, seconds: float) -> Path:
    code = folder / "src" / "bench_rerun" / "pipelines" / "p"
    code.mkdir(parents=True)
    (folder / "conf").mkdir()
    (folder / "tane.yaml").write_text("name: bench_rerun\npackage: bench_rerun\n")
    (folder / "conf" / "config.yaml").write_text(RERUN_PARAMS.format(seconds=seconds))
    (folder / "conf" / "catalog.yaml").write_text(RERUN_CATALOG)
    for init in (code.parent.parent, code.parent, code):
        (init / "__init__.py").write_text("")
    (code / "nodes.py").write_text(RERUN_NODES)
    (code / "pipeline.py").write_text(
        "from tane.pipeline import Pipeline, node\n\n"
        "from bench_rerun.pipelines.p.nodes import featurize, prep, summarize\n\n\n"
        "def create_pipeline(**kwargs):\n"
        f"    return Pipeline(\n        {RERUN_NODE_LIST}\n    )\n"
    )
    return folder


def write_kedro_rerun(folder: Path, seconds: float) -> Path:
    """The same nodes as a minimal Kedro project (what `kedro new` makes, minus extras)."""
    pkg = folder / "src" / "kbench_rerun"
    pkg.mkdir(parents=True)
    for sub in ("base", "local"):
        (folder / "conf" / sub).mkdir(parents=True)
    version = md.version("kedro")
    (folder / "pyproject.toml").write_text(
        '[tool.kedro]\npackage_name = "kbench_rerun"\nproject_name = "kbench_rerun"\n'
        f'kedro_init_version = "{version}"\nsource_dir = "src"\n'
    )
    (folder / "conf" / "base" / "parameters.yml").write_text(RERUN_PARAMS.format(seconds=seconds))
    (folder / "conf" / "base" / "catalog.yml").write_text(RERUN_CATALOG)
    (pkg / "__init__.py").write_text("")
    (pkg / "settings.py").write_text("")
    (pkg / "nodes.py").write_text(RERUN_NODES)
    (pkg / "pipeline_registry.py").write_text(
        "from kedro.pipeline import Pipeline, node\n\n"
        "from kbench_rerun.nodes import featurize, prep, summarize\n\n\n"
        "def register_pipelines():\n"
        f"    return {{'__default__': Pipeline(\n        {RERUN_NODE_LIST}\n    )}}\n"
    )
    return folder


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(BENCH_ENV)
    for k, v in CLEAN_ENV.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def timed_cli(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    t0 = now()
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    elapsed = now() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed, _ANSI.sub("", proc.stdout + proc.stderr)


def prep_calls(folder: Path) -> int:
    log = folder / "prep_calls.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def check_rerun(label: str, folder: Path, calls: int) -> None:
    summary_file = folder / "data" / "summary.json"
    if json.loads(summary_file.read_text()) != RERUN_SUMMARY:
        raise SystemExit(f"{label}: wrong data/summary.json")
    if prep_calls(folder) != calls:
        raise SystemExit(f"{label}: prep ran {prep_calls(folder)} times in all, expected {calls}")


def tane_cli(folder: Path, env: dict[str, str], ran: int, calls: int, *extra: str) -> float:
    tane_bin = str(Path(sys.executable).parent / "tane")
    elapsed, out = timed_cli([tane_bin, "run", *extra], folder, env)
    m = re.search(r"(\d+) ran, (\d+) cached", out)
    if not m or (int(m.group(1)), int(m.group(2))) != (ran, 3 - ran):
        raise SystemExit(f"tane run {' '.join(extra)}: expected {ran} ran, got:\n{out[-1500:]}")
    check_rerun("tane run", folder, calls)
    return elapsed


def kedro_cli(folder: Path, env: dict[str, str], calls: int, *extra: str) -> float:
    kedro_bin = str(Path(sys.executable).parent / "kedro")
    elapsed, _ = timed_cli([kedro_bin, "run", *extra], folder, env)
    check_rerun("kedro run", folder, calls)  # the prep count shows whether it ran
    return elapsed


PHASES_SCRIPT = """\
# `tane run` twice in this process with its main phases timed (written by bench_pipeline.py).
# Pass 1 is what a fresh `tane run` does; pass 2 repeats it with every module imported.
import json
import sys
import time

T0 = time.perf_counter()
STARTED = time.time()
current = {}
passes = [current]
import tane
import tane.cli
import tane.cli.pipelines
import tane.config._app
import tane.pipeline.runner
import tane.pipeline.session
import tane.tracking.fluent

current["import tane.cli, tane.pipeline.session"] = time.perf_counter() - T0


def wrap(owner, attr, label):
    original = getattr(owner, attr)

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            current[label] = current.get(label, 0.0) + time.perf_counter() - t0

    setattr(owner, attr, timed)


session = tane.pipeline.session
wrap(tane.config._app.TaneApp, "compose", "compose the config (Hydra)")
wrap(session.PipelineProject, "pipelines", "import the pipeline code")
wrap(tane, "start_run", "start the run (store, run row, capture)")
wrap(session.PipelineProject, "hooks", "hooks (pluggy, entry points)")
wrap(session.PipelineProject, "catalog", "build the catalog")
wrap(session.PipelineProject, "cache", "open the cache")
wrap(tane.pipeline.runner, "run", "scheduler: 3 cache hits, pipeline.json")
wrap(tane.tracking.fluent.ActiveRun, "end", "end the run (flush, wait for capture)")
wrap(tane.cli.pipelines, "_report", "print the summary")
for index in range(2):
    if index:
        current = {}
        passes.append(current)
    t0 = time.perf_counter() if index else T0
    try:
        tane.cli.main(["run"], prog_name="tane")
    except SystemExit as exc:
        if exc.code:
            raise
    total = time.perf_counter() - t0
    current["rest (click, app set-up, params, config.yaml)"] = total - sum(current.values())
    current["total"] = total
with open(sys.argv[1], "w") as fh:
    json.dump({"passes": passes, "started": STARTED, "ended": time.time()}, fh)
"""

START_UP = "start-up (interpreter, site, until the first import)"
EXIT = "exit (after main returns: finalization)"


def where_time_goes(folder: Path, env: dict[str, str], reps: int) -> dict[str, Any]:
    """Interpreter start, phases and imports by package of a no-change `tane run`."""
    py = sys.executable
    tane_bin = str(Path(py).parent / "tane")
    bare = []
    for _ in range(reps):
        t0 = now()
        subprocess.run([py, "-c", "pass"], env=env, check=True)
        bare.append(now() - t0)
    script = folder.parent / "phases.py"
    script.write_text(PHASES_SCRIPT)
    out = folder.parent / "phases.json"
    first: list[dict[str, float]] = []
    second: list[dict[str, float]] = []
    for _ in range(reps):
        launched = time.time()
        proc = subprocess.run(
            [py, str(script), str(out)],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        exited = time.time()
        if proc.returncode != 0 or _ANSI.sub("", proc.stdout).count("0 ran, 3 cached") != 2:
            raise SystemExit(f"instrumented tane run did not re-use the cache:\n{proc.stdout}")
        data = json.loads(out.read_text())
        first.append(
            {
                START_UP: data["started"] - launched,
                **data["passes"][0],
                EXIT: exited - data["ended"],
            }
        )
        second.append(data["passes"][1])
        check_rerun("tane run (phases)", folder, 1)
    phases = {k: statistics.median(r.get(k, 0.0) for r in first) for k in first[0]}
    again = {k: statistics.median(r.get(k, 0.0) for r in second) for k in second[0]}
    proc = subprocess.run(
        [py, "-X", "importtime", tane_bin, "run"],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    by_package: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(-?\d+)\s+\|\s+(\d+)\s+\|\s*(\S+)", line)
        if m:
            top = m.group(3).split(".")[0]
            by_package[top] = by_package.get(top, 0.0) + max(int(m.group(1)), 0) / 1e6
    check_rerun("tane run (importtime)", folder, 1)
    return {
        "interpreter_s": statistics.median(bare),
        "phases": phases,
        "phases_again": again,
        "imports_total_s": sum(by_package.values()),
        "imports_by_package": dict(sorted(by_package.items(), key=lambda kv: -kv[1])),
    }


def rerun_section(args: Any) -> dict[str, Any]:
    env = clean_env()
    with fresh_dir("rerun") as root:
        # Warm-up projects (prep of 0 s): .pyc files and the page cache, for both tools.
        warm = write_tane_rerun(root / "tane_warm", 0.0)
        tane_cli(warm, env, 3, 1)
        kwarm = write_kedro_rerun(root / "kedro_warm", 0.0)
        kedro_cli(kwarm, env, 1)

        proj = write_tane_rerun(root / "tane_proj", args.prep_seconds)
        note(f"[pipeline] tane run: first run, then {args.rerun_reps} re-runs, 2 --no-cache ...")
        first = tane_cli(proj, env, 3, 1)
        reruns = [tane_cli(proj, env, 0, 1) for _ in range(args.rerun_reps)]
        breakdown = where_time_goes(proj, env, 3)
        nocache = [tane_cli(proj, env, 3, 2 + i, "--no-cache") for i in range(2)]

        kproj = write_kedro_rerun(root / "kedro_proj", args.prep_seconds)
        note("[pipeline] kedro run: twice, then --only-missing-outputs ...")
        kedro = [kedro_cli(kproj, env, 1 + i) for i in range(2)]
        kedro_missing = kedro_cli(kproj, env, 2, "--only-missing-outputs")
    return {
        "tane_first_s": first,
        "tane_rerun": summary(reruns),
        "tane_nocache": summary(nocache),
        "kedro_first_s": kedro[0],
        "kedro_second_s": kedro[1],
        "kedro_only_missing_s": kedro_missing,
        "breakdown": breakdown,
    }


# --------------------------------------------------------------------------- printing


def ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1e3:.3f} ms"


def ratio(peer: float, mine: float) -> float | None:
    """How many times smaller ``mine`` is than ``peer`` (None when ``mine`` is ~0 or less)."""
    return peer / mine if mine > 1e-7 else None


def print_sequential(r: dict[str, Any], n: int, reps: int) -> None:
    for shape in SHAPES:
        kd = r["kedro"][shape]["per_node_s"]
        kq = r["kedro-quiet"][shape]["per_node_s"]
        rows = []
        for case, label in SEQUENTIAL_CASES.items():
            if case not in r:
                continue
            x = r[case][shape]
            pn = x["per_node_s"]
            rows.append(
                [
                    label,
                    fmt_s(x["t1"]["median_s"]),
                    fmt_s(x["tn"]["median_s"]),
                    f"{fmt_s(x['tn']['min_s'])} .. {fmt_s(x['tn']['max_s'])}",
                    ms(pn),
                    fmt_ratio(ratio(kd, pn)),
                    fmt_ratio(ratio(kq, pn)),
                ]
            )
        what = "chain (node i: d{i} -> d{i+1})" if shape == "chain" else "fan-out (d0 -> o{i})"
        print(
            table(
                [
                    "case",
                    "1 node",
                    f"{n} nodes",
                    f"{n} nodes: range",
                    "per node",
                    "Kedro default / this",
                    "Kedro quiet / this",
                ],
                rows,
                title=f"{n}-node {what}, sequential: median of {reps} after a warm-up",
            )
        )
    rows = []
    for case in TARGET_CASES:
        for shape in SHAPES:
            pn = r[case][shape]["per_node_s"]
            kd = r["kedro"][shape]["per_node_s"]
            kq = r["kedro-quiet"][shape]["per_node_s"]
            rd, rq = ratio(kd, pn), ratio(kq, pn)
            rows.append(
                [
                    SEQUENTIAL_CASES[case],
                    shape,
                    ms(pn),
                    ms(kd),
                    fmt_ratio(rd),
                    ">= 5x",
                    "yes" if rd is None else met(rd, 5.0),
                    ms(kq),
                    fmt_ratio(rq),
                    "> 1x",
                    "yes" if rq is None else ("yes" if rq > 1.0 else "NO"),
                ]
            )
    print(
        table(
            [
                "tane",
                "shape",
                "per node",
                "Kedro default",
                "ratio",
                "target",
                "met?",
                "Kedro quiet",
                "ratio",
                "target",
                "met?",
            ],
            rows,
            title="per-node overhead targets: <= 1/5 of Kedro default logging, below Kedro quiet",
        )
    )
    probes = [
        f"{case} " + " / ".join(f"{x * 1e3:.2f} ms" for x in r[case]["disk_write_s"])
        for case in PROBED_CASES
        if case in r
    ]
    print(
        "\nDisk latency (the cold-cache cases write one small cache entry per node): one small "
        "atomic file write (mkdir, create, write, rename) took, before / after the runs: "
        + "; ".join(probes)
        + "."
    )


def print_process(
    kedro: dict[str, Any] | None, tane: dict[str, Any], n: int, jobs: int
) -> float | None:
    k, t = (kedro["median_s"] if kedro else None), tane["median_s"]
    speedup = k / t if k is not None else None
    print(
        table(
            ["case", f"{n}-node fan-out", "runs", "Kedro / tane", "target", "met?"],
            [
                [
                    f"Kedro ParallelRunner(max_workers={jobs}), logging quieted",
                    fmt_s(k),
                    "1" if k is not None else "skipped",
                    "1.0x" if k is not None else "-",
                    "",
                    "",
                ],
                [
                    f'tane run(runner="process", jobs={jobs})',
                    fmt_s(t),
                    f"median of {len(tane['times'])} ({fmt_s(min(tane['times']))}"
                    f"..{fmt_s(max(tane['times']))})",
                    fmt_ratio(speedup),
                    ">= 10x",
                    met(speedup, 10.0),
                ],
            ],
            title=f"process runner, {jobs} workers (wall time of the run call, pool start incl.)",
        )
    )
    return speedup


def print_rerun(r: dict[str, Any], prep_seconds: float) -> None:
    first, again = r["tane_first_s"], r["tane_rerun"]["median_s"]
    k1, k2 = r["kedro_first_s"], r["kedro_second_s"]
    reps = r["tane_rerun"]["n"]
    print(
        table(
            ["command (a process each)", "first run", "re-run, nothing changed", "first / re-run"],
            [
                [
                    "tane run",
                    fmt_s(first),
                    f"{fmt_s(again)} (median of {reps})",
                    fmt_ratio(first / again),
                ],
                ["kedro run", fmt_s(k1), fmt_s(k2), fmt_ratio(k1 / k2)],
                [
                    "tane run --no-cache (store exists; median of 2)",
                    fmt_s(r["tane_nocache"]["median_s"]),
                    fmt_s(again),
                    fmt_ratio(r["tane_nocache"]["median_s"] / again),
                ],
                [
                    "kedro run --only-missing-outputs (reference)",
                    "-",
                    fmt_s(r["kedro_only_missing_s"]),
                    fmt_ratio(k1 / r["kedro_only_missing_s"]),
                ],
            ],
            title=f"cached re-run: prep node of {prep_seconds:g} s + 2 light nodes",
        )
    )
    print(
        table(
            ["tane run", "first run", "re-run", "ratio", "target", "met?"],
            [
                [
                    "no-change re-run",
                    fmt_s(first),
                    fmt_s(again),
                    fmt_ratio(first / again),
                    ">= 20x",
                    met(first / again, 20.0),
                ]
            ],
        )
    )
    b = r["breakdown"]
    rows = []
    for label, value in b["phases"].items():
        again = b["phases_again"].get(label)
        shown = "total of pass 1 (start-up and exit not included)" if label == "total" else label
        rows.append([shown, fmt_s(value), fmt_s(again) if again is not None else "-"])
    whole = b["phases"][START_UP] + b["phases"]["total"] + b["phases"][EXIT]
    rows.append(["start-up + pass 1 + exit (compare: the re-run above)", fmt_s(whole), "-"])
    rows.append(["for comparison: python -c pass", fmt_s(b["interpreter_s"]), "-"])
    print(
        table(
            [
                "phase of a no-change `tane run` (medians of 3)",
                "fresh process (pass 1)",
                "same process again (pass 2)",
            ],
            rows,
            title="where the re-run's time goes (phases timed in-process; they do not overlap)",
        )
    )
    top = list(b["imports_by_package"].items())[:10]
    rows = [[pkg, fmt_s(s)] for pkg, s in top]
    rows.append(["all imports", fmt_s(b["imports_total_s"])])
    print(
        table(
            ["package (python -X importtime, self time summed)", "time"],
            rows,
            title="imports of a no-change `tane run` (importtime adds its own overhead)",
        )
    )


# --------------------------------------------------------------------------- main


def main() -> None:
    p = parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--nodes", type=int, default=200)
    p.add_argument("--reps", type=int, default=5, help="timed runs per pipeline size")
    p.add_argument("--jobs", type=int, default=2, help="workers of the process runners")
    p.add_argument("--process-reps", type=int, default=3, help="tane process runs (median)")
    p.add_argument("--rerun-reps", type=int, default=5, help="no-change `tane run` re-runs")
    p.add_argument("--prep-seconds", type=float, default=2.0)
    p.add_argument(
        "--skip-kedro-parallel",
        action="store_true",
        help="skip Kedro's ParallelRunner (about 30-45 s)",
    )
    args = p.parse_args()
    common_args = ["--nodes", str(args.nodes), "--reps", str(args.reps), "--jobs", str(args.jobs)]
    common_args += ["--process-reps", str(args.process_reps)]

    workers: dict[str, Callable[[], dict[str, Any]]] = {
        "kedro": lambda: case_kedro(args, quiet=False),
        "kedro-quiet": lambda: case_kedro(args, quiet=True),
        "tane": lambda: case_tane(args, "tane"),
        "tane-cache": lambda: case_tane(args, "tane-cache"),
        "tane-cached": lambda: case_tane(args, "tane-cached"),
        "tane-tracked": lambda: case_tane_tracked(args),
        "tane-cache-tmpfs": lambda: case_tane(args, "tane-cache"),
        "tane-tracked-tmpfs": lambda: case_tane_tracked(args),
        "kedro-parallel": lambda: case_kedro_parallel(args),
        "tane-process": lambda: case_tane_process(args),
    }
    if args.case:
        if args.case not in workers:
            raise SystemExit(f"unknown case {args.case}")
        emit(workers[args.case]())
        return

    started = now()
    results: dict[str, Any] = {"nodes": args.nodes, "reps": args.reps, "jobs": args.jobs}
    results["kedro_version"] = md.version("kedro")
    seq: dict[str, Any] = {}
    for case in SEQUENTIAL_CASES:
        env = dict(CLEAN_ENV)
        if case in TMPFS_CASES:
            if not os.access(TMPFS, os.W_OK):
                note(f"[pipeline] {case}: skipped ({TMPFS} is not writable)")
                continue
            env["TMPDIR"] = TMPFS
        note(f"[pipeline] {case}: {args.nodes}-node chain and fan-out ...")
        seq[case] = run_case("bench_pipeline.py", case, common_args, env=env)
    results["sequential"] = seq
    print_sequential(seq, args.nodes, args.reps)

    note(f"[pipeline] tane-process: {args.nodes}-node fan-out, {args.jobs} workers ...")
    tane_p = run_case("bench_pipeline.py", "tane-process", common_args, env=CLEAN_ENV)
    if args.skip_kedro_parallel:
        kedro_p = None
    else:
        note("[pipeline] kedro-parallel: ParallelRunner, run once (30-45 s) ...")
        kedro_p = run_case("bench_pipeline.py", "kedro-parallel", common_args, env=CLEAN_ENV)
    results["process"] = {"kedro": kedro_p, "tane": tane_p}
    results["process"]["ratio"] = print_process(kedro_p, tane_p, args.nodes, args.jobs)

    rerun = rerun_section(args)
    results["rerun"] = rerun
    print_rerun(rerun, args.prep_seconds)
    note(f"[pipeline] done in {now() - started:.0f} s")
    save(args.json, "pipeline", results)


if __name__ == "__main__":
    main()
