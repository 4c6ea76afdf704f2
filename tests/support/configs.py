"""Config snippets more than one test file starts `krtracker` with.

A test that needs its own Key Results writes its own TOML; the ones here are the configs
several files share word for word, so a change to the config format is made once.
"""

from __future__ import annotations


def manual_config(token: str) -> str:
    """Return a config with one manual Key Result (`nps`) and a write token named "ci"."""
    return f"""
[api]
tokens = [{{ name = "ci", token = "{token}", scopes = ["read", "write"] }}]

[connectors.people]
type = "manual"

[[objectives]]
id = "quality"
title = "Ship with confidence"
start = 2026-01-01
end = 2030-12-31

[[objectives.key_results]]
id = "nps"
title = "Net promoter score"
direction = "increase"
baseline = 0
target = 50
source = {{ connector = "people" }}
"""
