"""`/key-results/{id}/check-ins`: people's confidence and notes."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import Session

from app.api.deps import ReadAccess, SessionDep, TrackerDep, Writer
from app.api.lookup import get_key_result_or_404
from app.api.params import KeyResultId
from app.api.problems import BODY_WRITE_ERRORS, NOT_FOUND
from app.api.representations import check_in_out
from app.api.schemas import CheckInIn, CheckInOut
from app.store.check_ins import add_check_in, list_check_ins
from app.store.models import CheckIn

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
    row = record_check_in(
        session, key_result_id=key_result_id, body=body, author=writer, now=tracker.now()
    )
    return check_in_out(row)


def record_check_in(
    session: Session, *, key_result_id: str, body: CheckInIn, author: str, now: int
) -> CheckIn:
    """Store and commit a check-in (the API and the dashboard's form both write through here)."""
    row = add_check_in(
        session,
        CheckIn(
            key_result_id=key_result_id,
            ts=now,
            confidence=body.confidence,
            note=body.note,
            author=author,
        ),
    )
    session.commit()
    session.refresh(row)
    return row
