"""Shared helpers for tane's side-by-side benchmarks (run on demand, never in CI).

Every benchmark is one script with two roles:

* run with no ``--case`` it is the *orchestrator*: it starts one fresh Python
  subprocess per case (tane, mlflow, ...), each with its own temp dirs, collects
  the JSON each case prints, and prints a table of results and ratios;
* run with ``--case NAME`` it is a *worker*: it measures that one case and prints
  a single JSON object as the last line of stdout.

Separate processes keep the tools from sharing import state, background threads,
caches or garbage, and make "fresh temp dirs for both tools" hold by construction.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# Set before anything imports mlflow (workers inherit these).
BENCH_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_ALLOW_FILE_STORE": "true",
    # keep mlflow from printing its run/experiment URLs and emoji banners
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "PYTHONWARNINGS": "ignore",
}
for _k, _v in BENCH_ENV.items():
    os.environ.setdefault(_k, _v)

now = time.perf_counter


# --------------------------------------------------------------------------- timing


@contextmanager
def fresh_dir(prefix: str) -> Iterator[Path]:
    """A new empty temp dir, removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix=f"tane-bench-{prefix}-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def repeat(fn: Callable[[], Any], n: int, warmup: int = 1) -> list[float]:
    """Run ``fn`` ``warmup`` times untimed, then ``n`` times; return the seconds of each."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        t0 = now()
        fn()
        times.append(now() - t0)
    return times


def summary(times: Sequence[float]) -> dict[str, float]:
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "n": len(times),
    }


# --------------------------------------------------------------------------- formatting


def fmt_rate(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}/s"


def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    if x < 1e-3:
        return f"{x * 1e6:.0f} us"
    if x < 1:
        return f"{x * 1e3:.1f} ms"
    return f"{x:.2f} s"


def fmt_ratio(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}x"
    return f"{x:.1f}x"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> str:
    """A plain fixed-width table (also valid Markdown)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"

    out = []
    if title:
        out.append(f"\n{title}")
    out.append(line(cells[0]))
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out.extend(line(r) for r in cells[1:])
    return "\n".join(out)


def met(value: float | None, target: float) -> str:
    if value is None:
        return "n/a"
    return "yes" if value >= target else "NO"


# --------------------------------------------------------------------------- processes


def versions() -> dict[str, str]:
    """Versions of the things being compared, read without importing them."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("tane", "mlflow", "sqlalchemy", "pandas"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "missing"
    return out


def tane_commit() -> str:
    """The repo's commit (read-only git calls), with "+dirty" when src/ has changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_gib"] = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    return info


def run_case(
    script: str,
    case: str,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 1800,
) -> dict[str, Any]:
    """Run ``script --case case`` in a fresh interpreter; return its JSON result.

    The worker's stderr passes through (progress notes, warnings); its stdout's
    last line must be the JSON result.
    """
    full_env = dict(os.environ)
    full_env.update(BENCH_ENV)
    if env:
        for k, v in env.items():
            if v is None:
                full_env.pop(k, None)
            else:
                full_env[k] = v
    cmd = [sys.executable, str(HERE / script), "--case", case, *args]
    proc = subprocess.run(
        cmd, env=full_env, stdout=subprocess.PIPE, text=True, timeout=timeout, check=False
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        sys.stdout.write(proc.stdout)
        raise RuntimeError(f"case {case!r} of {script} failed (exit {proc.returncode})")
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        sys.stdout.write(proc.stdout)
        raise


def emit(result: dict[str, Any]) -> None:
    """Worker side: print the result as the last stdout line."""
    sys.stdout.flush()
    print(json.dumps(result), flush=True)


def note(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--case", help="worker mode: measure one case and print JSON")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    return p


def save(path: str | None, name: str, payload: dict[str, Any]) -> None:
    if not path:
        return
    payload = {
        "benchmark": name,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(),
        "versions": versions(),
        "tane_commit": tane_commit(),
        **payload,
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(payload, indent=2) + "\n")
