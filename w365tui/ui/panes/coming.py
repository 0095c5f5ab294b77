"""Panes announced but not yet built: each says what it will do."""

from __future__ import annotations

from w365tui.ui.panes.base import ComingPane


class ReportsPane(ComingPane):
    PANE_ID = "reports"
    TITLE = "Reports"
    TEXT = "The mismatch reports, each leading straight to its fix, arrive in a coming release."
