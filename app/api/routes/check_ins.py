"""`/key-results/{id}/check-ins`: people's confidence and notes."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ReadAccess, SessionDep, TrackerDep, Writer
from app.api.lookup import get_key_result_or_404
from app.api.params import KeyResultId
from app.api.problems import BODY_WRITE_ERRORS, NOT_FOUND
from app.api.schemas import CheckInIn, CheckInOut, check_in_out
from app.models import CheckIn
from app.store import add_check_in, list_check_ins

router = APIRouter(prefix="/key-results/{key_result_id}/check-ins", tags=["check-ins"])


@router.get("", dependencies=[ReadAccess], responses=NOT_FOUND)
def get_check_ins(key_result_id: KeyResultId, session: SessionDep) -> list[CheckInOut]:
    """List a Key Result's check-ins, newest first."""
    get_key_result_or_404(session, key_result_id)
    return [check_in_out(c) for c in list_check_ins(session, key_result_id)]


@router.post("", status_code=201, responses=BODY_WRITE_ERRORS)
def post_check_in(
    key_result_id: KeyResultId,
    body: CheckInIn,
    session: SessionDep,
    tracker: TrackerDep,
    writer: Writer,
) -> CheckInOut:
    """Record a check-in, signed with the name of the write token."""
    get_key_result_or_404(session, key_result_id)
    row = add_check_in(
        session,
        CheckIn(
            key_result_id=key_result_id,
            ts=tracker.now(),
            confidence=body.confidence,
            note=body.note,
            author=writer,
        ),
    )
    session.commit()
    session.refresh(row)
    return check_in_out(row)
