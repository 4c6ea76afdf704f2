"""What people add to a Key Result: check-ins, target revisions, corrected values."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from app.store.key_results import lock_key_results
from app.store.models import (
    CheckIn,
    TargetRevision,
    ValueChange,
)
from app.store.samples import sample_at
from app.store.versions import bump_data_version

if TYPE_CHECKING:
    from collections.abc import Sequence


def add_check_in(session: Session, check_in: CheckIn) -> CheckIn:
    """Store a check-in and return it with its id (the caller commits)."""
    lock_key_results(session.connection(), [check_in.key_result_id])
    session.add(check_in)
    session.flush()
    # The Key Result in detail shows its latest check-in: its row is stamped too.
    bump_data_version(session.connection(), key_results=[check_in.key_result_id])
    return check_in


def list_check_ins(session: Session, key_result_id: str, *, limit: int = 100) -> Sequence[CheckIn]:
    """Return a Key Result's check-ins, newest first."""
    return session.exec(
        select(CheckIn)
        .where(CheckIn.key_result_id == key_result_id)
        .order_by(col(CheckIn.ts).desc(), col(CheckIn.id).desc())
        .limit(limit)
    ).all()


def list_revisions(session: Session, key_result_id: str) -> Sequence[TargetRevision]:
    """Return a Key Result's target and baseline revisions, oldest first."""
    return session.exec(
        select(TargetRevision)
        .where(TargetRevision.key_result_id == key_result_id)
        .order_by(col(TargetRevision.ts), col(TargetRevision.id))
    ).all()


class NoSuchValue(LookupError):
    """No manual value is stored at that instant."""


def change_stored_value(
    session: Session,
    *,
    key_result_id: str,
    ts: int,
    new_value: float | None,
    author: str,
    note: str | None,
    now_ts: int,
) -> None:
    """Correct (`new_value`) or delete (None) the sample at `ts`, recording who did it."""
    sample = sample_at(session, key_result_id, ts)
    if sample is None:
        raise NoSuchValue(f"no value of {key_result_id!r} at that instant")
    session.add(
        ValueChange(
            key_result_id=key_result_id,
            sample_ts=ts,
            action="deleted" if new_value is None else "corrected",
            old_value=sample.value,
            new_value=new_value,
            author=author,
            changed_ts=now_ts,
            note=note,
        )
    )
    if new_value is None:
        session.delete(sample)
        return
    sample.value = new_value
    sample.numerator = sample.denominator = None
    sample.recorded_ts = now_ts
    session.add(sample)


def list_value_changes(
    session: Session, key_result_id: str, *, limit: int = 100
) -> Sequence[ValueChange]:
    """Return a Key Result's value changes, newest first."""
    return session.exec(
        select(ValueChange)
        .where(ValueChange.key_result_id == key_result_id)
        .order_by(col(ValueChange.changed_ts).desc(), col(ValueChange.id).desc())
        .limit(limit)
    ).all()
