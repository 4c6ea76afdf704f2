"""Samples: the time series of every Key Result, written in batches and read as figures.

The writer (`app.sampling.writer`) inserts; evaluation reads the few figures it needs
(first, recent, best, band counts) with indexed queries, never a whole history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    and_,
    bindparam,
    case,
    func,
)
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from app.core.series import SeriesSummary
from app.store import pg_bulk
from app.store.models import (
    ConnectorState,
    Sample,
)
from app.store.statements import upsert_statement

if TYPE_CHECKING:
    from collections.abc import Sequence

MEAN_SCALE = 2.0**-64


# The connector-state key recording how far a Key Result's history was fetched.
BACKFILLED_KEY = "krtracker.backfilled:{kr_id}"


SAMPLE_COLUMNS = (
    "key_result_id",
    "ts",
    "value",
    "numerator",
    "denominator",
    "source",
    "details",
    "recorded_ts",
)


def sample_row(
    *,
    key_result_id: str,
    ts: int,
    value: float,
    source: str,
    recorded_ts: int,
    numerator: float | None = None,
    denominator: float | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return one `samples` row; refuses a non-finite value (NaN never becomes data)."""
    if not math.isfinite(value):
        raise ValueError(f"refusing to store non-finite value {value!r} for {key_result_id}")
    return {
        "key_result_id": key_result_id,
        "ts": ts,
        "value": value,
        "numerator": numerator,
        "denominator": denominator,
        "source": source,
        "details": details,
        "recorded_ts": recorded_ts,
    }


def upsert_samples(
    connection: Connection, rows: Sequence[dict[str, Any]], *, keep_existing: bool = False
) -> None:
    """Store `sample_row`s in one statement; a second sample for (Key Result, ts) replaces it.

    With `keep_existing` a row already stored wins instead (backfilled history never
    replaces, nor relabels, a live sample). The write helpers take a Core connection
    (`session.connection()` from an ORM session): the sampler writes in batches without the
    ORM's unit of work.
    """
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        pg_bulk.upsert_samples(connection, rows, keep_existing=keep_existing)
        return
    table = Sample.__table__  # type: ignore[attr-defined]
    if keep_existing:
        keys = ["key_result_id", "ts"]
        statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=keys)
    else:
        statement = upsert_statement(
            connection.dialect.name, table, ("key_result_id", "ts"), SAMPLE_COLUMNS[2:]
        )
    connection.execute(statement, list(rows))


def insert_sample_if_absent(connection: Connection, row: dict[str, Any]) -> bool:
    """Store one `sample_row` unless (Key Result, ts) has one; return whether it was stored."""
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    table = Sample.__table__  # type: ignore[attr-defined]
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["key_result_id", "ts"])
        .returning(table.c.id)
    )
    # RETURNING, not rowcount: the driver's rowcount is not reliable for DO NOTHING.
    return connection.execute(statement, row).first() is not None


def covered_through(session: Session, sources: dict[str, str]) -> dict[str, int]:
    """Return, per Key Result (id → connector), its newest sample or how far history was asked.

    Instants after it are the ones a backfill may still fill; Key Results with neither are
    left out.
    """
    if not sources:
        return {}
    latest: dict[str, int] = dict(
        session.exec(  # type: ignore[arg-type]
            select(Sample.key_result_id, func.max(col(Sample.ts)))
            .where(col(Sample.key_result_id).in_(list(sources)))
            .group_by(col(Sample.key_result_id))
        ).all()
    )
    markers = session.exec(
        select(ConnectorState).where(
            col(ConnectorState.key).in_([BACKFILLED_KEY.format(kr_id=k) for k in sources])
        )
    ).all()
    for marker in markers:
        kr_id = marker.key.split(":", 1)[1]
        if sources.get(kr_id) != marker.connector or not isinstance(marker.value, dict):
            continue
        # Markers written before gap backfill have no "through": they were written then.
        through = marker.value.get("through", marker.value.get("ts"))
        if isinstance(through, int):
            latest[kr_id] = max(latest.get(kr_id, through), through)
    return latest


def _inside(band: tuple[float | None, float | None]) -> ColumnElement[bool]:
    """Return the condition "the sample's value lies in the band" (an open side is no limit)."""
    low, high = band
    value = Sample.__table__.c.value  # type: ignore[attr-defined]
    conditions: list[ColumnElement[bool]] = []
    if low is not None:
        conditions.append(value >= low)
    if high is not None:
        conditions.append(value <= high)
    return and_(*conditions)


