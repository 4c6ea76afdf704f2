"""`/key-results/{id}/samples` (the time series) and `/values` (manual values)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Query

from app.api.deps import ReadAccess, SessionDep, TrackerDep, WriteAccess, Writer
from app.api.lookup import get_key_result_or_404
from app.api.params import KeyResultId
from app.api.problems import NOT_FOUND, errors_for, invalid, link_to
from app.api.schemas import (
    SamplePointOut,
    SamplesOut,
    ValueChangeOut,
    ValueCorrectionIn,
    ValueIn,
    ValueOut,
    iso,
)
from app.sampling.measure import store_manual_value
from app.sampling.outcomes import ValueAlreadyStored
from app.sampling.value_changes import ValueEdit, edit_manual_value
from app.store.check_ins import NoSuchValue, list_value_changes
from app.store.samples import sample_points

if TYPE_CHECKING:
    from app.tracker import Tracker

router = APIRouter(prefix="/key-results/{key_result_id}", tags=["samples"])
RETRY = {"Retry-After": "1"}


def _ts(value: datetime | None, name: str) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise invalid(name, "give a time zone (e.g. 2026-11-25T10:00:00Z)")
    try:
        return int(value.timestamp())
    except (OverflowError, ValueError):  # e.g. 0001-01-01T00:00:00+01:00, before year 1
        raise invalid(name, "out of range") from None


@router.get("/samples", dependencies=[ReadAccess], responses=NOT_FOUND)
def get_samples(
    key_result_id: KeyResultId,
    session: SessionDep,
    since: datetime | None = None,
    until: datetime | None = None,
    max_points: int = Query(1000, ge=1, le=10_000),
) -> SamplesOut:
    """Return samples in [since, until]; over `max_points`, equal-time buckets averaged in SQL."""
    get_key_result_or_404(session, key_result_id)
    start, end = _ts(since, "query.since"), _ts(until, "query.until")
    if start is not None and end is not None and end < start:
        raise invalid("query.until", "must not be before since")
    points = sample_points(session, key_result_id, since=start, until=end, max_points=max_points)
    return SamplesOut(
        key_result_id=key_result_id,
        downsampled=any(p.count > 1 for p in points),
        points=[
            SamplePointOut(at=iso(p.ts), value=p.value, min=p.min, max=p.max, count=p.count)  # type: ignore[arg-type]
            for p in points
        ],
    )


def _checked_at(tracker: Tracker, key_result_id: str, at: int) -> int:
    """Refuse an instant in the future or outside the objective's period (it would not count)."""
    if at > tracker.now() + 300:
        raise invalid("body.at", "must not be in the future")
    start, end = tracker.entries[key_result_id].objective.period_bounds()
    if not start.timestamp() <= at < end.timestamp():
        raise invalid(
            "body.at",
            f"outside the objective's period ({start:%Y-%m-%d} to "
            f"{end - timedelta(days=1):%Y-%m-%d}, UTC); a value there would not count",
        )
    return at


def _manual_or_409(session: SessionDep, tracker: TrackerDep, key_result_id: str) -> None:
    get_key_result_or_404(session, key_result_id)
    if not tracker.accepts_manual_values(key_result_id):
        raise HTTPException(
            409,
            f"Key Result {key_result_id!r} is sampled from its data source; "
            "its values are not typed in",
        )


@router.post(
    "/values",
    status_code=201,
    dependencies=[WriteAccess],
    responses={
        **errors_for(400, 404, 409, 413),
        201: {
            "description": "The value, stored, and the Key Result's status after it.",
            "links": {
                "Samples": link_to(
                    "/api/v1/key-results/{key_result_id}/samples",
                    "get",
                    key_result_id="$response.body#/key_result_id",
                ),
                "KeyResult": link_to(
                    "/api/v1/key-results/{key_result_id}",
                    "get",
                    key_result_id="$response.body#/key_result_id",
                ),
            },
        },
    },
)
def post_value(
    key_result_id: KeyResultId, body: ValueIn, session: SessionDep, tracker: TrackerDep
) -> ValueOut:
    """Record a value for a manual Key Result and re-evaluate it.

    A value is never overwritten: a second value at the same second (`at`, or now when it
    is left out) is refused with 409; post again a second later or give another `at`.
    """
    _manual_or_409(session, tracker, key_result_id)
    given = _ts(body.at, "body.at")
    at = _checked_at(tracker, key_result_id, tracker.now() if given is None else given)
    try:
        outcome = store_manual_value(
            tracker,
            kr_id=key_result_id,
            ts=at,
            value=body.value,
            numerator=body.numerator,
            denominator=body.denominator,
            note=body.note,
            session=session,
        )
    except ValueAlreadyStored as exc:
        hint = "post it again in a second" if given is None else "give another `at`"
        raise HTTPException(409, f"{exc}; values are never replaced: {hint}", RETRY) from None
    return ValueOut(
        key_result_id=key_result_id,
        at=iso(at),
        value=body.value,  # type: ignore[arg-type]
        status=outcome.status,
        status_reason=outcome.status_reason,
    )


def _edit(tracker: TrackerDep, session: SessionDep, edit: ValueEdit) -> ValueOut:
    try:
        outcome = edit_manual_value(tracker, edit, session=session)
    except NoSuchValue:
        raise HTTPException(404, f"no value of {edit.kr_id!r} at {iso(edit.ts)}") from None
    return ValueOut(
        key_result_id=edit.kr_id,
        at=iso(edit.ts),  # type: ignore[arg-type]
        value=edit.new_value,
        status=outcome.status,
        status_reason=outcome.status_reason,
    )


@router.put("/values/{at}", responses=errors_for(400, 404, 409, 413))
def put_value(
    key_result_id: KeyResultId,
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
    return _edit(tracker, session, edit)


@router.delete("/values/{at}", responses=errors_for(404, 409))
def delete_value(
    key_result_id: KeyResultId,
    at: datetime,
    session: SessionDep,
    tracker: TrackerDep,
    writer: Writer,
) -> ValueOut:
    """Delete a manual value; the change is kept with the token's name."""
    _manual_or_409(session, tracker, key_result_id)
    ts = _ts(at, "at")
    assert ts is not None
    return _edit(tracker, session, ValueEdit(key_result_id, ts, None, author=writer))


@router.get("/values/changes", dependencies=[ReadAccess], responses=NOT_FOUND)
def get_value_changes(key_result_id: KeyResultId, session: SessionDep) -> list[ValueChangeOut]:
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
