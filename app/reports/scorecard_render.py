"""Render a `Scorecard` as CSV (for spreadsheets) and Markdown (for a wiki): pure functions."""

from __future__ import annotations

import csv
import io
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.reports.scorecard import KeyResultScore, ObjectiveScore, Scorecard

CSV_COLUMNS = (
    "period",
    "level",
    "objective_id",
    "objective_title",
    "owner",
    "team",
    "key_result_id",
    "key_result_title",
    "unit",
    "status",
    "progress",
    "score",
    "grade",
    "final",
)


def _number(value: float | None) -> str:
    """Write a figure with four decimals, or nothing when there is none."""
    return "" if value is None else f"{value:.4f}"


def _day(ts: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def _csv_row(
    card: Scorecard, objective: ObjectiveScore, kr: KeyResultScore | None
) -> dict[str, str]:
    row = {
        "period": card.period,
        "level": "objective" if kr is None else "key_result",
        "objective_id": objective.id,
        "objective_title": objective.title,
        "owner": objective.owner or "",
        "team": objective.team or "",
        "key_result_id": "",
        "key_result_title": "",
        "unit": "",
        "status": "",
        "progress": "",
        "score": _number(objective.score),
        "grade": objective.grade.value,
        "final": "yes" if objective.final else "no",
    }
    if kr is not None:
        row |= {
            "key_result_id": kr.id,
            "key_result_title": kr.title,
            "unit": kr.unit,
            "status": kr.status.value,
            "progress": _number(kr.progress),
            "score": _number(kr.score),
            "grade": kr.grade.value,
            "final": "yes" if kr.final else "no",
        }
    return row


def scorecard_csv(card: Scorecard) -> str:
    """Return one row per objective followed by one row per Key Result of it."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for objective in card.objectives:
        writer.writerow(_csv_row(card, objective, None))
        for kr in objective.key_results:
            writer.writerow(_csv_row(card, objective, kr))
    return out.getvalue()


def _cell(text: str) -> str:
    """Make text safe inside a Markdown table cell (pipes and line breaks would end it)."""
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").split())


def _score_text(score: float | None) -> str:
    return "–" if score is None else f"{score:.2f}"


def scorecard_markdown(card: Scorecard) -> str:
    """Return the scorecard as Markdown: a heading per objective and a table of its KRs."""
    state = "final" if card.closed else f"running, as of {_day(card.now_ts)}"
    lines = [
        f"# Scorecard {card.period}",
        "",
        f"{_day(card.start_ts)} to {_day(card.end_ts - 1)} ({state}). Scores run from 0.0 "
        "to 1.0; 0.7 is a success for a stretch goal (0.0–0.3 missed, 0.4–0.6 progress, "
        "0.7–1.0 delivered).",
    ]
    if card.ambition_note:
        lines += ["", f"> Note: {card.ambition_note}."]
    if not card.objectives:
        lines += ["", "No objectives in this period."]
    for objective in card.objectives:
        owner = f" (owner: {_cell(objective.owner)})" if objective.owner else ""
        lines += [
            "",
            f"## {_cell(objective.title)}: {_score_text(objective.score)}, "
            f"{objective.grade.value}{owner}",
            "",
            "| Key Result | Score | Reading | Progress | Status |",
            "|---|---:|---|---:|---|",
        ]
        for kr in objective.key_results:
            progress = "–" if kr.progress is None else f"{kr.progress:.0%}"
            lines.append(
                f"| {_cell(kr.title)} (`{kr.id}`) | {_score_text(kr.score)} | "
                f"{kr.grade.value} | {progress} | {kr.status.value}: {_cell(kr.status_reason)} |"
            )
    return "\n".join(lines) + "\n"
