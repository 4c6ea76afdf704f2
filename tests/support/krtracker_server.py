"""Run the real `krtracker serve` and `worker` processes for a test, and stop them after.

Every end-to-end test starts the installed console script the same way: on a free port,
its output in a log file, `KRTRACKER_DATABASE_URL` taken from the environment only when
the test passes it, ready once `/readyz` answers 200, stopped with SIGTERM (SIGKILL when it
hangs).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.support.waiting import wait_for_http_ok


def krtracker_command() -> list[str]:
    """Return the command that runs the installed `krtracker` console script."""
    script = shutil.which("krtracker") or str(Path(sys.executable).parent / "krtracker")
    return [script]


def stop_process(process: subprocess.Popen[bytes], *, timeout: float = 20) -> None:
    """Stop gracefully (SIGTERM); kill the process if it has not ended after `timeout` s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def log_tail(log: Path, characters: int = 3000) -> str:
    """Return the end of a process log, for failure messages."""
    return log.read_text(errors="replace")[-characters:] if log.exists() else ""


class ServiceProcess:
    """A `krtracker serve` or `worker` process with its log; SIGKILL and start it again at will."""

    def __init__(
        self,
        command: str,
        config: Path,
        log: Path,
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
        options: tuple[str, ...] = (),
        cwd: Path | None = None,
    ) -> None:
        self.command, self.config, self.log, self.port = command, config, log, port
        self.options, self.cwd = options, cwd
        inherited = {k: v for k, v in os.environ.items() if k != "KRTRACKER_DATABASE_URL"}
        self.env = {**inherited, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the base URL of a `serve` process."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process (its output appended to the log)."""
        args = [*krtracker_command(), self.command, "--config", str(self.config)]
        if self.port is not None:
            args += ["--port", str(self.port)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*args, *self.options],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
            )

    @property
    def pid(self) -> int | None:
        """Return the running process's id."""
        return (
            self.process.pid if self.process is not None and self.process.poll() is None else None
        )

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until `/readyz` answers 200 (serve only); fail with the log otherwise."""
        assert self.port is not None and self.process is not None
        problem = wait_for_http_ok(f"{self.url}/readyz", timeout=timeout, process=self.process)
        if problem is not None:
            pytest.fail(f"krtracker {self.command} {problem}:\n{log_tail(self.log)}")

    def kill(self) -> None:
        """SIGKILL the process, as a crash or an OOM kill would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(15)
        self.process = None

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), killing it if it does not end."""
        if self.process is not None:
            stop_process(self.process)
        self.process = None


@dataclass(frozen=True)
class RunningServer:
    """A `krtracker serve` process: its base URL, port, pid and log file."""

    url: str
    port: int
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
    config: Path,
    *,
    log: Path,
    scheduler: bool = True,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Iterator[RunningServer]:
    """Start `krtracker serve --config CONFIG`, wait until /readyz is 200, stop it at the end."""
    options = () if scheduler else ("--no-scheduler",)
    service = ServiceProcess(
        "serve", config, log, port=free_port(), env=env, options=options, cwd=cwd
    )
    service.start()
    try:
        service.wait_ready(timeout)
        assert service.port is not None and service.process is not None
        yield RunningServer(service.url, service.port, service.process.pid, log)
    finally:
        service.stop()
