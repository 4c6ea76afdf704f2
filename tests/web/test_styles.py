"""The stylesheet's text colours meet WCAG AA contrast (4.5:1) on their backgrounds."""

from __future__ import annotations

import re

import pytest

from app.web.templating import STATIC_DIR

PAIRS = [
    ("--text", "--bg"),
    ("--text", "--card"),
    ("--muted", "--bg"),
    ("--muted", "--card"),
    ("--muted", "--none-bg"),
    ("--accent", "--card"),
    ("--accent", "--done-bg"),
    ("--ok", "--ok-bg"),
    ("--risk", "--risk-bg"),
    ("--bad", "--bad-bg"),
    ("--stale", "--stale-bg"),
    ("--none", "--none-bg"),
    ("--done", "--done-bg"),
]


def _colours() -> dict[str, str]:
    css = (STATIC_DIR / "app.css").read_text()
    return dict(re.findall(r"(--[a-z-]+):\s*(#[0-9a-fA-F]{6})", css))


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize(("text", "background"), PAIRS)
def test_text_contrast_meets_wcag_aa(text: str, background: str) -> None:
    """Each text colour has a contrast ratio of at least 4.5:1 on its background."""
    colours = _colours()
    light, dark = sorted((_luminance(colours[text]), _luminance(colours[background])), reverse=True)
    assert (light + 0.05) / (dark + 0.05) >= 4.5, (text, background)
