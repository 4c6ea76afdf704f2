"""A private PostgreSQL cluster for tests that stop and start the database server.

Never stop the shared server on 5432: other tests (and other people) use it. This one lives
in its own directory on a free port, runs as the `postgres` user when the tests run as root
(initdb refuses root), and is removed at the end.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI, free_port


def postgres_bin() -> Path:
    """Return the newest PostgreSQL server bin dir; under CI=true a missing one fails."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major)
    if not found:
        message = "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return Path(found[-1]).parent


def _major(path: str) -> int:
    return int(Path(path).parent.parent.name.split(".")[0])


@dataclass
class PostgresCluster:
    """A cluster in `directory` listening on 127.0.0.1:`port`."""

    directory: Path
    port: int
    bin: Path

    @property
    def url(self) -> str:
        """Return the URL of its `postgres` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def initdb(self) -> None:
        """Create the cluster (trust authentication, superuser `postgres`)."""
        data = self.directory / "data"
        self._run(
            str(self.bin / "initdb"),
            *("-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"),
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.directory / "data"),
            "-o",
            options,
            "-l",
            str(self.directory / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server now: `fast` cuts open connections, `immediate` is a crash."""
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.directory / "data"),
            "-m",
            mode,
            "-w",
            "-t",
            "60",
            "stop",
        )


@contextmanager
def private_postgres() -> Iterator[PostgresCluster]:
    """Create and start a private cluster; stop and delete it at the end."""
    binaries = postgres_bin()
    directory = Path(tempfile.mkdtemp(prefix="krt-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    cluster = PostgresCluster(directory, free_port(), binaries)
    try:
        cluster.initdb()
        cluster.start()
        yield cluster
    finally:
        if (directory / "data" / "postmaster.pid").exists():
            cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)
