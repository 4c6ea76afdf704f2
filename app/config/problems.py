"""A problem in the config file, with its key path: what every check reports.

Checks append problems (errors or warnings) instead of stopping at the first, so
`krtracker validate` can print them all with the place each one is at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pydantic import ValidationError


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in the file, with its key path."""

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.message}" if self.path else self.message


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
    """Turn a pydantic error into one `Problem` per error, under the key path `prefix`."""
    problems = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling)"
        problems.append(Problem(format_path((*prefix, *error["loc"])), message))
    return problems
