"""The registry of panes: their order here is their number (the key that opens them).

Adding a pane is adding it here; the shell names none. The registry names each pane's module
rather than importing it: the shell paints the first pane before the others (and the domain
code they need) are loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from w365tui.ui.panes.base import Pane


@dataclass(frozen=True)
class PaneSpec:
    """A pane as the shell knows it before its module is loaded: the class holds the same
    ``PANE_ID`` and ``TITLE``."""

    pane_id: str
    title: str
    module: str
    name: str

    def load(self) -> type[Pane]:
        """The pane's class (its module imported on first call)."""
        return getattr(import_module(self.module), self.name)


def _spec(pane_id: str, title: str, module: str, name: str) -> PaneSpec:
    return PaneSpec(pane_id, title, f"w365tui.ui.panes.{module}", name)


#: The order of an onboarding: map the tenant, find the customer, its subscriptions, their LCLs, the reports.
PANES: tuple[PaneSpec, ...] = (
    _spec("provider-accounts", "Provider accounts", "provider_accounts", "ProviderAccountsPane"),
    _spec("customers", "Customers", "customers", "CustomersPane"),
    _spec("subscriptions", "Subscriptions", "subscriptions", "SubscriptionsPane"),
    _spec("lcls", "LCLs", "lcls", "LicenseChangeLogsPane"),
    _spec("reports", "Reports", "reports", "ReportsPane"),
)

__all__ = ["PANES", "Pane", "PaneSpec"]
