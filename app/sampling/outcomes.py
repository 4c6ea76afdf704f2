"""What a Key Result's writer is asked to store, and what it answers.

Plain data passed from the sampler, the API and the scheduler to `app.sampling.writer`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from connectors.base import ConnectorError, Measurement

if TYPE_CHECKING:
    from app.core.inputs import Evaluation
    from app.core.redaction import Redactor

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


def redacted(item: SampleToStore, redactor: Redactor) -> SampleToStore:
    """Return the item with configured secrets removed from its error and details.

    The writer calls this where outcomes become rows: what a source echoed (a token in an
    error body) must not reach `last_error`, status reasons, alerts or the API.
    """
    error = redactor.error(item.error) if item.error else None
    measurement = redactor.measurement(item.measurement) if item.measurement else None
    backfill = item.backfill
    if backfill:
        points = [redactor.measurement(point) for point in backfill]
        if any(new is not old for new, old in zip(points, backfill, strict=True)):
            backfill = points
    if (error, measurement, backfill) == (item.error, item.measurement, item.backfill):
        return item
    return replace(item, error=error, measurement=measurement, backfill=backfill)


def outcome_of(item: Item, result: Evaluation) -> SampleOutcome:
    """Return what the writer answers for `item` once it is stored and evaluated."""
    sample = item if isinstance(item, SampleToStore) else None
    error = sample.error if sample else None
    instant = 0  # a re-evaluation stores no sample
    if sample is not None:
        instant = sample.scheduled_ts
    elif isinstance(item, SamplesEdit):
        instant = item.ts
    return SampleOutcome(
        key_result_id=item.kr_id,
        scheduled_ts=instant,
        value=sample.measurement.value if sample and sample.measurement else None,
        error_kind=error.kind if error else None,
        error=error.reason if error else None,
        status=result.status.value,
        status_reason=result.reason,
        backfilled=len(sample.backfill) if sample and sample.backfill else 0,
    )
