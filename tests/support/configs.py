"""Builders of the config TOML tests start `krtracker` with, so a test states only what matters.

A config is the sections `configs.text(...)` joins; each builder returns the TOML of one
section, its values written as keyword arguments (import the module, not its names: tests
use `objective` and `key_result` as variables):

    configs.text(
        configs.api(configs.token("ci", TOKEN, "read", "write")),
        configs.manual_connector(),
        configs.objective("quality", "Ship with confidence", period="2026-Q4", key_results=[
            configs.key_result("coverage", "Coverage", direction="increase", target=85),
        ]),
    )

Values become TOML values (`date(2026, 1, 1)` a TOML date, a dict an inline table); a Key
Result's source is the manual connector `people` unless the call names another. What the
builders add on their own is only the table header and that default source, so a reader of
the test sees every id, title, period, target and token the test relies on.
(The config-validation tests build dicts for `parse_config` in `config_documents`.)
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

PEOPLE = {"connector": "people"}
"""The source of a manual Key Result: values posted to the API."""

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_value(value: Any) -> str:
    """Return `value` as a TOML value: strings quoted, dates bare, dicts as inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + pairs + " }" if pairs else "{}"
    raise TypeError(f"no TOML form for {value!r}")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def _lines(fields: dict[str, Any]) -> str:
    """Return `key = value` lines for the fields that are not None."""
    return "".join(f"{_key(k)} = {toml_value(v)}\n" for k, v in fields.items() if v is not None)


def text(*sections: str) -> str:
    """Join sections into one config document (a blank line between them)."""
    return "\n" + "\n".join(section.strip("\n") + "\n" for section in sections if section)


def section(name: str, **fields: Any) -> str:
    """Return the table `[name]` with `fields` (`section("alerts", for_samples=1)`)."""
    return f"[{name}]\n{_lines(fields)}"


def token(name: str, secret: str, *scopes: str) -> dict[str, Any]:
    """Return one API token entry; without scopes the token gets the server's default."""
    entry: dict[str, Any] = {"name": name, "token": secret}
    if scopes:
        entry["scopes"] = list(scopes)
    return entry


def api(*tokens: dict[str, Any], **fields: Any) -> str:
    """Return the `[api]` table with `tokens` (from `token(...)`) and other settings."""
    return section("api", tokens=list(tokens) if tokens else None, **fields)


def connector(name: str, type: str, **fields: Any) -> str:
    """Return the table `[connectors.<name>]` of a connector of `type`."""
    return section(f"connectors.{name}", type=type, **fields)


def manual_connector(name: str = "people") -> str:
    """Return the manual connector Key Results take posted values from."""
    return connector(name, "manual")


def webhook(name: str, url: str, **fields: Any) -> str:
    """Return one `[[webhooks]]` entry (`format`, `secret`, `events`, `headers`, ...)."""
    return f"[[webhooks]]\n{_lines({'name': name, 'url': url, **fields})}"


def digest(name: str, cron: str, **fields: Any) -> str:
    """Return one `[[digests]]` entry sent on `cron` (`webhooks`, `objectives`, ...)."""
    return f"[[digests]]\n{_lines({'name': name, 'cron': cron, **fields})}"


def objective(id: str, title: str, *, key_results: Sequence[str] = (), **fields: Any) -> str:
    """Return one `[[objectives]]` entry (`period`, `start`/`end`, `team`, ...) and its KRs."""
    head = f"[[objectives]]\n{_lines({'id': id, 'title': title, **fields})}"
    return "\n".join([head, *(kr.strip("\n") + "\n" for kr in key_results)])


def key_result(id: str, title: str, *, source: dict[str, Any] = PEOPLE, **fields: Any) -> str:
    """Return one `[[objectives.key_results]]` entry, fed by `source` (default: manual)."""
    return f"[[objectives.key_results]]\n{_lines({'id': id, 'title': title, **fields})}" + (
        f"source = {toml_value(source)}\n"
    )


def manual_config(token_value: str) -> str:
    """Return a config with one manual Key Result (`nps`) and a write token named "ci"."""
    return text(
        api(token("ci", token_value, "read", "write")),
        manual_connector(),
        objective(
            "quality", "Ship with confidence", start=date(2026, 1, 1), end=date(2030, 12, 31),
            key_results=[
                key_result("nps", "Net promoter score", direction="increase", baseline=0, target=50)
            ],
        ),
    )
