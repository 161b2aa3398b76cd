"""The figures the reliability suite measures, kept as JSON for docs/reliability.md.

A test proves a guarantee, then calls ``record(name, **figures)`` with what it
measured (points logged and stored, clients, seconds, cases tried, 5xx seen).
Each name becomes ``test-artifacts/reliability/<name>.json`` (or under
``TANE_RELIABILITY_ARTIFACTS``), holding the figures, the test that measured them
and when; the end of a pytest session lists them. Print them all as a Markdown
table with ``python tests/reliability/figures.py``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FOLDER = Path(os.environ.get("TANE_RELIABILITY_ARTIFACTS", ROOT / "test-artifacts" / "reliability"))

#: Hypothesis draws the same cases on every run (CI must not fail by luck of the draw);
#: TANE_FUZZ_EXPLORE=1 draws new ones each run, to look for what the fixed ones miss.
DERANDOMIZE = not os.environ.get("TANE_FUZZ_EXPLORE")

#: (name, figures) recorded by this process, in order, for the session summary.
RECORDED: list[tuple[str, dict[str, Any]]] = []


def record(name: str, *, test: str | None = None, **figures: Any) -> dict[str, Any]:
    """Write the figures of one guarantee to ``<FOLDER>/<name>.json``; return them.

    ``test`` names the test that measured them (default: the one running now).
    """
    test = test or os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    document = {
        "name": name,
        "test": test,
        "measured": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "figures": figures,
    }
    FOLDER.mkdir(parents=True, exist_ok=True)
    path = FOLDER / f"{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    RECORDED.append((name, figures))
    return figures


def line(name: str, figures: dict[str, Any]) -> str:
    """One guarantee's figures on one line (the session summary)."""
    shown = ", ".join(f"{key}={_short(value)}" for key, value in figures.items())
    return f"{name}: {shown}"


def _short(value: Any) -> str:
    text = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def markdown(folder: Path = FOLDER) -> str:
    """Every recorded guarantee as a Markdown table: name, test, figures, when."""
    rows = ["| guarantee | test | figures | measured |", "|---|---|---|---|"]
    for path in sorted(folder.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        shown = "; ".join(f"{k} {_short(v)}" for k, v in doc["figures"].items())
        rows.append(f"| {doc['name']} | `{doc['test']}` | {shown} | {doc['measured']} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.stdout.write(markdown(Path(sys.argv[1]) if len(sys.argv) > 1 else FOLDER) + "\n")
