"""Render config problems as GitHub Actions workflow commands (`::error file=…,line=…::…`).

GitHub shows these as annotations on the pull request's diff, at the line of the key path.
Escaping follows GitHub's workflow-command rules: `%`, CR and LF in the message; also `:` and
`,` in property values (a file name may hold them).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from app.config.toml_positions import key_lines, line_of

if TYPE_CHECKING:
    from pathlib import Path

    from app.config.problems import Problem

_DECODE_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def _escape_message(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_message(text).replace(":", "%3A").replace(",", "%2C")


def problem_line(problem: Problem, lines: dict[tuple[str | int, ...], int]) -> int | None:
    """Return the line a problem points at: its key path's, or the one a TOML error names."""
    if problem.path:
        return line_of(lines, problem.path)
    match = _DECODE_LINE.search(problem.message)
    return int(match.group(1)) if match else None


def github_annotations(file: Path, problems: list[Problem]) -> list[str]:
    """Return one workflow command per problem, with the file and, where known, its line."""
    try:
        lines = key_lines(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        lines = {}
    commands = []
    for problem in problems:
        properties = [f"file={_escape_property(str(file))}"]
        line = problem_line(problem, lines)
        if line is not None:
            properties.append(f"line={line}")
        properties.append("title=krtracker validate")
        text = f"{problem.path}: {problem.message}" if problem.path else problem.message
        commands.append(f"::{problem.severity} {','.join(properties)}::{_escape_message(text)}")
    return commands
