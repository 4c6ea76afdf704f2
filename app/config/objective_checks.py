"""Objective and Key Result checks that span several keys: ids, periods, parents, targets.

Split from `app.config.checks` (the `Problem` type and the other sections' checks): these
are the rules of an OKR itself (a target on the right side of its baseline, a band with
low below high, a start inside its objective's period), plus each source, checked by
`app.config.source_checks`.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING

from app.config.problems import Problem, format_path
from app.core.domain import Direction

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.config.models import KrTrackerConfig
    from app.config.objectives import KeyResultConfig, ObjectiveConfig


def _check_key_result(
    kr: KeyResultConfig, path: tuple[int | str, ...], problems: list[Problem]
) -> None:
    def bad(key: str, message: str) -> None:
        problems.append(Problem(format_path((*path, key)), message))

    if kr.every and kr.cron:
        bad("cron", "give either every or cron, not both")
    _check_range(kr, bad)
    if kr.direction.is_band:
        if kr.baseline is not None or kr.relative_target is not None:
            bad("direction", f"a {kr.direction} Key Result has no baseline or relative target")
        if kr.direction is not Direction.WITHIN and kr.target is None:
            bad("target", f"an {kr.direction} Key Result needs target (the threshold)")
        if kr.direction is Direction.WITHIN:
            if kr.band is None:
                bad("band", "a within Key Result needs band = [low, high]")
            elif kr.band[0] >= kr.band[1]:
                bad("band", f"low {kr.band[0]} must be below high {kr.band[1]}")
            if kr.target is not None:
                bad("target", "a within Key Result uses band, not target")
        elif kr.band is not None:
            bad("band", f"band is for within; an {kr.direction} Key Result uses target")
        return
    if kr.band is not None:
        bad("band", f"band is for within Key Results, not {kr.direction}")
    relative = kr.relative_target
    if relative is not None:
        if relative == 0:
            bad("target", "a relative target of 0% equals the baseline")
        elif kr.baseline == 0:
            bad("target", f"{kr.target} of a baseline of 0 is 0: give an absolute target")
        elif (relative > 0) != (kr.direction is Direction.INCREASE):
            bad("target", f"{kr.target} moves the wrong way for direction {kr.direction}")
    elif isinstance(kr.target, float) and isinstance(kr.baseline, float):
        if kr.target == kr.baseline:
            bad("target", f"target equals baseline ({kr.baseline}); progress would be undefined")
        elif (kr.target > kr.baseline) != (kr.direction is Direction.INCREASE):
            bad(
                "target",
                f"target {kr.target} is on the wrong side of baseline {kr.baseline} "
                f"for direction {kr.direction}",
            )


def _check_range(kr: KeyResultConfig, bad: Callable[[str, str], None]) -> None:
    """Check `range = [low, high]`: ordered, and holding the baseline, target and band."""
    if kr.range is None:
        return
    low, high = kr.range
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        bad("range", f"low {low} must be a number below high {high}")
        return
    named = [("baseline", kr.baseline), ("target", kr.target)]
    named += [("band", end) for end in kr.band or ()]
    for key, value in named:
        if isinstance(value, float) and not low <= value <= high:
            bad(key, f"{value} is outside range [{low}, {high}], the values this Key Result takes")


def _check_start(
    kr: KeyResultConfig,
    objective: ObjectiveConfig,
    path: tuple[int | str, ...],
    problems: list[Problem],
) -> None:
    """Check a Key Result's own `start` lies inside its objective's period."""
    if kr.start is None or not (objective.period or (objective.start and objective.end)):
        return
    first, after = (moment.date() for moment in objective.period_bounds())
    if not first <= kr.start < after:
        last = after - timedelta(days=1)
        message = f"{kr.start} is outside its objective's period ({first} to {last})"
        problems.append(Problem(format_path((*path, "start")), message))


def check_objectives(cfg: KrTrackerConfig, problems: list[Problem]) -> None:
    """Check every objective and Key Result (their sources: `app.config.source_checks`)."""
    objective_ids: dict[str, int] = {}
    kr_ids: dict[str, str] = {}
    for i, objective in enumerate(cfg.objectives):
        path: tuple[int | str, ...] = ("objectives", i)
        if objective.id in objective_ids:
            problems.append(
                Problem(
                    format_path((*path, "id")),
                    f"duplicate objective id {objective.id!r} "
                    f"(first used at objectives[{objective_ids[objective.id]}])",
                )
            )
        objective_ids.setdefault(objective.id, i)
        if objective.period and (objective.start or objective.end):
            problems.append(Problem(format_path((*path, "period")), "give period or start/end"))
        elif not objective.period and not (objective.start and objective.end):
            problems.append(
                Problem(format_path(path), 'needs period = "YYYY-QN" or both start and end')
            )
        elif objective.start and objective.end and objective.end < objective.start:
            problems.append(
                Problem(
                    format_path((*path, "end")),
                    f"end {objective.end} is before start {objective.start}",
                )
            )
        for j, kr in enumerate(objective.key_results):
            kr_path = (*path, "key_results", j)
            if kr.id in kr_ids:
                problems.append(
                    Problem(
                        format_path((*kr_path, "id")),
                        f"duplicate Key Result id {kr.id!r} (first used at {kr_ids[kr.id]})",
                    )
                )
            kr_ids.setdefault(kr.id, format_path(kr_path))
            _check_key_result(kr, kr_path, problems)
            _check_start(kr, objective, kr_path, problems)
    for i, objective in enumerate(cfg.objectives):
        if objective.parent is not None and objective.parent not in objective_ids:
            problems.append(
                Problem(
                    format_path(("objectives", i, "parent")),
                    f"unknown parent objective {objective.parent!r}",
                )
            )
        elif objective.parent == objective.id:
            problems.append(
                Problem(
                    format_path(("objectives", i, "parent")),
                    "an objective cannot be its own parent",
                )
            )
