"""Pane 4: the license change logs of one subscription — archive marks, edits with a running Σ,
and a correcting LCL — on the one write path.

Nothing is written as the operator marks: ``space`` toggles a row's archive mark, ``v`` marks a
range (press it at one end, move, press it at the other), ``A`` marks every uninvoiced Active LCL,
``e`` edits a row's quantity or date; marked rows show their pending state inline and the footer
shows the Σ they will produce. ``enter`` reviews everything marked as one plan. ``a`` adds a
correcting LCL, prefilled with the difference. Reached from pane 3 (``l``), or by
``w365tui --subscription ID``.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from w365tui.domain.enums import LclEvent, ProvisioningStatus
from w365tui.domain.lcl import (
    Edit,
    Sigma,
    archive_problem,
    edit_problem,
    parse_date,
    parse_quantity,
)
from w365tui.domain.models import LicenseChangeLog
from w365tui.ui import trace
from w365tui.ui.commands import Command
from w365tui.ui.panes.base import Pane, PlanApplied
from w365tui.ui.screens import MODAL_CSS
from w365tui.ui.text import visible
from w365tui.ui.widgets.filtered_list import FilteredList
from w365tui.ui.widgets.record_table import Column, RecordTable, Row

if TYPE_CHECKING:
    from w365tui.workflows.lcl import LclListing

COLUMNS = [
    Column("mark", "", 1),
    Column("event", "Event", 10),
    Column("qty", "Qty", 7),
    Column("date", "Date", 10),
    Column("provisioning", "Provisioning", 10, flex=1),
    Column("status", "Status", 10),
    Column("invoice", "Invoice", 7),
    Column("selling", "Selling", 7),
    Column("cost", "Cost", 7),
]
SHOW_STEP = 500  # LCL rows made between two pauses as a listing is shown
PROVISIONING = {ProvisioningStatus.AWAITING_PROVISIONING: "awaiting", ProvisioningStatus.PROVISIONED: "provisioned",
                ProvisioningStatus.FAILED_PROVISIONING: "failed", ProvisioningStatus.NOT_APPLICABLE: "n/a"}


def _loaded(pane: LicenseChangeLogsPane) -> bool:
    return pane.listing is not None


def _pending(pane: LicenseChangeLogsPane) -> bool:
    return bool(pane.marks or pane.edits)


class LicenseChangeLogsPane(Pane):
    PANE_ID = "lcls"
    TITLE = "LCLs"
    DEFAULT_CSS = """
    LicenseChangeLogsPane { height: 1fr; }
    LicenseChangeLogsPane #lc-head { height: auto; max-height: 2; padding: 0 1; text-wrap: nowrap;
        text-overflow: ellipsis; }
    LicenseChangeLogsPane #lc-detail { height: 1; padding: 0 1; color: $text-muted; text-wrap: nowrap;
        text-overflow: ellipsis; }
    LicenseChangeLogsPane #lc-sigma { height: 3; padding: 0 1; border-top: solid $primary 50%; }
    LicenseChangeLogsPane #lc-sigma.mismatch { color: $error; text-style: bold; }
    """
    COMMAND_LIST: ClassVar[tuple[Command, ...]] = (
        Command("lcls.review", "enter", "Review", "review", "Review everything marked as one plan",
                title="Review the marked LCLs", available=_pending),
        Command("lcls.toggle", "space", "Archive", "toggle", "Toggle the selected LCL's archive mark",
                title="Toggle the archive mark", available=_loaded),
        Command("lcls.range", "v", "Range", "range", "Mark a range: press at one end, move, press at the other",
                title="Mark a range", available=_loaded),
        Command("lcls.all", "A", "All uninvoiced", "mark_uninvoiced", "Mark every uninvoiced Active LCL to archive",
                title="Mark all uninvoiced", show=False, available=_loaded),
        Command("lcls.edit", "e", "Edit", "edit", "Edit the selected LCL's quantity or effective date",
                title="Edit the LCL", available=_loaded),
        Command("lcls.add", "a", "Add", "add", "Add a correcting LCL, prefilled with the difference",
                title="Add a correcting LCL", show=False, available=_loaded),
        Command("lcls.clear", "escape", "Clear", "clear", "Forget what is marked", show=False, palette=False),
        Command("lcls.copy", "c", "Copy id", "copy_id", "Copy the selected LCL's id (OSC 52)", title="Copy the LCL id",
                show=False, available=_loaded),
        Command("lcls.reload", "r", "Reload", "reload", "Read the LCLs again", title="Reload LCLs", show=False,
                available=_loaded),
    )

    class Loaded(Message):
        def __init__(self, listing: LclListing, epoch: int) -> None:
            super().__init__()
            self.listing = listing
            self.epoch = epoch

    def __init__(self) -> None:
        super().__init__()
        self.subscription_id: UUID | None = None
        self.listing: LclListing | None = None
        self.marks: dict[UUID, bool] = {}  # row → to be archived (True) or unarchived (False)
        self.edits: dict[UUID, Edit] = {}
        self.anchor: UUID | None = None  # where a range mark began
        self.epoch = 0

    def compose(self) -> ComposeResult:
        yield Static(Text("Choose a subscription in pane 3 (Subscriptions) and press l.", style="dim"), id="lc-head")
        yield FilteredList(RecordTable(COLUMNS, id="lc-table", empty="No license change logs."), fill=True)
        yield Static(Text(""), id="lc-detail")
        yield Static(Text(""), id="lc-sigma")

    @property
    def table(self) -> RecordTable:
        return self.query_one("#lc-table", RecordTable)

    def focus_list(self) -> None:
        self.table.focus()

    def status(self, text: str) -> None:
        self.query_one("#lc-detail", Static).update(Text(text))

    def status_done(self) -> None:
        self._detail()

    # -- loading --------------------------------------------------------------------------------------
    def start(self, session: Any) -> None:
        super().start(session)
        if self.subscription_id is not None:
            self.load(self.subscription_id, self.epoch)

    def show_subscription(self, subscription_id: UUID) -> None:
        if subscription_id != self.subscription_id:
            self.marks, self.edits, self.anchor = {}, {}, None
            self.listing = None
            self.table.set_rows([])
        self.subscription_id = subscription_id
        self.epoch += 1
        self.status("Reading the license change logs…")
        if self.session is not None:
            self.load(subscription_id, self.epoch)

    def outside_change(self, plan: Any) -> None:
        if self.subscription_id is not None and self.listing is not None:
            self.show_subscription(self.subscription_id)

    def action_reload(self) -> None:
        if self.subscription_id is not None:
            self.show_subscription(self.subscription_id)

    @work(exclusive=True, exit_on_error=False, group="lcls-load")
    async def load(self, subscription_id: UUID, epoch: int) -> None:
        from w365tui.workflows.lcl import listing

        assert self.session is not None
        self.post_message(self.Loaded(await listing(self.session, subscription_id), epoch))

    def on_worker_state_changed(self, event: Any) -> None:
        from textual.worker import WorkerState

        if event.state == WorkerState.ERROR and event.worker.group == "lcls-load":
            self.status(f"Could not read the LCLs: {event.worker.error} — press r to try again")
        super().on_worker_state_changed(event)

    @on(Loaded)
    def _on_loaded(self, message: Loaded) -> None:
        if message.epoch != self.epoch:
            return
        trace.mark("lcls-loaded", lcls=len(message.listing.lcls))
        self._take(message.listing, message.epoch)

    # described, or Textual would describe the worker by the repr of thousands of LCLs
    @work(exclusive=True, exit_on_error=False, group="lcls-show", description="lcls-show")
    async def _take(self, listing: LclListing, epoch: int) -> None:
        """Show a listing read: its rows made a piece at a time (5,000 LCLs made at once held the
        screen 0.07 s), the keys pressed meanwhile answered in between."""
        if epoch != self.epoch:
            return
        marks, edits = dict(self.marks), dict(self.edits)
        made: list[Row] = []
        for start in range(0, len(listing.lcls), SHOW_STEP):
            made += [self._row(lcl, listing, marks, edits) for lcl in listing.lcls[start:start + SHOW_STEP]]
            await self.make_way()
            if epoch != self.epoch:
                return
        self.listing = listing
        rows = {lcl.id: lcl for lcl in listing.lcls}
        # a mark whose row is gone, or is already what it was marked to become, is dropped (and said)
        settled = [i for i, archive in self.marks.items() if i not in rows or rows[i].is_archived == archive]
        for lcl_id in settled:
            del self.marks[lcl_id]
        if settled:
            self.say(f"{len(settled)} mark{'s' if len(settled) > 1 else ''} dropped: the LCL changed since it was "
                     "marked.", severity="warning", timeout=10)
        self.edits = {k: v for k, v in self.edits.items() if k in rows}
        if self.anchor is not None and self.anchor not in rows:
            self.anchor = None
        if settled or marks != self.marks or edits != self.edits:  # the rows made show marks no longer held
            self._show()
        else:
            self._show(made)

    # -- showing --------------------------------------------------------------------------------------
    def _lcl(self, lcl_id: UUID) -> LicenseChangeLog | None:
        if self.listing is None:
            return None
        return next((lcl for lcl in self.listing.lcls if lcl.id == lcl_id), None)

    def _show(self, rows: list[Row] | None = None) -> None:
        """The listing on the screen (``rows``: its rows, made already)."""
        listing = self.listing
        if listing is None:
            return
        sub = listing.subscription
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(visible(sub.name), style="bold")
        head.append(f" · {visible(listing.customer)} · {visible(listing.contract)} · {visible(listing.provider)}"
                    f" · quantity {sub.quantity} · {sub.state.value}")
        self.query_one("#lc-head", Static).update(head)
        self.table.set_rows(rows if rows is not None else [self._row(lcl, listing) for lcl in listing.lcls])
        self._footer()
        self._detail()

    def _row(self, lcl: LicenseChangeLog, listing: LclListing, marks: dict[UUID, bool] | None = None,
             edits: dict[UUID, Any] | None = None) -> Row:
        """One LCL's row, with the operator's marks and edits (those given, else the pane's)."""
        marks = self.marks if marks is None else marks
        edit = (self.edits if edits is None else edits).get(lcl.id)
        quantity = f"{lcl.quantity:+d}"
        when = lcl.effective_date.isoformat() if lcl.effective_date else "—"
        if edit is not None and edit.quantity is not None:
            quantity = f"{lcl.quantity:+d}→{edit.quantity:+d}"
        if edit is not None and edit.effective_date is not None:
            when = f"→{edit.effective_date.isoformat()}"
        status = lcl.status.value
        if lcl.id in marks:
            status = "→archived" if marks[lcl.id] else "→active"
        pending = lcl.id in marks or edit is not None
        blocked = lcl.id in listing.blocked
        return Row(lcl.id, (
            "●" if pending else ("!" if blocked else ""), lcl.event.value, quantity, when,
            PROVISIONING.get(lcl.provisioning_status, "—") if lcl.provisioning_status else "—", status,
            "yes" if lcl.invoice_id else "", _money(lcl.selling_price), _money(lcl.cost_price)),
            ("bold", None, "bold" if edit and edit.quantity is not None else None,
             "bold" if edit and edit.effective_date is not None else None,
             "bold yellow" if lcl.provisioning_status is ProvisioningStatus.AWAITING_PROVISIONING else None,
             "bold" if lcl.id in marks else ("dim" if lcl.is_archived else None), None, None, None),
            search=f"{lcl.id} {lcl.name or ''}")

    def _footer(self) -> None:
        listing = self.listing
        footer = self.query_one("#lc-sigma", Static)
        if listing is None:
            footer.update(Text(""))
            return
        now = listing.sigma
        after_total = now.total + sum((e.quantity - lcl.quantity) for lcl_id, e in self.edits.items()
                                      if e.quantity is not None and (lcl := self._lcl(lcl_id)) is not None)
        after = Sigma(after_total, now.quantity)
        text = Text(now.line())
        if self.edits:
            text.append(f" · after the edits: {after.line()}")
        if self.marks or self.edits:
            text.append(f"\n{len(self.marks)} marked, {len(self.edits)} edited · enter reviews · esc forgets them")
        elif not now.matches:
            text.append(f"\na adds a correcting LCL of {-now.difference:+d}")
        footer.update(text)
        footer.set_class(not (after if self.edits else now).matches, "mismatch")

    @on(RecordTable.Highlighted, "#lc-table")
    def _highlighted(self) -> None:
        self._detail()

    def _detail(self) -> None:
        row = self.table.current_row if self.listing is not None else None
        lcl = self._lcl(row.key) if row is not None else None
        if lcl is None:
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(visible(lcl.name or "(no name)"))
        blocker = self.listing.blocked.get(lcl.id) if self.listing else None
        if blocker is not None:
            text.append(f"  ⚠ blocked by the earlier {blocker.event.value} of {_day(blocker.effective_date)} "
                        f"({PROVISIONING.get(blocker.provisioning_status, '?') if blocker.provisioning_status else '?'})",
                        style="yellow")
        elif lcl.provisioning_status is ProvisioningStatus.AWAITING_PROVISIONING:
            text.append("  ⚠ awaiting provisioning: about to be pushed to the provider, left as it is",
                        style="yellow")
        if self.anchor is not None:
            text.append("  · range: press v at its other end", style="bold")
        self.query_one("#lc-detail", Static).update(text)

    # -- marking --------------------------------------------------------------------------------------
    def _current(self) -> LicenseChangeLog | None:
        row = self.table.current_row
        return self._lcl(row.key) if row is not None else None

    def _mark(self, lcl: LicenseChangeLog, *, quiet: bool = False) -> bool:
        """Toggle one row's mark; a row that must not change says why (unless ``quiet``)."""
        assert self.listing is not None
        if lcl.id in self.marks:
            del self.marks[lcl.id]
            return True
        problem = archive_problem(self.listing.subscription, lcl, unarchive=lcl.is_archived)
        if problem:
            if not quiet:
                self.say(problem, title="Not marked", severity="warning", timeout=10)
            return False
        self.marks[lcl.id] = not lcl.is_archived
        return True

    def action_toggle(self) -> None:
        lcl = self._current()
        if lcl is None:
            return
        if self._mark(lcl):
            self._show()
            self.table.action_cursor(1)

    def action_range(self) -> None:
        lcl = self._current()
        if lcl is None or self.listing is None:
            return
        if self.anchor is None:
            self.anchor = lcl.id
            self._detail()
            return
        keys = [row.key for row in self.table.visible_rows()]
        first = self._lcl(self.anchor)
        if self.anchor not in keys or first is None:
            self.anchor = None
            self._detail()
            self.say("The range's first row is hidden by the filter or gone: press v again to start one.",
                     severity="warning")
            return
        start, end = sorted((keys.index(self.anchor), keys.index(lcl.id)))
        self.anchor = None
        refused = 0
        for key in keys[start:end + 1]:  # the way the first row goes: archive Active rows, or unarchive archived ones
            row_lcl = self._lcl(key)
            if row_lcl is None or row_lcl.id in self.marks or row_lcl.is_archived != first.is_archived:
                continue
            if not self._mark(row_lcl, quiet=True):
                refused += 1
        if refused:
            self.say(f"{refused} LCL{'s' if refused > 1 else ''} in the range left unmarked: awaiting provisioning, "
                     "or invoiced and archived.", severity="warning", timeout=10)
        self._show()

    def action_mark_uninvoiced(self) -> None:
        if self.listing is None:
            return
        for lcl in self.listing.lcls:
            if (not lcl.is_archived and lcl.invoice_id is None
                    and lcl.provisioning_status is not ProvisioningStatus.AWAITING_PROVISIONING):
                self.marks[lcl.id] = True
        self._show()

    def action_clear(self) -> None:
        if self.applying:
            return
        if self.query_one(FilteredList).clear_filter():
            return
        if self.marks or self.edits or self.anchor:
            self.marks, self.edits, self.anchor = {}, {}, None
            self._show()
            self.say("Marks and edits forgotten; nothing was written.")

    def action_copy_id(self) -> None:
        lcl = self._current()
        if lcl is not None:
            self.app.copy_to_clipboard(str(lcl.id))
            self.say(f"Copied {lcl.id}")

    @work(exclusive=True, exit_on_error=False, group="lcls-form")
    async def action_edit(self) -> None:
        lcl = self._current()
        if lcl is None or self.listing is None:
            return
        probe = Edit(lcl.id, quantity=lcl.quantity)
        problem = edit_problem(self.listing.subscription, self.listing.lcls, lcl, probe)
        if problem:
            self.say(problem, title="Not editable", severity="warning", timeout=10)
            return
        current = self.edits.get(lcl.id)
        quantity = current.quantity if current and current.quantity is not None else lcl.quantity
        when = current.effective_date if current and current.effective_date else lcl.effective_date
        listing = self.listing
        others = [e for i, e in self.edits.items() if i != lcl.id]

        def edit_of(values: dict[str, str]) -> Edit:
            new_quantity = parse_quantity(values["quantity"])
            text = values["date"].strip()
            new_date = parse_date(text) if text else None  # blank: the date is left as it is
            return Edit(lcl.id, new_quantity if new_quantity != lcl.quantity else None,
                        new_date if new_date not in (None, lcl.effective_date) else None)

        def check(values: dict[str, str]) -> str | None:
            try:
                edit = edit_of(values)
            except ValueError as error:
                return str(error)
            return edit_problem(listing.subscription, listing.lcls, lcl, edit, others)

        values = await self.app.push_screen_wait(FormScreen(
            f"Edit the {lcl.event.value} LCL of {_day(lcl.effective_date)}",
            [("quantity", "Quantity (signed)", f"{quantity:+d}"), ("date", "Effective date", when.isoformat()
                                                                    if when else "")], check))
        if values is None:
            return
        edit = edit_of(values)
        if edit.quantity is None and edit.effective_date is None:
            self.edits.pop(lcl.id, None)
        else:
            self.edits[lcl.id] = edit
        self._show()

    # -- writing ---------------------------------------------------------------------------------------
    def action_review(self) -> None:
        if self.applying or self.listing is None or not self.writable():
            return
        if not (self.marks or self.edits):
            self.say("Nothing is marked: space marks an LCL to archive (or unarchive), e edits one.")
            return
        from w365tui.workflows.lcl import prepare_changes

        assert self.session is not None
        session = self.session
        sub_id = self.listing.subscription.id
        lcls = {lcl.id: lcl for lcl in self.listing.lcls}
        archive = [i for i, to_archive in self.marks.items() if i in lcls and to_archive]
        unarchive = [i for i, to_archive in self.marks.items() if i in lcls and not to_archive]
        edits = list(self.edits.values())

        async def prepare() -> Any:
            return await prepare_changes(session, sub_id, archive=archive, unarchive=unarchive, edits=edits)

        self.run_plan(prepare)

    @on(RecordTable.Selected, "#lc-table")
    def _selected(self, event: RecordTable.Selected) -> None:
        event.stop()
        self.action_review()

    @work(exclusive=True, exit_on_error=False, group="lcls-form")
    async def action_add(self) -> None:
        listing = self.listing
        if listing is None or not self.writable():
            return
        if listing.sigma.matches:
            self.say(f"Σ LCL already equals the quantity ({listing.sigma.quantity}): nothing to correct.")
            return
        difference = -listing.sigma.difference

        def check(values: dict[str, str]) -> str | None:
            if values["event"].strip().lower() not in {e.value for e in LclEvent}:
                return f"{values['event']!r} is not an LCL event: update, create, activate or deactivate"
            try:
                if parse_quantity(values["quantity"]) == 0:
                    return "a correcting LCL of 0 licences changes nothing"
                parse_date(values["date"])
            except ValueError as error:
                return str(error)
            return None

        values = await self.app.push_screen_wait(FormScreen(
            f"Add a correcting LCL to {listing.subscription.name}",
            [("event", "Event", "update"), ("quantity", "Quantity (signed)", f"{difference:+d}" if difference else ""),
             ("date", "Effective date", date.today().isoformat())], check,
            note="Not Applicable: nothing is provisioned at the provider. Prefilled with the difference."))
        if values is None:
            return
        from w365tui.workflows.lcl import prepare_add

        assert self.session is not None
        session = self.session
        sub_id = listing.subscription.id

        async def prepare() -> Any:
            return await prepare_add(session, sub_id, event=values["event"], quantity=parse_quantity(values["quantity"]),
                                     effective_date=parse_date(values["date"]))

        self.run_plan(prepare)

    @on(PlanApplied)
    def _applied(self, message: PlanApplied) -> None:
        if self.report(message):
            self.marks, self.edits, self.anchor = {}, {}, None
            self.app.changed_elsewhere(self, message.plan)  # type: ignore[attr-defined]
        if self.subscription_id is not None:
            self.show_subscription(self.subscription_id)

    @staticmethod
    def success(plan: Any) -> str:
        return plan.summary.splitlines()[0] if plan.summary else plan.title


def _day(value: date | None) -> str:
    return value.isoformat() if value else "no date"


def _money(value: Any) -> str:
    return f"{value:.2f}" if value is not None else ""


class FormScreen(ModalScreen[dict[str, str] | None]):
    """A few labelled values to type; ``check`` says what is wrong before it closes."""

    DEFAULT_CSS = MODAL_CSS.format(name="FormScreen") + """
    FormScreen Input { width: 1fr; }
    FormScreen .label { color: $text-muted; }
    FormScreen #form-error { color: $error; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="form.cancel")]

    def __init__(self, title: str, fields: list[tuple[str, str, str]], check: Any = None, note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields
        self.check = check
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(visible(self.title_text), style="bold"), classes="title")
            for key, label, value in self.fields:
                yield Static(Text(label), classes="label")
                yield Input(value=value, id=f"form-{key}")  # focused, its value is selected: typing replaces it
            if self.note:
                yield Static(Text(self.note), classes="note")
            yield Static(Text(""), id="form-error")
            yield Static(Text("enter save (nothing is written until you review) · tab next · esc cancel"),
                         classes="keys")

    def values(self) -> dict[str, str]:
        return {key: self.query_one(f"#form-{key}", Input).value for key, _, _ in self.fields}

    @on(Input.Submitted)
    def _submitted(self) -> None:
        values = self.values()
        problem = self.check(values) if self.check else None
        if problem:
            self.query_one("#form-error", Static).update(Text(visible(problem)))
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)
