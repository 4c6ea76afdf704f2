"""`/key-results`: Key Results with progress, status, forecast and last error."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ReadAccess, SessionDep
from app.api.lookup import get_key_result_or_404
from app.api.schemas import KeyResultDetail, KeyResultSummary, detail_of, summary_of
from app.store import list_check_ins, list_key_results

router = APIRouter(prefix="/key-results", tags=["key-results"], dependencies=[ReadAccess])


@router.get("")
def get_key_results(
    session: SessionDep, objective_id: str | None = None, include_archived: bool = False
) -> list[KeyResultSummary]:
    """List Key Results, optionally of one objective."""
    rows = list_key_results(session, objective_id=objective_id, include_archived=include_archived)
    return [KeyResultSummary(**summary_of(kr)) for kr in rows]


@router.get("/{key_result_id}")
def get_key_result(key_result_id: str, session: SessionDep) -> KeyResultDetail:
    """Return one Key Result in detail."""
    kr = get_key_result_or_404(session, key_result_id)
    latest = list_check_ins(session, key_result_id, limit=1)
    return detail_of(kr, latest[0] if latest else None)
