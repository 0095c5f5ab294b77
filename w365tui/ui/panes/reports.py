"""Pane 5: the mismatch reports, each row leading straight to its fix.

``t`` chooses the report (``[`` and ``]`` step through them), ``o`` its scope (everything, one
customer, one provider); ``r`` runs it again. While it runs the status line counts requests and
rows, and ``esc`` stops it. ``/`` filters, ``s``/``S`` sort. ``enter`` opens the pane that fixes
the selected row — the LCL editor on its subscription, the customer's subscriptions, the map
dialog of pane 1 — and coming back here checks that row again. ``d`` sets how old an uninvoiced
LCL must be. ``x`` writes the report as CSV,
``c`` copies the selected row's id. The same reports run as ``w365tui report``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Static

from w365tui.domain import reports as r
from w365tui.ui import trace
from w365tui.ui.commands import Command
from w365tui.ui.panes.base import Pane
from w365tui.ui.screens import ChoiceScreen
from w365tui.ui.text import visible
from w365tui.ui.widgets.filtered_list import FilteredList
from w365tui.ui.widgets.record_table import Column, RecordTable, Row

#: What the list shows of each report at any width (ids are searchable, shown below the list).
SHOWN: dict[str, tuple[tuple[str, Column], ...]] = {
    r.LCL_MISMATCH: (("customer", Column("customer", "Customer", 12, flex=2)),
                     ("subscription", Column("subscription", "Subscription", 14, flex=3)),
                     ("provider", Column("provider", "Provider", 9, flex=1)),
                     ("quantity", Column("quantity", "Qty", 5)), ("lcl_sum", Column("lcl_sum", "Σ LCL", 6)),
                     ("difference", Column("difference", "Σ−Qty", 6)), ("state", Column("state", "State", 8))),
    r.LICENSE_MISMATCH: (("customer", Column("customer", "Customer", 12, flex=2)),
                         ("subscription", Column("subscription", "Subscription", 12, flex=3)),
                         ("finding", Column("finding", "Finding", 17)),
                         ("work365_quantity", Column("work365_quantity", "W365", 5)),
                         ("streamone_quantity", Column("streamone_quantity", "S1", 5)),
                         ("term", Column("term", "Term", 8, flex=1))),
    r.MISSING_DATA: (("customer", Column("customer", "Customer", 12, flex=2)), ("record", Column("record", "Record", 12)),
                     ("name", Column("name", "Name", 14, flex=3)), ("missing", Column("missing", "Missing", 16, flex=2))),
    r.UNMAPPED: (("provider", Column("provider", "Provider", 10, flex=1)),
                 ("provider_account", Column("provider_account", "Provider account", 16, flex=3)),
                 ("provider_specific_id", Column("provider_specific_id", "Provider-specific id", 20, flex=2)),
                 ("created", Column("created", "Created", 10))),
    r.UNINVOICED: (("customer", Column("customer", "Customer", 12, flex=2)),
                   ("subscription", Column("subscription", "Subscription", 12, flex=3)),
                   ("event", Column("event", "Event", 10)), ("quantity", Column("quantity", "Qty", 5)),
                   ("effective_date", Column("effective_date", "Effective", 10)), ("age", Column("age", "Days", 5))),
}
SHORT = {r.LCL_MISMATCH: "LCL mismatch", r.LICENSE_MISMATCH: "Licenses", r.MISSING_DATA: "Missing data",
         r.UNMAPPED: "Unmapped", r.UNINVOICED: "Uninvoiced"}
NUMERIC = {"quantity", "lcl_sum", "difference", "work365_quantity", "streamone_quantity", "age"}
ID_COLUMNS = ("subscription_id", "lcl_id", "id", "provider_subscription_id")


def _has_row(pane: ReportsPane) -> bool:
    return pane.report is not None and bool(pane.report.rows)


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'s' if n != 1 else ''}"


def _cell(value: Any) -> str:
    return visible(r.cell_text(value))


class ReportsPane(Pane):
    PANE_ID = "reports"
    TITLE = "Reports"
    DEFAULT_CSS = """
    ReportsPane { height: 1fr; }
    ReportsPane #rp-head { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    ReportsPane #rp-status { height: 1; padding: 0 1; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis; }
    ReportsPane #rp-detail { height: 3; padding: 0 1; color: $text-muted; border-top: solid $primary 50%; }
    """
    COMMAND_LIST: ClassVar[tuple[Command, ...]] = (
        Command("reports.fix", "enter", "Fix", "fix", "Open the pane that fixes the selected row",
                title="Fix the selected row", available=_has_row),
        Command("reports.choose", "t", "Report", "choose", "Choose the report", title="Choose a report"),
        Command("reports.scope", "o", "Scope", "scope", "Everything, one customer or one provider",
                title="Choose the report's scope"),
        Command("reports.run", "r", "Run", "run_again", "Run the report again", title="Run the report again"),
        Command("reports.days", "d", "Days", "days", "Uninvoiced LCLs: how many days old an LCL must be",
                title="Choose the uninvoiced report's days", show=False,
                available=lambda pane: pane.name_shown == r.UNINVOICED),
        Command("reports.next", "]", "Next report", "step(1)", "The next report", show=False),
        Command("reports.previous", "[", "Previous report", "step(-1)", "The previous report", show=False),
        Command("reports.export", "x", "CSV", "export", "Write the report as CSV to a file in the current folder",
                title="Write the report as CSV", show=False, available=_has_row),
        Command("reports.copy", "c", "Copy id", "copy_id", "Copy the selected row's id (OSC 52)",
                title="Copy the row's id", show=False, available=_has_row),
        Command("reports.cancel", "escape", "Stop", "cancel", "Stop the report running, else clear the filter",
                show=False, palette=False),
    )

    class Ran(Message):
        def __init__(self, report: r.Report, epoch: int) -> None:
            super().__init__()
            self.report = report
            self.epoch = epoch

    class Progress(Message):
        def __init__(self, text: str, epoch: int) -> None:
            super().__init__()
            self.text = text
            self.epoch = epoch

    def __init__(self) -> None:
        super().__init__()
        self.name_shown = r.LCL_MISMATCH
        self.scope = r.EVERYTHING
        self.days = r.DEFAULT_DAYS
        self.report: r.Report | None = None
        self.running = False
        self.fixing: r.Row | None = None  # the row whose fix the operator went to: checked again on return
        self.epoch = 0
        self.started = 0.0
        self._said = 0.0
        self._worker: Any = None  # the run (or check) whose answer is awaited; others are stale
        self._checking = False

    def compose(self) -> ComposeResult:
        yield Static(Text(""), id="rp-head")
        yield Static(Text("Connecting…"), id="rp-status")
        yield FilteredList(RecordTable(self._columns(), id="rp-table", empty="Nothing to report."), fill=True,
                           id="rp-list")
        yield Static(Text(""), id="rp-detail")

    @property
    def table(self) -> RecordTable:
        return self.query_one("#rp-table", RecordTable)

    def _columns(self) -> list[Column]:
        return [column for _, column in SHOWN[self.name_shown]]

    def focus_list(self) -> None:
        self.table.focus()

    def status(self, text: str) -> None:
        self.query_one("#rp-status", Static).update(Text(visible(text)))

    def status_done(self) -> None:
        self._counts()

    def on_mount(self) -> None:
        self._head()
        self.status("The report runs when this pane is shown.")

    # -- running ------------------------------------------------------------------------------------
    def start(self, session: Any) -> None:
        super().start(session)
        if self.is_mounted and self.display and self.region.height:  # already on screen: run now, else when shown
            self.run_report()

    def disconnected(self, reason: str) -> None:
        self.status(f"{reason} — press r to try again")

    def run_report(self) -> None:
        if self.session is None:
            return
        self.epoch += 1
        self.running = True
        self.started = time.monotonic()
        self.status(f"Running {r.TITLES[self.name_shown]} over {self.scope.label}… esc stops it")
        self._empty("Running the report…")
        self._worker = self._run(self.name_shown, self.scope, self.days, self.epoch)
        self._checking = False

    @work(exclusive=True, exit_on_error=False, group="reports-run")
    async def _run(self, name: str, scope: r.Scope, days: int, epoch: int) -> None:
        from w365tui.workflows.reports import run

        assert self.session is not None

        def progress(meter: Any) -> None:
            now = time.monotonic()
            if now - self._said >= 0.1:  # at most ten repaints a second
                self._said = now
                self.post_message(self.Progress(f"Running {r.TITLES[name]}… {_count(meter.requests, 'request')} · "
                                                f"{_count(meter.rows, 'row')} read · esc stops it", epoch))

        self.post_message(self.Ran(await run(self.session, name, scope, days=days, progress=progress), epoch))

    # described, or Textual would describe the worker by the repr of the whole report
    @work(exclusive=True, exit_on_error=False, group="reports-run", description="recheck")
    async def _recheck(self, report: r.Report, row: r.Row, epoch: int) -> None:
        from w365tui.workflows.reports import recheck

        assert self.session is not None
        self.post_message(self.Ran(await recheck(self.session, report, row), epoch))

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        if message.epoch == self.epoch and self.running:
            self.status(message.text)

    @on(Ran)
    def _ran(self, message: Ran) -> None:
        if message.epoch != self.epoch:
            return
        self.running = False
        trace.mark("report-ran", rows=len(message.report.rows))
        before = len(self.report.rows) if self.report is not None and self.report.name == message.report.name else None
        self.report = message.report
        self._show()
        if before is not None and self.fixing is not None:
            fixed = before - len(message.report.rows)
            self.say("Fixed: the row is gone from the report." if fixed > 0 else
                     "Checked again: the row still does not add up." if fixed == 0 else
                     "Checked again: the record now shows more findings.", timeout=6)
        self.fixing = None

    def on_worker_state_changed(self, event: Any) -> None:
        from textual.worker import WorkerState

        if event.worker.group == "reports-run" and event.worker is not self._worker:
            return  # a run replaced by a newer one: whatever becomes of it is not news
        if event.worker.group == "reports-run" and event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self.running = False
            if event.state == WorkerState.ERROR and self._checking:  # the report stands; the check did not happen
                self.fixing = None
                self._counts()
                self.say(f"The row could not be checked again: {event.worker.error}. Press r to run the report "
                         "again.", severity="warning", timeout=10)
                return
            if event.state == WorkerState.ERROR:
                self.report = None
                self._show()
                self._empty("The report could not be run: press r to try again.")
                self.status(f"The report could not be run: {event.worker.error} — press r to try again")
            else:
                self.status("Stopped. Press r to run it again.")
                self._empty("Stopped: press r to run the report.")
        super().on_worker_state_changed(event)

    def _empty(self, text: str) -> None:
        """What the list says while it holds no row."""
        self.table.empty = text
        self.table.refresh()

    def on_show(self) -> None:
        """The first time: run the report (a large book's report is not read until it is
        wanted). Back from fixing a row: check that row again."""
        if self.session is not None and self.report is None and not self.running:
            self.run_report()
            return
        row, report = self.fixing, self.report
        if row is None or report is None or self.session is None or self.running:
            return
        self.epoch += 1
        self.running = True
        self.status("Checking the row again…")
        self._worker = self._recheck(report, row, self.epoch)
        self._checking = True

    # -- showing ------------------------------------------------------------------------------------
    def _head(self) -> None:
        head = Text(no_wrap=True, overflow="ellipsis")
        for n, name in enumerate(r.REPORTS):
            if n:
                head.append(" · ", style="dim")
            head.append(SHORT[name], style="bold reverse" if name == self.name_shown else "dim")
        head.append("   t choose · [ ] step", style="dim")
        self.query_one("#rp-head", Static).update(head)

    def _show(self) -> None:
        report = self.report
        self._head()
        table = self.table
        if [c.key for c in table.columns] != [c.key for c in self._columns()]:
            table.columns = self._columns()
            table.sort_by(None)
            table.refresh_layout()
        if report is None:
            table.set_rows([])
            self._detail()
            return
        self._empty("Nothing to report.")
        shown = SHOWN[report.name]
        rows = []
        for index, row in enumerate(report.rows):
            values = [row.get(key) for key, _ in shown]
            styles = tuple("bold" if key in ("difference", "finding", "missing") else
                           ("dim" if row.section == "inactive" else None) for key, _ in shown)
            cells = tuple(_cell(v).rjust(column.width) if key in NUMERIC and v is not None else _cell(v)
                          for (key, column), v in zip(shown, values, strict=True))
            sort = tuple(v if key in NUMERIC else (r.cell_text(v).casefold()) for (key, _), v in zip(shown, values,
                                                                                                     strict=True))
            ids = " ".join(str(row.get(k)) for k in ID_COLUMNS if row.get(k))
            rows.append(Row(index, cells, styles, sort, search=ids))
        table.set_rows(rows)
        self._counts()
        self._detail()

    def _counts(self) -> None:
        report = self.report
        if report is None:
            return
        table = self.table
        count = f"{table.shown_count:,} of {len(report.rows):,} shown" if table.filter_text else \
            f"{len(report.rows):,} row{'s' if len(report.rows) != 1 else ''}"
        title = f"{report.title} over {report.days} days" if report.name == r.UNINVOICED else report.title
        text = (f"{title} · {report.scope.label} · {count} · {report.requests:,} "
                f"request{'s' if report.requests != 1 else ''} "
                f"({report.method}) · {report.generated:%H:%M} UTC")
        self.status(text)

    def current(self) -> r.Row | None:
        selected = self.table.current_row if self.is_mounted else None
        if selected is None or self.report is None or not 0 <= selected.key < len(self.report.rows):
            return None
        return self.report.rows[selected.key]

    def _detail(self) -> None:
        row = self.current()
        report = self.report
        detail = Text(no_wrap=True, overflow="ellipsis")
        if report is not None and row is not None:
            ids = [f"{k.replace('_', ' ')} {row.get(k)}" for k in ID_COLUMNS if row.get(k)]
            detail.append(visible(" · ".join(ids)) + "\n")
            if row.fix is not None:
                detail.append("enter ", style="bold")
                detail.append(f"{row.fix.what}")
            else:
                detail.append("No pane fixes this row here.", style="dim")
        elif report is not None:
            detail.append(visible(" ".join(report.notes) or r.ABOUT[report.name].format(days=report.days)))
        self.query_one("#rp-detail", Static).update(detail)

    @on(RecordTable.Highlighted)
    def _highlighted(self, _: RecordTable.Highlighted) -> None:
        self._detail()

    @on(FilteredList.Changed)
    def _filtered(self, _: FilteredList.Changed) -> None:
        self._counts()

    @on(RecordTable.Selected)
    def _selected(self, event: RecordTable.Selected) -> None:
        event.stop()
        self.action_fix()

    # -- actions ------------------------------------------------------------------------------------
    def action_fix(self) -> None:
        row = self.current()
        if row is None:
            return
        if row.fix is None:
            self.say("No pane fixes this row here: " + (r.ABOUT.get(self.name_shown, "")), severity="warning")
            return
        self.fixing = row
        app: Any = self.app
        if row.fix.pane == "lcls":
            app.open_lcls(row.fix.id)
        elif row.fix.pane == "subscriptions":
            app.open_subscriptions(row.fix.id)
        else:
            app.open_provider_account(row.fix.id)

    def choose_report(self, name: str) -> None:
        if name == self.name_shown and self.report is not None:
            return
        self.name_shown = name
        self.report = None
        self.fixing = None
        self.table.set_rows([])
        self._show()
        self.run_report()

    @work(exclusive=True, exit_on_error=False, group="reports-choose")
    async def action_days(self) -> None:
        if self.name_shown != r.UNINVOICED:
            self.say("Days apply to the uninvoiced LCLs report (press t to choose it).", severity="warning")
            return
        choices = sorted({30, 45, 60, 90, 180, 365, self.days})
        choice = await self.app.push_screen_wait(ChoiceScreen(
            "Uninvoiced LCLs effective more than…", [Column("days", "Days ago", 20, flex=1)],
            [Row(n, (f"{n} days",)) for n in choices], current=self.days,
            note=f"`w365tui report uninvoiced --days N` takes any number; {r.DEFAULT_DAYS} is the default."))
        if choice is not None and choice != self.days:
            self.days = choice
            self.fixing = None
            self.run_report()

    def action_step(self, step: int) -> None:
        names = list(r.REPORTS)
        self.choose_report(names[(names.index(self.name_shown) + step) % len(names)])

    @work(exclusive=True, exit_on_error=False, group="reports-choose")
    async def action_choose(self) -> None:
        rows = [Row(name, (r.TITLES[name], r.ABOUT[name].format(days=r.DEFAULT_DAYS))) for name in r.REPORTS]
        choice = await self.app.push_screen_wait(ChoiceScreen(
            "Report", [Column("title", "Report", 26), Column("about", "What it lists", 30, flex=1)], rows,
            current=self.name_shown))
        if choice is not None:
            self.choose_report(choice)

    @work(exclusive=True, exit_on_error=False, group="reports-choose")
    async def action_scope(self) -> None:
        if not self.connected():
            return
        assert self.session is not None
        providers = await self.session.reads.providers()
        choices: list[tuple[Any, r.Scope]] = [("everything", r.EVERYTHING)]
        customer = self._customer_in_view()
        if customer is not None:
            choices.append((customer.id, r.Scope("customer", customer.id, customer.name)))
        choices += [(p.id, r.Scope("provider", p.id, p.name)) for p in providers]
        rows = [Row(key, (scope.kind, scope.label)) for key, scope in choices]
        choice = await self.app.push_screen_wait(ChoiceScreen(
            "Scope", [Column("kind", "Scope", 10), Column("label", "Which", 30, flex=1)], rows,
            note="A customer is offered when pane 3 shows one (choose it there, or run `w365tui report … "
                 "--customer ID`).", current=self.scope.id or "everything"))
        chosen = next((scope for key, scope in choices if key == choice), None)
        if chosen is not None:
            self.set_scope(chosen)

    def _customer_in_view(self) -> Any:
        from w365tui.ui.panes.subscriptions import SubscriptionsPane

        panes = list(self.app.query(SubscriptionsPane))
        return panes[0].account if panes else None

    def set_scope(self, scope: r.Scope) -> None:
        self.scope = scope
        self.fixing = None
        self.run_report()

    def onboarding_target(self) -> tuple[str, Any] | None:
        return ("account", self.scope.id) if self.scope.kind == "customer" and self.scope.id else None

    def show_customer(self, account: Any, report: str | None = None) -> bool:
        if report is not None and report in r.REPORTS:
            self.name_shown = report  # the scope's run shows it
            self.report = None
        self.set_scope(r.Scope("customer", account.id, account.name))
        return True

    def action_run_again(self) -> None:
        if self.session is None:
            self.status("Connecting…")
            self.app.connect()  # type: ignore[attr-defined]
            return
        self.fixing = None
        self.run_report()

    def action_cancel(self) -> None:
        if self.running:
            self.workers.cancel_group(self, "reports-run")
            self.running = False
            self.epoch += 1
            self.fixing = None
            self.status("Stopped. Press r to run it again.")
            self._empty("Stopped: press r to run the report.")
            return
        self.query_one("#rp-list", FilteredList).clear_filter()

    def action_copy_id(self) -> None:
        row = self.current()
        if row is None:
            return
        text = next((str(row.get(k)) for k in ID_COLUMNS if row.get(k)), str(row.key))
        self.app.copy_to_clipboard(text)
        self.say(f"Copied {text}")

    def action_export(self) -> None:
        report = self.report
        if report is None:
            return
        stamp = report.generated.strftime("%Y%m%d-%H%M%S")
        path = Path.cwd() / f"w365tui-{report.name}-{stamp}.csv"
        try:
            path.write_text(r.to_csv(report), encoding="utf-8")
        except OSError as error:
            self.say(f"Could not write {path}: {error.strerror or error}", severity="error", timeout=12)
            return
        self.say(f"Wrote {len(report.rows):,} rows to {path}", title="CSV", timeout=10)


__all__ = ["ReportsPane"]
