"""Run the real `krtracker serve` process on a free port for a test, and stop it after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import free_port


def manual_config(token: str) -> str:
    """Return a config with one manual Key Result (`nps`) and a write token named "ci"."""
    return f"""
[api]
tokens = [{{ name = "ci", token = "{token}", scopes = ["read", "write"] }}]

[connectors.people]
type = "manual"

[[objectives]]
id = "quality"
title = "Ship with confidence"
start = 2026-01-01
end = 2030-12-31

[[objectives.key_results]]
id = "nps"
title = "Net promoter score"
direction = "increase"
baseline = 0
target = 50
source = {{ connector = "people" }}
"""


@dataclass(frozen=True)
class RunningServer:
    """A `krtracker serve` process: its base URL, pid and log file."""

    url: str
    pid: int
    log: Path

    def rss_bytes(self) -> int:
        """Return the process's resident memory now (from /proc)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS line")


@contextmanager
def krtracker_serve(
    config: Path, *, log: Path, scheduler: bool = False, env: dict[str, str] | None = None
) -> Iterator[RunningServer]:
    """Start `krtracker serve --config CONFIG`, wait until /readyz is 200, stop it at the end."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("krtracker")), "serve", "--config", str(config)]
    command += ["--port", str(port)] + ([] if scheduler else ["--no-scheduler"])
    environment = {k: v for k, v in os.environ.items() if k != "KRTRACKER_DATABASE_URL"}
    environment.update(env or {})
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environment)
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"krtracker serve did not start:\n{log.read_text()}")
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            yield RunningServer(url, process.pid, log)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
