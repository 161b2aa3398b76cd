"""Benchmark 3: ``python -c "import tane"`` vs ``python -c "import mlflow"``.

Wall time of a fresh interpreter process for each, median of 5 after one
untimed warm-up run (fills the OS page cache and writes .pyc files). A bare
``python -c pass`` is measured the same way, so the table also shows the import
cost net of interpreter start-up. ``python -X importtime -c "import tane"`` then
lists tane's slowest imports, to show where time goes.

Target: tane >= 10x faster (whole process wall time).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from common import fmt_ratio, fmt_s, note

TARGET = 10.0
# tane's public API is lazy: also show what the first touch of the tracking API costs
FIRST_USE = "import tane; tane.start_run"


def wall(code: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


def _importtime(code: str, env: dict[str, str]) -> list[tuple[float, str]]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s*(\S+)", line)
        if m:
            rows.append((int(m.group(2)) / 1e6, m.group(3)))
    return rows


def import_profile(code: str, env: dict[str, str], top: int = 12) -> list[tuple[float, str]]:
    """(cumulative seconds, module) of the slowest imports ``code`` adds to a bare interpreter."""
    startup = {name for _, name in _importtime("pass", env)}
    rows = [r for r in _importtime(code, env) if r[1] not in startup]
    rows.sort(reverse=True)
    return rows[:top]


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=5, help="timed runs per command (median reported)")
    a = p.parse_args()
    env = dict(os.environ)
    env.update(common.BENCH_ENV)
    env.pop("PYTHONWARNINGS", None)

    commands = {
        "python -c pass": "pass",
        "import tane": "import tane",
        "import mlflow": "import mlflow",
        FIRST_USE: FIRST_USE,
    }
    for label, code in list(commands.items()):
        note(f"[import] warm-up: {label}")
        try:
            wall(code, env)
        except subprocess.CalledProcessError:
            if code != FIRST_USE:
                raise
            note(f"  `{code}` fails: tane's tracking API is not there (yet?)")
            del commands[label]
    # interleaved rounds, so drift in machine load hits every command alike
    times: dict[str, list[float]] = {label: [] for label in commands}
    for i in range(a.n):
        note(f"[import] round {i + 1}/{a.n}")
        for label, code in commands.items():
            times[label].append(wall(code, env))
    results = {}
    for label, ts in times.items():
        results[label] = common.summary(ts)
        results[label]["times"] = ts

    base = results["python -c pass"]["median_s"]
    t_tane = results["import tane"]["median_s"]
    t_ml = results["import mlflow"]["median_s"]
    rows = []
    for label, r in results.items():
        rows.append(
            [
                f'python -c "{label}"' if label != "python -c pass" else label,
                fmt_s(r["median_s"]),
                fmt_s(r["min_s"]),
                fmt_s(r["max_s"]),
                fmt_s(max(r["median_s"] - base, 0.0)) if label != "python -c pass" else "-",
            ]
        )
    print(
        common.table(
            ["command", "median", "min", "max", "net of interpreter"],
            rows,
            title=f"fresh-process import wall time (median of {a.n} after 1 warm-up)",
        )
    )
    ratio = t_ml / t_tane
    # below ~1 ms the net figure is noise: floor it at 1 ms
    net_ratio = (t_ml - base) / max(t_tane - base, 1e-3)
    print(
        common.table(
            ["tane", "mlflow", "ratio (wall)", "ratio (net, floor 1 ms)", "target", "met"],
            [
                [
                    fmt_s(t_tane),
                    fmt_s(t_ml),
                    fmt_ratio(ratio),
                    fmt_ratio(net_ratio),
                    f">= {TARGET:.0f}x",
                    common.met(ratio, TARGET),
                ]
            ],
            title="target",
        )
    )

    profiles = {}
    for code in ("import tane", FIRST_USE):
        if code not in results:
            continue
        prof = import_profile(code, env)
        profiles[code] = prof
        print(
            f"\nslowest imports under `{code}` beyond interpreter start-up "
            "(cumulative, -X importtime):"
        )
        for s, name in prof:
            print(f"  {s * 1e3:8.1f} ms  {name}")
    common.save(
        a.json, "import", {"target": TARGET, "results": results, "tane_import_profiles": profiles}
    )


if __name__ == "__main__":
    main()
