"""The progress engine: from a Key Result's definition and samples to progress, status and score.

Pure functions over plain data with an explicit `now`: no database, no HTTP, no clock.
All times are integer UNIX seconds (UTC). No NaN or infinity ever leaves this module:
every number in an `Evaluation` is finite or None.

Rules (documented in the README as well):
- increase/decrease: progress = (current − baseline) / (target − baseline); it may exceed 1
  or go below 0. The end-of-period score is progress clamped to 0.0–1.0.
- at_least/at_most/within: progress = the share of the period's samples inside the band;
  the score is that share.
- expected progress grows linearly from 0 at the Key Result's start (the period's start,
  or later for a Key Result added mid-period) to 1 at the period's end.
- forecast: a trend line once the samples cover enough of that span (`HistoryRule`),
  kept within the values the quantity can take (`value_range`).
- status: see `_status_for_linear` and `_status_for_band`.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from app.core.aggregates import aggregate_value
from app.core.domain import SOURCE_AWAY_KINDS, Status
from app.core.forecast import HistoryRule, deadline_forecast
from app.core.inputs import Evaluation, KeyResultSpec, Thresholds
from app.core.quantities import holding
from app.core.reading import band_bounds, cutoff_ts
from app.core.reason_text import ago_text, day_text, fmt, negative_zero, pct
from app.core.series import LastAttempt, SampleView

if TYPE_CHECKING:
    from collections.abc import Sequence


def finite_or_none(value: float | None) -> float | None:
    """Return `value` if it is a finite number, else None (the guard against NaN)."""
    return value if value is not None and math.isfinite(value) else None


def clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    """Return `value` limited to [low, high]."""
    return max(low, min(high, value))


def period_score(progress: float | None) -> float | None:
    """Return the 0.0–1.0 score of a progress figure: progress clamped (None stays None)."""
    return None if progress is None else clamp(progress)


def resolve_target(spec: KeyResultSpec, baseline: float | None) -> float | None:
    """Return the absolute target: the number given, or baseline × (1 + relative change)."""
    if spec.relative_target is not None:
        if baseline is None:
            return None
        return finite_or_none(baseline * (1 + spec.relative_target))
    return finite_or_none(spec.target)


def linear_progress(*, baseline: float, target: float, current: float) -> float | None:
    """Return (current − baseline) / (target − baseline), or None when undefined."""
    span = target - baseline
    if span == 0 or not math.isfinite(span):
        return None
    return finite_or_none((current - baseline) / span)


def in_band(spec: KeyResultSpec, value: float) -> bool:
    """Return whether `value` satisfies a band Key Result."""
    low, high = band_bounds(spec)
    return (low is None or value >= low) and (high is None or value <= high)


def expected_progress(spec: KeyResultSpec, now: int) -> float:
    """Return the share of the period elapsed at `now`, in 0.0–1.0."""
    length = spec.period_end - spec.period_start
    return clamp((now - spec.period_start) / length) if length > 0 else 1.0


def view_from_points(
    spec: KeyResultSpec,
    points: Sequence[tuple[int, float]],
    *,
    now: int,
    thresholds: Thresholds = Thresholds(),
) -> SampleView:
    """Build the SampleView the store would load, from a plain sorted list of points."""
    cutoff = cutoff_ts(spec, now)
    kept = [(t, v) for t, v in points if spec.period_start <= t <= cutoff and math.isfinite(v)]
    window: list[float] = []
    if spec.aggregate_window is not None:
        window = [v for t, v in kept if cutoff - spec.aggregate_window < t]
    inside = sum(1 for _, v in kept if in_band(spec, v)) if spec.direction.is_band else 0
    return SampleView(
        first=kept[0] if kept else None,
        recent=kept[-max(thresholds.forecast_points, 1) :],
        window=window,
        in_band=inside,
        total=len(kept),
    )


def current_value(spec: KeyResultSpec, view: SampleView) -> tuple[float, int] | None:
    """Return (value, ts) of the current value: the last point, or the window's aggregate."""
    if not view.recent:
        return None
    last_ts = view.recent[-1][0]
    if spec.aggregate is None or spec.aggregate_window is None:
        return view.recent[-1][1], last_ts
    if not view.window:
        return None
    return aggregate_value(spec.aggregate, view.window), last_ts


