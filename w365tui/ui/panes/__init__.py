"""The registry of panes: their order here is their number (the key that opens them).

Adding a pane is adding it here; the shell names none.
"""

from __future__ import annotations

from w365tui.ui.panes.base import Pane
from w365tui.ui.panes.customers import CustomersPane
from w365tui.ui.panes.lcls import LicenseChangeLogsPane
from w365tui.ui.panes.provider_accounts import ProviderAccountsPane
from w365tui.ui.panes.reports import ReportsPane
from w365tui.ui.panes.subscriptions import SubscriptionsPane

#: The order of an onboarding: map the tenant, find the customer, its subscriptions, their LCLs, the reports.
PANES: tuple[type[Pane], ...] = (ProviderAccountsPane, CustomersPane, SubscriptionsPane, LicenseChangeLogsPane,
                                 ReportsPane)

__all__ = ["PANES", "Pane"]
