"""Fetch a coverage report's bytes from a local path or glob, or over HTTP, within a size limit.

Every read is capped: a local file's size is checked before it is opened and no more
than that size is read; a download checks Content-Length and then stops streaming as
soon as the limit is passed, whatever the header said.
"""

from __future__ import annotations

import glob
import json
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from connectors._http import Describe, raise_for_status, read_capped, transport_error
from connectors.base import ConnectorError, NoData, QueryRejected, SourceUnavailable

_GLOB_MAGIC = re.compile(r"[*?\[]")
_MAX_REDIRECTS = 3
_HINTS = {401: " (missing or wrong credentials)", 403: " (forbidden)", 404: " (not found)"}


@dataclass(frozen=True, slots=True)
class Fetched:
    """A report's bytes, the name it goes by in messages, and where it came from."""

    data: bytes
    name: str
    details: dict[str, Any] = field(default_factory=dict)


def read_path(pattern: str, *, limit: int) -> Fetched:
    """Read the newest (by mtime) regular file matching `pattern`, refusing one over `limit`."""
    expanded = os.path.expanduser(pattern)
    candidates = glob.glob(expanded, recursive=True) if _GLOB_MAGIC.search(expanded) else [expanded]
    files: list[tuple[int, str, os.stat_result]] = []
    for candidate in candidates:
        try:
            info = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            files.append((info.st_mtime_ns, candidate, info))
    if not files:
        raise NoData(f"coverage: no report file matches path {pattern!r}")
    _, chosen, info = max(files)
    if info.st_size > limit:
        raise QueryRejected(
            f"coverage: {chosen} is {info.st_size} bytes, over max_report_bytes ({limit})"
        )
    try:
        with open(chosen, "rb") as handle:
            # read(n) allocates n bytes up front, so ask for the stated size, not the limit.
            data = handle.read(info.st_size + 1)
    except OSError as error:
        raise SourceUnavailable(f"coverage: cannot read {chosen}: {error.strerror}") from None
    if len(data) > info.st_size:
        raise NoData(f"coverage: {chosen} is still being written (it grew while read)")
    mtime = datetime.fromtimestamp(info.st_mtime, tz=UTC).isoformat()
    details = {"file": chosen, "file_mtime": mtime, "matched_files": len(files)}
    return Fetched(data=data, name=chosen, details=details)


def redact(url: str) -> str:
    """Return `url` without credentials or query string, fit for messages and details."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _describe(what: str) -> Describe:
    """Return the coverage connector's words for a refused answer of `what`."""

    def describe(status: int, error: type[ConnectorError]) -> str:
        hint = "" if error is not QueryRejected else _HINTS.get(status, "")
        return f"coverage: {what} answered HTTP {status}{hint}"

    return describe


def _read_body(response: httpx.Response, *, limit: int, what: str) -> bytes:
    """Read a streamed body, stopping as soon as it passes `limit` bytes."""

    def too_large(declared: int | None) -> str:
        if declared is None:
            return f"coverage: {what} is over the limit of {limit} bytes; stopped"
        return f"coverage: {what} is {declared} bytes, over the limit of {limit}"

    return read_capped(response, limit=limit, too_large=too_large)


def _get_once(
    client: httpx.Client, url: str, *, headers: dict[str, str], limit: int, what: str
) -> tuple[httpx.Response, bytes]:
    try:
        with client.stream("GET", url, headers=headers, follow_redirects=False) as response:
            if response.is_redirect:
                return response, b""
            # GitHub signals rate limits with 403 and its quota headers too.
            status, describe = response.status_code, _describe(what)
            raise_for_status(status, response.headers, describe=describe, quota_headers=True)
            return response, _read_body(response, limit=limit, what=what)
    except httpx.RequestError as error:
        late = f"coverage: {what} timed out"
        failed = f"coverage: {what} failed: {type(error).__name__}"
        raise transport_error(error, timed_out=late, failed=failed) from None


def download(
    client: httpx.Client,
    url: str,
    *,
    headers: dict[str, str],
    limit: int,
    what: str,
    headers_after_redirect: bool = True,
) -> tuple[httpx.Response, bytes]:
    """GET `url`, following a few redirects, and return the last response and its capped body.

    Headers (credentials) go to a redirect target only on the same origin and only when
    `headers_after_redirect`; a signed download link must not receive the API token.
    """
    current, sent = url, headers
    for _ in range(_MAX_REDIRECTS + 1):
        response, body = _get_once(client, current, headers=sent, limit=limit, what=what)
        if not response.is_redirect:
            return response, body
        location = response.headers.get("location")
        if not location:
            raise SourceUnavailable(f"coverage: {what} redirected without a Location")
        target = urljoin(current, location)
        if not headers_after_redirect or not same_origin(target, current):
            sent = {}
        current = target
    raise SourceUnavailable(f"coverage: {what} redirected more than {_MAX_REDIRECTS} times")


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def same_origin(first: str, second: str) -> bool:
    """Return whether two URLs share scheme, host and port."""
    return _origin(first) == _origin(second)


def get_json(
    client: httpx.Client, url: str, *, headers: dict[str, str], limit: int, what: str
) -> Any:
    """GET `url` and return its JSON body; a non-JSON answer is an error."""
    _, body = download(client, url, headers=headers, limit=limit, what=what)
    try:
        return json.loads(body)
    except ValueError:
        raise SourceUnavailable(f"coverage: {what} did not answer with JSON") from None


def read_url(client: httpx.Client, url: str, *, headers: dict[str, str], limit: int) -> Fetched:
    """Download the report at `url`; credentials follow redirects on the same origin only."""
    shown = redact(url)
    response, body = download(client, url, headers=headers, limit=limit, what=shown)
    details = {"url": shown, "last_modified": response.headers.get("last-modified")}
    return Fetched(data=body, name=shown, details=details)
