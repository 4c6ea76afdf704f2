"""`/periods/{period}`: the period scorecard page, from the function the JSON route uses."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session

from app.reports.period_history import period_scorecard
from app.web.pages import error_page, page, read_refusal, tracker_of

router = APIRouter(include_in_schema=False)


@router.get("/periods/{period}")
def scorecard(request: Request, period: str) -> Response:
    """Show each objective's and Key Result's score 0.0–1.0, read out in words."""
    refusal = read_refusal(request)
    if refusal is not None:
        return refusal
    tracker = tracker_of(request)
    try:
        with Session(tracker.engine) as session:
            card = period_scorecard(
                session, period=period, now_ts=tracker.now(), thresholds=tracker.thresholds
            )
    except ValueError as exc:
        return error_page(request, status_code=404, title="No such period", message=str(exc))
    return page(request, "scorecard.html", card=card, period=period)
