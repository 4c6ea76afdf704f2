"""Signing in (token, anonymous, GitHub App on Enterprise) and queries refused at config time.

The replay and the rules for expected values: `tests.connectors.github.support`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.github import GithubConnector
from tests.connectors.github.support import (
    G3,
    PYGH,
    TOKEN,
    make,
    query,
)
from tests.support.github_replay import GithubReplay


def test_github_app_installation_auth_and_enterprise_base_url(replay: GithubReplay) -> None:
    """App settings trade a JWT for an installation token and use it under base_url's path."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    # synthetic: the documented shape of POST /app/installations/{id}/access_tokens.
    replay.route(
        "/api/v3/app/installations/42/access_tokens",
        replay.synthetic(
            {"token": "ghs_installation", "expires_at": "2099-01-01T00:00:00Z"}, status=201
        ),
    )
    replay.route(f"/api/v3/repos/{PYGH}/releases", replay.recorded("releases"))
    settings = GithubConnector.Settings(
        app_id=7, private_key=pem, installation_id=42, base_url=f"{replay.url}/api/v3"
    )
    result = GithubConnector(settings).measure(
        query(repo=PYGH, metric="deployment_frequency", window="90d", deployments_from="releases"),
        datetime(2021, 5, 1, tzinfo=UTC),
    )
    assert result.numerator == 2
    assert replay.seen[0].headers["authorization"].startswith("Bearer ")
    assert replay.seen[1].headers["authorization"] == "token ghs_installation"


@pytest.mark.parametrize(
    "fields",
    [
        {"metric": "deployment_frequency", "deployments_from": "workflow_runs"},
        {"metric": "deployment_duration"},
        {"metric": "rollback_rate", "failure_signals": ["rollback_workflow"]},
        {"metric": "deployment_frequency", "environment": "(prod"},
        {"metric": "deployment_frequency", "window": "4 weeks"},
        {"metric": "deployment_frequency", "window": 0},
        {"metric": "mean_time_to_restore"},
    ],
)
def test_incomplete_queries_fail_at_config_time(fields: dict[str, Any]) -> None:
    """Queries missing what their metric or source needs are refused when the config loads."""
    with pytest.raises(ValidationError):
        query(repo=G3, **fields)


def test_a_blank_token_from_an_unset_variable_means_anonymous(replay: GithubReplay) -> None:
    """`token = "${GITHUB_TOKEN:-}"` with the variable unset sends no Authorization header."""
    replay.route(f"/repos/{PYGH}/releases", replay.recorded("releases"))
    connector = make(replay, token="")
    connector.measure(
        query(repo=PYGH, metric="deployment_frequency", deployments_from="releases"),
        datetime(2021, 5, 1, tzinfo=UTC),
    )
    assert "authorization" not in replay.seen[0].headers


def test_settings_need_a_whole_app_or_a_token() -> None:
    """Half of the GitHub App settings, or a token and an App together, are refused."""
    with pytest.raises(ValidationError, match="all of app_id"):
        GithubConnector.Settings(app_id=1)
    with pytest.raises(ValidationError, match="not both"):
        GithubConnector.Settings(token=TOKEN, app_id=1, private_key="k", installation_id=2)
