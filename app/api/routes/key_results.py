"""`/key-results`: Key Results with progress, status, forecast and last error."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.deps import Include, ReadAccess, SessionDep
from app.api.lookup import get_key_result_or_404
from app.api.params import KeyResultId, ObjectiveFilter
from app.api.problems import NOT_FOUND
from app.api.schemas import (
    KeyResultDetail,
    KeyResultSummary,
    detail_of,
    listing_response,
    summary_of_row,
)
from app.models import Objective
from app.store import key_result_summaries, list_check_ins

router = APIRouter(prefix="/key-results", tags=["key-results"], dependencies=[ReadAccess])


@router.get("", response_model=list[KeyResultSummary])
def get_key_results(
    session: SessionDep,
    objective_id: ObjectiveFilter = None,
    include: Include = None,
    include_archived: bool = False,
) -> Response:
    """List Key Results, optionally of one objective; `?include=archived` adds archived ones."""
    rows = key_result_summaries(
        session,
        objective_id=objective_id,
        include_archived=include_archived or include == "archived",
    )
    return listing_response([summary_of_row(row) for row in rows])


@router.get("/{key_result_id}", responses=NOT_FOUND)
def get_key_result(key_result_id: KeyResultId, session: SessionDep) -> KeyResultDetail:
    """Return one Key Result in detail."""
    kr = get_key_result_or_404(session, key_result_id)
    latest = list_check_ins(session, key_result_id, limit=1)
    objective = session.get(Objective, kr.objective_id)
    measured_from = kr.measured_from(objective) if objective else None
    return detail_of(kr, latest[0] if latest else None, measured_from=measured_from)
