"""Checks that span several keys of a config: ids, connectors, sources, tokens, webhooks.

Each check appends `Problem`s (errors or warnings, each with its key path) instead of
stopping at the first, so `krtracker validate` can print them all.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import ValidationError
from standardwebhooks import Webhook

from app.config_models import KeyResultConfig, KrTrackerConfig, ObjectiveConfig
from app.config_runtime import check_every, private_target_warning
from app.connector_registry import UnknownConnectorType, connector_class
from app.domain import Direction
from connectors.base import (
    Connector,
    ConnectorQuery,
    ConnectorSettings,
    MemoryStateStore,
    StateStore,
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in the file, with its key path."""

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.message}" if self.path else self.message


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


def format_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as a key path: `objectives[1].key_results[0].target`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_problems(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[Problem]:
    problems = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling)"
        problems.append(Problem(format_path((*prefix, *error["loc"])), message))
    return problems


def check_connectors(
    cfg: KrTrackerConfig, problems: list[Problem]
) -> dict[str, ConfiguredConnector]:
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


def _check_key_result(
    kr: KeyResultConfig, path: tuple[int | str, ...], problems: list[Problem]
) -> None:
    def bad(key: str, message: str) -> None:
        problems.append(Problem(format_path((*path, key)), message))

    if kr.every and kr.cron:
        bad("cron", "give either every or cron, not both")
    _check_range(kr, bad)
    if kr.direction.is_band:
        if kr.baseline is not None or kr.relative_target is not None:
            bad("direction", f"a {kr.direction} Key Result has no baseline or relative target")
        if kr.direction is not Direction.WITHIN and kr.target is None:
            bad("target", f"an {kr.direction} Key Result needs target (the threshold)")
        if kr.direction is Direction.WITHIN:
            if kr.band is None:
                bad("band", "a within Key Result needs band = [low, high]")
            elif kr.band[0] >= kr.band[1]:
                bad("band", f"low {kr.band[0]} must be below high {kr.band[1]}")
            if kr.target is not None:
                bad("target", "a within Key Result uses band, not target")
        elif kr.band is not None:
            bad("band", f"band is for within; an {kr.direction} Key Result uses target")
        return
    if kr.band is not None:
        bad("band", f"band is for within Key Results, not {kr.direction}")
    relative = kr.relative_target
    if relative is not None:
        if relative == 0:
            bad("target", "a relative target of 0% equals the baseline")
        elif kr.baseline == 0:
            bad("target", f"{kr.target} of a baseline of 0 is 0: give an absolute target")
        elif (relative > 0) != (kr.direction is Direction.INCREASE):
            bad("target", f"{kr.target} moves the wrong way for direction {kr.direction}")
    elif isinstance(kr.target, float) and isinstance(kr.baseline, float):
        if kr.target == kr.baseline:
            bad("target", f"target equals baseline ({kr.baseline}); progress would be undefined")
        elif (kr.target > kr.baseline) != (kr.direction is Direction.INCREASE):
            bad(
                "target",
                f"target {kr.target} is on the wrong side of baseline {kr.baseline} "
                f"for direction {kr.direction}",
            )


def _check_range(kr: KeyResultConfig, bad: Callable[[str, str], None]) -> None:
    """Check `range = [low, high]`: ordered, and holding the baseline, target and band."""
    if kr.range is None:
        return
    low, high = kr.range
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        bad("range", f"low {low} must be a number below high {high}")
        return
    named = [("baseline", kr.baseline), ("target", kr.target)]
    named += [("band", end) for end in kr.band or ()]
    for key, value in named:
        if isinstance(value, float) and not low <= value <= high:
            bad(key, f"{value} is outside range [{low}, {high}], the values this Key Result takes")


def _check_start(
    kr: KeyResultConfig,
    objective: ObjectiveConfig,
    path: tuple[int | str, ...],
    problems: list[Problem],
) -> None:
    """Check a Key Result's own `start` lies inside its objective's period."""
    if kr.start is None or not (objective.period or (objective.start and objective.end)):
        return
    first, after = (moment.date() for moment in objective.period_bounds())
    if not first <= kr.start < after:
        last = after - timedelta(days=1)
        message = f"{kr.start} is outside its objective's period ({first} to {last})"
        problems.append(Problem(format_path((*path, "start")), message))


def _check_sources(
    kr: KeyResultConfig,
    path: tuple[int | str, ...],
    connectors: dict[str, ConfiguredConnector],
    cfg: KrTrackerConfig,
    problems: list[Problem],
    queries: dict[str, ConnectorQuery],
) -> None:
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


