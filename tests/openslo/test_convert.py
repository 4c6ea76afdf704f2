"""`krtracker import openslo`: OpenSLO v1 documents become Key Results that validate and sample.

The documents below are written for these tests in the shapes the OpenSLO v1 specification
publishes (DataSource, SLI with thresholdMetric or ratioMetric, SLO with indicatorRef or an
inline indicator, rolling and calendar-aligned time windows).
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.config.loading import load_config, parse_config
from app.openslo.convert import import_openslo
from app.openslo.sli import OpensloDocument
from tests.conftest import require_binary
from tests.support.krtracker_server import krtracker_command
from tests.support.prometheus_server import RunningPrometheus, start_prometheus, synthetic_history

NOW = datetime(2026, 11, 30, 4, 30, tzinfo=UTC)
P99 = (
    "histogram_quantile(0.99, sum by (le) "
    '(rate(http_request_duration_seconds_bucket{service="payments"}[5m])))'
)
GOOD = 'sum(http_request_duration_seconds_bucket{service="payments",le="0.25"})'
TOTAL = 'sum(http_request_duration_seconds_count{service="payments"})'
SLOW_RATE = (
    'sum(rate(http_request_duration_seconds_count{service="search"}[5m])) - '
    'sum(rate(http_request_duration_seconds_bucket{service="search",le="0.1"}[5m]))'
)
TOTAL_RATE = 'sum(rate(http_request_duration_seconds_count{service="search"}[5m]))'

MAPPABLE = """
apiVersion: openslo/v1
kind: DataSource
metadata:
  name: prometheus-main
  displayName: Main Prometheus
spec:
  type: Prometheus
  connectionDetails:
    url: {url}
---
apiVersion: openslo/v1
kind: SLI
metadata:
  name: payments-p99
spec:
  description: P99 latency of payment requests, in seconds
  thresholdMetric:
    metricSource:
      metricSourceRef: prometheus-main
      type: Prometheus
      spec:
        query: '{p99}'
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: payments-latency
  displayName: Payments are fast
  labels:
    team: payments
spec:
  service: payments-api
  indicatorRef: payments-p99
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: P99 under 250 ms
      op: lte
      value: 0.25
      target: 0.99
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: payments-fast-share
spec:
  service: payments-api
  indicator:
    metadata:
      name: payments-good-requests
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            metricSourceRef: prometheus-main
            type: Prometheus
            spec:
              query: '{good}'
        total:
          metricSource:
            metricSourceRef: prometheus-main
            type: Prometheus
            spec:
              query: '{total}'
  timeWindow:
    - duration: 1Q
      isRolling: false
      calendar:
        startTime: "2026-01-01 00:00:00"
        timeZone: UTC
  budgetingMethod: Occurrences
  objectives:
    - targetPercent: 99.5
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: search-fast-share
spec:
  service: search
  indicator:
    metadata:
      name: search-slow-requests
    spec:
      ratioMetric:
        counter: false
        bad:
          metricSource:
            type: Prometheus
            spec:
              query: '{slow}'
        total:
          metricSource:
            type: Prometheus
            spec:
              query: '{total_rate}'
  timeWindow:
    - duration: 1M
      isRolling: false
      calendar:
        startTime: "2026-01-01 00:00:00"
        timeZone: UTC
  objectives:
    - displayName: Fast searches
      target: 0.9
"""

UNMAPPABLE = """
apiVersion: openslo/v1
kind: DataSource
metadata:
  name: datadog-main
spec:
  type: Datadog
  connectionDetails:
    apiKey: secret
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-latency
spec:
  service: checkout
  indicator:
    metadata:
      name: checkout-p95
    spec:
      thresholdMetric:
        metricSource:
          metricSourceRef: datadog-main
          type: Datadog
          spec:
            query: p95:trace.http.request{service:checkout}
  timeWindow:
    - duration: 7d
      isRolling: true
  objectives:
    - op: lt
      value: 300
      target: 0.95
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: uptime-slices
spec:
  service: payments-api
  indicatorRef: payments-p99
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Timeslices
  objectives:
    - op: lte
      value: 0.5
      target: 0.99
      timeSliceTarget: 0.95
      timeSliceWindow: 1m
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: journey
spec:
  service: shop
  timeWindow:
    - duration: 28d
      isRolling: true
  objectives:
    - displayName: browse
      target: 0.99
      compositeWeight: 1
      indicatorRef: payments-p99
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata:
  name: page-on-burn
