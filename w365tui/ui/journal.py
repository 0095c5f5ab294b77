"""The journal screen: every plan this profile applied, with its state; finish, roll back or
undo one, each through the same review as any plan.

A plan left in doubt is checked against the service as soon as the cursor reaches it: each
changeset shows as applied, not applied or changed by someone else since.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from w365tui.journal import PlanRecord
from w365tui.ui.commands import Command, bindings, palette
from w365tui.ui.screens import ReviewScreen
from w365tui.ui.text import visible
from w365tui.ui.widgets.filtered_list import FilteredList
from w365tui.ui.widgets.record_table import Column, RecordTable, Row

if TYPE_CHECKING:
    from w365tui.session import Session

STATUS_STYLES = {"in doubt": "bold red", "partial": "bold red", "interrupted": "bold red", "applied": "green",
                 "failed": "dim", "undone": "dim", "rolled back": "dim", "dismissed": "dim"}


def _unresolved(screen: JournalScreen) -> bool:
    return screen.current is not None and screen.current.unresolved


def _undoable(screen: JournalScreen) -> bool:
    return screen.current is not None and screen.current.undoable


class JournalScreen(Screen[None]):
    DEFAULT_CSS = """
    JournalScreen #journal-status { height: 1; padding: 0 1; color: $text-muted; }
    JournalScreen #journal-detail { height: 9; border-top: solid $primary 50%; padding: 0 1; }
    """
    COMMAND_LIST: ClassVar[tuple[Command, ...]] = (
        Command("journal.finish", "f", "Finish", "finish", "Check a plan left in doubt and send what is missing",
                title="Finish the plan", available=_unresolved),
        Command("journal.rollback", "b", "Roll back", "rollback", "Undo what of a plan left in doubt was applied",
                title="Roll back the plan", available=_unresolved),
        Command("journal.undo", "u", "Undo", "undo", "Undo an applied plan", title="Undo the plan",
                available=_undoable),
        Command("journal.reload", "r", "Reload", "reload", "Read the journal again", show=False),
        Command("journal.close", "escape", "Back", "close", "Back to the panes", palette=False),
    )
    BINDINGS = bindings(COMMAND_LIST)

    class Checked(Message):
        def __init__(self, plan_id: str, text: str) -> None:
            super().__init__()
            self.plan_id = plan_id
            self.text = text

    class Done(Message):
        def __init__(self, text: str, severity: str = "information") -> None:
            super().__init__()
            self.text = text
            self.severity = severity

    def __init__(self, session: Session, *, focus: str | None = None):
        super().__init__()
        self.session = session
        self.records: dict[str, PlanRecord] = {}
        self.checked: dict[str, str] = {}
        self.focus_id = focus

    def compose(self) -> ComposeResult:
        yield Header(icon="▤")
        yield Static(Text("Journal"), id="journal-status")
        yield FilteredList(RecordTable([Column("id", "Plan", 8), Column("time", "Time", 16),
                                        Column("status", "Status", 11), Column("n", "Chg", 4),
                                        Column("title", "Title", 16, flex=1)], id="journal-table",
                                       empty="No plan has been applied with this profile."), fill=True)
        yield Static(Text(""), id="journal-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.query_one(RecordTable).focus()

    @property
    def table(self) -> RecordTable:
        return self.query_one("#journal-table", RecordTable)

    @property
    def current(self) -> PlanRecord | None:
        row = self.table.current_row if self.is_mounted else None
        return self.records.get(row.key) if row else None

    def action_reload(self) -> None:
        self.reload()

    def reload(self) -> None:
        from w365tui.workflows.plans import list_plans

        records = list_plans(self.session.journal, self.session.profile_name)
        self.records = {r.plan_id: r for r in records}
        rows = []
        for record in records:
            count = len(record.data.get("changes", [])) if record.data else len(record.operations)
            rows.append(Row(record.plan_id, (record.short_id, record.time[:16].replace("T", " "), record.status,
                                             str(count), record.title),
                            (None, None, STATUS_STYLES.get(record.status), None, None)))
        table = self.table
        table.set_rows(rows)
        if self.focus_id:
            keys = [r.key for r in table.visible_rows()]
            if self.focus_id in keys:
                table.cursor = keys.index(self.focus_id)
            self.focus_id = None
        unresolved = sum(1 for r in records if r.unresolved)
        count = f"{len(records)} plan{'' if len(records) == 1 else 's'}"
        text = f"Journal · {count} of profile {self.session.profile_name}"
        if unresolved:
            text = f"Journal · {unresolved} left in doubt: f finishes, b rolls back · {count}"
        self.query_one("#journal-status", Static).update(Text(text))
        self._detail()

    @on(RecordTable.Highlighted, "#journal-table")
    def _detail(self) -> None:
        record = self.current
        detail = self.query_one("#journal-detail", Static)
        if record is None:
            detail.update(Text(""))
            return
        text = Text()
        text.append(f"{record.plan_id}  ", style="bold")
        text.append(record.status, style=STATUS_STYLES.get(record.status, ""))
        text.append(f"  {record.time}" + (f" · by {visible(record.user)}" if record.user else "") + "\n")
        text.append(visible(record.title) + "\n")
        states = ", ".join(f"{i + 1} {s.replace('_', ' ')}" for i, s in enumerate(record.states()))
        if states:
            text.append(f"changesets: {states}\n")
        if record.unresolved:
            found = self.checked.get(record.plan_id)
            text.append(f"checked against the service: {found}\n" if found else "checking against the service…\n",
                        style="yellow")
            if found is None:
                self.check(record)
            text.append("f finish · b roll back", style="bold")
        elif record.undoable:
            text.append("u undo (its inverse is shown for review first)", style="bold")
        elif record.resolution:
            note = record.resolution.get("note") or ""
            by = record.resolution.get("by") or ""
            text.append(f"{record.status}" + (f" by plan {by[:8]}" if by else "") + (f": {visible(note)}" if note else ""))
        detail.update(text)

    @work(exclusive=True, exit_on_error=False, group="journal-check")
    async def check(self, record: PlanRecord) -> None:
        from w365tui.workflows.plans import check

        self.post_message(self.Checked(record.plan_id, await check(self.session, record.plan_id)))

    @on(Checked)
    def _checked(self, message: Checked) -> None:
        self.checked[message.plan_id] = message.text
        self._detail()

    # -- actions -------------------------------------------------------------------------------
    def _selected(self, unresolved: bool) -> PlanRecord | None:
        record = self.current
        if record is None:
            return None
        if unresolved and not record.unresolved:
            self.app.say(f"Plan {record.short_id} is {record.status}: nothing to finish or roll back.",  # type: ignore[attr-defined]
                         severity="warning")
            return None
        if not unresolved and not record.undoable:
            self.app.say(f"Plan {record.short_id} is {record.status}: only an applied plan can be undone.",  # type: ignore[attr-defined]
                         severity="warning")
            return None
        return record

    def action_finish(self) -> None:
        record = self._selected(True)
        if record is not None:
            self.finish(record)

    def action_rollback(self) -> None:
        record = self._selected(True)
        if record is not None:
            self.invert(record, "rollback")

    def action_undo(self) -> None:
        record = self._selected(False)
        if record is not None:
            self.invert(record, "undo")

    @work(exclusive=True, exit_on_error=False, group="journal-write")
    async def finish(self, record: PlanRecord) -> None:
        from w365tui.work365.executor import PlanRefused
        from w365tui.workflows import plans

        resume = await plans.prepare_resume(self.session, record.plan_id)
        if not await self.app.push_screen_wait(ReviewScreen(resume.preview, read_only=self.session.read_only)
                                               if resume.preview.changes or resume.preview.blocking
                                               else _NothingLeft(resume.preview, read_only=self.session.read_only)):
            return
        try:
            applied = await plans.apply_resume(self.session, resume)
        except PlanRefused as refusal:
            self.post_message(self.Done(f"Refused: {refusal}", "error"))
            return
        text = applied.message()
        if applied.followup is not None:
            text += f"; then {applied.followup.plan.summary}: {applied.followup.message()}"
        if applied.followup_error:
            text += f"; {applied.followup_error}"
        self.post_message(self.Done(text, "information" if applied.all_done else "error"))

    @work(exclusive=True, exit_on_error=False, group="journal-write")
    async def invert(self, record: PlanRecord, kind: str) -> None:
        from w365tui.work365.executor import PlanRefused
        from w365tui.workflows import plans

        prepare = plans.prepare_rollback if kind == "rollback" else plans.prepare_undo
        plan = await prepare(self.session, record.plan_id)
        review = ReviewScreen(plan, read_only=self.session.read_only) if plan.changes or plan.blocking \
            else _NothingLeft(plan, read_only=self.session.read_only)
        if not await self.app.push_screen_wait(review):
            return
        try:
            applied = await plans.apply_inverse(self.session, plan)
        except PlanRefused as refusal:
            self.post_message(self.Done(f"Refused: {refusal}", "error"))
            return
        if applied is None:
            self.post_message(self.Done(f"Plan {record.short_id}: nothing of it had been applied; marked rolled back."))
        else:
            self.post_message(self.Done(applied.message(), "information" if applied.ok else "error"))

    @on(Done)
    def _done(self, message: Done) -> None:
        self.checked.clear()
        self.app.say(message.text, title="Journal", severity=message.severity, timeout=10)  # type: ignore[attr-defined]
        self.reload()

    def action_close(self) -> None:
        if self.query_one(FilteredList).clear_filter():
            return
        self.dismiss(None)

    def palette_commands(self) -> list[tuple[str, str, Any]]:
        return palette(self, self.COMMAND_LIST)

    def on_worker_state_changed(self, event: Any) -> None:
        self.app.worker_failed(event)  # type: ignore[attr-defined]


class _NothingLeft(ReviewScreen):
    """The review of a resume or rollback with nothing left to send: applying only records it."""

    @property
    def can_apply(self) -> bool:
        return not self.read_only and not self.plan.blocking

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.plan.title, style="bold"), classes="title")
            yield Static(Text(visible(self.plan.summary)))
            yield Static(Text("Nothing is left to send. y records the plan as settled · esc cancel"), classes="keys")
