"""The connector contract: what every data source implements and the errors it may raise.

A connector is built once from its `[connectors.NAME]` section (its `Settings`) and is
then asked, for one Key Result's `source` (its `Query`), what the value was at an
instant. Connectors know nothing of the database, the scheduler or HTTP serving: they
take plain typed arguments and return a `Measurement` or raise one of the errors below.
The sampling step (`app.sampling.measure`) is the one place that turns those errors into stored,
errored attempts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from datetime import datetime


class ConnectorSettings(BaseModel):
    """Base for a connector's `[connectors.NAME]` section; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ConnectorQuery(BaseModel):
    """Base for the per-Key-Result `source` fields a connector needs (besides `connector`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One observed value of a Key Result's source at one instant.

    `details` says where the number came from (query, series, counts, warnings) and is
    stored with the sample so a reader can check it against the source.
    """

    value: float
    at: datetime
    numerator: float | None = None
    denominator: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A NaN or infinity must never be stored as a number: refuse it at the source.
        if not math.isfinite(self.value):
            raise NoData(f"the source returned {self.value!r}, which is not a number")
        if self.at.tzinfo is None:
            raise ValueError("Measurement.at must be timezone-aware (UTC)")


def excerpt(text: str, limit: int = 200) -> str:
    """Return the start of `text` (a source's answer), ending in `…` when it was cut.

    The mark matters: the service redacts configured secrets from errors, and a secret cut
    in two is recognised only where the cut is marked (`app.core.redaction`).
    """
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


class ConnectorError(Exception):
    """Base of every error a connector raises; `kind` is the stable name stored with it."""

    kind: ClassVar[str] = "connector_error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SourceUnavailable(ConnectorError):
    """The source could not be reached or answered with a server error."""

    kind = "source_unavailable"


class QueryRejected(ConnectorError):
    """The source understood the request and refused it (bad query, auth, not found)."""

    kind = "query_rejected"


class NoData(ConnectorError):
    """The query ran but gave no usable number (empty result, NaN, missing field)."""

    kind = "no_data"


class AmbiguousResult(ConnectorError):
    """The query gave several values and the Key Result does not say how to reduce them."""

    kind = "ambiguous_result"


class RateLimited(ConnectorError):
    """The source asked us to wait; `until` is when it will answer again, if known."""

    kind = "rate_limited"

    def __init__(self, reason: str, *, until: datetime | None = None) -> None:
        if until is not None:
            reason = f"{reason} (rate limited until {until:%Y-%m-%d %H:%M} UTC)"
        super().__init__(reason)
        self.until = until


class StateStore(Protocol):
    """Durable key/value state a connector may keep between samples (bookmarks, raw events).

    The service backs it with its database, namespaced per connector; tests may pass a dict
    wrapper. Values must be JSON-serialisable.
    """

    def load(self, key: str) -> Any | None:
        """Return the value saved under `key`, or None."""
        ...

    def save(self, key: str, value: Any) -> None:
        """Store `value` under `key`, replacing what was there."""
        ...


class MemoryStateStore:
    """A StateStore kept in memory: for tests and one-shot runs."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def load(self, key: str) -> Any | None:
        """Return the value saved under `key`, or None."""
        return self.values.get(key)

    def save(self, key: str, value: Any) -> None:
        """Store `value` under `key`."""
        self.values[key] = value


@runtime_checkable
class Connector(Protocol):
    """A data source. Implementations set the two model classes and `measure`.

    It is constructed as `cls(settings, state=StateStore)`. `scheduled = False` marks
    sources that are not polled (values are pushed, as for the manual connector). An optional
    `min_interval_seconds` class attribute says how often the source can sensibly be sampled:
    `krtracker validate` warns about a shorter `every`.
    """

    Settings: ClassVar[type[ConnectorSettings]]
    Query: ClassVar[type[ConnectorQuery]]
    scheduled: ClassVar[bool]

    def measure(self, query: Any, at: datetime) -> Measurement:
        """Return the value the source gives for `query` as of instant `at` (UTC)."""
        ...

    def close(self) -> None:
        """Release connections; called when the service stops."""
        ...


@runtime_checkable
class SupportsHistory(Protocol):
    """A connector that can backfill: values at each `step` from `start` to `end`."""

    def history(
        self, query: Any, *, start: datetime, end: datetime, step_seconds: int
    ) -> list[Measurement]:
        """Return one measurement per step that has data, oldest first."""
        ...
