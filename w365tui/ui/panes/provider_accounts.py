"""Pane 1: the provider accounts of a provider, their mapping, and the two syncs from StreamOne."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from w365tui.domain.matching import Suggestion, Tenant, rank
from w365tui.domain.models import Provider, ProviderAccount
from w365tui.domain.streamone import CloudProfile, Customer
from w365tui.ui.screens import AccountPickerScreen, ChoiceScreen, ConfirmScreen, PlanScreen
from w365tui.ui.text import visible
from w365tui.ui.widgets.filtered_list import FilteredList
from w365tui.ui.widgets.record_table import Column, RecordTable, Row

if TYPE_CHECKING:
    from w365tui.session import Session


@dataclass(frozen=True)
class AccountRow:
    account: ProviderAccount
    crm_name: str | None
    customer: Customer | None = None
    profile: CloudProfile | None = None

    @property
    def tenant(self) -> Tenant:
        name = (self.customer.display_name if self.customer else None) or self.account.name
        return Tenant(name=name, tenant_id=self.profile.customer_tenant_id if self.profile else None,
                      domain=self.profile.customer_domain if self.profile else None,
                      email=self.customer.customer_email if self.customer else None)


TENANT_PRELOAD = 500

COLUMNS = [
    Column("state", "", 1),
    Column("name", "Provider account", 16, flex=3),
    Column("customer", "Customer", 8),
    Column("domain", "Tenant domain", 12, flex=2),
    Column("crm", "CRM account", 14, flex=3),
]


class ProviderAccountsPane(Vertical):
    DEFAULT_CSS = """
    ProviderAccountsPane { height: 1fr; }
    ProviderAccountsPane #pa-status { height: 1; padding: 0 1; color: $text-muted; }
    ProviderAccountsPane #pa-detail { height: 5; border-top: solid $primary 50%; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "map", "Map", id="accounts.map"),
        Binding("u", "unmap", "Unmap", id="accounts.unmap"),
        Binding("a", "sync_accounts", "Sync accts", id="accounts.sync"),
        Binding("b", "sync_subscriptions", "Sync subs", id="accounts.sync_subscriptions"),
        Binding("p", "choose_provider", "Provider", show=False, id="accounts.provider"),
        Binding("c", "copy_id", "Copy id", show=False, id="accounts.copy"),
        Binding("r", "reload", "Reload", show=False, id="accounts.reload"),
        Binding("escape", "back", "Back", show=False, id="accounts.back"),
    ]

    class Loaded(Message):
        """One page of rows; ``first`` starts a new list, ``complete`` ends it."""

        def __init__(self, provider: Provider, rows: list[AccountRow], *, first: bool, complete: bool) -> None:
            super().__init__()
            self.provider = provider
            self.rows = rows
            self.first = first
            self.complete = complete

    class TenantsLoaded(Message):
        """Tenants read so far; ``complete`` ends the preload, ``single`` names a tenant read alone."""

        def __init__(self, customers: dict[str, Customer], profiles: dict[str, CloudProfile | None],
                     complete: bool = False, single: str | None = None) -> None:
            super().__init__()
            self.customers = customers
            self.profiles = profiles
            self.complete = complete
            self.single = single

    def __init__(self) -> None:
        super().__init__(id="provider-accounts")
        self.session: Session | None = None
        self.provider: Provider | None = None
        self.rows: dict[UUID, AccountRow] = {}
        self.customers: dict[str, Customer] = {}
        self.profiles: dict[str, CloudProfile | None] = {}
        self.suggestions: dict[UUID, list[Suggestion]] = {}
        self.loaded = False
        self.tenants_loaded = False

    def compose(self) -> ComposeResult:
        yield Static(Text("Connecting…"), id="pa-status")
        yield FilteredList(RecordTable(COLUMNS, id="pa-table", empty="No provider accounts on this provider."),
                           fill=True, id="pa-list")
        yield Static(Text(""), id="pa-detail")

    # -- status ------------------------------------------------------------------------------
    @property
    def table(self) -> RecordTable:
        return self.query_one("#pa-table", RecordTable)

    def status(self, text: str) -> None:
        self.query_one("#pa-status", Static).update(Text(text))

    def show_counts(self) -> None:
        table = self.table
        unmapped = sum(1 for r in self.rows.values() if not r.account.is_mapped)
        provider = visible(self.provider.name) if self.provider else "?"
        shown = f"{table.shown_count} of {table.total_count} shown" if table.filter_text else f"{table.total_count} accounts"
        filt = f" · filter “{visible(table.filter_text)}”" if table.filter_text else ""
        self.status(f"{provider} · {shown} · {unmapped} unmapped{filt}")

    # -- loading -----------------------------------------------------------------------------
    def start(self, session: Session) -> None:
        self.session = session
        self.load()

    @work(exclusive=True, exit_on_error=False, group="accounts-load")
    async def load(self, provider: Provider | None = None) -> None:
        assert self.session is not None
        gateway = self.session.gateway
        self.status("Loading provider accounts…")
        provider = provider or self.provider or await gateway.techdata_provider()
        count = 0
        first = True
        async for page in gateway.provider_account_pages(provider.id):
            count += len(page)
            self.post_message(self.Loaded(provider, [AccountRow(pa, name) for pa, name in page], first=first,
                                          complete=False))
            first = False
            self.status(f"Loading provider accounts… {count:,} (esc cancels)")
        self.post_message(self.Loaded(provider, [], first=first, complete=True))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.provider = message.provider
        page = {r.account.id: self._with_tenant(r) for r in message.rows}
        if message.first:
            self.loaded = False
            self.rows = page
            if self.table.sort_state[0] is None:
                self.table.sort_by("name")  # the service sends key order; show names in order
            self.table.set_rows([self._table_row(r) for r in page.values()])
        else:
            self.rows.update(page)
            self.table.append_rows([self._table_row(r) for r in page.values()])
        if not message.complete:
            return
        self.loaded = True
        self.suggestions.clear()
        self.show_counts()
        if not self.customers:
            self.load_tenants()

    def _with_tenant(self, row: AccountRow) -> AccountRow:
        key = row.account.provider_specific_id or ""
        return replace(row, customer=self.customers.get(key), profile=self.profiles.get(key))

    @staticmethod
    def _table_row(row: AccountRow) -> Row:
        pa = row.account
        domain = row.profile.customer_domain if row.profile and row.profile.customer_domain else ""
        cells = ("●" if pa.is_mapped else "○", pa.name, pa.provider_specific_id or "", domain,
                 row.crm_name or ("(unmapped)" if not pa.is_mapped else "(account not readable)"))
        styles = ("green" if pa.is_mapped else "yellow", None, None, None, None if pa.is_mapped else "italic yellow")
        return Row(pa.id, cells, styles, (pa.is_mapped, pa.name.casefold(), pa.provider_specific_id or "",
                                          domain, (row.crm_name or "").casefold()))

    def _refresh_table(self) -> None:
        self.table.set_rows([self._table_row(r) for r in self.rows.values()])
        self._show_detail()

    @work(exclusive=True, exit_on_error=False, group="accounts-tenants")
    async def load_tenants(self) -> None:
        """Customers and their Microsoft tenants from StreamOne; unmapped accounts first."""
        assert self.session is not None
        ion = self.session.ion
        short_name = self.session.profile.streamone.cloud_profile_short_name if self.session.profile.streamone else "Microsoft"
        customers: dict[str, Customer] = {}
        async for customer in ion.customers(page_size=100):
            customers[customer.id] = customer
            if len(customers) % 500 == 0:
                self.status(f"Reading StreamOne customers… {len(customers)} (esc cancels)")
        # Tenants matter most for matching: the unmapped accounts first, a bounded number of
        # them (one request each); any other row's tenant is read when the cursor reaches it.
        unmapped = [r for r in self.rows.values() if not r.account.is_mapped]
        mapped = [r for r in self.rows.values() if r.account.is_mapped]
        wanted = [r.account.provider_specific_id for r in (unmapped + mapped)[:TENANT_PRELOAD]
                  if r.account.provider_specific_id in customers]
        profiles: dict[str, CloudProfile | None] = dict(self.profiles)
        for index, customer_id in enumerate(wanted, start=1):
            assert customer_id is not None
            if customer_id not in profiles:
                profiles[customer_id] = (await ion.cloud_profiles(customer_id)).profile(short_name)
            if index % 25 == 0 or index == len(wanted):
                self.status(f"Reading tenants from StreamOne… {index} of {len(wanted)} (esc cancels)")
                self.post_message(self.TenantsLoaded(customers, dict(profiles)))
        self.post_message(self.TenantsLoaded(customers, profiles, complete=True))

    @on(TenantsLoaded)
    def _tenants(self, message: TenantsLoaded) -> None:
        self.customers = message.customers
        self.profiles = message.profiles
        self.rows = {key: self._with_tenant(row) for key, row in self.rows.items()}
        self._refresh_table()
        # suggestions made before the tenant's domain was known are weaker: make them again
        if message.complete:
            self.tenants_loaded = True
            self.show_counts()
            self.suggestions.clear()
            self._highlighted()
        elif message.single is not None:
            for row in self.rows.values():
                if row.account.provider_specific_id == message.single:
                    self.suggestions.pop(row.account.id, None)
            self._highlighted()

    def on_worker_state_changed(self, event: Any) -> None:
        from textual.worker import WorkerState

        if event.state == WorkerState.ERROR:
            if event.worker.group == "accounts-load":
                self.status(f"Could not load provider accounts: {event.worker.error}")
            elif event.worker.group in ("accounts-long", "accounts-tenants"):
                self.show_counts()
        self.app.worker_failed(event)  # type: ignore[attr-defined]

    # -- detail and suggestions ---------------------------------------------------------------
    @on(RecordTable.Highlighted, "#pa-table")
    def _highlighted(self) -> None:
        self._show_detail()
        row = self.current
        if row is None:
            return
        key = row.account.provider_specific_id
        if self.tenants_loaded and key in self.customers and key not in self.profiles:
            self.load_tenant(key)
        elif not row.account.is_mapped and row.account.id not in self.suggestions:
            self.suggest(row)

    @work(exclusive=True, exit_on_error=False, group="accounts-tenant")
    async def load_tenant(self, customer_id: str) -> None:
        """The tenant of the row under the cursor, when the preload did not reach it."""
        assert self.session is not None
        await asyncio.sleep(0.15)  # the cursor may be passing by
        short_name = self.session.profile.streamone.cloud_profile_short_name if self.session.profile.streamone else "Microsoft"
        profile = (await self.session.ion.cloud_profiles(customer_id)).profile(short_name)
        self.post_message(self.TenantsLoaded(self.customers, {**self.profiles, customer_id: profile}, single=customer_id))

    @property
    def current(self) -> AccountRow | None:
        selected = self.table.current_row if self.is_mounted else None
        return self.rows.get(selected.key) if selected else None

    def _show_detail(self) -> None:
        row = self.current
        detail = self.query_one("#pa-detail", Static)
        if row is None:
            detail.update(Text(""))
            return
        pa = row.account
        text = Text()
        text.append(visible(pa.name), style="bold")
        text.append(f"  ·  customer {visible(pa.provider_specific_id or '?')}")
        if row.profile:
            text.append(f"  ·  tenant {visible(row.profile.customer_tenant_id or '?')}  ·  "
                        f"{visible(row.profile.customer_domain or '')}")
        text.append("\n")
        if pa.is_mapped:
            text.append("Mapped to ")
            text.append(visible(row.crm_name or str(pa.account_id)), style="bold green")
        else:
            text.append("Unmapped. ", style="yellow")
            suggestions = self.suggestions.get(pa.id)
            if suggestions is None:
                text.append("Looking for matching CRM accounts…")
            elif not suggestions:
                text.append("No likely CRM account; press m to search.")
            else:
                text.append("Suggested: ")
                for index, suggestion in enumerate(suggestions[:2]):
                    if index:
                        text.append("  |  ")
                    text.append(visible(suggestion.account.name), style="bold")
                    text.append(f" ({'; '.join(suggestion.reasons)})")
                    for warning in suggestion.warnings:
                        text.append(f" ⚠ {warning}", style="yellow")
        detail.update(text)

    @work(exclusive=True, exit_on_error=False, group="accounts-suggest")
    async def suggest(self, row: AccountRow) -> list[Suggestion]:
        assert self.session is not None and self.provider is not None
        await asyncio.sleep(0.15)  # the cursor may be passing by
        candidates = await self.session.gateway.suggestion_candidates(row.tenant, self.provider.id)
        suggestions = rank(row.tenant, candidates)
        latest = self.rows.get(row.account.id)
        if latest is not None and latest.tenant == row.tenant:  # not outdated by tenant data meanwhile
            self.suggestions[row.account.id] = suggestions
            self._show_detail()
        return suggestions

    # -- actions -----------------------------------------------------------------------------
    def _require_row(self) -> AccountRow | None:
        row = self.current
        if row is None:
            self.app.notify("Select a provider account first.", severity="warning")
        return row

    def _writable(self) -> bool:
        if self.session is not None and self.session.read_only:
            self.app.notify("This profile is read-only.", severity="warning")
            return False
        return self.session is not None

    def action_map(self) -> None:
        row = self._require_row()
        if row is None or not self._writable():
            return
        self.pick_account(row)

    @work(exclusive=True, exit_on_error=False, group="accounts-write")
    async def pick_account(self, row: AccountRow) -> None:
        assert self.session is not None and self.provider is not None
        suggestions = self.suggestions.get(row.account.id)
        if suggestions is None:
            candidates = await self.session.gateway.suggestion_candidates(row.tenant, self.provider.id)
            suggestions = self.suggestions[row.account.id] = rank(row.tenant, candidates)
        gateway = self.session.gateway
        account = await self.app.push_screen_wait(AccountPickerScreen(row.account.name, suggestions,
                                                                      lambda text: gateway.search_accounts(text)))
        if account is None:
            return
        chosen = next((s for s in suggestions if s.account.id == account.id), None)
        warnings = list(chosen.warnings) if chosen else []
        overwrite = row.account.is_mapped and row.account.account_id != account.id
        if overwrite:
            warnings.append(f"this replaces the current mapping to {visible(row.crm_name or '')}")
        lines = [Text.assemble("Provider account  ", (visible(row.account.name), "bold")),
                 Text.assemble("CRM account       ", (visible(account.name), "bold")),
                 Text("Written as one journalled change; refused if the row changed since it was read.")]
        if not await self.app.push_screen_wait(ConfirmScreen("Map this provider account?", lines, warnings)):
            return
        await self._apply_mapping(row, account.id, account.name, overwrite)

    async def _apply_mapping(self, row: AccountRow, account_id: UUID | None, name: str | None, overwrite: bool) -> None:
        assert self.session is not None
        try:
            updated = await self.session.gateway.map_provider_account(row.account, account_id, overwrite=overwrite)
        except Exception as error:  # shown, and the list is reloaded so the operator sees the truth
            self.app.notify(str(error), title="Mapping refused", severity="error", timeout=10)
            self.load()
            return
        self.rows[updated.id] = replace(row, account=updated, crm_name=name)
        self.suggestions.pop(updated.id, None)
        self._refresh_table()
        self.show_counts()
        verb = "Mapped" if account_id else "Unmapped"
        self.app.notify(f"{verb} {visible(row.account.name)}" + (f" → {visible(name)}" if name else ""),
                        title="Saved", markup=False)

    def action_unmap(self) -> None:
        row = self._require_row()
        if row is None or not self._writable():
            return
        if not row.account.is_mapped:
            self.app.notify("This provider account is not mapped.", severity="warning")
            return
        self.confirm_unmap(row)

    @work(exclusive=True, exit_on_error=False, group="accounts-write")
    async def confirm_unmap(self, row: AccountRow) -> None:
        lines = [Text.assemble("Provider account  ", (visible(row.account.name), "bold")),
                 Text.assemble("is mapped to      ", (visible(row.crm_name or str(row.account.account_id)), "bold")),
                 Text("Its subscriptions will no longer reach this customer's billing until it is mapped again.")]
        if await self.app.push_screen_wait(ConfirmScreen("Remove this mapping?", lines)):
            await self._apply_mapping(row, None, None, overwrite=False)

    def action_sync_accounts(self) -> None:
        if self.session is not None:  # a read-only profile still sees the preview; it cannot apply it
            self.sync_accounts()

    @work(exclusive=True, exit_on_error=False, group="accounts-long")
    async def sync_accounts(self) -> None:
        assert self.session is not None and self.provider is not None
        self.status("Reading StreamOne customers… (esc cancels)")
        customers = []
        async for customer in self.session.ion.customers(page_size=100):
            customers.append(customer)
            if len(customers) % 200 == 0:
                self.status(f"Reading StreamOne customers… {len(customers)} (esc cancels)")
        plan = await self.session.gateway.provider_account_sync_plan(self.provider, customers)
        self.show_counts()
        changes = [("create", c.name, f"customer {c.customer_id}") for c in plan.creates]
        changes += [("rename", r.account.name, f"→ {r.name}") for r in plan.renames]
        summary = (f"{len(customers)} StreamOne customers: {len(plan.creates)} to create, {len(plan.renames)} to rename, "
                   f"{plan.unchanged} unchanged, {plan.skipped_inactive} inactive skipped")
        if plan.duplicates:
            summary += f"; ⚠ customer ids held twice: {', '.join(plan.duplicates)}"
        if not await self.app.push_screen_wait(PlanScreen(f"Sync provider accounts on {self.provider.name}", summary,
                                                          changes, read_only=self.session.read_only)):
            return
        operations, touched = self.session.gateway.provider_account_sync_operations(plan)
        self.status(f"Applying {len(operations)} changes…")
        try:
            await self.session.gateway.apply_or_raise(operations, description="sync provider accounts from StreamOne",
                                                      touched=touched)
        except Exception as error:
            self.app.notify(str(error), title="Sync refused", severity="error", timeout=10)
        else:
            self.app.notify(f"{len(plan.creates)} created, {len(plan.renames)} renamed.", title="Provider accounts synced")
        self.load()

    def action_sync_subscriptions(self) -> None:
        row = self._require_row()
        if row is None:
            return
        if not row.account.is_mapped:
            self.app.notify("Map this provider account first: subscriptions need a customer.", severity="warning")
            return
        self.sync_subscriptions(row)

    @work(exclusive=True, exit_on_error=False, group="accounts-long")
    async def sync_subscriptions(self, row: AccountRow) -> None:
        assert self.session is not None and self.provider is not None and row.account.account_id is not None
        gateway = self.session.gateway
        contracts = await gateway.billing_contracts(row.account.account_id)
        if not contracts:
            self.app.notify("This CRM account has no billing contract.", severity="warning")
            return
        choice = await self.app.push_screen_wait(ChoiceScreen(
            f"Billing contract for {visible(row.crm_name or '')}",
            [Column("default", "Default", 7), Column("name", "Billing contract", 20, flex=1)],
            [Row(c.id, ("yes" if c.is_default else "", c.name)) for c in contracts]))
        if choice is None:
            return
        contract = next(c for c in contracts if c.id == choice)
        self.status("Reading the customer's subscriptions from StreamOne… (esc cancels)")
        customer_id = row.account.provider_specific_id or ""
        ion_subs = [s async for s in self.session.ion.subscriptions(customer_id)] if customer_id.isdigit() else []
        plan = await gateway.subscription_sync_plan(row.account.account_id, contract.id, self.provider, ion_subs)
        self.show_counts()
        changes = [("create", c.ion.sku_display_name or c.ion.subscription_name or c.ion.id,
                    f"{c.ion.quantity} × {c.ion.subscription_billing_term or ''}") for c in plan.creates]
        changes += [("quantity", c.subscription.name, f"{c.subscription.quantity} → {c.ion.quantity} ({c.delta:+d})")
                    for c in plan.changes]
        summary = (f"{len(ion_subs)} StreamOne subscriptions: {len(plan.creates)} new, {len(plan.changes)} quantity "
                   f"changes, {plan.unchanged} unchanged")
        if plan.only_in_work365:
            summary += f"; {len(plan.only_in_work365)} only in Work 365"
        if not await self.app.push_screen_wait(PlanScreen(f"Sync subscriptions onto {contract.name}", summary, changes,
                                                          read_only=self.session.read_only)):
            return
        try:
            settled = await gateway.apply_subscription_sync(
                plan, account_id=row.account.account_id, provider_id=self.provider.id,
                provider_account_id=row.account.id, today=date.today(),
                description=f"sync subscriptions of {row.account.name}")
        except Exception as error:
            self.app.notify(str(error), title="Sync refused", severity="error", timeout=10)
            return
        if settled:
            self.app.notify(f"{settled} Create LCL(s) were written as awaiting provisioning and have been set "
                            "Not Applicable, so nothing is ordered twice.", title="Checked", severity="warning")
        self.app.notify(f"{len(plan.creates)} added, {len(plan.changes)} quantities changed.",
                        title="Subscriptions synced")

    @work(exclusive=True, exit_on_error=False, group="accounts-write")
    async def action_choose_provider(self) -> None:
        assert self.session is not None
        providers = await self.session.gateway.providers()
        choice = await self.app.push_screen_wait(ChoiceScreen(
            "Provider", [Column("type", "Type", 10), Column("name", "Provider", 20, flex=1),
                         Column("internal", "Internal name", 20, flex=1)],
            [Row(p.id, ((p.type.value if p.type else "?").replace("_", " "), p.name, p.internal_name or ""))
             for p in providers]))
        if choice is not None:
            provider = next(p for p in providers if p.id == choice)
            self.provider = provider
            self.load(provider)

    def action_copy_id(self) -> None:
        row = self.current
        if row is not None:
            self.app.copy_to_clipboard(str(row.account.id))
            self.app.notify(f"Copied {row.account.id}", title="Clipboard")

    def action_reload(self) -> None:
        self.customers.clear()
        self.load()

    # -- filter and esc -----------------------------------------------------------------------
    @on(FilteredList.Changed, "#pa-list")
    def _filter_changed(self) -> None:
        self.show_counts()

    def action_back(self) -> None:
        """esc: cancel long work, else clear the filter."""
        long_groups = ("accounts-long", "accounts-tenants", "accounts-load")
        if any(w.group in long_groups and w.is_running for w in self.workers):
            for group in long_groups:
                self.workers.cancel_group(self, group)
            self.show_counts()
            self.app.notify("Cancelled.")
            return
        if self.query_one(FilteredList).clear_filter():
            self.show_counts()

    def focus_list(self) -> None:
        self.table.focus()
