"""How an evaluation reads the store and what it writes back: the writer's pure glue.

`view_request` says which slices of the samples evaluating a Key Result reads;
`evaluation_columns` turns the progress engine's result into the `key_results` state
columns the API shows. No I/O: `app.sampling.figures` reads, `app.sampling.writer` writes.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

from app.core.domain import Status
from app.core.forecast import Forecast
from app.core.inputs import Evaluation, Thresholds

if TYPE_CHECKING:
    from app.config.models import StatusConfig
    from app.core.series import LastAttempt


def thresholds_from(config: StatusConfig) -> Thresholds:
    """Return the engine's thresholds from the `[status]` section."""
    return Thresholds(**config.model_dump())


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
