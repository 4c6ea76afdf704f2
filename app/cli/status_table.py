"""The terminal table `krtracker status` prints: objectives, Key Results, bars, statuses."""

from __future__ import annotations

from rich.console import Console
from rich.progress_bar import ProgressBar
from rich.table import Table
from sqlmodel import Session

from app.store.key_results import list_key_results, list_objectives

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


def print_status(console: Console, session: Session) -> None:
    """Print one table per objective with its Key Results' progress and status."""
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


def _bar_cell(bar: ProgressBar, label: str) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_row(bar, label)
    return grid
