"""Cost per sample of keeping secrets out of stored data (`outcomes.redacted`), no database.

Run from the repository root:

    python -m benchmarks.redaction_cost --secrets 20

Each case is one sampler result as the recorder receives it: a clean Prometheus sample
with one series, one with ten series, and a failure whose reason quotes a token. The
floor in the same run is the same call with a redactor that knows no secret (only the
config-free rules: URL userinfo, credential query values, bearer tokens).
"""

from __future__ import annotations

import argparse
import timeit
from datetime import UTC, datetime
from typing import Any

from app.config.secrets import basic_forms
from app.core.redaction import Redactor
from app.sampling.outcomes import SampleToStore, redacted
from connectors.base import Measurement, SourceUnavailable


def cases() -> dict[str, SampleToStore]:
    """Return the sampler results to redact, by name."""
    at = datetime(2026, 11, 30, tzinfo=UTC)

    def details(series: int) -> dict[str, Any]:
        return {
            "query": "sum(rate(http_requests_total{job='api',code=~'5..'}[5m]))",
            "series": [
                {"__name__": "x", "job": "api", "instance": f"10.0.0.{i}:9090"}
                for i in range(series)
            ],
            "reduce": "sum" if series > 1 else None,
            "evaluated_at": at.isoformat(),
        }

    error = SourceUnavailable(
        "prometheus query 'up' at 2026-11-30T00:00:00+00:00: Prometheus answered HTTP 503: "
        "bad credentials secret-token-0007-abcdefgh"
    )
    return {
        "sample, 1 series": SampleToStore(
            "kr", 0, "prom", measurement=Measurement(1.0, at, details=details(1))
        ),
        "sample, 10 series": SampleToStore(
            "kr", 0, "prom", measurement=Measurement(1.0, at, details=details(10))
        ),
        "failure quoting a token": SampleToStore("kr", 0, "prom", error=error),
    }


def per_call_us(redactor: Redactor, item: SampleToStore, number: int) -> float:
    """Return the best of five runs of `redacted(item, redactor)`, in µs per call."""
    runs = timeit.repeat(lambda: redacted(item, redactor), number=number, repeat=5)
    return min(runs) / number * 1e6


def main() -> None:
    """Print a Markdown table: µs per sample with the config's secrets and with none."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--secrets", type=int, default=20)
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args()
    secrets = [f"secret-token-{i:04d}-abcdefgh" for i in range(args.secrets)]
    secrets += basic_forms("reader", "password-0123")
    redactors = {"configured": Redactor(secrets), "floor": Redactor()}
    forms = len(redactors["configured"].forms)
    print(f"{args.secrets} secrets ({forms} forms with their derived ones)\n")
    print("| case | redacted µs/sample | floor (no secrets) µs/sample |")
    print("|---|---|---|")
    for name, item in cases().items():
        configured = per_call_us(redactors["configured"], item, args.number)
        floor = per_call_us(redactors["floor"], item, args.number)
        print(f"| {name} | {configured:.1f} | {floor:.1f} |")


if __name__ == "__main__":
    main()
