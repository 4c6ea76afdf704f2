"""Turn OpenSLO v1 documents (SLO, SLI, DataSource) into krtracker config: pure, `now` explicit.

Documents in, TOML text and per-document problems out; reading files is the caller's job.
What has no faithful krtracker equivalent (another data source type, time-slice budgeting,
composite SLOs, other kinds) is reported with the reason, never dropped in silence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.openslo_toml import render_config
from app.openslo_windows import UnmappableWindow, quarter_of, time_window

API_VERSION = "openslo/v1"
# How often an imported Key Result is sampled; a counter ratio is taken over the same span.
EVERY = "15m"
DEFAULT_PROMETHEUS_URL = "${PROMETHEUS_URL:-http://localhost:9090}"
_THRESHOLD_DIRECTION = {"lt": "at_most", "lte": "at_most", "gt": "at_least", "gte": "at_least"}


@dataclass(frozen=True)
class OpensloDocument:
    """One YAML document and where it came from (`slo.yaml, document 2`)."""

    origin: str
    body: Any


@dataclass(frozen=True)
class ImportProblem:
    """A document (or part of one) that was not imported, and why."""

    origin: str
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.origin} ({self.name}): {self.reason}"


@dataclass(frozen=True)
class OpensloImport:
    """The config text, how many Key Results it holds, and what was left out."""

    toml: str
    key_results: int
    problems: list[ImportProblem] = field(default_factory=list)


class _Unmappable(UnmappableWindow):
    """The document cannot become a Key Result; the message says why."""


def slug(text: str) -> str:
    """Make a krtracker id (lower case letters, digits, `-`, `_`, `.`; at most 64)."""
    cleaned = re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-._")
    return (cleaned or "slo")[:64]


def _named(doc: OpensloDocument) -> tuple[str, str]:
    body = doc.body if isinstance(doc.body, dict) else {}
    metadata = body.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    return str(body.get("kind", "?")), str(metadata.get("name", "?"))


@dataclass
class _Catalog:
    data_sources: dict[str, Any] = field(default_factory=dict)
    slis: dict[str, Any] = field(default_factory=dict)
    slos: list[OpensloDocument] = field(default_factory=list)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    used: set[tuple[str, str]] = field(default_factory=set)
    connectors: dict[str, dict[str, Any]] = field(default_factory=dict)


def _catalog(documents: list[OpensloDocument], problems: list[ImportProblem]) -> _Catalog:
    catalog = _Catalog()
    for doc in documents:
        kind, name = _named(doc)
        body = doc.body
        if not isinstance(body, dict) or body.get("apiVersion") != API_VERSION:
            version = body.get("apiVersion") if isinstance(body, dict) else None
            problems.append(
                ImportProblem(
                    doc.origin,
                    f"{kind} {name}",
                    (f"apiVersion {version!r} is not {API_VERSION}: only OpenSLO v1 is read"),
                )
            )
        elif name == "?" or not isinstance(body.get("spec"), dict):
            problems.append(ImportProblem(doc.origin, kind, "needs metadata.name and a spec"))
        elif kind == "DataSource":
            catalog.data_sources[name] = body["spec"]
        elif kind == "SLI":
            catalog.slis[name] = body["spec"]
        elif kind == "SLO":
            catalog.slos.append(doc)
        else:
            problems.append(
                ImportProblem(
                    doc.origin,
                    f"{kind} {name}",
                    (
                        "not imported: only SLO, SLI and DataSource map to Key Results "
                        "(krtracker's own alerts and webhooks are configured in the TOML)"
                    ),
                )
            )
        catalog.origins[(kind, name)] = doc.origin
    return catalog


def _mapping(value: Any, what: str) -> dict[str, Any]:
    """Return `value` if it is a mapping (missing is empty), else say what should be one."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Unmappable(f"{what} must be a mapping, not {type(value).__name__}")
    return value


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Unmappable(f"{what} must be a number")
    try:
        return float(value)
    except ValueError:
        raise _Unmappable(f"{what} must be a number, not {value!r}") from None


