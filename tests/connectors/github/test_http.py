"""GitHub's refusals: rate limits (waited out or failed with `until`), bad tokens, outages.

The replay and the rules for expected values: `tests.connectors.github.support`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import (
    QueryRejected,
    RateLimited,
    SourceUnavailable,
)
from connectors.github import GithubConnector
from tests.conftest import free_port
from tests.connectors.github.support import (
    G3,
    PYGH,
    TOKEN,
    make,
    query,
    serve_github3py_deployments,
)
from tests.support.github_replay import GithubReplay


def test_primary_rate_limit_403_gives_until_without_sleeping(replay: GithubReplay) -> None:
    """The recorded 403 with remaining 0 and no reset header: RateLimited a minute from now."""
    replay.route(
        f"/repos/{G3}/deployments", replay.recorded_exchange("rate-limit-exceeded.primary-403")
    )
    connector = make(replay, max_rate_limit_wait_seconds=5)
    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as caught:
        connector.measure(query(repo=G3, metric="deployment_frequency"), before)
    after = datetime.now(UTC)
    # GitHub's docs: with no reset time, wait at least one minute.
    assert caught.value.until is not None
    assert before + timedelta(seconds=60) <= caught.value.until <= after + timedelta(seconds=60)
    assert after - before < timedelta(seconds=3)
    assert "rate limited until" in caught.value.reason and G3 in caught.value.reason


def test_primary_rate_limit_with_reset_header_and_no_request_until_then(
    replay: GithubReplay,
) -> None:
    """A primary limit's x-ratelimit-reset is `until`; later samples fail without a request."""
    recorded = replay.recorded_exchange("rate-limit-exceeded.primary-403")
    reset = int(time.time()) + 3600
    # synthetic: the 2013 recording predates the reset header GitHub now sends (docs).
    recorded.headers.append(("x-ratelimit-reset", str(reset)))
    replay.route(f"/repos/{G3}/deployments", recorded)
    connector = make(replay)
    for _ in range(2):
        with pytest.raises(RateLimited) as caught:
            connector.measure(query(repo=G3, metric="deployment_frequency"), datetime.now(UTC))
        assert caught.value.until == datetime.fromtimestamp(reset, UTC)
    assert replay.count("/deployments") == 1


def test_secondary_rate_limit_403_retry_after(replay: GithubReplay) -> None:
    """The recorded secondary 403 (Retry-After: 60) above the cap: RateLimited at now + 60 s."""
    replay.route(
        f"/repos/{G3}/deployments", replay.recorded_exchange("rate-limit-exceeded.secondary-403")
    )
    connector = make(replay, max_rate_limit_wait_seconds=5)
    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as caught:
        connector.measure(query(repo=G3, metric="deployment_frequency"), before)
    after = datetime.now(UTC)
    assert caught.value.until is not None
    assert before + timedelta(seconds=60) <= caught.value.until <= after + timedelta(seconds=60)
    assert after - before < timedelta(seconds=3)


def test_a_short_retry_after_within_the_cap_is_waited_out(replay: GithubReplay) -> None:
    """A Retry-After within max_rate_limit_wait_seconds is slept once, then the sample succeeds."""
    serve_github3py_deployments(replay)
    limited = replay.recorded_exchange("rate-limit-exceeded.secondary-403")
    # synthetic: the recorded secondary 403 with Retry-After shortened to one second.
    limited.headers = [(k, "1" if k == "Retry-After" else v) for k, v in limited.headers]
    replay.route(f"/repos/{G3}/deployments", limited, times=1)
    started = time.monotonic()
    result = make(replay, max_rate_limit_wait_seconds=5).measure(
        query(repo=G3, metric="deployment_frequency"), datetime(2014, 3, 1, tzinfo=UTC)
    )
    assert result.numerator == 1
    assert replay.count("/deployments", status=403) == 1 and time.monotonic() - started >= 1


def test_unknown_repository_is_rejected_with_its_name(replay: GithubReplay) -> None:
    """A 404 on the repository says it is missing or the token cannot see it."""
    with pytest.raises(QueryRejected) as caught:
        make(replay).measure(
            query(repo="nobody/nothing", metric="deployment_frequency"), datetime.now(UTC)
        )
    assert "repository nobody/nothing not found or token lacks access" in caught.value.reason


def test_revoked_token_is_rejected_without_showing_it(replay: GithubReplay) -> None:
    """A 401 says the token was rejected and never echoes the token."""
    # synthetic: GitHub's documented 401 body; no 401 was recorded.
    bad = replay.synthetic(
        {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
        status=401,
    )
    replay.route(f"/repos/{G3}/deployments", bad)
    with pytest.raises(QueryRejected) as caught:
        make(replay).measure(query(repo=G3, metric="deployment_frequency"), datetime.now(UTC))
    assert "token rejected" in caught.value.reason and TOKEN not in caught.value.reason
    assert replay.seen[0].headers["authorization"] == f"token {TOKEN}"


def test_unknown_workflow_is_rejected_naming_it_and_the_known_ones(replay: GithubReplay) -> None:
    """A workflow missing from the repository's list is named, with the workflows that exist."""
    replay.route(f"/repos/{PYGH}/actions/workflows", replay.recorded("workflows"))
    with pytest.raises(QueryRejected) as caught:
        make(replay).measure(
            query(
                repo=PYGH,
                metric="deployment_frequency",
                deployments_from="workflow_runs",
                workflow="deploy.yml",
            ),
            datetime.now(UTC),
        )
    assert "'deploy.yml' not found in PyGithub/PyGithub" in caught.value.reason
    assert "check.yml (check)" in caught.value.reason


def test_server_errors_and_refused_connections_are_source_unavailable(replay: GithubReplay) -> None:
    """A 5xx after PyGithub's short retries, or no server at all, is SourceUnavailable."""
    # synthetic: a 502 body as GitHub's front end sends it.
    replay.route(
        f"/repos/{G3}/deployments", replay.synthetic({"message": "Server Error"}, status=502)
    )
    with pytest.raises(SourceUnavailable, match="502"):
        make(replay).measure(query(repo=G3, metric="deployment_frequency"), datetime.now(UTC))
    nowhere = GithubConnector(GithubConnector.Settings(base_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(SourceUnavailable, match="cannot reach"):
        nowhere.measure(query(repo=G3, metric="deployment_frequency"), datetime.now(UTC))
