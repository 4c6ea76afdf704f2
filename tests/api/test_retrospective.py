"""The end-of-period retrospective over a recorded period, driven by an injected clock.

The period of `tests.api.test_reports` (values, failed attempts, check-ins) gets a target
revision with its note, then closes; the retrospective's scores must be the frozen final
scores, equal in the API's Key Results, the scorecard, the report route and `krtracker report`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlmodel import Session

from app.config.loading import load_config
from app.reports.command import ReportError, ReportFormat, render_report
from app.store.definitions import sync_config
from tests.api.test_reports import (
    AUTH,
    CONFIG,
    DAY,
    NOW,
    Q4_END,
    Q4_START,
    Timeline,
    _iso,
    timeline,  # noqa: F401 (the fixture)
)
from tests.cli.test_cli import run
from tests.conftest import write_config

REVISED_AT = NOW + DAY
NOTE = "Scope cut: the legacy <importer> is retired & needs no tests"


def _revise_coverage_target(t: Timeline, tmp_path: Path, database_url: str) -> None:
    """Lower coverage's target from 85 to 80 with a note, synced as a config reload would."""
    text = CONFIG.replace("target = 85\n", f'target = 80\nrevision_note = "{NOTE}"\n', 1)
    path = write_config(tmp_path / "revised.toml", text, database_url=database_url)
    t.at(REVISED_AT)
    with Session(t.tracker.engine) as session:
        report = sync_config(session, load_config(path), now_ts=REVISED_AT)
        session.commit()
    assert report.revisions == ["coverage.target"]


def _scores(report: dict) -> dict[str, float | None]:
    return {kr["id"]: kr["score"] for o in report["objectives"] for kr in o["key_results"]}


def test_closed_retrospective_scores_are_the_frozen_final_scores(
    timeline: Timeline,  # noqa: F811
    tmp_path: Path,
    database_url: str,
) -> None:
    """After the close, retrospective = API final scores = scorecard, even after late data."""
    t = timeline
    _revise_coverage_target(t, tmp_path, database_url)
    t.value("coverage", REVISED_AT + DAY, 70)
    t.check_in("coverage", REVISED_AT + 2 * DAY)
    closed = t.read_api(Q4_END + DAY)
    late = {"value": 85, "at": _iso(Q4_END - DAY)}  # posted after the close, inside the period
    assert t.client.post("/api/v1/key-results/coverage/values", json=late, headers=AUTH).is_success

    report = t.client.get("/api/v1/periods/2026-Q4/report").json()
    card = t.client.get("/api/v1/periods/2026-Q4/scorecard").json()
    assert report["closed"] is True
    finals = {kr_id: api["final_score"] for kr_id, api in closed.items()}
    assert finals["coverage"] is not None and finals["rollback-rate"] is not None
    assert _scores(report) == finals == _scores(card)
    assert [o["score"] for o in report["objectives"]] == [o["score"] for o in card["objectives"]]

    coverage = report["objectives"][0]["key_results"][0]
    assert coverage["revisions"] == [
        {"ts": REVISED_AT, "field": "target", "old": "85.0", "new": "80.0", "note": NOTE}
    ]
    assert [c["ts"] for c in coverage["check_ins"]] == [Q4_START + 48 * DAY, REVISED_AT + 2 * DAY]
    assert {c["confidence"] for c in coverage["check_ins"]} == {0.6}
    # latency's two failed attempts (days 48 and 49) and no success after: failed to the end.
    latency = report["objectives"][1]["key_results"][0]
    assert latency["data_quality"]["failed_seconds"] == Q4_END - (Q4_START + 48 * DAY)
    rollback = report["objectives"][0]["key_results"][1]["data_quality"]
    # Typed-in values have no schedule: never stale, and none of its attempts failed.
    assert (rollback["failed_seconds"], rollback["stale_seconds"]) == (0, 0)

    # The CLI's body, on the same injected clock, gives the same scores.
    cli = json.loads(render_report(t.tracker, period="2026-Q4", output=ReportFormat.json))
    assert _scores(cli) == finals


def test_report_formats_are_downloads_of_one_self_contained_file(
    timeline: Timeline,  # noqa: F811
    tmp_path: Path,
    database_url: str,
) -> None:
    """Markdown and HTML come as attachments; the HTML fetches nothing and escapes notes."""
    _revise_coverage_target(timeline, tmp_path, database_url)
    client = timeline.client
    page = client.get("/api/v1/periods/2026-Q4/report", params={"format": "html"})
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-disposition"].endswith('retrospective-2026-Q4.html"')
    assert "&lt;importer&gt; is retired &amp; needs" in page.text and "<importer>" not in page.text
    assert not re.search(r"\b(src|href)=|url\(|@import|<script", page.text)
    assert page.text.count("<svg") == 4
    md = client.get("/api/v1/periods/2026-Q4/report", params={"format": "md"})
    assert md.headers["content-type"] == "text/markdown; charset=utf-8"
    assert md.text.startswith("# Retrospective 2026-Q4") and "target 85.0 → 80.0" in md.text


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/api/v1/periods/2026-Q3/report", 404, "no objectives in period 2026-Q3"),
        ("/api/v1/periods/2026-Q5/report", 422, "path.period"),
        ("/api/v1/periods/2026-Q4/report?format=pdf", 422, "query.format"),
    ],
)
def test_report_problems_are_problem_json(
    timeline: Timeline,  # noqa: F811
    path: str,
    status: int,
    words: str,
) -> None:
    """Unknown periods are 404, malformed ones or formats 422, as problem+json."""
    response = timeline.client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]


def test_report_route_is_documented_with_its_problems(timeline: Timeline) -> None:  # noqa: F811
    """The OpenAPI spec lists the report's three media types and its 404 as problem+json."""
    spec = timeline.client.get("/openapi.json").json()
    responses = spec["paths"]["/api/v1/periods/{period}/report"]["get"]["responses"]
    assert set(responses["200"]["content"]) == {"application/json", "text/markdown", "text/html"}
    assert "application/problem+json" in responses["404"]["content"]


def test_render_report_names_the_option_at_fault(timeline: Timeline) -> None:  # noqa: F811
    """A malformed or empty period is a ReportError naming --period."""
    for period, words in (("2026-Q9", "--period"), ("2025-Q1", "no objectives")):
        with pytest.raises(ReportError, match=words):
            render_report(timeline.tracker, period=period, output=ReportFormat.md)


def test_cli_report_writes_the_file_and_refuses_bad_periods(
    tmp_path: Path, database_url: str
) -> None:
    """`krtracker report --format html --out FILE` writes one HTML file; a bad period exits 2."""
    config = write_config(tmp_path / "c.toml", CONFIG, database_url=database_url)
    out = tmp_path / "retro.html"
    result = run(
        "report", "-c", str(config), "--period", "2026-Q4", "--format", "html", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    bad = run("report", "-c", str(config), "--period", "Q4")
    assert bad.returncode == 2 and "--period:" in bad.stderr and "Traceback" not in bad.stderr
    as_md = run("report", "-c", str(config), "--period", "2026-Q4")
    assert as_md.returncode == 0 and as_md.stdout.startswith("# Retrospective 2026-Q4")
