"""Config snippets the config tests share: document builders, TOML files, the validate run.

One place, so a test of the models, the checks, loading, lint, annotations, the GitHub
Action or the pre-commit hook builds its config from the same valid pieces and changes only
what it is about (`key_result(target=DROP)`), instead of pasting a config again.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.config.loading import ConfigError, parse_config
from app.config.problems import Problem

DROP = object()


def key_result(**fields: Any) -> dict[str, Any]:
    """Return a valid decrease Key Result fed by the manual connector, with `fields` changed."""
    base: dict[str, Any] = {
        "id": "p99",
        "title": "Reduce P99 latency by 30%",
        "unit": "ms",
        "direction": "decrease",
        "baseline": 400,
        "target": 280,
        "source": {"connector": "people"},
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not DROP}


def objective(*krs: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Return a valid objective for 2026-Q4 holding `krs` (one default KR if none)."""
    base: dict[str, Any] = {
        "id": "fast",
        "title": "Payments are fast",
        "period": "2026-Q4",
        "key_results": list(krs) if krs else [key_result()],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not DROP}


def document(*objectives: dict[str, Any], **sections: Any) -> dict[str, Any]:
    """Return a whole config with a manual connector named `people` and `objectives`."""
    doc: dict[str, Any] = {
        "connectors": {"people": {"type": "manual"}},
        "objectives": list(objectives) if objectives else [objective()],
    }
    doc.update(sections)
    return doc


def errors_of(raw: dict[str, Any]) -> list[Problem]:
    """Return the errors parse_config raises for `raw` (fails if it accepts the config)."""
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return [p for p in caught.value.problems if p.severity == "error"]


def warnings_of(raw: dict[str, Any]) -> list[Problem]:
    """Return the warnings of a config that parse_config accepts."""
    return parse_config(raw).warnings


def assert_refused_at(raw: dict[str, Any], path: str, fragment: str) -> None:
    """Assert `raw` is refused with an error at exactly `path` whose message holds `fragment`."""
    problems = errors_of(raw)
    at_path = [p for p in problems if p.path == path]
    assert at_path, f"no error at {path}; got {[str(p) for p in problems]}"
    assert any(fragment.lower() in p.message.lower() for p in at_path), [str(p) for p in at_path]


# A file with one error (target equals baseline, in the second objective) and one with only
# a warning (a Key Result with neither a source nor a target), for the `validate` runs.
BROKEN_TOML = """
[connectors.people]
type = "manual"

[[objectives]]
id = "fast"
title = "Payments are fast"
period = "2026-Q4"

[[objectives.key_results]]
id = "p99"
title = "P99"
direction = "decrease"
baseline = 400
target = 280
source = { connector = "people" }

[[objectives]]
id = "reliable"
title = "Payments are reliable"
period = "2026-Q4"

[[objectives.key_results]]
id = "avail"
title = "Availability"
direction = "increase"
baseline = 99.5
target = 99.5
source = { connector = "people" }
"""

WARNING_TOML = """
[[objectives]]
id = "fast"
title = "Payments are fast"
period = "2026-Q4"

[[objectives.key_results]]
id = "p99"
title = "P99"
direction = "decrease"

[lint]
key_results_per_objective = false
"""


def krtracker(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `krtracker` command and capture its output."""
    exe = shutil.which("krtracker") or shutil.which(
        "krtracker", path=str(Path(sys.executable).parent)
    )
    command = [exe] if exe else [sys.executable, "-c", "from app.cli.main import main; main()"]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=60, check=False
    )
