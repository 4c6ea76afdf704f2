"""Time one sampling cycle of many Prometheus Key Results against a bare loop of the same queries.

Run from the repository root (a quick check takes seconds; the issue's figures use 1,000 and
10,000 Key Results on both backends):

    .venv/bin/python -m benchmarks.sampling_cycle --krs 200
    .venv/bin/python -m benchmarks.sampling_cycle --krs 1000 10000 --backend sqlite postgres

For each size and backend, in a fresh process: a config of N Prometheus Key Results (five per
objective, the PromQL varied over the history's series), a fresh database (a SQLite file, or
the PostgreSQL database `krbench_sampling`, dropped after), `krtracker serve --no-scheduler`
on it, and one real Prometheus over promtool-loaded history. Then, at consecutive instants:

1. warm-up: each Key Result's first sample backfills its period from range queries, as on a
   real first start. Timed, but not the cycle under test: that is the steady state, where
   backfill is done and every Key Result has history and a previous attempt;
2. the cycle under test (`--repeats` times, each at the next instant), between bare loops.
   The cycle calls `SamplingScheduler.run_sample` for every Key Result from
   `[scheduler] max_workers` threads (the scheduler's job pool), so `measure` runs on the
   connector's `per_connector_concurrency` pool as in production, and waits until the
   recorder has stored every sample (`--mode flat` instead calls `sample_key_result`, which
   waits for its own write, from `per_connector_concurrency` threads). The bare loop calls the same
   connector's `measure` for the same queries, instant and concurrency, and does nothing
   else. Ratio = median cycle / median bare loop;
3. the cycle again while another process calls the API (p50/p99 under sampling, next to the
   same client against the idle server).

Peak memory is this process's VmHWM, reset (`/proc/self/clear_refs`) before each measured
cycle, and its whole-run high-water mark (`ru_maxrss`, which includes start-up and warm-up).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Literal, TypeVar

import httpx
import psycopg
from psycopg import sql
from sqlmodel import Session, col, func, select

from app.sampling.measure import sample_key_result
from app.sampling.outcomes import SampleOutcome
from app.sampling.scheduler import SamplingScheduler
from app.store.models import Sample
from app.tracker import Tracker, open_tracker
from benchmarks._server import running_server
from tests.conftest import free_port
from tests.support.prometheus_server import start_prometheus, synthetic_history

INTERVAL_SECONDS = 300
KEY_RESULTS_PER_OBJECTIVE = 5
POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
POSTGRES_DATABASE = "krbench_sampling"
GOAL_RATIO = 1.5
GOAL_PEAK_MB = 250.0
Mode = Literal["scheduler", "flat"]
Timings = dict[str, list[float]]
T = TypeVar("T")


def kr_id(k: int) -> str:
    """Return the id of Key Result number `k`."""
    return f"kr-{k:05d}"


def query_for(k: int) -> tuple[str, str | None, str, str]:
    """Return Key Result k's (PromQL, reduce, direction, TOML target), varied over the series."""
    window = ("5m", "10m", "15m")[k % 3]
    service = f'service="{("payments", "search")[k // 3 % 2]}"'
    queue = f'queue="{("emails", "webhooks")[k // 6 % 2]}"'
    quantile = f"{0.5 + k % 50 / 100:.2f}"
    rate = f"rate(http_request_duration_seconds_{{}}{{{{{service}}}}}[{window}])"
    kinds: list[tuple[str, str | None, str, str]] = [
        (
            f"histogram_quantile({quantile}, sum by (le) ({rate.format('bucket')}))",
            None,
            "decrease",
            '"-30%"',
        ),
        (f"sum({rate.format('sum')}) / sum({rate.format('count')})", None, "decrease", '"-20%"'),
        (rate.format("count"), None, "increase", '"+10%"'),
        (f"avg_over_time(queue_depth{{{queue}}}[{window}])", None, "at_most", "300"),
        # Two series: the Key Result's `reduce` picks the value.
        ("queue_depth", ("max", "sum", "avg", "min")[k // 7 % 4], "at_most", "6000"),
        (
            f'max_over_time(test_coverage_ratio{{repo="payments-api"}}[{window}])',
            None,
            "at_least",
            "0.7",
        ),
        (
            f'increase(deployments_total{{service="payments"}}[{("30m", "1h", "2h")[k % 3]}])',
            None,
            "increase",
            "5",
        ),
    ]
    return kinds[k % len(kinds)]


def write_config(
    path: Path, *, krs: int, database_url: str, prometheus_url: str, first_day: date
) -> None:
    """Write a config of `krs` Prometheus Key Results sampled every five minutes."""
    lines = [
        "[database]",
        f'url = "{database_url}"',
        "",
        "[connectors.prom]",
        'type = "prometheus"',
        f'url = "{prometheus_url}"',
        "",
    ]
    for o in range(-(-krs // KEY_RESULTS_PER_OBJECTIVE)):
        lines += [
            "[[objectives]]",
            f'id = "obj-{o:05d}"',
            f'title = "Objective {o}"',
            f"start = {first_day}",
            f"end = {first_day + timedelta(days=90)}",
            "",
        ]
        first = o * KEY_RESULTS_PER_OBJECTIVE
        for k in range(first, min(krs, first + KEY_RESULTS_PER_OBJECTIVE)):
            query, reduce, direction, target = query_for(k)
            extra = f', reduce = "{reduce}"' if reduce else ""
            lines += [
                "[[objectives.key_results]]",
                f'id = "{kr_id(k)}"',
                f'title = "Key Result {k}"',
                f'direction = "{direction}"',
                f"target = {target}",
                f'every = "{INTERVAL_SECONDS // 60}m"',
                f"source = {{ connector = \"prom\", query = '{query}'{extra} }}",
                "",
            ]
    path.write_text("\n".join(lines), encoding="utf-8")


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    """Yield a fresh database URL: a SQLite file, or `krbench_sampling` dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'krtracker.db'}"
        return
    name = sql.Identifier(POSTGRES_DATABASE)
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        yield f"{POSTGRES_SERVER}/{POSTGRES_DATABASE}"
    finally:
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def memory_mb(pid: int | str, field_name: str) -> float:
    """Return a `Vm*` figure of /proc/PID/status in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"{field_name} not in /proc/{pid}/status")


def reset_peak_memory() -> None:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def api_client(
    base: str, ids: list[str], pause: float, ready: Event, stop: Event, out: Queue[Timings]
) -> None:
    """Call the API until `stop`: one objectives listing per nine Key Result details."""
    rng = random.Random(1)
    timings: Timings = {"objectives": [], "key_result": []}
    with httpx.Client(base_url=base, timeout=120) as client:
        for i in range(10**9):
            if stop.is_set():
                break
            endpoint = "objectives" if i % 10 == 0 else "key_result"
            path = "/api/v1/objectives" if i % 10 == 0 else f"/api/v1/key-results/{rng.choice(ids)}"
            started = time.perf_counter()
            client.get(path).raise_for_status()
            timings[endpoint].append((time.perf_counter() - started) * 1000)
            ready.set()
            time.sleep(pause)
    out.put(timings)


def under_api_load(
    base: str, ids: list[str], *, pause: float, action: Callable[[], T]
) -> tuple[T, Timings]:
    """Run `action` while another process calls the API; return its result and the latencies."""
    # A client thread here would fight the sampler for the GIL and time itself, not the API.
    ctx = multiprocessing.get_context("spawn")
    ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    client = ctx.Process(target=api_client, args=(base, ids, pause, ready, stop, out), daemon=True)
    client.start()
    if not ready.wait(300):
        raise RuntimeError("the API client did not get a first answer within 300 s")
    try:
        value = action()
    finally:
        stop.set()
    timings: Timings = out.get(timeout=300)
    client.join(timeout=30)
    return value, timings


class Clock:
    """The tracker's clock, set just after each instant so the scheduler samples that instant."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        """Return the time the tracker sees."""
        return self.now


@dataclass
class Cycle:
    """One cycle: wall seconds, failed Key Results, backfilled points, memory and machine load."""

    seconds: float
    errors: int
    backfilled: int
    peak_mb: float
    load_before: float
    first_error: str | None = None

    def text(self) -> str:
        """Return the wall time, with the failures if any."""
        return f"{self.seconds:.2f}" + (f" ({self.errors} failed)" if self.errors else "")


def run_cycle(
    tracker: Tracker, sampler: SamplingScheduler, clock: Clock, *, instant: int, mode: Mode
) -> Cycle:
    """Sample every Key Result at `instant` with the scheduler's concurrency."""
    clock.now = instant + 5
    settings = tracker.loaded.config.scheduler

    def attempt(kr: str) -> SampleOutcome | Future[SampleOutcome] | str:
        """Return the outcome (or the scheduler's future of it), or why there is none."""
        try:
            pending = (
                sampler.run_sample(kr)
                if mode == "scheduler"
                else sample_key_result(tracker, kr, scheduled_ts=instant)
            )
        except Exception as exc:  # e.g. SQLite "database is locked": the attempt is lost
            return f"raised {type(exc).__name__}: {str(exc).splitlines()[0]}"
        return "skipped: its connector backs off" if pending is None else pending

    def stored(result: SampleOutcome | Future[SampleOutcome] | str) -> int | str:
        """Return the Key Result's backfilled points, or why it stored no value."""
        if isinstance(result, str):
            return result
        try:
            outcome = result.result() if isinstance(result, Future) else result
        except Exception as exc:
            return f"raised {type(exc).__name__}: {str(exc).splitlines()[0]}"
        return outcome.backfilled if outcome.ok else f"{outcome.error_kind}: {outcome.error}"

    threads = settings.max_workers if mode == "scheduler" else settings.per_connector_concurrency
    load_before = os.getloadavg()[0]
    reset_peak_memory()
    started = time.perf_counter()
    with ThreadPoolExecutor(threads, thread_name_prefix="cycle") as pool:
        # The scheduler's jobs return before their samples are written: the cycle ends when
        # the recorder has stored every one of them.
        results = [stored(r) for r in pool.map(attempt, tracker.entries)]
    seconds = time.perf_counter() - started
    failed = [r for r in results if isinstance(r, str)]
    with Session(tracker.engine) as session:
        count = session.exec(select(func.count()).where(col(Sample.ts) == instant)).one()
    if count != len(results) - len(failed):
        raise AssertionError(f"{count} samples at {instant}, {len(results) - len(failed)} ok")
    return Cycle(
        seconds,
        len(failed),
        sum(r for r in results if isinstance(r, int)),
        memory_mb("self", "VmHWM"),
        load_before,
        failed[0] if failed else None,
    )


def run_bare(tracker: Tracker, *, instant: int) -> float:
    """Issue every Key Result's query through the connector's `measure`; return seconds."""
    connector = tracker.connector("prom")
    at = datetime.fromtimestamp(instant, UTC)
    queries = [tracker.loaded.queries[k] for k in tracker.entries]
    started = time.perf_counter()
    with ThreadPoolExecutor(tracker.loaded.config.scheduler.per_connector_concurrency) as pool:
        list(pool.map(lambda query: connector.measure(query, at), queries))
    return time.perf_counter() - started


@dataclass
class Result:
    """The figures of one (backend, size) run."""

    backend: str
    krs: int
    mode: str
    start_seconds: float = 0.0
    warm_up: Cycle | None = None
    bare: list[float] = field(default_factory=list)
    cycles: list[Cycle] = field(default_factory=list)
    loaded_cycle: Cycle | None = None
    process_peak_mb: float = 0.0
    server_peak_mb: float = 0.0
    api_idle: Timings = field(default_factory=dict)
    api_busy: Timings = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """Return the median cycle's wall time over the median bare loop's."""
        return statistics.median(c.seconds for c in self.cycles) / statistics.median(self.bare)


def run(
    *,
    backend: str,
    krs: int,
    mode: Mode,
    repeats: int,
    prometheus_url: str,
    history_start: int,
    history_end: int,
    idle_seconds: float,
    api_pause: float,
) -> Result:
    """Set up one backend and size, and measure; runs in a fresh process for its own peak RSS."""
    os.environ.pop("KRTRACKER_DATABASE_URL", None)  # the generated file names the database
    last = history_end - history_end % INTERVAL_SECONDS
    # Warm-up, the measured cycles and the cycle under API load, at consecutive instants.
    instants = [last - (repeats + 1 - i) * INTERVAL_SECONDS for i in range(repeats + 2)]
    result = Result(backend, krs, mode)
    with (
        tempfile.TemporaryDirectory(prefix="krbench-sampling-") as tmp,
        database(backend, Path(tmp)) as url,
    ):
        config = Path(tmp) / "krtracker.toml"
        first_day = datetime.fromtimestamp(history_start, UTC).date()
        write_config(
            config, krs=krs, database_url=url, prometheus_url=prometheus_url, first_day=first_day
        )
        clock = Clock(instants[0] + 5)
        started = time.perf_counter()
        tracker = open_tracker(config, clock=clock)
        result.start_seconds = time.perf_counter() - started
        sampler = SamplingScheduler(tracker)
        ids = random.Random(2).sample(list(tracker.entries), min(200, krs))

        def cycle(instant: int) -> Cycle:
            return run_cycle(tracker, sampler, clock, instant=instant, mode=mode)

        try:
            result.warm_up = cycle(instants[0])
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            with running_server(config, port=port, log=Path(tmp) / "serve.log") as pid:
                result.bare.append(run_bare(tracker, instant=instants[1]))
                for instant in instants[1:-1]:
                    result.cycles.append(cycle(instant))
                    result.bare.append(run_bare(tracker, instant=instant))
                _, result.api_idle = under_api_load(
                    base, ids, pause=api_pause, action=lambda: time.sleep(idle_seconds)
                )
                result.loaded_cycle, result.api_busy = under_api_load(
                    base, ids, pause=api_pause, action=lambda: cycle(instants[-1])
                )
                result.server_peak_mb = memory_mb(pid, "VmHWM")
        finally:
            sampler.shutdown()
            tracker.close()
    result.process_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _percentiles(values: list[float]) -> str:
    if not values:
        return "-"
    p99 = statistics.quantiles(values, n=100, method="inclusive")[98] if values[1:] else values[0]
    return f"{statistics.median(values):.0f} / {p99:.0f} / {max(values):.0f} ({len(values)})"


def report(results: list[Result]) -> str:
    """Return the figures as Markdown tables, then any failures."""
    lines = [
        "| backend | KRs | mode | open_tracker s | warm-up s (backfilled points) | bare s "
        "| cycle s | ratio | cycle under API load s | peak RSS in cycle MB | process peak MB "
        "| server peak MB | load avg before each cycle |",
        "|" + "---|" * 13,
    ]
    failures = []
    for r in results:
        warm, loaded = r.warm_up, r.loaded_cycle
        assert warm and loaded
        measured = [*r.cycles, loaded]
        lines.append(
            f"| {r.backend} | {r.krs:,} | {r.mode} | {r.start_seconds:.1f} "
            f"| {warm.text()} ({warm.backfilled:,}) | {' / '.join(f'{b:.2f}' for b in r.bare)} "
            f"| {' / '.join(c.text() for c in r.cycles)} | **{r.ratio:.2f}x** | {loaded.text()} "
            f"| {max(c.peak_mb for c in measured):.0f} | {r.process_peak_mb:.0f} "
            f"| {r.server_peak_mb:.0f} | {' / '.join(f'{c.load_before:.1f}' for c in measured)} |"
        )
        failures += [
            f"- {r.backend} {r.krs:,} {name}: {c.errors} failed, e.g. {c.first_error}"
            for name, c in (("warm-up", warm), *(("cycle", c) for c in measured))
            if c.errors
        ]
    lines += [
        "",
        "API latency ms, p50 / p99 / max (requests), idle -> while sampling:",
        "",
        "| backend | KRs | objectives idle | objectives sampling "
        "| key-result idle | key-result sampling |",
        "|" + "---|" * 6,
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.krs:,} | {_percentiles(r.api_idle['objectives'])} "
            f"| {_percentiles(r.api_busy['objectives'])} "
            f"| {_percentiles(r.api_idle['key_result'])} "
            f"| {_percentiles(r.api_busy['key_result'])} |"
        )
    return "\n".join(lines + ([""] + failures if failures else []))


def main(argv: list[str] | None = None) -> None:
    """Parse the flags, start Prometheus, run each size on each backend, print the tables."""
    parser = argparse.ArgumentParser(description="Time a sampling cycle against a bare loop.")
    parser.add_argument("--krs", type=int, nargs="+", default=[1000])
    parser.add_argument("--backend", nargs="+", choices=["sqlite", "postgres"], default=["sqlite"])
    parser.add_argument("--mode", nargs="+", choices=["scheduler", "flat"], default=["scheduler"])
    parser.add_argument(
        "--repeats", type=int, default=1, help="measured cycles, each followed by a bare loop"
    )
    parser.add_argument("--history-hours", type=float, default=6.0)
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=10.0,
        help="how long to time the API on the idle server",
    )
    parser.add_argument(
        "--api-pause-ms", type=float, default=50.0, help="the API client's pause between requests"
    )
    args = parser.parse_args(argv)
    history = synthetic_history(duration_seconds=int(args.history_hours * 3600))
    results = []
    with tempfile.TemporaryDirectory(prefix="krbench-prometheus-") as tmp:
        prometheus = start_prometheus(Path(tmp), openmetrics_text=history.text)
        try:
            for krs in args.krs:
                for backend in args.backend:
                    for mode in args.mode:
                        # A fresh process per run, so its peak RSS is that run's alone.
                        spawn = multiprocessing.get_context("spawn")
                        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                            result = pool.submit(
                                run,
                                backend=backend,
                                krs=krs,
                                mode=mode,
                                repeats=args.repeats,
                                prometheus_url=prometheus.url,
                                history_start=history.start,
                                history_end=history.end,
                                idle_seconds=args.idle_seconds,
                                api_pause=args.api_pause_ms / 1000,
                            ).result()
                        results.append(result)
                        print(report([result]), flush=True)
        finally:
            prometheus.stop()
    print(f"\nGoals: ratio <= {GOAL_RATIO}x, peak < {GOAL_PEAK_MB:.0f} MB at 10,000 KRs.\n")
    print(report(results))


if __name__ == "__main__":
    main()
