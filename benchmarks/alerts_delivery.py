"""Time webhook delivery when 1,000 Key Results regress at once, against a bare HTTP baseline.

Run from the repository root:

    python benchmarks/alerts_delivery.py --krs 1000 --concurrency 8

Setup: a config of N manual Key Results (`for_samples = 1`, a regression is a drop of more
than 5% from the period's best), one signed `generic` webhook to a local receiver running in
its own process (it verifies every Standard Webhooks signature, so both runs pay the same
receiver cost), and a SQLite file (`--database-url` for PostgreSQL). Every KR first gets
a value of 100 (no event); then each gets 80, which raises `kr.regressed` through the real
path (sample → evaluation → rules → outbox, one transaction per KR).

- `live`: the delivery worker runs in the background (finding new rows by polling) while
  the N regressions are written; it reports the time from the first sample to the last
  acknowledgement and p50/p99 from each sample's write (wall clock, ms) to its
  `delivered_at_ms`. `live-notify` is the same with `worker.notify()` after each write.
- `drain`: the N regressions are written with the worker stopped, then one worker drains
  the outbox: time until the last acknowledgement.
- `baseline`: the same N signed requests (same bodies and headers) POSTed straight to the
  receiver by a plain `httpx.Client` on a thread pool of the same concurrency.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shlex
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import httpx
from sqlmodel import Session, col, func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.alerts.delivery import DeliveryWorker  # noqa: E402
from app.alerts.formats import render  # noqa: E402
from app.sampling.measure import store_manual_value  # noqa: E402
from app.store.models import Delivery  # noqa: E402
from app.tracker import Tracker, open_tracker  # noqa: E402

SECRET = "whsec_" + "a2tydHJhY2tlci1iZW5jaG1hcmstc2lnbmluZy1rZXk="


def _serve(port: int, verified: Synchronized[int], ready: Synchronized[int]) -> None:
    """Run the receiver: verify each signature, answer 204 (400 if it does not verify)."""
    from standardwebhooks import Webhook

    hook = Webhook(SECRET)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["content-length"]))
            try:
                hook.verify(body, dict(self.headers.items()))
                status = 204
                with verified.get_lock():
                    verified.value += 1
            except Exception:
                status = 400
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ready.value = 1
    server.serve_forever()


def config_text(*, krs: int, url: str, database_url: str) -> str:
    """Return a config with `krs` manual Key Results in objectives of five."""
    parts = [
        f"""[database]
url = "{database_url}"

[alerts]
for_samples = 1
regression_threshold = "5%"
allow_private_targets = ["127.0.0.1/32"]

[[webhooks]]
name = "bench"
url = "{url}"
secret = "{SECRET}"
events = ["kr.regressed"]

