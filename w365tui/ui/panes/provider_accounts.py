"""Pane 1: the provider accounts of a provider, their mapping, and the two syncs from StreamOne.

Every write is a workflow's plan shown in the one review screen (``Pane.run_plan``). Workers
post messages; the handlers here own the rows on screen.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from dataclasses import dataclass, replace
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from w365tui.domain.ids import AccountIdKind, kind_of, norm_id, same_name
from w365tui.domain.matching import Suggestion, Tenant, domain_of, rank
from w365tui.ui import trace
from w365tui.ui.commands import Command
from w365tui.ui.panes.base import Pane, PlanApplied
from w365tui.ui.screens import MODAL_CSS, AccountPickerScreen, ChoiceScreen
from w365tui.ui.text import visible
from w365tui.ui.widgets.filtered_list import FilteredList
from w365tui.ui.widgets.record_table import Column, RecordTable, Row

if TYPE_CHECKING:  # the models (pydantic) are loaded after the first paint: the first screen needs none
    from w365tui.domain.models import Account, Provider, ProviderAccount, ProviderAccountBrief
    from w365tui.domain.plan import Plan
    from w365tui.domain.streamone import CloudProfile, CustomerBrief
    from w365tui.session import Session


@dataclass(frozen=True, slots=True)  # slots: a list holds 100,000 of them
class AccountRow:
    account: ProviderAccount | ProviderAccountBrief
    crm_name: str | None
    customer: CustomerBrief | None = None
    profile: CloudProfile | None = None

    @property
    def tenant(self) -> Tenant:
        name = (self.customer.display_name if self.customer else None) or self.account.name
        return Tenant(name=name, tenant_id=self.profile.customer_tenant_id if self.profile else None,
                      domain=self.profile.customer_domain if self.profile else None,
                      email=self.customer.customer_email if self.customer else None)


MAPPED_STYLES = ("green", None, None, None, None)  # one tuple shared by every row, not one each
UNMAPPED_STYLES = ("yellow", None, None, None, "italic")
TENANT_PRELOAD = 500
SCREEN_ROWS = 200  # the list's first rows kept for the next start

COLUMNS = [
    Column("state", "", 1, searched=False),
    Column("name", "Provider account", 16, flex=3),
    Column("customer", "Customer", 8),
    Column("domain", "Tenant domain", 12, flex=2),
    Column("crm", "CRM account", 14, flex=3),
]


def _has_row(pane: ProviderAccountsPane) -> bool:
    return pane.current is not None


def _has_mapped_row(pane: ProviderAccountsPane) -> bool:
    return pane.current is not None and pane.current.account.is_mapped


def _writable(pane: ProviderAccountsPane) -> bool:
    return pane.session is not None and not pane.session.read_only


class ProviderAccountsPane(Pane):
    PANE_ID = "provider-accounts"
    TITLE = "Provider accounts"
    DEFAULT_CSS = """
    ProviderAccountsPane { height: 1fr; }
    ProviderAccountsPane #pa-status { height: 1; padding: 0 1; color: $text-muted; }
    ProviderAccountsPane #pa-detail { height: 5; border-top: solid $primary 50%; padding: 0 1; }
    """
    COMMAND_LIST: ClassVar[tuple[Command, ...]] = (
        Command("accounts.map", "m", "Map", "map", "Map the provider account to a CRM account (or change its mapping)",
                title="Map provider account", available=lambda p: _has_row(p) and _writable(p)),
        Command("accounts.unmap", "u", "Unmap", "unmap", "Remove the provider account's mapping",
                title="Unmap provider account", available=lambda p: _has_mapped_row(p) and _writable(p)),
        Command("accounts.sync", "a", "Sync accts", "sync_accounts",
                "Create provider accounts for new StreamOne customers", title="Sync provider accounts",
                available=lambda p: p.session is not None),
        Command("accounts.sync_subscriptions", "b", "Sync subs", "sync_subscriptions",
                "The customer's StreamOne subscriptions onto a billing contract", title="Sync subscriptions",
                available=_has_mapped_row),
        Command("accounts.subscriptions", "v", "Subscriptions", "view_subscriptions",
                "The mapped customer's subscriptions side by side, to retire the manual ones (pane 3)",
                title="View the customer's subscriptions", show=False, available=_has_mapped_row),
        Command("accounts.open", "o", "Open", "open", "Everything known of the provider account",
                title="Open provider account", show=False, available=_has_row),
        Command("accounts.provider", "p", "Provider", "choose_provider", "Show another provider's accounts",
                title="Choose provider", show=False, available=lambda p: p.session is not None),
        Command("accounts.copy", "c", "Copy id", "copy_id", "Copy the tenant id, customer id or record id (OSC 52)",
                title="Copy an id", show=False, available=_has_row),
        Command("accounts.reload", "r", "Reload", "reload", "Read the provider accounts again (or reconnect)",
                title="Reload", show=False),
        Command("accounts.back", "escape", "Back", "back", "Cancel long work, else clear the filter", show=False,
                palette=False),
    )

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

        def __init__(self, customers: dict[str, CustomerBrief], profiles: dict[str, CloudProfile | None],
                     complete: bool = False, single: str | None = None) -> None:
            super().__init__()
            self.customers = customers
            self.profiles = profiles
            self.complete = complete
            self.single = single

    class Suggested(Message):
        def __init__(self, account_id: UUID, tenant: Tenant, suggestions: list[Suggestion],
                     counts: dict[UUID, int]) -> None:
            super().__init__()
            self.account_id = account_id
            self.tenant = tenant
            self.suggestions = suggestions
            self.counts = counts

    class RowRead(Message):
        """A provider account read again after a change."""

        def __init__(self, account: ProviderAccount, crm_name: str | None) -> None:
            super().__init__()
            self.account = account
            self.crm_name = crm_name

    def __init__(self) -> None:
        super().__init__()
        self.provider: Provider | None = None
        self.rows: dict[UUID, AccountRow] = {}
        self.customers: dict[str, CustomerBrief] = {}
        self.profiles: dict[str, CloudProfile | None] = {}
        self.by_tenant: dict[str, str] = {}  # tenant id (compared form) → StreamOne customer id
        # a provider-specific id (compared form) → its row, or its rows when several hold it
        self._held: dict[str, UUID | list[UUID]] = {}
        self.cached: set[UUID] = set()  # rows shown from the last run's first screen, not read again yet
        self.cached_provider: UUID | None = None
        self.cached_organization: str | None = None
        self.suggestions: dict[UUID, list[Suggestion]] = {}
        # the tenant each row's suggestions were made for: when the row's differs (its tenant read
        # since, or the list read again), they are shown until new ones come, not cleared
        self._suggested_for: dict[UUID, Tenant] = {}
        self.mapped_counts: dict[UUID, int] = {}
        self.loaded = False
        self.tenants_loaded = False
        self._unmapped = 0  # of self.rows, kept as rows change: recounting 100,000 per key is slow
        self._known = 0  # rows whose tenant is known
        # a long worker running (the list loading, the tenants read) → its run and how far it got
        self._progress: dict[str, tuple[object, str]] = {}

    def _put(self, key: UUID, row: AccountRow) -> None:
        """Hold this row (in place of the one with its key), keeping the counts."""
        old = self.rows.get(key)
        if old is not None:
            self._unmapped -= not old.account.is_mapped
            self._known -= old.profile is not None
        self._unmapped += not row.account.is_mapped
        self._known += row.profile is not None
        self.rows[key] = row

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

    def status_done(self) -> None:
        self.show_counts()

    def show_counts(self) -> None:
        table = self.table
        if self._progress:  # long work running: how far it got, and what the filter holds so far
            held = f" · {table.shown_count:,} hold “{visible(table.filter_text)}”" if table.filter_text else ""
            self.status(f"{next(reversed(self._progress.values()))[1]}{held}")
            return
        if not self.loaded and not self.rows:
            return
        unmapped = self._unmapped
        provider = visible(self.provider.name) if self.provider else "?"
        shown = f"{table.shown_count:,} of {table.total_count:,} shown" if table.filter_text else f"{table.total_count:,} accounts"
        filt = f" · filter “{visible(table.filter_text)}”" if table.filter_text else ""
        tenants = ""
        if self.tenants_loaded:
            known = self._known
            if known < len(self.rows):
                tenants = f" · {known:,} tenants known"
        # the counts first, the filter's text (which its box shows too) last: at 80 columns the line is cut
        self.status(f"{provider} · {shown} · {unmapped:,} unmapped{tenants}{filt}")

    # -- loading -----------------------------------------------------------------------------
    def progress(self, run: object, group: str, text: str) -> None:
        """A long worker's run (its group's latest) says how far it got; the status line adds
        what the filter holds."""
        self._progress.pop(group, None)
        self._progress[group] = (run, text)
        self.show_counts()

    def progress_done(self, run: object, group: str) -> None:
        """The run ended; when it was its group's latest, the status line says the counts again."""
        if self._progress.get(group, (None, ""))[0] is run:
            del self._progress[group]

    def start(self, session: Session) -> None:
        super().start(session)
        if self.cached and self.cached_organization != session.organization_id:  # another org's rows
            self.cached = set()
            self.table.set_rows([])
        self.load()

    def disconnected(self, reason: str) -> None:
        self.status(f"{reason} — press r to try again")

    @work(exclusive=True, exit_on_error=False, group="accounts-load")
    async def load(self, provider: Provider | None = None) -> None:
        from w365tui.workflows.sync import provider as streamone_provider

        assert self.session is not None
        loading = "The last run's list, reading it again…" if self.cached else "Loading provider accounts…"
        run = object()
        try:
            self.progress(run, "accounts-load", loading)
            provider = provider or self.provider or await streamone_provider(self.session)
            count = 0
            first = True
            said = 0.0
            # 250 rows at a time: turning more into rows at once holds the screen too long. Each chunk
            # is shown before the next is read (not queued as a message): a key typed meanwhile waits
            # for one chunk, never behind a queue of them.
            async for page in self.session.reads.provider_account_pages(provider.id, chunk=250):
                count += len(page)
                self._loaded(self.Loaded(provider, [AccountRow(pa, name) for pa, name in page], first=first,
                                         complete=False))
                await self.make_way()
                first = False
                if time.monotonic() - said > 0.5:  # a status line laid out again per chunk costs more than the chunk
                    said = time.monotonic()
                    self.progress(run, "accounts-load", f"{loading} {count:,} (esc cancels)")
        finally:
            self.progress_done(run, "accounts-load")
        self.post_message(self.Loaded(provider, [], first=first, complete=True))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.provider = message.provider
        page = {r.account.id: self._with_tenant(r) for r in message.rows}
        rows = [self._table_row(r) for r in page.values()]
        if message.first:
            trace.mark("accounts-first-page", rows=len(page))
            self.loaded = False
            self.rows, self._unmapped, self._known = {}, 0, 0
            for key, row in page.items():
                self._put(key, row)
            self._held = {}
            if self.cached and self.cached_provider != message.provider.id:
                self.cached = set()  # another provider's list was shown
            if self.table.sort_state[0] is None:
                self.table.sort_by("name")  # the service sends key order; show names in order
            if self.cached:
                self._over_cached(rows)
            else:
                self.table.set_rows(rows)
        else:
            for key, row in page.items():
                self._put(key, row)
            if self.cached:
                self._over_cached(rows)
            else:
                self.table.append_rows(rows)
        for key, row in page.items():  # which rows a customer id or a tenant id stands for
            held = row.account.provider_specific_id or ""
            compared = norm_id(held)
            compared = held if compared == held else compared  # the row's own string when it is the same
            other = self._held.setdefault(compared, key)
            if other != key:
                if isinstance(other, list):
                    other.append(key)
                else:
                    self._held[compared] = [other, key]
        # What was loaded stays: the garbage collector need not walk it again and again (at
        # 100,000 rows one walk held the screen for half a second).
        gc.freeze()
        if not message.complete:
            return
        self.loaded = True
        if self.cached:  # shown from the last run, gone since
            self.table.remove_keys(self.cached)
            self.cached = set()
        self._save_screen()
        trace.mark("accounts-loaded", rows=len(self.rows))
        self._suggested_for.clear()  # made again (the list was read again), shown meanwhile
        self.show_counts()
        if not self.customers:
            self.load_tenants()
        self._highlighted()

    # -- the first screen, from the last run -----------------------------------------------------
    def _screen_file(self) -> Path:
        from w365tui.settings_file import cache_dir

        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in getattr(self.app, "profile_name", "default"))
        return cache_dir() / "screens" / f"provider-accounts-{name}.json"

    def on_mount(self) -> None:
        """The list's first screen as the last run left it, until the service says otherwise:
        the operator sees rows at once (marked as not read yet), never a write from them."""
        try:
            saved = json.loads(self._screen_file().read_text(encoding="utf-8"))
            rows = [Row(UUID(r["key"]), tuple(r["cells"]), tuple(r["styles"]), tuple(r["sort"]), search=r["search"])
                    for r in saved["rows"]]
            provider, organization, when = UUID(saved["provider"]), str(saved["organization"]), saved["saved"]
        except (OSError, ValueError, KeyError, TypeError):
            return
        if not rows:
            return
        self.cached = {row.key for row in rows}
        self.cached_provider, self.cached_organization = provider, organization
        self.table.sort_by("name")
        self.table.set_rows(rows)
        self.status(f"{visible(str(saved.get('provider_name', '')))} · as the last run saw it ({when}) · "
                    "reading it again…")

    def _over_cached(self, rows: list[Row]) -> None:
        """Rows read now take the place of the cached ones with their keys."""
        table = self.table
        table.update_rows([row for row in rows if table.has_key(row.key)])
        table.append_rows([row for row in rows if not table.has_key(row.key)])
        self.cached.difference_update(row.key for row in rows)

    def _save_screen(self) -> None:
        if self.session is None or self.provider is None:
            return
        rows = self.table.first_rows(SCREEN_ROWS)
        saved = {"organization": self.session.organization_id, "provider": str(self.provider.id),
                 "provider_name": self.provider.name, "saved": time.strftime("%Y-%m-%d %H:%M"),
                 "rows": [{"key": str(r.key), "cells": list(r.cells), "styles": list(r.styles or ()),
                           "sort": list(r.sort_values or ()), "search": r.search} for r in rows]}
        path = self._screen_file()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")
            os.replace(temporary, path)
        except OSError:
            pass  # a cache: the next run reads the list from the service as it always can

    def customer_id(self, account: ProviderAccount | ProviderAccountBrief) -> str | None:
        """The StreamOne customer a provider account stands for: its provider-specific id, or
        when that is a tenant id, the customer whose tenant it is (once that tenant was read)."""
        held = (account.provider_specific_id or "").strip()
        if kind_of(held, AccountIdKind) is AccountIdKind.TENANT:
            key = norm_id(held)
            return self.by_tenant.get(key) or (self.session.tenants.by_tenant.get(key) if self.session else None)
        return held or None

    def _named_like(self, account: ProviderAccount | ProviderAccountBrief) -> list[str]:
        """The StreamOne customers named as a provider account is (its name perhaps clipped)."""
        name = account.name.casefold().strip()
        exact = [c.id for c in self.customers.values() if c.display_name.casefold().strip() == name]
        if exact or not account.name.endswith("…"):
            return exact
        return [c.id for c in self.customers.values() if same_name(account.name, c.display_name)]

    def _rows_holding(self, provider_specific_id: str) -> list[UUID]:
        held = self._held.get(norm_id(provider_specific_id), [])
        return held if isinstance(held, list) else [held]

    def _with_tenant(self, row: AccountRow) -> AccountRow:
        key = self.customer_id(row.account) or ""
        profile = self.profiles.get(key)
        held = (row.account.provider_specific_id or "").strip()
        if profile is None and kind_of(held, AccountIdKind) is AccountIdKind.TENANT:
            from w365tui.domain.streamone import CloudProfile

            profile = CloudProfile(customer_tenant_id=held)  # the tenant is known, its domain not yet
        customer = self.customers.get(key)
        if customer is row.customer and profile is row.profile:
            return row  # nothing more known of it (as the list loads, before the tenants): not copied
        return replace(row, customer=customer, profile=profile)

    @staticmethod
    def _table_row(row: AccountRow) -> Row:
        pa = row.account
        domain = row.profile.customer_domain if row.profile and row.profile.customer_domain else ""
        held = pa.provider_specific_id or ""
        unresolved = kind_of(held, AccountIdKind) is AccountIdKind.TENANT  # keyed by a tenant not yet read
        cells = ("●" if pa.is_mapped else "○", pa.name, row.customer.id if row.customer else "?" if unresolved else held,
                 domain,
                 row.crm_name or ("(unmapped)" if not pa.is_mapped else "(account not readable)"))
        styles = MAPPED_STYLES if pa.is_mapped else UNMAPPED_STYLES
        organization = row.customer.customer_organization if row.customer else None
        if organization and organization.casefold() == pa.name.casefold():
            organization = None  # the name already finds it: not held twice for 100,000 rows
        hidden = " ".join(filter(None, (
            row.profile.customer_tenant_id if row.profile else None,
            organization,
            domain_of(row.customer.customer_email) if row.customer else None)))
        # Sorted by what each column shows (● after ○, "(unmapped)" before names): no sort values
        # of its own, which 100,000 rows would hold for nothing
        return Row(pa.id, cells, styles, search=hidden)

    @work(exclusive=True, exit_on_error=False, group="accounts-tenants")
    async def load_tenants(self) -> None:
        """Microsoft tenants and customers from StreamOne, unmapped accounts first: the tenants
        of accounts keyed by customer id at once (one request each, a bounded number of them),
        then the customer list (names and e-mails, to recognise accounts keyed by tenant), then
        those accounts' tenants. Any other row's tenant is read when the cursor reaches it."""
        assert self.session is not None
        run = object()
        try:
            await self._load_tenants(run)
        finally:
            self.progress_done(run, "accounts-tenants")

    async def _load_tenants(self, run: object) -> None:
        assert self.session is not None
        ion = self.session.ion
        rows = self.rows.values()
        first = list(islice(chain((r for r in rows if not r.account.is_mapped),  # not 100,000 copied
                                  (r for r in rows if r.account.is_mapped)), TENANT_PRELOAD))
        profiles: dict[str, CloudProfile | None] = dict(self.profiles)
        direct = [held for r in first
                  if kind_of(held := (r.account.provider_specific_id or "").strip(), AccountIdKind)
                  is AccountIdKind.CUSTOMER]
        await self._preload(run, list(dict.fromkeys(direct)), profiles, self.customers)
        from w365tui.domain.streamone import CustomerBrief

        customers: dict[str, CustomerBrief] = {}
        async for customer in ion.customers(page_size=100):
            brief = CustomerBrief.of(customer)  # a tenth of the model's memory
            customers[brief.id] = brief  # keyed by the brief's own id string, not a second copy
            if len(customers) % 500 == 0:
                self.progress(run, "accounts-tenants", f"Reading StreamOne customers… {len(customers):,} (esc cancels)")
                gc.collect()  # cheap: what is frozen is not walked
                gc.freeze()  # kept for the session: not walked by every collection again
        self.post_message(self.TenantsLoaded(customers, dict(profiles)))
        keyed_by_tenant = [r for r in first
                           if kind_of((r.account.provider_specific_id or "").strip(), AccountIdKind)
                           is AccountIdKind.TENANT]
        names = {r.account.name.casefold().strip() for r in keyed_by_tenant}
        by_name: dict[str, list[str]] = {}  # only the names looked for: not an index of 100,000
        for customer in customers.values():
            name = customer.display_name.casefold().strip()
            if name in names:
                by_name.setdefault(name, []).append(customer.id)
        wanted: list[str] = []
        for r in keyed_by_tenant:  # the likely customers
            held = (r.account.provider_specific_id or "").strip()
            known = self.session.tenants.by_tenant.get(norm_id(held))
            named = [known] if known else by_name.get(r.account.name.casefold().strip())
            if named is None and r.account.name.endswith("…"):  # a name clipped to the column
                named = [c.id for c in customers.values() if same_name(r.account.name, c.display_name)]
            wanted += named or []
        await self._preload(run, list(dict.fromkeys(wanted)), profiles, customers)
        self.post_message(self.TenantsLoaded(customers, profiles, complete=True))

    # described, or Textual would describe the worker by the repr of 100,000 keys (160 ms)
    @work(exclusive=True, exit_on_error=False, group="accounts-refresh", description="refresh_rows")
    async def refresh_rows(self, keys: list[UUID], step: int = 200) -> None:
        """Show these rows again with what is now known of their customers and tenants."""
        for start in range(0, len(keys), step):
            batch = [key for key in keys[start:start + step] if key in self.rows]
            for key in batch:
                self._put(key, self._with_tenant(self.rows[key]))
            self.table.update_rows([self._table_row(self.rows[key]) for key in batch])
            gc.freeze()  # the new rows stay: a full collection walking them all held the screen 0.1 s
            await self.make_way()
        trace.mark("rows-refreshed", rows=len(keys))
        trace.memory()
        self._highlighted()  # the row under the cursor knows its customer now: suggest again

    async def _preload(self, run: object, wanted: list[str], profiles: dict[str, CloudProfile | None],
                       customers: dict[str, CustomerBrief]) -> None:
        """Read these customers' cloud profiles into ``profiles``, telling the list every 25."""
        for index, customer_id in enumerate(wanted, start=1):
            if customer_id not in profiles:
                profiles[customer_id] = await self._cloud_profile(customer_id)
            if index % 25 == 0 or index == len(wanted):
                self.progress(run, "accounts-tenants",
                              f"Reading tenants from StreamOne… {index} of {len(wanted)} (esc cancels)")
                self.post_message(self.TenantsLoaded(customers, dict(profiles)))

    async def _cloud_profile(self, customer_id: str) -> CloudProfile | None:
        """The customer's Microsoft cloud profile, remembered as the syncs remember tenants; None
        when StreamOne has none for it (or no longer knows the customer)."""
        from w365tui.clients.http import NotFoundError
        from w365tui.workflows.ids import memo

        assert self.session is not None
        try:
            profiles = await self.session.ion.cloud_profiles(customer_id)
        except NotFoundError:
            return None
        profile = profiles.profile(self.session.profile.cloud_profile_short_name)
        tenant = (profile.customer_tenant_id or "").strip() if profile else ""
        if kind_of(tenant, AccountIdKind) is AccountIdKind.TENANT:
            memo(self.session).remember(customer_id, tenant, norm_id(tenant))
        return profile

    @on(TenantsLoaded)
    def _tenants(self, message: TenantsLoaded) -> None:
        new_customers = message.customers is not self.customers
        changed = [cid for cid, p in message.profiles.items() if self.profiles.get(cid, self) is not p]
        self.customers = message.customers
        self.profiles = message.profiles
        for cid in changed:
            profile = self.profiles.get(cid)
            if profile is not None and profile.customer_tenant_id:
                self.by_tenant[norm_id(profile.customer_tenant_id)] = cid
        if new_customers:  # every row may name its customer now: a slice at a time, the screen kept live
            self.refresh_rows(list(self.rows))
        else:  # only the rows of the customers whose tenant was just read: 25 rows, not 100,000
            affected: list[UUID] = []
            for cid in changed:
                profile = self.profiles.get(cid)
                affected += self._rows_holding(cid)
                if profile is not None and profile.customer_tenant_id:
                    affected += self._rows_holding(profile.customer_tenant_id)
            for key in dict.fromkeys(affected):
                if key in self.rows:
                    self._put(key, self._with_tenant(self.rows[key]))
            self.table.update_rows([self._table_row(self.rows[key]) for key in dict.fromkeys(affected)
                                    if key in self.rows])
            current = self.current
            if current is not None and current.account.id in affected:
                self._highlighted()  # its tenant changed: what was suggested for it is outdated
            else:
                self._show_detail()
        # suggestions made before the tenant's domain was known are weaker: make them again
        if message.complete:
            self.tenants_loaded = True
            trace.mark("tenants-loaded", tenants=len(self.profiles))
            trace.memory()
            self.show_counts()
            self._suggested_for.clear()
            self._highlighted()
        elif message.single is not None:
            for row in self.rows.values():
                if self.customer_id(row.account) == message.single:
                    self._suggested_for.pop(row.account.id, None)
            self._highlighted()

    def on_worker_state_changed(self, event: Any) -> None:
        from textual.worker import WorkerState

        if event.state == WorkerState.ERROR:
            if event.worker.group == "accounts-load":
                self.status(f"Could not load provider accounts: {event.worker.error} — press r to try again")
            elif event.worker.group in ("write", "accounts-tenants"):
                self.show_counts()
        super().on_worker_state_changed(event)

    # -- detail and suggestions ---------------------------------------------------------------
    @on(RecordTable.Highlighted, "#pa-table")
    def _highlighted(self) -> None:
        self._show_detail()
        row = self.current
        if row is None or self.session is None:
            return
        key = self.customer_id(row.account)
        if key is None and self.tenants_loaded and kind_of(row.account.provider_specific_id, AccountIdKind):
            self.load_tenant(None, row)  # keyed by a tenant not read yet: its customer found by name
        elif self.tenants_loaded and key in self.customers and key not in self.profiles:
            self.load_tenant(key, row)
        elif not row.account.is_mapped and self.fresh_suggestions(row) is None:
            self.suggest(row)

    @work(exclusive=True, exit_on_error=False, group="accounts-tenant")
    async def load_tenant(self, customer_id: str | None, row: AccountRow) -> None:
        """The tenant of the row under the cursor, when the preload did not reach it; with no
        customer id, the customer named as the row is, looked for on a thread (100,000 names
        compared would hold the screen)."""
        assert self.session is not None
        await asyncio.sleep(0.15)  # the cursor may be passing by
        if customer_id is None:
            named = await asyncio.to_thread(self._named_like, row.account)
            customer_id = next((c for c in named if c not in self.profiles), None)
            if customer_id is None or customer_id not in self.customers:
                if not row.account.is_mapped and self.fresh_suggestions(row) is None:
                    self.suggest(row)
                return
        profile = await self._cloud_profile(customer_id)
        self.post_message(self.TenantsLoaded(self.customers, {**self.profiles, customer_id: profile}, single=customer_id))

    def fresh_suggestions(self, row: AccountRow) -> list[Suggestion] | None:
        """The row's suggestions when they were made for what is known of its tenant now."""
        if self._suggested_for.get(row.account.id) != row.tenant:
            return None
        return self.suggestions.get(row.account.id)

    def onboarding_target(self) -> tuple[str, Any] | None:
        row = self.current
        if row is None:
            return None
        if row.account.account_id is not None:  # mapped: the customer is its CRM account
            return ("account", row.account.account_id)
        return ("provider_account", row.account.id)

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
        held = pa.provider_specific_id or ""
        if kind_of(held, AccountIdKind) is AccountIdKind.TENANT:
            text.append(f"  ·  customer {visible(row.customer.id) if row.customer else '? (keyed by tenant)'}")
        else:
            text.append(f"  ·  customer {visible(held or '?')}")
        if row.profile:
            text.append(f"  ·  tenant {visible(row.profile.customer_tenant_id or '?')}")
            if row.profile.customer_domain:
                text.append(f"  ·  {visible(row.profile.customer_domain)}")
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
    async def suggest(self, row: AccountRow) -> None:
        assert self.session is not None and self.provider is not None
        await asyncio.sleep(0.15)  # the cursor may be passing by
        candidates = await self.session.reads.suggestion_candidates(row.tenant, self.provider.id)
        self.post_message(self.Suggested(row.account.id, row.tenant, rank(row.tenant, candidates),
                                         {c.account.id: c.mapped_total for c in candidates}))

    @on(Suggested)
    def _suggested(self, message: Suggested) -> None:
        latest = self.rows.get(message.account_id)
        if latest is not None and latest.tenant == message.tenant:  # not outdated by tenant data meanwhile
            self.suggestions[message.account_id] = message.suggestions
            self._suggested_for[message.account_id] = message.tenant
            self.mapped_counts.update(message.counts)
            self._show_detail()

    # -- actions -------------------------------------------------------------------------------
    def _require_row(self) -> AccountRow | None:
        row = self.current
        selected = self.table.current_row
        if row is None and selected is not None and selected.key in self.cached:
            self.say("This row is from the last run: it is being read again from Work 365, a moment.",
                     severity="warning")
        elif row is None:
            self.say("Select a provider account first.", severity="warning")
        return row

    def show_provider_account(self, account_id: Any) -> bool:
        """Select this provider account (clearing a filter that hides it); False when the list
        does not hold it."""
        if account_id not in self.rows:
            return False
        if account_id not in [row.key for row in self.table.visible_rows()]:
            self.query_one("#pa-list", FilteredList).clear_filter()
        keys = [row.key for row in self.table.visible_rows()]
        if account_id not in keys:
            return False
        self.table.cursor = keys.index(account_id)
        return True

    def action_map(self) -> None:
        row = self._require_row()
        if row is None or not self.writable():
            return
        self.run_plan(lambda: self._prepare_map(row))

    async def _prepare_map(self, row: AccountRow) -> Plan | None:
        from w365tui.workflows.mapping import prepare_map

        assert self.session is not None and self.provider is not None
        session = self.session
        suggestions = self.fresh_suggestions(row)
        if suggestions is None:
            self.status("Looking for matching CRM accounts…")
            candidates = await session.reads.suggestion_candidates(row.tenant, self.provider.id)
            suggestions = rank(row.tenant, candidates)
            self.mapped_counts.update({c.account.id: c.mapped_total for c in candidates})
            self.post_message(self.Suggested(row.account.id, row.tenant, suggestions, {}))
        self.status_done()

        async def search(text: str) -> list[tuple[Account, int]]:
            accounts = await session.reads.search_accounts(text)
            counts = await session.reads.mapped_counts([a.id for a in accounts])
            return [(a, counts.get(a.id, 0)) for a in accounts]

        account = await self.app.push_screen_wait(AccountPickerScreen(row.account.name, suggestions, search,
                                                                      self.mapped_counts))
        if account is None:
            return None
        plan = await prepare_map(session, row.account.id, account, replace=row.account.is_mapped)
        chosen = next((s for s in suggestions if s.account.id == account.id), None)
        if chosen is not None and chosen.warnings:
            plan = replace(plan, warnings=(*plan.warnings, *chosen.warnings))
        return plan

    def action_unmap(self) -> None:
        row = self._require_row()
        if row is None or not self.writable():
            return
        if not row.account.is_mapped:
            self.say("This provider account is not mapped.", severity="warning")
            return
        from w365tui.workflows.mapping import prepare_unmap

        session = self.session
        assert session is not None
        self.run_plan(lambda: prepare_unmap(session, row.account.id))

    def action_sync_accounts(self) -> None:
        if not self.connected():  # a read-only profile still sees the preview; it cannot apply it
            return
        from w365tui.workflows.sync import prepare_provider_account_sync

        session, provider = self.session, self.provider
        assert session is not None
        self.status("Reading StreamOne customers… (esc cancels)")
        self.run_plan(lambda: prepare_provider_account_sync(session, provider, progress=self.status))

    def action_sync_subscriptions(self) -> None:
        row = self._require_row()
        if row is None or not self.connected():
            return
        if not row.account.is_mapped:
            self.say("Map this provider account first: subscriptions need a customer.", severity="warning")
            return
        from w365tui.workflows import sync

        session, provider = self.session, self.provider
        assert session is not None and row.account.account_id is not None
        account_id = row.account.account_id
        prepared: list[sync.SubscriptionSync] = []

        async def prepare() -> Plan | None:
            contracts = [c for c in await session.reads.billing_contracts(account_id) if c.is_active]
            if not contracts:
                self.say("This CRM account has no active billing contract.", severity="warning")
                return None
            contract = contracts[0]
            if len(contracts) > 1:
                choice = await self.app.push_screen_wait(ChoiceScreen(
                    f"Billing contract for {visible(row.crm_name or '')}",
                    [Column("default", "Default", 7), Column("name", "Billing contract", 20, flex=1)],
                    [Row(c.id, ("yes" if c.is_default else "", c.name)) for c in contracts]))
                if choice is None:
                    return None
                contract = next(c for c in contracts if c.id == choice)
            self.status("Reading the customer's subscriptions from StreamOne… (esc cancels)")
            prepared.append(await sync.prepare_subscription_sync(session, account_id, contract.id, which=provider,
                                                                 progress=self.status))
            return prepared[-1].plan

        self.run_plan(prepare, lambda plan: sync.apply_subscription_sync(session, prepared[-1]))

    @on(PlanApplied)
    def _plan_applied(self, message: PlanApplied) -> None:
        if self.report(message):
            self.outside_change(message.plan)
            self.app.changed_elsewhere(self, message.plan)  # type: ignore[attr-defined]
        self.show_counts()

    def outside_change(self, plan: Plan) -> None:
        if plan.kind in ("map", "unmap") and plan.context.provider_account_id is not None:
            if plan.context.provider_account_id in self.rows:
                self.read_row(plan.context.provider_account_id)
        elif plan.kind == "sync-provider-accounts":
            self.load()

    @work(exclusive=False, exit_on_error=False, group="accounts-row")
    async def read_row(self, row_id: UUID) -> None:
        assert self.session is not None
        account = await self.session.reads.provider_account(row_id)
        if account is None:
            return
        name = None
        if account.account_id is not None:
            crm = await self.session.reads.account(account.account_id)
            name = crm.name if crm else None
        self.post_message(self.RowRead(account, name))

    @on(RowRead)
    def _row_read(self, message: RowRead) -> None:
        old = self.rows.get(message.account.id)
        if old is None:
            return
        self._put(message.account.id, replace(old, account=message.account, crm_name=message.crm_name))
        self.suggestions.pop(message.account.id, None)
        self.table.update_rows([self._table_row(self.rows[message.account.id])])  # one row, not 100,000
        self._show_detail()
        self.show_counts()

    @work(exclusive=True, exit_on_error=False, group="accounts-choose")
    async def action_choose_provider(self) -> None:
        if not self.connected():
            return
        assert self.session is not None
        providers = await self.session.reads.providers()
        connectors = self.session.profile.streamone_connectors
        choice = await self.app.push_screen_wait(ChoiceScreen(
            "Provider", [Column("type", "Type", 10), Column("name", "Provider", 20, flex=1),
                         Column("internal", "Connector", 20, flex=1)],
            [Row(p.id, ((p.type.value if p.type else "?").replace("_", " "), p.name, p.internal_name or ""))
             for p in providers],
            note=f"Syncs from StreamOne run only on an automatic provider whose connector is one of: "
                 f"{', '.join(connectors)}.", current=self.provider.id if self.provider else None))
        if choice is not None:
            self.load(next(p for p in providers if p.id == choice))

    def action_open(self) -> None:
        row = self._require_row()
        if row is not None:
            self.open_row(row)

    def action_view_subscriptions(self) -> None:
        row = self._require_row()
        if row is None:
            return
        if not row.account.is_mapped or row.account.account_id is None:
            self.say("Map the provider account first: its customer's subscriptions are shown.", severity="warning")
            return
        self.app.open_subscriptions(row.account.account_id)  # type: ignore[attr-defined]

    @on(RecordTable.Selected, "#pa-table")
    def _selected(self, event: RecordTable.Selected) -> None:
        event.stop()
        self.action_open()

    @work(exclusive=True, exit_on_error=False, group="accounts-open")
    async def open_row(self, row: AccountRow) -> None:
        action = await self.app.push_screen_wait(ProviderAccountScreen(row, self.suggestions.get(row.account.id),
                                                                       self.provider))
        if action:
            await self.run_action(action)

    def action_copy_id(self) -> None:
        row = self._require_row()
        if row is not None:
            self.copy_id(row)

    @work(exclusive=True, exit_on_error=False, group="accounts-copy")
    async def copy_id(self, row: AccountRow) -> None:
        choices = [("tenant", "Tenant id (Microsoft)", row.profile.customer_tenant_id if row.profile else None),
                   ("customer", "StreamOne customer id", row.customer.id if row.customer else
                    row.account.provider_specific_id if kind_of(row.account.provider_specific_id,
                                                                AccountIdKind) is AccountIdKind.CUSTOMER else None),
                   ("record", "Provider account record id (Dataverse)", str(row.account.id)),
                   ("crm", "CRM account record id (Dataverse)", str(row.account.account_id) if row.account.account_id
                    else None)]
        available = {key: (label, value) for key, label, value in choices if value}
        key = await self.app.push_screen_wait(ChoiceScreen(
            f"Copy an id of {row.account.name}", [Column("what", "Id", 18, flex=1), Column("value", "Value", 36)],
            [Row(key, (label, value)) for key, (label, value) in available.items()]))
        if key is None:
            return
        label, value = available[key]
        self.app.copy_to_clipboard(value)
        self.say(f"Copied the {label[0].lower() + label[1:]}: {value}", title="Clipboard")

    def action_reload(self) -> None:
        if self.session is None:
            self.status("Connecting…")
            self.app.connect()  # type: ignore[attr-defined]
            return
        self.customers.clear()
        self.load()

    # -- filter and esc -----------------------------------------------------------------------
    @on(FilteredList.Changed, "#pa-list")
    def _filter_changed(self) -> None:
        self.show_counts()

    def action_back(self) -> None:
        """esc: cancel long work, else clear the filter."""
        if self.applying:
            self.say("A plan is being applied; it runs to its end (the journal records it).")
            return
        long_groups = ("write", "accounts-tenants", "accounts-load")
        if any(w.group in long_groups and w.is_running for w in self.workers):
            for group in long_groups:
                self.workers.cancel_group(self, group)
            self._progress.clear()
            self.show_counts()
            self.say("Cancelled.")
            return
        if self.query_one(FilteredList).clear_filter():
            self.show_counts()

    def focus_list(self) -> None:
        self.table.focus()


