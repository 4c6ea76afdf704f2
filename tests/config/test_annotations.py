"""`krtracker validate --format github`: problems as workflow annotations at the key's line."""

from __future__ import annotations

import re
from pathlib import Path

from app.config.annotations import github_annotations
from app.config.problems import Problem
from tests.support.config_documents import BROKEN_TOML, WARNING_TOML, krtracker

ANNOTATION = re.compile(r"^::(error|warning) file=([^,]+)(?:,line=(\d+))?,title=[^:]+::(.*)$")


def _annotations(stdout: str) -> list[tuple[str, str, int | None, str]]:
    found = []
    for line in stdout.splitlines():
        match = ANNOTATION.match(line)
        if match:
            severity, file, number, message = match.groups()
            found.append((severity, file, int(number) if number else None, message))
    return found


def _line_holding(text: str, fragment: str, *, after: str = "") -> int:
    """Return the 1-based number of the first line holding `fragment` after the `after` line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i in range(start, len(lines)) if fragment in lines[i]) + 1


def test_an_error_is_annotated_at_the_line_of_its_key(tmp_path: Path) -> None:
    """The second objective's target equal to its baseline is annotated at `target = 99.5`."""
    path = tmp_path / "okrs.toml"
    path.write_text(BROKEN_TOML, encoding="utf-8")
    result = krtracker("validate", "--format", "github", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert _annotations(result.stdout) == [
        (
            "error",
            str(path),
            _line_holding(BROKEN_TOML, "target = 99.5"),
            "objectives[1].key_results[0].target: target equals baseline (99.5); "
            "progress would be undefined",
        )
    ]


def test_unknown_keys_and_bad_sources_point_at_their_own_lines(tmp_path: Path) -> None:
    """Several problems in one file: each annotation carries the line of its own key."""
    text = BROKEN_TOML.replace("target = 280", "targte = 280").replace(
        'source = { connector = "people" }\n\n[[objectives]]',
        'source = { connector = "nobody" }\n\n[[objectives]]',
    )
    path = tmp_path / "okrs.toml"
    path.write_text(text, encoding="utf-8")
    result = krtracker("validate", "--format", "github", str(path))
    assert result.returncode == 2
    by_path = {message.split(": ")[0]: line for _, _, line, message in _annotations(result.stdout)}
    assert by_path["objectives[0].key_results[0].targte"] == _line_holding(text, "targte = 280")
    assert all(line is not None for line in by_path.values()), by_path
    for key_path, line in by_path.items():
        assert line is not None
        written = text.splitlines()[line - 1]
        last = re.sub(r"\[\d+\]$", "", key_path.rsplit(".", 1)[-1])
        assert last in written or "[[objectives" in written, (key_path, written)


def test_a_toml_syntax_error_is_annotated_at_the_line_the_parser_names(tmp_path: Path) -> None:
    """Broken TOML gets the parser's line, so the pull request shows where the file breaks."""
    text = BROKEN_TOML.replace('title = "Availability"', 'title = "Availability')
    path = tmp_path / "okrs.toml"
    path.write_text(text, encoding="utf-8")
    result = krtracker("validate", "--format", "github", str(path))
    assert result.returncode == 2
    [(severity, _, line, message)] = _annotations(result.stdout)
    assert severity == "error" and "not valid TOML" in message
    assert line == _line_holding(text, 'title = "Availability')


def test_warnings_are_warning_annotations_and_do_not_fail(tmp_path: Path) -> None:
    """A config with only warnings exits 0 and prints `::warning` at the Key Result's header."""
    path = tmp_path / "okrs.toml"
    path.write_text(WARNING_TOML, encoding="utf-8")
    result = krtracker("validate", "--format", "github", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    [(severity, _, line, message)] = _annotations(result.stdout)
    assert severity == "warning" and message.startswith("objectives[0].key_results[0]: ")
    assert line == _line_holding(WARNING_TOML, "[[objectives.key_results]]")


def test_several_files_are_checked_and_any_error_fails(tmp_path: Path) -> None:
    """Given a good and a broken file, both are reported and the exit code is 2."""
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(WARNING_TOML, encoding="utf-8")
    bad.write_text(BROKEN_TOML, encoding="utf-8")
    result = krtracker("validate", str(good), str(bad))
    assert result.returncode == 2
    assert f"{good}: OK" in result.stdout
    assert f"{bad}: 1 error(s)" in result.stderr


def test_messages_and_file_names_are_escaped_for_workflow_commands(tmp_path: Path) -> None:
    """`%`, newlines, `:` and `,` cannot end or split an annotation early."""
    path = tmp_path / "a:b,c.toml"
    path.write_text("x = 1\n", encoding="utf-8")
    [command] = github_annotations(path, [Problem("x", "100% wrong\nsecond line")])
    assert command == (
        f"::error file={str(path).replace(':', '%3A').replace(',', '%2C')},line=1,"
        "title=krtracker validate::x: 100%25 wrong%0Asecond line"
    )
