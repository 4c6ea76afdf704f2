"""Time the dashboard's pages on a large store, weigh its first load, and time the chart.

Run from the repository root (a quick check with `--krs 100 --samples 1000` takes a minute):

    .venv/bin/python -m benchmarks.dashboard --krs 1000 --samples 10000 --backend both

For each backend it seeds a fresh database with `benchmarks/_seed.py` (as
`benchmarks.api_latency` does), starts `krtracker serve --no-scheduler`, and from a client in
another process times sequential requests: `/healthz` (the floor), the overview `/` (its
first page: 25 objectives, 125 Key Results) and `/key-results/{id}` for random Key Results,
with the server's CPU time per request from /proc. Then Chromium (Debian's, through
Playwright) loads the overview with an empty cache and sums the bytes transferred
(`transferSize` of the navigation and every resource: gzipped bodies plus headers), and opens
Key Result pages to read the chart's draw time (`performance.measure` around the uPlot
construction in app/web/static/chart.js).
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks._seed import Plan, create_database, drop_database, plan_for, seed
from benchmarks._server import running_server
from benchmarks.api_latency import _free_port, measure

GOALS_MS = {"overview": 50.0, "key_result": 30.0}
GOAL_FIRST_LOAD_KB = 150.0
GOAL_CHART_MS = 100.0
PATHS = {"healthz": "/healthz", "overview": "/", "key_result": "/key-results/{id}"}


@dataclass
class Result:
    """One backend's figures."""

    backend: str
    latencies: dict[str, list[float]] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    first_load: list[tuple[str, int]] = field(default_factory=list)
    chart_ms: list[float] = field(default_factory=list)
    seed_seconds: dict[str, float] = field(default_factory=dict)


def _get(client: httpx.Client, name: str, plan: Plan, rng: random.Random) -> float:
    """Time one request in ms and check the page is complete."""
    kr_id = rng.choice(plan.kr_ids)
    started = time.perf_counter_ns()
    response = client.get(PATHS[name].format(id=kr_id), headers={"Accept": "text/html"})
    elapsed = (time.perf_counter_ns() - started) / 1e6
    response.raise_for_status()
    if name == "overview":
        shown = response.text.count('<article class="kr"')
        assert shown == min(plan.krs, 125), f"the overview shows {shown} Key Results"
    elif name == "key_result":
        assert 'id="chart-data"' in response.text and kr_id in response.text
    return elapsed


def in_browser(
    base_url: str, *, plan: Plan, charts: int
) -> tuple[list[tuple[str, int]], list[float]]:
    """Return the overview's first load (URL, bytes transferred) and chart draw times in ms."""
    from playwright.sync_api import sync_playwright

    rng = random.Random(7)
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(f"{base_url}/", wait_until="load")
        entries = page.evaluate(
            """() => [...performance.getEntriesByType('navigation'),
                      ...performance.getEntriesByType('resource')]
                     .map(e => [e.name, e.transferSize])"""
        )
        first_load = [(str(name), int(size)) for name, size in entries]
        drawn = []
        for _ in range(charts):
            page.goto(f"{base_url}/key-results/{rng.choice(plan.kr_ids)}", wait_until="load")
            page.wait_for_function("performance.getEntriesByName('krtracker-chart').length > 0")
            drawn.append(
                float(page.evaluate("performance.getEntriesByName('krtracker-chart')[0].duration"))
            )
        browser.close()
    return first_load, drawn


def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> Result:
    """Seed one backend, serve it, measure, and drop its database."""
    plan = plan_for(krs=args.krs, samples=args.samples, layout="interleaved")
    result = Result(backend)
    config = workdir / f"{backend}.toml"
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        url = create_database(args.pg_admin_url, args.pg_database)
    try:
        print(f"[{backend}] seeding {plan.krs} Key Results x {plan.samples} samples", flush=True)
        result.seed_seconds = seed(config, plan=plan, url=url)
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        with running_server(config, port=port, log=workdir / f"{backend}-server.log") as pid:
            with ProcessPoolExecutor(max_workers=1) as pool:
                job = pool.submit(
                    measure,
                    base_url,
                    server_pid=pid,
                    plan=plan,
                    requests=args.requests,
                    warmup=args.warmup,
                    names=tuple(PATHS),
                    get=_get,
                )
                result.latencies, result.cpu_ms = job.result()
            result.first_load, result.chart_ms = in_browser(base_url, plan=plan, charts=args.charts)
    finally:
        if backend == "postgres" and not args.keep:
            drop_database(args.pg_admin_url, args.pg_database)
    return result


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def report(results: list[Result], args: argparse.Namespace, load: tuple[float, float]) -> str:
    """Render the results and the reproducing command as Markdown."""
    lines = [
        f"{args.krs} Key Results x {args.samples} samples; {args.requests} sequential requests "
        f"per page after {args.warmup} warm-up; {os.cpu_count()} CPUs, 1-minute load average "
        f"{load[0]:.2f} before, {load[1]:.2f} after.",
        "",
        "| backend | page | p50 ms | p99 ms | max ms | server CPU ms/req | goal p99 ms: met |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for name, values in r.latencies.items():
            goal = GOALS_MS.get(name)
            p99 = _p99(values)
            verdict = (
                "floor"
                if goal is None
                else f"≤ {goal:.0f}: " + ("yes" if p99 <= goal else "**no**")
            )
            lines.append(
                f"| {r.backend} | `GET {PATHS[name]}` | {statistics.median(values):.1f} "
                f"| {p99:.1f} | {max(values):.1f} | {r.cpu_ms[name]:.1f} | {verdict} |"
            )
    lines += [
        "",
        "| backend | first load of `/`, kB transferred (gzip) | goal | chart draw ms "
        "p50 / max | goal |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        total = sum(size for _, size in r.first_load) / 1000
        met = "yes" if total <= GOAL_FIRST_LOAD_KB else "**no**"
        chart = (
            f"{statistics.median(r.chart_ms):.1f} / {max(r.chart_ms):.1f}" if r.chart_ms else "–"
        )
        chart_met = "yes" if r.chart_ms and max(r.chart_ms) <= GOAL_CHART_MS else "**no**"
        lines.append(
            f"| {r.backend} | {total:.1f} | ≤ {GOAL_FIRST_LOAD_KB:.0f}: {met} "
            f"| {chart} | ≤ {GOAL_CHART_MS:.0f}: {chart_met} |"
        )
    if results:
        lines += [
            "",
            "First load, per resource (bytes transferred, " + results[0].backend + "):",
            "",
        ]
        lines += [
            f"- `{name.split('//', 1)[-1].split('/', 1)[-1] or '/'}`: {size:,}"
            for name, size in results[0].first_load
        ]
    command = shlex.join(["python", "-m", "benchmarks.dashboard", *sys.argv[1:]])
    return "\n".join([*lines, "", f"Command: `{command}`"])


def main() -> None:
    """Parse the flags, run each backend, print the Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--krs", type=int, default=1000, help="Key Results (five per objective)")
    parser.add_argument("--samples", type=int, default=10_000, help="samples per Key Result")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--requests", type=int, default=500, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests first")
    parser.add_argument("--charts", type=int, default=20, help="Key Result charts drawn")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--pg-database", default="krbench_dashboard")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and database")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    workdir = Path(tempfile.mkdtemp(prefix="krbench-dashboard-"))
    load_before = os.getloadavg()[0]
    try:
        results = [run_backend(backend, args, workdir) for backend in backends]
    except BaseException:
        args.keep = True
        raise
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(report(results, args, (load_before, os.getloadavg()[0])))


if __name__ == "__main__":
    main()
