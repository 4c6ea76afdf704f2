"""`/metrics` follows `[api] require_token_for_reads`, so Prometheus scrapes with a bearer token."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api import create_app
from app.tracker import open_tracker
from tests.conftest import write_config
from tests.support import configs

READ_TOKEN = "scrape-token-0123456789abcdef"
WRITE_ONLY = "writer-token-0123456789abcdef"


def config_text(*, closed: bool) -> str:
    """Return a config with a read-only and a write-only token, reads closed if `closed`."""
    return configs.text(
        configs.api(
            configs.token("prometheus", READ_TOKEN, "read"),
            configs.token("writer", WRITE_ONLY, "write"),
            require_token_for_reads=closed,
        ),
        configs.manual_connector(),
        configs.objective(
            "quality", "Ship with confidence", period="2026-Q4",
            key_results=[
                configs.key_result(
                    "coverage", "Coverage", direction="increase", baseline=60, target=85
                )
            ],
        ),
    )


@pytest.mark.parametrize("closed", [True, False])
def test_metrics_need_a_read_token_when_reads_do(tmp_path: Path, closed: bool) -> None:
    """Closed reads: /metrics is 401 without a token, 403 without read scope, 200 with it."""
    text = config_text(closed=closed)
    config = write_config(tmp_path / "c.toml", text, database_url=f"sqlite:///{tmp_path}/k.db")
    tracker = open_tracker(config)
    with TestClient(create_app(tracker)) as client:
        anonymous = client.get("/metrics")
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {READ_TOKEN}"})
        writer = client.get("/metrics", headers={"Authorization": f"Bearer {WRITE_ONLY}"})
        listing = client.get("/api/v1/key-results")
    tracker.close()
    assert scraped.status_code == 200 and 'key_result="coverage"' in scraped.text
    if closed:
        assert anonymous.status_code == listing.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert "coverage" not in anonymous.text
        assert writer.status_code == 403
    else:
        assert anonymous.status_code == 200 and 'key_result="coverage"' in anonymous.text
