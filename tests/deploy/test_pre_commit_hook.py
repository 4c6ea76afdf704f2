"""`.pre-commit-hooks.yaml`: the krtracker-validate hook, run by pre-commit itself (try-repo)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.config_documents import BROKEN_TOML, WARNING_TOML

ROOT = Path(__file__).resolve().parents[2]
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"


def _git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """Commit this working tree (tracked and new files, as they are now) into a fresh repo."""
    if not PRE_COMMIT.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("pre-commit is not installed (pip install -e '.[test]')")
        pytest.skip("pre-commit is not installed")
    repo = tmp_path_factory.mktemp("hook-repo")
    listed = _git(ROOT, "ls-files", "-co", "--exclude-standard", "-z").split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "snapshot")
    yield repo, _git(repo, "rev-parse", "HEAD")


def _user_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir()
    _git(path, "init", "-q")
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
    _git(path, "add", "-A")
    return path


def _try_repo(
    user_repo: Path, hook_repo: tuple[Path, str], store: Path
) -> subprocess.CompletedProcess[str]:
    repo, rev = hook_repo
    env = {**os.environ, "PRE_COMMIT_HOME": str(store), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)  # the hook must run what pre-commit installed, not this tree
    return subprocess.run(
        [
            str(PRE_COMMIT),
            "try-repo",
            str(repo),
            "krtracker-validate",
            "--ref",
            rev,
            "--all-files",
            "--color",
            "never",
        ],
        cwd=user_repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.timeout(900)
def test_the_hook_fails_a_broken_config_and_passes_a_good_one(
    tmp_path: Path, hook_repo: tuple[Path, str]
) -> None:
    """pre-commit installs the hook, exits 1 with the key path on a broken file, 0 once fixed.

    pyproject.toml in the same repository is not a krtracker config and is not checked.
    """
    store = tmp_path / "pre-commit-home"
    broken = _user_repo(
        tmp_path / "broken",
        {"krtracker.toml": BROKEN_TOML, "pyproject.toml": '[project]\nname = "x"\n'},
    )
    result = _try_repo(broken, hook_repo, store)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "krtracker validate" in output and "Failed" in output
    assert "objectives[1].key_results[0].target: target equals baseline" in output
    assert "pyproject.toml" not in output

    good = _user_repo(
        tmp_path / "good",
        {"krtracker.toml": WARNING_TOML, "pyproject.toml": '[project]\nname = "x"\n'},
    )
    result = _try_repo(good, hook_repo, store)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Passed" in output
