"""The Dockerfile, checked without a Docker engine: its context, its CMD, the README's lines.

The image build itself is not run here (no engine on the test machines); what can be checked
is: every file it COPYs is in the build context, the package it installs carries the
migrations, its ENTRYPOINT + CMD serve a config and pass its HEALTHCHECK, and the README's
lines build and run it with the write token passed in.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT, free_port
from tests.support.krtracker_server import krtracker_command
from tests.support.waiting import wait_for_http_ok

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
TOKEN = "docker-token-0123456789abcdef"


def instruction(name: str) -> list[str]:
    """Return the arguments of every `NAME` instruction (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in text.splitlines() if line.startswith(f"{name} ")]


def exec_form(name: str) -> list[str]:
    """Return the last `NAME ["…", …]` instruction as a list."""
    return list(json.loads(instruction(name)[-1]))


def test_every_copied_path_is_in_the_build_context() -> None:
    """Each COPY source exists and is not excluded by .dockerignore."""
    ignored = [
        p.strip() for p in (REPO_ROOT / ".dockerignore").read_text().splitlines() if p.strip()
    ]
    sources = []
    for args in instruction("COPY"):
        if args.startswith("--from"):
            continue
        sources.extend(args.split()[:-1])
    assert sources, DOCKERFILE
    for source in sources:
        assert (REPO_ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def test_the_installed_package_carries_the_migrations() -> None:
    """Every migration file matches the package data pip installs into the image."""
    globs = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["app"]
    migrations = REPO_ROOT / "app" / "migrations"
    for path in migrations.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            relative = str(path.relative_to(REPO_ROOT / "app"))
            assert any(fnmatch.fnmatch(relative, g) for g in globs), relative


def test_readme_builds_and_runs_the_image_with_the_write_token() -> None:
    """The README's Docker lines build the image and pass KRTRACKER_WRITE_TOKEN to it."""
    readme = (REPO_ROOT / "README.md").read_text()
    assert "docker build -t krtracker ." in readme
    run = next(line for line in readme.splitlines() if "docker run" in line)
    block = readme[readme.index(run) :].split("```", 1)[0]
    assert "-e KRTRACKER_WRITE_TOKEN" in block and "/config/krtracker.toml" in block
    assert "/config/krtracker.toml" in exec_form("CMD")


def test_entrypoint_and_cmd_serve_and_pass_the_healthcheck(tmp_path: Path) -> None:
    """ENTRYPOINT + CMD, with the image's environment, serve a starter config on /healthz."""
    config = tmp_path / "config" / "krtracker.toml"
    config.parent.mkdir()
    assert (
        subprocess.run([*krtracker_command(), "init", str(config)], capture_output=True).returncode
        == 0
    )
    port = str(free_port())
    command = [*exec_form("ENTRYPOINT"), *exec_form("CMD")]
    assert command[0] == "krtracker" and "--port" in command and "8080" in command
    command = [krtracker_command()[0]] + [
        str(config) if arg == "/config/krtracker.toml" else port if arg == "8080" else arg
        for arg in command[1:]
    ]
    env_line = next(args for args in instruction("ENV") if "KRTRACKER_DATABASE_URL" in args)
    database = re.search(r"KRTRACKER_DATABASE_URL=(\S+)", env_line).group(1)
    data = tmp_path / "data"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRTRACKER_")}
    env.update(
        KRTRACKER_DATABASE_URL=database.replace("/data/", f"{data}/"), KRTRACKER_WRITE_TOKEN=TOKEN
    )
    process = subprocess.Popen(
        command, cwd=data, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        healthz = f"http://127.0.0.1:{port}/healthz"
        assert wait_for_http_ok(healthz, timeout=30, process=process) is None
        healthcheck = instruction("HEALTHCHECK")[0].split("CMD", 1)[1].strip()
        probe = json.loads(healthcheck)
        assert probe[0] == "python"
        probe = [sys.executable, *probe[1:]]
        probe[-1] = probe[-1].replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        assert subprocess.run(probe, timeout=10).returncode == 0
        check_in = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/key-results/first-key-result/check-ins",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"confidence": 0.5},
            timeout=5,
        )
        assert check_in.status_code == 201, check_in.text
        assert (data / "krtracker.db").exists()
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.parametrize("name", ["USER", "HEALTHCHECK", "EXPOSE"])
def test_the_image_runs_unprivileged_with_a_healthcheck(name: str) -> None:
    """The image drops root, exposes 8080 and declares a healthcheck."""
    assert instruction(name)
