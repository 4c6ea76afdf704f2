"""Time the API's objectives listing and downsampled samples query on a large store.

Run from the repository root (a quick check with `--krs 100 --samples 1000` takes seconds):

    .venv/bin/python -m benchmarks.api_latency --krs 1000 --samples 10000 --backend both

For each backend it seeds a fresh database (a SQLite file in a temporary directory, or a
PostgreSQL database created for the run and dropped after it), starts the real server
(`krtracker serve --no-scheduler`) as a subprocess, and times sequential requests from a
client in another process over one kept-alive connection: `/healthz` (the floor of the
HTTP stack), `GET /api/v1/objectives`, and `GET /api/v1/key-results/{id}/samples?max_points=500`
for random Key Results over their full range. The server's CPU time per request is read
from /proc as well, because on a shared machine it is steadier than wall-clock latency.
If `wrk` is installed it then loads both endpoints with four connections. It prints a
Markdown table with p50/p99/max and the server's peak resident memory (`VmHWM`).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks._seed import Plan, create_database, drop_database, plan_for, seed
from benchmarks._server import running_server

MAX_POINTS = 500
GOALS_MS = {"objectives": 50.0, "samples": 100.0}
GOAL_PEAK_MB = 300.0
PATHS = {
    "healthz": "/healthz",
    "objectives": "/api/v1/objectives",
    "samples": f"/api/v1/key-results/{{id}}/samples?max_points={MAX_POINTS}",
}


@dataclass
class Result:
    """One backend's figures: latencies and CPU in ms, memory in MB, seeding in seconds."""

    backend: str
    latencies: dict[str, list[float]] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    wrk: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    rss_start_mb: float = 0.0
    peak_mb: float = 0.0
    seed_seconds: dict[str, float] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _memory_mb(pid: int, name: str) -> float:
    """Return a `Vm*` figure of /proc/PID/status in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"{name} not in /proc/{pid}/status")


def _cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU time a process has used (fields 14 and 15 of its stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _get_checked(client: httpx.Client, name: str, plan: Plan, rng: random.Random) -> float:
    """Time one request to endpoint `name` in ms and check that its answer is complete."""
    kr_id = rng.choice(plan.kr_ids)
    started = time.perf_counter_ns()
    response = client.get(PATHS[name].format(id=kr_id))
    elapsed = (time.perf_counter_ns() - started) / 1e6
    response.raise_for_status()
    if name == "objectives":
        listed = sum(len(o["key_results"]) for o in response.json())
        assert listed == plan.krs, f"objectives list {listed} Key Results, not {plan.krs}"
    elif name == "samples":
        points = response.json()["points"]
        assert len(points) <= MAX_POINTS, f"{kr_id}: {len(points)} points > max_points"
        counted = sum(p["count"] for p in points)
        assert counted == plan.samples, f"{kr_id}: buckets hold {counted}, not {plan.samples}"
    return elapsed


Getter = Callable[[httpx.Client, str, Plan, random.Random], float]


def measure(
    base_url: str,
    *,
    server_pid: int,
    plan: Plan,
    requests: int,
    warmup: int,
    names: Sequence[str] = tuple(PATHS),
    get: Getter | None = None,
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Time each endpoint sequentially after a warm-up; return latencies and server CPU ms/req.

    `names` and `get` let another benchmark (the dashboard's pages) time its own paths.
    """
    get = get or _get_checked
    rng = random.Random(42)
    latencies: dict[str, list[float]] = {}
    cpu_ms: dict[str, float] = {}
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for name in names:
            for _ in range(warmup):
                get(client, name, plan, rng)
            cpu_before = _cpu_seconds(server_pid)
            latencies[name] = [get(client, name, plan, rng) for _ in range(requests)]
            cpu_ms[name] = (_cpu_seconds(server_pid) - cpu_before) * 1000 / requests
    return latencies, cpu_ms


def run_wrk(
    base_url: str, *, plan: Plan, seconds: int, workdir: Path
) -> dict[str, tuple[float, float, float]]:
    """Load each endpoint with wrk over 4 connections; return (requests/s, p50 ms, p99 ms) each."""
    script = workdir / "random_kr.lua"
    samples_path = PATHS["samples"].replace("{id}", "' .. id .. '")
    script.write_text(
        "request = function()\n"
        f"  local id = string.format('kr-%05d', math.random(0, {plan.krs - 1}))\n"
        f"  return wrk.format('GET', '{samples_path}')\n"
        "end\n"
    )
    figures = {}
    targets = {
        "objectives": [base_url + PATHS["objectives"]],
        "samples": ["-s", str(script), base_url],
    }
    for name, target in targets.items():
        command = ["wrk", "-t1", "-c4", f"-d{seconds}s", "--latency", *target]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        if "Non-2xx" in out or "Socket errors" in out:
            raise RuntimeError(f"wrk saw failed requests on {name}:\n{out}")
        rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
        quantiles = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+(?:us|ms|s))$", out, re.MULTILINE))
        if rate is None or set(quantiles) != {"50", "99"}:
            raise RuntimeError(f"cannot read wrk's output:\n{out}")
        figures[name] = (float(rate.group(1)), _wrk_ms(quantiles["50"]), _wrk_ms(quantiles["99"]))
    return figures


