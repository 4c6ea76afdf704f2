"""Compute the delivery metrics from plain event lists, and rate them against the DORA bands.

Everything here is pure: events in, numbers out, no HTTP, no clock. A window is the
half-open interval (start, end]: an event exactly at `start` belongs to the previous
window, one exactly at `end` (the sample instant) to this one, so consecutive samples
never count an event twice.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable

DAY_SECONDS = 86_400.0
WEEK_SECONDS = 7 * DAY_SECONDS

# Bands of the software delivery performance clusters of the *Accelerate State of DevOps
# Report 2023* (DORA, Google Cloud). That report gives ranges per cluster; we read them
# as inclusive bounds checked from the best level down. It gives "low" the same
# frequency and lead-time ranges as "medium", so "low" here means beyond medium's bound.
# For failure rates it gives each cluster's typical value (5 %, 10 %, 15 %, 64 %): we
# take the first three as upper bounds. Deployment duration is not a DORA metric.
DORA_TABLE_VERSION = "dora-2023"
_HIGHER_IS_BETTER = {"deployment_frequency"}
_BANDS: dict[str, list[tuple[str, float]]] = {
    # deployments per day: on demand (daily or more), once a day..once a week, ..once a month
    "deployment_frequency": [("elite", 1.0), ("high", 1 / 7), ("medium", 1 / 30)],
    # seconds: under a day, a day..a week, a week..a month
    "lead_time_for_changes": [
        ("elite", DAY_SECONDS),
        ("high", 7 * DAY_SECONDS),
        ("medium", 30 * DAY_SECONDS),
    ],
    "change_failure_rate": [("elite", 0.05), ("high", 0.10), ("medium", 0.15)],
    "rollback_rate": [("elite", 0.05), ("high", 0.10), ("medium", 0.15)],
}


@dataclass(frozen=True, slots=True)
class Window:
    """The trailing interval (start, end] a sample summarises."""

    start: datetime
    end: datetime

    @classmethod
    def ending(cls, end: datetime, seconds: int) -> Window:
        """Return the window of `seconds` that ends at `end`."""
        return cls(start=end - timedelta(seconds=seconds), end=end)

    def holds(self, instant: datetime) -> bool:
        """Return whether `instant` falls in (start, end]."""
        return self.start < instant <= self.end

    @property
    def seconds(self) -> float:
        """Return the window's length in seconds."""
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class Deploy:
    """One production deployment attempt, whatever GitHub object it came from.

    `at` is when it reached its outcome; `succeeded` means it went live; `failed` means
    its own status says it failed (the `deployment_status` failure signal). `created` is
    when it was created, so it can only ship changes merged before then (None: unknown,
    then `at` stands in for it).
    """

    key: str
    at: datetime
    succeeded: bool
    failed: bool
    created: datetime | None = None

    @property
    def started(self) -> datetime:
        """Return when the deployment was created (its outcome's time if unknown)."""
        return self.created if self.created is not None else self.at


@dataclass(frozen=True, slots=True)
class Result:
    """A metric's value (None when there was nothing to compute it from) and its counts."""

    value: float | None
    counted: int
    numerator: float | None = None
    denominator: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


def deployment_frequency(
    deploys: Iterable[Deploy], window: Window, per: Literal["day", "week"]
) -> Result:
    """Return successful deployments in the window per day (or week) of window length."""
    count = sum(1 for d in deploys if d.succeeded and window.holds(d.at))
    periods = window.seconds / (DAY_SECONDS if per == "day" else WEEK_SECONDS)
    return Result(value=count / periods, counted=count, numerator=count, denominator=periods)


def deployment_duration(seconds: list[float], statistic: Literal["median", "p90"]) -> Result:
    """Return the median or 90th percentile of deploy-run durations (seconds)."""
    if not seconds:
        return Result(value=None, counted=0)
    value = statistics.median(seconds) if statistic == "median" else percentile(seconds, 0.9)
    return Result(value=value, counted=len(seconds))


def percentile(values: list[float], fraction: float) -> float:
    """Return the `fraction` quantile, interpolating linearly between closest ranks.

    This is numpy's default ("linear") method: position (n - 1) * fraction in the sorted list.
    """
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def failure_rate(
    deploys: list[Deploy], signals: list[datetime], window: Window, *, use_status: bool
) -> Result:
    """Return the share of deployment attempts in the window that failed or were rolled back.

    A deployment fails if its own status failed (when `use_status`), or if a failure
    signal (rollback run, revert PR merge, incident issue) at instant t names it: a signal
    names the latest successful deployment at or before t, since the recordings cannot
    tell which deployment shipped the faulty change. A deployment counts once however many
    signals name it.
    """
    attempts = [d for d in deploys if (d.succeeded or d.failed) and window.holds(d.at)]
    if not attempts:
        return Result(value=None, counted=0)
    failed = {d.key for d in attempts if use_status and d.failed}
    live = sorted((d for d in deploys if d.succeeded), key=lambda d: d.at)
    for signal in signals:
        if signal > window.end:
            continue
        blamed = [d for d in live if d.at <= signal]
        if blamed and window.holds(blamed[-1].at):
            failed.add(blamed[-1].key)
    return Result(
        value=len(failed) / len(attempts),
        counted=len(attempts),
        numerator=len(failed),
        denominator=len(attempts),
    )


def lead_time(deploys: list[Deploy], merges: list[datetime], window: Window) -> Result:
    """Return the median seconds from a PR merge in the window to the deploy that shipped it.

    A PR reaches production at the earliest success of a deployment created at or after
    its merge (one created before cannot contain it), no later than the window's end.
    Commit containment (the deployment's sha holding the merge commit) would be exact but
    costs a compare request per PR and deployment; creation time is the necessary
    condition GitHub's listings already give. PRs merged in the window but not deployed by
    its end are left out and reported as `undeployed`.
    """
    live = sorted((d for d in deploys if d.succeeded), key=lambda d: d.at)
    waits: list[float] = []
    undeployed = 0
    for merged in merges:
        if not window.holds(merged):
            continue
        shipped = next((d.at for d in live if d.started >= merged and d.at <= window.end), None)
        if shipped is None:
            undeployed += 1
        else:
            waits.append((shipped - merged).total_seconds())
    value = statistics.median(waits) if waits else None
    return Result(value=value, counted=len(waits), details={"undeployed": undeployed})


def dora_band(metric: str, value: float, *, per: Literal["day", "week"] = "day") -> str | None:
    """Return the DORA performance level ("elite" .. "low") for a value, or None if unrated."""
    bands = _BANDS.get(metric)
    if bands is None:
        return None
    if metric == "deployment_frequency" and per == "week":
        value = value / 7
    for level, bound in bands:
        better = value >= bound if metric in _HIGHER_IS_BETTER else value <= bound
        if better:
            return level
    return "low"
