"""Reports written by coverage.py itself give the figures coverage.py's own API counts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.connectors.coverage.support import measure

SAMPLE_PKG = Path(__file__).parent / "coverage_sample_pkg"


@pytest.fixture(scope="module")
def coveragepy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the sample package under coverage.py with branch coverage and write its reports."""
    work = tmp_path_factory.mktemp("coveragepy")
    shutil.copytree(SAMPLE_PKG, work / "coverage_sample_pkg")
    env = {**os.environ, "COVERAGE_FILE": str(work / ".coverage")}
    for inherited in ("COVERAGE_PROCESS_START", "COVERAGE_RCFILE"):
        env.pop(inherited, None)

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "coverage", *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return done.stdout

    run("run", "--branch", "--source=coverage_sample_pkg", "-m", "coverage_sample_pkg")
    run("xml", "-o", "coverage.xml")
    run("json", "-o", "coverage.json")
    run("lcov", "-o", "coverage.lcov")
    (work / "total.txt").write_text(run("report", "--format=total", "--precision=6"))
    return work


def _coverage_api_lines(work: Path) -> tuple[int, int]:
    import coverage

    cov = coverage.Coverage(data_file=str(work / ".coverage"), config_file=False)
    cov.load()
    statements = missing = 0
    for measured in cov.get_data().measured_files():
        _, stmts, _, miss, _ = cov.analysis2(measured)
        statements, missing = statements + len(stmts), missing + len(miss)
    return statements - missing, statements


@pytest.mark.parametrize(
    ("report", "fmt"),
    [
        ("coverage.xml", "cobertura"),
        ("coverage.json", "coveragepy_json"),
        ("coverage.lcov", "lcov"),
    ],
)
def test_coveragepy_reports_match_coverage_api(
    coveragepy_run: Path, make_connector: Any, report: str, fmt: str
) -> None:
    """Each report coverage.py writes gives the line counts coverage.py's own API computes."""
    result = measure(make_connector(), path=str(coveragepy_run / report))
    assert result.details["format"] == fmt
    covered, total = _coverage_api_lines(coveragepy_run)
    assert 0 < covered < total, "the sample run must cover the package only in part"
    assert (result.numerator, result.denominator) == (covered, total)


@pytest.mark.parametrize("report", ["coverage.xml", "coverage.json", "coverage.lcov"])
def test_coveragepy_line_plus_branch_matches_its_total(
    coveragepy_run: Path, make_connector: Any, report: str
) -> None:
    """Lines plus branches give the total `coverage report --format=total` prints."""
    connector = make_connector()
    line = measure(connector, path=str(coveragepy_run / report))
    branch = measure(connector, path=str(coveragepy_run / report), metric="branch")
    assert 0 < branch.numerator < branch.denominator
    combined = (line.numerator + branch.numerator) / (line.denominator + branch.denominator)
    printed = float((coveragepy_run / "total.txt").read_text())
    assert round(combined * 100, 6) == pytest.approx(printed)
