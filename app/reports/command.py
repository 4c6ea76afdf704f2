"""The body of `krtracker report`: a period's retrospective as Markdown, HTML or JSON."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from sqlmodel import Session

from app.reports.period_history import period_retrospective
from app.reports.retrospective_render import RENDERERS

if TYPE_CHECKING:
    from pathlib import Path

    from app.tracker import Tracker


class ReportFormat(StrEnum):
    """The formats `krtracker report --format` writes."""

    md = "md"
    html = "html"
    json = "json"


class ReportError(Exception):
    """The report cannot be made; the message names the option at fault."""


def render_report(tracker: Tracker, *, period: str, output: ReportFormat) -> str:
    """Return `period`'s retrospective, evaluated first so a closed period's scores freeze.

    The evaluation is the scheduler's own (`KeyResultWriter.reevaluate_each`): a period
    nobody looked at since it closed gets its final scores frozen now, as the scheduler
    would have done.
    """
    now = tracker.now()
    tracker.key_result_writer(run_alerts=False).reevaluate_each()
    with Session(tracker.engine) as session:
        try:
            retro = period_retrospective(
                session, period=period, now_ts=now, thresholds=tracker.thresholds
            )
        except ValueError as exc:
            raise ReportError(f"--period: {exc}") from None
    if not retro.objectives:
        raise ReportError(f"--period: no objectives in period {period}")
    return RENDERERS[output.value][1](retro)


def write_report(text: str, out: Path | None) -> str | None:
    """Write the report to `out`; return an error text naming the file if that fails."""
    if out is None:
        return None
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        return f"--out: cannot write {out}: {exc.strerror}"
    return None
