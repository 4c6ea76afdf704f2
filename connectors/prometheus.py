"""The Prometheus connector: a PromQL query evaluated at the sampling instant, or over a range."""

from __future__ import annotations

import ssl
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Self

import httpx
from pydantic import Field, FilePath, SecretStr, field_validator, model_validator

from connectors._prometheus_api import ApiResult, PrometheusApi
from connectors._prometheus_samples import Reduce, Sample, details_of, value_of
from connectors.base import (
    ConnectorQuery,
    ConnectorSettings,
    Measurement,
    NoData,
    QueryRejected,
    StateStore,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class PrometheusSettings(ConnectorSettings):
    """`[connectors.NAME]` for a Prometheus-compatible API (Prometheus, Thanos, Mimir, Cortex)."""

    url: str
    timeout_seconds: float = Field(default=10, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    bearer_token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    headers: dict[str, str] = {}
    verify_tls: bool = True
    ca_bundle: FilePath | None = None

    @field_validator("url")
    @classmethod
    def _is_base_url(cls, value: str) -> str:
        url = httpx.URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"{value!r} is not an http(s) URL such as http://prometheus:9090")
        if url.userinfo:
            raise ValueError("put credentials in username/password, not in the url")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _auth_is_consistent(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if self.bearer_token is not None and self.username is not None:
            raise ValueError("set bearer_token or username/password, not both")
        sets_auth = self.bearer_token is not None or self.username is not None
        if sets_auth and any(name.lower() == "authorization" for name in self.headers):
            raise ValueError("an Authorization header conflicts with bearer_token/username")
        if self.ca_bundle is not None and not self.verify_tls:
            raise ValueError("ca_bundle is ignored when verify_tls is false; drop one of them")
        return self


class PrometheusQuery(ConnectorQuery):
    """A Key Result's PromQL and how to combine several series into one value."""

    query: str = Field(min_length=1)
    reduce: Reduce | None = None


class PrometheusConnector:
    """Evaluate PromQL through the Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`)."""

    Settings: ClassVar[type[PrometheusSettings]] = PrometheusSettings
    Query: ClassVar[type[PrometheusQuery]] = PrometheusQuery
    scheduled: ClassVar[bool] = True
    # Prometheus scrapes every 10-60 s: sampling faster repeats the same value.
    min_interval_seconds: ClassVar[int] = 10
    # Prometheus refuses a range query with more than 11,000 points per series.
    max_points_per_chunk: int = 11_000

    def __init__(self, settings: PrometheusSettings, state: StateStore | None = None) -> None:
        self.settings = settings
        headers = dict(settings.headers)
        if settings.bearer_token is not None:
            headers["Authorization"] = f"Bearer {settings.bearer_token.get_secret_value()}"
        auth = None
        if settings.username is not None and settings.password is not None:
            auth = httpx.BasicAuth(settings.username, settings.password.get_secret_value())
        verify: bool | ssl.SSLContext = settings.verify_tls
        if settings.ca_bundle is not None:
            verify = ssl.create_default_context(cafile=str(settings.ca_bundle))
        self._api = PrometheusApi(
            url=settings.url,
            timeout_seconds=settings.timeout_seconds,
            retries=settings.retries,
            headers=headers,
            auth=auth,
            verify=verify,
        )

    def measure(self, query: PrometheusQuery, at: datetime) -> Measurement:
        """Return the value of the PromQL instant query evaluated at `at`."""
        when = _prom_time(at)
        what = f"prometheus query {query.query!r} at {at.isoformat()}"
        answer = self._api.get("/api/v1/query", self._params(query, time=when), what=what)
        samples = _instant_samples(answer, what=what)
        value = value_of(samples, reduce=query.reduce, what=what)
        details = details_of(samples, query=query.query, reduce=query.reduce)
        details["evaluated_at"] = at.isoformat()
        if answer.warnings:
            details["warnings"] = answer.warnings
        return Measurement(value=value, at=at, details=details)

    def history(
        self, query: PrometheusQuery, *, start: datetime, end: datetime, step_seconds: int
    ) -> list[Measurement]:
        """Return one measurement per step from `start` to `end` that has data, oldest first."""
        if step_seconds <= 0:
            raise ValueError("step_seconds must be positive")
        start_ms, end_ms, step_ms = _ms(start), _ms(end), step_seconds * 1000
        measurements: list[Measurement] = []
        for first_ms, last_ms in _chunks(
            start_ms, end_ms, step_ms=step_ms, max_points=self.max_points_per_chunk
        ):
            what = (
                f"prometheus range query {query.query!r} from {_at(first_ms).isoformat()} "
                f"to {_at(last_ms).isoformat()} every {step_seconds} s"
            )
            params = self._params(
                query, start=_prom_time(_at(first_ms)), end=_prom_time(_at(last_ms))
            )
            params["step"] = str(step_seconds)
            answer = self._api.get("/api/v1/query_range", params, what=what)
            by_step = _range_samples(answer, what=what)
            for stamp_ms in sorted(by_step):
                samples = by_step[stamp_ms]
                try:
                    value = value_of(samples, reduce=query.reduce, what=what)
                except NoData:
                    continue  # A NaN or infinite point is a step without data.
                details = details_of(samples, query=query.query, reduce=query.reduce)
                if answer.warnings:
                    details["warnings"] = answer.warnings
                measurements.append(Measurement(value=value, at=_at(stamp_ms), details=details))
        return measurements

    def close(self) -> None:
        """Close the HTTP session."""
        self._api.close()

    def _params(self, query: PrometheusQuery, **times: str) -> dict[str, str]:
        # Ask Prometheus to give up when we do, rather than keep evaluating for nobody. It
        # reads a bare number as seconds; "2.5s" would be refused as a duration.
        return {"query": query.query, "timeout": str(self.settings.timeout_seconds), **times}


def _instant_samples(answer: ApiResult, *, what: str) -> list[Sample]:
    """Return the samples of an instant query's answer; refuse other result types."""
    if answer.result_type not in ("scalar", "vector"):
        raise QueryRejected(
            f"{what} returned a {answer.result_type}; an instant vector or a scalar is "
            "needed (drop a range selector such as [5m], or wrap it in rate())"
        )
    try:
        if answer.result_type == "scalar":
            return [Sample({}, str(answer.result[1]))]
        return [Sample(s["metric"], str(s["value"][1])) for s in answer.result]
    except (KeyError, IndexError, TypeError) as exc:
        raise QueryRejected(f"{what}: the answer has an unexpected shape: {exc!r}") from exc


def _range_samples(answer: ApiResult, *, what: str) -> dict[int, list[Sample]]:
    """Return a range query's samples grouped by their step, in milliseconds since the epoch."""
    if answer.result_type != "matrix":
        raise QueryRejected(f"{what} returned a {answer.result_type}, not a matrix")
    by_step: dict[int, list[Sample]] = defaultdict(list)
    try:
        for series in answer.result:
            for stamp, text in series["values"]:
                by_step[round(float(stamp) * 1000)].append(Sample(series["metric"], str(text)))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise QueryRejected(f"{what}: the answer has an unexpected shape: {exc!r}") from exc
    return by_step


def _chunks(start_ms: int, end_ms: int, *, step_ms: int, max_points: int) -> list[tuple[int, int]]:
    """Split the steps from start to end into ranges of at most `max_points` steps each."""
    steps = (end_ms - start_ms) // step_ms + 1 if end_ms >= start_ms else 0
    return [
        (start_ms + first * step_ms, start_ms + (min(first + max_points, steps) - 1) * step_ms)
        for first in range(0, steps, max_points)
    ]


def _ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("Prometheus times must be timezone-aware (UTC)")
    return (moment - _EPOCH) // _MS


def _at(ms: int) -> datetime:
    return _EPOCH + ms * _MS


def _prom_time(moment: datetime) -> str:
    """Write an instant as Prometheus's seconds with milliseconds, without float rounding."""
    ms = _ms(moment)
    return f"{ms // 1000}.{ms % 1000:03d}"
