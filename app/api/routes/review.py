"""`/review`: the weekly review: status changes, movers, check-ins, failing sources, alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from fastapi import APIRouter, HTTPException

from app.api.deps import ReadAccess, SessionDep, TrackerDep
from app.api.schemas_reports import ReviewOut, review_out
from app.reports.history import weekly_review
from app.reports.review import WEEK_SECONDS

router = APIRouter(prefix="/review", tags=["review"], dependencies=[ReadAccess])
SINCE_EXAMPLE = "e.g. 2026-11-23 or 2026-11-23T09:00:00Z"


def since_ts(text: str) -> int:
    """Parse `since`: an ISO 8601 date (midnight UTC) or a datetime with a time zone."""
    try:
        if len(text) == 10:
            return int(datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC).timestamp())
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            raise HTTPException(422, f"query.since: give a time zone ({SINCE_EXAMPLE})")
        return int(parsed.timestamp())
    except (ValueError, OverflowError):
        raise HTTPException(
            422, f"query.since: {text!r} is not an ISO 8601 date or datetime ({SINCE_EXAMPLE})"
        ) from None


@router.get("")
def get_review(session: SessionDep, tracker: TrackerDep, since: str | None = None) -> ReviewOut:
    """Return the weekly review of [since, now); `since` defaults to 7 days ago."""
    now = tracker.now()
    start = now - WEEK_SECONDS if since is None else since_ts(since)
    if start >= now:
        raise HTTPException(422, "query.since: must be before now")
    review = weekly_review(session, since_ts=start, now_ts=now, thresholds=tracker.thresholds)
    return review_out(review)
