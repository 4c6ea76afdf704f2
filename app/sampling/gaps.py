"""Which instants of each polled Key Result are stored, so that missed ones are fetched once.

An outage of the source, of the database or of the process leaves instants without a
sample. When the connector keeps history, the next job that reaches the source fetches
them (`app.sampling.measure.measure_key_result`). This keeps, per Key Result, how far samples
are known to be stored or asked for, and which instants' writes are still queued, so two
jobs that start together never fetch the same gap twice. The mark moves forward as soon
as a job claims its instants and back when the write or the fetch fails, so a gap is
asked again rather than forgotten.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlmodel import Session

from app.core.schedule import missed_instants
from app.sampling.measure import BACKFILL_MAX_POINTS
from app.sampling.outcomes import SampleOutcome, StoreFailed
from app.store.samples import covered_through
from connectors.base import SupportsHistory

if TYPE_CHECKING:
    from concurrent.futures import Future

    from app.tracker import Tracker

NOTHING = -1  # covered through: no instant yet


@dataclass(frozen=True)
class Claim:
    """One job's instant and the missed instants it took on (`covered_before`: to go back to)."""

    kr_id: str
    instant: int
    missed: list[int] = field(default_factory=list)
    covered_before: int = NOTHING


class SampleCoverage:
    """Per Key Result: stored or asked through which instant, and which writes are pending."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self._through: dict[str, int] | None = None
        self._pending: dict[str, set[int]] = {}
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()

    def _load(self) -> dict[str, int]:
        """Read, once, how far each history-keeping Key Result is covered."""
        with self._load_lock:
            if self._through is None:
                sources = {
                    kr_id: entry.connector
                    for kr_id, entry in self.tracker.entries.items()
                    if entry.connector is not None
                    and self.tracker.is_polled(kr_id)
                    and isinstance(self.tracker.connector(entry.connector), SupportsHistory)
                }
                with Session(self.tracker.engine) as session:
                    covered = covered_through(session, sources)
                self._through = {kr_id: covered.get(kr_id, NOTHING) for kr_id in sources}
            return self._through

    def claim(self, kr_id: str, instant: int) -> Claim:
        """Take on `instant` and the missed instants before it that no other job holds."""
        through = self._load()
        entry = self.tracker.entries[kr_id]
        assert entry.schedule is not None
        with self._lock:
            pending = self._pending.setdefault(kr_id, set())
            pending.add(instant)
            if kr_id not in through:  # no history to fill a gap from
                return Claim(kr_id, instant)
            before = through[kr_id]
            missed = missed_instants(
                entry.schedule,
                covered_through=None if before == NOTHING else before,
                period_start=int(entry.objective.period_bounds()[0].timestamp()),
                until=instant,
                limit=BACKFILL_MAX_POINTS,
                pending=pending,
            )
            through[kr_id] = max(before, instant)
            return Claim(kr_id, instant, missed, before)

    def settle(self, claim: Claim, future: Future[SampleOutcome], *, history: bool) -> None:
        """Record what the write of a claimed job stored (`history`: the job fetched its gap).

        Called when the recorder's future is done; what was not stored becomes missed again.
        """
        outcome = None if future.cancelled() or future.exception() else future.result()
        stored = outcome is not None and outcome.error_kind != StoreFailed.kind
        with self._lock:
            self._pending.get(claim.kr_id, set()).discard(claim.instant)
            through = self._through
            if through is None or claim.kr_id not in through:
                return
            lowest = through[claim.kr_id]
            if claim.missed and not (history and stored):
                lowest = min(lowest, claim.covered_before)
            if not (outcome is not None and outcome.ok):
                lowest = min(lowest, claim.instant - 1)
            through[claim.kr_id] = lowest

    def release(self, claim: Claim) -> None:
        """Give a claim back when its job failed before anything was submitted."""
        with self._lock:
            self._pending.get(claim.kr_id, set()).discard(claim.instant)
            if self._through is not None and claim.kr_id in self._through:
                current = self._through[claim.kr_id]
                self._through[claim.kr_id] = min(current, claim.covered_before)
