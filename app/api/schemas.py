"""Shapes of the API's requests and responses (the public JSON contract)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _without_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


# Text people type in: PostgreSQL cannot store NUL in text, and nobody means to send one.
PlainText = Annotated[str, AfterValidator(_without_nul)]
# Numbers are numbers: `true` or "12.5" is refused rather than converted (strict mode).
Number = Annotated[float, Field(allow_inf_nan=False, strict=True)]


def iso(ts: int | None) -> datetime | None:
    """Return a UNIX timestamp as an aware UTC datetime (None stays None)."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


class CurrentValue(BaseModel):
    """The value progress is measured with, and the instant of its latest sample."""

    value: float | None
    at: datetime | None


class ForecastOut(BaseModel):
    """The trend line's value at the deadline with a 95% prediction interval."""

    at: datetime
    value: float
    low: float
    high: float
    points: int
    slope_per_day: float


class KeyResultSummary(BaseModel):
    """A Key Result as listed with its objective."""

    id: str
    objective_id: str
    title: str
    unit: str
    direction: str
    baseline: float | None
    target: float | None
    band: list[float] | None
    current: CurrentValue
    progress: float | None
    expected_progress: float | None
    status: str
    status_reason: str


class CheckInOut(BaseModel):
    """A person's confidence and note."""

    id: int
    at: datetime
    confidence: float
    note: str
    author: str | None


class KeyResultDetail(KeyResultSummary):
    """A Key Result in full: forecast, errors, schedule, source and latest check-in."""

    description: str
    connector: str | None
    schedule: str | None
    forecast: ForecastOut | None
    forecast_unavailable: str | None = None
    # When expected progress starts from 0: the period's start, or the Key Result's own.
    measured_from: datetime | None = None
    last_error: str | None
    last_error_at: datetime | None
    final_score: float | None
    evaluated_at: datetime | None
    archived: bool
    latest_check_in: CheckInOut | None


class ObjectiveOut(BaseModel):
    """An Objective with its Key Results' summaries."""

    id: str
    title: str
    owner: str | None
    team: str | None
    parent_id: str | None
    description: str
    period_start: datetime
    period_end: datetime
    key_results: list[KeyResultSummary]


class SamplePointOut(BaseModel):
    """A sample, or the mean of a downsampled bucket (min, max and count say what it hides)."""

    at: datetime
    value: float
    min: float
    max: float
    count: int


class SamplesOut(BaseModel):
    """A Key Result's time series in a range."""

    key_result_id: str
    downsampled: bool
    points: list[SamplePointOut]


class ValueIn(BaseModel):
    """A manual value; `at` defaults to now."""

    model_config = ConfigDict(extra="forbid")
    value: Number
    at: datetime | None = None
    numerator: Number | None = None
    denominator: Number | None = None
    note: PlainText | None = Field(None, max_length=2000)


class ValueOut(BaseModel):
    """What a manual value changed (`value` is null after a deletion)."""

    key_result_id: str
    at: datetime
    value: float | None
    status: str
    status_reason: str


class ValueCorrectionIn(BaseModel):
    """The corrected value of a manual sample, and why."""

    model_config = ConfigDict(extra="forbid")
    value: float = Field(allow_inf_nan=False)
    note: str | None = Field(None, max_length=2000)


class ValueChangeOut(BaseModel):
    """A manual value corrected or deleted, with who did it."""

    at: datetime
    action: str
    old_value: float | None
    new_value: float | None
    author: str
    changed_at: datetime
    note: str | None


class AttemptOut(BaseModel):
    """One try to sample a Key Result, with its error when it failed."""

    scheduled_at: datetime
    attempted_at: datetime
    ok: bool
    error_kind: str | None
    error: str | None
    duration_ms: int


class CheckInIn(BaseModel):
    """A new check-in."""

    model_config = ConfigDict(extra="forbid")
    confidence: Number = Field(ge=0.0, le=1.0)
    note: PlainText = Field("", max_length=5000)
    # No `author`: a check-in is signed with the name of the token that wrote it.


class RevisionOut(BaseModel):
    """A change of target, baseline or band made in the config file."""

    field: str
    old: str | None
    new: str | None
    at: datetime
    note: str | None
