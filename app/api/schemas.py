"""Shapes of the API's requests and responses (the public JSON contract)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.store.models import CheckIn, KeyResult, Objective, TargetRevision


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


def iso_text(ts: int | None) -> str | None:
    """Return a UNIX timestamp as ISO 8601 UTC text, as pydantic writes aware datetimes."""
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def listing_response(payload: Any) -> Response:
    """Serialise a listing of plain data once, without a model per row.

    Listings of a thousand Key Results spent half their time building and validating one
    pydantic model per row; the shape is still declared by the route's `response_model`
    (and pinned by tests).
    """
    # orjson writes NaN and infinities as null; the progress engine never stores them anyway.
    return Response(orjson.dumps(payload), media_type="application/json")


def summary_of_row(row: Any) -> dict[str, Any]:
    """Return the summary fields from a row of `store.SUMMARY_COLUMNS` (the listing fast path)."""
    (
        kr_id,
        objective_id,
        title,
        unit,
        direction,
        baseline,
        target,
        band_low,
        band_high,
        current_value,
        current_ts,
        progress,
        expected,
        status,
        reason,
    ) = row
    return {
        "id": kr_id,
        "objective_id": objective_id,
        "title": title,
        "unit": unit,
        "direction": direction,
        "baseline": baseline,
        "target": target,
        "band": [band_low, band_high] if band_low is not None and band_high is not None else None,
        "current": {"value": current_value, "at": iso_text(current_ts)},
        "progress": progress,
        "expected_progress": expected,
        "status": status,
        "status_reason": reason,
    }


def summary_of(kr: Any) -> dict[str, Any]:
    """Return the summary fields of a Key Result (an ORM object or a row of its columns)."""
    band = (
        [kr.band_low, kr.band_high]
        if kr.band_low is not None and kr.band_high is not None
        else None
    )
    return {
        "id": kr.id,
        "objective_id": kr.objective_id,
        "title": kr.title,
        "unit": kr.unit,
        "direction": kr.direction,
        "baseline": kr.baseline_value,
        "target": kr.target_value,
        "band": band,
        "current": {"value": kr.current_value, "at": iso_text(kr.current_ts)},
        "progress": kr.progress,
        "expected_progress": kr.expected_progress,
        "status": kr.status,
        "status_reason": kr.status_reason,
    }


def check_in_out(row: CheckIn) -> CheckInOut:
    """Return the API shape of a check-in row."""
    assert row.id is not None
    return CheckInOut(
        id=row.id, at=iso(row.ts), confidence=row.confidence, note=row.note, author=row.author
    )  # type: ignore[arg-type]


def detail_of(
    kr: KeyResult, latest: CheckIn | None, *, measured_from: int | None = None
) -> KeyResultDetail:
    """Return the full API shape of a Key Result row."""
    forecast = None
    unavailable = kr.forecast.get("unavailable") if kr.forecast else None
    if kr.forecast and unavailable is None:
        f = kr.forecast
        forecast = ForecastOut(
            at=iso(f["at_ts"]),
            value=f["value"],
            low=f["low"],
            high=f["high"],  # type: ignore[arg-type]
            points=f["points"],
            slope_per_day=f["slope_per_day"],
        )
    return KeyResultDetail(
        **summary_of(kr),
        description=kr.description,
        connector=kr.connector,
        schedule=kr.schedule,
        forecast=forecast,
        forecast_unavailable=unavailable,
        measured_from=iso(measured_from),
        last_error=kr.last_error,
        last_error_at=iso(kr.last_error_ts),
        final_score=kr.final_score,
        evaluated_at=iso(kr.evaluated_ts),
        archived=kr.archived_ts is not None,
        latest_check_in=check_in_out(latest) if latest else None,
    )


def objective_out(objective: Objective, key_results: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the API shape of an objective and its Key Results' summaries (plain data).

    The route's response model validates it once; building models here too doubled the cost.
    """
    return {
        "id": objective.id,
        "title": objective.title,
        "owner": objective.owner,
        "team": objective.team,
        "parent_id": objective.parent_id,
        "description": objective.description,
        "period_start": iso_text(objective.period_start_ts),
        "period_end": iso_text(objective.period_end_ts),
        "key_results": key_results,
    }


def revision_out(row: TargetRevision) -> RevisionOut:
    """Return the API shape of a revision row."""
    return RevisionOut(
        field=row.field_name,
        old=row.old_value,
        new=row.new_value,
        at=iso(row.ts),
        note=row.note,  # type: ignore[arg-type]
    )
