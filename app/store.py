"""The store: every read and write of samples, attempts, state, check-ins and revisions.

Routes, the sampler and the CLI call these functions instead of writing SQL themselves.
Each function takes an open `Session` and leaves committing to the caller unless its
docstring says otherwise.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Float,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    or_,
    text,
    update,
)
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, select

from app import pg_bulk
from app.live_state import FAILURE_STREAK_CAP, SeriesSummary
from app.models import (
    AlertStateRow,
    CheckIn,
    ConnectorState,
    KeyResult,
    Objective,
    Sample,
    SamplingAttempt,
    TargetRevision,
    ValueChange,
)
from app.progress import LastAttempt
from app.redaction import Redactor

MEAN_SCALE = 2.0**-64
# The connector-state key recording how far a Key Result's history was fetched.
BACKFILLED_KEY = "krtracker.backfilled:{kr_id}"
KEY_RESULT_STATE_COLUMNS = tuple(name for name, _ in pg_bulk.KEY_RESULT_STATE_COLUMNS)
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


@functools.cache
def upsert_statement(
    dialect: str, table: Table, keys: tuple[str, ...], updated: tuple[str, ...]
) -> Any:
    """Build an insert-or-update statement once per dialect and table (bind parameters only).

    Building it per row through the ORM cost more than running it (docs/benchmarks.md).
    """
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={c: statement.excluded[c] for c in updated}
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


def insert_attempts(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Record sampling attempts (successful or failed), given as column dicts."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        pg_bulk.insert_attempts(connection, rows)
        return
    table = SamplingAttempt.__table__  # type: ignore[attr-defined]
    connection.execute(table.insert(), list(rows))


@functools.cache
def _update_key_result_state() -> Any:
    """Build the `key_results` state update once; it runs with one row per Key Result."""
    table = KeyResult.__table__  # type: ignore[attr-defined]
    return (
        update(table)
        .where(table.c.id == bindparam("kr_id"))
        .values({c: bindparam(c) for c in KEY_RESULT_STATE_COLUMNS})
    )


def save_key_result_states(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Write Key Results' evaluated state (`kr_id` plus the `KEY_RESULT_STATE_COLUMNS`)."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        pg_bulk.update_key_result_states(connection, rows)
        return
    connection.execute(_update_key_result_state(), list(rows))


def save_connector_state(
    connection: Connection, *, connector: str, key: str, value: Any, updated_ts: int
) -> None:
    """Store a connector's state value under `key` (insert or replace); caller commits."""
    statement = upsert_statement(
        connection.dialect.name,
        ConnectorState.__table__,  # type: ignore[attr-defined]
        ("connector", "key"),
        ("value", "updated_ts"),
    )
    connection.execute(
        statement, {"connector": connector, "key": key, "value": value, "updated_ts": updated_ts}
    )


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


def alert_states_with_key_results(
    session: Session,
) -> Sequence[tuple[AlertStateRow, KeyResult | None]]:
    """Return every stored alert-rules state with its Key Result (None once it is gone)."""
    return session.exec(  # type: ignore[return-value]
        select(AlertStateRow, KeyResult)
        .join(KeyResult, col(KeyResult.id) == col(AlertStateRow.key_result_id), isouter=True)
        .order_by(col(AlertStateRow.key_result_id))
    ).all()


