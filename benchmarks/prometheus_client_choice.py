"""Time instant queries to a local Prometheus through prometheus-api-client, requests and httpx.

Run from the repository root: `python benchmarks/prometheus_client_choice.py [--queries 2000]`.
It starts a Prometheus over the test history (tests/support/prometheus_server.py), sends the same
instant queries (with `time`) through each client over one kept-alive connection, and
prints queries per second. This is how the Prometheus connector's HTTP client was chosen.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import requests
from prometheus_api_client import PrometheusConnect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.prometheus_server import COVERAGE, start_prometheus, synthetic_history  # noqa: E402

# The trivial query shows each client's own overhead; the mix shows what the connector meets.
TRIVIAL = ("1",)
MIX = (
    COVERAGE,
    "sum(rate(deployments_total[1h]))",
    "histogram_quantile(0.99, sum by (le) "
    '(rate(http_request_duration_seconds_bucket{service="payments"}[5m])))',
)


def _compare(
    clients: list[tuple[str, Callable[[str, str], object]]],
    *,
    queries: tuple[str, ...],
    times: list[str],
    rounds: int,
) -> None:
    """Time every client on the same (query, time) pairs, interleaved by round; print rates."""
    pairs = [(queries[i % len(queries)], at) for i, at in enumerate(times)]
    rates: dict[str, list[float]] = {label: [] for label, _ in clients}
    for _, run_one in clients:
        for query, at in pairs[:50]:
            run_one(query, at)
    for _ in range(rounds):
        for label, run_one in clients:
            started = time.perf_counter()
            for query, at in pairs:
                run_one(query, at)
            rates[label].append(len(pairs) / (time.perf_counter() - started))
    for label, measured in rates.items():
        print(
            f"  {label:<24} best {max(measured):6.0f} q/s"
            f"   median {statistics.median(measured):6.0f} q/s"
        )


def main() -> None:
    """Start Prometheus, time each client, print the rates."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    history = synthetic_history()
    times = [str(history.end - 15 * (i % 500)) for i in range(args.queries)]
    with tempfile.TemporaryDirectory() as workdir:
        server = start_prometheus(Path(workdir), openmetrics_text=history.text)
        with server:
            url = server.url
            api_client = PrometheusConnect(url=url, timeout=10)
            session = requests.Session()
            client = httpx.Client(base_url=url, timeout=10)
            clients: list[tuple[str, Callable[[str, str], object]]] = [
                (
                    "prometheus-api-client",
                    lambda q, at: api_client.custom_query(q, params={"time": at}),
                ),
                (
                    "requests.Session",
                    lambda q, at: session.get(
                        f"{url}/api/v1/query", params={"query": q, "time": at}, timeout=10
                    ).json(),
                ),
                (
                    "httpx.Client",
                    lambda q, at: client.get(
                        "/api/v1/query", params={"query": q, "time": at}
                    ).json(),
                ),
            ]
            for name, queries in (("trivial query", TRIVIAL), ("connector-like mix", MIX)):
                print(f"{args.queries} instant queries, {name}, {args.rounds} rounds:")
                _compare(clients, queries=queries, times=times, rounds=args.rounds)
            api_client.close()
            session.close()
            client.close()


if __name__ == "__main__":
    main()