def _metric(source: Any, catalog: _Catalog) -> tuple[str, str]:
    """Return (connector name, PromQL) for an SLI's `metricSource`."""
    if not isinstance(source, dict):
        raise _Unmappable("an SLI metric needs a metricSource")
    ref, spec = source.get("metricSourceRef"), _mapping(source.get("spec"), "metricSource.spec")
    query = spec.get("query") or spec.get("promql")
    if ref is not None:
        if not isinstance(ref, str):
            raise _Unmappable("metricSourceRef must be a DataSource name")
        data_source = catalog.data_sources.get(ref)
        if data_source is None:
            raise _Unmappable(f"metricSourceRef {ref!r} names no DataSource in the given files")
        catalog.used.add(("DataSource", ref))
        kind = str(data_source.get("type", ""))
        url = _mapping(data_source.get("connectionDetails"), "connectionDetails").get("url")
        if kind.lower() != "prometheus":
            raise _Unmappable(
                f"DataSource {ref!r} is of type {kind!r}: only Prometheus maps to a krtracker "
                "connector"
            )
        if not isinstance(url, str) or not url:
            raise _Unmappable(f"DataSource {ref!r} needs connectionDetails.url")
        connector, settings = slug(ref), {"type": "prometheus", "url": url}
    else:
        kind = str(source.get("type", ""))
        if kind.lower() != "prometheus":
            raise _Unmappable(f"metricSource type {kind!r}: only Prometheus maps to a connector")
        connector, settings = "prometheus", {"type": "prometheus", "url": DEFAULT_PROMETHEUS_URL}
    if not isinstance(query, str) or not query.strip():
        raise _Unmappable("the metricSource spec needs a query")
    catalog.connectors.setdefault(connector, settings)
    return connector, query.strip()


def _ratio_query(ratio: dict[str, Any], catalog: _Catalog) -> tuple[str, str]:
    """Return (connector, PromQL for the share of good events) for a `ratioMetric`."""

    def side(name: str) -> tuple[str, str] | None:
        part = ratio.get(name)
        if part is None:
            return None
        return _metric(_mapping(part, f"ratioMetric.{name}").get("metricSource"), catalog)

    raw = side("raw")
    if raw is not None:
        connector, query = raw
        failure = ratio.get("rawType") == "failure"
        return connector, f"1 - ({query})" if failure else query
    good, bad, total = side("good"), side("bad"), side("total")
    if total is None or (good is None) == (bad is None):
        raise _Unmappable("a ratioMetric needs total and exactly one of good or bad (or raw)")
    numerator = good or bad
    assert numerator is not None
    if numerator[0] != total[0]:
        raise _Unmappable("good/bad and total come from different data sources")

    def events(query: str) -> str:
        # A counter only grows: the events in the last sampling interval are its increase.
        return f"sum(increase(({query})[{EVERY}:]))" if ratio.get("counter") else f"({query})"

    share = f"{events(numerator[1])} / {events(total[1])}"
    return total[0], share if good is not None else f"1 - {share}"


def _share(objective: dict[str, Any]) -> float:
    if "target" in objective:
        value = _number(objective["target"], "target")
    elif "targetPercent" in objective:
        value = _number(objective["targetPercent"], "targetPercent") / 100
    else:
        raise _Unmappable("an objective needs target or targetPercent")
    if not 0 < value <= 1:
        raise _Unmappable(f"target {value} is not a share between 0 and 1")
    return value


def _key_results(
    spec: dict[str, Any],
    sli: dict[str, Any],
    *,
    name: str,
    display: str,
    catalog: _Catalog,
    window: tuple[str, str],
) -> list[dict[str, Any]]:
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or not objectives:
        raise _Unmappable("needs at least one entry in objectives")
    aggregate, readable = window
    results = []
    for i, objective in enumerate(objectives):
        if not isinstance(objective, dict):
            raise _Unmappable(f"objectives[{i}] is not a mapping")
        if {"indicator", "indicatorRef", "compositeWeight"} & objective.keys():
            raise _Unmappable(
                "a composite SLO (objectives with their own indicators) has no "
                "single value to sample"
            )
        label = str(objective.get("displayName") or objective.get("name") or "") or None
        kr_id = slug(name if len(objectives) == 1 else f"{name}-{label or i}")
        title = display + (f": {label}" if label else "")
        share = _share(objective)
        if "thresholdMetric" in sli:
            threshold = _mapping(sli["thresholdMetric"], "thresholdMetric")
            connector, query = _metric(threshold.get("metricSource"), catalog)
            op = str(objective.get("op"))
            if op not in _THRESHOLD_DIRECTION or "value" not in objective:
                raise _Unmappable(
                    "a thresholdMetric objective needs op (lt, lte, gt, gte) and value"
                )
            kr = {
                "id": kr_id,
                "title": title,
                "direction": _THRESHOLD_DIRECTION[op],
                "target": _number(objective["value"], "value"),
            }
            note = f"OpenSLO: {share:.4g} of samples {op} {objective['value']} ({readable})"
        elif "ratioMetric" in sli:
            ratio = _mapping(sli["ratioMetric"], "ratioMetric")
            connector, query = _ratio_query(ratio, catalog)
            kr = {
                "id": kr_id,
                "title": title,
                "unit": "ratio",
                "direction": "at_least",
                "target": share,
                "range": [0.0, 1.0],
                "aggregate": {"function": "avg", "window": aggregate},
            }
            note = f"OpenSLO: good events share at least {share:.4g} ({readable})"
        else:
            raise _Unmappable("the SLI has neither thresholdMetric nor ratioMetric")
        kr.update(description=note, every=EVERY, source={"connector": connector, "query": query})
        results.append(kr)
    return results


