"""Numbers in status reasons: any float becomes text, never an exception, never "-0"."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.core.reason_text import fmt, pct


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_pct_formats_every_float(share: float) -> None:
    """A share as large as a float allows (e.g. progress of a -4e307 value) still formats."""
    text = pct(share)
    assert text.endswith("%") or text == "n/a"
    assert text not in ("-0%",)


def test_pct_of_shares_beyond_the_range_says_so() -> None:
    """Shares whose percentage overflows read as beyond the range, with their sign."""
    assert pct(-4e307) == "below -1e15%"
    assert pct(4e307) == "above 1e15%"
    assert pct(0.257) == "26%" and pct(-0.001) == "0%"


@given(st.floats(allow_nan=False))
def test_fmt_never_says_minus_zero(value: float) -> None:
    """Four significant digits, never "-0"."""
    assert fmt(value) != "-0"
