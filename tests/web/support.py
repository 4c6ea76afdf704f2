"""Shared parts of the dashboard's tests: a real `krtracker serve` process and Chromium.

The browser is Debian's Chromium (`playwright install` cannot download browsers here);
under CI=true a missing /usr/bin/chromium fails the run, elsewhere it skips.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IN_CI, REPO_ROOT, free_port
from tests.support.krtracker_server import krtracker_serve

CHROMIUM = Path("/usr/bin/chromium")
WRITE_TOKEN = "web-write-token-0123456789abcdef"
READ_TOKEN = "web-read-token-0123456789abcdef"
EXAMPLE = REPO_ROOT / "config.example.toml"


@dataclass
class Served:
    """A running `krtracker serve`: its base URL, and an API client with the write token."""

    base: str
    log: Path
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {WRITE_TOKEN}"}, timeout=30
        )

    def api(self, path: str) -> Any:
        """GET a JSON API path (under /api/v1) and return its body."""
        response = self.client.get(f"/api/v1{path}")
        response.raise_for_status()
        return response.json()


def example_config(directory: Path, *, refresh_seconds: int = 1) -> Path:
    """Copy config.example.toml with the overview refreshing every `refresh_seconds`."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "refresh_seconds = 30" in text
    path = directory / "krtracker.toml"
    path.write_text(text.replace("refresh_seconds = 30", f"refresh_seconds = {refresh_seconds}"))
    return path


def example_env(directory: Path) -> dict[str, str]:
    """Environment for the example: a fresh SQLite file, a write token, no reachable Prometheus."""
    return {
        "KRTRACKER_DATABASE_URL": f"sqlite:///{directory / 'krtracker.db'}",
        "KRTRACKER_WRITE_TOKEN": WRITE_TOKEN,
        "PROMETHEUS_URL": f"http://127.0.0.1:{free_port()}",
        "KRTRACKER_SESSION_SECRET": "web-tests-session-secret",
    }


@contextmanager
def serve(
    config: Path, *, directory: Path, env: dict[str, str], scheduler: bool = True
) -> Iterator[Served]:
    """Run `krtracker serve` from the repository root until the block ends."""
    log = directory / "serve.log"
    with krtracker_serve(
        config, log=log, scheduler=scheduler, env=env, cwd=REPO_ROOT
    ) as server:
        served = Served(server.url, log)
        try:
            yield served
        finally:
            served.client.close()


def require_chromium() -> str:
    """Return Chromium's path; under CI=true a missing browser fails, elsewhere it skips."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return str(CHROMIUM)


def launch_args() -> list[str]:
    """Chromium refuses its sandbox as root (CI containers run as root)."""
    return ["--no-sandbox"] if os.geteuid() == 0 else []