def _status_for_linear(
    spec: KeyResultSpec, thresholds: Thresholds, progress: float, expected: float
) -> tuple[Status, str]:
    """Compare progress with the linear expectation; never off track inside the grace period."""
    if progress >= 1:
        return Status.ACHIEVED, "target reached"
    behind = expected - progress
    summary = f"{pct(progress)} of the way with {pct(expected)} of the period gone"
    if behind > thresholds.off_track_behind and expected >= thresholds.grace_fraction:
        return Status.OFF_TRACK, f"{summary} ({pct(behind)} behind)"
    if behind > thresholds.at_risk_behind:
        return Status.AT_RISK, f"{summary} ({pct(behind)} behind)"
    return Status.ON_TRACK, summary


def _status_for_band(thresholds: Thresholds, share: float, elapsed: float) -> tuple[Status, str]:
    """On track when the share in band reaches `band_on_track_share`; off track well below it.

    Like linear Key Results, never off track inside the grace period at the start.
    """
    summary = f"{pct(share)} of samples inside the band"
    if share >= thresholds.band_on_track_share:
        return Status.ON_TRACK, summary
    in_grace = elapsed < thresholds.grace_fraction
    if share < thresholds.band_on_track_share - thresholds.off_track_behind and not in_grace:
        return Status.OFF_TRACK, f"{summary} (aim: {pct(thresholds.band_on_track_share)})"
    return Status.AT_RISK, f"{summary} (aim: {pct(thresholds.band_on_track_share)})"


_NUMBERS = ("current_value", "baseline", "target", "progress", "expected_progress", "score")
_FORECAST_NUMBERS = ("value", "low", "high", "slope_per_day")


def _without_negative_zero(result: Evaluation) -> Evaluation:
    """Return `result` with every -0.0 made 0.0 (itself when there is none, the usual case)."""
    changes: dict[str, object] = {
        name: 0.0 for name in _NUMBERS if negative_zero(getattr(result, name))
    }
    forecast = result.forecast
    if forecast is not None:
        fixed = {n: 0.0 for n in _FORECAST_NUMBERS if negative_zero(getattr(forecast, n))}
        if fixed:
            changes["forecast"] = replace(forecast, **fixed)  # type: ignore[arg-type]
    return replace(result, **changes) if changes else result  # type: ignore[arg-type]


def evaluate(
    spec: KeyResultSpec,
    view: SampleView,
    *,
    now: int,
    last_attempt: LastAttempt | None = None,
    thresholds: Thresholds = Thresholds(),
) -> Evaluation:
    """Evaluate a Key Result at `now` from the view of its samples in the period."""
    # The one place numbers leave the engine: the API, stored rows and payloads all agree.
    return _without_negative_zero(
        _evaluate(spec, view, now=now, last_attempt=last_attempt, thresholds=thresholds)
    )