class ProviderAccountScreen(ModalScreen[str | None]):
    """Everything known of one provider account, and the keys that act on it."""

    DEFAULT_CSS = MODAL_CSS.format(name="ProviderAccountScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "act('map')", "Map", id="account.map"),
        Binding("u", "act('unmap')", "Unmap", id="account.unmap"),
        Binding("b", "act('sync_subscriptions')", "Sync subs", id="account.sync_subscriptions"),
        Binding("c", "act('copy_id')", "Copy id", id="account.copy"),
        Binding("v", "act('view_subscriptions')", "Subscriptions", id="account.subscriptions"),
        Binding("escape,enter,o", "act('')", "Close", id="account.close"),
    ]

    def __init__(self, row: AccountRow, suggestions: list[Suggestion] | None, provider: Provider | None):
        super().__init__()
        self.row = row
        self.suggestions = suggestions
        self.provider = provider

    def compose(self) -> ComposeResult:
        row, pa = self.row, self.row.account
        lines: list[tuple[str, str]] = [
            ("Provider", self.provider.name if self.provider else ""),
            ("Record id", str(pa.id)),
            ("Provider-specific id", pa.provider_specific_id or "—"),
        ]
        if row.customer is not None and row.customer.id != (pa.provider_specific_id or "").strip():
            lines.append(("Customer id", row.customer.id))
        if row.customer is not None:
            customer = row.customer
            lines += [("StreamOne", f"{customer.display_name} · {customer.customer_status or '?'}"),
                      ("Contact", " · ".join(filter(None, (customer.customer_name, customer.customer_email))) or "—")]
        if row.profile is not None:
            lines += [("Tenant id", row.profile.customer_tenant_id or "—"),
                      ("Tenant domain", row.profile.customer_domain or "—")]
        else:
            lines.append(("Tenant", "not read from StreamOne yet"))
        lines.append(("CRM account", f"{row.crm_name} ({pa.account_id})" if pa.is_mapped else "(unmapped)"))
        with Vertical():
            yield Static(Text(visible(pa.name), style="bold"), classes="title")
            text = Text()
            for index, (label, value) in enumerate(lines):
                if index:
                    text.append("\n")
                text.append(f"{label:<14}", style="bold")
                text.append(visible(value))
            yield Static(text)
            if not pa.is_mapped and self.suggestions:
                suggested = Text("Suggested:", style="bold")
                for suggestion in self.suggestions[:3]:
                    suggested.append(f"\n  {visible(suggestion.account.name)} ({suggestion.score:.0f}): "
                                     f"{'; '.join(suggestion.reasons)}")
                    for warning in suggestion.warnings:
                        suggested.append(f" ⚠ {warning}", style="yellow")
                yield Static(suggested)
            keys = "m map · c copy an id · esc close" if not pa.is_mapped else \
                "m change the mapping · u unmap · b sync subscriptions · v its subscriptions · c copy an id · esc close"
            yield Static(Text(keys), classes="keys")

    def action_act(self, action: str) -> None:
        self.dismiss(action or None)
