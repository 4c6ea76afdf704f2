"""deploy/: the compose file's pieces are valid for the real tools that read them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import require_binary
from tests.support.krtracker_server import krtracker_command

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def compose() -> dict[str, Any]:
    """Return deploy/compose.yaml, parsed."""
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_compose_runs_api_replicas_a_worker_and_the_monitoring_stack() -> None:
    """The services the deployment guide describes are there, on PostgreSQL, with their config."""
    services = compose()["services"]
    assert set(services) == {
        "postgres",
        "migrate",
        "api",
        "worker",
        "prometheus",
        "alertmanager",
        "grafana",
    }
    assert services["api"]["deploy"]["replicas"] >= 2
    api = services["api"]["command"]
    assert api[0] == "serve" and "--no-scheduler" not in api  # standby samplers
    assert services["worker"]["command"][0] == "worker"
    assert services["migrate"]["command"][:2] == ["db", "upgrade"]
    for name in ("api", "worker", "migrate"):
        url = services[name]["environment"]["KRTRACKER_DATABASE_URL"]
        assert url.startswith("postgresql://") and "@postgres:5432/" in url


def test_every_mounted_file_exists_and_grafana_finds_the_dashboard() -> None:
    """Each bind mount names a file in deploy/; the provisioned path holds the dashboard."""
    mounts = {}
    for service in compose()["services"].values():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), source
                mounts[target] = DEPLOY / source
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/krtracker.yaml").read_text(encoding="utf-8")
    )
    folder = provider["providers"][0]["options"]["path"]
    dashboard = mounts[f"{folder}/krtracker.json"]
    assert json.loads(dashboard.read_text(encoding="utf-8"))["uid"] == "krtracker-okrs"


def test_prometheus_and_alertmanager_accept_their_configs() -> None:
    """Promtool and amtool check the shipped configs."""
    promtool = require_binary("promtool")
    checked = subprocess.run(
        [promtool, "check", "config", str(DEPLOY / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    amtool = require_binary("amtool")
    checked = subprocess.run(
        [amtool, "check-config", str(DEPLOY / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_deployed_krtracker_config_validates() -> None:
    """`krtracker validate deploy/krtracker.toml` passes with the token compose provides."""
    env = {**os.environ, "KRTRACKER_WRITE_TOKEN": "a" * 32}
    result = subprocess.run(
        [*krtracker_command(), "validate", str(DEPLOY / "krtracker.toml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 warning(s)" in result.stdout
