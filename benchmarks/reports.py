"""Time the weekly review and the period scorecard on a large store, in process.

Run from the repository root (a quick check with `--krs 100 --samples 1000` takes seconds):

    .venv/bin/python -m benchmarks.reports --krs 1000 --samples 2000 --backend both

It seeds a fresh database with `benchmarks._seed` (manual Key Results sampled every 15
minutes, periods inside the current quarter when `samples` is at most about 5,000) and
times, with the same session: the floor (one engine evaluation per Key Result at now, what
the review does twice and the scorecard about fourteen times), `weekly_review` for the last
7 days, `period_scorecard` for the current quarter, and its CSV rendering.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from app.reports.history import evaluate_at, weekly_review
from app.reports.period_history import period_scorecard
from app.reports.review import WEEK_SECONDS
from app.reports.scorecard_render import scorecard_csv
from app.store.key_results import list_key_results, list_objectives
from app.tracker import open_tracker
from benchmarks._seed import create_database, drop_database, plan_for, seed

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def _best_of(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """Return the best wall time in seconds over `runs` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def measure(url: str, *, krs: int, samples: int, runs: int) -> dict[str, float]:
    """Seed `url`, then time the floor, the review, the scorecard and its CSV (seconds)."""
    plan = plan_for(krs=krs, samples=samples, layout="interleaved")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        seed(config, plan=plan, url=url)
        tracker = open_tracker(config, migrate=False)
    now = tracker.now()
    moment = datetime.fromtimestamp(now, UTC)
    period = f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"
    thresholds = tracker.thresholds
    figures: dict[str, float] = {}
    with Session(tracker.engine) as session:
        objectives = {o.id: o for o in list_objectives(session)}
        rows = list(list_key_results(session))

        def floor() -> int:
            for kr in rows:
                evaluate_at(session, kr, objectives[kr.objective_id], at=now, thresholds=thresholds)
            return len(rows)

        figures["floor"], _ = _best_of(runs, floor)
        figures["review"], review = _best_of(
            runs,
            lambda: weekly_review(
                session, since_ts=now - WEEK_SECONDS, now_ts=now, thresholds=thresholds
            ),
        )
        figures["scorecard"], card = _best_of(
            runs,
            lambda: period_scorecard(session, period=period, now_ts=now, thresholds=thresholds),
        )
        figures["csv"], _ = _best_of(runs, lambda: scorecard_csv(card))
    scored = sum(len(o.key_results) for o in card.objectives)
    print(
        f"  {len(rows)} Key Results, {scored} on the {period} scorecard, "
        f"{len(review.movers)} movers"
    )
    tracker.close()
    return figures


def main() -> None:
    """Parse arguments, run each backend, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--krs", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    table = []
    for backend in backends:
        print(f"{backend}: seeding {args.krs} x {args.samples} ...")
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite:///{Path(tmp) / 'bench.db'}"
                figures = measure(url, krs=args.krs, samples=args.samples, runs=args.runs)
        else:
            name = f"krt_bench_{uuid.uuid4().hex[:8]}"
            url = create_database(POSTGRES_ADMIN, name)
            try:
                figures = measure(url, krs=args.krs, samples=args.samples, runs=args.runs)
            finally:
                drop_database(POSTGRES_ADMIN, name)
        table.append((backend, figures))
        print(f"  {backend}: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in figures.items()))
    print("\n| backend | floor: 1 evaluation per KR | weekly review | scorecard | scorecard CSV |")
    print("|---|---:|---:|---:|---:|")
    for backend, f in table:
        ratio = f"{f['scorecard'] / f['floor']:.1f}x"
        print(
            f"| {backend} | {f['floor'] * 1000:.0f} ms | {f['review'] * 1000:.0f} ms "
            f"({f['review'] / f['floor']:.1f}x) | {f['scorecard'] * 1000:.0f} ms ({ratio}) "
            f"| {f['csv'] * 1000:.1f} ms |"
        )


if __name__ == "__main__":
    main()
