"""The one writer of a Key Result's outcomes: store, evaluate, run the alert rules, commit.

Every outcome of a Key Result goes through `KeyResultWriter.write`, in one transaction, on
every backend: a polled sample and its backfilled history, a failed attempt, a value a
person posted, a corrected or deleted value, a re-evaluation as time passes. What differs
between a polled Key Result (its figures remembered in memory) and a manual one (any
replica may write; figures read each time) is only where its figures come from
(`app.sampling.figures.FigureSource`). `app.sampling.recorder` decides when the sampler's
outcomes are written; `app.sampling.measure` writes the others.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from app.alerts.routing import AlertRouting, state_to_json, step_alerts
from app.core.evaluation import evaluation_columns
from app.core.progress import evaluate
from app.core.reading import view_request
from app.core.series import next_attempt
from app.sampling.figures import FigureSource, KeyResultFigures, alert_references, sample_view
from app.sampling.outcomes import (
    Item,
    Reevaluation,
    SampleOutcome,
    SamplesEdit,
    SampleToStore,
    ValueAlreadyStored,
    outcome_of,
    redacted,
)
from app.store.attempts import insert_attempts
from app.store.key_results import list_key_results, lock_key_results, save_key_result_states
from app.store.outbox import insert_deliveries
from app.store.run_state import save_alert_states, save_connector_state
from app.store.samples import (
    BACKFILLED_KEY,
    insert_sample_if_absent,
    load_series,
    sample_row,
    upsert_samples,
)
from app.store.versions import bump_data_version

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

    from sqlalchemy import Engine

    from app.core.alert_rules import AlertState
    from app.core.inputs import Evaluation, Thresholds
    from app.core.redaction import Redactor

log = logging.getLogger(__name__)


class KeyResultWriter:
    """Stores Key Results' outcomes, evaluates them and runs their alert rules, in one go."""

    def __init__(
        self,
        engine: Engine,
        *,
        figures: FigureSource,
        now: Callable[[], int],
        thresholds: Thresholds,
        routing: AlertRouting | None,
        redactor: Redactor,
    ) -> None:
        """`routing` None: alert rules are not run (a status printed by the CLI)."""
        self.engine = engine
        self.figures = figures
        self.now = now
        self.thresholds = thresholds
        self.routing = routing
        self.redactor = redactor

    def write(
        self, items: Sequence[Item], *, session: Session | None = None
    ) -> tuple[list[SampleOutcome], bool]:
        """Store `items` in one transaction; return their outcomes and whether alerts were raised.

        With `session` (an API request's), the write joins its transaction and the caller
        commits, so a request holds one connection; otherwise the writer commits. On an
        exception nothing is committed and the remembered figures of the items' Key Results
        are dropped (memory may be ahead of the rolled-back rows).
        """
        now = self.now()
        items = [redacted(i, self.redactor) if isinstance(i, SampleToStore) else i for i in items]
        try:
            if session is not None:
                return self._write_in(session, items, now)
            with self.engine.begin() as connection:
                with Session(bind=connection, expire_on_commit=False) as own:
                    return self._write_in(own, items, now)
        except BaseException:
            self.figures.forget([item.kr_id for item in items])
            raise

    def _write_in(
        self, session: Session, items: Sequence[Item], now: int
    ) -> tuple[list[SampleOutcome], bool]:
        """Write the rows and evaluations of `items` in `session`'s transaction."""
        connection = session.connection()
        kr_ids = list(dict.fromkeys(item.kr_id for item in items))
        # Writers of one Key Result queue here (PostgreSQL), so each evaluates with the
        # samples the one before it committed; SQLite serialises writers anyway.
        lock_key_results(connection, kr_ids)
        samples = [i for i in items if isinstance(i, SampleToStore)]
        self._change_stored_samples(session, items, now)
        held = {kr_id: self.figures.figures(session, kr_id) for kr_id in kr_ids}
        self._insert(session, samples, now)
        updates: list[dict[str, Any]] = []
        alert_rows: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        outcomes = []
        for item in items:
            figures = held[item.kr_id]
            sample_ts = self._apply(session, figures, item, now)
            result = self._evaluate(session, figures, now)
            columns = evaluation_columns(
                result, frozen_score=figures.final_score, attempt=figures.last_attempt, now_ts=now
            )
            updates.append({"kr_id": item.kr_id, **columns})
            if self.routing is not None and item.kr_id in self.routing.policies:
                state, rows = self._step_alerts(session, figures, result, now, sample_ts)
                # The row's updated_ts says when the rules' state last changed.
                if state != figures.alert_state or not figures.alert_state_saved:
                    alert_rows.append(
                        {
                            "key_result_id": item.kr_id,
                            "state": state_to_json(state),
                            "updated_ts": now,
                        }
                    )
                figures.alert_state, figures.alert_state_saved = state, True
                deliveries += rows
            figures.final_score = columns["final_score"]
            outcomes.append(outcome_of(item, result))
        save_key_result_states(connection, updates)
        save_alert_states(connection, alert_rows)
        insert_deliveries(connection, deliveries)
        # Once per transaction, last (see the store's docstring).
        bump_data_version(connection, key_results=kr_ids)
        return outcomes, bool(deliveries)

    def _change_stored_samples(self, session: Session, items: Sequence[Item], now: int) -> None:
        """Write backfilled history and apply edits, before figures are read.

        History only fills holes: a sample already stored (a live one) is kept as it is.
        Remembered figures of those Key Results are dropped (read again with the new rows).
        """
        connection = session.connection()
        for item in items:
            if isinstance(item, SamplesEdit):
                item.apply(session)
                session.flush()
                self.figures.forget([item.kr_id])
            if not isinstance(item, SampleToStore) or item.backfill is None:
                continue
            upsert_samples(
                connection,
                [
                    sample_row(
                        key_result_id=item.kr_id,
                        ts=int(point.at.timestamp()),
                        value=point.value,
                        numerator=point.numerator,
                        denominator=point.denominator,
                        source=f"{item.source} (backfill)",
                        details=point.details or None,
                        recorded_ts=now,
                    )
                    for point in item.backfill
                ],
                keep_existing=True,
            )
            through = item.backfill_through
            save_connector_state(
                connection,
                connector=item.source,
                key=BACKFILLED_KEY.format(kr_id=item.kr_id),
                value={
                    "ts": now,
                    "points": len(item.backfill),
                    "through": through if through is not None else item.scheduled_ts - 1,
                },
                updated_ts=now,
            )
            self.figures.forget([item.kr_id])

    @staticmethod
    def _insert(session: Session, samples: Sequence[SampleToStore], now: int) -> None:
        """Insert the attempts and their samples (a kept sample refuses a second value)."""
        connection = session.connection()
        rows = [
            (
                s,
                sample_row(
                    key_result_id=s.kr_id,
                    ts=s.scheduled_ts,
                    value=s.measurement.value,
                    numerator=s.measurement.numerator,
                    denominator=s.measurement.denominator,
                    source=s.source,
                    details=s.measurement.details or None,
                    recorded_ts=now,
                ),
            )
            for s in samples
            if s.measurement is not None
        ]
        for s, row in rows:
            if s.keep_existing and not insert_sample_if_absent(connection, row):
                raise ValueAlreadyStored(s.kr_id, s.scheduled_ts)
        upsert_samples(connection, [row for s, row in rows if not s.keep_existing])
        insert_attempts(
            connection,
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

    def _apply(
        self, session: Session, figures: KeyResultFigures, item: Item, now: int
    ) -> int | None:
        """Count the item's attempt and sample in the figures; return the new sample's time."""
        if isinstance(item, SamplesEdit):
            return item.ts
        if not isinstance(item, SampleToStore):
            return None
        figures.last_attempt = next_attempt(
            figures.last_attempt,
            ts=now,
            ok=item.error is None,
            reason=item.error.reason if item.error else None,
            kind=item.error.kind if item.error else None,
        )
        if item.measurement is None:
            return None
        if not figures.series.append(item.scheduled_ts, item.measurement.value):
            # An older instant rewritten: count again from the rows (which include it).
            figures.series = load_series(session, figures.kr.id, figures.series.emptied())
        return item.scheduled_ts

    def _evaluate(self, session: Session, figures: KeyResultFigures, now: int) -> Evaluation:
        request = view_request(figures.spec, now_ts=now, thresholds=self.thresholds)
        view = sample_view(session, figures.kr.id, figures.series, request)
        return evaluate(
            figures.spec,
            view,
            now=now,
            last_attempt=figures.last_attempt,
            thresholds=self.thresholds,
        )

    def _step_alerts(
        self,
        session: Session,
        figures: KeyResultFigures,
        result: Evaluation,
        now: int,
        sample_ts: int | None,
    ) -> tuple[AlertState, list[dict[str, Any]]]:
        assert self.routing is not None
        previous = best = None
        if sample_ts is not None:
            previous, best = alert_references(session, figures.kr.id, figures.series, sample_ts)
        return step_alerts(
            self.routing,
            figures.alert_state,
            kr=figures.kr,
            objective=figures.objective,
            evaluation=result,
            now_ts=now,
            sample_ts=sample_ts,
            previous=previous,
            best=best,
        )

    def reevaluate_each(self, *, skip: Collection[str] = ()) -> int:
        """Re-evaluate every active Key Result but `skip`, each in its own transaction.

        One Key Result's failure cannot hold back the others' alerts. `skip` names Key
        Results another writer owns (the sampler's recorder re-evaluates those). One
        session serves them all (objectives stay in its identity map); each commits.
        """
        with Session(self.engine, expire_on_commit=False) as session:
            kr_ids = [kr.id for kr in list_key_results(session) if kr.id not in skip]
            session.commit()
            for kr_id in kr_ids:
                self.write([Reevaluation(kr_id)], session=session)
                session.commit()
        return len(kr_ids)
