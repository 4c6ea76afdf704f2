"""Where the writer finds a Key Result's figures: remembered between writes, or read each time.

Evaluating a Key Result and running its alert rules reads a few figures of its series (first
sample, recent points, band counts, best value), its last attempt and its alert state. The
writer (`app.sampling.writer`) is the same for every outcome; only where those figures come from
differs, behind `FigureSource`:

- `RememberedFigures`: a polled Key Result has one writer, the sampling process, so its
  figures are read once and then kept up to date in memory as it writes (reading the
  period for every sample cost more than the query to the source; docs/benchmarks.md §2).
- `FreshFigures`: a manual Key Result may be written by any replica's API, and the periodic
  re-evaluation runs beside them, so its figures are read from the database every time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from app.alerts.routing import state_from_json
from app.core.reading import ViewRequest, counted_band, view_request
from app.core.series import KeyResultInfo, ObjectiveInfo, SeriesSummary
from app.core.specs import spec_from_json
from app.store.attempts import last_attempt
from app.store.key_results import writer_row
from app.store.samples import load_series, load_window

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlmodel import Session

    from app.core.alert_rules import AlertState
    from app.core.inputs import KeyResultSpec, Thresholds
    from app.core.series import LastAttempt, SampleView


@dataclass(slots=True)
class KeyResultFigures:
    """What evaluation and the alert rules read of one Key Result, and the writer updates."""

    kr: KeyResultInfo
    objective: ObjectiveInfo
    spec: KeyResultSpec
    series: SeriesSummary
    last_attempt: LastAttempt | None
    alert_state: AlertState
    alert_state_saved: bool
    final_score: float | None


class FigureSource(Protocol):
    """Gives the writer a Key Result's figures inside its transaction."""

    def figures(self, session: Session, kr_id: str) -> KeyResultFigures:
        """Return the figures of `kr_id`; the writer updates them as it writes."""
        ...

    def forget(self, kr_ids: Sequence[str] | None = None) -> None:
        """Drop what is held of these Key Results (all when None): rows changed elsewhere."""
        ...


class FreshFigures:
    """Reads a Key Result's figures from the database at every write (any replica may write)."""

    def __init__(self, thresholds: Thresholds) -> None:
        self.thresholds = thresholds

    def figures(self, session: Session, kr_id: str) -> KeyResultFigures:
        """Read the figures from the rows (the writer holds the Key Result's row lock)."""
        return load_figures(session, kr_id, thresholds=self.thresholds)

    def forget(self, kr_ids: Sequence[str] | None = None) -> None:
        """Nothing is held between writes."""


class RememberedFigures:
    """Reads a Key Result's figures once, then keeps them (its only writer is this process)."""

    def __init__(self, thresholds: Thresholds) -> None:
        self.thresholds = thresholds
        self._held: dict[str, KeyResultFigures] = {}

    def figures(self, session: Session, kr_id: str) -> KeyResultFigures:
        """Return the held figures, reading them the first time (per process and leadership)."""
        held = self._held.get(kr_id)
        if held is None:
            held = self._held[kr_id] = load_figures(session, kr_id, thresholds=self.thresholds)
        return held

    def forget(self, kr_ids: Sequence[str] | None = None) -> None:
        """Drop the held figures: the next write reads them again."""
        if kr_ids is None:
            self._held.clear()
        for kr_id in kr_ids or ():
            self._held.pop(kr_id, None)


def empty_series(spec: KeyResultSpec, thresholds: Thresholds) -> SeriesSummary:
    """Return a summary of `spec`'s period holding no samples, sized for `thresholds`."""
    return SeriesSummary(
        period_start=spec.period_start,
        period_end=spec.period_end,
        recent_size=thresholds.forecast_points,
        lower_is_better=spec.direction.lower_is_better,
        band=counted_band(spec),
    )


def load_figures(session: Session, kr_id: str, *, thresholds: Thresholds) -> KeyResultFigures:
    """Read a Key Result's figures from the database."""
    row = writer_row(session, kr_id)
    if row is None or row.spec is None:
        raise LookupError(f"Key Result {kr_id!r} is not in the database (sync first)")
    spec = spec_from_json(row.spec)
    return KeyResultFigures(
        kr=KeyResultInfo(row.id, row.title, row.unit, row.direction),
        objective=ObjectiveInfo(row.objective_id, row.objective_title, row.team),
        spec=spec,
        series=load_series(session, kr_id, empty_series(spec, thresholds)),
        last_attempt=last_attempt(session, kr_id),
        alert_state=state_from_json(row.alert_state),
        alert_state_saved=bool(row.has_alert_state),
        final_score=row.final_score,
    )


def sample_view(
    session: Session, kr_id: str, series: SeriesSummary, request: ViewRequest
) -> SampleView:
    """Return the samples an evaluation reads, from `series` where it can answer.

    A summary that holds samples after the cutoff (a closed period, a value posted for
    later) cannot: one up to the cutoff is read instead. The aggregation window of
    aggregate Key Results is always read.
    """
    view = series.view(request.cutoff)
    if view is None:
        loaded = load_series(session, kr_id, series.emptied(), until=request.cutoff)
        view = loaded.view(request.cutoff)
        assert view is not None
    if request.window_start is not None:
        after = max(request.window_start, request.start - 1)
        window = load_window(session, kr_id, after=after, until=request.cutoff)
        view = replace(view, window=window)
    return view


def alert_references(
    session: Session, kr_id: str, series: SeriesSummary, sample_ts: int
) -> tuple[float | None, float | None]:
    """Return (previous value, best value) for the alert rules of a sample at `sample_ts`."""
    known = series.references(sample_ts)
    if known is None:  # samples after it are held: read a summary up to it
        known = load_series(session, kr_id, series.emptied(), until=sample_ts).references(sample_ts)
        assert known is not None
    return known


def view_at(
    session: Session, kr_id: str, spec: KeyResultSpec, *, now_ts: int, thresholds: Thresholds
) -> SampleView:
    """Return the samples evaluating `spec` at `now_ts` reads (reports of past instants)."""
    request = view_request(spec, now_ts=now_ts, thresholds=thresholds)
    series = load_series(session, kr_id, empty_series(spec, thresholds), until=request.cutoff)
    return sample_view(session, kr_id, series, request)
