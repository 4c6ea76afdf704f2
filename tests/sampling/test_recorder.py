"""The writer stores the same whether its figures are remembered or read each time.

Two trackers on two databases get the same script of samples, failures, rewrites and
re-evaluations: one through `SampleRecorder` (the writer with `RememberedFigures`, batches),
the other through `write_outcome` and `reevaluate_each` (the writer with `FreshFigures`,
which reads every figure from the rows). After every step their Key Result rows, alert
states and outbox must be equal.
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from app.sampling.measure import write_outcome
from app.sampling.outcomes import SampleToStore, StoreFailed
from app.store.models import AlertStateRow, Delivery, KeyResult, Sample, SamplingAttempt
from app.store.samples import covered_through
from app.tracker import Tracker, open_tracker
from connectors.base import Measurement, SourceUnavailable
from tests.conftest import write_config

START = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp())
HOUR = 3600

CONFIG = """
[alerts]
for_samples = 1
repeat_interval = "2h"

[[webhooks]]
name = "hook"
url = "https://hooks.example.com/krtracker"
format = "generic"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

[connectors.api]
type = "http_json"
base_url = "http://127.0.0.1:9"

[[objectives]]
id = "o"
title = "Objective"
start = 2026-10-01
end = 2026-10-11

[[objectives.key_results]]
id = "latency"
title = "Reduce latency by 30%"
direction = "decrease"
target = "-30%"
every = "1h"
source = { connector = "api", url = "/a", jsonpath = "$.v" }

[[objectives.key_results]]
id = "users"
title = "Grow users"
direction = "increase"
baseline = 100
target = 200
every = "1h"
source = { connector = "api", url = "/b", jsonpath = "$.v" }

[[objectives.key_results]]
id = "errors"
title = "Keep errors under 50"
direction = "at_most"
target = 50
every = "1h"
source = { connector = "api", url = "/c", jsonpath = "$.v" }

[[objectives.key_results]]
id = "coverage"
title = "Coverage between 60 and 90"
direction = "within"
band = [60, 90]
every = "1h"
source = { connector = "api", url = "/d", jsonpath = "$.v" }

