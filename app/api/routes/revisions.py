"""`/key-results/{id}/revisions`: the trail of target and baseline changes."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ReadAccess, SessionDep
from app.api.lookup import get_key_result_or_404
from app.api.params import KeyResultId
from app.api.problems import NOT_FOUND
from app.api.representations import revision_out
from app.api.schemas import RevisionOut
from app.store.check_ins import list_revisions

router = APIRouter(prefix="/key-results/{key_result_id}/revisions", tags=["revisions"])


@router.get("", dependencies=[ReadAccess], responses=NOT_FOUND)
def get_revisions(key_result_id: KeyResultId, session: SessionDep) -> list[RevisionOut]:
    """List the revisions of a Key Result's target, baseline and band, oldest first."""
    get_key_result_or_404(session, key_result_id)
    return [revision_out(r) for r in list_revisions(session, key_result_id)]
