"""Sample a Key Result: ask its connector, store the sample or the error, re-evaluate.

This is the one place where connector errors become data: a failed attempt is stored with
its kind and reason and never as a number; the Key Result's status then says why. Every
outcome is stored by the one writer (`app.sampling.writer`): polled Key Results' through the
tracker's recorder (`app.sampling.recorder`, figures remembered), values people post through
`write_outcome` (figures read each time, as any replica may write).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlmodel import Session

from app.core.schedule import missed_instants
from app.sampling.outcomes import Item, SampleOutcome, SampleToStore
from app.store.samples import covered_through
from connectors.base import ConnectorError, Measurement, SupportsHistory

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from app.tracker import Tracker

log = logging.getLogger(__name__)

BACKFILL_MAX_POINTS = 10_000


class AttemptTimedOut(ConnectorError):
    """The connector did not answer within the attempt timeout."""

    kind = "timeout"


def measure_with_timeout(
    pool: ThreadPoolExecutor | None, fn: Callable[[], Measurement], timeout: float | None
) -> Measurement:
    """Run `fn()` on `pool` (the connector's own threads) and stop waiting after `timeout` s.

    Python cannot kill a thread: a connector that overruns keeps its pool slot until its own
    HTTP timeout fires, which is what bounds the concurrency per source.
    """
    if pool is None or timeout is None:
        return fn()
    future = pool.submit(fn)
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        raise AttemptTimedOut(f"no answer within {timeout:g} s") from None


def write_outcome(tracker: Tracker, item: Item, *, session: Session | None = None) -> SampleOutcome:
    """Store one outcome through the writer that reads figures from the database, and commit.

    With `session` (an API request's), the write joins it and it is committed, so a request
    holds one connection. Any replica may call this for a manual Key Result.
    """
    if session is None:
        with Session(tracker.engine) as own:
            return write_outcome(tracker, item, session=own)
    try:
        (outcome,), raised = tracker.writer.write([item], session=session)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    if raised:
        tracker.notify_outbox()
    return outcome


def missed_since_stored(tracker: Tracker, kr_id: str, *, until_ts: int) -> list[int]:
    """Return the instants before `until_ts` to fill from history, judged from the database.

    Empty when the connector keeps no history. The first time, that is the period so far
    (at most `BACKFILL_MAX_POINTS` steps); after that, the gap since the newest sample.
    """
    entry = tracker.entries[kr_id]
    if entry.connector is None or entry.schedule is None:
        return []
    if not isinstance(tracker.connector(entry.connector), SupportsHistory):
        return []
    with Session(tracker.engine) as session:
        covered = covered_through(session, {kr_id: entry.connector}).get(kr_id)
    return missed_instants(
        entry.schedule,
        covered_through=covered,
        period_start=int(entry.objective.period_bounds()[0].timestamp()),
        until=until_ts,
        limit=BACKFILL_MAX_POINTS,
    )


def fetch_backfill(tracker: Tracker, kr_id: str, *, instants: Sequence[int]) -> list[Measurement]:
    """Return the connector's history at `instants` (one range query; no point without data)."""
    entry = tracker.entries[kr_id]
    assert entry.connector is not None and entry.schedule is not None and instants
    connector = tracker.connector(entry.connector)
    if not isinstance(connector, SupportsHistory):
        return []
    history = connector.history(
        tracker.loaded.queries[kr_id],
        start=datetime.fromtimestamp(instants[0], UTC),
        end=datetime.fromtimestamp(instants[-1], UTC),
        step_seconds=entry.schedule.approx_interval_seconds(),
    )
    wanted = set(instants)
    if entry.schedule.interval_seconds is None:  # cron: the range's steps are not its instants
        return [p for p in history if instants[0] <= p.at.timestamp() <= instants[-1]]
    return [p for p in history if int(p.at.timestamp()) in wanted]


def measure_key_result(
    tracker: Tracker,
    kr_id: str,
    *,
    scheduled_ts: int,
    pool: ThreadPoolExecutor | None = None,
    timeout: float | None = None,
    missed: Sequence[int] = (),
) -> SampleToStore:
    """Ask the Key Result's connector for its value at the scheduled instant (no storing).

    The `missed` instants (the period so far for a new Key Result, or a gap left by an
    outage) are fetched from the connector's history once the live query worked, so a new
    Key Result starts with a trend and an outage leaves no hole.
    """
    entry = tracker.entries[kr_id]
    if entry.connector is None:
        raise LookupError(f"Key Result {kr_id!r} has no data source to sample")
    query = tracker.loaded.queries[kr_id]
    at = datetime.fromtimestamp(scheduled_ts, UTC)
    started = time.perf_counter()
    measurement: Measurement | None = None
    error: ConnectorError | None = None
    try:
        connector = tracker.connector(entry.connector)
        measurement = measure_with_timeout(pool, lambda: connector.measure(query, at), timeout)
    except ConnectorError as exc:
        error = exc
    except Exception as exc:  # a bug in a connector must not stop the sampler
        log.exception("connector %s failed on Key Result %s", entry.connector, kr_id)
        error = ConnectorError(
            f"internal error in connector {entry.connector}: {type(exc).__name__}: {exc}"
        )
    duration_ms = int((time.perf_counter() - started) * 1000)
    history = None
    # Only once the live query worked: a broken query or an away source would fail again.
    if missed and error is None:
        try:
            history = fetch_backfill(tracker, kr_id, instants=missed)
        except Exception as exc:  # the live sample matters more; the gap is tried again
            log.warning("backfill of %s failed (will retry): %s", kr_id, exc)
    return SampleToStore(
        kr_id,
        scheduled_ts,
        entry.connector,
        measurement=measurement,
        error=error,
        duration_ms=duration_ms,
        backfill=history,
        backfill_through=missed[-1] if history is not None else None,
    )


def sample_key_result(
    tracker: Tracker,
    kr_id: str,
    *,
    scheduled_ts: int,
    pool: ThreadPoolExecutor | None = None,
    timeout: float | None = None,
    backfill: bool = True,
) -> SampleOutcome:
    """Measure one Key Result at its scheduled instant, store what happened, and return it.

    With `backfill`, instants missed since the newest stored sample are filled from the
    connector's history too.
    """
    missed = missed_since_stored(tracker, kr_id, until_ts=scheduled_ts) if backfill else []
    item = measure_key_result(
        tracker, kr_id, scheduled_ts=scheduled_ts, pool=pool, timeout=timeout, missed=missed
    )
    return tracker.recorder.record(item)


def store_manual_value(
    tracker: Tracker,
    *,
    kr_id: str,
    ts: int,
    value: float,
    numerator: float | None = None,
    denominator: float | None = None,
    note: str | None = None,
    session: Session | None = None,
) -> SampleOutcome:
    """Store a value a person posted, as a sample of the manual source, and re-evaluate.

    A value already stored at `ts` is never replaced: `ValueAlreadyStored` is raised, so
    two people posting in the same second cannot both be told their value was kept.
    """
    measurement = Measurement(
        value=value,
        at=datetime.fromtimestamp(ts, UTC),
        numerator=numerator,
        denominator=denominator,
        details={"note": note} if note else {},
    )
    item = SampleToStore(
        kr_id, ts, "manual", measurement=measurement, duration_ms=0, keep_existing=True
    )
    return write_outcome(tracker, item, session=session)
