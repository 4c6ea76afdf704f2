"""Fixtures of the dashboard's browser tests: Chromium, pages, and the example served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.support import (
    Served,
    example_config,
    example_env,
    launch_args,
    require_chromium,
    serve,
)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (one per test session)."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=launch_args())
        yield browser
        browser.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors and uncaught exceptions seen by `page` (checked after each test)."""
    return []


@pytest.fixture
def page(browser, console_errors: list[str]) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """Open a fresh page at 1280×800; fail the test if the console shows an error."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    yield page
    context.close()
    assert console_errors == [], f"browser console errors: {console_errors}"


@pytest.fixture(scope="module")
def example_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`krtracker serve` on config.example.toml (refreshing every second), with a write token."""
    directory: Path = tmp_path_factory.mktemp("example")
    config = example_config(directory, refresh_seconds=1)
    with serve(config, directory=directory, env=example_env(directory)) as served:
        yield served
