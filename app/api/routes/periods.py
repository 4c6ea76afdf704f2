"""`/periods/{period}/scorecard`: Objectives' and Key Results' scores as JSON, CSV or Markdown."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response

from app.api.deps import ReadAccess, SessionDep, TrackerDep
from app.api.problems import NOT_FOUND
from app.api.schemas_reports import ScorecardOut, scorecard_out
from app.reports import period_scorecard
from app.scorecard_render import scorecard_csv, scorecard_markdown

router = APIRouter(prefix="/periods", tags=["periods"], dependencies=[ReadAccess])
DOWNLOADS = {
    "csv": ("text/csv; charset=utf-8", scorecard_csv),
    "md": ("text/markdown; charset=utf-8", scorecard_markdown),
}


@router.get(
    "/{period}/scorecard",
    response_model=ScorecardOut,
    responses={**NOT_FOUND, 200: {"content": {"text/csv": {}, "text/markdown": {}}}},
)
def get_scorecard(
    period: str,
    session: SessionDep,
    tracker: TrackerDep,
    output: Annotated[Literal["json", "csv", "md"], Query(alias="format")] = "json",
) -> Response:
    """Return the period's scorecard: running scores before it closes, frozen ones after."""
    try:
        card = period_scorecard(
            session, period=period, now_ts=tracker.now(), thresholds=tracker.thresholds
        )
    except ValueError as exc:
        raise HTTPException(422, f"path.period: {exc}") from None
    if not card.objectives:
        raise HTTPException(404, f"no objectives in period {period}")
    if output == "json":
        body = scorecard_out(card).model_dump_json()
        return Response(body, media_type="application/json")
    media_type, render = DOWNLOADS[output]
    filename = f"krtracker-scorecard-{period}.{output}"
    return Response(
        render(card),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