spec:
  conditions: []
---
apiVersion: openslo/v0.1
kind: SLO
metadata:
  name: legacy
spec: {}
"""


def mappable(url: str = "http://prometheus.example:9090") -> str:
    """Return the mappable documents, with the Prometheus DataSource at `url`."""
    return MAPPABLE.format(
        url=url, p99=P99, good=GOOD, total=TOTAL, slow=SLOW_RATE, total_rate=TOTAL_RATE
    )


def documents(text: str, origin: str = "slos.yaml") -> list[OpensloDocument]:
    """Split a YAML stream into documents, numbered as the CLI numbers them."""
    bodies = list(yaml.safe_load_all(text))
    return [OpensloDocument(f"{origin}, document {i}", b) for i, b in enumerate(bodies, 1)]


def key_results(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every Key Result of a parsed config, by id, with its objective's id added."""
    return {
        kr["id"]: {**kr, "objective": o["id"]}
        for o in config["objectives"]
        for kr in o.get("key_results", [])
    }


def test_threshold_and_ratio_slos_map_to_key_results() -> None:
    """An `lte` SLO becomes at_most with its value; a ratio becomes a PromQL share of good."""
    result = import_openslo(documents(mappable()), now=NOW)
    assert result.problems == []
    config = tomllib.loads(result.toml)
    assert config["connectors"] == {
        "prometheus-main": {"type": "prometheus", "url": "http://prometheus.example:9090"},
        "prometheus": {"type": "prometheus", "url": "${PROMETHEUS_URL:-http://localhost:9090}"},
    }
    objectives = {o["id"]: o for o in config["objectives"]}
    assert objectives["payments-latency"]["period"] == "2026-Q4"  # rolling: this quarter
    assert objectives["payments-latency"]["team"] == "payments"
    assert objectives["payments-fast-share"]["period"] == "2026-Q4"  # calendar quarter
    month = objectives["search-fast-share"]
    assert (month["start"].isoformat(), month["end"].isoformat()) == ("2026-11-01", "2026-11-30")
    krs = key_results(config)
    latency = krs["payments-latency"]
    assert (latency["direction"], latency["target"]) == ("at_most", 0.25)
    assert latency["title"] == "Payments are fast: P99 under 250 ms"
    assert latency["source"] == {"connector": "prometheus-main", "query": P99}
    assert "aggregate" not in latency
    share = krs["payments-fast-share"]
    assert (share["direction"], share["target"], share["unit"]) == ("at_least", 0.995, "ratio")
    assert share["source"]["query"] == (
        f"sum(increase(({GOOD})[15m:])) / sum(increase(({TOTAL})[15m:]))"
    )
    assert share["aggregate"] == {"function": "avg", "window": "91d"}
    search = krs["search-fast-share"]
    assert search["source"] == {
        "connector": "prometheus",
        "query": f"1 - ({SLOW_RATE}) / ({TOTAL_RATE})",
    }
    assert (search["target"], search["aggregate"]["window"]) == (0.9, "30d")


