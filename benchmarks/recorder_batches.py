"""Cost per sample of the recorder (store, evaluate, alert rules) by batch size, no HTTP.

Run from the repository root:

    python -m benchmarks.recorder_batches --krs 1000 --backend sqlite postgres

For each backend: a config of N Key Results (the sampling benchmark's), a fresh database,
three warm-up rounds (so every Key Result's live state is loaded and has recent points),
then one round per batch size, each sample at a new instant, stored through the recorder
in transactions of that many samples. The baseline in the same run is the bare write of
the same sample rows (one multi-row upsert per batch, nothing else): the recorder's extra
cost is attempts, evaluation, the Key Result row and the alert rules.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from app.sampling.outcomes import SampleToStore
from app.store.samples import sample_row, upsert_samples
from app.tracker import Tracker, open_tracker
from benchmarks.sampling_cycle import INTERVAL_SECONDS, Clock, database, write_config
from connectors.base import Measurement

BATCHES = (1, 4, 16, 64, 256)


def items_at(tracker: Tracker, ts: int, round_: int) -> list[SampleToStore]:
    """Return one sample per Key Result at `ts`, values varying by round."""
    at = datetime.fromtimestamp(ts, UTC)
    return [
        SampleToStore(kr, ts, "prom", measurement=Measurement(100.0 + (i * 7 + round_) % 13, at))
        for i, kr in enumerate(tracker.entries)
    ]


def store_in_batches(tracker: Tracker, items: list[SampleToStore], batch: int) -> float:
    """Store `items` through the recorder, `batch` per transaction; return µs per sample."""
    started = time.perf_counter()
    for start in range(0, len(items), batch):
        tracker.recorder.store_now(items[start : start + batch])
    return (time.perf_counter() - started) / len(items) * 1e6


def bare_in_batches(tracker: Tracker, items: list[SampleToStore], batch: int) -> float:
    """Write only the sample rows, `batch` per transaction; return µs per sample.

    These rows bypass the recorder (which would not see them in a real run); the rounds
    after only append newer instants, so its figures stay valid.
    """
    started = time.perf_counter()
    for start in range(0, len(items), batch):
        rows = [
            sample_row(
                key_result_id=i.kr_id,
                ts=i.scheduled_ts,
                value=i.measurement.value,
                source="prom",
                recorded_ts=i.scheduled_ts,
            )
            for i in items[start : start + batch]
            if i.measurement is not None
        ]
        with Session(tracker.engine) as session:
            upsert_samples(session.connection(), rows)
            session.commit()
    return (time.perf_counter() - started) / len(items) * 1e6


@contextmanager
def tracker_for(backend: str, krs: int) -> Iterator[tuple[Tracker, Clock, int]]:
    """Yield an opened tracker on a fresh database, its clock and the first instant."""
    with (
        tempfile.TemporaryDirectory(prefix="krbench-recorder-") as tmp,
        database(backend, Path(tmp)) as url,
    ):
        first = int(time.time()) - int(time.time()) % INTERVAL_SECONDS - 30 * 86400
        config = Path(tmp) / "krtracker.toml"
        write_config(
            config,
            krs=krs,
            database_url=url,
            prometheus_url="http://127.0.0.1:9",
            first_day=datetime.fromtimestamp(first - 86400, UTC).date(),
        )
        clock = Clock(first)
        tracker = open_tracker(config, clock=clock)
        try:
            yield tracker, clock, first
        finally:
            tracker.close()


def main(argv: list[str] | None = None) -> None:
    """Print µs per sample for each batch size, recorder against the bare write."""
    parser = argparse.ArgumentParser(description="Recorder cost per sample by batch size.")
    parser.add_argument("--krs", type=int, default=1000)
    parser.add_argument("--backend", nargs="+", choices=["sqlite", "postgres"], default=["sqlite"])
    args = parser.parse_args(argv)
    print("| backend | KRs | batch | recorder µs/sample | bare upsert µs/sample |")
    print("|---|---|---|---|---|")
    for backend in args.backend:
        with tracker_for(backend, args.krs) as (tracker, clock, ts):
            for round_ in range(3):
                clock.now = ts + 5
                store_in_batches(tracker, items_at(tracker, ts, round_), 64)
                ts += INTERVAL_SECONDS
            for batch in BATCHES:
                clock.now = ts + 5
                recorder = store_in_batches(tracker, items_at(tracker, ts, batch), batch)
                ts += INTERVAL_SECONDS
                bare = bare_in_batches(tracker, items_at(tracker, ts, batch), batch)
                ts += INTERVAL_SECONDS
                print(
                    f"| {backend} | {args.krs:,} | {batch} | {recorder:.0f} | {bare:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
