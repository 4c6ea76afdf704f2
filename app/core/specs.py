"""A Key Result's definition as the progress engine reads it, built once per sync.

Sync builds the engine's `KeyResultSpec` from the validated config model (`spec_of`) and
keeps it on the Key Result's row as plain numbers (`spec_to_json`). Every evaluation (the
writer, reports, the review) reads that back (`spec_from_json`): the target's percentage,
the baseline's `first_sample` and the aggregation window are parsed once, by the config.
The text columns `target_spec` and `baseline_spec` serve display and revisions only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.core.domain import Aggregate, Direction
from app.core.inputs import KeyResultSpec
from app.core.quantities import allowed_bounds
from connectors.durations import parse_duration

if TYPE_CHECKING:
    from app.config.objectives import KeyResultConfig
    from app.store.models import (
        KeyResult,  # the models import this module; the config is only a type here
    )

DAY = 86400


def measured_from(
    *, start_ts: int | None, first_seen_ts: int | None, period_start: int, period_end: int
) -> int:
    """Return when a Key Result is measured from: its own `start`, else the day sync first saw it.

    The day's 00:00 UTC, not the instant: samples are stamped with their scheduled instant,
    and today's earlier instant (a daily sample's 00:00) must count. Either counts only
    inside the period: a Key Result seen before its period starts (or present at the first
    sync, when first-seen is not recorded) is measured from the period's start.
    """
    own = start_ts if start_ts is not None else first_seen_ts
    if own is None:
        return period_start
    own -= own % DAY
    return min(max(own, period_start), period_end - 1)


def spec_of(
    kr: KeyResultConfig,
    *,
    measured_from_ts: int,
    period_end: int,
    interval_seconds: int | None,
) -> KeyResultSpec:
    """Build the engine's view of a Key Result from its validated config entry."""
    relative = kr.relative_target
    return KeyResultSpec(
        direction=kr.direction,
        period_start=measured_from_ts,
        period_end=period_end,
        baseline=kr.baseline if isinstance(kr.baseline, float | int) else None,
        # With no baseline given, progress is measured from the period's first sample.
        baseline_from_first_sample=kr.baseline in (None, "first_sample"),
        target=None if relative is not None or kr.target is None else float(kr.target),
        relative_target=relative,
        band=(float(kr.band[0]), float(kr.band[1])) if kr.band else None,
        interval_seconds=interval_seconds,
        aggregate=kr.aggregate.function if kr.aggregate else None,
        aggregate_window=parse_duration(kr.aggregate.window) if kr.aggregate else None,
        value_range=allowed_bounds(
            kr.unit,
            low=kr.range[0] if kr.range else None,
            high=kr.range[1] if kr.range else None,
        ),
    )


def spec_to_json(spec: KeyResultSpec) -> dict[str, Any]:
    """Return the spec as the JSON kept on the Key Result's row (numbers and names only)."""
    return {
        "direction": spec.direction.value,
        "period_start": spec.period_start,
        "period_end": spec.period_end,
        "baseline": spec.baseline,
        "baseline_from_first_sample": spec.baseline_from_first_sample,
        "target": spec.target,
        "relative_target": spec.relative_target,
        "band": list(spec.band) if spec.band else None,
        "interval_seconds": spec.interval_seconds,
        "aggregate": spec.aggregate.value if spec.aggregate else None,
        "aggregate_window": spec.aggregate_window,
        "value_range": list(spec.value_range),
    }


def spec_from_json(data: dict[str, Any]) -> KeyResultSpec:
    """Read back what `spec_to_json` kept (no text is parsed here)."""
    band = data["band"]
    low, high = data["value_range"]
    return KeyResultSpec(
        direction=Direction(data["direction"]),
        period_start=data["period_start"],
        period_end=data["period_end"],
        baseline=data["baseline"],
        baseline_from_first_sample=data["baseline_from_first_sample"],
        target=data["target"],
        relative_target=data["relative_target"],
        band=(band[0], band[1]) if band else None,
        interval_seconds=data["interval_seconds"],
        aggregate=Aggregate(data["aggregate"]) if data["aggregate"] else None,
        aggregate_window=data["aggregate_window"],
        value_range=(low, high),
    )


def stored_spec(kr: KeyResult) -> KeyResultSpec:
    """Return the definition sync kept on a Key Result's row (`spec_to_json`)."""
    if kr.spec is None:
        raise LookupError(f"Key Result {kr.id!r} has no definition yet (sync first)")
    return spec_from_json(kr.spec)
