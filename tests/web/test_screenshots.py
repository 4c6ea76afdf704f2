"""scripts/screenshots: the README's pictures of the dashboard can be made on this machine."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.web.support import require_chromium


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_screenshots_are_written_at_desktop_and_phone_sizes(tmp_path: Path) -> None:
    """The script writes the overview, a Key Result, the review and the scorecard at two sizes."""
    require_chromium()
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "screenshots"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sizes = {p.name: _png_size(p) for p in tmp_path.glob("*.png")}
    assert sizes == {
        f"{page}-{device}.png": size
        for page in ("overview", "key-result", "review", "scorecard")
        for device, size in (("desktop", (1280, 800)), ("phone", (390, 844)))
    }
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for name in sizes:
        assert f"docs/screenshots/{name}" in readme
