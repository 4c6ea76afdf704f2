"""The `krtracker` command as a user runs it: one clear line for each mistake, never a traceback."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from app.config.loading import load_config
from app.config.objectives import quarter_of
from tests.conftest import free_port, write_config
from tests.support import configs
from tests.support.krtracker_server import krtracker_command, krtracker_serve
from tests.support.waiting import wait_until

MANUAL = configs.text(
    configs.manual_connector(),
    configs.objective(
        "fast", "Payments are fast", start=date(2026, 1, 1), end=date(2030, 12, 31),
        key_results=[
            configs.key_result(
                "satisfaction", "Raise satisfaction", direction="increase", baseline=3.8, target=4.5
            )
        ],
    ),
)

POLLED = """
[connectors.cov]
type = "coverage"

[[objectives]]
id = "quality"
title = "Quality"
start = 2026-01-01
end = 2030-12-31

[[objectives.key_results]]
id = "coverage"
title = "Coverage"
unit = "%"
direction = "increase"
baseline = 10
target = 90
every = "1h"
source = { connector = "cov", path = "COVERAGE" }
"""

COBERTURA = (
    '<?xml version="1.0" ?><coverage line-rate="0.5" branch-rate="0" lines-covered="5" '
    'lines-valid="10" branches-covered="0" branches-valid="0" version="7" timestamp="0">'
    "<packages/></coverage>"
)


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the installed `krtracker` with `args`, without the caller's KRTRACKER_ settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KRTRACKER_")}
    return subprocess.run(
        [*krtracker_command(), *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=timeout,
    )


def polled_config(tmp_path: Path, text: str = POLLED) -> Path:
    """Write the polled coverage config with its report and a SQLite database in tmp_path."""
    report = tmp_path / "coverage.xml"
    report.write_text(COBERTURA)
    return write_config(
        tmp_path / "k.toml",
        text.replace("COVERAGE", str(report)),
        database_url=f"sqlite:///{tmp_path / 'k.db'}",
    )


def assert_one_line(result: subprocess.CompletedProcess[str]) -> str:
    """Assert a failure printed one line on stderr and no traceback; return that line."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# ---- item: one line, not a traceback ------------------------------------------------------


@pytest.mark.parametrize(
    "command", [["status"], ["sample"], ["serve", "--port", "0"], ["worker"], ["db", "upgrade"]]
)
def test_unreachable_database_is_one_line_naming_host_and_port(
    tmp_path: Path, command: list[str]
) -> None:
    """serve, status, sample, worker, db upgrade: which database is unreachable, no password."""
    port = free_port()
    config = write_config(
        tmp_path / "k.toml",
        MANUAL,
        database_url=f"postgresql://okr:hunter2secret@127.0.0.1:{port}/okr",
    )
    result = run(*command, "--config", str(config), timeout=60)
    line = assert_one_line(result)
    assert f"127.0.0.1:{port}" in line and "hunter2secret" not in line
    assert "database" in line


