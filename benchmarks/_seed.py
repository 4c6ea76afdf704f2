"""Build the API benchmark's data: a config of manual Key Results and their samples, bulk-loaded.

The definitions go through krtracker's own start path (`open_tracker`: migrations and
config sync); only the samples are written directly, because posting ten million values
through the API would take hours and measure the write path, not the reads under test.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import psycopg
from psycopg import sql

from app.tracker import open_tracker

KEY_RESULTS_PER_OBJECTIVE = 5
INTERVAL_SECONDS = 900
# (direction, baseline, target, first value, last value): a mix of kinds, each with a trend.
KINDS = (
    ("increase", 60.0, 85.0, 60.0, 80.0),
    ("decrease", 420.0, 294.0, 420.0, 330.0),
    ("at_least", None, 99.5, 99.7, 99.6),
    ("increase", 1.0, 5.0, 1.0, 2.0),
    ("at_most", None, 2.0, 1.5, 2.2),
)
Layout = Literal["interleaved", "clustered"]


@dataclass(frozen=True)
class Plan:
    """How many Key Results and samples to create, and when the last sample is."""

    krs: int
    samples: int
    end_ts: int
    layout: Layout = "interleaved"

    @property
    def first_ts(self) -> int:
        """Return the time of every Key Result's first sample."""
        return self.end_ts - (self.samples - 1) * INTERVAL_SECONDS

    @property
    def kr_ids(self) -> list[str]:
        """Return the Key Result ids in file order."""
        return [f"kr-{k:05d}" for k in range(self.krs)]


def plan_for(*, krs: int, samples: int, layout: Layout) -> Plan:
    """Return a plan whose samples end at the latest whole interval before now."""
    now = int(time.time())
    return Plan(krs=krs, samples=samples, end_ts=now - now % INTERVAL_SECONDS, layout=layout)


def _toml_number(value: float | None) -> str:
    return "" if value is None else repr(value)


def write_config(path: Path, *, plan: Plan, url: str) -> None:
    """Write a config with `plan.krs` manual Key Results, five per objective."""
    first_day = datetime.fromtimestamp(plan.first_ts, UTC).date() - timedelta(days=1)
    last_day = datetime.fromtimestamp(plan.end_ts, UTC).date() + timedelta(days=30)
    lines = [
        "[database]",
        f'url = "{url}"',
        "",
        "[connectors.people]",
        'type = "manual"',
        "",
    ]
    ids = plan.kr_ids
    for o in range(math.ceil(plan.krs / KEY_RESULTS_PER_OBJECTIVE)):
        lines += [
            "[[objectives]]",
            f'id = "obj-{o:04d}"',
            f'title = "Objective {o}"',
            f'team = "team-{o % 17}"',
            f'owner = "owner-{o % 41}"',
            f"start = {first_day.isoformat()}",
            f"end = {last_day.isoformat()}",
            "",
        ]
        first_kr = o * KEY_RESULTS_PER_OBJECTIVE
        for k in range(first_kr, min(plan.krs, first_kr + KEY_RESULTS_PER_OBJECTIVE)):
            direction, baseline, target, _, _ = KINDS[k % len(KINDS)]
            lines += [
                "[[objectives.key_results]]",
                f'id = "{ids[k]}"',
                f'title = "Key Result {k}"',
                f'direction = "{direction}"',
                f"target = {_toml_number(target)}",
                'every = "15m"',
                'source = { connector = "people" }',
            ]
            if baseline is not None:
                lines.append(f"baseline = {_toml_number(baseline)}")
            lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def value_at(k: int, i: int, samples: int) -> float:
    """Return Key Result `k`'s value at sample `i`: a linear trend plus bounded noise."""
    _, _, _, first, last = KINDS[k % len(KINDS)]
    trend = first + (last - first) * i / max(1, samples - 1)
    noise = ((i * 7919 + k * 104_729) % 201 - 100) / 100 * abs(last - first) * 0.05
    return trend + noise


def sample_rows(plan: Plan) -> Iterator[tuple[str, int, float]]:
    """Yield (Key Result, ts, value) in the plan's layout.

    "interleaved" is time-major, the order live sampling writes in, so one Key Result's
    rows are spread over the whole table; "clustered" is Key Result-major, like a backfill.
    """
    ids = plan.kr_ids
    if plan.layout == "interleaved":
        for i in range(plan.samples):
            ts = plan.first_ts + i * INTERVAL_SECONDS
            for k, kr_id in enumerate(ids):
                yield kr_id, ts, value_at(k, i, plan.samples)
    else:
        for k, kr_id in enumerate(ids):
            for i in range(plan.samples):
                yield kr_id, plan.first_ts + i * INTERVAL_SECONDS, value_at(k, i, plan.samples)


def _load_sqlite(path: str, plan: Plan, *, batch: int = 1_000_000) -> None:
    # Durability is pointless for a throw-away load; a large cache keeps index pages in memory.
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-400000")
    insert = (
        "INSERT INTO samples (key_result_id, ts, value, source, recorded_ts) "
        "VALUES (?, ?, ?, 'manual', ?)"
    )
    pending: list[tuple[str, int, float, int]] = []
    for kr_id, ts, value in sample_rows(plan):
        pending.append((kr_id, ts, value, ts))
        if len(pending) >= batch:
            with db:
                db.executemany(insert, pending)
            pending.clear()
    with db:
        db.executemany(insert, pending)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _load_postgres(url: str, plan: Plan, *, chunk: int = 20_000) -> None:
    with psycopg.connect(url) as conn:
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY samples (key_result_id, ts, value, source, recorded_ts) FROM STDIN"
            ) as copy,
        ):
            lines: list[str] = []
            for kr_id, ts, value in sample_rows(plan):
                lines.append(f"{kr_id}\t{ts}\t{value!r}\tmanual\t{ts}\n")
                if len(lines) >= chunk:
                    copy.write("".join(lines))
                    lines.clear()
            copy.write("".join(lines))
        conn.commit()
        # Autovacuum would analyze and vacuum the table after such a load; do it now so
        # the measurement does not depend on when it happens to run.
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE samples")


# What-if for the samples query (see docs/benchmarks.md): an index that holds `value`, so
# bucketing reads the index alone instead of one table row per sample.


def seed(config: Path, *, plan: Plan, url: str) -> dict[str, float]:
    """Start as the server does, load the samples, evaluate every Key Result; return step seconds.

    `open_tracker` migrates, syncs the config and evaluates once (with no samples yet).
    """
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    write_config(config, plan=plan, url=url)
    tracker = open_tracker(config)
    seconds["open_tracker"] = time.perf_counter() - started
    started = time.perf_counter()
    if url.startswith("sqlite:///"):
        _load_sqlite(url.removeprefix("sqlite:///"), plan)
    else:
        _load_postgres(url, plan)
    seconds["load"] = time.perf_counter() - started
    started = time.perf_counter()
    tracker.key_result_writer(run_alerts=False).reevaluate_each()
    seconds["evaluate"] = time.perf_counter() - started
    tracker.close()
    return seconds


def create_database(admin_url: str, name: str) -> str:
    """Create (or recreate) database `name` on the server of `admin_url`; return its URL."""
    drop_database(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, name: str) -> None:
    """Drop database `name` if it exists, disconnecting its sessions."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))
