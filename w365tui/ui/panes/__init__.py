"""The registry of panes: their order here is their number (the key that opens them).

Adding a pane is adding it here; the shell names none.
"""

from __future__ import annotations

from w365tui.ui.panes.base import Pane
from w365tui.ui.panes.coming import LicenseChangeLogsPane, ReportsPane, SubscriptionsPane
from w365tui.ui.panes.provider_accounts import ProviderAccountsPane

PANES: tuple[type[Pane], ...] = (ProviderAccountsPane, SubscriptionsPane, LicenseChangeLogsPane, ReportsPane)

__all__ = ["PANES", "Pane"]
