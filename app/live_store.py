"""One transaction of the sampler's writes, and what it remembers between them.

A polled Key Result's samples are written by one process only: the scheduler leader (or
`krtracker sample --once`, which takes the same lock). So `LiveStore` keeps, per Key
Result, what evaluation and the alert rules read (`LiveKeyResult`): it loads that from the
database the first time, then updates it as it writes, instead of re-reading the period for
every sample (docs/benchmarks.md, section 2). `app.recorder` decides when to write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, Engine
from sqlmodel import Session

from app.alert_rules import AlertState
from app.alerts import AlertRouting, references, state_from_json, state_to_json, step_alerts
from app.domain import Direction
from app.evaluation import counted_band, evaluation_columns, spec_from_rows, view_request
from app.live_state import KeyResultInfo, ObjectiveInfo, SeriesSummary, next_attempt
from app.models import AlertStateRow, Delivery, KeyResult, Objective
from app.progress import Evaluation, KeyResultSpec, LastAttempt, Thresholds, evaluate
from app.redaction import Redactor
from app.store import (
    BACKFILLED_KEY,
    bump_data_version,
    insert_attempts,
    last_attempt,
    load_sample_view,
    load_series,
    load_window,
    sample_row,
    save_alert_states,
    save_connector_state,
    save_key_result_states,
    upsert_samples,
)
from connectors.base import ConnectorError, Measurement


@dataclass(frozen=True)
class SampleToStore:
    """One sampling attempt's result: a measurement or the error, and any backfilled history.

    `backfill` is None when no history was fetched; a list (maybe empty) when it was, for
    the instants up to `backfill_through`, which the connector's state then records (so an
    empty history is not asked again after a restart).
    """

    kr_id: str
    scheduled_ts: int
    source: str
    measurement: Measurement | None = None
    error: ConnectorError | None = None
    duration_ms: int = 0
    backfill: Sequence[Measurement] | None = None
    backfill_through: int | None = None


@dataclass(frozen=True)
class Reevaluation:
    """Re-evaluate a Key Result without a new attempt (status moves with time)."""

    kr_id: str


@dataclass(frozen=True)
class SampleOutcome:
    """What one sampling attempt stored: a value, or an error kind and reason."""

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


@dataclass(slots=True)
class LiveKeyResult:
    """What the recorder remembers of one Key Result between samples."""

    kr: KeyResultInfo
    objective: ObjectiveInfo
    spec: KeyResultSpec
    series: SeriesSummary
    last_attempt: LastAttempt | None
    alert_state: AlertState
    alert_state_saved: bool
    final_score: float | None


Item = SampleToStore | Reevaluation


class _Transaction:
    """One batch's connection; an ORM session is opened on it only when a slow path reads."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """Return a session inside the batch's transaction (it sees the batch's writes)."""
        if self._session is None:
            self._session = Session(bind=self.connection, expire_on_commit=False)
        return self._session

    def close(self) -> None:
        """Close the session, if one was opened (the transaction is the connection's)."""
        if self._session is not None:
            self._session.close()


class LiveStore:
    """Writes batches of sampling outcomes, evaluating each Key Result from memory."""

    def __init__(
        self,
        engine: Engine,
        *,
        now: Callable[[], int],
        thresholds: Thresholds,
        routing: AlertRouting,
        redactor: Redactor,
    ) -> None:
        self.engine = engine
        self.now = now
        self.thresholds = thresholds
        self.routing = routing
        self.redactor = redactor
        self._live: dict[str, LiveKeyResult] = {}

    def forget(self, kr_ids: Sequence[str] | None = None) -> None:
        """Drop what is remembered of these Key Results (all when None): reload next time."""
        if kr_ids is None:
            self._live.clear()
        for kr_id in kr_ids or ():
            self._live.pop(kr_id, None)

    def write(self, items: Sequence[Item]) -> tuple[list[SampleOutcome], bool]:
        """Store `items` in one transaction; return their outcomes and whether alerts were raised.

        On an exception nothing is committed and the caller must `forget` the items' Key
        Results (memory may be ahead of the rolled-back rows).
        """
        now = self.now()
        items = [self.redacted(i) if isinstance(i, SampleToStore) else i for i in items]
        samples = [i for i in items if isinstance(i, SampleToStore)]
        with self.engine.begin() as connection:
            tx = _Transaction(connection)
            try:
                outcomes, deliveries = self._write_in(tx, items, samples, now)
            finally:
                tx.close()
        return outcomes, bool(deliveries)

    def redacted(self, item: SampleToStore) -> SampleToStore:
        """Return the item with configured secrets removed from its error and details.

        This is where the sampler's results become rows: what a source echoed (a token in
        an error body) must not reach `last_error`, status reasons, alerts or the API.
        """
        redactor = self.redactor
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

    def _write_in(
        self, tx: _Transaction, items: Sequence[Item], samples: Sequence[SampleToStore], now: int
    ) -> tuple[list[SampleOutcome], list[dict[str, Any]]]:
        """Write the batch's rows and evaluations in `tx`; return outcomes and outbox rows."""
        self._write_backfills(tx, samples, now)
        for kr_id in dict.fromkeys(i.kr_id for i in items):
            if kr_id not in self._live:
                self._live[kr_id] = self._load(tx.session, kr_id)
        insert_attempts(
            tx.connection,
            [
                {
                    "key_result_id": s.kr_id,
                    "scheduled_ts": s.scheduled_ts,
                    "attempted_ts": now,
                    "ok": s.error is None,
                    "error_kind": s.error.kind if s.error else None,
                    "error_message": s.error.reason if s.error else None,
                    "duration_ms": s.duration_ms,
                }
                for s in samples
            ],
        )
        upsert_samples(
            tx.connection,
            [
                sample_row(
                    key_result_id=s.kr_id,
                    ts=s.scheduled_ts,
                    value=s.measurement.value,
                    numerator=s.measurement.numerator,
                    denominator=s.measurement.denominator,
                    source=s.source,
                    details=s.measurement.details or None,
                    recorded_ts=now,
                )
                for s in samples
                if s.measurement is not None
            ],
        )
        updates: list[dict[str, Any]] = []
        alert_rows: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        outcomes = []
        for item in items:
            live = self._live[item.kr_id]
            sample_ts = self._apply(tx, live, item, now)
            result = self._evaluate(tx, live, now)
            columns = evaluation_columns(
                result, frozen_score=live.final_score, attempt=live.last_attempt, now_ts=now
            )
            updates.append({"kr_id": item.kr_id, **columns})
            if live.kr.id in self.routing.policies:
                state, rows = self._step_alerts(tx, live, result, now, sample_ts)
                # The row's updated_ts says when the rules' state last changed.
                if state != live.alert_state or not live.alert_state_saved:
                    alert_rows.append(
                        {
                            "key_result_id": live.kr.id,
                            "state": state_to_json(state),
                            "updated_ts": now,
                        }
                    )
                live.alert_state, live.alert_state_saved = state, True
                deliveries += rows
            live.final_score = columns["final_score"]
            outcomes.append(self._outcome(item, result))
        save_key_result_states(tx.connection, updates)
        save_alert_states(tx.connection, alert_rows)
        if deliveries:
            outbox = Delivery.__table__  # type: ignore[attr-defined]
            tx.connection.execute(outbox.insert(), deliveries)
        # Once per batch, last (see the store's docstring).
        bump_data_version(tx.connection, key_results=[item.kr_id for item in items])
        return outcomes, deliveries

    def _write_backfills(
        self, tx: _Transaction, samples: Sequence[SampleToStore], now: int
    ) -> None:
        """Write backfilled history and how far it reaches; the Key Result is reloaded after.

        History only fills holes: a sample already stored (a live one) is kept as it is.
        """
        for s in samples:
            if s.backfill is None:
                continue
            upsert_samples(
                tx.connection,
                [
                    sample_row(
                        key_result_id=s.kr_id,
                        ts=int(point.at.timestamp()),
                        value=point.value,
                        numerator=point.numerator,
                        denominator=point.denominator,
                        source=f"{s.source} (backfill)",
                        details=point.details or None,
                        recorded_ts=now,
                    )
                    for point in s.backfill
                ],
                keep_existing=True,
            )
            through = s.backfill_through if s.backfill_through is not None else s.scheduled_ts - 1
            save_connector_state(
                tx.connection,
                connector=s.source,
                key=BACKFILLED_KEY.format(kr_id=s.kr_id),
                value={"ts": now, "points": len(s.backfill), "through": through},
                updated_ts=now,
            )
            self._live.pop(s.kr_id, None)

    def _load(self, session: Session, kr_id: str) -> LiveKeyResult:
        """Read a Key Result's live state from the database (once per process and leadership)."""
        kr = session.get(KeyResult, kr_id)
        if kr is None:
            raise LookupError(f"Key Result {kr_id!r} is not in the database (sync first)")
        objective = session.get(Objective, kr.objective_id)
        assert objective is not None
        spec = spec_from_rows(kr, objective)
        empty = SeriesSummary(
            period_start=spec.period_start,
            period_end=spec.period_end,
            recent_size=self.thresholds.forecast_points,
            lower_is_better=spec.direction in (Direction.DECREASE, Direction.AT_MOST),
            band=counted_band(spec),
        )
        alert_row = session.get(AlertStateRow, kr_id)
        return LiveKeyResult(
            kr=KeyResultInfo(kr.id, kr.title, kr.unit, kr.direction),
            objective=ObjectiveInfo(objective.id, objective.title, objective.team),
            spec=spec,
            series=load_series(session, kr_id, empty),
            last_attempt=last_attempt(session, kr_id),
            alert_state=state_from_json(alert_row.state if alert_row else None),
            alert_state_saved=alert_row is not None,
            final_score=kr.final_score,
        )

    def _apply(self, tx: _Transaction, live: LiveKeyResult, item: Item, now: int) -> int | None:
        """Count the item's attempt and sample in memory; return the new sample's time."""
        if not isinstance(item, SampleToStore):
            return None
        live.last_attempt = next_attempt(
            live.last_attempt,
            ts=now,
            ok=item.error is None,
            reason=item.error.reason if item.error else None,
            kind=item.error.kind if item.error else None,
        )
        if item.measurement is None:
            return None
        if not live.series.append(item.scheduled_ts, item.measurement.value):
            # An older instant rewritten: count again from the rows (which include it).
            live.series = load_series(tx.session, live.kr.id, live.series)
        return item.scheduled_ts

    def _evaluate(self, tx: _Transaction, live: LiveKeyResult, now: int) -> Evaluation:
        request = view_request(live.spec, now_ts=now, thresholds=self.thresholds)
        view = live.series.view(request.cutoff)
        if view is None:  # samples after the evaluation instant: only the rows can say
            view = load_sample_view(tx.session, live.kr.id, request)
        elif request.window_start is not None:
            after = max(request.window_start, request.start - 1)
            view = replace(
                view, window=load_window(tx.session, live.kr.id, after=after, until=request.cutoff)
            )
        return evaluate(
            live.spec, view, now=now, last_attempt=live.last_attempt, thresholds=self.thresholds
        )

    def _step_alerts(
        self,
        tx: _Transaction,
        live: LiveKeyResult,
        result: Evaluation,
        now: int,
        sample_ts: int | None,
    ) -> tuple[AlertState, list[dict[str, Any]]]:
        previous = best = None
        if sample_ts is not None:
            known = live.series.references(sample_ts)
            previous, best = known or references(
                tx.session, live.kr, start=live.spec.period_start, sample_ts=sample_ts
            )
        return step_alerts(
            self.routing,
            live.alert_state,
            kr=live.kr,
            objective=live.objective,
            evaluation=result,
            now_ts=now,
            sample_ts=sample_ts,
            previous=previous,
            best=best,
        )

    @staticmethod
    def _outcome(item: Item, result: Evaluation) -> SampleOutcome:
        sample = item if isinstance(item, SampleToStore) else None
        error = sample.error if sample else None
        return SampleOutcome(
            key_result_id=item.kr_id,
            scheduled_ts=sample.scheduled_ts if sample else 0,
            value=sample.measurement.value if sample and sample.measurement else None,
            error_kind=error.kind if error else None,
            error=error.reason if error else None,
            status=result.status.value,
            status_reason=result.reason,
            backfilled=len(sample.backfill) if sample and sample.backfill else 0,
        )
