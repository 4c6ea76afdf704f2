"""The one polling loop of the tests: wait until a condition holds, or time runs out.

Tests of background work (a scheduler, a worker process, a browser page) cannot be told
when the work is done; they poll. Every such wait goes through `wait_until`, so the timing
rules (the deadline, the pause between tries, the last try at the deadline) are one rule.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

import httpx
import pytest

T = TypeVar("T")


def wait_until(
    check: Callable[[], T], *, timeout: float = 15, every: float = 0.2, what: str | None = None
) -> T:
    """Call `check()` every `every` seconds until it returns something truthy; return that.

    After `timeout` seconds `check()` is called once more and its (falsy) answer returned,
    so callers can `assert wait_until(...), message`; with `what` the test fails instead,
    saying what it waited for.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    result = check()
    if not result and what is not None:
        pytest.fail(f"timed out after {timeout} s waiting for {what}")
    return result


def wait_for_http_ok(
    url: str,
    *,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    every: float = 0.2,
) -> str | None:
    """Poll GET `url` until it answers 200; return None then, else what went wrong.

    The answer is "exited" when `process` ended first, or "was not ready within N s";
    the caller adds its own log to the failure, as only it knows where that is.
    """

    def settled() -> str | None:
        if process is not None and process.poll() is not None:
            return "exited"
        try:
            return "ready" if httpx.get(url, timeout=1).status_code == 200 else None
        except httpx.TransportError:
            return None

    outcome = wait_until(settled, timeout=timeout, every=every)
    if outcome == "ready":
        return None
    return outcome or f"was not ready within {timeout} s"