def _slo_objective(
    doc: OpensloDocument, catalog: _Catalog, *, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return (the krtracker objective fields for this SLO, its Key Results)."""
    spec, metadata = doc.body["spec"], _mapping(doc.body.get("metadata"), "metadata")
    name = str(metadata["name"])
    method = spec.get("budgetingMethod", "Occurrences")
    if method != "Occurrences":
        raise _Unmappable(
            f"budgetingMethod {method}: krtracker compares sampled values and "
            "event ratios (Occurrences), it does not count good time slices"
        )
    if "indicatorRef" in spec:
        if not isinstance(spec["indicatorRef"], str):
            raise _Unmappable("indicatorRef must be an SLI name")
        sli = catalog.slis.get(spec["indicatorRef"])
        if sli is None:
            raise _Unmappable(f"indicatorRef {spec['indicatorRef']!r} names no SLI in the files")
        catalog.used.add(("SLI", spec["indicatorRef"]))
    elif isinstance(spec.get("indicator"), dict):
        sli = _mapping(spec["indicator"].get("spec"), "indicator.spec")
    else:
        raise _Unmappable(
            "a composite SLO, or one without indicator/indicatorRef, has no single value to sample"
        )
    period, aggregate, readable = time_window(spec, now)
    labels = metadata.get("labels")
    labels = labels if isinstance(labels, dict) else {}
    team = labels.get("team") if isinstance(labels.get("team"), str) else None
    fields = {
        "id": slug(name),
        "title": str(metadata.get("displayName") or name),
        "team": team,
        **period,
        "description": str(spec.get("description") or f"service {spec.get('service')}"),
    }
    krs = _key_results(
        spec, sli, name=name, display=fields["title"], catalog=catalog, window=(aggregate, readable)
    )
    return fields, krs


def import_openslo(
    documents: list[OpensloDocument], *, objective: str | None = None, now: datetime
) -> OpensloImport:
    """Map the documents to a krtracker config (one objective per SLO, or all under one)."""
    problems: list[ImportProblem] = []
    catalog = _catalog(documents, problems)
    objectives: list[dict[str, Any]] = []
    taken: set[str] = set()
    for doc in catalog.slos:
        # An SLO that fails half-way adds no connector and uses no SLI or DataSource.
        connectors, used = dict(catalog.connectors), set(catalog.used)
        try:
            fields, krs = _slo_objective(doc, catalog, now=now)
        except UnmappableWindow as exc:
            catalog.connectors, catalog.used = connectors, used
            problems.append(ImportProblem(doc.origin, "SLO " + _named(doc)[1], str(exc)))
            continue
        for kr in krs:
            base, n = kr["id"], 2
            while kr["id"] in taken:
                kr["id"], n = slug(f"{base[:60]}-{n}"), n + 1
            taken.add(kr["id"])
        if objective is None:
            objectives.append({**fields, "key_results": krs})
        elif objectives:
            objectives[0]["key_results"] += krs
        else:
            objectives.append(
                {"id": objective, "title": objective, **quarter_of(now.date()), "key_results": krs}
            )
    for kind, names in (("SLI", catalog.slis), ("DataSource", catalog.data_sources)):
        for name in names:
            if (kind, name) not in catalog.used:
                problems.append(
                    ImportProblem(
                        catalog.origins[(kind, name)],
                        f"{kind} {name}",
                        "not used by any imported SLO",
                    )
                )
    count = sum(len(o["key_results"]) for o in objectives)
    header = [
        "Key Results imported from OpenSLO by `krtracker import openslo`.",
        "Review the targets, then check the file with `krtracker validate`.",
    ]
    text = render_config(header=header, connectors=catalog.connectors, objectives=objectives)
    order = {doc.origin: i for i, doc in enumerate(documents)}
    problems.sort(key=lambda p: order.get(p.origin, -1))
    return OpensloImport(toml=text, key_results=count, problems=problems)
