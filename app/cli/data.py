"""The `krtracker` commands that work on the database by hand: sample, report, db upgrade.

Each runs once and exits; `sample` refuses while a scheduler holds the leader lock (polled
samples have one writer). Registered in `app.cli.main`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError, OperationalError

from app.cli.support import (
    ConfigOption,
    LogLevel,
    configure_logging,
    console,
    database_failed,
    errors,
    open_or_exit,
    print_problems,
    utc_text,
)
from app.config.loading import ConfigError, database_url, load_config
from app.config.models import DatabaseConfig
from app.reports.command import ReportError, ReportFormat, render_report, write_report
from app.sampling.measure import sample_key_result
from app.store.db import upgrade_database
from app.store.leader_lock import leader_lock_for


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
                print_problems(config, exc)
                raise typer.Exit(2) from None
        else:
            url = os.environ.get("KRTRACKER_DATABASE_URL") or DatabaseConfig().url
    try:
        applied = upgrade_database(url)
    except (OperationalError, DBAPIError) as exc:
        database_failed(None, exc, url=url)
    for migration in applied:
        console.print(f"applied {migration}", highlight=False)
    if not applied:
        console.print("the database is already up to date")


def report(
    config: ConfigOption,
    period: Annotated[str, typer.Option("--period", help='The quarter, e.g. "2026-Q4".')],
    output: Annotated[
        ReportFormat, typer.Option("--format", help="md (wiki), html (one file) or json.")
    ] = ReportFormat.md,
    out: Annotated[Path | None, typer.Option("--out", help="Write here, not to stdout.")] = None,
) -> None:
    """Print or write the period's retrospective (scores, course corrections, data quality)."""
    configure_logging(LogLevel.WARNING)
    tracker = open_or_exit(config)
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


def sample(
    config: ConfigOption,
    kr: Annotated[str | None, typer.Option("--kr", help="Only this Key Result.")] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Accepted for compatibility: sampling is always once.")
    ] = True,
) -> None:
    """Sample now, once, and print what was stored (`worker` samples on schedule)."""
    configure_logging(LogLevel.WARNING)
    tracker = open_or_exit(config)
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
                f"{kr_id}: stored {outcome.value!r} at {utc_text(outcome.scheduled_ts)} -> "
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
