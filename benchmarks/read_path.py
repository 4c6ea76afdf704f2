"""Time the cached read path (listings, one Key Result, 304s) against `/healthz`, idle and sampling.

Run from the repository root (a quick check: `--krs 200 --wrk-seconds 5 --large-krs 0`):

    .venv/bin/python -m benchmarks.read_path --krs 1000 --large-krs 10000 --backend sqlite

For each size it seeds a fresh database with `benchmarks._seed` (manual Key Results, five per
objective), starts the real server (`krtracker serve --no-scheduler`, `benchmarks._server`)
and, from a client in another process over one kept-alive connection, times sequential
requests to `/healthz` (the floor: the HTTP stack and nothing else) and to each cached path,
with the server's CPU per request from /proc (every Key Result is asked for once before
`key-result` is timed, so its figures are those of the cached path). Then wrk with 16
connections loads `/healthz`, the listing and random Key Results. Then the same again
while a sampler process stores sampling cycles back to back through the recorder
(`SampleRecorder.submit`, the writer thread and its batches, as the scheduler does;
measurements are spread over `--cycle-seconds` as a real cycle's queries finish, about
1.5 s for 1,000 Prometheus Key Results in docs/benchmarks.md section 2), so the data
version changes with every batch and the cache is rebuilt as in production. At
`--large-krs` only a page of 100 objectives and one Key Result are timed, with the floor.
The cost of reading the data version (the one query a cached request runs) is timed in
this process on the seeded database. It prints Markdown tables.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.synchronize import Event
from pathlib import Path

import httpx

from app.config.loading import database_url, load_config
from app.sampling.outcomes import SampleToStore
from app.store.db import make_engine
from app.store.versions import read_data_version
from app.tracker import Tracker
from benchmarks._seed import (
    INTERVAL_SECONDS,
    Plan,
    create_database,
    drop_database,
    plan_for,
    seed,
    value_at,
)
from benchmarks._server import running_server
from benchmarks.api_latency import _cpu_seconds, _free_port, _memory_mb, _wrk_ms
from connectors.base import Measurement

CONNECTIONS = 16
GOALS = {  # endpoint: (p99 ms at most, requests/s at 16 connections at least)
    "objectives": (30.0, 500.0),
    "key-result": (15.0, None),
    "objectives?limit=100": (50.0, None),
}
PATHS = {
    "healthz": "/healthz",
    "objectives": "/api/v1/objectives",
    "objectives 304": "/api/v1/objectives",
    "objectives?limit=100": "/api/v1/objectives?limit=100",
    "key-results": "/api/v1/key-results",
    "key-result": "/api/v1/key-results/{id}",
}
SMALL = (
    "healthz",
    "objectives",
    "objectives 304",
    "objectives?limit=100",
    "key-results",
    "key-result",
)
LARGE = ("healthz", "objectives?limit=100", "key-result")
Figures = dict[str, list[float]]


@dataclass
class Run:
    """One size's figures: sequential latencies (ms), server CPU ms/req, wrk figures."""

    backend: str
    krs: int
    phase: str
    latencies: Figures = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    wrk: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    note: str = ""


