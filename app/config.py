"""The TOML config: Objectives and Key Results as code, connectors, database and API settings.

Loading happens in three steps, each reporting problems with their key path
(`objectives[1].key_results[0].target`): `${ENV}` and `*_file` interpolation, the shape
check (pydantic, unknown keys are errors), then the checks that span several keys
(duplicate ids, unknown connectors, each connector's own settings and query models).
"""

from __future__ import annotations

import builtins
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from croniter import croniter
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from app.connector_registry import UnknownConnectorType, connector_class
from app.domain import Aggregate, Direction
from app.durations import parse_duration
from connectors.base import (
    Connector,
    ConnectorQuery,
    ConnectorSettings,
    MemoryStateStore,
    StateStore,
)

SLUG = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
_RELATIVE_TARGET = re.compile(r"^\s*([+-]\d+(?:\.\d+)?)\s*%\s*$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

MAX_OBJECTIVES = 5
MAX_KEY_RESULTS = 5


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_number_or_relative(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number or a relative change such as \"-30%\"")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _RELATIVE_TARGET.match(value):
        return value.strip()
    raise ValueError(
        f"{value!r} is neither a number nor a relative change such as \"-30%\" or \"+20%\""
    )


def _check_baseline(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if value == "first_sample":
        return value
    raise ValueError(f"{value!r} is neither a number nor \"first_sample\"")


TargetSpec = Annotated[float | str, BeforeValidator(_check_number_or_relative)]
BaselineSpec = Annotated[float | Literal["first_sample"], BeforeValidator(_check_baseline)]


class DatabaseConfig(_Strict):
    """Where samples live: a SQLite file by default, PostgreSQL for several replicas."""

    url: str = "sqlite:///krtracker.db"


class ApiToken(_Strict):
    """A bearer token for the API; write scope is needed for every write endpoint."""

    name: str
    token: SecretStr
    scopes: list[Literal["read", "write"]] = ["read", "write"]


class ApiConfig(_Strict):
    """Who may call the API."""

    tokens: list[ApiToken] = []
    require_token_for_reads: bool = False
    public_url: str = "http://localhost:8080"


class StatusConfig(_Strict):
    """Thresholds of the status rules (see `app.progress`)."""

    at_risk_behind: float = Field(0.10, ge=0, le=1)
    off_track_behind: float = Field(0.25, ge=0, le=1)
    grace_fraction: float = Field(0.10, ge=0, le=1)
    stale_after_intervals: int = Field(3, ge=1)
    band_on_track_share: float = Field(0.90, ge=0, le=1)
    forecast_points: int = Field(30, ge=3)


class SchedulerConfig(_Strict):
    """How the sampler runs (see `app.scheduler` for why each default is what it is)."""

    max_workers: int = Field(16, ge=1, le=256)
    per_connector_concurrency: int = Field(4, ge=1, le=64)
    attempt_timeout_seconds: float = Field(60, gt=0)
    reevaluate_every: str = "5m"
    backoff_max: str = "1h"
    leader_poll_seconds: float = Field(5, gt=0)

    @field_validator("reevaluate_every", "backoff_max")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class ConnectorSection(BaseModel):
    """`[connectors.NAME]`: a `type` and that connector's own settings (checked later)."""

    model_config = ConfigDict(extra="allow")
    type: str


class SourceSpec(BaseModel):
    """A Key Result's `source`: a connector name and that connector's query fields."""

    model_config = ConfigDict(extra="allow")
    connector: str

    def query_fields(self) -> dict[str, Any]:
        """Return the connector-specific fields (everything but `connector`)."""
        return dict(self.model_extra or {})


class AggregationConfig(_Strict):
    """Take the current value as an aggregate of the samples in a trailing window."""

    function: Aggregate = Aggregate.AVG
    window: str

    @field_validator("window")
    @classmethod
    def _window_is_duration(cls, value: str) -> str:
        parse_duration(value)
        return value


def _check_amount(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number or a percentage such as \"5%\"")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("must not be negative")
        return float(value)
    if isinstance(value, str) and re.match(r"^\s*\d+(\.\d+)?\s*%\s*$", value):
        return value.strip()
    raise ValueError(f"{value!r} is neither a number nor a percentage such as \"5%\"")


AmountSpec = Annotated[float | str, BeforeValidator(_check_amount)]
EventName = Literal[
    "kr.regressed", "kr.status_changed", "kr.recovered", "kr.stale", "kr.achieved", "kr.forecast_miss"
]


class MuteWindow(_Strict):
    """A time range (with time zone) during which firing alerts are held back."""

    start: datetime
    end: datetime
    reason: str = ""


class AlertRulesConfig(_Strict):
    """Alert rules; `[alerts]` sets defaults, an objective's or KR's `alerts` overrides them."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    enabled: bool | None = None
    events: list[EventName] | None = None
    regression_threshold: AmountSpec | None = None
    regression_from: Literal["previous", "best"] | None = None
    hysteresis: AmountSpec | None = None
    for_samples: int | None = Field(None, ge=1, le=1000)
    for_: str | None = Field(None, alias="for")
    repeat_interval: str | None = None
    mute: list[MuteWindow] | None = None

    @field_validator("for_", "repeat_interval")
    @classmethod
    def _is_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class AlertsConfig(AlertRulesConfig):
    """`[alerts]`: default rules plus delivery settings."""

    allow_private_targets: list[str] = []
    max_retry_age: str = "24h"
    delivery_timeout_seconds: float = Field(10, gt=0, le=60)


class WebhookConfig(_Strict):
    """`[[webhooks]]`: where events go, in which format, for which events, objectives, teams."""

    name: str = Field(pattern=SLUG)
    url: str = Field(pattern=r"^https?://")
    format: Literal["generic", "slack", "alertmanager"] = "generic"
    secret: SecretStr | None = None
    headers: dict[str, SecretStr] = {}
    events: list[EventName] | None = None
    objectives: list[str] | None = None
    teams: list[str] | None = None


class KeyResultConfig(_Strict):
    """One Key Result as written in the file."""

    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=1)
    unit: str = ""
    direction: Direction
    baseline: BaselineSpec | None = None
    target: TargetSpec | None = None
    band: tuple[float, float] | None = None
    source: SourceSpec | None = None
    every: str | None = None
    cron: str | None = None
    aggregate: AggregationConfig | None = None
    description: str = ""
    revision_note: str | None = None
    alerts: AlertRulesConfig | None = None

    @field_validator("every")
    @classmethod
    def _every_is_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("cron")
    @classmethod
    def _cron_is_valid(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid 5-field cron expression")
        return value

    @property
    def interval_seconds(self) -> int | None:
        """Return the sampling interval, or None for cron or unscheduled KRs."""
        return parse_duration(self.every) if self.every else None

    @property
    def relative_target(self) -> float | None:
        """Return a relative target as a fraction (`"-30%"` -> -0.3), else None."""
        if isinstance(self.target, str):
            match = _RELATIVE_TARGET.match(self.target)
            assert match is not None
            return float(match.group(1)) / 100.0
        return None


class ObjectiveConfig(_Strict):
    """One Objective and its Key Results."""

    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=1)
    owner: str | None = None
    team: str | None = None
    period: str | None = None
    start: date | None = None
    end: date | None = None
    parent: str | None = None
    description: str = ""
    alerts: AlertRulesConfig | None = None
    key_results: list[KeyResultConfig] = []

    @field_validator("period")
    @classmethod
    def _period_is_quarter(cls, value: str | None) -> str | None:
        if value is not None and not _QUARTER.match(value):
            raise ValueError(f"{value!r} is not a quarter; write it as \"2026-Q4\"")
        return value

    def period_bounds(self) -> tuple[datetime, datetime]:
        """Return the period as [start, end) in UTC; `end` is the day after the last day."""
        if self.period:
            match = _QUARTER.match(self.period)
            assert match is not None
            year, quarter = int(match.group(1)), int(match.group(2))
            first = date(year, 3 * quarter - 2, 1)
            after = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
        else:
            assert self.start is not None and self.end is not None
            first, after = self.start, self.end + timedelta(days=1)
        return (
            datetime.combine(first, time(), tzinfo=UTC),
            datetime.combine(after, time(), tzinfo=UTC),
        )


class KrTrackerConfig(_Strict):
    """The whole file."""

    database: DatabaseConfig = DatabaseConfig()
    api: ApiConfig = ApiConfig()
    status: StatusConfig = StatusConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    alerts: AlertsConfig = AlertsConfig()
    webhooks: list[WebhookConfig] = []
    connectors: dict[str, ConnectorSection] = {}
    objectives: list[ObjectiveConfig] = []


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in the file, with its key path."""

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    """The file cannot be used; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors))


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


@dataclass(frozen=True)
class LoadedConfig:
    """A config that passed every check, with connectors and queries resolved."""

    config: KrTrackerConfig
    connectors: dict[str, ConfiguredConnector]
    queries: dict[str, ConnectorQuery]
    warnings: list[Problem] = field(default_factory=list)

    def key_results(self) -> list[tuple[ObjectiveConfig, KeyResultConfig]]:
        """Return every (objective, key result) pair in file order."""
        return [(o, kr) for o in self.config.objectives for kr in o.key_results]


def format_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as a key path: `objectives[1].key_results[0].target`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _interpolate(node: Any, path: tuple[int | str, ...], problems: list[Problem]) -> Any:
    """Replace `${VAR}` in strings and read `KEY_file` into `KEY` (secrets stay out of files)."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if isinstance(key, str) and key.endswith("_file") and isinstance(value, str):
                target = key.removesuffix("_file")
                if target in node:
                    problems.append(
                        Problem(format_path((*path, key)), f"give either {target} or {key}")
                    )
                    continue
                try:
                    out[target] = Path(_interpolate(value, (*path, key), problems)).read_text(
                        encoding="utf-8"
                    ).strip()
                except OSError as exc:
                    problems.append(
                        Problem(format_path((*path, key)), f"cannot read {value!r}: {exc.strerror}")
                    )
                continue
            out[key] = _interpolate(value, (*path, key), problems)
        return out
    if isinstance(node, list):
        return [_interpolate(v, (*path, i), problems) for i, v in enumerate(node)]
    if isinstance(node, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name not in os.environ and default is not None:
                return default
            if name not in os.environ:
                problems.append(
                    Problem(format_path(path), f"environment variable {name} is not set")
                )
                return ""
            return os.environ[name]

        return _ENV_REF.sub(substitute, node.replace("$${", "\0")).replace("\0", "${")
    return node


def _validation_problems(
    exc: ValidationError, prefix: tuple[int | str, ...] = ()
) -> list[Problem]:
    problems = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling)"
        problems.append(Problem(format_path((*prefix, *error["loc"])), message))
    return problems


def _check_connectors(
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
            problems.extend(_validation_problems(exc, path))
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
        problems.extend(_validation_problems(exc, source_path))


def _check_objectives(
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
                Problem(format_path(path), "needs period = \"YYYY-QN\" or both start and end")
            )
        elif objective.start and objective.end and objective.end < objective.start:
            problems.append(
                Problem(
                    format_path((*path, "end")),
                    f"end {objective.end} is before start {objective.start}",
                )
            )
        if len(objective.key_results) > MAX_KEY_RESULTS:
            problems.append(
                Problem(
                    format_path((*path, "key_results")),
                    f"{len(objective.key_results)} Key Results; keep to {MAX_KEY_RESULTS} "
                    "or fewer so each one matters",
                    "warning",
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
            _check_sources(kr, kr_path, connectors, cfg, problems, queries)
            if kr.source is None and kr.target is None and kr.band is None:
                problems.append(
                    Problem(
                        format_path(kr_path),
                        "has neither a data source nor a target: it can never show progress",
                        "warning",
                    )
                )
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
                Problem(format_path(("objectives", i, "parent")), "an objective cannot be its own parent")
            )
    if len(cfg.objectives) > MAX_OBJECTIVES:
        problems.append(
            Problem(
                "objectives",
                f"{len(cfg.objectives)} objectives; keep to {MAX_OBJECTIVES} or fewer to stay focused",
                "warning",
            )
        )
    return queries


def _check_tokens(cfg: KrTrackerConfig, problems: list[Problem]) -> None:
    kept = []
    for i, token in enumerate(cfg.api.tokens):
        length = len(token.token.get_secret_value())
        path = format_path(("api", "tokens", i, "token"))
        if length == 0:
            problems.append(Problem(path, f"token {token.name!r} is empty (its environment variable "
                                          "is unset?): it is ignored, so writes are refused", "warning"))
            continue
        if length < 16:
            problems.append(Problem(path, f"token {token.name!r} is too short: use at least 16 characters"))
        kept.append(token)
    cfg.api.tokens = kept


def _check_webhooks(cfg: KrTrackerConfig, problems: list[Problem]) -> None:
    names: set[str] = set()
    objective_ids = {o.id for o in cfg.objectives}
    for i, webhook in enumerate(cfg.webhooks):
        path: tuple[int | str, ...] = ("webhooks", i)
        if webhook.name in names:
            problems.append(Problem(format_path((*path, "name")), f"duplicate webhook {webhook.name!r}"))
        names.add(webhook.name)
        if webhook.format == "generic" and webhook.secret is None:
            problems.append(Problem(format_path((*path, "secret")),
                                    "a generic webhook is signed: set secret (e.g. secret = \"${WEBHOOK_SECRET}\")"))
        for j, objective in enumerate(webhook.objectives or []):
            if objective not in objective_ids:
                problems.append(Problem(format_path((*path, "objectives", j)), f"unknown objective {objective!r}"))


def _raw_source_problems(data: Any) -> list[Problem]:
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
            problems.extend(_validation_problems(exc, ("connectors", name)))
    for i, objective in enumerate(data.get("objectives") or []):
        for j, kr in enumerate((objective or {}).get("key_results") or [] if isinstance(objective, dict) else []):
            source = kr.get("source") if isinstance(kr, dict) else None
            if isinstance(source, dict) and source.get("connector") in classes:
                fields = {k: v for k, v in source.items() if k != "connector"}
                try:
                    classes[source["connector"]].Query.model_validate(fields)
                except ValidationError as exc:
                    problems.extend(
                        _validation_problems(exc, ("objectives", i, "key_results", j, "source"))
                    )
    return problems


def parse_config(raw: dict[str, Any]) -> LoadedConfig:
    """Check a parsed TOML document; raise ConfigError listing every problem."""
    problems: list[Problem] = []
    data = _interpolate(raw, (), problems)
    try:
        cfg = KrTrackerConfig.model_validate(data)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc))
        problems.extend(_raw_source_problems(data))
        raise ConfigError(problems) from None
    connectors = _check_connectors(cfg, problems)
    queries = _check_objectives(cfg, connectors, problems)
    _check_webhooks(cfg, problems)
    _check_tokens(cfg, problems)
    if any(p.severity == "error" for p in problems):
        raise ConfigError(problems)
    return LoadedConfig(cfg, connectors, queries, [p for p in problems if p.severity == "warning"])


def load_config(path: str | Path) -> LoadedConfig:
    """Read and check a config file; raise ConfigError listing every problem."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([Problem("", f"{path}: cannot read: {exc.strerror}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([Problem("", f"{path}: not valid TOML: {exc}")]) from None
    return parse_config(raw)


def database_url(cfg: KrTrackerConfig) -> str:
    """Return the database URL; `KRTRACKER_DATABASE_URL` overrides the file."""
    return os.environ.get("KRTRACKER_DATABASE_URL") or cfg.database.url