[[objectives.key_results]]
id = "daily-avg"
title = "Average conversions per day"
direction = "increase"
baseline = 0
target = 10
every = "1h"
aggregate = { function = "avg", window = "6h" }
source = { connector = "api", url = "/e", jsonpath = "$.v" }
"""
KRS = ["latency", "users", "errors", "coverage", "daily-avg"]


def open_at(path: Path, url: str, clock: dict[str, float]) -> Tracker:
    """Open a tracker on `url` whose clock the test moves."""
    return open_tracker(write_config(path, CONFIG, database_url=url), clock=lambda: clock["now"])


def snapshot(tracker: Tracker) -> dict[str, Any]:
    """Return what the API and the delivery worker read: Key Result state, alerts, outbox."""
    with Session(tracker.engine) as session:
        # row_version numbers transactions, and the recorder writes a batch in one.
        krs = {
            kr.id: kr.model_dump(exclude={"source", "aggregate", "row_version"})
            for kr in session.exec(select(KeyResult).order_by(col(KeyResult.id)))
        }
        alerts = {
            row.key_result_id: (row.state, row.updated_ts)
            for row in session.exec(select(AlertStateRow))
        }
        outbox = [
            (d.event_type, d.key_result_id, d.webhook, d.payload, d.sample_ts, d.created_ts)
            for d in session.exec(select(Delivery).order_by(col(Delivery.seq)))
        ]
        samples = session.exec(select(Sample.key_result_id, Sample.ts, Sample.value)).all()
        attempts = session.exec(
            select(SamplingAttempt.key_result_id, SamplingAttempt.ok, SamplingAttempt.error_message)
        ).all()
    return {
        "krs": krs,
        "alerts": alerts,
        "outbox": outbox,
        "samples": sorted(samples),
        "attempts": sorted(attempts, key=repr),
    }


def value_for(kr: str, rng: random.Random) -> float:
    """Return a plausible value, with jumps that cross the alert thresholds."""
    base = {"latency": 300, "users": 150, "errors": 45, "coverage": 75, "daily-avg": 5}[kr]
    return round(base * rng.uniform(0.6, 1.4), 3)


def test_recorder_and_database_path_store_the_same(tmp_path: Path, database_url: str) -> None:
    clock = {"now": float(START + 60)}
    fast = open_at(tmp_path / "fast.toml", database_url, clock)
    reference = open_at(tmp_path / "ref.toml", f"sqlite:///{tmp_path / 'ref.db'}", clock)
    rng = random.Random(7)
    instant = START
    for step in range(120):
        choice = rng.random()
        kr = rng.choice(KRS)
        if choice < 0.08:
            fast.recorder.reevaluate(KRS)
            reference.writer.reevaluate_each()
        else:
            ts = instant
            if choice < 0.15 and instant > START:
                ts = instant - HOUR * rng.randint(1, 3)  # a retried, older instant rewritten
            measurement = error = None
            if choice > 0.85:
                error = SourceUnavailable(f"connection refused (step {step})")
            else:
                measurement = Measurement(
                    value=value_for(kr, rng), at=datetime.fromtimestamp(ts, UTC)
                )
            fast.recorder.record(SampleToStore(kr, ts, "api", measurement=measurement, error=error))
            write_outcome(
                reference, SampleToStore(kr, ts, "api", measurement=measurement, error=error)
            )
        if rng.random() < 0.4:
            instant += HOUR
            clock["now"] = instant + 60
        assert snapshot(fast) == snapshot(reference), f"differs after step {step}"
    assert snapshot(fast)["outbox"], "the script should have raised some alerts"
    fast.close()
    reference.close()


def test_concurrent_jobs_are_stored_in_few_transactions(tmp_path: Path, database_url: str) -> None:
    """Sixteen threads recording at once: every sample and attempt stored, none lost."""
    clock = {"now": float(START + 60)}
    tracker = open_at(tmp_path / "c.toml", database_url, clock)
    barrier = threading.Barrier(16)

    def job(i: int) -> None:
        barrier.wait()
        for hour in range(5):
            kr = KRS[i % len(KRS)]
            ts = START - HOUR * (i // len(KRS) * 5 + hour)  # distinct instants per (kr, thread)
            tracker.recorder.record(
                SampleToStore(
                    kr,
                    ts,
                    "api",
                    measurement=Measurement(float(i * 10 + hour), datetime.fromtimestamp(ts, UTC)),
                )
            )

    threads = [threading.Thread(target=job, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Session(tracker.engine) as session:
        assert session.exec(select(SamplingAttempt)).all().__len__() == 80
        stored = {(s.key_result_id, s.ts): s.value for s in session.exec(select(Sample))}
    expected = {
        (KRS[i % len(KRS)], START - HOUR * (i // len(KRS) * 5 + hour)): float(i * 10 + hour)
        for i in range(16)
        for hour in range(5)
    }
    assert stored == expected
    tracker.close()


def test_a_sample_that_cannot_be_stored_becomes_a_failed_attempt(tmp_path: Path) -> None:
    """When the write fails, the Key Result shows the store failure instead of a silent gap."""
    clock = {"now": float(START + 60)}
    tracker = open_at(tmp_path / "c.toml", f"sqlite:///{tmp_path / 'db.sqlite'}", clock)
    with tracker.engine.begin() as connection:
        # A trigger stands in for a database that refuses the row (full disk, constraint).
        connection.execute(
            text(
                "CREATE TRIGGER refuse BEFORE INSERT ON samples "
                "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
            )
        )
    outcome = tracker.recorder.record(
        SampleToStore(
            "users",
            START,
            "api",
            measurement=Measurement(120.0, datetime.fromtimestamp(START, UTC)),
        )
    )
    assert outcome.error_kind == StoreFailed.kind and outcome.value is None
    assert "disk I/O error" in (outcome.error or "")
    assert outcome.status == "error"
    with Session(tracker.engine) as session:
        attempt = session.exec(select(SamplingAttempt)).one()
        assert not attempt.ok and attempt.error_kind == "store_failed"
        assert session.exec(select(Sample)).all() == []
        kr = session.get(KeyResult, "users")
        assert kr is not None and kr.status == "error" and "disk I/O error" in (kr.last_error or "")
    tracker.close()


@pytest.mark.parametrize("points", [0, 3])
def test_backfill_is_written_with_how_far_it_reaches(tmp_path: Path, points: int) -> None:
    """Backfilled history is stored under its own label, and a fresh process knows how far it reached."""
    clock = {"now": float(START + 10 * HOUR)}
    tracker = open_at(tmp_path / "c.toml", f"sqlite:///{tmp_path / 'db.sqlite'}", clock)
    history = [
        Measurement(100.0 + i, datetime.fromtimestamp(START + i * HOUR, UTC)) for i in range(points)
    ]
    with Session(tracker.engine) as session:
        assert covered_through(session, {"users": "api"}) == {}
    outcome = tracker.recorder.record(
        SampleToStore(
            "users",
            START + 9 * HOUR,
            "api",
            error=SourceUnavailable("down"),
            backfill=history,
            backfill_through=START + 8 * HOUR,
        )
    )
    assert outcome.backfilled == points
    with Session(tracker.engine) as session:
        rows = session.exec(select(Sample.ts, Sample.source).order_by(col(Sample.ts))).all()
    assert [s for _, s in rows] == ["api (backfill)"] * points
    # A fresh process reads how far history was asked, even when it held no point.
    other = open_at(tmp_path / "c.toml", f"sqlite:///{tmp_path / 'db.sqlite'}", clock)
    with Session(other.engine) as session:
        assert covered_through(session, {"users": "api"}) == {"users": START + 8 * HOUR}
    other.close()
    tracker.close()


def test_backfill_never_replaces_a_live_sample(tmp_path: Path) -> None:
    """History that reaches an instant already sampled live keeps the live row and its label."""
    clock = {"now": float(START + 10 * HOUR)}
    tracker = open_at(tmp_path / "c.toml", f"sqlite:///{tmp_path / 'db.sqlite'}", clock)
    at = START + 5 * HOUR
    live = Measurement(150.0, datetime.fromtimestamp(at, UTC))
    assert tracker.recorder.record(SampleToStore("users", at, "api", measurement=live)).ok
    history = [Measurement(99.0, datetime.fromtimestamp(START + i * HOUR, UTC)) for i in range(9)]
    tracker.recorder.record(
        SampleToStore(
            "users",
            START + 9 * HOUR,
            "api",
            measurement=Measurement(151.0, datetime.fromtimestamp(START + 9 * HOUR, UTC)),
            backfill=history,
            backfill_through=START + 8 * HOUR,
        )
    )
    with Session(tracker.engine) as session:
        row = session.exec(select(Sample).where(Sample.ts == at)).one()
        count = len(session.exec(select(Sample)).all())
    assert (row.value, row.source) == (150.0, "api")
    assert count == 10
    tracker.close()


def test_sample_once_refuses_while_a_scheduler_holds_the_lock(tmp_path: Path) -> None:
    """`krtracker sample --once` must not write past a running scheduler's recorder."""
    from typer.testing import CliRunner

    from app.cli.main import app
    from app.store.leader_lock import leader_lock_for

    clock = {"now": float(START + 60)}
    config = tmp_path / "c.toml"
    tracker = open_at(config, f"sqlite:///{tmp_path / 'db.sqlite'}", clock)
    lock = leader_lock_for(tracker.engine)
    assert lock.try_acquire()
    refused = CliRunner().invoke(
        app, ["sample", "--once", "--kr", "users", "--config", str(config)]
    )
    assert refused.exit_code == 2
    assert "scheduler" in refused.output and "running" in refused.output
    lock.release()
    # Without a scheduler it samples: the source is down, so the attempt is stored as an error.
    ran = CliRunner().invoke(app, ["sample", "--once", "--kr", "users", "--config", str(config)])
    assert ran.exit_code == 1, ran.output
    with Session(tracker.engine) as session:
        attempt = session.exec(select(SamplingAttempt)).one()
    assert not attempt.ok and attempt.error_kind == "source_unavailable"
    tracker.close()


