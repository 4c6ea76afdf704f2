"""The starter config `krtracker init` writes: one objective for the current quarter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.config.objectives import quarter_of

if TYPE_CHECKING:
    from datetime import date

STARTER = """\
# krtracker config, written by `krtracker init`. Check it with `krtracker validate {name}`,
# serve it with `krtracker serve --config {name}`. config.example.toml in krtracker's
# repository documents every option.

[database]
url = "sqlite:///krtracker.db"

[api]
# Writes (values, check-ins) need this token: export KRTRACKER_WRITE_TOKEN (16+ characters).
tokens = [
  {{ name = "team", token = "${{KRTRACKER_WRITE_TOKEN:-}}", scopes = ["read", "write"] }},
]

# Values typed in by people: POST /api/v1/key-results/ID/values
[connectors.people]
type = "manual"

[[objectives]]
id = "first-objective"
title = "Name what should be true at the end of the quarter"
owner = "You"
team = "your-team"
# This quarter; "current-quarter" would follow the calendar at every start instead.
period = "{quarter}"

  [[objectives.key_results]]
  id = "first-key-result"
  title = "A number that shows the objective is met"
  unit = "%"
  direction = "increase"
  baseline = 0
  target = 100
  source = {{ connector = "people" }}
"""


def starter_config(*, name: str, today: date) -> str:
    """Return the starter file (named `name` in its comments) for the quarter of `today`."""
    return STARTER.format(name=name, quarter=quarter_of(today))
