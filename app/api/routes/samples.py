"""`/key-results/{id}/samples` (the time series) and `/values` (manual values)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Query

from app.api.deps import ReadAccess, SessionDep, TrackerDep, WriteAccess, Writer
from app.api.lookup import get_key_result_or_404
from app.api.schemas import (
    SamplePointOut,
    SamplesOut,
    ValueChangeOut,
    ValueCorrectionIn,
    ValueIn,
    ValueOut,
    iso,
)
from app.sampling import store_manual_value
from app.store import list_value_changes, sample_points
from app.value_changes import NoSuchValue, ValueEdit, edit_manual_value

router = APIRouter(prefix="/key-results/{key_result_id}", tags=["samples"])


def _ts(value: datetime | None, name: str) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise HTTPException(422, f"{name}: give a time zone (e.g. 2026-11-25T10:00:00Z)")
    return int(value.timestamp())


@router.get("/samples", dependencies=[ReadAccess])
def get_samples(
    key_result_id: str,
    session: SessionDep,
    since: datetime | None = None,
    until: datetime | None = None,
    max_points: int = Query(1000, ge=1, le=10_000),
) -> SamplesOut:
    """Return samples in [since, until]; over `max_points`, equal-time buckets averaged in SQL."""
    get_key_result_or_404(session, key_result_id)
    start, end = _ts(since, "since"), _ts(until, "until")
    if start is not None and end is not None and end < start:
        raise HTTPException(422, "until: must not be before since")
    points = sample_points(session, key_result_id, since=start, until=end, max_points=max_points)
    return SamplesOut(
        key_result_id=key_result_id,
        downsampled=any(p.count > 1 for p in points),
        points=[
            SamplePointOut(at=iso(p.ts), value=p.value, min=p.min, max=p.max, count=p.count)  # type: ignore[arg-type]
            for p in points
        ],
    )


def _manual_or_409(session: SessionDep, tracker: TrackerDep, key_result_id: str) -> None:
    get_key_result_or_404(session, key_result_id)
    if not tracker.accepts_manual_values(key_result_id):
        raise HTTPException(
            409,
            f"Key Result {key_result_id!r} is sampled from its data source; "
            "its values are not typed in",
        )


@router.post("/values", status_code=201, dependencies=[WriteAccess])
def post_value(
    key_result_id: str, body: ValueIn, session: SessionDep, tracker: TrackerDep
) -> ValueOut:
    """Record a value for a manual Key Result and re-evaluate it."""
    _manual_or_409(session, tracker, key_result_id)
    at = _ts(body.at, "body.at") if body.at else tracker.now()
    assert at is not None
    if at > tracker.now() + 300:
        raise HTTPException(422, "body.at: must not be in the future")
    outcome = store_manual_value(
        tracker,
        kr_id=key_result_id,
        ts=at,
        value=body.value,
        numerator=body.numerator,
        denominator=body.denominator,
        note=body.note,
    )
    return ValueOut(
        key_result_id=key_result_id,
        at=iso(at),
        value=body.value,  # type: ignore[arg-type]
        status=outcome.status,
        status_reason=outcome.status_reason,
    )


def _edit(tracker: TrackerDep, edit: ValueEdit) -> ValueOut:
    try:
        outcome = edit_manual_value(tracker, edit)
    except NoSuchValue:
        raise HTTPException(404, f"no value of {edit.kr_id!r} at {iso(edit.ts)}") from None
    return ValueOut(
        key_result_id=edit.kr_id,
        at=iso(edit.ts),  # type: ignore[arg-type]
        value=edit.new_value,
        status=outcome.status,
        status_reason=outcome.status_reason,
    )


@router.put("/values/{at}")
def put_value(
    key_result_id: str,
    at: datetime,
    body: ValueCorrectionIn,
    session: SessionDep,
    tracker: TrackerDep,
    writer: Writer,
) -> ValueOut:
    """Correct a manual value at its instant; the change is kept with the token's name."""
    _manual_or_409(session, tracker, key_result_id)
    ts = _ts(at, "at")
    assert ts is not None
    edit = ValueEdit(key_result_id, ts, body.value, author=writer, note=body.note)
    return _edit(tracker, edit)


@router.delete("/values/{at}")
def delete_value(
    key_result_id: str, at: datetime, session: SessionDep, tracker: TrackerDep, writer: Writer
) -> ValueOut:
    """Delete a manual value; the change is kept with the token's name."""
    _manual_or_409(session, tracker, key_result_id)
    ts = _ts(at, "at")
    assert ts is not None
    return _edit(tracker, ValueEdit(key_result_id, ts, None, author=writer))


@router.get("/values/changes", dependencies=[ReadAccess])
def get_value_changes(key_result_id: str, session: SessionDep) -> list[ValueChangeOut]:
    """List corrections and deletions of manual values, newest first."""
    get_key_result_or_404(session, key_result_id)
    return [
        ValueChangeOut(
            at=iso(c.sample_ts),  # type: ignore[arg-type]
            action=c.action,
            old_value=c.old_value,
            new_value=c.new_value,
            author=c.author,
            changed_at=iso(c.changed_ts),  # type: ignore[arg-type]
            note=c.note,
        )
        for c in list_value_changes(session, key_result_id)
    ]
