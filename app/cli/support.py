"""What every `krtracker` command shares: the consoles, logging, opening the tracker.

The command modules (`app.cli.config`, `app.cli.serve`, `app.cli.data`) and `app.cli.main`
itself use these, so a config problem or an unusable database reads the same, with the
same exit code (2: config, 1: database), whichever command hit it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.exc import DBAPIError, OperationalError

from app.cli.log_redaction import install_log_redaction
from app.config.loading import ConfigError, database_url, load_config
from app.store.db import describe_database
from app.tracker import Tracker, open_tracker

console = Console()
errors = Console(stderr=True)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The TOML config file.")]
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LogLevel(StrEnum):
    """The levels `--log-level` accepts."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


# Set by the `krtracker` callback (`app.cli.main.main_options`) before any command runs.
global_options: dict[str, LogLevel | None] = {"log_level": None}


def configure_logging(default: LogLevel) -> LogLevel:
    """Log to stderr through the redacting filter (URLs are cut before any secret is known)."""
    level = global_options["log_level"] or default
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, force=True)
    install_log_redaction()
    return level


def open_or_exit(
    config: Path, *, serves_api: bool = False, public_url: str | None = None
) -> Tracker:
    """Open the tracker, or print one line per problem and exit (2: config, 1: database)."""
    if not logging.getLogger().handlers:
        configure_logging(LogLevel.WARNING)
    try:
        tracker = open_tracker(config, serves_api=serves_api, public_url=public_url)
    except ConfigError as exc:
        print_problems(config, exc)
        raise typer.Exit(2) from None
    except (OperationalError, DBAPIError) as exc:
        database_failed(config, exc)
    # From here on the log filter knows the config's secrets (`app.config.secrets`).
    install_log_redaction(tracker.redactor)
    for warning in tracker.loaded.warnings:
        print_problem("warning", warning.path, warning.message)
    return tracker


def database_failed(config: Path | None, exc: Exception, *, url: str | None = None) -> NoReturn:
    """Print why the database could not be used, in one line without secrets, and exit 1."""
    if url is None and config is not None:
        url = database_url(load_config(config, serves_api=False).config)
    cause = getattr(exc, "orig", None) or exc
    reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    if url:
        from sqlalchemy.engine import make_url

        password = make_url(url).password if "://" in url else None
        if password:
            reason = reason.replace(str(password), "***")
    where = describe_database(url or "")
    errors.print(
        f"error: cannot use the database ({where}): {reason}", highlight=False, soft_wrap=True
    )
    raise typer.Exit(1)


def print_problem(severity: str, where: str, message: str) -> None:
    """Print one problem to stderr as `severity: where: message`."""
    # Messages quote the user's config (e.g. "band = [low, high]"): never parse them as markup.
    style = "red" if severity == "error" else "yellow"
    errors.print(
        Text.assemble((severity, style), f": {where}: {message}"), highlight=False, soft_wrap=True
    )


def print_problems(path: Path, exc: ConfigError) -> None:
    """Print every problem of a refused config; one without a key path names the file."""
    for problem in exc.problems:
        print_problem(problem.severity, problem.path or str(path), problem.message)


def utc_text(ts: int) -> str:
    """Return a Unix timestamp as `2026-01-31T09:00:00Z`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
