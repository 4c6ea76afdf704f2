"""Manual values corrected or deleted through the API, each change kept with its author.

The change and the re-evaluation happen in one transaction, through the same path a posted
value takes (the writer, `app.sampling.measure.write_outcome`), so a corrected value moves progress,
status and alerts exactly as posting it would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.sampling.measure import write_outcome
from app.sampling.outcomes import SampleOutcome, SamplesEdit
from app.store.check_ins import change_stored_value

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlmodel import Session

    from app.tracker import Tracker


@dataclass(frozen=True)
class ValueEdit:
    """One correction (`new_value` set) or deletion (`new_value` None) of a manual value."""

    kr_id: str
    ts: int
    new_value: float | None
    author: str
    note: str | None = None


def _editor(edit: ValueEdit, *, now: int) -> Callable[[Session], None]:
    def write(session: Session) -> None:
        change_stored_value(
            session,
            key_result_id=edit.kr_id,
            ts=edit.ts,
            new_value=edit.new_value,
            author=edit.author,
            note=edit.note,
            now_ts=now,
        )

    return write


def edit_manual_value(
    tracker: Tracker, edit: ValueEdit, *, session: Session | None = None
) -> SampleOutcome:
    """Correct or delete a stored manual value, record who did it, and re-evaluate."""
    item = SamplesEdit(edit.kr_id, edit.ts, _editor(edit, now=tracker.now()))
    return write_outcome(tracker, item, session=session)