[connectors.people]
type = "manual"
"""
    ]
    for o in range(krs // 5):
        parts.append(
            f'\n[[objectives]]\nid = "o{o}"\ntitle = "Objective {o}"\nteam = "t{o % 7}"\n'
            "start = 2020-01-01\nend = 2040-12-31\n"
        )
        for k in range(5):
            parts.append(
                f'\n[[objectives.key_results]]\nid = "kr{o * 5 + k}"\ntitle = "KR {o * 5 + k}"\n'
                'direction = "increase"\nbaseline = 0\ntarget = 200\n'
                'source = { connector = "people" }\n'
            )
    return "".join(parts)


def _open(workdir: Path, name: str, *, krs: int, url: str, database_url: str | None) -> Tracker:
    db = database_url or f"sqlite:///{workdir / f'{name}.db'}"
    path = workdir / f"{name}.toml"
    path.write_text(config_text(krs=krs, url=url, database_url=db))
    os.environ.pop("KRTRACKER_DATABASE_URL", None)
    return open_tracker(path)


def _worker(tracker: Tracker, concurrency: int) -> DeliveryWorker:
    cfg = tracker.loaded.config
    return DeliveryWorker(
        tracker.engine, webhooks=cfg.webhooks, alerts=cfg.alerts, concurrency=concurrency
    )


def _regress(
    tracker: Tracker, ids: list[str], worker: DeliveryWorker | None = None
) -> dict[str, float]:
    """Write a regressing value per KR (waking `worker` after each); return write starts in ms."""
    written: dict[str, float] = {}
    for kr in ids:
        written[kr] = time.time() * 1000
        store_manual_value(tracker, kr_id=kr, ts=int(time.time()), value=80.0)
        if worker is not None:
            worker.notify()
    return written


def _seed(tracker: Tracker, ids: list[str]) -> None:
    start = int(time.time()) - 3600
    for kr in ids:
        store_manual_value(tracker, kr_id=kr, ts=start, value=100.0)


def _delivered(tracker: Tracker) -> list[Delivery]:
    with Session(tracker.engine) as session:
        return list(session.exec(select(Delivery).where(col(Delivery.state) == "delivered")).all())


def _wait_all(tracker: Tracker, n: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(tracker.engine) as session:
            done = session.exec(
                select(func.count()).where(col(Delivery.state) == "delivered")
            ).one()
        if done >= n:
            return
        time.sleep(0.05)
    raise RuntimeError(f"only {done} of {n} deliveries acknowledged within {timeout} s")


def _pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def run_live(
    tracker: Tracker, ids: list[str], concurrency: int, *, notify: bool
) -> dict[str, float]:
    """Regress every KR while a background worker delivers; return the figures."""
    _seed(tracker, ids)
    worker = _worker(tracker, concurrency)
    worker.start()
    written = _regress(tracker, ids, worker if notify else None)
    wrote_all = time.time() * 1000
    _wait_all(tracker, len(ids))
    worker.stop()
    rows = _delivered(tracker)
    latency = [d.delivered_at_ms - written[d.key_result_id] for d in rows if d.delivered_at_ms]
    first = min(written.values())
    return {
        "write_s": (wrote_all - first) / 1000,
        "total_s": (max(d.delivered_at_ms or 0 for d in rows) - first) / 1000,
        "p50_ms": statistics.median(latency),
        "p99_ms": _pct(latency, 99),
        "max_ms": max(latency),
    }


def run_drain(
    tracker: Tracker, ids: list[str], concurrency: int
) -> tuple[dict[str, float], list[Delivery]]:
    """Queue every regression first, then time one worker emptying the outbox."""
    _seed(tracker, ids)
    _regress(tracker, ids)
    worker = _worker(tracker, concurrency)
    started = time.time() * 1000
    worker.start()
    _wait_all(tracker, len(ids))
    worker.stop()
    rows = _delivered(tracker)
    return {"total_s": (max(d.delivered_at_ms or 0 for d in rows) - started) / 1000}, rows


def run_baseline(
    tracker: Tracker, rows: list[Delivery], concurrency: int, url: str
) -> dict[str, float]:
    """POST the same signed requests with a plain httpx loop of the same concurrency."""
    webhook = tracker.loaded.config.webhooks[0]
    requests = [
        render(webhook, event_id=d.event_id, payload=d.payload, sent_at=datetime.now(UTC))
        for d in rows
    ]
    latencies: list[float] = []
    with httpx.Client(timeout=10) as client:

        def post(index: int) -> None:
            request = requests[index]
            sent = time.perf_counter()
            client.post(url, content=request.body, headers=request.headers).raise_for_status()
            latencies.append((time.perf_counter() - sent) * 1000)

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(post, range(len(requests))))
        total = time.perf_counter() - started
    return {"total_s": total, "p50_ms": statistics.median(latencies), "p99_ms": _pct(latencies, 99)}


def main() -> None:
    """Run live, drain and baseline and print a Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--krs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file per run")
    args = parser.parse_args()
    port = _free_port()
    url = f"http://127.0.0.1:{port}/hook"
    verified, ready = multiprocessing.Value("i", 0), multiprocessing.Value("i", 0)
    receiver = multiprocessing.Process(target=_serve, args=(port, verified, ready), daemon=True)
    receiver.start()
    while not ready.value:
        time.sleep(0.01)
    ids = [f"kr{i}" for i in range(args.krs)]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            live: dict[str, dict[str, float]] = {}
            for notify in (False, True):
                name = "live-notify" if notify else "live"
                tracker = _open(
                    Path(tmp), name, krs=args.krs, url=url, database_url=args.database_url
                )
                live[name] = run_live(tracker, ids, args.concurrency, notify=notify)
                tracker.close()
                if args.database_url:
                    _reset(args.database_url)
            drain_tracker = _open(
                Path(tmp), "drain", krs=args.krs, url=url, database_url=args.database_url
            )
            drain, rows = run_drain(drain_tracker, ids, args.concurrency)
            before = verified.value
            baseline = run_baseline(drain_tracker, rows, args.concurrency, url)
            assert verified.value - before == len(rows), "the baseline's requests must verify too"
            drain_tracker.close()
    finally:
        receiver.terminate()
    expected = 4 * args.krs
    assert verified.value == expected, f"receiver verified {verified.value}, expected {expected}"
    print(report(args, live=live, drain=drain, baseline=baseline))


def _reset(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def report(
    args: argparse.Namespace,
    *,
    live: dict[str, dict[str, float]],
    drain: dict[str, float],
    baseline: dict[str, float],
) -> str:
    """Render the figures and the reproducing command as Markdown."""
    backend = "PostgreSQL" if args.database_url else "SQLite"
    command = shlex.join(["python", "benchmarks/alerts_delivery.py", *sys.argv[1:]])
    return "\n".join(
        [
            f"{args.krs} Key Results regressing, {backend}, concurrency {args.concurrency}, "
            f"{os.cpu_count()} CPUs, receiver in its own process verifying every signature.",
            "",
            "| run | what is timed | total s | p50 ms | p99 ms | max ms |",
            "|---|---|---|---|---|---|",
            *(
                f"| {name} | first sample written → last ack (writing the samples took "
                f"{run['write_s']:.1f} s); latency = sample write → `delivered_at_ms` | "
                f"{run['total_s']:.2f} | {run['p50_ms']:.0f} | {run['p99_ms']:.0f} | "
                f"{run['max_ms']:.0f} |"
                for name, run in live.items()
            ),
            f"| drain | worker start → last ack, {args.krs} queued | {drain['total_s']:.2f} "
            "| | | |",
            f"| baseline | plain httpx POSTs of the same signed requests | "
            f"{baseline['total_s']:.2f} | {baseline['p50_ms']:.1f} | {baseline['p99_ms']:.1f} | |",
            "",
            f"Command: `{command}`",
        ]
    )


if __name__ == "__main__":
    main()
