"""action.yml: the composite Action's validate step, run as GitHub would run it, on broken files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.config_documents import BROKEN_TOML, WARNING_TOML

ROOT = Path(__file__).resolve().parents[2]


def test_the_action_installs_from_its_checkout_and_validates_with_annotations(
    tmp_path: Path,
) -> None:
    """The install step uses the action's path; the validate step annotates every named file."""
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    steps = {step.get("name"): step for step in action["runs"]["steps"]}
    assert '"$GITHUB_ACTION_PATH"' in steps["Install krtracker"]["run"]
    validate = steps["Validate"]
    assert validate["env"]["KRTRACKER_FILES"] == "${{ inputs.files }}"
    (tmp_path / "okrs").mkdir()
    (tmp_path / "okrs" / "bad.toml").write_text(BROKEN_TOML, encoding="utf-8")
    (tmp_path / "okrs" / "good.toml").write_text(WARNING_TOML, encoding="utf-8")
    script = shutil.which("krtracker", path=str(Path(sys.executable).parent))
    assert script is not None
    env = {
        **os.environ,
        "KRTRACKER_FILES": "okrs/good.toml\nokrs/bad.toml",
        "PATH": f"{Path(script).parent}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        [validate["shell"], "-e", "-c", validate["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("::warning file=okrs/good.toml,line=") for line in lines), lines
    assert any(
        line.startswith("::error file=okrs/bad.toml,line=")
        and "objectives[1].key_results[0].target" in line
        for line in lines
    ), lines
