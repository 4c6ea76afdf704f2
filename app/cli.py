"""The `krtracker` command: init, validate, serve, worker, db, status, report, sample."""

from __future__ import annotations

import copy
import errno
import logging
import os
import re
import signal
import socket
import threading
import time
from datetime import UTC, datetime
from enum import StrEnum
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.exc import DBAPIError, OperationalError

from app.annotations import github_annotations
from app.config import ConfigError, DatabaseConfig, database_url, load_config
from app.config_models import SLUG
from app.db import describe_database, upgrade_database
from app.leader import leader_lock_for
from app.log_redaction import LOG_FILTER, install_log_redaction
from app.openslo import import_openslo
from app.openslo_files import read_openslo_files
from app.report_command import ReportError, ReportFormat, render_report, write_report
from app.sampling import sample_key_result
from app.scheduler import LeaderElectedScheduler
from app.starter_config import starter_config
from app.status_table import print_status
from app.tracker import Tracker, open_tracker

app = typer.Typer(help="Keep engineering Key Results honest.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
import_app = typer.Typer(help="Turn other tools' files into Key Results.", no_args_is_help=True)
app.add_typer(import_app, name="import")
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


_options: dict[str, LogLevel | None] = {"log_level": None}


def _package_version() -> str:
    try:
        return version("krtracker")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        console.print(f"krtracker {_package_version()}", highlight=False)
        raise typer.Exit()


@app.callback()
def main_options(
    log_level: Annotated[
        LogLevel | None,
        typer.Option("--log-level", help="Log level (serve and worker: info; others: warning)."),
    ] = None,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Keep engineering Key Results honest."""
    _options["log_level"] = log_level


def _configure_logging(default: LogLevel) -> LogLevel:
    """Log to stderr through the redacting filter (URLs are cut before any secret is known)."""
    level = _options["log_level"] or default
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, force=True)
    install_log_redaction()
    return level


def _uvicorn_log_config() -> dict[str, Any]:
    """Return uvicorn's logging config with the redacting filter on each of its handlers."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": lambda: LOG_FILTER}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    return config


def _open(config: Path, *, serves_api: bool = False, public_url: str | None = None) -> Tracker:
    """Open the tracker, or print one line per problem and exit (2: config, 1: database)."""
    if not logging.getLogger().handlers:
        _configure_logging(LogLevel.WARNING)
    try:
        tracker = open_tracker(config, serves_api=serves_api, public_url=public_url)
    except ConfigError as exc:
        _print_problems(config, exc)
        raise typer.Exit(2) from None
    except (OperationalError, DBAPIError) as exc:
        _database_failed(config, exc)
    # From here on the log filter knows the config's secrets (`app.config_secrets`).
    install_log_redaction(tracker.redactor)
    for warning in tracker.loaded.warnings:
        _print_problem("warning", warning.path, warning.message)
    return tracker


def _database_failed(config: Path | None, exc: Exception, *, url: str | None = None) -> NoReturn:
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


def _print_problem(severity: str, where: str, message: str) -> None:
    # Messages quote the user's config (e.g. "band = [low, high]"): never parse them as markup.
    style = "red" if severity == "error" else "yellow"
    errors.print(
        Text.assemble((severity, style), f": {where}: {message}"), highlight=False, soft_wrap=True
    )


def _print_problems(path: Path, exc: ConfigError) -> None:
    for problem in exc.problems:
        _print_problem(problem.severity, problem.path or str(path), problem.message)


def _utc(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ValidateFormat(StrEnum):
    """How `krtracker validate` prints problems."""

    text = "text"
    github = "github"


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="The TOML config file(s).")],
    output: Annotated[
        ValidateFormat,
        typer.Option("--format", help="text, or github: workflow annotations with line numbers."),
    ] = ValidateFormat.text,
) -> None:
    """Check config files; print every problem with its key path; exit 2 on errors."""
    failed = False
    for file in files:
        failed |= not _validate_one(file, output)
    if failed:
        raise typer.Exit(2)


