"""The HTTP JSON connector: GET or POST an endpoint and read one number from its JSON."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import httpx
from pydantic import ConfigDict, Field, FilePath, SecretStr, model_validator

from connectors._http import Describe, raise_for_status, read_capped, transport_error
from connectors._http_json_paths import (
    PathLanguage,
    check_expression,
    find_values,
    parse_json,
    read_number,
)
from connectors.base import (
    ConnectorError,
    ConnectorQuery,
    ConnectorSettings,
    Measurement,
    QueryRejected,
    RateLimited,
    StateStore,
)


class HttpJsonSettings(ConnectorSettings):
    """`[connectors.NAME]` of type http_json: where the API is and how to authenticate."""

    # Inputs may be secrets (`token`, header values): keep them out of validation errors.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    base_url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    token: SecretStr | None = None
    timeout_seconds: float = Field(10.0, gt=0, le=300)
    verify_tls: bool = True
    ca_bundle: FilePath | None = None
    # A misconfigured url can point at a download or an endless stream: stop reading there.
    max_response_bytes: int = Field(10_000_000, gt=0, le=1_000_000_000)

    @model_validator(mode="after")
    def _check_consistency(self) -> HttpJsonSettings:
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        if self.ca_bundle is not None and not self.verify_tls:
            raise ValueError("ca_bundle verifies TLS; it cannot go with verify_tls = false")
        if self.token is not None and any(k.lower() == "authorization" for k in self.headers):
            raise ValueError("give token or an Authorization header, not both")
        return self


class HttpJsonQuery(ConnectorQuery):
    """A Key Result's source: the endpoint and the path of the number in its answer.

    `{at}` (ISO 8601 UTC, to the second) and `{at_unix}` in `url` and in string values of
    `body` are replaced by the sample instant.
    """

    url: str = Field(min_length=1)
    method: Literal["GET", "POST"] = "GET"
    body: dict[str, Any] | None = None
    jsonpath: str | None = None
    jmespath: str | None = None
    numerator_path: str | None = None
    denominator_path: str | None = None

    @model_validator(mode="after")
    def _check_paths(self) -> HttpJsonQuery:
        if (self.jsonpath is None) == (self.jmespath is None):
            raise ValueError("give exactly one of jsonpath or jmespath")
        if self.body is not None and self.method != "POST":
            raise ValueError('body is only sent with method = "POST"')
        for expression in (self.expression, self.numerator_path, self.denominator_path):
            if expression is not None:
                check_expression(self.language, expression)
        return self

    @property
    def language(self) -> PathLanguage:
        """Return which path language the expressions are written in."""
        return "jsonpath" if self.jsonpath is not None else "jmespath"

    @property
    def expression(self) -> str:
        """Return the expression that selects the value."""
        return self.jsonpath if self.jsonpath is not None else str(self.jmespath)


class HttpJsonConnector:
    """Sample a number from any HTTP endpoint that answers JSON."""

    Settings: ClassVar[type[HttpJsonSettings]] = HttpJsonSettings
    Query: ClassVar[type[HttpJsonQuery]] = HttpJsonQuery
    scheduled: ClassVar[bool] = True
    # An HTTP API is someone else's service: no faster than every 10 s.
    min_interval_seconds: ClassVar[int] = 10

    def __init__(self, settings: HttpJsonSettings, state: StateStore | None = None) -> None:
        self.settings = settings
        headers = {"Accept": "application/json", **settings.headers}
        if settings.token is not None:
            headers["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
        verify: ssl.SSLContext | bool = settings.verify_tls
        if settings.ca_bundle is not None:
            verify = ssl.create_default_context(cafile=str(settings.ca_bundle))
        self._client = httpx.Client(
            base_url=settings.base_url or "",
            headers=headers,
            timeout=settings.timeout_seconds,
            verify=verify,
            follow_redirects=True,
        )

    def measure(self, query: HttpJsonQuery, at: datetime) -> Measurement:
        """Fetch the endpoint for instant `at` and return the number at the query's path."""
        url = _fill(query.url, at)
        body = _fill_body(query.body, at) if query.body is not None else None
        # The query string may hold an API key: name the url without it.
        shown = query.url.split("?")[0]
        try:
            if httpx.URL(url).is_relative_url and self.settings.base_url is None:
                raise QueryRejected(f"http_json: url {shown!r} is relative; set base_url")
            request = self._client.build_request(query.method, url, json=body)
        except httpx.InvalidURL as exc:
            raise QueryRejected(f"http_json: url {shown!r} is not valid: {exc}") from None
        where = f"http_json {query.method} {display_url(request.url)}"
        response, body = self._send(request, where)
        document = parse_json_response(response, body, where=where)

        def number(expression: str) -> tuple[float, bool]:
            found = find_values(query.language, expression, document, where=where)
            return read_number(found, expression=expression, where=where)

        value, from_string = number(query.expression)
        parts = [
            number(path)[0] if path is not None else None
            for path in (query.numerator_path, query.denominator_path)
        ]
        details: dict[str, Any] = {
            "url": display_url(request.url),
            "method": query.method,
            query.language: query.expression,
        }
        if from_string:
            details["note"] = "the value was a numeric string"
        return Measurement(value, at, numerator=parts[0], denominator=parts[1], details=details)

    def _send(self, request: httpx.Request, where: str) -> tuple[httpx.Response, bytes]:
        """Send `request`; return the response and its body, read up to the size limit."""
        timeout = self.settings.timeout_seconds
        try:
            response = self._client.send(request, stream=True)
        except httpx.UnsupportedProtocol as exc:
            raise QueryRejected(f"{where}: {exc}") from None
        except httpx.RequestError as exc:
            timed_out = f"{where}: no answer within {timeout:g} s"
            raise transport_error(exc, timed_out=timed_out, failed=_failed(where, exc)) from None
        try:
            describe = _describe(response, where)
            raise_for_status(response.status_code, response.headers, describe=describe)
            return response, self._read_body(response, where)
        finally:
            response.close()

    def _read_body(self, response: httpx.Response, where: str) -> bytes:
        limit = self.settings.max_response_bytes
        too_large = f"{where}: the answer is larger than max_response_bytes = {limit:,} bytes"
        try:
            return read_capped(response, limit=limit, too_large=lambda _declared: too_large)
        except httpx.RequestError as exc:
            timeout = self.settings.timeout_seconds
            timed_out = f"{where}: the answer did not finish within {timeout:g} s"
            raise transport_error(exc, timed_out=timed_out, failed=_failed(where, exc)) from None

    def close(self) -> None:
        """Close the HTTP client and its connections."""
        self._client.close()


