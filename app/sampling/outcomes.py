"""What a Key Result's writer is asked to store, and what it answers.

Plain data passed from the sampler, the API and the scheduler to `app.sampling.writer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from connectors.base import ConnectorError, Measurement

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sqlmodel import Session


@dataclass(frozen=True)
class SampleToStore:
    """One attempt's result: a measurement or the error, and any backfilled history.

    `backfill` is None when no history was fetched; a list (maybe empty) when it was, for
    the instants up to `backfill_through`, which the connector's state then records (so an
    empty history is not asked again after a restart). With `keep_existing`, a sample
    already stored at the instant is kept and `ValueAlreadyStored` raised (a value a person
    posted is never overwritten); otherwise the new sample replaces it.
    """

    kr_id: str
    scheduled_ts: int
    source: str
    measurement: Measurement | None = None
    error: ConnectorError | None = None
    duration_ms: int = 0
    backfill: Sequence[Measurement] | None = None
    backfill_through: int | None = None
    keep_existing: bool = False


@dataclass(frozen=True)
class Reevaluation:
    """Re-evaluate a Key Result without a new attempt (status moves with time)."""

    kr_id: str


@dataclass(frozen=True)
class SamplesEdit:
    """Change stored samples of a Key Result (a corrected or deleted value) at instant `ts`.

    `apply` runs inside the writer's transaction, before the Key Result is evaluated; the
    instant counts as the new sample's for the alert rules.
    """

    kr_id: str
    ts: int
    apply: Callable[[Session], None]


Item = SampleToStore | Reevaluation | SamplesEdit


@dataclass(frozen=True)
class SampleOutcome:
    """What one write stored: a value, or an error kind and reason, and the new status."""

    key_result_id: str
    scheduled_ts: int
    value: float | None
    error_kind: str | None
    error: str | None
    status: str
    status_reason: str
    backfilled: int = 0

    @property
    def ok(self) -> bool:
        """Return whether a value was stored."""
        return self.error_kind is None


class StoreFailed(ConnectorError):
    """The measurement could not be written to the database."""

    kind = "store_failed"


class ValueAlreadyStored(Exception):
    """A manual value was posted for an instant that already has one (never overwritten)."""

    def __init__(self, kr_id: str, ts: int) -> None:
        self.kr_id, self.ts = kr_id, ts
        at = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        super().__init__(f"Key Result {kr_id!r} already has a value at {at}")
