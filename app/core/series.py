"""What the sampler remembers about a polled Key Result between two samples.

Re-reading a Key Result's period from the database for every sample (its first sample, the
recent points, band counts, the best value, the last attempts) cost more than the query to
the source itself (docs/benchmarks.md, section 2). The process that samples is the only
writer of a polled Key Result's samples, so it can keep those figures in memory and update
them as it writes. Pure data and functions: `app.sampling.figures` loads them,
`app.sampling.writer` uses and persists them.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

# Consecutive failures are counted up to this many (`store.last_attempt` reads that many rows).
FAILURE_STREAK_CAP = 20


@dataclass(frozen=True, slots=True)
class LastAttempt:
    """The most recent sampling attempt: whether it failed, when and why."""

    ts: int
    ok: bool
    reason: str | None = None
    consecutive_failures: int = 0
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class SampleView:
    """The samples evaluation needs, already cut to the period up to the evaluation instant.

    The store fills it with a few indexed queries instead of loading whole histories;
    `view_from_points` builds the same thing from a plain list.
    """

    first: tuple[int, float] | None = None
    recent: Sequence[tuple[int, float]] = ()
    window: Sequence[float] = ()
    in_band: int = 0
    total: int = 0


@dataclass(frozen=True, slots=True)
class InstantSummary:
    """The samples of the period up to one instant, as far as progress needs them."""

    at: int
    total: int
    in_band: int
    last: tuple[int, float] | None
    window: Sequence[float] = ()


@dataclass(frozen=True, slots=True)
class KeyResultInfo:
    """The fields of a Key Result's row that alerts quote (a whole row costs kilobytes)."""

    id: str
    title: str
    unit: str
    direction: str


@dataclass(frozen=True, slots=True)
class ObjectiveInfo:
    """The fields of an objective's row that alerts quote and read."""

    id: str
    title: str
    team: str | None


@dataclass(slots=True)
class SeriesSummary:
    """A Key Result's samples in its period, reduced to what evaluation and alert rules read.

    It holds the samples with `period_start <= ts < period_end`, as the database view does.
    `band` is the (low, high) counted as inside (None: no band counting, as for linear
    Key Results); `lower_is_better` says which end is the period's best value. The recent
    points are kept in two typed arrays (16 bytes a point instead of ~110 as tuples), which
    matters at 10,000 Key Results.
    """

    period_start: int
    period_end: int
    recent_size: int
    lower_is_better: bool
    band: tuple[float | None, float | None] | None = None
    first: tuple[int, float] | None = None
    in_band: int = 0
    total: int = 0
    best: float | None = None
    _recent_ts: array[int] = field(default_factory=lambda: array("q"))
    _recent_values: array[float] = field(default_factory=lambda: array("d"))

    @property
    def recent(self) -> list[tuple[int, float]]:
        """Return the latest `recent_size` samples, oldest first."""
        return list(zip(self._recent_ts, self._recent_values, strict=True))

    def keep_recent(self, points: list[tuple[int, float]]) -> None:
        """Set the recent points (oldest first) read from the database."""
        kept = points[-self.recent_size :]
        self._recent_ts = array("q", (t for t, _ in kept))
        self._recent_values = array("d", (v for _, v in kept))

    def in_period(self, ts: int) -> bool:
        """Return whether a sample at `ts` counts in this period."""
        return self.period_start <= ts < self.period_end

    def inside(self, value: float) -> bool:
        """Return whether `value` lies in the band (always False without band counting)."""
        if self.band is None:
            return False
        low, high = self.band
        return (low is None or value >= low) and (high is None or value <= high)

    def append(self, ts: int, value: float) -> bool:
        """Count a sample newer than every held one; False if it is not (the caller reloads).

        A sample outside the period changes nothing and is accepted.
        """
        if not self.in_period(ts):
            return True
        last = self.last_ts
        if last is not None and ts <= last:
            return False
        if self.first is None:
            self.first = (ts, value)
        self._recent_ts.append(ts)
        self._recent_values.append(value)
        if len(self._recent_ts) > self.recent_size:
            self._recent_ts.pop(0)
            self._recent_values.pop(0)
        if self.band is not None:
            self.total += 1
            self.in_band += self.inside(value)
        if self.best is None:
            self.best = value
        else:
            self.best = min(self.best, value) if self.lower_is_better else max(self.best, value)
        return True

    @property
    def last_ts(self) -> int | None:
        """Return the newest sample's time, or None."""
        return self._recent_ts[-1] if self._recent_ts else None

    def view(self, cutoff: int) -> SampleView | None:
        """Return the view for an evaluation up to `cutoff`, or None if samples lie after it.

        The window of aggregate Key Results is left empty: the recorder reads it.
        """
        last = self.last_ts
        if last is not None and last > cutoff:
            return None
        return SampleView(
            first=self.first, recent=self.recent, in_band=self.in_band, total=self.total
        )

    def references(self, sample_ts: int) -> tuple[float | None, float | None] | None:
        """Return (previous value, best value) for a sample at `sample_ts`, the alert references.

        The previous value is the newest held sample before `sample_ts`; the best is the best
        held value up to it. None when samples after `sample_ts` are held: the caller loads a
        summary up to `sample_ts` (`app.sampling.figures`) and asks it.
        """
        last = self.last_ts
        if last is not None and last > sample_ts:
            return None
        values = self._recent_values
        if last == sample_ts:
            previous = values[-2] if len(values) >= 2 else None
        else:  # no sample at `sample_ts` (a deleted value): the newest is the previous one
            previous = values[-1] if values else None
        return previous, self.best

    def emptied(self) -> SeriesSummary:
        """Return a summary of the same period and band holding no samples (to load into)."""
        return SeriesSummary(
            period_start=self.period_start,
            period_end=self.period_end,
            recent_size=self.recent_size,
            lower_is_better=self.lower_is_better,
            band=self.band,
        )


def next_attempt(
    previous: LastAttempt | None,
    *,
    ts: int,
    ok: bool,
    reason: str | None,
    kind: str | None = None,
) -> LastAttempt:
    """Return the last-attempt record after one more attempt, as `store.last_attempt` reads it."""
    failures = 0
    if not ok:
        streak = previous.consecutive_failures if previous is not None and not previous.ok else 0
        failures = min(streak + 1, FAILURE_STREAK_CAP)
    return LastAttempt(
        ts=ts,
        ok=ok,
        reason=None if ok else reason,
        consecutive_failures=failures,
        kind=None if ok else kind,
    )
