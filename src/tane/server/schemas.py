"""The JSON bodies of the ``/api/v1`` routes, as pydantic models.

Floats that may be NaN or infinite (metric values) travel as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"``; plain JSON numbers otherwise.
Request bodies accept either form.

Request bodies are refused (422, naming the field) when a value could not be
stored: integers beyond the database columns (64 bits; 31 for a pid) and text
with lone surrogates (a JSON ``"\\ud800"`` escape is not Unicode text).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from tane.tracking.entities import ArtifactInfo, Experiment, float_from_json


def _parse_float(value: float | str) -> float:
    try:
        return float_from_json(value)
    except ValueError:
        raise ValueError(
            f"metric value {value!r} is not a number: send a JSON number or one of "
            '"NaN", "Infinity", "-Infinity"'
        ) from None


#: A float in a request: a number or "NaN" / "Infinity" / "-Infinity".
JsonFloatIn = Annotated[float | str, AfterValidator(_parse_float)]
#: A float in a response: a number, or "NaN" / "Infinity" / "-Infinity".
JsonFloatOut = float | str
#: An integer a BIGINT column holds: times in milliseconds, steps. (``lt`` rather
#: than ``le=2**63 - 1``: the OpenAPI spec writes bounds as floats, and 2**63 is one.)
Int64 = Annotated[int, Field(ge=-(2**63), lt=2**63)]
#: A process id (an INTEGER column).
Pid = Annotated[int, Field(ge=0, le=2**31 - 1)]


def _lone_surrogate(value: object) -> bool:
    """Whether a value holds text that is not Unicode (a lone UTF-16 surrogate)."""
    if isinstance(value, str):
        if value.isascii():
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return any(_lone_surrogate(item) for item in value)
    return False


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Request(_Model):
    """A request body: its text must be Unicode that a store can encode."""

    @field_validator("*")
    @classmethod
    def _unicode_text(cls, value: Any, info: ValidationInfo) -> Any:
        # A batch may hold millions of points but only a few metric keys:
        # checking each distinct key once keeps this off the logging hot path.
        texts = {point[0] for point in value} if info.field_name == "metrics" else value
        if _lone_surrogate(texts):
            raise ValueError(
                "text holds a lone surrogate (a \\ud800-\\udfff escape on its own), which "
                "is not Unicode: send UTF-8 text"
            )
        return value


# -- errors --------------------------------------------------------------------


class ErrorDetail(_Model):
    """What went wrong: the error class name and its message."""

    type: str = Field(examples=["RunNotFound"])
    message: str
    position: int | None = Field(
        default=None, description="For InvalidFilter: 0-based offset of the problem."
    )


class ErrorOut(_Model):
    """Every error response has this body."""

    error: ErrorDetail


# -- health --------------------------------------------------------------------


class HealthOut(_Model):
    status: str = Field(examples=["ok"])
    reason: str | None = None


# -- experiments ---------------------------------------------------------------


class ExperimentIn(_Request):
    name: str
    tags: dict[str, str] = Field(default_factory=dict)


class ExperimentOut(_Model):
    id: str
    name: str
    created: int
    last_activity: int
    tags: dict[str, str]
    deleted: bool
    run_count: int

    @classmethod
    def of(cls, experiment: Experiment) -> ExperimentOut:
        return cls(
            id=experiment.id,
            name=experiment.name,
            created=experiment.created,
            last_activity=experiment.last_activity,
            tags=dict(experiment.tags),
            deleted=experiment.deleted,
            run_count=experiment.run_count,
        )


class ExperimentListOut(_Model):
    experiments: list[ExperimentOut]


# -- runs ----------------------------------------------------------------------


class RunIn(_Request):
    experiment_id: str
    name: str = Field(min_length=1, examples=["baseline"])
    parent_id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    start_time: Int64 | None = None
    host: str | None = None
    pid: Pid | None = None


class RunPatch(_Request):
    status: str | None = Field(default=None, examples=["FINISHED"])
    end_time: Int64 | None = None
    name: str | None = None
    note: str | None = None
    host: str | None = None
    pid: Pid | None = None


class RunOut(_Model):
    """A run as :meth:`tane.tracking.entities.Run.to_json` writes it."""

    id: str
    name: str
    experiment_id: str
    experiment: str
    status: str
    start_time: int
    end_time: int | None
    parent_id: str | None
    params: dict[str, str]
    metrics: dict[str, JsonFloatOut]
    tags: dict[str, str]
    note: str
    artifact_uri: str
    deleted: bool


class RunSearchIn(_Request):
    experiment_ids: list[str] | None = None
    filter: str = Field(default="", examples=["metrics.loss < 0.5 and params.lr = '0.01'"])
    order_by: list[str] = Field(default_factory=list, examples=[["metrics.loss ASC"]])
    max_results: int = Field(default=1000, ge=1, le=50_000)
    page_token: str | None = None
    view: Literal["active", "deleted", "all"] = "active"


class RunPageOut(_Model):
    runs: list[RunOut]
    next_page_token: str | None


class RunIdsIn(_Request):
    run_ids: list[str]


class HeartbeatIn(_Request):
    run_ids: list[str]
    now: Int64 | None = Field(default=None, description="Milliseconds; default the server's clock.")


class LogBatchIn(_Request):
    metrics: list[tuple[str, JsonFloatIn, Int64, Int64]] = Field(
        default_factory=list,
        description='Points as [key, value, step, timestamp]; value may be "NaN", '
        '"Infinity" or "-Infinity".',
        examples=[[["loss", 0.25, 3, 1700000000000], ["grad", "NaN", 3, 1700000000000]]],
    )
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)


class MetricOut(_Model):
    key: str
    value: JsonFloatOut
    step: int
    timestamp: int


class MetricHistoryOut(_Model):
    metrics: list[MetricOut]


# -- artifacts -----------------------------------------------------------------


class ArtifactOut(_Model):
    path: str
    is_dir: bool
    size: int | None

    @classmethod
    def of(cls, info: ArtifactInfo) -> ArtifactOut:
        return cls(path=info.path, is_dir=info.is_dir, size=info.size)


class ArtifactListOut(_Model):
    artifacts: list[ArtifactOut]


class ArtifactUploadOut(_Model):
    path: str = Field(description="The artifact path the file was stored at.")
    size: int


def error_body(kind: str, message: str, position: int | None = None) -> dict[str, Any]:
    """Return the JSON of an error response.

    A message quoting what the client sent may hold text that is not Unicode;
    it is escaped, so that the answer can always be encoded.
    """
    if not message.isascii():
        message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    detail: dict[str, Any] = {"type": kind, "message": message}
    if position is not None:
        detail["position"] = position
    return {"error": detail}


class KeysIn(_Request):
    experiment_ids: list[str] | None = Field(
        default=None, description="Experiment ids or names; all readable ones when null."
    )


class KeysOut(_Model):
    """The keys used by the active runs: what a filter or a column can name."""

    params: list[str]
    metrics: list[str]
    tags: list[str]


class HistoriesIn(_Request):
    run_ids: list[str] = Field(min_length=1, max_length=1000)
    key: str
    min_step: Int64 | None = None
    max_step: Int64 | None = None
    max_points: int | None = Field(default=None, ge=1, le=1_000_000)


class HistoriesOut(_Model):
    """One metric's history for each run (an empty list where the run never logged it)."""

    histories: dict[str, list[MetricOut]]


class ExperimentPatch(_Request):
    name: str | None = Field(default=None, description="A new name.")
    deleted: bool | None = Field(default=None, description="True deletes, False restores.")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags to set.")
