"""The data layers never import Textual: the CLI, the sandbox and reports must work without it."""

from __future__ import annotations

import subprocess
import sys

import pytest

MODULES = [
    "w365tui.domain",
    "w365tui.domain.models",
    "w365tui.domain.reports",
    "w365tui.domain.streamone",
    "w365tui.settings",
    "w365tui.cli",
    "w365tui.sandbox",
    "w365tui.sandbox.host",
    "w365tui.sandbox.asgi",
    "w365tui.sandbox.dataverse",
    "w365tui.sandbox.batch",
    "w365tui.sandbox.metadata",
    "w365tui.sandbox.ion",
    "w365tui.sandbox.seed",
    "w365tui.sandbox.server",
    "w365tui.sandbox.entra",
    "w365tui.clients",
    "w365tui.clients.http",
    "w365tui.clients.odata",
    "w365tui.clients.auth",
    "w365tui.clients.streamone",
    "w365tui.work365",
    "w365tui.work365.schema",
    "w365tui.work365.reads",
    "w365tui.work365.report_reads",
    "w365tui.work365.rows",
    "w365tui.work365.compile",
    "w365tui.work365.executor",
    "w365tui.work365.recovery",
    "w365tui.workflows",
    "w365tui.workflows.base",
    "w365tui.workflows.reports",
    "w365tui.workflows.sync",
    "w365tui.workflows.mapping",
    "w365tui.workflows.plans",
    "w365tui.workflows.render",
    "w365tui.domain.plan",
    "w365tui.domain.rules",
    "w365tui.domain.mapping",
    "w365tui.journal",
    "w365tui.session",
    "w365tui.domain.matching",
    "w365tui.domain.sync",
    "w365tui.doctor",
]


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_without_textual(module: str) -> None:
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        "leaked = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(leaked))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"{module} imported {result.stdout.strip()}"


def test_the_check_itself_sees_textual() -> None:
    """Guard against a check that cannot fail: importing the UI does pull Textual in."""
    code = "import sys, w365tui.ui.app; print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"
