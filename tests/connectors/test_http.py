"""The HTTP rules every HTTP connector shares: status, rate limit and Retry-After to errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors._http import RateLimit, raise_for_status, rate_limit, retry_after
from connectors.base import ConnectorError, QueryRejected, RateLimited, SourceUnavailable

AT = datetime(2026, 3, 1, 12, 30, 15, tzinfo=UTC)
RESET = datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
EPOCH_RESET = str(int(RESET.timestamp()))


def test_retry_after_http_date() -> None:
    """A Retry-After HTTP-date is read as that instant in UTC."""
    until = retry_after("Wed, 21 Oct 2026 07:28:00 GMT", now=AT)
    assert until == datetime(2026, 10, 21, 7, 28, tzinfo=UTC)
    assert retry_after("soon", now=AT) is None


@pytest.mark.parametrize(
    ("status", "headers", "quota_headers", "expected"),
    [
        (200, {}, True, None),
        (429, {}, False, RateLimit(until=None)),
        (429, {"retry-after": "30"}, False, RateLimit(until=AT + timedelta(seconds=30))),
        (
            429,
            {"retry-after": "Sun, 01 Mar 2026 13:00:00 GMT"},
            False,
            RateLimit(until=RESET),
        ),
        # Without GitHub's convention a 403 is a refusal, whatever its headers say.
        (403, {"retry-after": "30", "x-ratelimit-remaining": "0"}, False, None),
        (403, {}, True, None),
        (403, {"x-ratelimit-remaining": "5", "x-ratelimit-reset": EPOCH_RESET}, True, None),
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": EPOCH_RESET},
            True,
            RateLimit(until=RESET),
        ),
        (403, {"x-ratelimit-remaining": "0"}, True, RateLimit(until=None)),
        (403, {"retry-after": "60"}, True, RateLimit(until=AT + timedelta(seconds=60))),
        # GitHub's docs: Retry-After first; the reset time only when it is absent.
        (
            403,
            {"retry-after": "60", "x-ratelimit-remaining": "0", "x-ratelimit-reset": EPOCH_RESET},
            True,
            RateLimit(until=AT + timedelta(seconds=60)),
        ),
        # A reset already past means now, never a time before the answer.
        (
            429,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000"},
            True,
            RateLimit(until=AT),
        ),
    ],
)
def test_rate_limit(
    status: int, headers: dict[str, str], quota_headers: bool, expected: RateLimit | None
) -> None:
    """429 is a limit; a 403 only with GitHub's quota headers, when asked to read them."""
    assert rate_limit(status, headers, now=AT, quota_headers=quota_headers) == expected


class _Retryable(SourceUnavailable):
    """A SourceUnavailable a connector would retry."""


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (429, {"retry-after": "5"}, RateLimited),
        (403, {"x-ratelimit-remaining": "0"}, RateLimited),
        (403, {}, QueryRejected),
        (401, {}, QueryRejected),
        (404, {}, QueryRejected),
        (304, {}, QueryRejected),
        (500, {}, _Retryable),
        (503, {"retry-after": "5"}, _Retryable),
    ],
)
def test_raise_for_status_names_the_error_and_asks_for_its_words(
    status: int, headers: dict[str, str], error: type[ConnectorError]
) -> None:
    """Each refused status raises its typed error, with the reason the connector words."""
    asked: list[tuple[int, type[ConnectorError]]] = []

    def describe(code: int, kind: type[ConnectorError]) -> str:
        asked.append((code, kind))
        return f"words for {code}"

    with pytest.raises(error) as raised:
        raise_for_status(
            status, headers, describe=describe, quota_headers=True, unavailable=_Retryable
        )
    assert type(raised.value) is error
    assert raised.value.reason.startswith(f"words for {status}")
    assert asked == [(status, error)]


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_raise_for_status_lets_answers_through(status: int) -> None:
    """A 2xx is an answer: nothing is raised and no words are asked for."""

    def describe(code: int, kind: type[ConnectorError]) -> str:
        raise AssertionError(f"asked to describe {code} as {kind.__name__}")

    raise_for_status(status, {}, describe=describe)
