"""app/openslo_toml.py: any string or key it writes reads back through tomllib unchanged."""

from __future__ import annotations

import tomllib

from hypothesis import given
from hypothesis import strategies as st

from app.openslo.toml import toml_key, toml_string, toml_value

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)


@given(TEXT)
def test_any_string_reads_back_unchanged(text: str) -> None:
    """PromQL quotes, backslashes, newlines, control characters and DEL survive the round trip."""
    assert tomllib.loads(f"k = {toml_string(text)}")["k"] == text


@given(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30), TEXT)
def test_any_key_and_inline_table_read_back_unchanged(key: str, text: str) -> None:
    """Keys are bare when TOML allows, quoted otherwise; inline tables keep their pairs."""
    assert tomllib.loads(f"{toml_key(key)} = 1") == {key: 1}
    value = {key: text, "n": 1.5, "flags": [True, False]}
    assert tomllib.loads(f"t = {toml_value(value)}")["t"] == value
