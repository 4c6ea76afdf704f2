"""`/objectives`: objectives with their Key Results' summaries."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from app.api.deps import Include, ReadAccess, SessionDep
from app.api.params import ObjectiveId, Offset
from app.api.problems import NOT_FOUND
from app.api.schemas import ObjectiveOut, listing_response, objective_out, summary_of_row
from app.models import Objective
from app.store import count_objectives, key_result_summaries, list_objectives

router = APIRouter(prefix="/objectives", tags=["objectives"], dependencies=[ReadAccess])


@router.get("", response_model=list[ObjectiveOut])
def get_objectives(
    request: Request,
    session: SessionDep,
    include: Include = None,
    include_archived: bool = False,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    offset: Offset = 0,
) -> Response:
    """List objectives in file order, each with its Key Results.

    Without `limit` every objective is returned (the listing's original contract). With it,
    one page: `X-Total-Count` gives the total and a `Link: <…>; rel="next"` header the next
    page, as large installations (thousands of Key Results) need.
    """
    include_archived = include_archived or include == "archived"
    objectives = list_objectives(
        session, include_archived=include_archived, limit=limit, offset=offset
    )
    by_objective: dict[str, list[dict[str, Any]]] = defaultdict(list)
    summaries = key_result_summaries(
        session,
        objective_ids=[o.id for o in objectives] if limit is not None else None,
        include_archived=include_archived,
    )
    for row in summaries:
        by_objective[row.objective_id].append(summary_of_row(row))
    response = listing_response([objective_out(o, by_objective[o.id]) for o in objectives])
    if limit is not None:
        total = count_objectives(session, include_archived=include_archived)
        response.headers["X-Total-Count"] = str(total)
        if offset + limit < total:
            following = request.url.include_query_params(offset=offset + limit, limit=limit)
            response.headers["Link"] = f'<{following}>; rel="next"'
    return response


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
