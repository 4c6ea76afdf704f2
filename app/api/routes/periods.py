"""`/periods/{period}/scorecard` (scores as JSON, CSV, Markdown) and `/report` (retrospective)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response

from app.api.deps import ReadAccess, SessionDep, TrackerDep
from app.api.problems import errors_for
from app.api.schemas_reports import ScorecardOut, scorecard_out
from app.reports.period_history import period_retrospective, period_scorecard
from app.reports.retrospective_render import RENDERERS
from app.reports.scorecard_render import scorecard_csv, scorecard_markdown

router = APIRouter(prefix="/periods", tags=["periods"], dependencies=[ReadAccess])
DOWNLOADS = {
    "csv": ("text/csv; charset=utf-8", scorecard_csv),
    "md": ("text/markdown; charset=utf-8", scorecard_markdown),
}


@router.get(
    "/{period}/scorecard",
    response_model=ScorecardOut,
    responses={200: {"content": {"text/csv": {}, "text/markdown": {}}}, **errors_for(404)},
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


@router.get(
    "/{period}/report",
    responses={
        200: {
            "description": "The retrospective as JSON, Markdown or one self-contained HTML file",
            "content": {"application/json": {}, "text/markdown": {}, "text/html": {}},
        },
        **errors_for(404),
    },
)
def get_report(
    period: str,
    session: SessionDep,
    tracker: TrackerDep,
    output: Annotated[Literal["json", "md", "html"], Query(alias="format")] = "json",
) -> Response:
    """Return the period's retrospective: scores (frozen once closed) and their history."""
    try:
        retro = period_retrospective(
            session, period=period, now_ts=tracker.now(), thresholds=tracker.thresholds
        )
    except ValueError as exc:
        raise HTTPException(422, f"path.period: {exc}") from None
    if not retro.objectives:
        raise HTTPException(404, f"no objectives in period {period}")
    media_type, render = RENDERERS[output]
    headers = {}
    if output != "json":
        filename = f"krtracker-retrospective-{period}.{output}"
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return Response(render(retro), media_type=media_type, headers=headers)
