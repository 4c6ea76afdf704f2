"""Send GitHub REST requests through PyGithub and turn every refusal into a typed error.

PyGithub supplies authentication (token or App installation), the Enterprise base URL
and its connection pool; we call its `Requester` directly because its paginated lists
cannot send `If-None-Match`, and because its own rate-limit retry would sleep inside the
scheduler until the quota resets (up to an hour).
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import requests
from github import Github, GithubException
from urllib3.util.retry import Retry

from connectors._http import Describe, raise_for_status, rate_limit
from connectors.base import ConnectorError, QueryRejected, RateLimited, SourceUnavailable

if TYPE_CHECKING:
    from collections.abc import Iterator

    from github.Auth import Auth

log = logging.getLogger(__name__)

# Retry only what a retry can cure (connection resets, 5xx) and briefly; 403/429 are
# handled below so that a rate limit is never slept through here.
_RETRY = Retry(
    total=2,
    backoff_factor=0.5,
    backoff_max=4,
    status_forcelist=(500, 502, 503, 504),
    allowed_methods=frozenset({"GET"}),
    respect_retry_after_header=False,
    raise_on_status=False,
)
_DEFAULT_WAIT_SECONDS = 60
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
# How long answers are shared between the Key Results sampled at one instant.
SHARE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Page:
    """One answer: its JSON (None for 304), its ETag and the `Link` next-page URL."""

    data: Any
    etag: str | None
    next_url: str | None
    not_modified: bool = False


class GithubHttp:
    """GET JSON from the GitHub API with conditional requests and capped rate-limit waits."""

    def __init__(
        self, *, auth: Auth | None, base_url: str, timeout_seconds: int, max_wait_seconds: float
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_wait_seconds = max_wait_seconds
        self.github = Github(
            auth=auth,
            base_url=self.base_url,
            timeout=timeout_seconds,
            retry=_RETRY,
            per_page=100,
            # Requests are already serial (one lock per connector); PyGithub's default
            # 0.25 s pause between requests would only slow a first sync down.
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        self.requests_sent = 0
        self.not_modified = 0
        self._limited_until: datetime | None = None
        self._instant: datetime | None = None
        self._instant_began = 0.0
        self._answers: dict[tuple[str, tuple[tuple[str, str], ...], str | None], Page] = {}

    def share_answers_for(self, instant: datetime | None) -> None:
        """Answer repeated GETs from memory while sampling `instant` (None: always ask GitHub).

        Several Key Results on one repository are sampled at the same instant; each would
        otherwise re-send the same conditional listing and status requests. Answers are
        dropped when the instant changes, or after `SHARE_SECONDS` (a re-run of an old
        instant must see what changed since).
        """
        stale = time.monotonic() - self._instant_began > SHARE_SECONDS
        if instant != self._instant or instant is None or stale:
            self._answers.clear()
            self._instant, self._instant_began = instant, time.monotonic()

    def get(
        self, url: str, *, repo: str, params: dict[str, Any] | None = None, etag: str | None = None
    ) -> Page:
        """Return one page; raise RateLimited, QueryRejected or SourceUnavailable on refusal."""
        key = (url, tuple(sorted((k, str(v)) for k, v in (params or {}).items())), etag)
        shared = self._answers.get(key)
        if shared is not None:
            return shared
        page = self._get(url, repo=repo, params=params, etag=etag)
        if self._instant is not None:
            self._answers[key] = page
            if page.etag and not page.not_modified:
                # A caller that stored this answer asks next with its ETag: it is unchanged.
                unchanged = Page(data=None, etag=page.etag, next_url=None, not_modified=True)
                self._answers[(url, key[1], page.etag)] = unchanged
        return page

    def _get(self, url: str, *, repo: str, params: dict[str, Any] | None, etag: str | None) -> Page:
        for attempt in (1, 2):
            self._refuse_while_limited(url)
            status, headers, body = self._send(url, params, etag)
            now = datetime.now(UTC)
            limit = rate_limit(status, headers, now=now, quota_headers=True)
            if limit is None:
                self._remember_quota(headers)
                return self._page(status, headers, body, url=url, repo=repo)
            # GitHub's docs: with neither retry-after nor a reset time, wait at least a minute.
            until = limit.until or now + timedelta(seconds=_DEFAULT_WAIT_SECONDS)
            wait = (until - now).total_seconds()
            if attempt == 1 and wait <= self.max_wait_seconds:
                log.info("github: rate limited on %s, waiting %.0f s", _path(url), wait)
                time.sleep(wait)
                continue
            self._limited_until = until
            raise RateLimited(f"github: rate limited on GET {_path(url)}", until=until)
        raise AssertionError("unreachable")

    def pages(
        self, url: str, *, repo: str, params: dict[str, Any], etag: str | None = None
    ) -> Iterator[Page]:
        """Yield pages by following `Link: rel="next"`; the caller stops when it has enough."""
        next_url: str | None = url
        query: dict[str, Any] | None = params
        while next_url:
            if next_url.startswith(("http://", "https://")) and not next_url.startswith(
                self.base_url
            ):
                raise SourceUnavailable(f"github: next page {next_url} is outside {self.base_url}")
            page = self.get(next_url, repo=repo, params=query, etag=etag)
            yield page
            next_url, query, etag = page.next_url, None, None

    def close(self) -> None:
        """Close PyGithub's connection pool."""
        self.github.close()

    def _send(
        self, url: str, params: dict[str, Any] | None, etag: str | None
    ) -> tuple[int, dict[str, Any], str]:
        headers = {"Accept": "application/vnd.github+json"}
        if etag:
            headers["If-None-Match"] = etag
        self.requests_sent += 1
        try:
            return self.github.requester.requestJson("GET", url, parameters=params, headers=headers)
        except GithubException as exc:
            # Raised while PyGithub fetches a GitHub App installation token.
            if exc.status in (401, 403, 404):
                raise QueryRejected(
                    f"github: the GitHub App installation token was refused ({exc.status}); "
                    "check app_id, private_key and installation_id"
                ) from None
            raise SourceUnavailable(f"github: token request failed ({exc.status})") from None
        except requests.RequestException as exc:
            raise SourceUnavailable(
                f"github: cannot reach {self.base_url} ({type(exc).__name__}) for GET {_path(url)}"
            ) from None

    def _refuse_while_limited(self, url: str) -> None:
        if self._limited_until is not None and datetime.now(UTC) < self._limited_until:
            raise RateLimited(
                f"github: quota exhausted, GET {_path(url)} not sent", until=self._limited_until
            )

    def _remember_quota(self, headers: dict[str, Any]) -> None:
        # The answer that spends the last request of the quota tells when it comes back:
        # later samples then fail fast instead of spending a request to learn it.
        reset = headers.get("x-ratelimit-reset")
        if headers.get("x-ratelimit-remaining") == "0" and reset and reset.isdigit():
            self._limited_until = datetime.fromtimestamp(int(reset), UTC)

    def _page(
        self, status: int, headers: dict[str, Any], body: str, *, url: str, repo: str
    ) -> Page:
        etag = headers.get("etag")
        if status == 304:
            self.not_modified += 1
            return Page(data=None, etag=etag, next_url=None, not_modified=True)
        if status < 300:
            try:
                data = json.loads(body) if body else None
            except ValueError:
                raise SourceUnavailable(f"github: GET {_path(url)} answered non-JSON") from None
            match = _NEXT_LINK.search(headers.get("link", ""))
            return Page(data=data, etag=etag, next_url=match.group(1) if match else None)
        raise_for_status(status, headers, describe=_describe(body, url=url, repo=repo))
        raise AssertionError(f"unreachable: status {status} is neither an answer nor refused")


def _describe(body: str, *, url: str, repo: str) -> Describe:
    """Return the github connector's words for a refused GET of `url` on `repo`."""
    message = _message(body)

    def describe(status: int, _error: type[ConnectorError]) -> str:
        if status == 401:
            return (
                f"github: token rejected (401 {message}) on GET {_path(url)}; "
                "renew the token or check the App installation"
            )
        if status == 404:
            return f"github: repository {repo} not found or token lacks access (GET {_path(url)})"
        if status < 500:
            return f"github: GET {_path(url)} refused ({status} {message})"
        return f"github: GET {_path(url)} failed ({status} {message})"

    return describe


def _message(body: str) -> str:
    try:
        return str(json.loads(body).get("message", "")).strip()
    except (ValueError, AttributeError):
        return ""


def _path(url: str) -> str:
    return urlparse(url).path
