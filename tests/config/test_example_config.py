"""config.example.toml: it validates, and its offline Key Results get real, checkable values."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from defusedxml import ElementTree

from app.config.loading import load_config
from app.sampling.measure import sample_key_result
from app.tracker import open_tracker
from tests.conftest import REPO_ROOT
from tests.support.krtracker_server import krtracker_command

EXAMPLE = REPO_ROOT / "config.example.toml"


def test_example_validates_with_the_cli() -> None:
    """`krtracker validate config.example.toml` exits 0 on a machine with no secrets set."""
    result = subprocess.run([*krtracker_command(), "validate", str(EXAMPLE)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "OK (3 objectives, 9 Key Results" in result.stdout


def test_example_gives_only_its_one_intended_practice_warning() -> None:
    """Lint on the example warns once, about the two-KR objective its comment calls intended."""
    loaded = load_config(EXAMPLE, lint=True, serves_api=False)
    practice = [w for w in loaded.warnings if not w.path.startswith("api.")]
    assert [(w.path, w.message.split(";")[0]) for w in practice] == [
        ("objectives[0].key_results", "2 Key Result(s)")
    ]


def test_example_documents_every_top_level_section() -> None:
    """Every section of the config model appears in the example file."""
    text = EXAMPLE.read_text()
    loaded = load_config(EXAMPLE)
    for section in type(loaded.config).model_fields:
        assert f"[{section}]" in text or f"[[{section}]]" in text or f"[{section}." in text, section


def test_offline_examples_sample_real_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The coverage and SQL examples store the numbers their sources themselves give."""
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setenv("KRTRACKER_DATABASE_URL", f"sqlite:///{tmp_path / 'k.db'}")
    subprocess.run([sys.executable, "examples/make_analytics_db.py"], check=True, capture_output=True)
    tracker = open_tracker(EXAMPLE)
    now = tracker.now()

    coverage = sample_key_result(tracker, "test-coverage", scheduled_ts=now - now % 3600)
    root = ElementTree.parse(REPO_ROOT / "examples" / "coverage.xml").getroot()
    stated = int(root.get("lines-covered")) / int(root.get("lines-valid")) * 100
    assert coverage.ok and coverage.value == pytest.approx(stated, rel=1e-12)

    instant = now - now % 3600
    users = sample_key_result(tracker, "feature-x-weekly-users", scheduled_ts=instant, backfill=False)
    at = datetime.fromtimestamp(instant, UTC)
    with sqlite3.connect(REPO_ROOT / "examples" / "analytics.db") as db:
        expected = db.execute(
            "SELECT count(DISTINCT user_id) FROM feature_events WHERE feature = 'feature_x' "
            "AND happened_at >= ? AND happened_at < ?",
            ((at - timedelta(days=7)).strftime("%Y-%m-%d %H:%M:%S"), at.strftime("%Y-%m-%d %H:%M:%S")),
        ).fetchone()[0]
    assert users.ok and users.value == expected and expected > 0

    offline = sample_key_result(tracker, "payments-p99-latency", scheduled_ts=instant, backfill=False)
    assert offline.value is None and offline.status == "error" and offline.error
    tracker.close()
