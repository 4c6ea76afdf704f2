"""Write the config sections an OpenSLO import produces as TOML text (krtracker's layout)."""

from __future__ import annotations

from datetime import date
from typing import Any


def _is_control(ch: str) -> bool:
    # TOML allows no control character but tab in a string, not even DEL (U+007F).
    return (ch < " " and ch != "\t") or ch == "\x7f"


def toml_string(text: str) -> str:
    """Quote a string: a literal string when it can be one (PromQL is full of `"`), else basic."""
    if "'" not in text and not any(_is_control(ch) for ch in text):
        return f"'{text}'"
    escaped = "".join(
        f"\\u{ord(ch):04x}" if _is_control(ch) else "\\" + ch if ch in '"\\' else ch for ch in text
    )
    return f'"{escaped}"'


def toml_value(value: Any) -> str:
    """Render a scalar, a list, or a dict (as an inline table)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + pairs + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def toml_key(key: str) -> str:
    """Write a key bare when TOML allows it, else quoted."""
    if key and all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in key):
        return key
    return toml_string(key)


def _pairs(table: dict[str, Any], indent: str = "") -> list[str]:
    return [f"{indent}{toml_key(k)} = {toml_value(v)}" for k, v in table.items() if v is not None]


def render_config(
    *,
    header: list[str],
    connectors: dict[str, dict[str, Any]],
    objectives: list[dict[str, Any]],
) -> str:
    """Return a config file: comment header, `[connectors.NAME]`, `[[objectives]]` with KRs."""
    lines = [f"# {line}" if line else "#" for line in header]
    for name, settings in connectors.items():
        lines += ["", f"[connectors.{toml_key(name)}]", *_pairs(settings)]
    for objective in objectives:
        fields = {k: v for k, v in objective.items() if k != "key_results"}
        lines += ["", "[[objectives]]", *_pairs(fields)]
        for kr in objective["key_results"]:
            lines += ["", "  [[objectives.key_results]]", *_pairs(kr, "  ")]
    return "\n".join(lines) + "\n"
