"""Sample a Key Result: ask its connector, store the sample or the error, re-evaluate.

This is the one place where connector errors become data: a failed attempt is stored with
its kind and reason and never as a number; the Key Result's status then says why.
Polled Key Results are stored through the tracker's recorder (`app.recorder`); values people
post for manual Key Results go through `store_outcome`, which reads the database each time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime

from sqlmodel import Session, col, func, select

from app.alerts import raise_alerts
from app.evaluation import evaluate_key_result
from app.live_store import SampleOutcome, SampleToStore
from app.models import KeyResult, Objective, Sample, SamplingAttempt
from app.store import add_attempt, bump_data_version, lock_key_results, upsert_sample
from app.tracker import Tracker
from connectors.base import ConnectorError, Measurement, SupportsHistory

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


def store_outcome(
    tracker: Tracker,
    *,
    kr_id: str,
    scheduled_ts: int,
    measurement: Measurement | None,
    error: ConnectorError | None,
    source: str,
    duration_ms: int,
) -> SampleOutcome:
    """Write the attempt (and the sample if any), re-evaluate, commit in one transaction."""
    now = tracker.now()
    with Session(tracker.engine) as session:
        lock_key_results(session.connection(), [kr_id])
        kr = session.get(KeyResult, kr_id)
        if kr is None:
            raise LookupError(f"Key Result {kr_id!r} is not in the database (sync first)")
        objective = session.get(Objective, kr.objective_id)
        assert objective is not None
        add_attempt(
            session,
            SamplingAttempt(
                key_result_id=kr_id,
                scheduled_ts=scheduled_ts,
                attempted_ts=now,
                ok=error is None,
                error_kind=error.kind if error else None,
                error_message=error.reason if error else None,
                duration_ms=duration_ms,
            ),
        )
        if measurement is not None:
            upsert_sample(
                session,
                key_result_id=kr_id,
                ts=scheduled_ts,
                value=measurement.value,
                numerator=measurement.numerator,
                denominator=measurement.denominator,
                source=source,
                details=measurement.details or None,
                recorded_ts=now,
            )
        session.flush()
        evaluation = evaluate_key_result(
            session, kr, objective, now_ts=now, thresholds=tracker.thresholds
        )
        deliveries = raise_alerts(
            session,
            tracker.routing,
            kr=kr,
            objective=objective,
            evaluation=evaluation,
            now_ts=now,
            sample_ts=scheduled_ts if measurement is not None else None,
        )
        session.flush()
        bump_data_version(session.connection(), key_results=[kr_id])
        session.commit()
    if deliveries:
        tracker.notify_outbox()
    return SampleOutcome(
        key_result_id=kr_id,
        scheduled_ts=scheduled_ts,
        value=measurement.value if measurement else None,
        error_kind=error.kind if error else None,
        error=error.reason if error else None,
        status=evaluation.status.value,
        status_reason=evaluation.reason,
    )


def fetch_backfill(tracker: Tracker, kr_id: str, *, until_ts: int) -> list[Measurement] | None:
    """Return the history to fill a new Key Result's period with, up to `until_ts`.

    None when there is nothing to do (no history support, or backfill already done); an
    empty list when the period already has samples (the recorder then marks it done).
    """
    entry = tracker.entries[kr_id]
    if entry.connector is None or entry.schedule is None:
        return None
    connector = tracker.connector(entry.connector)
    if not isinstance(connector, SupportsHistory):
        return None
    if tracker.recorder.backfill_done(kr_id, entry.connector):
        return None
    start = int(entry.objective.period_bounds()[0].timestamp())
    with Session(tracker.engine) as session:
        existing = session.exec(
            select(func.count()).where(
                Sample.key_result_id == kr_id, col(Sample.ts) >= start, col(Sample.ts) <= until_ts
            )
        ).one()
    step = entry.schedule.approx_interval_seconds()
    instants = entry.schedule.instants_between(
        max(start, until_ts - step * BACKFILL_MAX_POINTS), until_ts, limit=BACKFILL_MAX_POINTS
    )
    if existing or not instants:
        return []
    return connector.history(
        tracker.loaded.queries[kr_id],
        start=datetime.fromtimestamp(instants[0], UTC),
        end=datetime.fromtimestamp(instants[-1], UTC),
        step_seconds=step,
    )


def measure_key_result(
    tracker: Tracker,
    kr_id: str,
    *,
    scheduled_ts: int,
    pool: ThreadPoolExecutor | None = None,
    timeout: float | None = None,
    backfill: bool = True,
) -> SampleToStore:
    """Ask the Key Result's connector for its value at the scheduled instant (no storing).

    The first time, the period so far is fetched from the connector's history too (when it
    has one), so a new Key Result starts with a baseline and a trend.
    """
    entry = tracker.entries[kr_id]
    if entry.connector is None:
        raise LookupError(f"Key Result {kr_id!r} has no data source to sample")
    query = tracker.loaded.queries[kr_id]
    at = datetime.fromtimestamp(scheduled_ts, UTC)
    started = time.perf_counter()
    measurement: Measurement | None = None
    error: ConnectorError | None = None
    history = None
    if backfill:
        try:
            history = fetch_backfill(tracker, kr_id, until_ts=scheduled_ts - 1)
        except Exception as exc:  # the live sample matters more; backfill is tried again next time
            log.warning("backfill of %s failed (will retry): %s", kr_id, exc)
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
    return SampleToStore(
        kr_id,
        scheduled_ts,
        entry.connector,
        measurement=measurement,
        error=error,
        duration_ms=int((time.perf_counter() - started) * 1000),
        backfill=history,
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
    """Measure one Key Result at its scheduled instant, store what happened, and return it."""
    item = measure_key_result(
        tracker, kr_id, scheduled_ts=scheduled_ts, pool=pool, timeout=timeout, backfill=backfill
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
) -> SampleOutcome:
    """Store a value a person posted, as a sample of the manual source, and re-evaluate."""
    measurement = Measurement(
        value=value,
        at=datetime.fromtimestamp(ts, UTC),
        numerator=numerator,
        denominator=denominator,
        details={"note": note} if note else {},
    )
    return store_outcome(
        tracker,
        kr_id=kr_id,
        scheduled_ts=ts,
        measurement=measurement,
        error=None,
        source="manual",
        duration_ms=0,
    )