def _validate_one(file: Path, output: ValidateFormat) -> bool:
    try:
        loaded = load_config(file, lint=True)
    except ConfigError as exc:
        count = sum(1 for p in exc.problems if p.severity == "error")
        if output is ValidateFormat.github:
            for command in github_annotations(file, exc.problems):
                print(command)
        else:
            _print_problems(file, exc)
        errors.print(f"{file}: {count} error(s)", highlight=False, soft_wrap=True)
        return False
    if output is ValidateFormat.github:
        for command in github_annotations(file, loaded.warnings):
            print(command)
    else:
        for warning in loaded.warnings:
            _print_problem("warning", warning.path, warning.message)
    krs = len(loaded.key_results())
    console.print(
        f"{file}: OK ({len(loaded.config.objectives)} objectives, {krs} Key Results, "
        f"{len(loaded.warnings)} warning(s))",
        highlight=False,
        soft_wrap=True,
    )
    return True


@import_app.command("openslo")
def import_openslo_command(
    files: Annotated[list[Path], typer.Argument(help="OpenSLO v1 YAML file(s).")],
    objective: Annotated[
        str | None, typer.Option("--objective", help="Put every Key Result under this objective.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write here (else stdout).")] = None,
) -> None:
    """Write Key Results for OpenSLO SLOs; report each document not imported, and why.

    Exits 0 when everything was imported, 1 when some documents were not (the rest is
    written), 2 when nothing could be.
    """
    if objective is not None and not re.fullmatch(SLUG, objective):
        errors.print(f"--objective: {objective!r} is not an id (lower case, digits, - _ .)")
        raise typer.Exit(2)
    documents, problems = read_openslo_files(files)
    result = import_openslo(documents, objective=objective, now=datetime.now(UTC))
    for problem in [*problems, *result.problems]:
        errors.print(f"not imported: {problem}", highlight=False, soft_wrap=True, markup=False)
    if result.key_results == 0:
        errors.print("nothing to import: no SLO could be mapped to a Key Result")
        raise typer.Exit(2)
    if out is None:
        print(result.toml, end="")
    else:
        out.write_text(result.toml, encoding="utf-8")
        errors.print(f"{out}: {result.key_results} Key Result(s)", highlight=False)
    raise typer.Exit(1 if problems or result.problems else 0)


@app.command()
def init(
    file: Annotated[Path, typer.Argument(help="Where to write it.")] = Path("krtracker.toml"),
) -> None:
    """Write a starter config for the current quarter (never over an existing file)."""
    if file.exists():
        errors.print(f"{file} exists; choose another name or remove it first", highlight=False)
        raise typer.Exit(2)
    today = datetime.fromtimestamp(time.time(), UTC).date()
    file.write_text(starter_config(name=str(file), today=today), encoding="utf-8")
    console.print(f"wrote {file}; check it with: krtracker validate {file}", highlight=False)


@db_app.command("upgrade")
def db_upgrade(
    config: Annotated[Path | None, typer.Option("--config", "-c")] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Database URL (else config or env).")
    ] = None,
) -> None:
    """Apply pending migrations (also done at every start) and say which ran."""
    if url is None:
        if config is not None:
            try:
                url = database_url(load_config(config, serves_api=False).config)
            except ConfigError as exc:
                _print_problems(config, exc)
                raise typer.Exit(2) from None
        else:
            url = os.environ.get("KRTRACKER_DATABASE_URL") or DatabaseConfig().url
    try:
        applied = upgrade_database(url)
    except (OperationalError, DBAPIError) as exc:
        _database_failed(None, exc, url=url)
    for migration in applied:
        console.print(f"applied {migration}", highlight=False)
    if not applied:
        console.print("the database is already up to date")


def _start_scheduler(tracker: Tracker) -> LeaderElectedScheduler:
    scheduler = LeaderElectedScheduler(tracker, leader_lock_for(tracker.engine))
    scheduler.start()
    return scheduler


