"""`/objectives`: objectives with their Key Results' summaries."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, HTTPException, Response

from app.api.deps import ReadAccess, SessionDep
from app.api.schemas import ObjectiveOut, listing_response, objective_out, summary_of_row
from app.models import Objective
from app.store import key_result_summaries, list_objectives

router = APIRouter(prefix="/objectives", tags=["objectives"], dependencies=[ReadAccess])


@router.get("", response_model=list[ObjectiveOut])
def get_objectives(session: SessionDep, include_archived: bool = False) -> Response:
    """List objectives in file order, each with its Key Results."""
    by_objective: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in key_result_summaries(session, include_archived=include_archived):
        by_objective[row.objective_id].append(summary_of_row(row))
    return listing_response(
        [
            objective_out(o, by_objective[o.id])
            for o in list_objectives(session, include_archived=include_archived)
        ]
    )


@router.get("/{objective_id}", response_model=ObjectiveOut)
def get_objective(objective_id: str, session: SessionDep) -> dict[str, Any]:
    """Return one objective with its Key Results."""
    objective = session.get(Objective, objective_id)
    if objective is None:
        raise HTTPException(404, f"no objective with id {objective_id!r}")
    rows = key_result_summaries(
        session, objective_id=objective_id, include_archived=objective.archived_ts is not None
    )
    return objective_out(objective, [summary_of_row(row) for row in rows])
