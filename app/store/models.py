"""Database tables (SQLModel). Alembic migrations in `app/migrations` create exactly these.

Times are stored as integer UNIX seconds (UTC) in `*_ts` columns: they compare, bucket and
index the same way on SQLite and PostgreSQL, which keeps downsampling inside the database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.domain import DeliveryState


class Objective(SQLModel, table=True):
    """An Objective as last synced from the config."""

    __tablename__ = "objectives"

    id: str = Field(primary_key=True, max_length=64)
    title: str
    owner: str | None = None
    team: str | None = None
    parent_id: str | None = Field(default=None, max_length=64)
    description: str = ""
    period_start_ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    period_end_ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    position: int = 0
    archived_ts: int | None = Field(default=None, sa_column=Column(BigInteger))
    # The data version of the transaction that last changed the row (`app.api.listing`).
    row_version: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )


class KeyResult(SQLModel, table=True):
    """A Key Result's definition as last synced from the config, plus its evaluated state.

    The state columns (`status` … `evaluated_ts`) are written after each sample so the API
    reads them instead of recomputing history on every request.
    """

    __tablename__ = "key_results"

    id: str = Field(primary_key=True, max_length=64)
    objective_id: str = Field(foreign_key="objectives.id", index=True, max_length=64)
    title: str
    unit: str = ""
    direction: str
    baseline_spec: str | None = None
    target_spec: str | None = None
    band_low: float | None = None
    band_high: float | None = None
    connector: str | None = None
    source: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    schedule: str | None = None
    interval_seconds: int | None = None
    aggregate: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    description: str = ""
    position: int = 0
    archived_ts: int | None = Field(default=None, sa_column=Column(BigInteger))
    # When sync first saw this Key Result (None: before krtracker recorded it), and its own
    # `start` from the config: it is measured from the later of these and its period's start.
    first_seen_ts: int | None = Field(default=None, sa_column=Column(BigInteger))
    start_ts: int | None = Field(default=None, sa_column=Column(BigInteger))
    # The values its quantity can take (`range` in the config; None: inferred from the unit).
    range_low: float | None = None
    range_high: float | None = None
    # The progress engine's definition, built from the config at sync (`app.core.specs`).
    spec: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))

    status: str = "no_data"
    status_reason: str = "never sampled"
    current_value: float | None = None
    current_ts: int | None = Field(default=None, sa_column=Column(BigInteger))
    baseline_value: float | None = None
    target_value: float | None = None
    progress: float | None = None
    expected_progress: float | None = None
    # The forecast's numbers, or {"unavailable": why} (see `app.core.evaluation.forecast_json`).
    forecast: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    last_error: str | None = None
    last_error_ts: int | None = Field(default=None, sa_column=Column(BigInteger))
    final_score: float | None = None
    evaluated_ts: int | None = Field(default=None, sa_column=Column(BigInteger))
    # The data version of the transaction that last changed the row (`app.api.listing`).
    row_version: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0", index=True)
    )


class Sample(SQLModel, table=True):
    """One successful measurement; (key_result_id, ts) is unique so re-runs update in place."""

    __tablename__ = "samples"
    __table_args__ = (
        UniqueConstraint("key_result_id", "ts", name="uq_samples_kr_ts"),
        # Covers the samples listing and downsampling (value read from the index, not from
        # one table page per sample): see docs/benchmarks.md.
        Index("ix_samples_kr_ts_value", "key_result_id", "ts", "value"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key_result_id: str = Field(foreign_key="key_results.id", max_length=64)
    ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    value: float
    numerator: float | None = None
    denominator: float | None = None
    source: str
    details: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    recorded_ts: int = Field(sa_column=Column(BigInteger, nullable=False))


class SamplingAttempt(SQLModel, table=True):
    """Every try to sample a Key Result, successful or not; failures keep their reason."""

    __tablename__ = "sampling_attempts"
    __table_args__ = (Index("ix_attempts_kr_ts", "key_result_id", "scheduled_ts"),)

    id: int | None = Field(default=None, primary_key=True)
    key_result_id: str = Field(foreign_key="key_results.id", max_length=64)
    scheduled_ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    attempted_ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    ok: bool
    error_kind: str | None = None
    error_message: str | None = None
    duration_ms: int = 0


class CheckIn(SQLModel, table=True):
    """A person's confidence (0.0–1.0) and note on a Key Result."""

    __tablename__ = "check_ins"

    id: int | None = Field(default=None, primary_key=True)
    key_result_id: str = Field(foreign_key="key_results.id", index=True, max_length=64)
    ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    confidence: float
    note: str = ""
    author: str | None = None


