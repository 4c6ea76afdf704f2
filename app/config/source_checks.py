"""Connector and source checks: settings against the connector, sources against its query.

Each `[connectors.NAME]` is checked against its connector's settings model, each Key
Result's `source` against that connector's query model.

Its own module because it runs twice: on a config that passed the shape check
(`check_connectors`, `check_source`) and, so that one typo elsewhere does not hide these
errors, on the raw document of one that did not (`raw_source_problems`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from app.config.connector_registry import UnknownConnectorType, connector_class
from app.config.problems import Problem, format_path, validation_problems
from app.config.runtime import check_every
from connectors.base import (
    Connector,
    ConnectorQuery,
    ConnectorSettings,
    MemoryStateStore,
    StateStore,
)

if TYPE_CHECKING:
    import builtins

    from app.config.models import KrTrackerConfig
    from app.config.objectives import KeyResultConfig


@dataclass(frozen=True)
class ConfiguredConnector:
    """A `[connectors.NAME]` section resolved to its class and validated settings."""

    name: str
    type: str
    cls: builtins.type[Connector]
    settings: ConnectorSettings

    def build(self, state: StateStore | None = None) -> Connector:
        """Create a live connector instance with its durable state (in memory if None)."""
        return self.cls(self.settings, state=state or MemoryStateStore())  # type: ignore[call-arg]


def check_connectors(
    cfg: KrTrackerConfig, problems: list[Problem]
) -> dict[str, ConfiguredConnector]:
    """Resolve each `[connectors.NAME]` to its class and validated settings."""
    configured = {}
    for name, section in cfg.connectors.items():
        path: tuple[int | str, ...] = ("connectors", name)
        try:
            cls = connector_class(section.type)
        except UnknownConnectorType as exc:
            problems.append(Problem(format_path((*path, "type")), str(exc)))
            continue
        try:
            settings = cls.Settings.model_validate(section.model_extra or {})
        except ValidationError as exc:
            problems.extend(validation_problems(exc, path))
            continue
        configured[name] = ConfiguredConnector(name, section.type, cls, settings)
    return configured


def check_source(
    kr: KeyResultConfig,
    path: tuple[int | str, ...],
    connectors: dict[str, ConfiguredConnector],
    cfg: KrTrackerConfig,
    problems: list[Problem],
    queries: dict[str, ConnectorQuery],
) -> None:
    """Check a Key Result's source names a connector and fits its query model.

    The validated query goes into `queries` under the Key Result's id.
    """
    if kr.source is None:
        return
    source_path = (*path, "source")
    name = kr.source.connector
    if name not in connectors:
        if name not in cfg.connectors:
            known = ", ".join(sorted(cfg.connectors)) or "none defined"
            problems.append(
                Problem(
                    format_path((*source_path, "connector")),
                    f"unknown connector {name!r} (defined: {known})",
                )
            )
        return
    try:
        queries[kr.id] = connectors[name].cls.Query.model_validate(kr.source.query_fields())
    except ValidationError as exc:
        problems.extend(validation_problems(exc, source_path))
    if kr.interval_seconds is not None:
        warning = check_every(kr.interval_seconds, connectors[name].type, connectors[name].cls)
        if warning:
            problems.append(Problem(format_path((*path, "every")), warning, "warning"))


def raw_source_problems(data: Any) -> list[Problem]:
    """Check connector settings and KR queries on a document whose shape check failed.

    So that one typo elsewhere does not hide these errors until the next run.
    """
    if not isinstance(data, dict):
        return []
    problems: list[Problem] = []
    classes: dict[str, Any] = {}
    for name, section in (data.get("connectors") or {}).items():
        if not isinstance(section, dict) or not isinstance(section.get("type"), str):
            continue
        try:
            cls = connector_class(section["type"])
        except UnknownConnectorType:
            continue
        classes[name] = cls
        settings = {k: v for k, v in section.items() if k != "type"}
        try:
            cls.Settings.model_validate(settings)
        except ValidationError as exc:
            problems.extend(validation_problems(exc, ("connectors", name)))
    for i, objective in enumerate(data.get("objectives") or []):
        for j, kr in enumerate(
            (objective or {}).get("key_results") or [] if isinstance(objective, dict) else []
        ):
            source = kr.get("source") if isinstance(kr, dict) else None
            if isinstance(source, dict) and source.get("connector") in classes:
                fields = {k: v for k, v in source.items() if k != "connector"}
                try:
                    classes[source["connector"]].Query.model_validate(fields)
                except ValidationError as exc:
                    problems.extend(
                        validation_problems(exc, ("objectives", i, "key_results", j, "source"))
                    )
    return problems


def check_sources(
    cfg: KrTrackerConfig, connectors: dict[str, ConfiguredConnector], problems: list[Problem]
) -> dict[str, ConnectorQuery]:
    """Check every Key Result's source; return each valid source's query by Key Result id."""
    queries: dict[str, ConnectorQuery] = {}
    for i, objective in enumerate(cfg.objectives):
        for j, kr in enumerate(objective.key_results):
            path = ("objectives", i, "key_results", j)
            check_source(kr, path, connectors, cfg, problems, queries)
    return queries