def _bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket, or print one line and exit 1 (before anything starts)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        errors.print(
            f"error: cannot listen on {host}:{port}: {reason}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from None
    sock.set_inheritable(True)
    return sock


@app.command()
def serve(
    config: ConfigOption,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    scheduler: Annotated[bool, typer.Option(help="Also run the sampler (leader-elected).")] = True,
) -> None:
    """Run the API, and the sampler in the same process unless --no-scheduler."""
    import uvicorn

    from app.api import create_app

    level = _configure_logging(LogLevel.INFO)
    # Bind first: a port in use must fail before this process becomes the scheduler leader.
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::", "::1", "localhost") else host
    tracker = _open(config, serves_api=True, public_url=f"http://{shown}:{bound_port}")
    sampler = _start_scheduler(tracker) if scheduler else None
    try:
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(tracker), log_level=level.value, log_config=_uvicorn_log_config()
            )
        )
        server.run(sockets=[sock])
    finally:
        if sampler:
            sampler.stop()
        tracker.close()
        sock.close()


@app.command()
def worker(config: ConfigOption) -> None:
    """Run only the sampler (leader-elected: several workers may run, one samples)."""
    _configure_logging(LogLevel.INFO)
    tracker = _open(config)
    sampler = _start_scheduler(tracker)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    sampler.stop()
    tracker.close()


@app.command()
def status(config: ConfigOption) -> None:
    """Print objectives and Key Results with progress bars and status."""
    from sqlmodel import Session

    _configure_logging(LogLevel.WARNING)
    tracker = _open(config)
    # Statuses move with time; printing them does not run the alert rules.
    tracker.key_result_writer(run_alerts=False).reevaluate_each()
    with Session(tracker.engine) as session:
        print_status(console, session)
    tracker.close()


@app.command()
def report(
    config: ConfigOption,
    period: Annotated[str, typer.Option("--period", help='The quarter, e.g. "2026-Q4".')],
    output: Annotated[
        ReportFormat, typer.Option("--format", help="md (wiki), html (one file) or json.")
    ] = ReportFormat.md,
    out: Annotated[Path | None, typer.Option("--out", help="Write here, not to stdout.")] = None,
) -> None:
    """Print or write the period's retrospective (scores, course corrections, data quality)."""
    _configure_logging(LogLevel.WARNING)
    tracker = _open(config)
    try:
        text = render_report(tracker, period=period, output=output)
    except ReportError as exc:
        errors.print(str(exc), highlight=False, markup=False)
        raise typer.Exit(2) from None
    finally:
        tracker.close()
    failure = write_report(text, out)
    if failure:
        errors.print(failure, highlight=False, markup=False)
        raise typer.Exit(1)
    if out is None:
        print(text, end="")
    else:
        console.print(f"wrote {out}", highlight=False, markup=False)


@app.command()
def sample(
    config: ConfigOption,
    kr: Annotated[str | None, typer.Option("--kr", help="Only this Key Result.")] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Accepted for compatibility: sampling is always once.")
    ] = True,
) -> None:
    """Sample now, once, and print what was stored (`worker` samples on schedule)."""
    _configure_logging(LogLevel.WARNING)
    tracker = _open(config)
    targets = [kr] if kr else [k for k in tracker.entries if tracker.is_polled(k)]
    if kr and not tracker.is_polled(kr):
        errors.print(f"--kr: {kr!r} is not a polled Key Result in {config}")
        tracker.close()
        raise typer.Exit(2)
    # Polled samples have one writer (the recorder keeps their figures in memory), so a
    # running scheduler must not be written past: take its lock or refuse.
    lock = leader_lock_for(tracker.engine)
    if not lock.try_acquire():
        errors.print(
            "a krtracker scheduler (serve or worker) is running on this database and samples on "
            "schedule; stop it to sample by hand"
        )
        tracker.close()
        raise typer.Exit(2)
    failed = 0
    for kr_id in targets:
        entry = tracker.entries[kr_id]
        assert entry.schedule is not None
        outcome = sample_key_result(
            tracker, kr_id, scheduled_ts=entry.schedule.instant_at_or_before(tracker.now())
        )
        if outcome.ok:
            console.print(
                f"{kr_id}: stored {outcome.value!r} at {_utc(outcome.scheduled_ts)} -> "
                f"{outcome.status} ({outcome.status_reason})",
                highlight=False,
                soft_wrap=True,
            )
        else:
            failed += 1
            console.print(f"{kr_id}: [red]{outcome.error_kind}[/]: {outcome.error}", soft_wrap=True)
    lock.release()
    tracker.close()
    raise typer.Exit(1 if failed else 0)


def main() -> None:
    """Entry point of the `krtracker` console script."""
    app()
