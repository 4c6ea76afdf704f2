"""The store and config sync, against SQLite and the real PostgreSQL."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sqlmodel import Session, select

from app.sampling.measure import store_manual_value, write_outcome
from app.sampling.outcomes import SampleToStore
from app.store.attempts import last_attempt
from app.store.check_ins import list_revisions
from app.store.models import KeyResult, Objective, Sample, SamplingAttempt, TargetRevision
from app.store.samples import sample_points, sample_row, upsert_samples
from app.tracker import Tracker, open_tracker
from connectors.base import SourceUnavailable
from tests.conftest import write_config

NOW = 1_793_000_000  # 2026-10-26T07:33:20Z, inside 2026-Q4

CONFIG = """
[connectors.people]
type = "manual"

[[objectives]]
id = "delivery"
title = "Ship faster"
team = "platform"
period = "2026-Q4"

[[objectives.key_results]]
id = "lead-time"
title = "Reduce lead time"
unit = "h"
direction = "decrease"
baseline = 48
target = 24
source = { connector = "people" }

[[objectives.key_results]]
id = "coverage"
title = "Raise coverage"
unit = "%"
direction = "increase"
baseline = 60
target = 85
source = { connector = "people" }
"""


def open_at(path: Path, url: str, text: str = CONFIG, now: int = NOW) -> Tracker:
    """Open a tracker on `url` with `text` as config and a fixed clock."""
    return open_tracker(write_config(path, text, database_url=url), clock=lambda: now)


def test_sync_is_idempotent(tmp_path: Path, database_url: str) -> None:
    """Syncing the same file twice creates the rows once and changes nothing the second time."""
    tracker = open_at(tmp_path / "c.toml", database_url)
    second = tracker.sync()
    assert (second.created, second.updated, second.archived, second.revisions) == ([], [], [], [])
    with Session(tracker.engine) as session:
        assert {k.id for k in session.exec(select(KeyResult)).all()} == {"lead-time", "coverage"}
        assert [o.id for o in session.exec(select(Objective)).all()] == ["delivery"]
    tracker.close()


def test_removed_key_result_is_archived_with_history(tmp_path: Path, database_url: str) -> None:
    """A KR dropped from the file is archived, and its samples stay."""
    tracker = open_at(tmp_path / "c.toml", database_url)
    store_manual_value(tracker, kr_id="coverage", ts=NOW - 60, value=70.0)
    tracker.close()
    trimmed = CONFIG.split('[[objectives.key_results]]\nid = "coverage"')[0]
    tracker = open_at(tmp_path / "c.toml", database_url, trimmed)
    with Session(tracker.engine) as session:
        row = session.get(KeyResult, "coverage")
        assert row is not None and row.archived_ts == NOW
        samples = session.exec(select(Sample).where(Sample.key_result_id == "coverage")).all()
        assert [s.value for s in samples] == [70.0]
    tracker.close()


def test_target_change_records_a_revision(tmp_path: Path, database_url: str) -> None:
    """Changing a target in the file leaves old, new, when and the revision note."""
    open_at(tmp_path / "c.toml", database_url).close()
    changed = CONFIG.replace("target = 85", 'target = 80\nrevision_note = "scope cut"')
    tracker = open_at(tmp_path / "c.toml", database_url, changed, now=NOW + 10)
    with Session(tracker.engine) as session:
        revisions = list_revisions(session, "coverage")
        assert [(r.field_name, r.old_value, r.new_value, r.ts, r.note) for r in revisions] == [
            ("target", "85.0", "80.0", NOW + 10, "scope cut")
        ]
        assert (
            session.exec(
                select(TargetRevision).where(TargetRevision.key_result_id == "lead-time")
            ).all()
            == []
        )
    again = tracker.sync()
    assert again.revisions == []
    tracker.close()


def test_sample_upsert_keeps_one_row_per_instant(tmp_path: Path, database_url: str) -> None:
    """A repeated sample for the same (KR, ts) updates the row instead of adding one."""
    tracker = open_at(tmp_path / "c.toml", database_url)
    with Session(tracker.engine) as session:
        for value in (61.0, 62.5):
            upsert_samples(
                session.connection(),
                [
                    sample_row(
                        key_result_id="coverage", ts=NOW, value=value, source="t", recorded_ts=NOW
                    )
                ],
            )
        session.commit()
        rows = session.exec(select(Sample).where(Sample.key_result_id == "coverage")).all()
        assert [(r.ts, r.value) for r in rows] == [(NOW, 62.5)]
        with pytest.raises(ValueError, match="non-finite"):
            upsert_samples(
                session.connection(),
                [
                    sample_row(
                        key_result_id="coverage",
                        ts=NOW + 1,
                        value=math.nan,
                        source="t",
                        recorded_ts=NOW,
                    )
                ],
            )
    tracker.close()


def test_failed_attempt_is_an_error_never_a_number(tmp_path: Path, database_url: str) -> None:
    """A failed attempt stores its kind and reason, no sample, and the KR shows error."""
    tracker = open_at(tmp_path / "c.toml", database_url)
    store_manual_value(tracker, kr_id="coverage", ts=NOW - 3600, value=70.0)
    outcome = write_outcome(
        tracker,
        SampleToStore(
            "coverage",
            NOW,
            "people",
            error=SourceUnavailable("ci.example: connection refused"),
            duration_ms=3,
        ),
    )
    assert outcome.status == "error" and "connection refused" in outcome.status_reason
    with Session(tracker.engine) as session:
        samples = session.exec(select(Sample).where(Sample.key_result_id == "coverage")).all()
        assert [s.ts for s in samples] == [NOW - 3600]
        attempt = last_attempt(session, "coverage")
        assert attempt is not None and not attempt.ok and attempt.consecutive_failures == 1
        failed = session.exec(select(SamplingAttempt).where(SamplingAttempt.ok == False)).one()  # noqa: E712
        assert (failed.error_kind, failed.error_message) == (
            "source_unavailable",
            "ci.example: connection refused",
        )
        kr = session.get(KeyResult, "coverage")
        assert (
            kr is not None
            and kr.status == "error"
            and kr.last_error == "ci.example: connection refused"
        )
        assert kr.current_value == 70.0
    tracker.close()


def test_downsampling_matches_plain_bucket_means(tmp_path: Path, database_url: str) -> None:
    """With more samples than max_points the database returns equal-time bucket means."""
    tracker = open_at(tmp_path / "c.toml", database_url)
    points = [(NOW - 100_000 + i * 37, 50 + (i * 7919 % 101) / 10) for i in range(1000)]
    with Session(tracker.engine) as session:
        for ts, value in points:
            upsert_samples(
                session.connection(),
                [
                    sample_row(
                        key_result_id="coverage", ts=ts, value=value, source="t", recorded_ts=NOW
                    )
                ],
            )
        session.commit()
        result = sample_points(session, "coverage", since=None, until=None, max_points=40)
        raw = sample_points(
            session, "coverage", since=points[10][0], until=points[19][0], max_points=40
        )
    low, high = points[0][0], points[-1][0]
    width = math.ceil((high - low + 1) / 40)
    buckets: dict[int, list[tuple[int, float]]] = {}
    for ts, value in points:
        buckets.setdefault((ts - low) // width, []).append((ts, value))
    expected = [
        (b[0][0], sum(v for _, v in b) / len(b), len(b)) for _, b in sorted(buckets.items())
    ]
    assert len(result) <= 40
    assert [(p.ts, p.count) for p in result] == [(t, n) for t, _, n in expected]
    for point, (_, mean, _) in zip(result, expected, strict=True):
        assert point.value == pytest.approx(mean, rel=1e-12)
    assert [(p.ts, p.value, p.count) for p in raw] == [(t, v, 1) for t, v in points[10:20]]
    tracker.close()


LEAKED = "leaked-token-0123456789"


def test_reopening_redacts_secrets_stored_before_they_were_known(
    tmp_path: Path, database_url: str
) -> None:
    """Errors, details and payloads stored before a secret was known lose it at the next start."""
    from sqlalchemy import text

    from app.store.models import Delivery, DeliveryAttempt
    from app.store.redaction import redact_stored_secrets

    tracker = open_at(tmp_path / "c.toml", database_url)
    reason = f"prometheus answered HTTP 503: bad credentials {LEAKED}"
    write_outcome(
        tracker,
        SampleToStore(
            "lead-time", NOW - 60, "people", error=SourceUnavailable(reason), duration_ms=1
        ),
    )
    with Session(tracker.engine) as session:
        session.add(
            Sample(
                key_result_id="coverage",
                ts=NOW - 60,
                value=70.0,
                source="people",
                details={"echo": reason},
                recorded_ts=NOW - 60,
            )
        )
        delivery = Delivery(
            event_id="evt_1",
            webhook="ops",
            event_type="kr.stale",
            key_result_id="lead-time",
            payload={"data": {"status_reason": reason}},
            created_ts=NOW - 60,
            next_attempt_ts=NOW,
            last_error=reason,
        )
        session.add(delivery)
        session.commit()
        session.add(DeliveryAttempt(delivery_seq=delivery.seq, ts=NOW - 30, error=reason))
        session.commit()
        assert LEAKED in (session.get(KeyResult, "lead-time").last_error or "")  # type: ignore[union-attr]
    tracker.close()

    # The same database, now with a config that holds the token as a secret.
    secret = f'\n[connectors.api]\ntype = "http_json"\ntoken = "{LEAKED}"\n'
    tracker = open_at(tmp_path / "c.toml", database_url, CONFIG + secret)
    with tracker.engine.connect() as connection:
        stored = [
            str(value)
            for table, column in (
                ("key_results", "last_error"),
                ("key_results", "status_reason"),
                ("sampling_attempts", "error_message"),
                ("samples", "details"),
                ("deliveries", "payload"),
                ("deliveries", "last_error"),
                ("delivery_attempts", "error"),
            )
            for (value,) in connection.execute(text(f"SELECT {column} FROM {table}"))
        ]
    assert not [s for s in stored if LEAKED in s], stored
    assert any("bad credentials ***" in s for s in stored)
    # The pass is done once per set of secrets.
    assert redact_stored_secrets(tracker.engine, tracker.redactor, now_ts=NOW) == 0
    tracker.close()
