"""Multirun: the same app under @hydra.main and @tane.main, and tane's --jobs scaling.

1. ``python train.py -m model=elastic_net,catboost``: wall time of the whole
   command, Hydra (BasicLauncher, sequential) against tane (which also records
   both runs and the parent). Target: tane no slower.
2. A 4-job multirun of a CPU-bound objective (about 2 s each): ``--jobs 2``
   against ``--jobs 1``. Target: at most 0.6x.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fmt_ratio, fmt_s, fresh_dir, met, parser, save, table

OBJECTIVE = """
def objective(cfg):
    # CPU-bound and deterministic: about {seconds} s of pure Python per job.
    weight = float(cfg.model.get("alpha", cfg.model.get("learning_rate", 1.0)))
    total = 0.0
    for i in range({loops}):
        total += (i % 7) * weight
    return total
"""

HYDRA_APP = """
import hydra
{objective}
@hydra.main(config_path="conf", config_name="config", version_base=None)
def train(cfg):
    return objective(cfg)

if __name__ == "__main__":
    train()
"""

TANE_APP = """
import tane
{objective}
@tane.main(config_path="conf", config_name="config")
def train(cfg):
    return objective(cfg)

if __name__ == "__main__":
    train()
"""


def write_project(root: Path, loops: int, seconds: float) -> None:
    conf = root / "conf"
    (conf / "model").mkdir(parents=True)
    (conf / "config.yaml").write_text("defaults:\n  - model: elastic_net\n  - _self_\nseed: 1\n")
    (conf / "model" / "elastic_net.yaml").write_text("alpha: 0.0005\nl1_ratio: 0.9\n")
    (conf / "model" / "catboost.yaml").write_text("learning_rate: 0.05\ndepth: 10\n")
    objective = textwrap.dedent(OBJECTIVE.format(loops=loops, seconds=seconds))
    (root / "hydra_train.py").write_text(HYDRA_APP.format(objective=objective))
    (root / "tane_train.py").write_text(TANE_APP.format(objective=objective))


def timed(root: Path, args: list[str]) -> float:
    env = dict(os.environ, TANE_STORE=str(root / "store"))
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args()
    results: dict[str, object] = {}
    with fresh_dir("multirun") as root:
        write_project(root, loops=200, seconds=0.0)
        timed(root, ["tane_train.py", "--cfg"])  # warm the file cache
        hydra_times, tane_times = [], []
        for _ in range(args.reps):
            hydra_times.append(timed(root, ["hydra_train.py", "-m", "model=elastic_net,catboost"]))
            tane_times.append(timed(root, ["tane_train.py", "-m", "model=elastic_net,catboost"]))
        h, t = statistics.median(hydra_times), statistics.median(tane_times)
        results["two_jobs"] = {"hydra_s": h, "tane_s": t, "ratio": t / h}
        print(
            table(
                [
                    "command",
                    "Hydra 1.3 @hydra.main",
                    "tane @tane.main (+3 runs recorded)",
                    "tane / Hydra",
                    "target",
                    "met?",
                ],
                [
                    [
                        "-m model=elastic_net,catboost",
                        fmt_s(h),
                        fmt_s(t),
                        fmt_ratio(t / h),
                        "<= 1.0x",
                        met(h / t, 1.0),
                    ]
                ],
                title=f"multirun wall time, median of {args.reps}",
            )
        )
    with fresh_dir("jobs") as root:
        write_project(root, loops=50_000_000, seconds=2.0)
        sweep = ["-m", "model.alpha=0.1,0.2,0.3,0.4"]
        one = statistics.median(
            timed(root, ["tane_train.py", *sweep, "--jobs", "1"]) for _ in range(3)
        )
        two = statistics.median(
            timed(root, ["tane_train.py", *sweep, "--jobs", "2"]) for _ in range(3)
        )
        results["jobs"] = {"jobs1_s": one, "jobs2_s": two, "ratio": two / one}
        print(
            table(
                ["4 CPU-bound jobs", "--jobs 1", "--jobs 2", "ratio", "target", "met?"],
                [
                    [
                        "model.alpha=0.1,0.2,0.3,0.4",
                        fmt_s(one),
                        fmt_s(two),
                        fmt_ratio(two / one),
                        "<= 0.6x",
                        met(0.6 / (two / one), 1.0),
                    ]
                ],
                title="tane --jobs on 2 cores, median of 3",
            )
        )
    save(args.json, "multirun", results)


if __name__ == "__main__":
    main()
