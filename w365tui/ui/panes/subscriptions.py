"""Pane 3: one customer's subscriptions, manual ones first, each with the Σ of its LCLs and the
checks of step 5. Reached from the customers pane (enter)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Static

from w365tui.domain.models import Account
from w365tui.ui.commands import Command
from w365tui.ui.panes.base import Pane
from w365tui.ui.text import visible
from w365tui.ui.widgets.filtered_list import FilteredList
from w365tui.ui.widgets.record_table import Column, RecordTable, Row

if TYPE_CHECKING:
    from w365tui.workflows.customers import SubscriptionLine

COLUMNS = [
    Column("name", "Subscription", 16, flex=3),
    Column("provider", "Provider", 9, flex=1),
    Column("qty", "Qty", 4),
    Column("sum", "ΣLCL", 4),
    Column("start", "Start", 10),
    Column("state", "State", 8),
]


class SubscriptionsPane(Pane):
    PANE_ID = "subscriptions"
    TITLE = "Subscriptions"
    DEFAULT_CSS = """
    SubscriptionsPane { height: 1fr; }
    SubscriptionsPane #su-status { height: 1; padding: 0 1; color: $text-muted; }
    SubscriptionsPane #su-detail { height: 4; border-top: solid $primary 50%; padding: 0 1; }
    """
    COMMAND_LIST: ClassVar[tuple[Command, ...]] = (
        Command("subscriptions.reload", "r", "Reload", "reload", "Read the customer's subscriptions again",
                title="Reload subscriptions", available=lambda p: p.account is not None),
    )

    class Loaded(Message):
        def __init__(self, account: Account, lines: list[SubscriptionLine]) -> None:
            super().__init__()
            self.account = account
            self.lines = lines

    def __init__(self) -> None:
        super().__init__()
        self.account: Account | None = None
        self.lines: dict[Any, SubscriptionLine] = {}

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
        if self.account is None:
            return
        manual = sum(1 for line in self.lines.values() if line.provider_type == "manual" and line.subscription.is_active)
        flagged = sum(1 for line in self.lines.values() if line.flags or
                      (line.subscription.is_active and line.lcl_sum != line.subscription.quantity))
        count = len(self.lines)
        self.status(f"{visible(self.account.name)} · {count} subscription{'s' if count != 1 else ''} · "
                    f"{manual} manual active"
                    + (f" · {flagged} flagged" if flagged else ""))

    def start(self, session: Any) -> None:
        super().start(session)
        if self.account is not None:
            self.load(self.account)

    def show_customer(self, account: Account) -> bool:
        self.account = account
        self.lines = {}
        self.table.set_rows([])
        self.status(f"Reading the subscriptions of {visible(account.name)}…")
        if self.session is not None:
            self.load(account)
        return True

    def outside_change(self, plan: Any) -> None:
        if self.account is not None and plan.context.account_id in (None, self.account.id):
            self.show_customer(self.account)

    def action_reload(self) -> None:
        if self.account is not None:
            self.show_customer(self.account)

    @work(exclusive=True, exit_on_error=False, group="subscriptions-load")
    async def load(self, account: Account) -> None:
        from w365tui.workflows.customers import subscription_lines

        assert self.session is not None
        found, lines = await subscription_lines(self.session, account.id)
        self.post_message(self.Loaded(found, lines))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.account = message.account
        self.lines = {line.subscription.id: line for line in message.lines}
        rows = []
        for line in message.lines:
            sub = line.subscription
            mismatch = sub.is_active and line.lcl_sum != sub.quantity
            rows.append(Row(sub.id, (sub.name, line.provider_type, str(sub.quantity), str(line.lcl_sum),
                                     sub.effective_start_date.isoformat() if sub.effective_start_date else "—",
                                     "active" if sub.is_active else "inactive"),
                            ("bold yellow" if line.flags else None, None, None, "bold yellow" if mismatch else None,
                             None, None if sub.is_active else "dim")))
        self.table.set_rows(rows, keep_cursor=False)
        self.status_done()
        self._highlighted()

    @on(RecordTable.Highlighted, "#su-table")
    def _highlighted(self) -> None:
        detail = self.query_one("#su-detail", Static)
        selected = self.table.current_row
        line = self.lines.get(selected.key) if selected else None
        if line is None:
            detail.update(Text(""))
            return
        sub = line.subscription
        text = Text()
        text.append(visible(sub.name), style="bold")
        text.append(f"  ·  {visible(line.provider)}  ·  contract {visible(line.contract)}")
        if sub.part_number:
            text.append(f"  ·  {visible(sub.part_number)}")
        text.append("\n")
        if sub.is_active and line.lcl_sum != sub.quantity:
            text.append(f"Σ LCL {line.lcl_sum} ≠ quantity {sub.quantity}  ", style="bold yellow")
        if line.flags:
            text.append("⚠ " + "; ".join(line.flags), style="bold yellow")
        elif sub.is_active and line.lcl_sum == sub.quantity:
            text.append("No flags", style="green")
        detail.update(text)