def test_a_stalled_database_holds_jobs_back_instead_of_filling_memory(tmp_path: Path) -> None:
    """While another writer holds SQLite's lock, queued samples stop at the cap; none is lost."""
    import sqlite3

    clock = {"now": float(START + 60)}
    path = tmp_path / "db.sqlite"
    tracker = open_at(tmp_path / "c.toml", f"sqlite:///{path}", clock)
    recorder = tracker.recorder
    recorder.max_pending_points = 4
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the recorder's next write waits for this lock
    futures = []

    def submit_all() -> None:
        for hour in range(12):
            ts = START - HOUR * hour
            item = SampleToStore(
                "users",
                ts,
                "api",
                measurement=Measurement(100.0 + hour, datetime.fromtimestamp(ts, UTC)),
            )
            futures.append(recorder.submit(item))

    submitter = threading.Thread(target=submit_all)
    submitter.start()
    submitter.join(timeout=2)
    assert submitter.is_alive(), "submit should wait while the queue is full"
    # One batch (at most the cap) is in the writer's hands, at most the cap queued behind it.
    assert len(futures) <= 2 * recorder.max_pending_points
    blocker.execute("COMMIT")
    blocker.close()
    submitter.join(timeout=30)
    assert not submitter.is_alive()
    assert [f.result(timeout=30).ok for f in futures] == [True] * 12
    with Session(tracker.engine) as session:
        assert len(session.exec(select(Sample)).all()) == 12
    tracker.close()


def test_one_batch_may_write_the_same_instant_twice(tmp_path: Path, database_url: str) -> None:
    """A retried instant in the same transaction: the later value wins, both attempts are kept."""
    clock = {"now": float(START + HOUR + 60)}
    tracker = open_at(tmp_path / "c.toml", database_url, clock)
    at = datetime.fromtimestamp(START + HOUR, UTC)
    outcomes = tracker.recorder.store_now([
        SampleToStore("users", START + HOUR, "api", measurement=Measurement(110.0, at)),
        SampleToStore("users", START + HOUR, "api", measurement=Measurement(120.0, at)),
    ])
    assert [o.value for o in outcomes] == [110.0, 120.0]
    with Session(tracker.engine) as session:
        assert session.exec(select(Sample.value)).all() == [120.0]
        assert len(session.exec(select(SamplingAttempt)).all()) == 2
        kr = session.get(KeyResult, "users")
    assert kr is not None and kr.current_value == 120.0 and kr.progress == pytest.approx(0.2)
    tracker.close()
