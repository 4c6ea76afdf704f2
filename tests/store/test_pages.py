"""The dashboard's own store queries, on SQLite and the real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from app.store.check_ins import add_check_in
from app.store.models import CheckIn
from app.store.pages import key_result_health, values_at
from app.store.samples import sample_row, upsert_samples
from app.tracker import open_tracker
from app.web.sparkline import draw, instants
from tests.conftest import write_config
from tests.support import configs

CONFIG = configs.text(
    configs.manual_connector(),
    configs.objective(
        "o", "O", period="2026-Q4",
        key_results=[
            configs.key_result("a", "A", direction="increase", baseline=0, target=10),
            configs.key_result("b", "B", direction="increase", baseline=0, target=10),
        ],
    ),
)


def test_values_at_gives_the_latest_value_at_or_before_each_instant(
    tmp_path: Path, database_url: str
) -> None:
    """Each instant gets the newest sample not after it; instants before any sample none."""
    tracker = open_tracker(write_config(tmp_path / "c.toml", CONFIG, database_url=database_url))
    with Session(tracker.engine) as session:
        rows = [
            sample_row(key_result_id="a", ts=ts, value=v, source="manual", recorded_ts=ts)
            for ts, v in ((100, 1.0), (200, 2.0), (300, 3.0))
        ]
        rows.append(sample_row(key_result_id="b", ts=250, value=9.0, source="m", recorded_ts=1))
        upsert_samples(session.connection(), rows)
        add_check_in(session, CheckIn(key_result_id="a", ts=5, confidence=0.2))
        add_check_in(session, CheckIn(key_result_id="a", ts=6, confidence=0.7))
        session.commit()
        series = values_at(session, ["a", "b"], [50, 100, 150, 299, 400])
        health = key_result_health(session)
    tracker.close()
    assert series == {
        "a": [(100, 1.0), (150, 1.0), (299, 2.0), (400, 3.0)],
        "b": [(299, 9.0), (400, 9.0)],
    }
    assert (health["a"].confidence, health["a"].confidence_ts) == (0.7, 6)
    assert "b" not in health  # neither an error nor a check-in


def test_sparkline_instants_and_drawing() -> None:
    """Instants span the period's start to now; the line spans the viewBox by time."""
    moments = instants(0, 1000, now=390)
    assert moments[0] == 0 and moments[-1] == 390 and len(moments) == 40
    assert instants(1000, 2000, now=500) == []
    line = draw([(0, 1.0), (500, 3.0), (1000, 2.0)], start=0, end=1000)
    assert line is not None and line.points == "2.0,26.0 60.0,2.0 118.0,14.0"
