"""Imports flow one way: ui / cli → workflows → domain + work365 → clients. Checked on the source,
imports inside functions included, so a lazy import cannot slip through."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "w365tui"

#: For each layer, the w365tui packages and modules it must never import.
FORBIDDEN = {
    "domain": ("w365tui.clients", "w365tui.work365", "w365tui.workflows", "w365tui.ui", "w365tui.sandbox",
               "w365tui.session", "w365tui.journal", "w365tui.settings", "w365tui.cli", "w365tui.doctor"),
    "clients": ("w365tui.work365", "w365tui.workflows", "w365tui.ui", "w365tui.session", "w365tui.cli",
                "w365tui.sandbox"),
    "work365": ("w365tui.workflows", "w365tui.ui", "w365tui.cli", "w365tui.session"),
    "workflows": ("w365tui.ui", "w365tui.cli"),
    "sandbox": ("w365tui.work365", "w365tui.workflows", "w365tui.ui", "w365tui.clients", "w365tui.session"),
    "journal": ("w365tui.ui", "w365tui.workflows", "w365tui.work365", "w365tui.clients"),
    "session": ("w365tui.ui", "w365tui.workflows", "w365tui.cli"),
}
THIRD_PARTY_FORBIDDEN = {"textual"}  # outside w365tui/ui


def layer_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE).with_suffix("")
    return relative.parts[0] if len(relative.parts) > 1 else relative.parts[0]


def imported(source: str, path: Path) -> list[str]:
    """Every module ``source`` imports, relative imports resolved against ``path``."""
    package = [PACKAGE.name, *path.relative_to(PACKAGE).parent.parts]
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names.append(module)
            names += [f"{module}.{alias.name}" for alias in node.names]
    return names


def violations(path: Path, source: str) -> list[str]:
    layer = layer_of(path)
    found = []
    for name in imported(source, path):
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN.get(layer, ())):
            found.append(f"{path.relative_to(PACKAGE.parent)} ({layer}) imports {name}")
        if layer != "ui" and name.split(".")[0] in THIRD_PARTY_FORBIDDEN:
            found.append(f"{path.relative_to(PACKAGE.parent)} ({layer}) imports {name}")
    return found


def test_imports_follow_the_layers() -> None:
    problems = [v for path in sorted(PACKAGE.rglob("*.py")) for v in violations(path, path.read_text())]
    assert problems == []


@pytest.mark.parametrize("where, source", [
    ("domain/plan.py", "from w365tui.work365.rows import encode"),
    ("domain/plan.py", "def f():\n    import w365tui.clients.http"),
    ("clients/odata.py", "from w365tui.work365 import schema"),
    ("work365/reads.py", "from textual.widgets import Static"),
    ("workflows/sync.py", "from w365tui.ui.app import W365App"),
    ("domain/plan.py", "from ..ui import app"),
    ("work365/reads.py", "from ..workflows.sync import provider"),
])
def test_the_check_sees_a_wrong_import(where: str, source: str) -> None:
    assert violations(PACKAGE / where, source)
