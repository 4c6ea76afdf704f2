"""OpenSLO SLI metrics to krtracker sources: a Prometheus connector and the PromQL to sample."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from app.openslo.windows import UnmappableWindow

# How often an imported Key Result is sampled; a counter ratio is taken over the same span.
EVERY = "15m"
DEFAULT_PROMETHEUS_URL = "${PROMETHEUS_URL:-http://localhost:9090}"


@dataclass(frozen=True)
class OpensloDocument:
    """One YAML document and where it came from (`slo.yaml, document 2`)."""

    origin: str
    body: Any


class Unmappable(UnmappableWindow):
    """The document cannot become a Key Result; the message says why."""


def slug(text: str) -> str:
    """Make a krtracker id (lower case letters, digits, `-`, `_`, `.`; at most 64)."""
    cleaned = re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-._")
    return (cleaned or "slo")[:64]


@dataclass
class Catalog:
    """The documents by kind and name, and what the imported SLOs used and need."""

    data_sources: dict[str, Any] = field(default_factory=dict)
    slis: dict[str, Any] = field(default_factory=dict)
    slos: list[OpensloDocument] = field(default_factory=list)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    used: set[tuple[str, str]] = field(default_factory=set)
    connectors: dict[str, dict[str, Any]] = field(default_factory=dict)


def mapping(value: Any, what: str) -> dict[str, Any]:
    """Return `value` if it is a mapping (missing is empty), else say what should be one."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Unmappable(f"{what} must be a mapping, not {type(value).__name__}")
    return value


def number(value: Any, what: str) -> float:
    """Return `value` as a finite float, else say it must be a number."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Unmappable(f"{what} must be a number")
    try:
        result = float(value)
    except ValueError:
        raise Unmappable(f"{what} must be a number, not {value!r}") from None
    if not math.isfinite(result):
        raise Unmappable(f"{what} must be a finite number, not {value!r}")
    return result


def metric_source(source: Any, catalog: Catalog) -> tuple[str, str]:
    """Return (connector name, PromQL) for an SLI's `metricSource`."""
    if not isinstance(source, dict):
        raise Unmappable("an SLI metric needs a metricSource")
    ref, spec = source.get("metricSourceRef"), mapping(source.get("spec"), "metricSource.spec")
    query = spec.get("query") or spec.get("promql")
    if ref is not None:
        if not isinstance(ref, str):
            raise Unmappable("metricSourceRef must be a DataSource name")
        data_source = catalog.data_sources.get(ref)
        if data_source is None:
            raise Unmappable(f"metricSourceRef {ref!r} names no DataSource in the given files")
        catalog.used.add(("DataSource", ref))
        kind = str(data_source.get("type", ""))
        url = mapping(data_source.get("connectionDetails"), "connectionDetails").get("url")
        if kind.lower() != "prometheus":
            raise Unmappable(
                f"DataSource {ref!r} is of type {kind!r}: only Prometheus maps to a krtracker "
                "connector"
            )
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise Unmappable(f"DataSource {ref!r} needs connectionDetails.url, an http(s) URL")
        connector, settings = slug(ref), {"type": "prometheus", "url": url}
    else:
        kind = str(source.get("type", ""))
        if kind.lower() != "prometheus":
            raise Unmappable(f"metricSource type {kind!r}: only Prometheus maps to a connector")
        connector, settings = "prometheus", {"type": "prometheus", "url": DEFAULT_PROMETHEUS_URL}
    if not isinstance(query, str) or not query.strip():
        raise Unmappable("the metricSource spec needs a query")
    return _connector_named(catalog, connector, settings), query.strip()


def _connector_named(catalog: Catalog, base: str, settings: dict[str, Any]) -> str:
    """Return the connector with these settings, adding it under a free name if new.

    Two DataSources whose names slug alike ("Prom", "prom"), or a DataSource named like the
    default `prometheus`, must not share a connector unless they point at the same server.
    """
    name, n = base, 2
    while name in catalog.connectors and catalog.connectors[name] != settings:
        name, n = slug(f"{base[:60]}-{n}"), n + 1
    catalog.connectors[name] = settings
    return name


def ratio_query(ratio: dict[str, Any], catalog: Catalog) -> tuple[str, str]:
    """Return (connector, PromQL for the share of good events) for a `ratioMetric`."""

    def side(name: str) -> tuple[str, str] | None:
        part = ratio.get(name)
        if part is None:
            return None
        return metric_source(mapping(part, f"ratioMetric.{name}").get("metricSource"), catalog)

    raw = side("raw")
    if raw is not None:
        connector, query = raw
        failure = ratio.get("rawType") == "failure"
        return connector, f"1 - ({query})" if failure else query
    good, bad, total = side("good"), side("bad"), side("total")
    if total is None or (good is None) == (bad is None):
        raise Unmappable("a ratioMetric needs total and exactly one of good or bad (or raw)")
    numerator = good or bad
    assert numerator is not None
    if numerator[0] != total[0]:
        raise Unmappable("good/bad and total come from different data sources")

    def events(query: str) -> str:
        # A counter only grows: the events in the last sampling interval are its increase.
        return f"sum(increase(({query})[{EVERY}:]))" if ratio.get("counter") else f"({query})"

    share = f"{events(numerator[1])} / {events(total[1])}"
    return total[0], share if good is not None else f"1 - {share}"