def load_series(
    session: Session, key_result_id: str, empty: SeriesSummary, *, until: int | None = None
) -> SeriesSummary:
    """Fill `empty` (period, band, sizes set; no samples) from the Key Result's period.

    With `until`, only the samples up to that instant (an evaluation's cutoff, an alert's
    sample). The slow path of `app.sampling.writer`: for a remembered Key Result, run once,
    then kept up to date in memory; for a manual one, at every write. Three indexed reads
    (first, latest, and one aggregate for the best value and the band counts), run as Core
    statements: the ORM's result handling cost more than the reads.
    """
    table = Sample.__table__  # type: ignore[attr-defined]
    ts, value = table.c.ts, table.c.value
    in_period = and_(
        table.c.key_result_id == key_result_id,
        ts >= empty.period_start,
        ts < empty.period_end,
        *([ts <= until] if until is not None else []),
    )
    connection = session.connection()
    first: Any = connection.execute(
        sa_select(ts, value).where(in_period).order_by(ts).limit(1)
    ).first()
    latest: Sequence[Any] = connection.execute(
        sa_select(ts, value).where(in_period).order_by(ts.desc()).limit(empty.recent_size)
    ).all()
    best_of = func.min if empty.lower_is_better else func.max
    figures: list[Any] = [best_of(value)]
    if empty.band is not None:
        figures += [func.count(), func.sum(case((_inside(empty.band), 1), else_=0))]
    row = connection.execute(sa_select(*figures).where(in_period)).one()
    summary = SeriesSummary(
        period_start=empty.period_start,
        period_end=empty.period_end,
        recent_size=empty.recent_size,
        lower_is_better=empty.lower_is_better,
        band=empty.band,
        first=(int(first[0]), float(first[1])) if first else None,
        best=row[0],
    )
    summary.keep_recent([(int(t), float(v)) for t, v in reversed(latest)])
    if empty.band is not None:
        summary.total, summary.in_band = int(row[1] or 0), int(row[2] or 0)
    return summary


def load_window(session: Session, key_result_id: str, *, after: int, until: int) -> list[float]:
    """Return the values with `after < ts <= until`, oldest first (an aggregation window)."""
    return list(
        session.exec(
            select(Sample.value)
            .where(
                col(Sample.key_result_id) == key_result_id,
                col(Sample.ts) > after,
                col(Sample.ts) <= until,
            )
            .order_by(col(Sample.ts))
        ).all()
    )


@dataclass(frozen=True)
class SamplePoint:
    """One point of a samples listing: a raw sample or a downsampled bucket."""

    ts: int
    value: float
    min: float
    max: float
    count: int


def sample_points(
    session: Session,
    key_result_id: str,
    *,
    since: int | None,
    until: int | None,
    max_points: int,
) -> list[SamplePoint]:
    """Return samples in [since, until]; above `max_points`, bucket averages computed in SQL.

    Each bucket spans an equal slice of time; its `ts` is its first sample's time and its
    value the mean of its samples (min, max and count say what the mean hides).
    """
    where: list[ColumnElement[bool]] = [col(Sample.key_result_id) == key_result_id]
    if since is not None:
        where.append(col(Sample.ts) >= since)
    if until is not None:
        where.append(col(Sample.ts) <= until)
    count, low, high = session.exec(
        select(func.count(), func.min(Sample.ts), func.max(Sample.ts)).where(*where)
    ).one()
    if not count:
        return []
    if count <= max_points:
        rows = session.exec(
            select(Sample.ts, Sample.value).where(*where).order_by(col(Sample.ts))
        ).all()
        return [SamplePoint(t, v, v, v, 1) for t, v in rows]
    width = max(1, math.ceil((high - low + 1) / max_points))
    bucket = ((col(Sample.ts) - low) // width).label("bucket")
    # Means of values near the float limit: sum the values scaled down by 2**-64 (exact for
    # a power of two) so the sum cannot overflow, and scale the mean back up. AVG would not
    # do: PostgreSQL's float8 AVG also sums squares, which overflow far earlier.
    buckets = session.execute(
        sa_select(
            func.min(Sample.ts),
            func.sum(col(Sample.value) * bindparam("scale", MEAN_SCALE, type_=Float)),
            func.min(Sample.value),
            func.max(Sample.value),
            func.count(),
        )
        .where(*where)
        .group_by(bucket)
        .order_by(bucket)
    ).all()
    points = []
    for t, scaled_sum, lo, hi, n in buckets:
        mean = math.ldexp(float(scaled_sum) / int(n), 64)  # type: ignore[call-overload,arg-type]
        points.append(SamplePoint(int(t), mean, float(lo), float(hi), int(n)))  # type: ignore[call-overload,arg-type]
    return points


def sample_at(session: Session, key_result_id: str, ts: int) -> Sample | None:
    """Return the Key Result's sample at instant `ts`, if one is stored."""
    statement = select(Sample).where(Sample.key_result_id == key_result_id, Sample.ts == ts)
    return session.exec(statement).first()
