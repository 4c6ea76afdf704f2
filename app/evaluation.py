"""Re-evaluate a Key Result from the store and save its progress and status on its row.

The glue between the store and the pure progress engine: it builds the engine's inputs
from database rows, runs `progress.evaluate`, and writes the result back.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import fields
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from app.alerts import AlertRouting, raise_alerts
from app.config import StatusConfig
from app.domain import Aggregate, Direction, Status
from app.durations import parse_duration
from app.forecast import Forecast
from app.models import KeyResult, Objective
from app.progress import (
    Evaluation,
    KeyResultSpec,
    LastAttempt,
    Thresholds,
    band_bounds,
    cutoff_ts,
    evaluate,
)
from app.quantities import allowed_bounds
from app.store import (
    ViewRequest,
    bump_data_version,
    last_attempt,
    list_key_results,
    list_objectives,
    load_sample_view,
    lock_key_results,
)


def thresholds_from(config: StatusConfig) -> Thresholds:
    """Return the engine's thresholds from the `[status]` section."""
    return Thresholds(**config.model_dump())


def spec_from_rows(kr: KeyResult, objective: Objective) -> KeyResultSpec:
    """Build the engine's view of a Key Result from its synced database row."""
    relative = None
    target = None
    if kr.target_spec is not None:
        if kr.target_spec.endswith("%"):
            relative = float(kr.target_spec.rstrip("%").strip()) / 100.0
        else:
            target = float(kr.target_spec)
    baseline = None
    if kr.baseline_spec is not None and kr.baseline_spec != "first_sample":
        baseline = float(kr.baseline_spec)
    aggregate = kr.aggregate or {}
    band = (
        (kr.band_low, kr.band_high)
        if kr.band_low is not None and kr.band_high is not None
        else None
    )
    return KeyResultSpec(
        direction=Direction(kr.direction),
        period_start=kr.measured_from(objective),
        period_end=objective.period_end_ts,
        baseline=baseline,
        # With no baseline given, progress is measured from the period's first sample.
        baseline_from_first_sample=kr.baseline_spec in (None, "first_sample"),
        target=target,
        relative_target=relative,
        band=band,
        interval_seconds=kr.interval_seconds,
        aggregate=Aggregate(aggregate["function"]) if aggregate else None,
        aggregate_window=parse_duration(aggregate["window"]) if aggregate else None,
        value_range=allowed_bounds(kr.unit, low=kr.range_low, high=kr.range_high),
    )


def counted_band(spec: KeyResultSpec) -> tuple[float | None, float | None] | None:
    """Return the band whose samples are counted, or None (linear, or no target yet)."""
    if spec.direction.is_band and (spec.band or spec.target is not None):
        return band_bounds(spec)
    return None


def view_request(spec: KeyResultSpec, *, now_ts: int, thresholds: Thresholds) -> ViewRequest:
    """Return which slices of the samples evaluating `spec` at `now_ts` reads."""
    cutoff = cutoff_ts(spec, now_ts)
    return ViewRequest(
        start=spec.period_start,
        cutoff=cutoff,
        recent=thresholds.forecast_points,
        window_start=cutoff - spec.aggregate_window if spec.aggregate_window else None,
        band=counted_band(spec),
    )


# A shallow read of the forecast's plain numbers (`dataclasses.asdict` deep-copies).
_FORECAST_FIELDS = tuple(f.name for f in fields(Forecast))


def forecast_json(result: Evaluation) -> dict[str, Any] | None:
    """Return the stored forecast: its numbers, or `{"unavailable": why}` when there is none."""
    if result.forecast is not None:
        return {name: getattr(result.forecast, name) for name in _FORECAST_FIELDS}
    if result.forecast_reason is not None:
        return {"unavailable": result.forecast_reason}
    return None


def evaluation_columns(
    result: Evaluation, *, frozen_score: float | None, attempt: LastAttempt | None, now_ts: int
) -> dict[str, Any]:
    """Return the `key_results` state columns for an evaluation (what the API reads)."""
    score = result.score
    if result.status is Status.CLOSED and frozen_score is not None:
        # The end-of-period score is frozen the first time the period is seen closed.
        score = frozen_score
    failed = attempt is not None and not attempt.ok
    return {
        "status": result.status.value,
        "status_reason": result.reason,
        "current_value": result.current_value,
        "current_ts": result.current_ts,
        "baseline_value": result.baseline,
        "target_value": result.target,
        "progress": result.progress,
        "expected_progress": result.expected_progress,
        "forecast": forecast_json(result),
        "final_score": score,
        "last_error": attempt.reason if failed and attempt else None,
        "last_error_ts": attempt.ts if failed and attempt else None,
        "evaluated_ts": now_ts,
    }


def evaluate_key_result(
    session: Session,
    kr: KeyResult,
    objective: Objective,
    *,
    now_ts: int,
    thresholds: Thresholds,
) -> Evaluation:
    """Evaluate `kr` at `now_ts`, store the result on its row (caller commits) and return it."""
    spec = spec_from_rows(kr, objective)
    view = load_sample_view(
        session, kr.id, view_request(spec, now_ts=now_ts, thresholds=thresholds)
    )
    attempt = last_attempt(session, kr.id)
    result = evaluate(spec, view, now=now_ts, last_attempt=attempt, thresholds=thresholds)
    columns = evaluation_columns(
        result, frozen_score=kr.final_score, attempt=attempt, now_ts=now_ts
    )
    for name, value in columns.items():
        setattr(kr, name, value)
    session.add(kr)
    return result


def reevaluate_all(
    engine: Engine,
    *,
    thresholds: Thresholds,
    now_ts: int,
    routing: AlertRouting | None = None,
    skip: Collection[str] = (),
) -> int:
    """Re-evaluate every active Key Result at `now_ts` (and run alert rules); return how many.

    Each Key Result commits on its own, so one failure cannot hold back the others' alerts.
    `expire_on_commit=False` keeps those commits from reloading every row one by one.
    `skip` names Key Results another writer owns (the sampler's recorder re-evaluates those).
    """
    is_postgres = engine.dialect.name == "postgresql"
    with Session(engine, expire_on_commit=False) as session:
        objectives = {o.id: o for o in list_objectives(session, include_archived=True)}
        rows = [kr for kr in list_key_results(session) if kr.id not in skip]
        for kr in rows:
            lock_key_results(session.connection(), [kr.id])
            if is_postgres:
                session.refresh(kr)  # as committed once locked (another writer may have run)
            objective = objectives[kr.objective_id]
            result = evaluate_key_result(
                session, kr, objective, now_ts=now_ts, thresholds=thresholds
            )
            if routing is not None:
                raise_alerts(
                    session,
                    routing,
                    kr=kr,
                    objective=objective,
                    evaluation=result,
                    now_ts=now_ts,
                    sample_ts=None,
                )
            session.flush()
            bump_data_version(session.connection(), key_results=[kr.id])
            session.commit()
    return len(rows)