def _evaluate(
    spec: KeyResultSpec,
    view: SampleView,
    *,
    now: int,
    last_attempt: LastAttempt | None,
    thresholds: Thresholds,
) -> Evaluation:
    closed = now >= spec.period_end
    cutoff = cutoff_ts(spec, now)
    baseline = finite_or_none(spec.baseline)
    if spec.baseline_from_first_sample:
        baseline = finite_or_none(view.first[1]) if view.first else None
    target = resolve_target(spec, baseline)
    if now < spec.period_start:
        reason = f"period starts {day_text(spec.period_start)}"
        return Evaluation(Status.NOT_STARTED, reason, baseline=baseline, target=target)

    overflowed = False
    try:
        current = current_value(spec, view)
    except OverflowError:  # finite samples whose sum overflows a float
        current, overflowed = None, True
    except ValueError:
        current = None
    value, value_ts = current if current else (None, None)
    expected = expected_progress(spec, cutoff)
    progress: float | None = None
    if spec.direction.is_band:
        progress = view.in_band / view.total if view.total else None
    elif value is not None and baseline is not None and target is not None:
        progress = linear_progress(baseline=baseline, target=target, current=value)
    forecast, forecast_reason = None, None
    if not spec.direction.is_band and not closed:
        forecast, forecast_reason = deadline_forecast(
            view.recent,
            first_ts=view.first[0] if view.first else None,
            start=spec.period_start,
            end=spec.period_end,
            bounds=holding(spec.value_range, baseline, target),
            rule=HistoryRule(thresholds.forecast_min_days, thresholds.forecast_min_share),
            max_points=thresholds.forecast_points,
        )
    result = Evaluation(
        Status.NO_DATA,
        "",
        current_value=finite_or_none(value),
        # progress may overflow to ±inf for extreme inputs: finite_or_none keeps NaN/inf out.
        current_ts=value_ts,
        baseline=baseline,
        target=target,
        progress=finite_or_none(progress),
        expected_progress=None if spec.direction.is_band else expected,
        forecast=forecast,
        forecast_reason=forecast_reason,
    )

    if closed:
        score = period_score(progress)
        reason = f"period ended {day_text(spec.period_end - 1)}; " + (
            f"final score {score + 0.0:.2f}" if score is not None else "no data to score"
        )
        return replace(result, status=Status.CLOSED, reason=reason, score=score)
    last_ts = view.recent[-1][0] if view.recent else None
    interval = spec.interval_seconds or 0
    stale = bool(interval and last_ts is not None)
    stale = stale and now - (last_ts or 0) > thresholds.stale_after_intervals * interval
    stale_reason = (
        f"last sample {ago_text(now - (last_ts or 0))} ago; expected every {ago_text(interval)}"
    )
    if last_attempt and not last_attempt.ok and (last_ts is None or last_attempt.ts > last_ts):
        why = last_attempt.reason or "unknown error"
        if stale and last_attempt.kind in SOURCE_AWAY_KINDS:
            # The source is away, not the query wrong: the data is old, and this says why.
            return replace(result, status=Status.STALE, reason=f"{stale_reason}; {why}")
        failures = max(last_attempt.consecutive_failures, 1)
        reason = f"last {failures} attempt(s) failed: {why}"
        return replace(result, status=Status.ERROR, reason=reason)
    if last_ts is None:
        return replace(result, reason="no samples yet in this period")
    if stale:
        return replace(result, status=Status.STALE, reason=stale_reason)
    if progress is None:
        if target is None:
            why = "no target to measure against"
        elif baseline is None:
            why = 'no baseline: set baseline in the config or use "first_sample"'
        elif value is None and overflowed:
            why = (
                f"the {spec.aggregate} of the samples in the "
                f"{ago_text(spec.aggregate_window or 0)} aggregation window "
                "is beyond the range of a 64-bit float"
            )
        elif value is None:
            why = f"no samples in the {ago_text(spec.aggregate_window or 0)} aggregation window"
        elif baseline == 0 and spec.relative_target is not None:
            why = (
                f"the baseline is 0, so a relative target ({spec.relative_target * 100:+g}%) "
                "is 0 too and progress is undefined: give an absolute target"
            )
        else:
            why = "progress is undefined (target equals baseline)"
        return replace(result, reason=why)
    if spec.direction.is_band:
        status, reason = _status_for_band(thresholds, progress, expected)
    else:
        status, reason = _status_for_linear(spec, thresholds, progress, expected)
        reason = f"{fmt(value)} vs target {fmt(target)} from {fmt(baseline)}: {reason}"
    return replace(result, status=status, reason=reason)