def test_gt_and_gte_become_at_least_and_one_objective_collects_all() -> None:
    """With an objective id, every Key Result lands under it, in the current quarter."""
    text = mappable().replace("op: lte", "op: gt")
    config = tomllib.loads(import_openslo(documents(text), objective="slos", now=NOW).toml)
    [objective] = config["objectives"]
    assert (objective["id"], objective["period"]) == ("slos", "2026-Q4")
    assert len(objective["key_results"]) == 3
    assert key_results(config)["payments-latency"]["direction"] == "at_least"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("SLO checkout-latency", "DataSource 'datadog-main' is of type 'Datadog'"),
        ("SLO uptime-slices", "budgetingMethod Timeslices"),
        ("SLO journey", "composite SLO"),
        ("AlertPolicy page-on-burn", "only SLO, SLI and DataSource map to Key Results"),
        ("SLO legacy", "apiVersion 'openslo/v0.1' is not openslo/v1"),
        ("DataSource datadog-main", "not used by any imported SLO"),
    ],
)
def test_unmappable_documents_are_reported_with_the_reason(name: str, reason: str) -> None:
    """Each document krtracker cannot map is named, with its origin, and why."""
    docs = documents(mappable()) + documents(UNMAPPABLE, origin="more.yaml")
    result = import_openslo(docs, now=NOW)
    found = {p.name: p for p in result.problems}
    assert reason in found[name].reason
    assert found[name].origin.startswith("more.yaml, document ")
    origins = [p.origin for p in result.problems]
    assert origins == sorted(origins), "problems are listed in document order"
    assert result.key_results == 3
    assert "secret" not in result.toml and "checkout" not in result.toml


def run_import(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `krtracker import openslo` with the arguments."""
    return subprocess.run(
        [*krtracker_command(), "import", "openslo", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_cli_writes_a_config_that_validates(tmp_path: Path) -> None:
    """Import exits 1 naming what it left out, and the file it wrote passes `krtracker validate`."""
    good, bad = tmp_path / "slos.yaml", tmp_path / "more.yaml"
    good.write_text(mappable(), encoding="utf-8")
    bad.write_text(UNMAPPABLE, encoding="utf-8")
    out = tmp_path / "okrs.toml"
    result = run_import(str(good), str(bad), "--out", str(out))
    assert result.returncode == 1, result.stderr
    assert f"not imported: {bad}, document 3 (SLO uptime-slices): budgetingMethod" in result.stderr
    assert "Traceback" not in result.stderr
    validated = subprocess.run(
        [*krtracker_command(), "validate", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "3 Key Results" in validated.stdout
    alone = run_import(str(good))
    assert alone.returncode == 0, alone.stderr
    assert tomllib.loads(alone.stdout) == tomllib.loads(out.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("kind: [unclosed", "not valid YAML at line 1"), (UNMAPPABLE, "nothing to import")],
)
def test_nothing_importable_exits_2_with_a_clear_message(
    tmp_path: Path, text: str, fragment: str
) -> None:
    """Broken YAML, or only unmappable documents: exit 2, no traceback, no output."""
    path = tmp_path / "slos.yaml"
    path.write_text(text, encoding="utf-8")
    result = run_import(str(path), "--out", str(tmp_path / "okrs.toml"))
    assert result.returncode == 2
    assert fragment in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "okrs.toml").exists()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningPrometheus, int]]:
    """Start a real Prometheus over four hours of synthetic history; yield it and its end."""
    history = synthetic_history()
    server = start_prometheus(
        tmp_path_factory.mktemp("prometheus"),
        openmetrics_text=history.text,
        prometheus=require_binary("prometheus"),
        promtool=require_binary("promtool"),
    )
    yield server, history.end
    server.stop()


def test_imported_key_results_sample_what_prometheus_answers(
    tmp_path: Path, prometheus: tuple[RunningPrometheus, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each imported Key Result's connector returns Prometheus's own answer for its query."""
    server, end = prometheus
    monkeypatch.setenv("PROMETHEUS_URL", server.url)
    path = tmp_path / "okrs.toml"
    path.write_text(import_openslo(documents(mappable(server.url)), now=NOW).toml, "utf-8")
    loaded = load_config(path)
    at = datetime.fromtimestamp(end, UTC)
    checked = 0
    for _, kr in loaded.key_results():
        assert kr.source is not None
        connector = loaded.connectors[kr.source.connector].build()
        measured = connector.measure(loaded.queries[kr.id], at)  # type: ignore[attr-defined]
        query = loaded.queries[kr.id].query  # type: ignore[attr-defined]
        answer = httpx.get(
            f"{server.url}/api/v1/query", params={"query": query, "time": end}, timeout=10
        ).json()["data"]["result"]
        assert len(answer) == 1, (kr.id, answer)
        assert measured.value == float(answer[0]["value"][1]), kr.id
        if kr.unit == "ratio":
            assert 0 < measured.value < 1, (kr.id, measured.value)
        connector.close()
        checked += 1
    assert checked == 3
    assert os.environ["PROMETHEUS_URL"] == server.url


def test_the_cli_puts_everything_under_one_objective_and_refuses_a_bad_id(tmp_path: Path) -> None:
    """`--objective platform-slos` collects every Key Result; an id with spaces is refused."""
    path = tmp_path / "slos.yaml"
    path.write_text(mappable(), encoding="utf-8")
    result = run_import(str(path), "--objective", "platform-slos")
    assert result.returncode == 0, result.stderr
    [objective] = tomllib.loads(result.stdout)["objectives"]
    assert objective["id"] == "platform-slos" and len(objective["key_results"]) == 3
    refused = run_import(str(path), "--objective", "Platform SLOs")
    assert refused.returncode == 2 and "--objective: 'Platform SLOs' is not an id" in refused.stderr


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key)
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield (*path, i)
            yield from _paths(value, (*path, i))


