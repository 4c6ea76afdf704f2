"""Start a real Alertmanager (Debian's `prometheus-alertmanager`) on a free loopback port.

It routes every alert to a receiver with no integrations, keeps its state in a temporary
`--storage.path`, and runs without clustering (`--cluster.listen-address=`), so a test sees
exactly the alerts it posted, through Alertmanager's own `/api/v2/alerts`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.conftest import free_port
from tests.support.waiting import wait_for_http_ok

CONFIG = """\
route:
  receiver: "null"
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: "null"
"""
_STARTUP_TIMEOUT_SECONDS = 30.0


class RunningAlertmanager:
    """An Alertmanager process; use as a context manager or call `stop()`."""

    def __init__(self, *, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.log_file = workdir / "alertmanager.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the base URL (no path), as a webhook `url` would give it."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Write the config, start the process and wait until `/-/ready` answers."""
        config = self.workdir / "alertmanager.yml"
        config.write_text(CONFIG)
        (self.workdir / "data").mkdir(exist_ok=True)
        command = [
            self.binary,
            f"--config.file={config}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ]
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                command, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT
            )
        problem = wait_for_http_ok(
            f"{self.url}/-/ready",
            timeout=_STARTUP_TIMEOUT_SECONDS,
            process=self._process,
            every=0.05,
        )
        if problem is not None:
            self.stop()
            raise RuntimeError(f"alertmanager {problem}:\n{self.log_tail()}")

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        """Return `GET /api/v2/alerts` filtered by labels (`alertname="X"`)."""
        params = httpx.QueryParams({"filter": [f'{k}="{v}"' for k, v in filters.items()]})
        response = httpx.get(f"{self.url}/api/v2/alerts", params=params, timeout=5)
        response.raise_for_status()
        alerts: list[dict[str, Any]] = response.json()
        return alerts

    def log_tail(self, lines: int = 30) -> str:
        """Return the end of the process log, for failure messages."""
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s)."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> RunningAlertmanager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_alertmanager(
    workdir: Path, *, binary: str = "prometheus-alertmanager"
) -> RunningAlertmanager:
    """Start an Alertmanager with its files under `workdir` and return it once ready."""
    workdir.mkdir(parents=True, exist_ok=True)
    server = RunningAlertmanager(binary=binary, workdir=workdir)
    server.start()
    return server
