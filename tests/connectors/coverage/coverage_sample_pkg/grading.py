"""Grade scores and clamp values: branches that the sample run covers only in part."""

from __future__ import annotations


def grade(score: int) -> str:
    """Return the letter grade of a score out of 100."""
    if score >= 90:
        return "A"
    if score >= 80:
        return "B"
    if score >= 70:
        return "C"
    return "F"


def clamp(value: int, *, low: int, high: int) -> int:
    """Return `value` kept within [low, high]."""
    if value < low:
        return low
    if value > high:
        return high
    return value


def triangle(size: int) -> int:
    """Return 1 + 2 + ... + size; the sample run never calls it."""
    total = 0
    for step in range(size + 1):
        total += step
    return total
