"""Turn what an HTTP source answers into the connector errors of `connectors.base`.

Every HTTP connector maps a status, a rate limit and a transport failure the same way;
only the words differ, so each connector passes its own. The rules:

* 2xx is an answer; 429 is RateLimited, and so is a 403 that carries GitHub's quota
  headers when the connector asks for them (`quota_headers`); 5xx is SourceUnavailable;
  any other status is QueryRejected (a person must fix the query, url or credentials).
* A timeout or any other transport failure is SourceUnavailable. The httpx exception is
  not chained: its text may carry the URL with its credentials.
* A body is read up to a limit and no further, whatever Content-Length declared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from connectors.base import ConnectorError, QueryRejected, RateLimited, SourceUnavailable

# The connector's words for a refused answer: given the status and the error class it
# stands for, return the reason (for example, a 403 reads differently as a rate limit).
Describe = Callable[[int, type[ConnectorError]], str]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """An answer that asks the client to wait; `until` is when, if the answer says."""

    until: datetime | None


def retry_after(value: str | None, *, now: datetime) -> datetime | None:
    """Return when a Retry-After header (seconds or HTTP-date, RFC 9110 §10.2.3) expires."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    # HTTP-dates are always GMT; parsedate gives a naive datetime for "-0000".
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def rate_limit(
    status: int, headers: Mapping[str, str], *, now: datetime, quota_headers: bool = False
) -> RateLimit | None:
    """Return the rate limit an answer states, or None when it is not one.

    With `quota_headers`, GitHub's convention also counts (docs: "Rate limits for the REST
    API"): a 403 with `retry-after`, or with `x-ratelimit-remaining: 0`, is a limit, and
    `x-ratelimit-reset` (epoch seconds) says until when if `retry-after` does not.
    `headers` is looked up by lower-case names (httpx's and PyGithub's headers both are).
    """
    waits = bool((headers.get("retry-after") or "").strip())
    exhausted = quota_headers and headers.get("x-ratelimit-remaining") == "0"
    if status != 429 and not (status == 403 and quota_headers and (waits or exhausted)):
        return None
    until = retry_after(headers.get("retry-after"), now=now)
    reset = headers.get("x-ratelimit-reset") or ""
    if until is None and exhausted and reset.isdigit():
        until = max(now, datetime.fromtimestamp(int(reset), UTC))
    return RateLimit(until=until)


def raise_for_status(
    status: int,
    headers: Mapping[str, str],
    *,
    describe: Describe,
    quota_headers: bool = False,
    unavailable: type[SourceUnavailable] = SourceUnavailable,
) -> None:
    """Raise the connector error a non-2xx status stands for, in the connector's words.

    `unavailable` lets a connector mark a 5xx as worth retrying (a subclass it retries).
    """
    if 200 <= status < 300:
        return
    limit = rate_limit(status, headers, now=datetime.now(UTC), quota_headers=quota_headers)
    if limit is not None:
        raise RateLimited(describe(status, RateLimited), until=limit.until)
    if status >= 500:
        raise unavailable(describe(status, unavailable))
    raise QueryRejected(describe(status, QueryRejected))


def transport_error(error: httpx.RequestError, *, timed_out: str, failed: str) -> SourceUnavailable:
    """Return the error a failed request stands for: `timed_out` or `failed`, as it went.

    Raise it `from None`: the httpx exception's text may carry the URL's credentials.
    """
    return SourceUnavailable(timed_out if isinstance(error, httpx.TimeoutException) else failed)


def read_capped(
    response: httpx.Response, *, limit: int, too_large: Callable[[int | None], str]
) -> bytes:
    """Read a streamed body, refusing it as soon as it passes `limit` bytes.

    A Content-Length over the limit is refused before reading (`too_large(declared)`);
    a body that passes the limit while streaming, whatever it declared, is refused there
    (`too_large(None)`). Transport failures while reading are the caller's to map.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise QueryRejected(too_large(int(declared)))
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            raise QueryRejected(too_large(None))
    return bytes(body)
