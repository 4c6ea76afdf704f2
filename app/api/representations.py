"""Rows and stored state turned into the API's shapes (`app.api.schemas`), and their JSON."""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import Response

from app.api.schemas import CheckInOut, ForecastOut, KeyResultDetail, RevisionOut, iso
from app.store.models import CheckIn, KeyResult, Objective, TargetRevision


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
