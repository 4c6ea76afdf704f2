"""`/`: objectives as an alignment tree with their Key Results, or Key Results worst first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from app.web.overview_view import build_overview
from app.web.pages import page, read_refusal, tracker_of

router = APIRouter(include_in_schema=False)


@router.get("/")
def overview(
    request: Request,
    team: str = "",
    owner: str = "",
    sort: str = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    """Show the overview; an htmx request gets only the content fragment."""
    refusal = read_refusal(request)
    if refusal is not None:
        return refusal
    tracker = tracker_of(request)
    with Session(tracker.engine) as session:
        data = build_overview(
            session,
            team=team,
            owner=owner,
            sort="worst" if sort == "worst" else "",
            page=page_number,
            page_size=tracker.loaded.config.web.page_size,
            sparklines=request.app.state.sparklines,
            now=tracker.now(),
        )
    name = "_overview_content.html" if request.headers.get("hx-request") else "overview.html"
    return page(request, name, overview=data)
