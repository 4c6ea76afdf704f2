"""Shared helpers for fault tests: a private PostgreSQL cluster, service processes, live Prometheus.

The shared PostgreSQL on 5432 is never stopped: a test that restarts PostgreSQL starts its
own cluster here (initdb and pg_ctl, as the `postgres` user when run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import IN_CI, free_port, require_binary
from tests.prometheus_server import RunningPrometheus, start_prometheus, synthetic_history
from tests.test_serve_e2e import krtracker_command

# A gauge of the synthetic history that changes at every one of its steps.
GAUGE = 'queue_depth{queue="emails"}'


def wait_until(predicate: Callable[[], object], *, timeout: float, every: float = 0.2) -> bool:
    """Poll `predicate()` until it is true or `timeout` seconds pass; return whether it was."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return bool(predicate())


def live_prometheus(
    tmp_path: Path, *, past_seconds: int = 120, ahead_seconds: int = 900
) -> RunningPrometheus:
    """Start a real Prometheus whose history runs from a little before now to after the test."""
    now = int(time.time())
    history = synthetic_history(
        end=now + ahead_seconds, duration_seconds=past_seconds + ahead_seconds, step_seconds=1
    )
    return start_prometheus(
        tmp_path,
        openmetrics_text=history.text,
        prometheus=require_binary("prometheus"),
        promtool=require_binary("promtool"),
    )


def prometheus_series(url: str, query: str, *, start: int, end: int) -> dict[int, float]:
    """Ask Prometheus itself for `query` at every second in [start, end] (not through krtracker)."""
    answer = httpx.get(
        f"{url}/api/v1/query_range",
        params={"query": query, "start": start, "end": end, "step": 1},
        timeout=30,
    ).json()
    values: dict[int, float] = {}
    for series in answer["data"]["result"]:
        for stamp, value in series["values"]:
            values[int(stamp)] = float(value)
    return values


def postgres_bin(name: str) -> str:
    """Return a PostgreSQL server binary (initdb, pg_ctl); under CI=true a missing one fails."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    return require_binary(name)


class PrivatePostgres:
    """A PostgreSQL cluster of this test only, in a temp dir on a free port: restart it at will."""

    def __init__(self) -> None:
        self.initdb = postgres_bin("initdb")
        self.pg_ctl = postgres_bin("pg_ctl")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="krt-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            runuser = shutil.which("runuser")
            if runuser is None:
                message = "runuser is needed to run PostgreSQL as the postgres user"
                pytest.fail(message) if IN_CI else pytest.skip(message)
            shutil.chown(self.dir, user="postgres")
            self._as_user = [runuser, "-u", "postgres", "--"]
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    @property
    def url(self) -> str:
        """Return the URL of its `postgres` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self._as_user, *args], capture_output=True, text=True, check=False, timeout=120
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
        self._run(
            self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`immediate` is a crash: no checkpoint, connections cut)."""
        self._run(self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        """Stop the server if it runs and remove its files."""
        try:
            self.stop("immediate")
        except RuntimeError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


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
    ) -> None:
        self.command, self.config, self.log, self.port = command, config, log, port
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process (its output appended to the log)."""
        args = [*krtracker_command(), self.command, "--config", str(self.config)]
        if self.port is not None:
            args += ["--port", str(self.port)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, env=self.env
            )

    @property
    def pid(self) -> int | None:
        """Return the running process's id."""
        return (
            self.process.pid if self.process is not None and self.process.poll() is None else None
        )

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait until `/readyz` answers 200 (serve only)."""
        assert self.port is not None

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"krtracker {self.command} exited:\n{self.log.read_text()[-3000:]}")
            try:
                return (
                    httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200
                )
            except httpx.TransportError:
                return False

        assert wait_until(ready, timeout=timeout), self.log.read_text()[-3000:]

    def kill(self) -> None:
        """SIGKILL the process, as a crash or an OOM kill would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(15)
        self.process = None

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), killing it if it does not end."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class CountingProxy:
    """A loopback HTTP proxy in front of a real server that records every request path."""

    def __init__(self, upstream: str) -> None:
        self.requests: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                proxy.requests.append(self.path)
                try:
                    answer = httpx.get(upstream + self.path, timeout=30)
                except httpx.TransportError:
                    self.send_response(502)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                self.send_response(answer.status_code)
                self.send_header(
                    "content-type", answer.headers.get("content-type", "application/json")
                )
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
