"""`/review`: the weekly review page, from the function `GET /api/v1/review` uses."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlmodel import Session

from app.api.routes.review import since_ts
from app.reports.history import weekly_review
from app.reports.review import WEEK_SECONDS
from app.web.pages import error_page, page, read_refusal, tracker_of

router = APIRouter(include_in_schema=False)


@router.get("/review")
def review(request: Request, since: str = "") -> Response:
    """Show what changed since `since` (default: 7 days ago), for the weekly OKR meeting."""
    refusal = read_refusal(request)
    if refusal is not None:
        return refusal
    tracker = tracker_of(request)
    now = tracker.now()
    try:
        start = since_ts(since) if since else now - WEEK_SECONDS
    except HTTPException as exc:
        return error_page(request, status_code=422, title="Bad date", message=str(exc.detail))
    if start >= now:
        return error_page(
            request, status_code=422, title="Bad date", message="since: must be before now"
        )
    with Session(tracker.engine) as session:
        data = weekly_review(session, since_ts=start, now_ts=now, thresholds=tracker.thresholds)
    return page(request, "review.html", review=data, since=since)
