"""scripts/start and scripts/bootstrap: the quickstart a new user runs, on any date."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT, free_port
from tests.support.waiting import wait_for_http_ok, wait_until

TOKEN = "quickstart-token-0123456789"
# A sitecustomize that moves the processes' wall clock (see its docstring for why not faketime).
CLOCK_SHIFT = Path(__file__).resolve().parent.parent / "clock_shift"


@dataclass
class Checkout:
    """A copy of the repository whose .venv runs the test's Python (pip refused)."""

    root: Path
    calls: Path


def _wrapper(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o755)


@pytest.fixture
def checkout(tmp_path: Path) -> Checkout:
    """Copy the tracked files and give the copy a .venv that is already installed."""
    root = tmp_path / "krtracker"
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = REPO_ROOT / name.decode()
        if source.is_file():
            (root / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name.decode())
    (root / "examples" / "analytics.db").unlink(missing_ok=True)
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    calls = tmp_path / "python-calls.log"
    # A pip run here would install into the shared venv: refuse it, so the test fails instead.
    _wrapper(
        bin_dir / "python",
        f'echo "$*" >> {calls}\n'
        f'case "$*" in *"-m pip"*) echo "pip must not run" >&2; exit 97;; esac\n'
        f'exec {sys.executable} "$@"',
    )
    _wrapper(
        bin_dir / "krtracker",
        f'exec {sys.executable} -c "import sys; from app.cli.main import main; '
        f'sys.argv[0] = \'krtracker\'; main()" "$@"',
    )
    digest = hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()
    (root / ".venv" / ".krtracker-installed").write_text(f"{digest} run\n")
    return Checkout(root, calls)


def _env(checkout: Checkout, **extra: str) -> dict[str, str]:
    """Return the environment without the caller's krtracker settings, running the copy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRTRACKER_")}
    return {**env, "PYTHONPATH": str(checkout.root), **extra}


@pytest.fixture
def started_in_200_days(checkout: Checkout) -> Iterator[tuple[str, Checkout]]:
    """Run `bash scripts/start --port P` with the clock 200 days ahead; stop it afterwards."""
    port = free_port()
    log_path = checkout.root / "start.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["bash", "scripts/start", "--port", str(port)],
            cwd=checkout.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=_env(
                checkout,
                KRTRACKER_WRITE_TOKEN=TOKEN,
                KRTRACKER_TEST_CLOCK_SHIFT_DAYS="200",
                PYTHONPATH=f"{CLOCK_SHIFT}:{checkout.root}",
            ),
        )
        base = f"http://127.0.0.1:{port}"
        try:
            problem = wait_for_http_ok(
                f"{base}/readyz", timeout=60, process=process, every=0.3
            )
            if problem is not None:
                pytest.fail(f"scripts/start {problem}: {log_path.read_text()}")
            yield base, checkout
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _live(base: str) -> list[dict]:
    objectives = httpx.get(f"{base}/api/v1/objectives", timeout=10).json()
    return [
        kr
        for objective in objectives
        for kr in objective["key_results"]
        if kr["current"] is not None
        and kr["current"]["value"] is not None
        and kr["progress"] is not None
    ]


def test_quickstart_shows_live_key_results_200_days_from_now(
    started_in_200_days: tuple[str, Checkout],
) -> None:
    """200 days ahead, the README's first command shows >= 3 live Key Results, none closed."""
    base, checkout = started_in_200_days
    wait_until(lambda: len(_live(base)) >= 3, timeout=60, every=1)
    live = _live(base)
    objectives = httpx.get(f"{base}/api/v1/objectives", timeout=10).json()
    assert objectives[0]["key_results"][0]["status_reason"], objectives
    assert "2027" in (live[0]["current"]["at"] if live else "2027"), live
    statuses = {kr["id"]: kr["status"] for o in objectives for kr in o["key_results"]}
    assert len(live) >= 3, statuses
    assert "closed" not in statuses.values(), statuses
    for kr in live:
        assert kr["baseline"] != 0 and kr["target"] != kr["baseline"], kr
    log = (checkout.root / "start.log").read_text()
    assert TOKEN not in log and "using the write token" in log
    posted = httpx.post(
        f"{base}/api/v1/key-results/feature-x-satisfaction/values",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"value": 4.1},
        timeout=10,
    )
    assert posted.status_code == 201, posted.text


def test_bootstrap_does_not_reinstall_when_nothing_changed(checkout: Checkout) -> None:
    """An unchanged pyproject.toml runs no pip; a changed one does (pip is refused here)."""
    done = subprocess.run(
        ["bash", "scripts/bootstrap"],
        cwd=checkout.root,
        capture_output=True,
        text=True,
        env=_env(checkout),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert not checkout.calls.exists() or "pip" not in checkout.calls.read_text()
    with (checkout.root / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n# changed\n")
    changed = subprocess.run(
        ["bash", "scripts/bootstrap"],
        cwd=checkout.root,
        capture_output=True,
        text=True,
        env=_env(checkout),
        timeout=60,
    )
    assert changed.returncode == 97 and "pip must not run" in changed.stderr


def test_start_documents_the_port_option() -> None:
    """scripts/start says how to choose the port, and the README says it too."""
    assert "--port" in (REPO_ROOT / "scripts" / "start").read_text()
    assert "scripts/start --port" in (REPO_ROOT / "README.md").read_text()