def _failed(where: str, error: httpx.RequestError) -> str:
    """Name a failed request by where it went and what went wrong."""
    return f"{where}: {type(error).__name__}: {error}"


def _describe(response: httpx.Response, where: str) -> Describe:
    """Return the words for a refused answer: its status line, and the token to check."""

    def describe(status: int, error: type[ConnectorError]) -> str:
        if error is RateLimited:
            return f"{where}: HTTP {status} Too Many Requests"
        hint = "; check the token" if status in (401, 403) else ""
        return f"{where}: HTTP {status} {response.reason_phrase}{hint}"

    return describe


def parse_json_response(response: httpx.Response, body: bytes, *, where: str) -> Any:
    """Return the parsed JSON body; a body that is not JSON is a rejected query.

    An HTML login page or a plain-text answer means the url or the auth is wrong, which a
    person must fix, so this is QueryRejected rather than NoData.
    """
    try:
        return parse_json(body.decode(response.encoding or "utf-8"))
    except (ValueError, LookupError):
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        raise QueryRejected(f"{where}: the answer is not JSON ({kind})") from None


def display_url(url: httpx.URL) -> str:
    """Render a URL without userinfo, query string or fragment: those may carry secrets."""
    shown = str(url.copy_with(query=None, fragment=None, username=None, password=None))
    return shown + ("?..." if url.query else "")


def _fill(text: str, at: datetime) -> str:
    """Replace `{at}` and `{at_unix}` with the sample instant."""
    at_utc = at.astimezone(UTC)
    return text.replace("{at_unix}", str(int(at_utc.timestamp()))).replace(
        "{at}", at_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def _fill_body(node: Any, at: datetime) -> Any:
    """Replace the placeholders in every string of a JSON body."""
    if isinstance(node, str):
        return _fill(node, at)
    if isinstance(node, dict):
        return {key: _fill_body(value, at) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill_body(value, at) for value in node]
    return node
