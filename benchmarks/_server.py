"""Run `krtracker serve --no-scheduler` for a benchmark, as a separate process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


@contextmanager
def running_server(
    config: Path, *, port: int, log: Path, start_timeout: float = 600
) -> Iterator[int]:
    """Run the API on `port` until the block ends; yield its pid once /readyz answers.

    The config file names the database: `KRTRACKER_DATABASE_URL` is not passed on. Start-up
    at 10,000 Key Results (sync and re-evaluation) takes minutes, hence the long timeout.
    """
    krtracker = Path(sys.executable).with_name("krtracker")
    command = [
        str(krtracker),
        "serve",
        "--config",
        str(config),
        "--port",
        str(port),
        "--no-scheduler",
    ]
    env = {k: v for k, v in os.environ.items() if k != "KRTRACKER_DATABASE_URL"}
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start; see {log}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            yield server.pid
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
