"""Pane 3: one customer's subscriptions side by side — each manual subscription on the left, the
TechData subscription replacing it on the right — and the replacement of the manual ones.

Pairs are proposed by product (SKU), then quantity, term and billing cycle; a SKU held in two
billing cycles is left for the operator (``p`` pairs by hand, ``u`` unpairs). The selected pair is
shown field by field below the list, differences highlighted, with step 5's flags. ``enter``
reviews the replacement of the pair (one plan, two-step confirm); ``space`` marks pairs and ``R``
replaces every marked pair, one plan each, with a summary for the ticket. Reached from the
customers pane (enter), from a mapped provider account in pane 1, or by ``w365tui --account ID``. ``l`` opens a subscription's LCLs in pane 4 (``L`` the twin's).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from w365tui.domain.models import Account, Subscription
from w365tui.ui import trace
from w365tui.ui.commands import Command
from w365tui.ui.panes.base import Pane, PlanApplied
from w365tui.ui.screens import MODAL_CSS, ChoiceScreen
from w365tui.ui.text import visible
from w365tui.ui.widgets.filtered_list import FilteredList
from w365tui.ui.widgets.record_table import Column, RecordTable, Row

if TYPE_CHECKING:
    from w365tui.workflows.customers import SubscriptionLine
    from w365tui.workflows.replacement import BulkOutcome, SubscriptionsView

SHOW_STEP = 250  # rows made between two pauses as a customer's subscriptions are shown

COLUMNS = [
    Column("mark", "", 1),
    Column("manual", "Manual", 12, flex=1),
    Column("mqty", "Qty", 3),
    Column("msum", "ΣLCL", 4),
    Column("bar", "│", 1),
    Column("techdata", "TechData", 12, flex=1),
    Column("tqty", "Qty", 3),
    Column("tsum", "ΣLCL", 4),
    Column("tstart", "Start", 10),
]

ALL = "all"  # the contract chooser's row for every contract
RowKey = tuple[str, UUID]  # ("pair" | "manual" | "techdata" | "other", the subscription on the row)


def _date(sub: Subscription) -> str:
    return sub.effective_start_date.isoformat() if sub.effective_start_date else "—"


def _has_pair(pane: SubscriptionsPane) -> bool:
    return pane.current_pair() is not None


def _has_manual(pane: SubscriptionsPane) -> bool:
    key = pane.current_key()
    return key is not None and key[0] in ("pair", "manual")


class SubscriptionsPane(Pane):
    PANE_ID = "subscriptions"
    TITLE = "Subscriptions"
    DEFAULT_CSS = """
    SubscriptionsPane { height: 1fr; }
    SubscriptionsPane #su-status { height: 1; padding: 0 1; color: $text-muted; }
    SubscriptionsPane #su-detail {
        height: auto; max-height: 13; border-top: solid $primary 50%; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """
    COMMAND_LIST: ClassVar[tuple[Command, ...]] = (
        Command("subscriptions.replace", "enter", "Replace", "replace",
                "Review the replacement of the manual subscription by its TechData twin",
                title="Replace the manual subscription", available=_has_pair),
        Command("subscriptions.mark", "space", "Mark", "mark", "Mark the pair to replace with others (R)",
                title="Mark the pair", available=_has_pair),
        Command("subscriptions.replace_marked", "R", "Replace marked", "replace_marked",
                "Replace every marked pair, one plan each, with a summary for the ticket",
                title="Replace the marked pairs", available=lambda p: bool(p.marked)),
        Command("subscriptions.pair", "p", "Pair", "pair", "Pair the manual subscription with a TechData one by hand",
                title="Pair by hand", available=_has_manual),
        Command("subscriptions.unpair", "u", "Unpair", "unpair", "Take the pair apart", title="Unpair",
                show=False, available=_has_pair),
        Command("subscriptions.invoice", "i", "Invoice deact.", "toggle_invoice",
                "Invoice the manual subscription's Deactivate LCL, or archive it (the default)",
                title="Invoice or archive the Deactivate LCL", show=False),
        Command("subscriptions.contract", "C", "Contract", "choose_contract",
                "Show the subscriptions of one billing contract, or all", title="Narrow to a billing contract",
                show=False, available=lambda p: p.view is not None),
        Command("subscriptions.lcls", "l", "LCLs", "open_lcls",
                "The license change logs of the selected subscription (the manual one of a pair), in pane 4",
                title="Open the LCLs", available=lambda p: p.current_key() is not None),
        Command("subscriptions.twin_lcls", "L", "Twin's LCLs", "open_lcls(True)",
                "The license change logs of the pair's TechData subscription, in pane 4",
                title="Open the TechData twin's LCLs", show=False, available=_has_pair),
        Command("subscriptions.copy", "c", "Copy id", "copy_id", "Copy the selected subscription's id (OSC 52)",
                title="Copy the subscription id", show=False, available=lambda p: p.current_key() is not None),
        Command("subscriptions.reload", "r", "Reload", "reload", "Read the customer's subscriptions again",
                title="Reload subscriptions", show=False, available=lambda p: p.account is not None),
    )

    class Loaded(Message):
        def __init__(self, view: SubscriptionsView, epoch: int) -> None:
            super().__init__()
            self.view = view
            self.epoch = epoch

    class BulkDone(Message):
        def __init__(self, outcomes: list[BulkOutcome]) -> None:
            super().__init__()
            self.outcomes = outcomes

    def __init__(self) -> None:
        super().__init__()
        self.account: Account | None = None
        self.contract_id: UUID | None = None
        self.view: SubscriptionsView | None = None
        self.by_hand: dict[UUID, UUID] = {}  # manual → TechData, paired by the operator
        self.apart: set[UUID] = set()  # manual subscriptions whose proposed pair the operator took apart
        self.marked: set[UUID] = set()  # manual subscriptions of pairs marked for replacement
        self.invoice_deactivation = False
        self.epoch = 0

    def compose(self) -> ComposeResult:
        yield Static(Text("Choose a customer in pane 2 (Customers) and press enter."), id="su-status")
        yield FilteredList(RecordTable(COLUMNS, id="su-table", empty="No subscriptions."), fill=True)
        yield Static(Text(""), id="su-detail")

    @property
    def table(self) -> RecordTable:
        return self.query_one("#su-table", RecordTable)

    def focus_list(self) -> None:
        self.table.focus()

    def status(self, text: str) -> None:
        self.query_one("#su-status", Static).update(Text(text))

    def status_done(self) -> None:
        if self.account is None or self.view is None:
            return
        pairs = len(self.pairs())
        manual = len(self.view.manual)
        text = f"{visible(self.account.name)}"
        if self.view.contract is not None:
            text += f" · {visible(self.view.contract.name)}"
        text += f" · {manual} manual · {len(self.view.techdata)} TechData · {pairs} paired"
        if self.marked:
            text += f" · {len(self.marked)} marked"
        if self.invoice_deactivation:
            text += " · Deactivate LCL invoiced"
        self.status(text)

    # -- the shell's calls ------------------------------------------------------------------------
    def start(self, session: Any) -> None:
        super().start(session)
        if self.account is not None:
            self.load(self.account.id, self.contract_id, self.epoch)

    def onboarding_target(self) -> tuple[str, Any] | None:
        return ("account", self.account.id) if self.account is not None else None

    def show_customer(self, account: Account) -> bool:
        if self.account is None or self.account.id != account.id:
            self.by_hand, self.apart, self.marked = {}, set(), set()
            self.contract_id = None
            self.invoice_deactivation = False  # a choice made for one customer is not carried to the next
        self.account = account
        self.view = None
        self.epoch += 1
        self.table.set_rows([])
        self.query_one("#su-detail", Static).update(Text(""))
        self.status(f"Reading the subscriptions of {visible(account.name)}…")
        if self.session is not None:
            self.load(account.id, self.contract_id, self.epoch)
        return True

    def outside_change(self, plan: Any) -> None:
        if self.account is not None and plan.context.account_id in (None, self.account.id):
            self.show_customer(self.account)

    def action_reload(self) -> None:
        if self.account is not None:
            self.show_customer(self.account)

    @work(exclusive=True, exit_on_error=False, group="subscriptions-load")
    async def load(self, account_id: UUID, contract_id: UUID | None, epoch: int) -> None:
        from w365tui.workflows.replacement import subscriptions_view

        assert self.session is not None
        self.post_message(self.Loaded(await subscriptions_view(self.session, account_id, contract_id), epoch))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.epoch != self.epoch:
            return  # another customer (or a write) since
        trace.mark("subscriptions-loaded")
        self._take(message.view, message.epoch)

    # described, or Textual would describe the worker by the repr of thousands of subscriptions
    @work(exclusive=True, exit_on_error=False, group="subscriptions-show", description="subscriptions-show")
    async def _take(self, view: SubscriptionsView, epoch: int) -> None:
        """Show a customer's subscriptions read: the rows made a piece at a time (2,000 made at
        once held the screen 0.06 s), the keys pressed meanwhile answered in between."""
        if epoch != self.epoch:
            return
        known = {line.subscription.id for line in view.lines if line.subscription.is_active}
        # pairs made by hand of what is retired since (the one just replaced) are dropped first:
        # the rows are made without them
        self.by_hand = {m: t for m, t in self.by_hand.items() if m in known and t in known}
        self.marked = {m for m in self.marked if m in known}
        state = (set(self.marked), dict(self.by_hand), set(self.apart))
        made: list[Row] = []
        for row in self._rows(view):
            made.append(row)
            if len(made) % SHOW_STEP == 0:
                await self.make_way()
                if epoch != self.epoch:
                    return
        if epoch != self.epoch:
            return
        changed = state != (self.marked, self.by_hand, self.apart)  # pairs the rows made do not show
        self.view = view
        self.account = view.account
        self._show(None if changed else made)

    # -- pairs ----------------------------------------------------------------------------------------
    def pairs(self, view: SubscriptionsView | None = None) -> dict[UUID, UUID]:
        """manual → TechData: the proposed pairs less those taken apart, with those made by hand."""
        view = view or self.view
        if view is None:
            return {}
        out = {m.id: t.id for m, t in view.pairing.pairs if m.id not in self.apart}
        for manual, techdata in self.by_hand.items():
            out = {m: t for m, t in out.items() if t != techdata and m != manual}
            out[manual] = techdata
        return out

    def _line(self, sub_id: UUID) -> SubscriptionLine | None:
        return self.view.line(sub_id) if self.view is not None else None

    def _show(self, rows: list[Row] | None = None) -> None:
        """The view on the screen (``rows``: its rows, made already)."""
        view = self.view
        if view is None:
            return
        self.table.set_rows(rows if rows is not None else list(self._rows(view)))
        self.status_done()
        self._highlighted()

    def _rows(self, view: SubscriptionsView) -> Iterator[Row]:
        pairs = self.pairs(view)
        paired = set(pairs.values())
        ambiguous = {m.id: len(c) for m, c, _ in view.pairing.ambiguous}
        for line in view.manual:
            sub = line.subscription
            twin = view.line(pairs[sub.id]) if sub.id in pairs else None
            left = self._side(line)
            if twin is not None:
                right = self._side(twin) + (_date(twin.subscription),)
                key: RowKey = ("pair", sub.id)
            elif sub.id in ambiguous and sub.id not in self.apart:
                right = (f"{ambiguous[sub.id]} candidates: p to pair", "", "", "")
                key = ("manual", sub.id)
            else:
                right = ("no twin: p to pair by hand", "", "", "")
                key = ("manual", sub.id)
            mark = "●" if sub.id in self.marked and key[0] == "pair" else ""
            styles = self._styles(line, twin)
            yield Row(key, (mark, *left, "│", *right), styles,
                      search=f"{sub.id} {sub.part_number or ''} {twin.subscription.id if twin else ''}")
        for line in view.techdata:
            if line.subscription.id in paired:
                continue
            sub = line.subscription
            yield Row(("techdata", sub.id), ("", "", "", "", "│", *self._side(line), _date(sub)),
                      self._styles(None, line), search=f"{sub.id} {sub.part_number or ''}")
        for line in view.lines:  # retired and other subscriptions, dimmed, last
            sub = line.subscription
            if sub.is_active and (line.provider_type == "manual" or line.streamone):
                continue
            state = "inactive" if not sub.is_active else line.provider_type
            side = (f"{sub.name} ({state})", str(sub.quantity), str(line.lcl_sum))
            cells = ("", *side, "│", "", "", "", "") if line.provider_type == "manual" else \
                ("", "", "", "", "│", *side, _date(sub))
            yield Row(("other", sub.id), cells, tuple("dim" for _ in cells), search=str(sub.id))

    @staticmethod
    def _side(line: SubscriptionLine) -> tuple[str, str, str]:
        sub = line.subscription
        return (sub.name, str(sub.quantity), str(line.lcl_sum))

    @staticmethod
    def _styles(manual: SubscriptionLine | None, techdata: SubscriptionLine | None) -> tuple[str | None, ...]:
        def side(line: SubscriptionLine | None) -> tuple[str | None, str | None, str | None]:
            if line is None:
                return (None, None, None)
            mismatch = line.lcl_sum != line.subscription.quantity
            return ("bold yellow" if line.flags else None, None, "bold yellow" if mismatch else None)

        return ("bold", *side(manual), "dim", *side(techdata), None)

    def current_key(self) -> RowKey | None:
        row = self.table.current_row
        return row.key if row is not None else None

    def current_pair(self) -> tuple[UUID, UUID] | None:
        key = self.current_key()
        if key is None or key[0] != "pair":
            return None
        techdata = self.pairs().get(key[1])
        return (key[1], techdata) if techdata else None

    @on(RecordTable.Highlighted, "#su-table")
    def _highlighted(self) -> None:
        self.query_one("#su-detail", Static).update(self.detail())

    def detail(self) -> Text:
        """The selected row: a pair field by field (differences highlighted), or one subscription."""
        key = self.current_key()
        view = self.view
        if key is None or view is None:
            return Text("")
        text = Text(no_wrap=True, overflow="ellipsis")
        pair = self.current_pair()
        if pair is not None:
            manual, techdata = self._line(pair[0]), self._line(pair[1])
            assert manual is not None and techdata is not None
            text.append(f"{'enter: replace':<18}", style="dim")
            text.append(f"{'manual':<30}", style="bold")
            text.append("TechData", style="bold")
            for row in view.diff(manual.subscription, techdata.subscription):
                style = "bold yellow" if row.differs else ""
                text.append("\n")
                text.append(f"{row.field:<18}", style="bold")
                text.append(f"{visible(row.manual)[:29]:<30}", style=style)
                text.append(visible(row.techdata), style=style)
            lines = [manual, techdata]
        else:
            line = self._line(key[1])
            if line is None:
                return text
            sub = line.subscription
            text.append(visible(sub.name), style="bold")
            text.append(f"  ·  {visible(line.provider)}  ·  contract {visible(line.contract)}")
            if sub.part_number:
                text.append(f"  ·  {visible(sub.part_number)}")
            if key[0] == "manual":
                ambiguous = next((why for m, _, why in view.pairing.ambiguous if m.id == sub.id), None)
                text.append("\n" + (ambiguous or "No TechData subscription of the same product: p pairs by hand"),
                            style="yellow")
            lines = [line]
        for line in lines:
            sub = line.subscription
            problems = list(line.flags)
            if sub.is_active and line.lcl_sum != sub.quantity:
                problems.insert(0, f"Σ LCL {line.lcl_sum} ≠ quantity {sub.quantity}")
            if problems:
                text.append(f"\n⚠ {visible(sub.name)}: {'; '.join(problems)}", style="bold yellow")
        return text

    # -- actions --------------------------------------------------------------------------------------
    def action_mark(self) -> None:
        pair = self.current_pair()
        if pair is None:
            self.say("Only a pair is replaced: pair the manual subscription first (p).", severity="warning")
            return
        self.marked.symmetric_difference_update({pair[0]})
        self._show()
        self.table.action_cursor(1)

    def action_unpair(self) -> None:
        pair = self.current_pair()
        if pair is None:
            return
        self.by_hand.pop(pair[0], None)
        self.apart.add(pair[0])
        self.marked.discard(pair[0])
        self._show()

    def action_toggle_invoice(self) -> None:
        self.invoice_deactivation = not self.invoice_deactivation
        self.say("The manual subscription's Deactivate LCL will be " +
                 ("left Active, to be invoiced." if self.invoice_deactivation else "archived, not invoiced."))
        self.status_done()

    def action_open_lcls(self, twin: bool = False) -> None:
        pair = self.current_pair()
        key = self.current_key()
        if twin and pair is not None:
            self.app.open_lcls(pair[1])  # type: ignore[attr-defined]
        elif key is not None:
            self.app.open_lcls(key[1])  # type: ignore[attr-defined]

    def action_copy_id(self) -> None:
        key = self.current_key()
        if key is not None:
            self.app.copy_to_clipboard(str(key[1]))
            self.say(f"Copied {key[1]}")

    @work(exclusive=True, exit_on_error=False, group="subscriptions-pair")
    async def action_pair(self) -> None:
        key = self.current_key()
        view = self.view
        if key is None or view is None or key[0] not in ("pair", "manual"):
            self.say("Choose a manual subscription to pair.", severity="warning")
            return
        manual = self._line(key[1])
        assert manual is not None
        taken = {t: m for m, t in self.pairs().items()}
        choices = [Row(line.subscription.id,
                       (line.subscription.name, str(line.subscription.quantity), line.subscription.part_number or "",
                        visible(self._line(taken[line.subscription.id]).subscription.name)  # type: ignore[union-attr]
                        if line.subscription.id in taken else ""))
                   for line in view.techdata]
        if not choices:
            self.say("This customer has no active TechData subscription.", severity="warning")
            return
        chosen = await self.app.push_screen_wait(ChoiceScreen(
            f"Pair {manual.subscription.name} with a TechData subscription",
            [Column("name", "TechData subscription", 16, flex=2), Column("qty", "Qty", 4),
             Column("part", "Part number", 12, flex=1), Column("with", "Paired with", 12, flex=1)],
            choices, note="The TechData subscription that replaces it; one already paired moves to this one.",
            current=self.pairs().get(manual.subscription.id)))
        if chosen is None:
            return
        wanted = manual.subscription.id
        # the latest choice wins: T leaves any other hand pair, and a changed pair is marked afresh
        self.by_hand = {m: t for m, t in self.by_hand.items() if t != chosen and m != wanted}
        self.by_hand[wanted] = chosen
        self.apart.discard(wanted)
        self.marked.discard(wanted)
        self._show()

    @work(exclusive=True, exit_on_error=False, group="subscriptions-contract")
    async def action_choose_contract(self) -> None:
        view = self.view
        if view is None or self.account is None:
            return
        rows = [Row(ALL, ("", "All billing contracts"))] + [
            Row(c.id, ("yes" if c.is_default else "", c.name)) for c in view.contracts.values() if c.is_active]
        chosen = await self.app.push_screen_wait(ChoiceScreen(
            f"Subscriptions of {self.account.name} on", [Column("default", "Default", 7),
                                                          Column("name", "Billing contract", 20, flex=1)],
            rows, current=self.contract_id or ALL))
        if chosen is None:  # esc: as it was
            return
        self.contract_id = None if chosen == ALL else chosen
        self.show_customer(self.account)

    def busy(self) -> bool:
        """A plan is being applied: another waits until it ends (it runs to its end)."""
        if self.applying:
            self.say("A replacement is being applied; it runs to its end (the journal records it).",
                     severity="warning")
        return self.applying

    def action_replace(self) -> None:
        if self.busy():
            return
        pair = self.current_pair()
        if pair is None:
            key = self.current_key()
            if key is not None and key[0] == "manual":
                self.say("This manual subscription has no TechData twin yet: press p to pair it.", severity="warning")
            return
        if not self.writable():
            return
        from w365tui.workflows.replacement import apply_replacement, prepare_replacement

        assert self.session is not None
        session = self.session
        invoice = self.invoice_deactivation
        prepared: list[Any] = []

        async def prepare() -> Any:
            self.status("Reading both subscriptions and their LCLs…")
            ready = await prepare_replacement(session, pair[0], pair[1], invoice_deactivation=invoice)
            prepared.append(ready)
            return ready.plan

        self.run_plan(prepare, lambda _: apply_replacement(session, prepared[0]))

    @on(RecordTable.Selected, "#su-table")
    def _selected(self, event: RecordTable.Selected) -> None:
        event.stop()
        self.action_replace()

    @on(PlanApplied)
    def _applied(self, message: PlanApplied) -> None:
        if self.report(message):
            self.app.changed_elsewhere(self, message.plan)  # type: ignore[attr-defined]
        if self.account is not None:
            self.show_customer(self.account)

    def action_replace_marked(self) -> None:
        if self.busy():  # before a worker starts: a new one of the group would cancel the running one
            return
        if not self.marked:
            self.say("Mark pairs with space first.", severity="warning")
            return
        if self.writable():
            self.replace_marked()

    @work(exclusive=True, exit_on_error=False, group="write")
    async def replace_marked(self) -> None:
        from w365tui.workflows.replacement import replace_many

        assert self.session is not None
        pairs = [(m, t) for m, t in self.pairs().items() if m in self.marked]
        names = [(self._line(m), self._line(t)) for m, t in pairs]
        listing = "\n".join(f"  {visible(m.subscription.name)} → {visible(t.subscription.name)}"
                            for m, t in names if m and t)
        confirmed = await self.app.push_screen_wait(ConfirmScreen(
            f"Replace {len(pairs)} manual subscription{'s' if len(pairs) != 1 else ''}",
            f"{listing}\n\nEach is its own plan, checked and journalled; one that preflight refuses is skipped "
            f"with its reason. Deactivate LCLs are "
            f"{'left Active, to be invoiced' if self.invoice_deactivation else 'archived'}."))
        if not confirmed:
            return
        self.applying = True
        try:
            outcomes = await replace_many(self.session, pairs, invoice_deactivation=self.invoice_deactivation,
                                          progress=self.status)
        finally:
            self.applying = False
        self.marked.clear()
        self.post_message(self.BulkDone(outcomes))

    @on(BulkDone)
    def _bulk_done(self, message: BulkDone) -> None:
        from w365tui.domain.plan import Plan
        from w365tui.workflows.replacement import bulk_markdown

        self.app.push_screen(SummaryScreen(bulk_markdown(self.account, message.outcomes)))
        if self.account is not None:
            self.app.changed_elsewhere(self, Plan("replace", "", (), context=_context(self.account)))  # type: ignore[attr-defined]
            self.show_customer(self.account)


def _context(account: Account) -> Any:
    from w365tui.domain.plan import PlanContext

    return PlanContext(account_id=account.id)


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no, with what it is about."""

    DEFAULT_CSS = MODAL_CSS.format(name="ConfirmScreen") + "ConfirmScreen VerticalScroll { height: auto; max-height: 14; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("escape,n", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(visible(self.title_text), style="bold"), classes="title")
            with VerticalScroll():
                yield Static(Text(self.body))
            yield Static(Text("y go ahead · n or esc: no"), classes="keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class SummaryScreen(ModalScreen[None]):
    """What several replacements came to, as Markdown for the ticket: c copies it (OSC 52)."""

    DEFAULT_CSS = MODAL_CSS.format(name="SummaryScreen") + "SummaryScreen VerticalScroll { height: auto; max-height: 16; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "copy", "Copy", id="summary.copy"),
        Binding("escape,enter,q", "close", "Close", id="summary.close"),
    ]

    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.markdown = markdown

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Replacements done", style="bold"), classes="title")
            with VerticalScroll():
                yield Static(Text(visible(self.markdown)))
            yield Static(Text("c copy as Markdown (for the ticket) · esc close"), classes="keys")

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.markdown)
        self.app.notify("Copied the summary as Markdown.", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
