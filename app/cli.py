"""The `krtracker` command (a public contract): serve, worker, validate, db, status, sample."""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from app.annotations import github_annotations
from app.config import ConfigError, DatabaseConfig, database_url, load_config
from app.config_models import SLUG
from app.db import upgrade_database
from app.evaluation import reevaluate_all
from app.leader import leader_lock_for
from app.openslo import import_openslo
from app.openslo_files import read_openslo_files
from app.sampling import sample_key_result
from app.scheduler import LeaderElectedScheduler
from app.store import list_key_results, list_objectives
from app.tracker import Tracker, open_tracker

app = typer.Typer(help="Keep engineering Key Results honest.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
import_app = typer.Typer(help="Turn other tools' files into Key Results.", no_args_is_help=True)
app.add_typer(import_app, name="import")
console = Console()
errors = Console(stderr=True)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The TOML config file.")]
STATUS_STYLE = {
    "achieved": "bold green",
    "on_track": "green",
    "at_risk": "yellow",
    "off_track": "red",
    "error": "bold red",
    "stale": "magenta",
    "no_data": "dim",
    "not_started": "dim",
    "closed": "blue",
}


def _open(config: Path) -> Tracker:
    try:
        return open_tracker(config)
    except ConfigError as exc:
        _print_problems(config, exc)
        raise typer.Exit(2) from None


def _print_problem(severity: str, where: str, message: str) -> None:
    # Messages quote the user's config (e.g. "band = [low, high]"): never parse them as markup.
    style = "red" if severity == "error" else "yellow"
    errors.print(
        Text.assemble((severity, style), f": {where}: {message}"), highlight=False, soft_wrap=True
    )


def _print_problems(path: Path, exc: ConfigError) -> None:
    for problem in exc.problems:
        _print_problem(problem.severity, problem.path or str(path), problem.message)


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
        loaded = load_config(file)
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


@db_app.command("upgrade")
def db_upgrade(
    config: Annotated[Path | None, typer.Option("--config", "-c")] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Database URL (else config or env).")
    ] = None,
) -> None:
    """Apply pending migrations (also done at every start)."""
    if url is None:
        if config is not None:
            try:
                url = database_url(load_config(config).config)
            except ConfigError as exc:
                _print_problems(config, exc)
                raise typer.Exit(2) from None
        else:
            url = os.environ.get("KRTRACKER_DATABASE_URL") or DatabaseConfig().url
    upgrade_database(url)
    console.print("database is up to date")


def _start_scheduler(tracker: Tracker) -> LeaderElectedScheduler:
    scheduler = LeaderElectedScheduler(tracker, leader_lock_for(tracker.engine))
    scheduler.start()
    return scheduler


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

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    tracker = _open(config)
    sampler = _start_scheduler(tracker) if scheduler else None
    try:
        uvicorn.run(create_app(tracker), host=host, port=port, log_level="info")
    finally:
        if sampler:
            sampler.stop()
        tracker.close()


@app.command()
def worker(config: ConfigOption) -> None:
    """Run only the sampler (leader-elected: several workers may run, one samples)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
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

    tracker = _open(config)
    reevaluate_all(tracker.engine, thresholds=tracker.thresholds, now_ts=tracker.now())
    with Session(tracker.engine) as session:
        krs = list_key_results(session)
        for objective in list_objectives(session):
            table = Table(
                title=f"{objective.title} [dim]({objective.id}, {objective.team or '-'})[/]",
                title_justify="left",
                expand=True,
            )
            for column in ("Key Result", "Current", "Target", "Progress", "Status"):
                table.add_column(column)
            for kr in (k for k in krs if k.objective_id == objective.id):
                progress = kr.progress if kr.progress is not None else 0.0
                bar = ProgressBar(total=1.0, completed=max(0.0, min(progress, 1.0)), width=20)
                current = "-" if kr.current_value is None else f"{kr.current_value:.4g} {kr.unit}"
                target = "-" if kr.target_value is None else f"{kr.target_value:.4g} {kr.unit}"
                label = "" if kr.progress is None else f" {kr.progress:.0%}"
                style = STATUS_STYLE.get(kr.status, "")
                table.add_row(
                    f"{kr.title}\n[dim]{kr.id}[/]",
                    current,
                    target,
                    _bar_cell(bar, label),
                    f"[{style}]{kr.status}[/]\n[dim]{kr.status_reason}[/]",
                )
            console.print(table)
    tracker.close()


def _bar_cell(bar: ProgressBar, label: str) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_row(bar, label)
    return grid


@app.command()
def sample(
    config: ConfigOption,
    kr: Annotated[str | None, typer.Option("--kr", help="Only this Key Result.")] = None,
    once: Annotated[bool, typer.Option("--once", help="Sample now, once, and exit.")] = False,
) -> None:
    """Sample now and print what was stored (use `worker` to sample on schedule)."""
    if not once:
        errors.print("krtracker sample needs --once; use `krtracker worker` to sample on schedule")
        raise typer.Exit(2)
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
                f"{kr_id}: stored {outcome.value!r} at {outcome.scheduled_ts} -> {outcome.status} "
                f"({outcome.status_reason})",
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
