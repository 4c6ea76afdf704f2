"""The `krtracker` commands that write or check config files: validate, init, import openslo.

None of them opens a database: they read and write TOML only, so they run in CI and in a
pre-commit hook (see `action.yml` and `.pre-commit-hooks.yaml`). Registered in `app.cli.main`.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from app.cli.support import console, errors, print_problem, print_problems
from app.config.annotations import github_annotations
from app.config.base import SLUG
from app.config.loading import ConfigError, load_config
from app.config.starter import starter_config
from app.openslo.convert import import_openslo
from app.openslo.files import read_openslo_files


class ValidateFormat(StrEnum):
    """How `krtracker validate` prints problems."""

    text = "text"
    github = "github"


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
            print_problems(file, exc)
        errors.print(f"{file}: {count} error(s)", highlight=False, soft_wrap=True)
        return False
    if output is ValidateFormat.github:
        for command in github_annotations(file, loaded.warnings):
            print(command)
    else:
        for warning in loaded.warnings:
            print_problem("warning", warning.path, warning.message)
    krs = len(loaded.key_results())
    console.print(
        f"{file}: OK ({len(loaded.config.objectives)} objectives, {krs} Key Results, "
        f"{len(loaded.warnings)} warning(s))",
        highlight=False,
        soft_wrap=True,
    )
    return True


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
