"""OKR practice lint: warnings (never errors) for Key Results that read as outputs, not outcomes.

The guidance behind every rule: a Key Result measures the result the work is meant to change
(latency, adoption, failures), not the work itself ("ship X"). Each rule can be silenced in
the `[lint]` table; the rules only ever add warnings, so `krtracker validate` still exits 0.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from app.config.problems import Problem, format_path

if TYPE_CHECKING:
    from app.config.models import KrTrackerConfig
    from app.config.objectives import KeyResultConfig, ObjectiveConfig

MIN_KEY_RESULTS = 3
MAX_KEY_RESULTS = 5
MAX_OBJECTIVES = 5
OUTCOME_GUIDANCE = (
    "a Key Result should measure the result the work is meant to change "
    "(e.g. latency, adoption, incidents), not whether the work was done"
)
# Verbs that name a task; matched as whole words, with their common inflections.
_TASK_VERBS = (
    "launch",
    "ship",
    "release",
    "build",
    "built",
    "implement",
    "migrate",
    "write",
    "wrote",
    "written",
    "complete",
    "deliver",
    "deploy",
    "finish",
    "create",
    "introduce",
    "roll out",
    "set up",
)
_TASK_TITLE = re.compile(
    r"\b("
    + "|".join(re.escape(v).replace(r"\ ", r"\s+") for v in _TASK_VERBS)
    + r")(e?s|e?d|ing)?\b",
    re.IGNORECASE,
)


def task_verb(title: str) -> str | None:
    """Return the task verb (e.g. "launch") a title names, or None."""
    match = _TASK_TITLE.search(title)
    return match.group(0).lower() if match else None


def _is_binary(kr: KeyResultConfig) -> bool:
    """Return whether the Key Result is a done/not-done switch (0 -> 1 or 1 -> 0)."""
    target, baseline = kr.target, kr.baseline
    if not isinstance(target, float) or target not in (0.0, 1.0):
        return False
    if baseline is None or baseline == "first_sample":
        return target == 1.0
    return {baseline, target} == {0.0, 1.0}


def _lint_key_result(kr: KeyResultConfig, path: str, cfg: KrTrackerConfig) -> list[Problem]:
    problems: list[Problem] = []
    if cfg.lint.no_measure and kr.source is None and kr.band is None:
        if not isinstance(kr.target, float):
            problems.append(
                Problem(
                    path,
                    "has neither a data source nor a target that is a number: it can never "
                    f"show progress and reads as an output; {OUTCOME_GUIDANCE}",
                    "warning",
                )
            )
    verb = task_verb(kr.title)
    if cfg.lint.output_titles and verb and _is_binary(kr):
        problems.append(
            Problem(
                f"{path}.title",
                f"title names a task ({verb!r}) and the target is done/not done (0/1): "
                f"this is an output; {OUTCOME_GUIDANCE}",
                "warning",
            )
        )
    return problems


def _period_of(objective: ObjectiveConfig) -> str:
    return objective.period or f"{objective.start}..{objective.end}"


def lint_problems(cfg: KrTrackerConfig) -> list[Problem]:
    """Return the practice warnings for a config whose shape is valid."""
    problems: list[Problem] = []
    for i, objective in enumerate(cfg.objectives):
        path: tuple[int | str, ...] = ("objectives", i)
        count = len(objective.key_results)
        if cfg.lint.key_results_per_objective and count > MAX_KEY_RESULTS:
            problems.append(
                Problem(
                    format_path((*path, "key_results")),
                    f"{count} Key Results; keep to {MAX_KEY_RESULTS} or fewer so each one matters",
                    "warning",
                )
            )
        elif cfg.lint.key_results_per_objective and 0 < count < MIN_KEY_RESULTS:
            problems.append(
                Problem(
                    format_path((*path, "key_results")),
                    f"{count} Key Result(s); give {MIN_KEY_RESULTS} to {MAX_KEY_RESULTS} so the "
                    "objective is measured from more than one side",
                    "warning",
                )
            )
        for j, kr in enumerate(objective.key_results):
            problems.extend(_lint_key_result(kr, format_path((*path, "key_results", j)), cfg))
    if cfg.lint.objectives_per_team:
        per_team = Counter((o.team, _period_of(o)) for o in cfg.objectives)
        for (team, period), count in per_team.items():
            if count > MAX_OBJECTIVES:
                who = f"team {team!r}" if team else "objectives without a team"
                problems.append(
                    Problem(
                        "objectives",
                        f"{count} objectives for {who} in {period}; keep to {MAX_OBJECTIVES} "
                        "or fewer to stay focused",
                        "warning",
                    )
                )
    return problems
