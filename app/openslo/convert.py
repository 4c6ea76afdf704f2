"""Turn OpenSLO v1 documents (SLO, SLI, DataSource) into krtracker config: pure, `now` explicit.

Documents in, TOML text and per-document problems out; reading files is the caller's job.
What has no faithful krtracker equivalent (another data source type, time-slice budgeting,
composite SLOs, other kinds) is reported with the reason, never dropped in silence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.openslo.sli import (
    EVERY,
    Catalog,
    OpensloDocument,
    Unmappable,
    mapping,
    metric_source,
    number,
    ratio_query,
    slug,
)
from app.openslo.toml import render_config
from app.openslo.windows import UnmappableWindow, quarter_of, time_window

if TYPE_CHECKING:
    from datetime import datetime

API_VERSION = "openslo/v1"
_THRESHOLD_DIRECTION = {"lt": "at_most", "lte": "at_most", "gt": "at_least", "gte": "at_least"}


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


def _named(doc: OpensloDocument) -> tuple[str, str]:
    body = doc.body if isinstance(doc.body, dict) else {}
    metadata = body.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    return str(body.get("kind", "?")), str(metadata.get("name", "?"))


def _catalog(documents: list[OpensloDocument], problems: list[ImportProblem]) -> Catalog:
    catalog = Catalog()
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


def _share(objective: dict[str, Any]) -> float:
    if "target" in objective:
        value = number(objective["target"], "target")
    elif "targetPercent" in objective:
        value = number(objective["targetPercent"], "targetPercent") / 100
    else:
        raise Unmappable("an objective needs target or targetPercent")
    if not 0 < value <= 1:
        raise Unmappable(f"target {value} is not a share between 0 and 1")
    return value


def _key_results(
    spec: dict[str, Any],
    sli: dict[str, Any],
    *,
    name: str,
    display: str,
    catalog: Catalog,
    window: tuple[str, str],
) -> list[dict[str, Any]]:
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or not objectives:
        raise Unmappable("needs at least one entry in objectives")
    aggregate, readable = window
    results = []
    for i, objective in enumerate(objectives):
        if not isinstance(objective, dict):
            raise Unmappable(f"objectives[{i}] is not a mapping")
        if {"indicator", "indicatorRef", "compositeWeight"} & objective.keys():
            raise Unmappable(
                "a composite SLO (objectives with their own indicators) has no "
                "single value to sample"
            )
        label = str(objective.get("displayName") or objective.get("name") or "") or None
        kr_id = slug(name if len(objectives) == 1 else f"{name}-{label or i}")
        title = display + (f": {label}" if label else "")
        share = _share(objective)
        if "thresholdMetric" in sli:
            threshold = mapping(sli["thresholdMetric"], "thresholdMetric")
            connector, query = metric_source(threshold.get("metricSource"), catalog)
            op = str(objective.get("op"))
            if op not in _THRESHOLD_DIRECTION or "value" not in objective:
                raise Unmappable(
                    "a thresholdMetric objective needs op (lt, lte, gt, gte) and value"
                )
            kr = {
                "id": kr_id,
                "title": title,
                "direction": _THRESHOLD_DIRECTION[op],
                "target": number(objective["value"], "value"),
            }
            note = f"OpenSLO: {share:.4g} of samples {op} {objective['value']} ({readable})"
        elif "ratioMetric" in sli:
            ratio = mapping(sli["ratioMetric"], "ratioMetric")
            connector, query = ratio_query(ratio, catalog)
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
            raise Unmappable("the SLI has neither thresholdMetric nor ratioMetric")
        kr.update(description=note, every=EVERY, source={"connector": connector, "query": query})
        results.append(kr)
    return results


def _slo_objective(
    doc: OpensloDocument, catalog: Catalog, *, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return (the krtracker objective fields for this SLO, its Key Results)."""
    spec, metadata = doc.body["spec"], mapping(doc.body.get("metadata"), "metadata")
    name = str(metadata["name"])
    method = spec.get("budgetingMethod", "Occurrences")
    if method != "Occurrences":
        raise Unmappable(
            f"budgetingMethod {method}: krtracker compares sampled values and "
            "event ratios (Occurrences), it does not count good time slices"
        )
    if "indicatorRef" in spec:
        if not isinstance(spec["indicatorRef"], str):
            raise Unmappable("indicatorRef must be an SLI name")
        sli = catalog.slis.get(spec["indicatorRef"])
        if sli is None:
            raise Unmappable(f"indicatorRef {spec['indicatorRef']!r} names no SLI in the files")
        catalog.used.add(("SLI", spec["indicatorRef"]))
    elif isinstance(spec.get("indicator"), dict):
        sli = mapping(spec["indicator"].get("spec"), "indicator.spec")
    else:
        raise Unmappable(
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


def _free_id(base: str, taken: set[str]) -> str:
    """Return `base`, or `base-2`, `base-3`, ... whichever is not taken yet."""
    name, n = base, 2
    while name in taken:
        name, n = slug(f"{base[:60]}-{n}"), n + 1
    return name


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
            kr["id"] = _free_id(kr["id"], taken)
            taken.add(kr["id"])
        if objective is None:
            fields["id"] = _free_id(fields["id"], {o["id"] for o in objectives})
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
