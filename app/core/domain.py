"""Enumerations shared by the config, the progress engine, the store, the outbox and the API.

Each is defined once here; the stored values are these strings.
"""

from __future__ import annotations

from enum import StrEnum


class Direction(StrEnum):
    """Which way a Key Result's value should move, or which band it should stay in."""

    INCREASE = "increase"
    DECREASE = "decrease"
    AT_LEAST = "at_least"
    AT_MOST = "at_most"
    WITHIN = "within"

    @property
    def is_band(self) -> bool:
        """Band Key Results are scored by the share of samples inside the band."""
        return self in (Direction.AT_LEAST, Direction.AT_MOST, Direction.WITHIN)

    @property
    def lower_is_better(self) -> bool:
        """Whether the period's best value is its lowest (alerts and the best-value figure)."""
        return self in (Direction.DECREASE, Direction.AT_MOST)


class Status(StrEnum):
    """Where a Key Result stands; every status comes with a one-line reason."""

    ACHIEVED = "achieved"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    NO_DATA = "no_data"
    STALE = "stale"
    ERROR = "error"
    NOT_STARTED = "not_started"
    CLOSED = "closed"


class DeliveryState(StrEnum):
    """Where an outbox row stands (`deliveries.state`; see `app.alerts.delivery` for how it moves).

    `failed` rows are kept and can be redelivered through the API; nothing is ever deleted.
    """

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


# Failure kinds that say the source is away (not that one Key Result's query is wrong): the
# scheduler backs off on them, and a Key Result failing only with them turns `stale` in time.
SOURCE_AWAY_KINDS = frozenset({"source_unavailable", "rate_limited", "timeout", "backing_off"})


class Aggregate(StrEnum):
    """How the samples inside an aggregation window become the current value."""

    LAST = "last"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    SUM = "sum"
    MEDIAN = "median"
    P90 = "p90"


def parse_amount(spec: float | str) -> tuple[float, bool]:
    """Return (amount, relative) of a validated config amount: `12.5`, or `"30%"` as (0.3, True).

    The one place a percentage in the config becomes a number (targets and alert thresholds).
    """
    if isinstance(spec, str):
        return float(spec.rstrip("%").strip()) / 100.0, True
    return float(spec), False


# Events that are not alert rules' (`app.core.alert_rules.EventType`): the OKR rhythm's.
DIGEST_EVENT = "okr.digest"
REMINDER_EVENT = "okr.checkin_reminder"  # built by `app.rhythm.reminders`
PERIOD_CLOSED = "okr.period_closed"
