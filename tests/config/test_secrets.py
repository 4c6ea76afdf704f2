"""Which secrets a config holds: each kind is known to the redactor it builds."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import quote

import pytest

from app.config.loading import load_config
from app.config.secrets import redactor_for

CONFIG = """
[database]
url = "postgresql://krt:db-password-0001@db.example:5432/krt"

[api]
tokens = [{ name = "ci", token = "api-token-0001-abcdefgh" }]

[[webhooks]]
name = "chat"
format = "slack"
url = "https://hooks.slack.com/services/T0001/B0001/slack-secret-0001"

[[webhooks]]
name = "ops"
url = "https://ops.example/hooks/generic-path-secret-0001?token=hook-token-0001"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
headers = { X-Api-Key = "header-secret-0001" }

[connectors.prom]
type = "prometheus"
url = "http://prom.example:9090"
username = "krt"
password = "prom-password-0001"

[connectors.gh]
type = "github"
token = "ghp_github-token-0001"

[connectors.api]
type = "http_json"
headers = { Authorization = "Bearer http-bearer-0001" }

[connectors.db]
type = "sql"
url = "postgresql://reader:sql-password-0001@db.example/analytics"

[[objectives]]
id = "o"
title = "O"
start = 2026-01-01
end = 2026-12-31

[[objectives.key_results]]
id = "k"
title = "K"
direction = "increase"
target = 1
source = { connector = "api", url = "https://api.example/m?api_key=query-key-0001", jsonpath = "$" }
"""

CONFIGURED_SECRETS = [
    "db-password-0001",
    "api-token-0001-abcdefgh",
    "slack-secret-0001",
    "/services/T0001/B0001/slack-secret-0001",
    "generic-path-secret-0001",
    "hook-token-0001",
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "header-secret-0001",
    "prom-password-0001",
    base64.b64encode(b"krt:prom-password-0001").decode(),
    "ghp_github-token-0001",
    "http-bearer-0001",
    "sql-password-0001",
    "query-key-0001",
]


@pytest.mark.parametrize("secret", CONFIGURED_SECRETS)
def test_the_config_redactor_knows_every_configured_secret(tmp_path: Path, secret: str) -> None:
    """Each kind of secret a config holds (tokens, passwords, URL paths and queries) is masked."""
    path = tmp_path / "c.toml"
    path.write_text(CONFIG, encoding="utf-8")
    redactor = redactor_for(load_config(path))
    for form in (secret, quote(secret, safe="")):
        assert form not in redactor.text(f"503 bad credentials {form}!")
    assert redactor.text("nothing to hide here") == "nothing to hide here"


def test_header_values_are_secrets_when_named_or_long_enough(tmp_path: Path) -> None:
    """A short `X-Api-Key` is masked; a short tenant header and `Accept` are ordinary words."""
    path = tmp_path / "c.toml"
    path.write_text(
        """
[connectors.prom]
type = "prometheus"
url = "http://prom.example:9090"
headers = { X-Api-Key = "k3y!", X-Scope-OrgID = "tenant1", Accept = "application/json" }
""",
        encoding="utf-8",
    )
    redactor = redactor_for(load_config(path))
    assert redactor.text("key k3y! for tenant1") == "key *** for tenant1"
    assert redactor.text("not application/json") == "not application/json"
