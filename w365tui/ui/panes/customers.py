"""Pane 2: CRM accounts found as you type, and the selected customer at a glance.

Typing searches: the service is asked for the longest word typed (after a short pause), and
what it answered is ranked here; while the answer was complete and the word only grows, each
keystroke is ranked locally without asking again. The customer under the cursor is read
(provider accounts with their tenants, contracts, subscriptions, flags) once the cursor rests.
From here: map an unmapped provider account to this customer, sync its subscriptions onto a
contract, open its subscriptions, copy the record's web address.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.events import Key
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from w365tui.domain.customers import CustomerView, Found, Hit, account_domain
from w365tui.domain.models import Account
from w365tui.domain.plan import Plan
from w365tui.ui.commands import Command
from w365tui.ui.panes.base import Pane, PlanApplied
from w365tui.ui.screens import MODAL_CSS, ChoiceScreen
from w365tui.ui.text import visible
from w365tui.ui.widgets.record_table import Column, RecordTable, Row

if TYPE_CHECKING:
    from w365tui.session import Session
    from w365tui.workflows.customers import Details

SEARCH_PAUSE = 0.15  # seconds typing rests before the service is asked
REST = 0.3  # seconds without a key after which a word typed (a paste, a correction) is asked at once
VIEW_PAUSE = 0.15  # seconds the cursor rests on an account before it is read
SHOWN = 500  # ranked results put in the list

COLUMNS = [
    Column("name", "CRM account", 16, flex=3),
    Column("domain", "Domain", 12, flex=2),
    Column("city", "City", 8, flex=1),
    Column("pas", "PAs", 4),
    Column("contract", "Default", 7),
]


def _has_account(pane: CustomersPane) -> bool:
    return pane.current is not None


def _writable(pane: CustomersPane) -> bool:
    return pane.current is not None and pane.session is not None and not pane.session.read_only


class CustomersPane(Pane):
    PANE_ID = "customers"
    TITLE = "Customers"
    DEFAULT_CSS = """
    CustomersPane { height: 1fr; }
    CustomersPane #cu-status { height: 1; padding: 0 1; color: $text-muted; }
    CustomersPane #cu-search { height: 1; border: none; padding: 0 1; margin: 0; }
    CustomersPane #cu-search:focus { background: $boost; }
    CustomersPane #cu-table { height: 1fr; }
    CustomersPane #cu-detail { height: 6; border-top: solid $primary 50%; padding: 0 1; text-wrap: nowrap;
                               text-overflow: ellipsis; }
    """
    COMMAND_LIST: ClassVar[tuple[Command, ...]] = (
        Command("customers.search", "slash", "Search", "search", "Type to search CRM accounts", show=False,
                title="Search CRM accounts"),
        Command("customers.map", "m", "Map tenant", "map", "Map an unmapped provider account to this customer",
                title="Map a provider account to this customer", available=_writable),
        Command("customers.sync_subscriptions", "b", "Sync subs", "sync_subscriptions",
                "The customer's StreamOne subscriptions onto one of its billing contracts",
                title="Sync subscriptions onto a contract", available=_has_account),
        Command("customers.subscriptions", "enter", "Subscriptions", "subscriptions",
                "Open this customer's subscriptions", title="Open the customer's subscriptions",
                available=_has_account),
        Command("customers.open", "o", "Details", "open", "Everything this customer has, in full",
                title="Customer details", show=False, available=_has_account),
        Command("customers.copy", "c", "Copy link", "copy_link", "Copy the account's Dynamics 365 address (OSC 52)",
                title="Copy the account's web address", show=False, available=_has_account),
        Command("customers.reload", "r", "Reload", "reload", "Search again and read the customer again",
                title="Reload", show=False),
    )

    class Answered(Message):
        """The service answered a search (asked as the ``asked``-th question)."""

        def __init__(self, found: Found, asked: int) -> None:
            super().__init__()
            self.found = found
            self.asked = asked

    class Detailed(Message):
        def __init__(self, details: Details, epoch: int) -> None:
            super().__init__()
            self.details = details
            self.epoch = epoch

    class Viewed(Message):
        def __init__(self, view: CustomerView, epoch: int) -> None:
            super().__init__()
            self.view = view
            self.epoch = epoch

    def __init__(self) -> None:
        super().__init__()
        self.found: Found | None = None  # the service's latest answer
        self.text = ""  # what is typed
        self.shown = ""  # what the list answers
        self.hits: dict[UUID, Hit] = {}
        self.mapped: dict[UUID, int] = {}
        self.default_contract: set[UUID] = set()
        self.detailed: set[UUID] = set()
        self.views: dict[UUID, CustomerView] = {}
        self._painted: dict[str, Any] = {}  # what the status line and the detail show now
        self.asked = 0  # questions put to the service: an answer to an older one is dropped
        self._keyed = 0.0  # when the last question was typed (monotonic seconds)
        self.epoch = 0  # what was read before a write or a reload is read again, not kept
        self.wanted: UUID | None = None  # the account to put the cursor on when the answer comes

    def compose(self) -> ComposeResult:
        yield Static(Text("Connecting…"), id="cu-status")
        yield Input(placeholder="search: name, domain, account number, tenant id or customer id", id="cu-search",
                    select_on_focus=False)
        yield RecordTable(COLUMNS, id="cu-table", empty="Type to search CRM accounts.")
        yield Static(Text(""), id="cu-detail")

    # -- the shell's calls ---------------------------------------------------------------------
    @property
    def table(self) -> RecordTable:
        return self.query_one("#cu-table", RecordTable)

    @property
    def box(self) -> Input:
        return self.query_one("#cu-search", Input)

    def start(self, session: Session) -> None:
        super().start(session)
        self.status_done()

    def disconnected(self, reason: str) -> None:
        self.status(f"{reason} — press r to try again")

    def focus_list(self) -> None:
        if self.table.shown_count:
            self.table.focus()
        else:
            self.box.focus()

    def status(self, text: str) -> None:
        if text != self._painted.get("status"):  # an unchanged line is not laid out again
            self._painted["status"] = text
            self.query_one("#cu-status", Static).update(Text(text))

    def status_done(self) -> None:
        if self.session is None:
            return
        if not self.text.strip():
            self.status("Search: name, domain, account no., tenant or customer id · esc leaves the box")
            return
        shown = len(self.hits)
        more = "" if self.found is None or self.found.complete else " · more in the service: type more to narrow"
        self.status(f"{shown:,} account{'s' if shown != 1 else ''} for “{visible(self.text)}”{more}")

    # -- searching -------------------------------------------------------------------------------
    def action_search(self) -> None:
        self.box.focus()

    @on(Input.Changed, "#cu-search")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self.ask(event.value)

    def ask(self, text: str) -> None:
        """Answer ``text``: locally when the last answer holds it, else from the service."""
        self.text = text
        self.asked += 1  # whatever was asked before no longer answers what is typed
        now = time.monotonic()
        # a word or more typed after a rest (a paste, a correction) is asked at once; a key that
        # follows another closely waits for typing to rest
        resting = now - self._keyed >= REST and len(text.strip()) >= 3
        self._keyed = now
        if not text.strip():
            self.workers.cancel_group(self, "customers-search")
            self.found = None
            self._show([])
            return
        if self.found is not None and self.found.narrows_to(text):
            self.workers.cancel_group(self, "customers-search")
            self._show(self.found.hits(text, SHOWN))
            return
        if self.session is not None:
            self.status(f"Searching for “{visible(text)}”…")
            self.search(text, self.asked, 0.0 if resting else SEARCH_PAUSE)

    @work(exclusive=True, exit_on_error=False, group="customers-search")
    async def search(self, text: str, asked: int, pause: float = SEARCH_PAUSE) -> None:
        from w365tui.workflows.customers import find

        if pause:
            await asyncio.sleep(pause)  # typing may go on
        assert self.session is not None
        self.post_message(self.Answered(await find(self.session, text), asked))

    @on(Answered)
    def _answered(self, message: Answered) -> None:
        if message.asked != self.asked:
            return  # typing went on: a newer question is on its way, or the last answer holds it
        self.found = message.found
        if self.text.strip():  # the same text asked again (a reload): the cursor stays
            self._show(message.found.hits(self.text, SHOWN), again=self.shown == self.text)

    def _show(self, hits: list[Hit], *, again: bool = False) -> None:
        """Put ``hits`` in the list: a new answer starts at its top; the same one shown ``again``
        (after a write or a reload) keeps the cursor where it was."""
        self.hits = {h.account.id: h for h in hits}
        self.shown = self.text
        self.table.set_rows([self._row(h) for h in hits], keep_cursor=again)
        if self.wanted is not None and self.wanted in self.hits:  # opened on this account
            keys = [r.key for r in self.table.visible_rows()]
            self.table.cursor = keys.index(self.wanted)
            self.table.focus()  # its keys act on it at once
        self.wanted = None  # one answer: a later search never moves the cursor for it
        self.status_done()
        missing = [h.account for h in hits[:100] if h.account.id not in self.detailed]
        if missing and self.session is not None:
            self.read_details(missing)
        self._highlighted()

    def _row(self, hit: Hit) -> Row:
        account = hit.account
        known = account.id in self.detailed
        cells = (account.name, account_domain(account), account.city or "",
                 str(self.mapped.get(account.id, 0)) if known else "…",
                 ("yes" if account.id in self.default_contract else "none") if known else "…")
        styles = (None, None, None, None, None if not known or account.id in self.default_contract else "yellow")
        return Row(account.id, cells, styles, search=" ".join(filter(None, (account.number, hit.why))))

    @work(exclusive=True, exit_on_error=False, group="customers-details", description="read_details")
    async def read_details(self, accounts: list[Account]) -> None:
        from w365tui.workflows.customers import details

        assert self.session is not None
        epoch = self.epoch
        self.post_message(self.Detailed(await details(self.session, accounts), epoch))

    @on(Detailed)
    def _detailed(self, message: Detailed) -> None:
        if message.epoch != self.epoch:
            return
        self.mapped.update(message.details.mapped)
        self.default_contract |= message.details.default_contract
        self.default_contract -= message.details.known - message.details.default_contract
        self.detailed |= message.details.known
        rows = [self._row(h) for h in self.hits.values()]
        self.table.set_rows(rows, keep_cursor=True)

    # -- keys between the search box and the list -----------------------------------------------------
    def on_key(self, event: Key) -> None:
        """↓ or enter from the search box to the results; esc out of the box (the pane's keys and
        the digits that change pane work again); esc from the results back to the box."""
        if self.box.has_focus and (event.key == "escape" or (event.key in ("down", "enter", "pagedown")
                                                             and self.table.shown_count)):
            event.stop()
            event.prevent_default()
            self.table.focus()
        elif self.table.has_focus and event.key == "escape":
            event.stop()
            self.box.focus()

    # -- one customer ---------------------------------------------------------------------------------
    def onboarding_target(self) -> tuple[str, Any] | None:
        account = self.current
        return ("account", account.id) if account is not None else None

    def show_customer(self, account: Account) -> bool:
        """Search for this account by name, the cursor put on it when the answer comes."""
        self.wanted = account.id
        if self.box.value == account.name:  # no change to announce: asked again directly
            self.ask(account.name)
        else:
            self.box.value = account.name  # asked as if typed
        return True

    @property
    def current(self) -> Account | None:
        if not self.is_mounted:
            return None
        selected = self.table.current_row
        hit = self.hits.get(selected.key) if selected else None
        return hit.account if hit else None

    @on(RecordTable.Highlighted, "#cu-table")
    def _highlighted(self) -> None:
        account = self.current
        self._show_detail()
        if account is not None and account.id not in self.views and self.session is not None:
            self.read_view(account.id)

    @work(exclusive=True, exit_on_error=False, group="customers-view")
    async def read_view(self, account_id: UUID) -> None:
        from w365tui.workflows.customers import customer

        await asyncio.sleep(VIEW_PAUSE)  # the cursor may be passing by
        assert self.session is not None
        epoch = self.epoch
        self.post_message(self.Viewed(await customer(self.session, account_id), epoch))

    @on(Viewed)
    def _viewed(self, message: Viewed) -> None:
        if message.epoch != self.epoch:
            self._highlighted()  # read before a write or reload: read it again
            return
        self.views[message.view.account.id] = message.view
        self._show_detail()

    def _show_detail(self) -> None:
        account = self.current
        if account is None:
            self._detail(Text(""))
            return
        view = self.views.get(account.id)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(visible(account.name), style="bold")
        for part in (account_domain(account), account.city, account.number):
            if part:
                text.append(f"  ·  {visible(part)}")
        text.append("\n")
        if view is None:
            text.append("Reading the customer…", style="italic")
        else:
            text.append_text(summary(view))
        self._detail(text)

    def _detail(self, text: Text) -> None:
        if text != self._painted.get("detail"):
            self._painted["detail"] = text
            self.query_one("#cu-detail", Static).update(text)

    # -- actions -------------------------------------------------------------------------------------
    def _require(self) -> Account | None:
        account = self.current
        if account is None:
            self.say("Search for a CRM account and select it first.", severity="warning")
        return account

    def action_reload(self) -> None:
        if self.session is None:
            self.app.connect()  # type: ignore[attr-defined]
            return
        self.forget()
        self.found = None
        if self.text.strip():
            self.ask(self.text)
        else:
            self.status_done()

    def forget(self) -> None:
        """What was read of the accounts is read again (after a write, here or elsewhere)."""
        self.epoch += 1
        self.views.clear()
        self.detailed.clear()

    def outside_change(self, plan: Plan) -> None:
        self.forget()
        if self.hits:
            self._show(list(self.hits.values()), again=True)

    def action_subscriptions(self) -> None:
        account = self._require()
        if account is not None and not self.app.show_customer(account):  # type: ignore[attr-defined]
            self.say("No pane shows a customer's subscriptions yet.", severity="warning")

    @on(RecordTable.Selected, "#cu-table")
    def _selected(self, event: RecordTable.Selected) -> None:
        event.stop()
        self.action_subscriptions()

    def action_copy_link(self) -> None:
        from w365tui.workflows.customers import record_url

        account = self._require()
        if account is None or not self.connected():
            return
        assert self.session is not None
        url = record_url(self.session, "account", account.id)
        self.app.copy_to_clipboard(url)
        self.say(f"Copied the address of {account.name}: {url}", title="Clipboard")

    @work(exclusive=True, exit_on_error=False, group="customers-open")
    async def action_open(self) -> None:
        from w365tui.workflows.customers import customer
        from w365tui.workflows.render import customer_text

        account = self._require()
        if account is None or not self.connected():
            return
        assert self.session is not None
        view = self.views.get(account.id) or await customer(self.session, account.id)
        self.views[account.id] = view
        await self.app.push_screen_wait(TextScreen(account.name, customer_text(view)))

    def action_map(self) -> None:
        account = self._require()
        if account is None or not self.writable():
            return
        self.status(f"Looking for provider accounts that may be {visible(account.name)}… (esc cancels)")
        self.run_plan(lambda: self._prepare_map(account))

    async def _prepare_map(self, account: Account) -> Plan | None:
        from dataclasses import replace

        from w365tui.workflows.customers import map_candidates
        from w365tui.workflows.mapping import prepare_map

        assert self.session is not None
        candidates = await map_candidates(self.session, account)
        self.status_done()
        if not candidates:
            self.say(f"No unmapped provider account looks like {account.name}; map from pane 1 to choose any.",
                     severity="warning")
            return None
        by_id = {c.account.id: c for c in candidates}
        choice = await self.app.push_screen_wait(ChoiceScreen(
            f"Map a provider account to {account.name}",
            [Column("score", "Score", 5), Column("name", "Provider account", 16, flex=2),
             Column("id", "Id", 8), Column("domain", "Tenant domain", 12, flex=1),
             Column("why", "Why", 14, flex=2)],
            [Row(c.account.id, (f"{c.suggestion.score:.0f}", c.account.name, c.account.provider_specific_id or "",
                                c.tenant.domain or "", "; ".join(c.suggestion.reasons)),
                 (None, "bold yellow" if c.suggestion.warnings else None, None, None, None))
             for c in candidates],
            note="Unmapped provider accounts of the StreamOne provider, likeliest first: the same evidence as the "
                 "suggestions in pane 1 (tenant domain, name), seen from this account."))
        if choice is None:
            return None
        chosen = by_id[choice]
        plan = await prepare_map(self.session, chosen.account.id, account)
        if chosen.suggestion.warnings:
            plan = replace(plan, warnings=(*plan.warnings, *chosen.suggestion.warnings))
        return plan

    def action_sync_subscriptions(self) -> None:
        account = self._require()
        if account is None or not self.connected():
            return
        from w365tui.workflows import sync

        session = self.session
        assert session is not None
        prepared: list[sync.SubscriptionSync] = []

        async def prepare() -> Plan | None:
            contracts = [c for c in await session.reads.billing_contracts(account.id) if c.is_active]
            if not contracts:
                self.say(f"{account.name} has no active billing contract.", severity="warning")
                return None
            choice = await self.app.push_screen_wait(ChoiceScreen(
                f"Sync subscriptions onto a billing contract of {account.name}",
                [Column("default", "Default", 7), Column("name", "Billing contract", 20, flex=1)],
                [Row(c.id, ("yes" if c.is_default else "", c.name)) for c in contracts],
                note="The customer's StreamOne subscriptions go onto the contract chosen here; the default first."))
            if choice is None:
                return None
            self.status("Reading the customer's subscriptions from StreamOne… (esc cancels)")
            prepared.append(await sync.prepare_subscription_sync(session, account.id, choice, progress=self.status))
            return prepared[-1].plan

        self.run_plan(prepare, lambda plan: sync.apply_subscription_sync(session, prepared[-1]))

    @on(PlanApplied)
    def _plan_applied(self, message: PlanApplied) -> None:
        if self.report(message):
            self.outside_change(message.plan)
            self.app.changed_elsewhere(self, message.plan)  # type: ignore[attr-defined]
        self.status_done()

    def on_worker_state_changed(self, event: Any) -> None:
        from textual.worker import WorkerState

        if event.state == WorkerState.ERROR and event.worker.group == "customers-search":
            self.status(f"The search failed: {event.worker.error} — press r to try again")
        super().on_worker_state_changed(event)


def summary(view: CustomerView) -> Text:
    """The customer in four lines (the detail under the list)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    pas = view.provider_accounts
    if pas:
        text.append(f"{len(pas)} provider account{'s' if len(pas) != 1 else ''}: ")
        text.append(", ".join(visible(p.account.name) + (f" ({visible(p.domain)})" if p.domain else "")
                              for p in pas[:3]) + (" …" if len(pas) > 3 else ""))
    else:
        text.append("No provider account mapped", style="yellow")
    if view.unread:
        text.append(f"  ⚠ StreamOne not read: {visible(view.unread[0])}", style="bold red")
    text.append("\n")
    default = next((c for c in view.contracts if c.contract.is_default and c.contract.is_active), None)
    if default is not None:
        facts = " · ".join(f for f in (default.frequency, default.policy, default.currency, default.price_list) if f)
        text.append(f"Contract {visible(default.contract.name)}" + (f" ({visible(facts)})" if facts else ""))
        others = len(view.contracts) - 1
        if others:
            text.append(f" + {others} other{'s' if others != 1 else ''}")
    else:
        text.append("No default billing contract" + (f" ({len(view.contracts)} other)" if view.contracts else ""),
                    style="yellow")
    text.append("\n")
    counts = view.counts
    text.append(f"Subscriptions (active/inactive): manual {counts.manual_active}/{counts.manual_inactive} · "
                f"automatic {counts.automatic_active}/{counts.automatic_inactive}")
    if view.mismatched:
        text.append(f" · Σ LCL ≠ qty on {len(view.mismatched)}", style="bold yellow")
    text.append("\n")
    if view.flags:
        text.append(f"⚠ {len(view.flags)} flag{'s' if len(view.flags) != 1 else ''}: ", style="bold yellow")
        text.append("; ".join(f"{visible(f.subscription)}: {f.problem}" for f in view.flags[:2])
                    + (" …" if len(view.flags) > 2 else ""))
    elif not view.mismatched:
        text.append("No flags", style="green")
    return text


class TextScreen(ModalScreen[None]):
    """A block of text (a customer's details), scrollable, shown literally."""

    DEFAULT_CSS = MODAL_CSS.format(name="TextScreen") + """
    TextScreen VerticalScroll { height: auto; max-height: 20; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,o", "dismiss", "Close", id="text.close")]

    def __init__(self, title: str, body: str):
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(visible(self.title_text), style="bold"), classes="title")
            with VerticalScroll():
                yield Static(Text(visible(self.body)))
            yield Static(Text("↑↓ scroll · esc close"), classes="keys")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
