"""Ray runner: the 200-node fan-out against the process runner and Kedro's ParallelRunner.

The pipeline of bench_pipeline.py's process section: N trivial nodes
(``def f(x): return x``) all reading one memory dataset, each writing its own
memory output, on this 2-core machine.

- ``tane run(runner="ray")`` on a local Ray instance with 2 CPUs, started once
  (as a cluster is: its start and the driver's connection are reported apart).
  Wall time of the run call on N nodes and on 1 node (one warm-up, then --reps
  interleaved, medians); per-node overhead = (T(N) - T(1)) / (N - 1).
- ``tane run(runner="process", jobs=2)`` (pool start included), --reps runs.
- Kedro ``ParallelRunner(max_workers=2)``, run once (about 45 s here).

Per node for the process runner and Kedro = wall time / N (their fixed start
cost is small against N nodes). Every run checks its outputs (N of them, each
equal to the input) and that every node ran.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import (
    CLEAN_ENV,
    case_kedro_parallel,
    case_tane_process,
    check,
    edges,
    node_function,
    payload_value,
)
from common import emit, fmt_ratio, fmt_s, fresh_dir, note, now, parser, run_case, save, table


def case_tane_ray(args: Any) -> dict[str, Any]:
    from tane.cluster import RayCluster
    from tane.pipeline import DataCatalog, Pipeline, node, run
    from tane.pipeline.datasets import MemoryDataset
    from tane.testing.ray_head import RayHead

    payload = payload_value()
    t0 = now()
    head = RayHead(num_cpus=args.jobs).start()
    started = now() - t0
    try:
        import os

        os.environ.update(head.env)
        with fresh_dir("tane-ray") as root:
            f = node_function(root)
            t0 = now()
            cluster = RayCluster.connect(head.address, project_root=root)
            connected = now() - t0

            def once(n: int) -> float:
                pipe = Pipeline([node(f, a, b, name=name) for a, b, name in edges("fanout", n)])
                catalog = DataCatalog({"d0": MemoryDataset(payload)})
                t = now()
                result = run(pipe, catalog, runner="ray", cluster=cluster)
                elapsed = now() - t
                check("tane-ray", "fanout", n, result.outputs, payload)
                if len(result.ran) != n:
                    raise SystemExit(f"tane-ray: {len(result.ran)} nodes ran, not {n}")
                return elapsed

            once(1)
            once(args.nodes)
            t1, tn = [], []
            for _ in range(args.reps):
                t1.append(once(1))
                tn.append(once(args.nodes))
            cluster.close()
    finally:
        head.close()
    slope = (statistics.median(tn) - statistics.median(t1)) / (args.nodes - 1)
    return {
        "start_s": started,
        "connect_s": connected,
        "t1": t1,
        "tn": tn,
        "median_s": statistics.median(tn),
        "per_node_s": slope,
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--nodes", type=int, default=200)
    p.add_argument("--reps", type=int, default=3, help="timed runs of the Ray runner")
    p.add_argument("--jobs", type=int, default=2, help="Ray CPUs and process workers")
    p.add_argument("--process-reps", type=int, default=3, help="tane process runs (median)")
    p.add_argument("--skip-kedro", action="store_true", help="skip Kedro (about 45 s)")
    args = p.parse_args()
    common = ["--nodes", str(args.nodes), "--reps", str(args.reps), "--jobs", str(args.jobs)]
    common += ["--process-reps", str(args.process_reps)]
    workers = {
        "tane-ray": lambda: case_tane_ray(args),
        "tane-process": lambda: case_tane_process(args),
        "kedro-parallel": lambda: case_kedro_parallel(args),
    }
    if args.case:
        emit(workers[args.case]())
        return

    n = args.nodes
    note(f"[ray] tane-ray: {n}-node fan-out on a local Ray instance, {args.jobs} CPUs ...")
    ray_r = run_case("bench_ray.py", "tane-ray", common, env=CLEAN_ENV)
    note(f"[ray] tane-process: {n}-node fan-out, {args.jobs} workers ...")
    proc_r = run_case("bench_ray.py", "tane-process", common, env=CLEAN_ENV)
    kedro_r = None
    if not args.skip_kedro:
        note("[ray] kedro-parallel: ParallelRunner, run once (about 45 s) ...")
        kedro_r = run_case("bench_ray.py", "kedro-parallel", common, env=CLEAN_ENV)

    rows = [
        [
            f'tane run(runner="ray"), {args.jobs}-CPU local cluster',
            fmt_s(ray_r["median_s"]),
            fmt_s(ray_r["per_node_s"]),
            "1x",
        ],
        [
            f'tane run(runner="process", jobs={args.jobs})',
            fmt_s(proc_r["median_s"]),
            fmt_s(proc_r["median_s"] / n),
            fmt_ratio(proc_r["median_s"] / ray_r["median_s"]),
        ],
    ]
    if kedro_r is not None:
        rows.append(
            [
                f"Kedro ParallelRunner(max_workers={args.jobs})",
                fmt_s(kedro_r["median_s"]),
                fmt_s(kedro_r["median_s"] / n),
                fmt_ratio(kedro_r["median_s"] / ray_r["median_s"]),
            ]
        )
    print(
        table(
            ["runner", f"{n}-node fan-out", "per node", "its time / Ray's"],
            rows,
            title=f"{n} trivial nodes reading one memory dataset (wall time of the run call)",
        )
    )
    print(
        f"\nRay itself: local instance started in {fmt_s(ray_r['start_s'])}, driver connected "
        f"in {fmt_s(ray_r['connect_s'])} (once per `tane run`; not in the times above). "
        f"1-node run: {fmt_s(statistics.median(ray_r['t1']))}."
    )
    save(args.json, "ray", {"nodes": n, "ray": ray_r, "process": proc_r, "kedro": kedro_r})


if __name__ == "__main__":
    main()
