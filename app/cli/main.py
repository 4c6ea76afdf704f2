"""The `krtracker` command: init, validate, serve, worker, db, status, report, sample.

This module builds the typer app (global options, sub-command groups) and registers the
commands, whose bodies live by what they work on: config files in `app.cli.config`,
long-running processes in `app.cli.serve`, database work by hand in `app.cli.data`;
what they share in `app.cli.support`. `krtracker --help` lists commands in the order
they are registered below.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from app.cli.config import import_openslo_command, init, validate
from app.cli.data import db_upgrade, report, sample
from app.cli.serve import serve, worker
from app.cli.status_table import print_status
from app.cli.support import (
    ConfigOption,
    LogLevel,
    configure_logging,
    console,
    global_options,
    open_or_exit,
)

app = typer.Typer(help="Keep engineering Key Results honest.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
import_app = typer.Typer(help="Turn other tools' files into Key Results.", no_args_is_help=True)
app.add_typer(import_app, name="import")


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
    global_options["log_level"] = log_level


def status(config: ConfigOption) -> None:
    """Print objectives and Key Results with progress bars and status."""
    from sqlmodel import Session

    configure_logging(LogLevel.WARNING)
    tracker = open_or_exit(config)
    # Statuses move with time; printing them does not run the alert rules.
    tracker.key_result_writer(run_alerts=False).reevaluate_each()
    with Session(tracker.engine) as session:
        print_status(console, session)
    tracker.close()


for _command in (validate, init, serve, worker, status, report, sample):
    app.command()(_command)
db_app.command("upgrade")(db_upgrade)
import_app.command("openslo")(import_openslo_command)


def main() -> None:
    """Entry point of the `krtracker` console script."""
    app()
