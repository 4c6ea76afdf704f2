"""`/objectives`: objectives with their Key Results' summaries."""

from __future__ import annotations

from collections import defaultdict

from fastapi import APIRouter, HTTPException

from app.api.deps import ReadAccess, SessionDep
from app.api.schemas import ObjectiveOut, objective_out
from app.models import KeyResult, Objective
from app.store import list_key_results, list_objectives

router = APIRouter(prefix="/objectives", tags=["objectives"], dependencies=[ReadAccess])


@router.get("")
def get_objectives(session: SessionDep, include_archived: bool = False) -> list[ObjectiveOut]:
    """List objectives in file order, each with its Key Results."""
    by_objective: dict[str, list[KeyResult]] = defaultdict(list)
    for kr in list_key_results(session, include_archived=include_archived):
        by_objective[kr.objective_id].append(kr)
    return [
        objective_out(o, by_objective[o.id])
        for o in list_objectives(session, include_archived=include_archived)
    ]


@router.get("/{objective_id}")
def get_objective(objective_id: str, session: SessionDep) -> ObjectiveOut:
    """Return one objective with its Key Results."""
    objective = session.get(Objective, objective_id)
    if objective is None:
        raise HTTPException(404, f"no objective with id {objective_id!r}")
    krs = list_key_results(session, objective_id=objective_id, include_archived=objective.archived_ts is not None)
    return objective_out(objective, list(krs))
