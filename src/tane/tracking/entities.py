"""The records a store keeps: experiments, runs, metric points, artifacts.

Times are integer milliseconds since the Unix epoch, as in MLflow, so that
records travel between tane, MLflow and JSON without loss.
"""

from __future__ import annotations

import datetime as _dt
import enum
import math
from dataclasses import dataclass, field
from typing import Any

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"


class RunStatus(str, enum.Enum):
    """Where a run is in its life. Only RUNNING is not final."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    CRASHED = "CRASHED"
    PRUNED = "PRUNED"

    @property
    def is_final(self) -> bool:
        return self is not RunStatus.RUNNING

    @classmethod
    def parse(cls, value: str | RunStatus) -> RunStatus:
        """Return the status named by ``value`` (any case); raise ValueError listing them."""
        if isinstance(value, RunStatus):
            return value
        try:
            return cls(str(value).upper())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown run status {value!r}: use one of {names}") from None

    def __str__(self) -> str:
        return self.value


def _to_datetime(ms: int | None) -> _dt.datetime | None:
    if ms is None:
        return None
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)


@dataclass(frozen=True)
class Experiment:
    """A named group of runs."""

    id: str
    name: str
    created: int
    last_activity: int
    tags: dict[str, str] = field(default_factory=dict)
    deleted: bool = False
    run_count: int = 0

    def _repr_html_(self) -> str:
        from tane.tracking._html import experiment_html

        return experiment_html(self)


@dataclass(frozen=True)
class Metric:
    """One point of a metric's history. ``value`` may be NaN or +/-inf."""

    key: str
    value: float
    step: int
    timestamp: int

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": float_to_json(self.value),
            "step": self.step,
            "timestamp": self.timestamp,
        }


@dataclass(slots=True)
class Run:
    """A run as stored: identity, status, times, and its params, metrics and tags.

    ``metrics`` holds each metric's value at its highest step (the latest
    timestamp on ties), as MLflow reports it; ``metric_steps`` that step.
    """

    id: str
    name: str
    experiment_id: str
    experiment: str
    status: RunStatus
    start_time: int
    end_time: int | None = None
    parent_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    note: str = ""
    artifact_uri: str = ""
    deleted: bool = False
    heartbeat: int | None = None
    metric_steps: dict[str, int] = field(default_factory=dict)

    @property
    def started(self) -> _dt.datetime:
        """Start time as an aware UTC datetime."""
        started = _to_datetime(self.start_time)
        assert started is not None
        return started

    @property
    def ended(self) -> _dt.datetime | None:
        """End time as an aware UTC datetime, None while running."""
        return _to_datetime(self.end_time)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, None while running."""
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time) / 1000

    def _repr_html_(self) -> str:
        from tane.tracking._html import run_html

        return run_html(self)

    def to_json(self) -> dict[str, Any]:
        """Return the run as JSON-safe data (NaN and inf as strings)."""
        return {
            "id": self.id,
            "name": self.name,
            "experiment_id": self.experiment_id,
            "experiment": self.experiment,
            "status": self.status.value,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "parent_id": self.parent_id,
            "params": dict(self.params),
            "metrics": {k: float_to_json(v) for k, v in self.metrics.items()},
            "tags": dict(self.tags),
            "note": self.note,
            "artifact_uri": self.artifact_uri,
            "deleted": self.deleted,
        }


@dataclass(frozen=True)
class ArtifactInfo:
    """A file or folder among a run's artifacts; ``path`` is relative to the run's root."""

    path: str
    is_dir: bool
    size: int | None = None


def float_to_json(value: float) -> float | str:
    """Return ``value`` for JSON: NaN and +/-inf become "NaN", "Infinity", "-Infinity"."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def float_from_json(value: float | int | str) -> float:
    """Inverse of :func:`float_to_json`."""
    if isinstance(value, str):
        special = {
            "nan": math.nan,
            "infinity": math.inf,
            "-infinity": -math.inf,
            "inf": math.inf,
            "-inf": -math.inf,
        }
        if value.lower() in special:
            return special[value.lower()]
        return float(value)
    return float(value)


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model: where it is and which run logged it."""

    name: str
    version: int
    source: str
    run_id: str | None
    created: int
    description: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        """``models:/<name>/<version>``, what ``tane.load_model`` takes."""
        return f"models:/{self.name}/{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "run_id": self.run_id,
            "created": self.created,
            "description": self.description,
            "aliases": list(self.aliases),
        }


@dataclass(frozen=True)
class RegisteredModel:
    """A named model with numbered versions and aliases (``champion`` -> 3)."""

    name: str
    created: int
    updated: int
    description: str = ""
    latest_version: int | None = None
    aliases: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "created": self.created,
            "updated": self.updated,
            "description": self.description,
            "latest_version": self.latest_version,
            "aliases": dict(self.aliases),
        }
