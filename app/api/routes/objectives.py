"""`/objectives`: objectives with their Key Results' summaries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from sqlmodel import Session

from app.api.cache import Representation, RepresentationCacheDep, cached, representation, respond
from app.api.deps import Include, ReadAccess, SessionDep, TrackerDep
from app.api.listing import ListingMirrorDep
from app.api.params import ObjectiveId, Offset
from app.api.problems import NOT_FOUND
from app.api.representations import objective_out, summary_of_row
from app.api.schemas import ObjectiveOut
from app.store.key_results import key_result_summaries
from app.store.models import Objective

router = APIRouter(prefix="/objectives", tags=["objectives"], dependencies=[ReadAccess])


@router.get("", response_model=list[ObjectiveOut])
def get_objectives(
    request: Request,
    tracker: TrackerDep,
    cache: RepresentationCacheDep,
    mirror: ListingMirrorDep,
    include: Include = None,
    include_archived: bool = False,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    offset: Offset = 0,
) -> Response:
    """List objectives in file order, each with its Key Results.

    Without `limit` every objective is returned (the listing's original contract). With it,
    one page: `X-Total-Count` gives the total and a `Link: <…>; rel="next"` header the next
    page, as large installations (thousands of Key Results) need. Served from the
    representation cache (`app.api.cache`) with an `ETag`, built from `app.api.listing`.
    """
    include_archived = include_archived or include == "archived"

    def build(session: Session, version: int | None) -> Representation:
        body, total = mirror.objectives_json(
            session, version=version, include_archived=include_archived, limit=limit, offset=offset
        )
        headers = {} if limit is None else {"X-Total-Count": str(total)}
        return representation(body, headers=headers)

    key = ("objectives", include_archived, limit, offset)
    found = cached(cache, tracker, key=key, build=build)
    headers = {}
    if limit is not None:
        total = int(found.headers["X-Total-Count"])
        if offset + limit < total:
            following = request.url.include_query_params(offset=offset + limit, limit=limit)
            headers["Link"] = f'<{following}>; rel="next"'
    return respond(request, found, headers)


@router.get("/{objective_id}", response_model=ObjectiveOut, responses=NOT_FOUND)
def get_objective(objective_id: ObjectiveId, session: SessionDep) -> dict[str, Any]:
    """Return one objective with its Key Results."""
    objective = session.get(Objective, objective_id)
    if objective is None:
        raise HTTPException(404, f"no objective with id {objective_id!r}")
    rows = key_result_summaries(
        session, objective_id=objective_id, include_archived=objective.archived_ts is not None
    )
    return objective_out(objective, [summary_of_row(row) for row in rows])
