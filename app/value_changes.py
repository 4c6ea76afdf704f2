"""Manual values corrected or deleted through the API, each change kept with its author.

The change and the re-evaluation happen in one transaction, through the same path a posted
value takes (`sampling.store_outcome`), so a corrected value moves progress, status and
alerts exactly as posting it would have.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from app.live_store import SampleOutcome
from app.models import KeyResult, ValueChange
from app.sampling import SessionWrite, store_outcome
from app.store import add_value_change, delete_sample, sample_at
from app.tracker import Tracker


class NoSuchValue(LookupError):
    """No manual value is stored at that instant."""


@dataclass(frozen=True)
class ValueEdit:
    """One correction (`new_value` set) or deletion (`new_value` None) of a manual value."""

    kr_id: str
    ts: int
    new_value: float | None
    author: str
    note: str | None = None


def _editor(edit: ValueEdit, *, now: int) -> SessionWrite:
    def write(session: Session, _kr: KeyResult) -> None:
        sample = sample_at(session, edit.kr_id, edit.ts)
        if sample is None:
            raise NoSuchValue(f"no value of {edit.kr_id!r} at that instant")
        add_value_change(
            session,
            ValueChange(
                key_result_id=edit.kr_id,
                sample_ts=edit.ts,
                action="deleted" if edit.new_value is None else "corrected",
                old_value=sample.value,
                new_value=edit.new_value,
                author=edit.author,
                changed_ts=now,
                note=edit.note,
            ),
        )
        if edit.new_value is None:
            delete_sample(session, sample)
        else:
            sample.value = edit.new_value
            sample.numerator = sample.denominator = None
            sample.recorded_ts = now
            session.add(sample)

    return write


def edit_manual_value(
    tracker: Tracker, edit: ValueEdit, *, session: Session | None = None
) -> SampleOutcome:
    """Correct or delete a stored manual value, record who did it, and re-evaluate."""
    return store_outcome(
        tracker,
        kr_id=edit.kr_id,
        scheduled_ts=edit.ts,
        measurement=None,
        error=None,
        source="manual",
        duration_ms=0,
        write=_editor(edit, now=tracker.now()),
        session=session,
    )