def _replaced(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replaced(node[path[0]], path[1:], value)
    return copy


def _removed(node: Any, path: tuple[Any, ...]) -> Any:
    if len(path) == 1:
        return {k: v for k, v in node.items() if k != path[0]} if isinstance(node, dict) else node
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _removed(node[path[0]], path[1:])
    return copy


def test_any_value_in_the_wrong_shape_is_a_problem_never_an_exception() -> None:
    """Every key of every document removed, or replaced by null, text, a number, a list, a map."""
    bodies = list(yaml.safe_load_all(mappable()))
    tried = 0
    for index, body in enumerate(bodies):
        for path in _paths(body):
            values = (None, "x", 5, [], {}, [{}], float("nan"), "-inf")
            variants = [_replaced(body, path, v) for v in values]
            for variant in [*variants, _removed(body, path)]:
                changed = [*bodies[:index], variant, *bodies[index + 1 :]]
                docs = [OpensloDocument(f"d{i}", b) for i, b in enumerate(changed)]
                result = import_openslo(docs, now=NOW)
                assert result.key_results == 3 or result.problems, (path, variant)
                if result.key_results:
                    # What is written is a valid config, whatever else was left out.
                    parse_config(tomllib.loads(result.toml))
                tried += 1
    assert tried > 300


def test_names_that_slug_alike_get_distinct_ids_and_connectors() -> None:
    """SLOs named `Payments-Latency` and `payments-latency`, DataSources alike: no mixing."""
    text = mappable()
    second = (
        text.replace("name: prometheus-main", "name: Prometheus-Main")
        .replace("http://prometheus.example:9090", "http://other.example:9090")
        .replace("metricSourceRef: prometheus-main", "metricSourceRef: Prometheus-Main")
        .replace("name: payments-latency", "name: Payments-Latency")
        .replace("name: payments-p99", "name: Payments-p99")
        .replace("indicatorRef: payments-p99", "indicatorRef: Payments-p99")
    )
    docs = documents(text) + documents(second, origin="second.yaml")
    result = import_openslo(docs, now=NOW)
    assert result.problems == []
    config = tomllib.loads(result.toml)
    ids = [o["id"] for o in config["objectives"]]
    assert len(ids) == len(set(ids)) == 6
    urls = {c["url"] for c in config["connectors"].values()}
    assert {"http://prometheus.example:9090", "http://other.example:9090"} <= urls
    krs = key_results(config)
    assert (
        krs["payments-latency"]["source"]["connector"]
        != krs["payments-latency-2"]["source"]["connector"]
    )
    parse_config(config)