def _wrk_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> Result:
    """Seed one backend, start the server on it, measure, and drop its database."""
    plan = plan_for(krs=args.krs, samples=args.samples, layout=args.layout)
    result = Result(backend)
    config = workdir / f"{backend}.toml"
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        url = create_database(args.pg_admin_url, args.pg_database)
    try:
        print(f"[{backend}] seeding {plan.krs} Key Results x {plan.samples} samples", flush=True)
        result.seed_seconds = seed(config, plan=plan, url=url)
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in result.seed_seconds.items())
        print(f"[{backend}] seeded: {steps}", flush=True)
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        with running_server(config, port=port, log=workdir / f"{backend}-server.log") as pid:
            result.rss_start_mb = _memory_mb(pid, "VmRSS")
            with ProcessPoolExecutor(max_workers=1) as pool:
                job = pool.submit(
                    measure,
                    base_url,
                    server_pid=pid,
                    plan=plan,
                    requests=args.requests,
                    warmup=args.warmup,
                )
                result.latencies, result.cpu_ms = job.result()
            if args.wrk_seconds and shutil.which("wrk"):
                result.wrk = run_wrk(base_url, plan=plan, seconds=args.wrk_seconds, workdir=workdir)
            result.peak_mb = _memory_mb(pid, "VmHWM")
    finally:
        if backend == "postgres" and not args.keep:
            drop_database(args.pg_admin_url, args.pg_database)
    return result


def _latency_row(result: Result, name: str) -> str:
    values = result.latencies[name]
    p99 = statistics.quantiles(values, n=100, method="inclusive")[98]
    goal = GOALS_MS.get(name)
    verdict = "floor" if goal is None else f"< {goal:.0f}: " + ("yes" if p99 < goal else "**no**")
    return (
        f"| {result.backend} | `GET {PATHS[name]}` | {statistics.median(values):.1f} "
        f"| {p99:.1f} | {max(values):.1f} | {result.cpu_ms[name]:.1f} | {verdict} |"
    )


def report(results: list[Result], args: argparse.Namespace, load: tuple[float, float]) -> str:
    """Render the results and the reproducing command as Markdown."""
    lines = [
        f"{args.krs} Key Results x {args.samples} samples ({args.layout} layout"
        "); "
        f"{args.requests} sequential requests per endpoint after {args.warmup} warm-up; "
        f"{os.cpu_count()} CPUs, 1-minute load average {load[0]:.2f} before, {load[1]:.2f} after.",
        "",
        "| backend | endpoint | p50 ms | p99 ms | max ms | server CPU ms/req | goal p99 ms: met |",
        "|---|---|---|---|---|---|---|",
        *[_latency_row(r, name) for r in results for name in r.latencies],
    ]
    if any(r.wrk for r in results):
        lines += [
            "",
            f"wrk, 1 thread, 4 connections, {args.wrk_seconds} s per endpoint:",
            "",
            "| backend | endpoint | requests/s | p50 ms | p99 ms |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.backend} | `GET {PATHS[name]}` | {rate:.0f} | {p50:.1f} | {p99:.1f} |"
            for r in results
            for name, (rate, p50, p99) in r.wrk.items()
        ]
    header = "| backend | RSS after start MB | peak RSS (VmHWM) MB | goal MB: met | seeding s |"
    lines += ["", header, "|---|---|---|---|---|"]
    for r in results:
        met = "yes" if r.peak_mb < GOAL_PEAK_MB else "**no**"
        seeding = ", ".join(f"{k} {v:.0f}" for k, v in r.seed_seconds.items())
        lines.append(
            f"| {r.backend} | {r.rss_start_mb:.0f} | {r.peak_mb:.0f} "
            f"| < {GOAL_PEAK_MB:.0f}: {met} | {seeding} |"
        )
    command = shlex.join(["python", "-m", "benchmarks.api_latency", *sys.argv[1:]])
    return "\n".join([*lines, "", f"Command: `{command}`"])


def main() -> None:
    """Parse the flags, run each backend, print the Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--krs", type=int, default=1000, help="Key Results (five per objective)")
    parser.add_argument("--samples", type=int, default=10_000, help="samples per Key Result")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--requests", type=int, default=1000, help="timed requests per endpoint")
    parser.add_argument("--warmup", type=int, default=100, help="untimed requests first")
    parser.add_argument("--wrk-seconds", type=int, default=10, help="wrk per endpoint; 0 skips")
    parser.add_argument(
        "--layout",
        choices=["interleaved", "clustered"],
        default="interleaved",
        help="row order: as live sampling writes (interleaved) or per Key Result",
    )
    parser.add_argument(
        "--pg-admin-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="a database to connect to while creating and dropping the bench one",
    )
    parser.add_argument("--pg-database", default="krbench", help="the database created for the run")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and database")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    workdir = Path(tempfile.mkdtemp(prefix="krbench-"))
    load_before = os.getloadavg()[0]
    try:
        results = [run_backend(backend, args, workdir) for backend in backends]
    except BaseException:
        args.keep = True  # the server logs there say why
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