class TargetRevision(SQLModel, table=True):
    """A change of a Key Result's target or baseline in the file, kept as a trail."""

    __tablename__ = "target_revisions"

    id: int | None = Field(default=None, primary_key=True)
    key_result_id: str = Field(foreign_key="key_results.id", index=True, max_length=64)
    ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    field_name: str
    old_value: str | None = None
    new_value: str | None = None
    note: str | None = None


class ConnectorState(SQLModel, table=True):
    """Durable state a connector keeps between samples (bookmarks, raw events), per connector."""

    __tablename__ = "connector_state"

    connector: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=255)
    value: Any = Field(default=None, sa_column=Column(JSON))
    updated_ts: int = Field(sa_column=Column(BigInteger, nullable=False))


class AlertStateRow(SQLModel, table=True):
    """The alert rules' memory for one Key Result (`alert_rules.AlertState` as JSON)."""

    __tablename__ = "alert_states"

    key_result_id: str = Field(primary_key=True, max_length=64)
    state: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_ts: int = Field(sa_column=Column(BigInteger, nullable=False))


class Delivery(SQLModel, table=True):
    """The outbox: one event for one webhook, written in the transaction that raised it.

    `event_id` is stable across retries and redeliveries so receivers can deduplicate;
    `seq` orders deliveries, which go out in order per (webhook, Key Result).
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "state", "next_attempt_ts"),
        Index("ix_deliveries_webhook_kr", "webhook", "key_result_id", "seq"),
    )

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=64, index=True)
    webhook: str = Field(max_length=64)
    event_type: str = Field(max_length=64)
    key_result_id: str = Field(max_length=64)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    sample_ts: int | None = Field(default=None, sa_column=Column(BigInteger))
    next_attempt_ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    attempts: int = 0
    state: str = Field(default=DeliveryState.PENDING, max_length=16)
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_ts: int | None = Field(default=None, sa_column=Column(BigInteger))
    delivered_at_ms: int | None = Field(default=None, sa_column=Column(BigInteger))
    # Set for scheduled events (a digest per cron instant and webhook): the unique index
    # makes a second enqueue, by a restart or another replica, fail instead of duplicating.
    idempotency_key: str | None = Field(default=None, max_length=200, unique=True, index=True)


class DeliveryAttempt(SQLModel, table=True):
    """One HTTP try of a delivery, with the receiver's answer or the error."""

    __tablename__ = "delivery_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_seq: int = Field(foreign_key="deliveries.seq", index=True)
    ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0


class WebhookState(SQLModel, table=True):
    """A webhook endpoint disabled by a 410 Gone (re-enabled through the API)."""

    __tablename__ = "webhook_states"

    name: str = Field(primary_key=True, max_length=64)
    disabled_ts: int | None = Field(default=None, sa_column=Column(BigInteger))
    disabled_reason: str | None = None


class ValueChange(SQLModel, table=True):
    """A manual value corrected or deleted through the API: what, when, and by whose token."""

    __tablename__ = "value_changes"

    id: int | None = Field(default=None, primary_key=True)
    key_result_id: str = Field(foreign_key="key_results.id", index=True, max_length=64)
    sample_ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    action: str = Field(max_length=16)
    old_value: float | None = None
    new_value: float | None = None
    author: str = Field(max_length=200)
    changed_ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    note: str | None = None


class DataVersion(SQLModel, table=True):
    """One row whose counter every write of what the API shows raises in its transaction.

    Readers on any replica compare it with the version their cached representations were
    built at (`app.api.cache`); see docs/decisions.md, "Read path: cached representations".
    """

    __tablename__ = "data_version"

    id: int = Field(default=1, primary_key=True)
    version: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
