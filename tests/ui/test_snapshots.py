"""SVG snapshots of each pane at 80×24 and 120×40, from a fresh demo sandbox.

After an intended change of the screens, refresh them with
``W365TUI_UPDATE_SNAPSHOTS=1 python -m pytest tests/ui/test_snapshots.py`` and look at the
new files before committing them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from w365tui.ui.screenshots import SCENES, capture

pytestmark = pytest.mark.anyio
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("scene", list(SCENES))
async def test_snapshot(scene: str, size: tuple[int, int], tmp_path: Path) -> None:
    svg = await capture(scene, size, tmp_path)
    path = SNAPSHOTS / f"{scene}-{size[0]}x{size[1]}.svg"
    if os.environ.get("W365TUI_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        if os.environ.get("CI") and not path.exists():
            pytest.fail(f"{path.name} is missing; generate it with W365TUI_UPDATE_SNAPSHOTS=1 and commit it")
        path.parent.mkdir(exist_ok=True)
        path.write_text(svg, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    if svg != expected:
        actual = tmp_path / path.name
        actual.write_text(svg, encoding="utf-8")
        pytest.fail(f"{path.name} differs from the screen now drawn (saved to {actual}); if the change is intended, "
                    "refresh with W365TUI_UPDATE_SNAPSHOTS=1")
