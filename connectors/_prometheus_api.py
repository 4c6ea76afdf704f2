"""Call the Prometheus HTTP API: one GET with retries, its failures mapped to connector errors.

httpx rather than prometheus-api-client: its `custom_query` drops `resultType` and
`warnings`, which the connector needs, and httpx answered instant queries about 20% faster
in `benchmarks/prometheus_client_choice.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from connectors._http import Describe, raise_for_status, transport_error
from connectors.base import ConnectorError, QueryRejected, SourceUnavailable, excerpt

if TYPE_CHECKING:
    import ssl

# Worth another try: the server may be restarting. A read timeout is not: the same query
# would likely time out again, and retrying it would multiply the wait.
_TRANSIENT_ERRORS = (httpx.NetworkError, httpx.ConnectTimeout, httpx.RemoteProtocolError)


class _Transient(SourceUnavailable):
    """A failure worth retrying (connection error, HTTP 5xx)."""


@dataclass(frozen=True)
class ApiResult:
    """The `data` of a successful answer and any warnings Prometheus attached to it."""

    result_type: str
    result: Any
    warnings: list[str] = field(default_factory=list)


class PrometheusApi:
    """An HTTP session to one Prometheus-compatible API (Prometheus, Thanos, Mimir, Cortex)."""

    def __init__(
        self,
        *,
        url: str,
        timeout_seconds: float,
        retries: int,
        headers: dict[str, str],
        auth: httpx.Auth | None,
        verify: bool | ssl.SSLContext,
    ) -> None:
        self.url = url
        self.retries = retries
        self.timeout_seconds = timeout_seconds
        self._client = httpx.Client(
            base_url=url, timeout=timeout_seconds, headers=headers, auth=auth, verify=verify
        )

    def get(self, path: str, params: dict[str, str], *, what: str) -> ApiResult:
        """GET `path` and return its data; `what` names the request in error messages."""
        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=0.5, max=4),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        try:
            response = retrying(self._get_once, path, params, what=what)
        except _Transient as exc:
            attempts = self.retries + 1
            suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
            raise SourceUnavailable(exc.reason + suffix) from exc
        return _parse(response, what=what)

    def close(self) -> None:
        """Close the HTTP session."""
        self._client.close()

    def _get_once(self, path: str, params: dict[str, str], *, what: str) -> httpx.Response:
        try:
            response = self._client.get(path, params=params)
        except _TRANSIENT_ERRORS as exc:
            raise _Transient(f"{what}: cannot reach Prometheus at {self.url}: {exc}") from exc
        except httpx.RequestError as exc:
            where = f"{what}: Prometheus at {self.url}"
            late = f"{where} did not answer within {self.timeout_seconds} s"
            failed = f"{what}: request to {self.url} failed: {exc}"
            raise transport_error(exc, timed_out=late, failed=failed) from exc
        status, describe = response.status_code, _describe(response, what)
        # A 5xx is worth another try: the server may be restarting.
        raise_for_status(status, response.headers, describe=describe, unavailable=_Transient)
        return response


def _describe(response: httpx.Response, what: str) -> Describe:
    """Return Prometheus's words for a refused answer (`what` names the request)."""

    def describe(status: int, _error: type[ConnectorError]) -> str:
        if status >= 500:
            return f"{what}: Prometheus answered HTTP {status}: {_error_text(response)}"
        if status in (400, 422):
            return f"{what} was rejected by Prometheus: {_error_text(response)}"
        if status in (401, 403):
            return (
                f"{what}: Prometheus answered HTTP {status}; check credentials "
                "(bearer_token, username/password or headers)"
            )
        if status == 429:
            return f"{what}: Prometheus answered HTTP 429"
        return (
            f"{what}: unexpected HTTP {status} from {response.url.path}; "
            f"check url: {_error_text(response)}"
        )

    return describe


def _parse(response: httpx.Response, *, what: str) -> ApiResult:
    try:
        body = response.json()
        data = body["data"]
        return ApiResult(
            result_type=str(data["resultType"]),
            result=data["result"],
            warnings=[str(w) for w in body.get("warnings") or []],
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise QueryRejected(
            f"{what}: the answer is not Prometheus API JSON; check url: {excerpt(response.text)!r}"
        ) from exc


def _error_text(response: httpx.Response) -> str:
    """Return Prometheus's `error` field, or the start of a body that is not its JSON."""
    try:
        body = response.json()
        return f"{body['errorType']}: {body['error']}"
    except (ValueError, KeyError, TypeError):
        return excerpt(response.text) or "(empty body)"
