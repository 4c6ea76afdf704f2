"""The engine's definition of a Key Result: built once at sync, kept as JSON, read back as is."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session, select

from app.core.domain import Aggregate, Direction
from app.core.inputs import KeyResultSpec
from app.core.specs import measured_from, spec_from_json, spec_to_json, stored_spec
from app.store.db import alembic_config, make_engine
from app.store.models import KeyResult
from app.tracker import open_tracker
from tests.conftest import write_config

DAY = 86400
numbers = st.floats(allow_nan=False, allow_infinity=False, width=64)
maybe = st.none() | numbers


@st.composite
def specs(draw: st.DrawFn) -> KeyResultSpec:
    start = draw(st.integers(0, 2**40))
    relative = draw(st.booleans())
    aggregate = draw(st.none() | st.sampled_from(list(Aggregate)))
    return KeyResultSpec(
        direction=draw(st.sampled_from(list(Direction))),
        period_start=start,
        period_end=start + draw(st.integers(1, 400 * DAY)),
        baseline=draw(maybe),
        baseline_from_first_sample=draw(st.booleans()),
        target=None if relative else draw(maybe),
        relative_target=draw(maybe) if relative else None,
        band=draw(st.none() | st.tuples(numbers, numbers)),
        interval_seconds=draw(st.none() | st.integers(1, 10**7)),
        aggregate=aggregate,
        aggregate_window=draw(st.integers(1, 10**7)) if aggregate else None,
        value_range=(draw(maybe), draw(maybe)),
    )


@given(specs())
def test_a_kept_spec_reads_back_equal(spec: KeyResultSpec) -> None:
    """What sync keeps is what every evaluation reads: no field is lost or changed."""
    assert spec_from_json(spec_to_json(spec)) == spec


@given(
    st.none() | st.integers(0, 2**40),
    st.none() | st.integers(0, 2**40),
    st.integers(0, 2**40),
    st.integers(1, 400 * DAY),
)
def test_measured_from_is_a_day_inside_the_period(
    start_ts: int | None, first_seen_ts: int | None, period_start: int, length: int
) -> None:
    """A Key Result is measured from a day's start inside its period, or the period's start."""
    period_end = period_start + length
    at = measured_from(
        start_ts=start_ts,
        first_seen_ts=first_seen_ts,
        period_start=period_start,
        period_end=period_end,
    )
    assert period_start <= at < period_end
    own = start_ts if start_ts is not None else first_seen_ts
    if own is None or own - own % DAY <= period_start:
        assert at == period_start
    elif own - own % DAY < period_end:
        assert at == own - own % DAY


CONFIG = """
[[objectives]]
id = "o"
title = "Objective"
start = 2026-10-01
end = 2026-12-31

[[objectives.key_results]]
id = "latency"
title = "Reduce latency by 30%"
unit = "ms"
direction = "decrease"
target = "-30%"
baseline = 420.0

[[objectives.key_results]]
id = "coverage"
title = "Coverage to 85%"
unit = "%"
direction = "increase"
target = 85
start = 2026-11-02
aggregate = { function = "avg", window = "7d" }

[[objectives.key_results]]
id = "errors"
title = "Error rate stays low"
unit = "ratio"
direction = "at_most"
target = 0.01
range = [0, 0.5]
"""


def test_sync_keeps_the_spec_built_from_the_config(tmp_path: Path, database_url: str) -> None:
    """The percentage, `start`, window and unit bounds arrive as numbers on the row."""
    path = write_config(tmp_path / "c.toml", CONFIG, database_url=database_url)
    tracker = open_tracker(path, clock=lambda: 1_790_000_000)
    with Session(tracker.engine) as session:
        rows = {k: session.get(KeyResult, k) for k in ("latency", "coverage", "errors")}
        specs = {k: stored_spec(row) for k, row in rows.items() if row is not None}
    tracker.close()
    october = 1_790_812_800  # 2026-10-01
    assert specs["latency"].relative_target == -0.3 and specs["latency"].target is None
    assert specs["latency"].baseline == 420.0 and not specs["latency"].baseline_from_first_sample
    assert specs["latency"].period_start == october and specs["latency"].value_range == (0.0, None)
    assert specs["coverage"].period_start == 1_793_577_600  # 2026-11-02
    assert (
        specs["coverage"].aggregate is Aggregate.AVG
        and specs["coverage"].aggregate_window == 7 * DAY
    )
    assert specs["coverage"].baseline_from_first_sample and specs["coverage"].value_range == (
        0.0,
        100.0,
    )
    assert specs["errors"].value_range == (0.0, 0.5) and specs["errors"].target == 0.01


def test_the_migration_gives_older_rows_the_spec_sync_builds(
    tmp_path: Path, database_url: str
) -> None:
    """Rows synced before 0008 (archived ones too) get from their texts what sync builds now."""
    path = write_config(tmp_path / "c.toml", CONFIG, database_url=database_url)
    tracker = open_tracker(path, clock=lambda: 1_790_000_000)
    with Session(tracker.engine) as session:
        built = {k.id: k.spec for k in session.exec(select(KeyResult)).all()}
    tracker.close()
    without_errors = CONFIG[: CONFIG.index('[[objectives.key_results]]\nid = "errors"')]
    write_config(tmp_path / "c.toml", without_errors, database_url=database_url)
    open_tracker(path, clock=lambda: 1_790_000_000).close()  # archives `errors`
    config = alembic_config(database_url)
    command.downgrade(config, "0007_digest_idempotency")
    command.upgrade(config, "head")
    engine = make_engine(database_url)
    with engine.connect() as connection:
        migrated = dict(connection.execute(text("SELECT id, spec FROM key_results")).all())
    engine.dispose()
    for kr_id, spec in built.items():
        value = migrated[kr_id]
        kept = value if isinstance(value, dict) else json.loads(value)
        assert spec is not None and spec_from_json(kept) == spec_from_json(spec), kr_id
