"""app/toml_positions.py: every key path of a TOML text maps to the line where it is written."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from app.config.toml_positions import KeyPath, key_lines, line_of, parse_key_path

ROOT = Path(__file__).resolve().parents[2]

TRICKY = '''# a comment with [[objectives]] and key = 1
title = "top"   # trailing comment
"quoted.key" = 1
dotted.inner = 2

[connectors.prom]
type = "prometheus"
url = "http://x"
note = """
[[objectives]]
id = "not a table"
"""
literal = \'\'\'
still = 'a string'
\'\'\'

[[objectives]]
id = "first"
weights = [
  1,  # one
  2,
]

[[objectives.key_results]]
id = "a"
source = { connector = "prom", query = "sum(rate(x[5m]))", labels = { team = "t" } }

[[objectives.key_results]]
id = "b"
escaped = "a \\" quote [[objectives]]"
band = [1, 2]

[[objectives]]
id = "second"

[[objectives.key_results]]
id = "c"
'''


def _leaf_paths(node: Any, path: KeyPath = ()) -> list[KeyPath]:
    if isinstance(node, dict):
        out: list[KeyPath] = [path] if path else []
        for key, value in node.items():
            out += _leaf_paths(value, (*path, key))
        return out
    if isinstance(node, list):
        out = [path]
        for i, value in enumerate(node):
            out += _leaf_paths(value, (*path, i))
        return out
    return [path]


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("title",), 2),
        (("quoted.key",), 3),
        (("dotted", "inner"), 4),
        (("connectors", "prom"), 6),
        (("connectors", "prom", "url"), 8),
        (("connectors", "prom", "note"), 9),
        (("connectors", "prom", "literal"), 13),
        (("objectives", 0), 17),
        (("objectives", 0, "id"), 18),
        (("objectives", 0, "weights", 1), 21),
        (("objectives", 0, "key_results", 0), 24),
        (("objectives", 0, "key_results", 0, "source", "query"), 26),
        (("objectives", 0, "key_results", 0, "source", "labels", "team"), 26),
        (("objectives", 0, "key_results", 1, "id"), 29),
        (("objectives", 0, "key_results", 1, "band"), 31),
        (("objectives", 1, "id"), 34),
        (("objectives", 1, "key_results", 0, "id"), 37),
    ],
)
def test_each_key_path_maps_to_its_line(path: KeyPath, line: int) -> None:
    """Keys, headers, array elements and inline-table keys are found at the right line."""
    assert key_lines(TRICKY)[path] == line


def test_strings_that_look_like_tables_are_skipped() -> None:
    """Headers and keys inside strings add nothing: the scan finds exactly tomllib's paths."""
    found = set(key_lines(TRICKY))
    assert found == set(_leaf_paths(tomllib.loads(TRICKY)))


def test_the_example_config_is_mapped_completely_and_exactly() -> None:
    """Every path of config.example.toml is found, and each key's line holds that key."""
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    lines = key_lines(text)
    expected = _leaf_paths(tomllib.loads(text))
    assert set(lines) == set(expected)
    source = text.splitlines()
    for path, line in lines.items():
        last = path[-1]
        if isinstance(last, str):
            assert last in source[line - 1], (path, line)


def test_line_of_falls_back_to_the_nearest_written_ancestor() -> None:
    """A path pydantic reports below a written key (or a missing key) points at its parent."""
    lines = key_lines(TRICKY)
    assert line_of(lines, "objectives[0].key_results[1].target") == 28
    assert line_of(lines, "objectives[1].key_results[0].id") == 37
    assert line_of(lines, "nowhere.at.all") is None
    assert parse_key_path("objectives[1].key_results[0].band[1]") == (
        "objectives",
        1,
        "key_results",
        0,
        "band",
        1,
    )


def test_a_text_the_scanner_cannot_follow_keeps_what_it_found() -> None:
    """A malformed text stops the scan quietly, with the positions found before it."""
    lines = key_lines('a = 1\nb = "unterminated\n')
    assert lines[("a",)] == 1