def save_alert_states(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store the alert rules' state of Key Results (`key_result_id`, `state`, `updated_ts`)."""
    if rows:
        statement = upsert_statement(
            connection.dialect.name,
            AlertStateRow.__table__,  # type: ignore[attr-defined]
            ("key_result_id",),
            ("state", "updated_ts"),
        )
        connection.execute(statement, list(rows))


def latest_scheduled_instants(session: Session) -> dict[str, int]:
    """Return, per Key Result, the newest scheduled instant it has an attempt for."""
    rows = session.exec(
        select(SamplingAttempt.key_result_id, func.max(col(SamplingAttempt.scheduled_ts))).group_by(
            col(SamplingAttempt.key_result_id)
        )
    ).all()
    return {kr_id: int(ts) for kr_id, ts in rows}


def last_attempt(session: Session, key_result_id: str) -> LastAttempt | None:
    """Return the latest attempt and how many attempts in a row have failed."""
    recent = session.exec(
        select(SamplingAttempt)
        .where(SamplingAttempt.key_result_id == key_result_id)
        .order_by(col(SamplingAttempt.attempted_ts).desc(), col(SamplingAttempt.id).desc())
        .limit(FAILURE_STREAK_CAP)
    ).all()
    if not recent:
        return None
    failures = 0
    for attempt in recent:
        if attempt.ok:
            break
        failures += 1
    head = recent[0]
    return LastAttempt(
        ts=head.attempted_ts,
        ok=head.ok,
        reason=head.error_message,
        consecutive_failures=failures,
        kind=head.error_kind,
    )


def list_attempts(
    session: Session, key_result_id: str, *, limit: int = 50, offset: int = 0
) -> Sequence[SamplingAttempt]:
    """Return the latest attempts of a Key Result, newest first (ties: latest stored first)."""
    return session.exec(
        select(SamplingAttempt)
        .where(SamplingAttempt.key_result_id == key_result_id)
        .order_by(col(SamplingAttempt.attempted_ts).desc(), col(SamplingAttempt.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()


def count_attempts(session: Session, key_result_id: str) -> int:
    """Return how many attempts a Key Result has."""
    statement = select(func.count()).where(SamplingAttempt.key_result_id == key_result_id)
    return int(session.exec(statement).one())


def _first_and_recent(
    session: Session, where: ColumnElement[bool], recent: int
) -> tuple[tuple[int, float] | None, list[tuple[int, float]]]:
    """Return the first sample matching `where` and the latest `recent` ones, oldest first."""
    first = session.exec(
        select(Sample.ts, Sample.value).where(where).order_by(col(Sample.ts)).limit(1)
    ).first()
    latest = session.exec(
        select(Sample.ts, Sample.value).where(where).order_by(col(Sample.ts).desc()).limit(recent)
    ).all()
    return (first[0], first[1]) if first else None, [(t, v) for t, v in reversed(latest)]


def _band_counts(
    session: Session, where: ColumnElement[bool], band: tuple[float | None, float | None]
) -> tuple[int, int]:
    """Return (samples, samples inside the band) among the samples matching `where`."""
    low, high = band
    conditions: list[ColumnElement[bool]] = []
    if low is not None:
        conditions.append(col(Sample.value) >= low)
    if high is not None:
        conditions.append(col(Sample.value) <= high)
    inside = func.sum(case((and_(*conditions), 1), else_=0))
    row = session.exec(select(func.count(), inside).where(where)).one()
    return int(row[0] or 0), int(row[1] or 0)


def load_series(
    session: Session, key_result_id: str, empty: SeriesSummary, *, until: int | None = None
) -> SeriesSummary:
    """Fill `empty` (period, band, sizes set; no samples) from the Key Result's period.

    With `until`, only the samples up to that instant (an evaluation's cutoff, an alert's
    sample). The slow path of `app.writer`: for a remembered Key Result, run once, then kept
    up to date in memory.
    """
    in_period = and_(
        col(Sample.key_result_id) == key_result_id,
        col(Sample.ts) >= empty.period_start,
        col(Sample.ts) < empty.period_end,
        *([col(Sample.ts) <= until] if until is not None else []),
    )
    first, recent = _first_and_recent(session, in_period, empty.recent_size)
    best_of = func.min if empty.lower_is_better else func.max
    best = session.exec(select(best_of(Sample.value)).where(in_period)).one()
    summary = SeriesSummary(
        period_start=empty.period_start,
        period_end=empty.period_end,
        recent_size=empty.recent_size,
        lower_is_better=empty.lower_is_better,
        band=empty.band,
        first=first,
        best=best,
    )
    summary.keep_recent(recent)
    if empty.band is not None:
        summary.total, summary.in_band = _band_counts(session, in_period, empty.band)
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


def list_objectives(
    session: Session,
    *,
    include_archived: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> Sequence[Objective]:
    """Return objectives in file order (a page of them with `limit` and `offset`)."""
    query = select(Objective).order_by(col(Objective.position), col(Objective.id))
    if not include_archived:
        query = query.where(col(Objective.archived_ts).is_(None))
    if limit is not None:
        query = query.offset(offset).limit(limit)
    return session.exec(query).all()


def count_objectives(session: Session, *, include_archived: bool = False) -> int:
    """Return how many objectives a listing without a limit would return."""
    query = select(func.count()).select_from(Objective)
    if not include_archived:
        query = query.where(col(Objective.archived_ts).is_(None))
    return int(session.exec(query).one())


def definitions_by_id(session: Session) -> tuple[dict[str, Objective], dict[str, KeyResult]]:
    """Return every objective and Key Result row by id, archived ones too (what sync compares)."""
    objectives = {o.id: o for o in session.exec(select(Objective)).all()}
    key_results = {k.id: k for k in session.exec(select(KeyResult)).all()}
    return objectives, key_results


def list_key_results(
    session: Session, *, objective_id: str | None = None, include_archived: bool = False
) -> Sequence[KeyResult]:
    """Return Key Results in file order, optionally of one objective."""
    query = select(KeyResult).order_by(col(KeyResult.objective_id), col(KeyResult.position))
    if objective_id is not None:
        query = query.where(KeyResult.objective_id == objective_id)
    if not include_archived:
        query = query.where(col(KeyResult.archived_ts).is_(None))
    return session.exec(query).all()


SUMMARY_COLUMNS = tuple(
    col(column)
    for column in (
        KeyResult.id,
        KeyResult.objective_id,
        KeyResult.title,
        KeyResult.unit,
        KeyResult.direction,
        KeyResult.baseline_value,
        KeyResult.target_value,
        KeyResult.band_low,
        KeyResult.band_high,
        KeyResult.current_value,
        KeyResult.current_ts,
        KeyResult.progress,
        KeyResult.expected_progress,
        KeyResult.status,
        KeyResult.status_reason,
    )
)


def key_result_summaries(
    session: Session,
    *,
    objective_id: str | None = None,
    objective_ids: Sequence[str] | None = None,
    include_archived: bool = False,
) -> Sequence[Any]:
    """Return only the listing columns of Key Results, in file order.

    Listings of a thousand Key Results spend their time building ORM objects and reading
    JSON columns they never show; plain rows of the needed columns avoid both.
    """
    query = sa_select(*SUMMARY_COLUMNS).order_by(
        col(KeyResult.objective_id), col(KeyResult.position)
    )
    if objective_id is not None:
        query = query.where(col(KeyResult.objective_id) == objective_id)
    if objective_ids is not None:
        query = query.where(col(KeyResult.objective_id).in_(objective_ids))
    if not include_archived:
        query = query.where(col(KeyResult.archived_ts).is_(None))
    # A Core execution: the ORM's result processing cost a third of the listing's build.
    return session.connection().execute(query).all()


LISTING_KEY_RESULT_COLUMNS = (*SUMMARY_COLUMNS, col(KeyResult.position), col(KeyResult.archived_ts))


def key_result_rows_since(session: Session, version: int | None) -> Sequence[Any]:
    """Return Key Results' listing columns (`SUMMARY_COLUMNS`, position, archived_ts).

    Only the rows changed after data version `version` (all rows when None): an indexed
    read of the few rows a sampling batch changed.
    """
    query = sa_select(*LISTING_KEY_RESULT_COLUMNS)
    if version is not None:
        query = query.where(col(KeyResult.row_version) > version)
    return session.connection().execute(query).all()


def objective_rows_since(session: Session, version: int | None) -> Sequence[Any]:
    """Return objectives' rows changed after data version `version` (all rows when None)."""
    table = Objective.__table__  # type: ignore[attr-defined]
    query = sa_select(table)
    if version is not None:
        query = query.where(table.c.row_version > version)
    return session.connection().execute(query).all()


def add_check_in(session: Session, check_in: CheckIn) -> CheckIn:
    """Store a check-in and return it with its id (the caller commits)."""
    lock_key_results(session.connection(), [check_in.key_result_id])
    session.add(check_in)
    session.flush()
    # The Key Result in detail shows its latest check-in: its row is stamped too.
    bump_data_version(session.connection(), key_results=[check_in.key_result_id])
    return check_in


def list_check_ins(session: Session, key_result_id: str, *, limit: int = 100) -> Sequence[CheckIn]:
    """Return a Key Result's check-ins, newest first."""
    return session.exec(
        select(CheckIn)
        .where(CheckIn.key_result_id == key_result_id)
        .order_by(col(CheckIn.ts).desc(), col(CheckIn.id).desc())
        .limit(limit)
    ).all()


def list_revisions(session: Session, key_result_id: str) -> Sequence[TargetRevision]:
    """Return a Key Result's target and baseline revisions, oldest first."""
    return session.exec(
        select(TargetRevision)
        .where(TargetRevision.key_result_id == key_result_id)
        .order_by(col(TargetRevision.ts), col(TargetRevision.id))
    ).all()


class DatabaseStateStore:
    """A connector's `StateStore` kept in the `connector_state` table; commits each save."""

    def __init__(self, engine: Any, connector: str, clock: Any) -> None:
        self.engine = engine
        self.connector = connector
        self.clock = clock

    def load(self, key: str) -> Any | None:
        """Return the value saved under `key`, or None."""
        with Session(self.engine) as session:
            row = session.get(ConnectorState, (self.connector, key))
            return None if row is None else row.value

    def save(self, key: str, value: Any) -> None:
        """Store `value` under `key` and commit."""
        with Session(self.engine) as session:
            save_connector_state(
                session.connection(),
                connector=self.connector,
                key=key,
                value=value,
                updated_ts=int(self.clock()),
            )
            session.commit()


_BUMP_DATA_VERSION = "UPDATE data_version SET version = version + 1 WHERE id = 1 RETURNING version"
_READ_DATA_VERSION = "SELECT version FROM data_version WHERE id = 1"
_STAMP_CHUNK = 5000


def lock_key_results(connection: Connection, ids: Collection[str]) -> None:
    """Lock Key Result rows first in a transaction that will stamp them (PostgreSQL).

    A write that changes nothing on the row (an evaluation with the same result) would
    otherwise take the row's lock only when `bump_data_version` stamps it, after its alert
    state: against a writer that took them the other way round, a deadlock. Locked first,
    concurrent writes of one Key Result also evaluate after each other, each seeing the
    other's sample. SQLite serialises writers itself (and has no FOR UPDATE).
    """
    if connection.dialect.name != "postgresql" or not ids:
        return
    table = KeyResult.__table__  # type: ignore[attr-defined]
    connection.execute(
        sa_select(table.c.id)
        .where(table.c.id.in_(sorted(set(ids))))
        .order_by(table.c.id)
        .with_for_update()
    )


def bump_data_version(
    connection: Connection,
    *,
    key_results: Collection[str] = (),
    objectives: Collection[str] = (),
) -> int | None:
    """Raise the data version in the caller's transaction: call it last, once per transaction.

    Every write of what the API shows calls it, so cached representations on every replica
    (`app.api.cache`) see the change at the next request; the rows it names get the new
    version as their `row_version`. On PostgreSQL the update locks the one row until
    commit: last in the transaction, concurrent writers queue only for their commits and
    take it after their other locks (no lock-order deadlock). The lock also orders the
    versions: when version V is visible, every transaction with a version up to V is too.
    """
    version = connection.exec_driver_sql(_BUMP_DATA_VERSION).scalar()
    if version is None:  # the row is missing: nothing caches without it
        return None
    for model, ids in ((KeyResult, key_results), (Objective, objectives)):
        table = model.__table__  # type: ignore[attr-defined,union-attr]
        ordered = sorted(set(ids))  # one lock order for rows this transaction already holds
        for start in range(0, len(ordered), _STAMP_CHUNK):
            connection.execute(
                update(table)
                .where(table.c.id.in_(ordered[start : start + _STAMP_CHUNK]))
                .values(row_version=version)
            )
    return int(version)


def read_key_result_version(connection: Connection, key_result_id: str) -> int | None:
    """Return a Key Result's `row_version` (a primary-key read), or None if there is none."""
    table = KeyResult.__table__  # type: ignore[attr-defined]
    query = sa_select(table.c.row_version).where(table.c.id == key_result_id)
    value = connection.execute(query).scalar()
    return None if value is None else int(value)


def read_data_version(connection: Connection) -> int | None:
    """Return the data version (one primary-key read), or None if its row is missing."""
    value = connection.exec_driver_sql(_READ_DATA_VERSION).scalar()
    return None if value is None else int(value)


def database_ready(session: Session) -> bool:
    """Return whether the database answers and has krtracker's tables."""
    session.exec(text("SELECT 1 FROM objectives LIMIT 1"))  # type: ignore[call-overload]
    return True


# Stored strings that may quote what a source or receiver echoed (see `app.redaction`).
REDACTED_COLUMNS = (
    ("key_results", "last_error"),
    ("key_results", "status_reason"),
    ("sampling_attempts", "error_message"),
    ("samples", "details"),
    ("deliveries", "payload"),
    ("deliveries", "last_error"),
    ("delivery_attempts", "error"),
)
REDACTION_MARKER = ("krtracker", "krtracker.redaction")


def redact_stored_secrets(engine: Engine, redactor: Redactor, *, now_ts: int) -> int:
    """Rewrite stored strings that quote a configured secret; return how many changed.

    Rows written before secrets were redacted (or before a secret was added to the config)
    would otherwise keep showing it. The pass runs once per set of secrets: a marker in
    `connector_state` holds the set's digest, so an unchanged config costs one read.
    """
    if not redactor.forms:
        return 0
    digest = hashlib.sha256("\0".join(sorted(redactor.forms)).encode()).hexdigest()
    changed = 0
    with engine.begin() as connection:
        state = ConnectorState.__table__.c  # type: ignore[attr-defined]
        marker = connection.execute(
            sa_select(state.value).where(
                state.connector == REDACTION_MARKER[0], state.key == REDACTION_MARKER[1]
            )
        ).scalar()
        if marker == {"digest": digest}:
            return 0
        for table_name, column_name in REDACTED_COLUMNS:
            table = SQLModel.metadata.tables[table_name]
            column, keys = table.c[column_name], list(table.primary_key.columns)
            as_text = cast(column, Text)  # JSON columns are searched as their text
            quoting = or_(*(as_text.contains(form, autoescape=True) for form in redactor.forms))
            for row in connection.execute(sa_select(*keys, column).where(quoting)).all():
                value = redactor.json(row[-1])
                if value != row[-1]:
                    match = and_(*(key == row[i] for i, key in enumerate(keys)))
                    connection.execute(update(table).where(match).values({column_name: value}))
                    changed += 1
        save_connector_state(
            connection,
            connector=REDACTION_MARKER[0],
            key=REDACTION_MARKER[1],
            value={"digest": digest},
            updated_ts=now_ts,
        )
    return changed


def sample_at(session: Session, key_result_id: str, ts: int) -> Sample | None:
    """Return the Key Result's sample at instant `ts`, if one is stored."""
    statement = select(Sample).where(Sample.key_result_id == key_result_id, Sample.ts == ts)
    return session.exec(statement).first()


class NoSuchValue(LookupError):
    """No manual value is stored at that instant."""


def change_stored_value(
    session: Session,
    *,
    key_result_id: str,
    ts: int,
    new_value: float | None,
    author: str,
    note: str | None,
    now_ts: int,
) -> None:
    """Correct (`new_value`) or delete (None) the sample at `ts`, recording who did it."""
    sample = sample_at(session, key_result_id, ts)
    if sample is None:
        raise NoSuchValue(f"no value of {key_result_id!r} at that instant")
    session.add(
        ValueChange(
            key_result_id=key_result_id,
            sample_ts=ts,
            action="deleted" if new_value is None else "corrected",
            old_value=sample.value,
            new_value=new_value,
            author=author,
            changed_ts=now_ts,
            note=note,
        )
    )
    if new_value is None:
        session.delete(sample)
        return
    sample.value = new_value
    sample.numerator = sample.denominator = None
    sample.recorded_ts = now_ts
    session.add(sample)


def list_value_changes(
    session: Session, key_result_id: str, *, limit: int = 100
) -> Sequence[ValueChange]:
    """Return a Key Result's value changes, newest first."""
    return session.exec(
        select(ValueChange)
        .where(ValueChange.key_result_id == key_result_id)
        .order_by(col(ValueChange.changed_ts).desc(), col(ValueChange.id).desc())
        .limit(limit)
    ).all()