def _get(
    client: httpx.Client, name: str, plan: Plan, rng: random.Random, tags: dict[str, str]
) -> float:
    """Time one request in ms and check its answer (a full listing, a page, a 304)."""
    kr_id = rng.choice(plan.kr_ids)
    headers = {"If-None-Match": tags["objectives"]} if name == "objectives 304" else {}
    started = time.perf_counter_ns()
    response = client.get(PATHS[name].format(id=kr_id), headers=headers)
    elapsed = (time.perf_counter_ns() - started) / 1e6
    if name == "objectives 304":
        # Under sampling the tag goes stale at each batch: a 200 with the new one is right.
        assert response.status_code in (200, 304), response.status_code
        tags["304s"] = tags.get("304s", "") + ("1" if response.status_code == 304 else "")
        tags["objectives"] = response.headers["ETag"]
        return elapsed
    response.raise_for_status()
    if name == "objectives":
        listed = sum(len(o["key_results"]) for o in response.json())
        assert listed == plan.krs, f"objectives list {listed} Key Results, not {plan.krs}"
    elif name == "objectives?limit=100":
        assert len(response.json()) == min(100, -(-plan.krs // 5))
    elif name == "key-result":
        assert response.json()["id"] == kr_id
    return elapsed


def measure(
    base_url: str, *, pid: int, plan: Plan, names: tuple[str, ...], requests: int, warmup: int
) -> tuple[Figures, dict[str, float], int]:
    """Time each endpoint sequentially after a warm-up; return ms, server CPU ms/req, 304s."""
    rng = random.Random(42)
    latencies: Figures = {}
    cpu_ms: dict[str, float] = {}
    not_modified = 0
    with httpx.Client(base_url=base_url, timeout=60) as client:
        tags = {"objectives": client.get(PATHS["objectives"]).headers["ETag"]}
        for name in names:
            for _ in range(warmup):
                _get(client, name, plan, rng, tags)
            if name == "key-result":  # each Key Result once: time the cached path, as a
                for kr_id in plan.kr_ids:  # dashboard polling them would meet it
                    client.get(PATHS[name].format(id=kr_id)).raise_for_status()
            tags["304s"] = ""
            before = _cpu_seconds(pid)
            latencies[name] = [_get(client, name, plan, rng, tags) for _ in range(requests)]
            cpu_ms[name] = (_cpu_seconds(pid) - before) * 1000 / requests
            if name == "objectives 304":
                not_modified = len(tags["304s"])
    return latencies, cpu_ms, not_modified


def run_wrk(
    url: str, *, seconds: int, workdir: Path, script: str | None = None
) -> tuple[float, float, float]:
    """Load `url` with wrk (2 threads, 16 connections); return requests/s, p50 ms, p99 ms."""
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    if script is not None:
        path = workdir / "random_kr.lua"
        path.write_text(script)
        command += ["-s", str(path)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw failed requests on {url}:\n{out}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    quantiles = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+(?:us|ms|s))$", out, re.MULTILINE))
    if rate is None or set(quantiles) != {"50", "99"}:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    return float(rate.group(1)), _wrk_ms(quantiles["50"]), _wrk_ms(quantiles["99"])


def sample_cycles(
    config: Path,
    plan: Plan,
    cycle_seconds: float,
    stop: Event,
    done: multiprocessing.Queue[float],
) -> None:
    """Store one sample per Key Result per cycle through the recorder until `stop` is set.

    Each cycle is the next 15-minute instant (the clock follows it, so evaluation takes the
    in-memory path as in production); its samples are handed to the recorder in chunks
    spread over `cycle_seconds`, as a real cycle's measurements finish.
    """
    loaded = load_config(config)
    instant = {"ts": plan.end_ts}
    tracker = Tracker(
        loaded, make_engine(database_url(loaded.config)), clock=lambda: instant["ts"] + 1
    )
    chunk = 20
    i = plan.samples
    try:
        while not stop.is_set():
            started = time.perf_counter()
            instant["ts"] += INTERVAL_SECONDS
            at = datetime.fromtimestamp(instant["ts"], UTC)
            futures = []
            pause = cycle_seconds / max(1, plan.krs / chunk)
            for first in range(0, plan.krs, chunk):
                for k in range(first, min(plan.krs, first + chunk)):
                    value = value_at(k, i, plan.samples)
                    item = SampleToStore(
                        plan.kr_ids[k],
                        instant["ts"],
                        "people",
                        measurement=Measurement(value=value, at=at),
                    )
                    futures.append(tracker.recorder.submit(item))
                time.sleep(pause)
            for future in futures:
                future.result()
            i += 1
            done.put(time.perf_counter() - started)
    finally:
        tracker.close()


def version_read_us(url: str, reads: int = 5000) -> tuple[float, float]:
    """Time `read_data_version` on a pooled connection, as a cached request does; p50, p99 µs."""
    engine = make_engine(url)
    timings = []
    for _ in range(reads):
        started = time.perf_counter_ns()
        with engine.connect() as connection:
            read_data_version(connection)
        timings.append((time.perf_counter_ns() - started) / 1000)
    engine.dispose()
    return statistics.median(timings), statistics.quantiles(timings, n=100)[98]


def measure_server(
    base_url: str,
    pid: int,
    plan: Plan,
    args: argparse.Namespace,
    workdir: Path,
    *,
    backend: str,
    phase: str,
    names: tuple[str, ...],
    wrk: bool,
) -> Run:
    """Time sequential requests from another process, then wrk; return the figures."""
    run = Run(backend, plan.krs, phase)
    with ProcessPoolExecutor(max_workers=1) as pool:
        job = pool.submit(
            measure,
            base_url,
            pid=pid,
            plan=plan,
            names=names,
            requests=args.requests,
            warmup=args.warmup,
        )
        run.latencies, run.cpu_ms, not_modified = job.result()
    if "objectives 304" in names:
        run.note = f"{not_modified} of {args.requests} revalidations answered 304"
    if wrk and args.wrk_seconds and shutil.which("wrk"):
        for name in ("healthz", "objectives"):
            run.wrk[name] = run_wrk(
                base_url + PATHS[name], seconds=args.wrk_seconds, workdir=workdir
            )
        script = (
            "request = function()\n"
            f"  local id = string.format('kr-%05d', math.random(0, {plan.krs - 1}))\n"
            "  return wrk.format('GET', '/api/v1/key-results/' .. id)\n"
            "end\n"
        )
        run.wrk["key-result"] = run_wrk(
            base_url, seconds=args.wrk_seconds, workdir=workdir, script=script
        )
    return run


def run_size(
    backend: str, krs: int, args: argparse.Namespace, workdir: Path, *, large: bool
) -> list[Run]:
    """Seed one size, start the server, measure idle (and while sampling), drop the database."""
    samples = args.large_samples if large else args.samples
    plan = plan_for(krs=krs, samples=samples, layout="interleaved")
    config = workdir / f"{backend}-{krs}.toml"
    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{krs}.db'}"
    else:
        url = create_database(args.pg_admin_url, args.pg_database)
    runs: list[Run] = []
    try:
        print(f"[{backend} {krs}] seeding", flush=True)
        seeded = seed(config, plan=plan, url=url)
        print(f"[{backend} {krs}] seeded: {seeded}", flush=True)
        p50, p99 = version_read_us(url)
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        with running_server(config, port=port, log=workdir / f"{backend}-{krs}.log") as pid:
            names = LARGE if large else SMALL
            idle = measure_server(
                base_url,
                pid,
                plan,
                args,
                workdir,
                backend=backend,
                phase="idle",
                names=names,
                wrk=not large,
            )
            idle.note += f"; data version read p50 {p50:.0f} µs, p99 {p99:.0f} µs"
            runs.append(idle)
            print(f"[{backend} {krs}] idle measured", flush=True)
            if not large and args.cycle_seconds > 0:
                runs.append(_while_sampling(base_url, pid, plan, args, workdir, backend, config))
            runs[0].note += f"; server peak RSS {_memory_mb(pid, 'VmHWM'):.0f} MB"
    finally:
        if backend == "postgres":
            drop_database(args.pg_admin_url, args.pg_database)
    return runs


def _while_sampling(
    base_url: str,
    pid: int,
    plan: Plan,
    args: argparse.Namespace,
    workdir: Path,
    backend: str,
    config: Path,
) -> Run:
    """Measure again while a sampler process stores cycles back to back."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    done: multiprocessing.Queue[float] = context.Queue()
    sampler = context.Process(
        target=sample_cycles, args=(config, plan, args.cycle_seconds, stop, done)
    )
    sampler.start()
    try:
        done.get(timeout=600)  # the first cycle loads every Key Result's state: not measured
        run = measure_server(
            base_url,
            pid,
            plan,
            args,
            workdir,
            backend=backend,
            phase="sampling",
            names=SMALL,
            wrk=True,
        )
    finally:
        stop.set()
        sampler.join(timeout=120)
    cycles = []
    while not done.empty():
        cycles.append(done.get())
    if cycles:
        run.note += (
            f"; {len(cycles) + 1} cycles of {plan.krs} samples, median "
            f"{statistics.median(cycles):.2f} s each"
        )
    return run


def _row(run: Run, name: str, floor: Callable[[str], float]) -> str:
    values = run.latencies[name]
    p99 = statistics.quantiles(values, n=100, method="inclusive")[98]
    goal = GOALS.get(name, (None, None))[0]
    verdict = (
        "floor"
        if name == "healthz"
        else ("" if goal is None else f"≤ {goal:.0f}: " + ("yes" if p99 <= goal else "**no**"))
    )
    return (
        f"| {run.backend} | {run.krs:,} | {run.phase} | `{name}` | {statistics.median(values):.2f} "
        f"| {p99:.2f} | {max(values):.1f} | {run.cpu_ms[name]:.2f} "
        f"| {p99 / floor(run.phase):.1f}× | {verdict} |"
    )


def report(runs: list[Run], args: argparse.Namespace, load: tuple[float, float]) -> str:
    """Render the runs and the reproducing command as Markdown."""
    lines = [
        f"{args.requests} sequential requests per endpoint after {args.warmup} warm-up, one "
        f"kept-alive connection; {os.cpu_count()} CPUs, 1-minute load average {load[0]:.2f} "
        f"before, {load[1]:.2f} after.",
        "",
        "| backend | KRs | phase | endpoint | p50 ms | p99 ms | max ms | server CPU ms/req "
        "| p99 / floor p99 | goal p99 ms: met |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:

        def floor(_: str, run: Run = run) -> float:
            return statistics.quantiles(run.latencies["healthz"], n=100, method="inclusive")[98]

        lines += [_row(run, name, floor) for name in run.latencies]
    if any(run.wrk for run in runs):
        lines += [
            "",
            f"wrk, 2 threads, {CONNECTIONS} connections, {args.wrk_seconds} s each:",
            "",
            "| backend | KRs | phase | endpoint | requests/s | p50 ms | p99 ms | goal: met |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for run in runs:
            for name, (rate, p50, p99) in run.wrk.items():
                goal = GOALS.get(name, (None, None))[1]
                verdict = (
                    "floor"
                    if name == "healthz"
                    else (
                        ""
                        if goal is None
                        else f"≥ {goal:.0f}/s: " + ("yes" if rate >= goal else "**no**")
                    )
                )
                lines.append(
                    f"| {run.backend} | {run.krs:,} | {run.phase} | `{name}` | {rate:.0f} "
                    f"| {p50:.2f} | {p99:.2f} | {verdict} |"
                )
    lines += [
        "",
        *[f"- {run.backend} {run.krs:,} {run.phase}: {run.note}" for run in runs if run.note],
    ]
    command = shlex.join(["python", "-m", "benchmarks.read_path", *sys.argv[1:]])
    return "\n".join([*lines, "", f"Command: `{command}`"])


def main() -> None:
    """Parse the flags, run each size, print the Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--krs", type=int, default=1000, help="Key Results (five per objective)")
    parser.add_argument("--large-krs", type=int, default=10_000, help="paged size; 0 skips")
    parser.add_argument("--samples", type=int, default=1000, help="samples per Key Result")
    parser.add_argument(
        "--large-samples", type=int, default=100, help="samples per Key Result at --large-krs"
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=1000, help="timed requests per endpoint")
    parser.add_argument("--warmup", type=int, default=100, help="untimed requests first")
    parser.add_argument("--wrk-seconds", type=int, default=30, help="wrk per endpoint; 0 skips")
    parser.add_argument(
        "--cycle-seconds",
        type=float,
        default=1.5,
        help="how long one sampling cycle spreads its samples; 0 skips sampling",
    )
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--pg-database", default="krbench_read")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="krbench-read-"))
    load_before = os.getloadavg()[0]
    runs: list[Run] = []
    try:
        runs += run_size(args.backend, args.krs, args, workdir, large=False)
        if args.large_krs:
            runs += run_size(args.backend, args.large_krs, args, workdir, large=True)
    except BaseException:
        print(f"kept {workdir}")
        raise
    shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(report(runs, args, (load_before, os.getloadavg()[0])))


if __name__ == "__main__":
    main()