def check_objectives(
    cfg: KrTrackerConfig,
    connectors: dict[str, ConfiguredConnector],
    problems: list[Problem],
) -> dict[str, ConnectorQuery]:
    queries: dict[str, ConnectorQuery] = {}
    objective_ids: dict[str, int] = {}
    kr_ids: dict[str, str] = {}
    for i, objective in enumerate(cfg.objectives):
        path: tuple[int | str, ...] = ("objectives", i)
        if objective.id in objective_ids:
            problems.append(
                Problem(
                    format_path((*path, "id")),
                    f"duplicate objective id {objective.id!r} "
                    f"(first used at objectives[{objective_ids[objective.id]}])",
                )
            )
        objective_ids.setdefault(objective.id, i)
        if objective.period and (objective.start or objective.end):
            problems.append(Problem(format_path((*path, "period")), "give period or start/end"))
        elif not objective.period and not (objective.start and objective.end):
            problems.append(
                Problem(format_path(path), 'needs period = "YYYY-QN" or both start and end')
            )
        elif objective.start and objective.end and objective.end < objective.start:
            problems.append(
                Problem(
                    format_path((*path, "end")),
                    f"end {objective.end} is before start {objective.start}",
                )
            )
        for j, kr in enumerate(objective.key_results):
            kr_path = (*path, "key_results", j)
            if kr.id in kr_ids:
                problems.append(
                    Problem(
                        format_path((*kr_path, "id")),
                        f"duplicate Key Result id {kr.id!r} (first used at {kr_ids[kr.id]})",
                    )
                )
            kr_ids.setdefault(kr.id, format_path(kr_path))
            _check_key_result(kr, kr_path, problems)
            _check_start(kr, objective, kr_path, problems)
            _check_sources(kr, kr_path, connectors, cfg, problems, queries)
    for i, objective in enumerate(cfg.objectives):
        if objective.parent is not None and objective.parent not in objective_ids:
            problems.append(
                Problem(
                    format_path(("objectives", i, "parent")),
                    f"unknown parent objective {objective.parent!r}",
                )
            )
        elif objective.parent == objective.id:
            problems.append(
                Problem(
                    format_path(("objectives", i, "parent")),
                    "an objective cannot be its own parent",
                )
            )
    return queries


def check_database(url: str, problems: list[Problem]) -> None:
    """Refuse a database URL that krtracker cannot open with the installed drivers."""
    from app.config_runtime import database_url_problem

    message = database_url_problem(url)
    if message:
        problems.append(Problem("database.url", message))


def check_tokens(cfg: KrTrackerConfig, problems: list[Problem]) -> None:
    kept = []
    for i, token in enumerate(cfg.api.tokens):
        length = len(token.token.get_secret_value())
        path = format_path(("api", "tokens", i, "token"))
        if length == 0:
            problems.append(
                Problem(
                    path,
                    f"token {token.name!r} is empty (its environment variable "
                    "is unset?): it is ignored, so writes are refused",
                    "warning",
                )
            )
            continue
        if length < 16:
            problems.append(
                Problem(path, f"token {token.name!r} is too short: use at least 16 characters")
            )
        kept.append(token)
    cfg.api.tokens = kept


def check_webhooks(cfg: KrTrackerConfig, problems: list[Problem]) -> None:
    names: set[str] = set()
    objective_ids = {o.id for o in cfg.objectives}
    for i, webhook in enumerate(cfg.webhooks):
        path: tuple[int | str, ...] = ("webhooks", i)
        if webhook.name in names:
            problems.append(
                Problem(format_path((*path, "name")), f"duplicate webhook {webhook.name!r}")
            )
        names.add(webhook.name)
        if webhook.format == "generic" and webhook.secret is not None:
            secret = webhook.secret.get_secret_value()
            try:
                Webhook(secret)
            except Exception:  # the library raises several types for a bad key
                problems.append(
                    Problem(
                        format_path((*path, "secret")),
                        "not a Standard Webhooks secret: use whsec_ followed by base64",
                    )
                )
            else:
                if not secret.startswith("whsec_"):
                    problems.append(
                        Problem(
                            format_path((*path, "secret")),
                            "a base64 key without the whsec_ prefix: it signs, but receivers "
                            "given the same value by the Standard Webhooks libraries expect "
                            "whsec_ followed by base64",
                            "warning",
                        )
                    )
        private = (
            private_target_warning(webhook.url, cfg.alerts.allow_private_targets)
            if webhook.url is not None
            else None
        )
        if private:
            problems.append(Problem(format_path((*path, "url")), private, "warning"))
        if webhook.format == "generic" and webhook.secret is None:
            problems.append(
                Problem(
                    format_path((*path, "secret")),
                    'a generic webhook is signed: set secret (e.g. secret = "${WEBHOOK_SECRET}")',
                )
            )
        for j, objective in enumerate(webhook.objectives or []):
            if objective not in objective_ids:
                problems.append(
                    Problem(
                        format_path((*path, "objectives", j)), f"unknown objective {objective!r}"
                    )
                )


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