def test_serve_on_a_busy_port_fails_before_the_scheduler_starts(tmp_path: Path) -> None:
    """A port in use is one line and exit 1; no sample is taken by the failed process."""
    config = polled_config(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("serve", "--config", str(config), "--port", str(port), timeout=60)
    line = assert_one_line(result)
    assert str(port) in line and "in use" in line
    assert "scheduler leader" not in result.stderr + result.stdout
    if (tmp_path / "k.db").exists():
        with sqlite3.connect(tmp_path / "k.db") as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            if "sampling_attempts" in tables:
                assert db.execute("SELECT count(*) FROM sampling_attempts").fetchone()[0] == 0


def test_status_ignores_an_unset_write_token_with_one_warning(tmp_path: Path) -> None:
    """A read-only command runs when the token's variable is unset, and warns once."""
    text = '[api]\ntokens = [{ name = "ci", token = "${KRT_CLI_UNSET_TOKEN}" }]\n' + MANUAL
    config = write_config(tmp_path / "k.toml", text, database_url=f"sqlite:///{tmp_path / 'k.db'}")
    result = run("status", "--config", str(config))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    assert (
        len(warnings) == 1 and warnings[0].startswith("warning") and "api.tokens[0]" in warnings[0]
    )
    assert "satisfaction" in result.stdout
    # `serve` needs the token for writes, and `validate` checks the file for it: both refuse.
    assert run("validate", str(config)).returncode == 2


# ---- item: CLI ---------------------------------------------------------------------------


def test_version_prints_the_package_version() -> None:
    """`krtracker --version` prints the installed version and exits 0."""
    from importlib.metadata import version

    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"krtracker {version('krtracker')}"


def test_sample_runs_without_once_and_prints_utc_times(tmp_path: Path) -> None:
    """`sample` needs no --once (still accepted) and prints ISO UTC instants, not epochs."""
    config = polled_config(tmp_path)
    for args in (["sample"], ["sample", "--once"]):
        result = run(*args, "--config", str(config))
        assert result.returncode == 0, result.stderr
        assert re.search(
            r"coverage: stored 50(\.0)? at \d{4}-\d\d-\d\dT\d\d:00:00Z", result.stdout
        ), result.stdout
        assert not re.search(r"\b1[6-9]\d{8}\b", result.stdout)


def test_db_upgrade_names_the_migrations_it_applied(tmp_path: Path) -> None:
    """The first upgrade lists each migration; the next says there was nothing to do."""
    url = f"sqlite:///{tmp_path / 'k.db'}"
    first = run("db", "upgrade", "--url", url)
    assert first.returncode == 0, first.stderr
    assert "0001" in first.stdout and "0003" in first.stdout and "applied" in first.stdout
    again = run("db", "upgrade", "--url", url)
    assert again.returncode == 0 and "already up to date" in again.stdout


def test_log_level_option_sets_the_level(tmp_path: Path) -> None:
    """`--log-level warning` hides the INFO lines `worker` logs by default."""
    config = polled_config(tmp_path)
    for level, shown in (("info", True), ("warning", False)):
        process = subprocess.Popen(
            [*krtracker_command(), "--log-level", level, "worker", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        time.sleep(4)
        process.terminate()
        output = process.communicate(timeout=20)[0]
        assert ("INFO" in output) is shown, output
    assert run("--log-level", "loud", "status", "--config", str(config)).returncode == 2


def test_standby_worker_logs_that_it_is_standing_by(tmp_path: Path) -> None:
    """A second worker on the same database says that it stands by while the first leads."""
    config = polled_config(tmp_path)
    logs = {name: tmp_path / f"{name}.log" for name in ("leader", "standby")}
    processes = {}
    for name, log in logs.items():
        with log.open("w") as out:
            processes[name] = subprocess.Popen(
                [*krtracker_command(), "worker", "--config", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        expected = "scheduler leader" if name == "leader" else "standing by"
        wait_until(lambda log=log, expected=expected: expected in log.read_text(), timeout=30)
    for process in processes.values():
        process.terminate()
        process.wait(timeout=20)
    assert "is now the scheduler leader" in logs["leader"].read_text()
    standby_log = logs["standby"].read_text()
    assert "standing by" in standby_log and "is now the scheduler leader" not in standby_log


def test_init_writes_a_starter_config_for_the_current_quarter(tmp_path: Path) -> None:
    """`krtracker init FILE` writes a config that validates, for this quarter; never overwrites."""
    from datetime import UTC, datetime

    target = tmp_path / "krtracker.toml"
    result = run("init", str(target))
    assert result.returncode == 0, result.stderr
    loaded = load_config(target)
    assert loaded.config.objectives[0].period == quarter_of(datetime.now(UTC).date())
    assert run("validate", str(target)).returncode == 0
    again = run("init", str(target))
    assert again.returncode == 2 and "exists" in again.stderr


def test_public_url_follows_the_port_when_not_set(tmp_path: Path) -> None:
    """Links in alerts point at the port `serve` listens on unless public_url is given."""
    token = "cli-token-0123456789abcdef"
    text = (
        f'[api]\ntokens = [{{ name = "ci", token = "{token}" }}]\n\n'
        '[[webhooks]]\nname = "hook"\nurl = "https://8.8.8.8/hook"\n'
        'secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"\n' + MANUAL
    )
    config = write_config(tmp_path / "k.toml", text, database_url=f"sqlite:///{tmp_path / 'k.db'}")
    with krtracker_serve(config, log=tmp_path / "serve.log", scheduler=False) as server:
        sent = httpx.post(
            f"{server.url}/api/v1/webhooks/hook/test",
            timeout=5,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert sent.status_code == 202, sent.text
        port = server.port
    with sqlite3.connect(tmp_path / "k.db") as db:
        payload = db.execute("SELECT payload FROM deliveries").fetchone()[0]
    assert f"http://localhost:{port}/api/v1/webhooks/hook" in payload
