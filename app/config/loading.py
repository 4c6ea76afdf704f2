"""Load the TOML config: Objectives and Key Results as code, connectors, database and API.

Loading happens in three steps, each reporting problems with their key path
(`objectives[1].key_results[0].target`): `${ENV}` and `*_file` interpolation (here), the
shape check (`app.config.models` and the section models it imports, unknown keys are
errors), then the checks that span several keys (`app.config.checks` and the modules
beside it: duplicate ids, unknown connectors, each connector's own settings and query
models). The models and check results are re-exported from here.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from app.config.base import SLUG, AlertRulesConfig, MuteWindow
from app.config.checks import check_database, check_tokens, check_webhooks
from app.config.delivery import AlertsConfig, WebhookConfig
from app.config.digests import check_digests, check_email, check_reminders
from app.config.lint import MAX_KEY_RESULTS, MAX_OBJECTIVES, lint_problems
from app.config.models import (
    ApiConfig,
    ApiToken,
    ConnectorSection,
    DatabaseConfig,
    KrTrackerConfig,
    SchedulerConfig,
    StatusConfig,
)
from app.config.objective_checks import check_objectives
from app.config.objectives import AggregationConfig, KeyResultConfig, ObjectiveConfig, SourceSpec
from app.config.problems import Problem, format_path, validation_problems
from app.config.source_checks import (
    ConfiguredConnector,
    check_connectors,
    check_sources,
    raw_source_problems,
)

if TYPE_CHECKING:
    from connectors.base import ConnectorQuery

__all__ = [
    "MAX_KEY_RESULTS",
    "MAX_OBJECTIVES",
    "SLUG",
    "AggregationConfig",
    "AlertRulesConfig",
    "AlertsConfig",
    "ApiConfig",
    "ApiToken",
    "ConfigError",
    "ConfiguredConnector",
    "ConnectorSection",
    "DatabaseConfig",
    "KeyResultConfig",
    "KrTrackerConfig",
    "LoadedConfig",
    "MuteWindow",
    "ObjectiveConfig",
    "Problem",
    "SchedulerConfig",
    "SourceSpec",
    "StatusConfig",
    "WebhookConfig",
    "database_url",
    "format_path",
    "load_config",
    "parse_config",
]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """The file cannot be used; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors))


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
                    out[target] = (
                        Path(_interpolate(value, (*path, key), problems))
                        .read_text(encoding="utf-8")
                        .strip()
                    )
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


_TOKEN_PATH = re.compile(r"^api\.tokens\[\d+\]\.token$")


def parse_config(
    raw: dict[str, Any], *, serves_api: bool = True, lint: bool = False
) -> LoadedConfig:
    """Check a parsed TOML document; raise ConfigError listing every problem.

    With `serves_api=False` (commands that do not serve the API: status, sample, worker) a
    token whose environment variable is unset is not an error: the token is ignored, with
    the one warning `check_tokens` gives for an empty token.
    """
    problems: list[Problem] = []
    data = _interpolate(raw, (), problems)
    if not serves_api:
        problems = [p for p in problems if not _TOKEN_PATH.match(p.path)]
    try:
        cfg = KrTrackerConfig.model_validate(data)
    except ValidationError as exc:
        problems.extend(validation_problems(exc))
        problems.extend(raw_source_problems(data))
        raise ConfigError(problems) from None
    connectors = check_connectors(cfg, problems)
    check_objectives(cfg, problems)
    queries = check_sources(cfg, connectors, problems)
    check_webhooks(cfg, problems)
    check_digests(cfg, problems)
    check_email(cfg, problems)
    check_reminders(cfg, problems)
    check_tokens(cfg, problems)
    check_database(database_url(cfg), problems)
    if any(p.severity == "error" for p in problems):
        raise ConfigError(problems)
    if lint:  # practice warnings: only `krtracker validate` asks, so serve/status stay quiet
        problems.extend(lint_problems(cfg))
    return LoadedConfig(cfg, connectors, queries, [p for p in problems if p.severity == "warning"])


def load_config(path: str | Path, *, serves_api: bool = True, lint: bool = False) -> LoadedConfig:
    """Read and check a config file; raise ConfigError listing every problem."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([Problem("", f"{path}: cannot read: {exc.strerror}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([Problem("", f"{path}: not valid TOML: {exc}")]) from None
    return parse_config(raw, serves_api=serves_api, lint=lint)


def database_url(cfg: KrTrackerConfig) -> str:
    """Return the database URL; `KRTRACKER_DATABASE_URL` overrides the file."""
    return os.environ.get("KRTRACKER_DATABASE_URL") or cfg.database.url
