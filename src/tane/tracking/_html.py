"""HTML tables of runs, experiments and sweep outcomes, for notebooks (``_repr_html_``).

Plain HTML with inline styles (notebooks render it; no script, every value escaped),
kept short: a run shows its status, params and latest metrics; a sweep its best trial.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Mapping
from typing import Any

_TABLE = 'style="border-collapse:collapse;font-size:12px;margin:2px 0"'
_CELL = 'style="padding:2px 8px;border-bottom:1px solid #e5e7eb;text-align:left"'
_STATUS = {
    "FINISHED": "#15803d",
    "RUNNING": "#1d4ed8",
    "FAILED": "#b91c1c",
    "CRASHED": "#b91c1c",
    "KILLED": "#a16207",
    "PRUNED": "#a16207",
}
#: At most this many params or metrics are listed; the rest are counted.
LIMIT = 20


def _e(value: Any) -> str:
    return html.escape(str(value))


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


def _number(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def status_badge(status: str) -> str:
    color = _STATUS.get(status, "#4b5563")
    return f'<span style="color:{color};font-weight:600">{_e(status)}</span>'


def table(rows: Iterable[tuple[str, str]], raw: bool = False) -> str:
    """A two-column table; values are escaped unless ``raw`` (already HTML)."""
    body = "".join(
        f"<tr><th {_CELL}>{_e(k)}</th><td {_CELL}>{v if raw else _e(v)}</td></tr>" for k, v in rows
    )
    return f"<table {_TABLE}>{body}</table>"


def _pairs(values: Mapping[str, Any], what: str) -> str:
    items = sorted(values.items())
    shown = [(k, _number(v)) for k, v in items[:LIMIT]]
    if len(items) > LIMIT:
        shown.append(("...", f"{len(items) - LIMIT} more {what}"))
    return table(shown) if shown else "<i>none</i>"


def run_html(run: Any) -> str:
    duration = (
        f"{(run.end_time - run.start_time) / 1000:.1f} s" if run.end_time is not None else "-"
    )
    head = table(
        [
            ("run", f"<b>{_e(run.name)}</b> <code>{_e(run.id[:8])}</code>"),
            ("experiment", _e(run.experiment or run.experiment_id)),
            ("status", status_badge(run.status.value)),
            ("started", _e(_when(run.start_time))),
            ("duration", _e(duration)),
        ]
        + ([("parent", f"<code>{_e(run.parent_id[:8])}</code>")] if run.parent_id else []),
        raw=True,
    )
    return (
        f'<div style="display:flex;gap:24px;align-items:flex-start">{head}'
        f"<div><b>params</b>{_pairs(run.params, 'params')}</div>"
        f"<div><b>metrics</b>{_pairs(run.metrics, 'metrics')}</div></div>"
    )


def experiment_html(experiment: Any) -> str:
    return table(
        [
            ("experiment", f"<b>{_e(experiment.name)}</b> (id {_e(experiment.id)})"),
            ("runs", _e(experiment.run_count)),
            ("last activity", _e(_when(experiment.last_activity))),
            ("created", _e(_when(experiment.created))),
        ]
        + ([("deleted", "yes")] if experiment.deleted else []),
        raw=True,
    )


def sweep_html(outcome: Any) -> str:
    states: dict[str, int] = {}
    for trial in outcome.trials:
        states[trial.status] = states.get(trial.status, 0) + 1
    counts = ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items())) or "none"
    best = outcome.best_value
    shown = (
        "-"
        if best is None
        else ", ".join(_number(v) for v in best)
        if isinstance(best, list)
        else _number(best)
    )
    head = table(
        [
            ("sweep", f"<code>{_e(outcome.parent_id[:8])}</code>"),
            ("trials", _e(f"{len(outcome.trials)} ({counts})")),
            ("best value", _e(shown)),
            ("best run", _e(outcome.best_run_id[:8] if outcome.best_run_id else "-")),
        ],
        raw=True,
    )
    parts = [head, f"<div><b>best params</b>{_pairs(outcome.best_params, 'params')}</div>"]
    if outcome.importances:
        parts.append(f"<div><b>importances</b>{_pairs(outcome.importances, 'params')}</div>")
    return f'<div style="display:flex;gap:24px;align-items:flex-start">{"".join(parts)}</div>'
