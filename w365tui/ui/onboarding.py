"""The onboarding checklist screen: where one customer stands in the procedure, each step's
status worked out from the services (again each time the screen comes back), the key that does
the next step, and the summary for the ticket (copied with OSC 52).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Static

from w365tui.ui import trace
from w365tui.ui.commands import Command, bindings, palette
from w365tui.ui.panes import PANES
from w365tui.ui.screens import MODAL_CSS
from w365tui.ui.text import visible
from w365tui.ui.widgets.record_table import Column, RecordTable, Row

if TYPE_CHECKING:
    from w365tui.session import Session
    from w365tui.workflows.onboard import Checklist, Step

STATE_STYLES = {"done": "green", "todo": "bold yellow", "waiting": "dim", "blocked": "bold red", "unread": "red"}


def _actionable(screen: OnboardingScreen) -> bool:
    step = screen.current
    return step is not None and step.action is not None and step.state != "done"


class OnboardingScreen(Screen[None]):
    DEFAULT_CSS = """
    OnboardingScreen #ob-status { height: auto; max-height: 3; padding: 0 1; }
    OnboardingScreen #ob-table { height: 9; }
    OnboardingScreen #ob-detail { height: 1fr; border-top: solid $primary 50%; padding: 0 1; }
    """
    COMMAND_LIST: ClassVar[tuple[Command, ...]] = (
        Command("onboarding.do", "enter", "Do next", "do_next", "Open the pane that does the selected step, on its row",
                title="Do the step", available=_actionable),
        Command("onboarding.summary", "t", "Ticket summary", "summary", "The summary for the ticket: the checklist and "
                "every plan applied for this customer", title="Show the summary"),
        Command("onboarding.copy", "c", "Copy summary", "copy", "Copy the summary for the ticket (OSC 52)",
                title="Copy the summary"),
        Command("onboarding.reload", "r", "Check again", "reload", "Work out every step again from the services"),
        Command("onboarding.close", "escape", "Back", "close", "Back to the panes", palette=False),
    )
    BINDINGS = bindings(COMMAND_LIST)

    class Checked(Message):
        def __init__(self, checklist: Checklist, summary: str) -> None:
            super().__init__()
            self.checklist = checklist
            self.summary = summary

    def __init__(self, session: Session, *, account: Any = None, provider_account: Any = None) -> None:
        super().__init__()
        self.session = session
        self.target = {"account": account, "provider_account": provider_account}
        self.checklist: Checklist | None = None
        self.markdown = ""
        self.failure: str | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="▤")
        yield Static(Text("Working out where the customer stands…"), id="ob-status")
        yield RecordTable([Column("mark", "", 1, searched=False), Column("step", "Step", 30, flex=2),
                           Column("detail", "Found", 20, flex=3)], id="ob-table", empty="Reading the services…")
        yield VerticalScroll(Static(Text(""), id="ob-detail-text"), id="ob-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.table.focus()
        self.check()

    def on_screen_resume(self) -> None:
        if self.checklist is not None:  # back from a pane where a step may have been done: never remembered
            self.check()

    @property
    def table(self) -> RecordTable:
        return self.query_one("#ob-table", RecordTable)

    @property
    def current(self) -> Step | None:
        row = self.table.current_row if self.is_mounted else None
        if row is None or self.checklist is None:
            return None
        return next((s for s in self.checklist.steps if s.number == row.key), None)

    def get_palette_commands(self) -> list[tuple[str, str, Any]]:
        return palette(self, self.COMMAND_LIST)

    # -- reading -------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.check()

    @work(exclusive=True, exit_on_error=False, group="onboarding-check")
    async def check(self) -> None:
        from w365tui.workflows import onboard

        self.query_one("#ob-status", Static).update(Text("Checking every step against the services…"))
        shown = await onboard.checklist(self.session, **self.target)
        mine = onboard.plans_for(list(self.session.journal.plans().values()), shown,
                                 profile=self.session.profile_name, organization=self.session.organization_id)
        self.post_message(self.Checked(shown, onboard.summary_markdown(shown, mine)))

    @on(Checked)
    def _checked(self, message: Checked) -> None:
        first = self.checklist is None
        keep = self.table.current_row.key if self.table.current_row else None
        shown = self.checklist = message.checklist
        self.markdown = message.summary
        self.failure = None
        if shown.account is not None:  # mapped meanwhile: from now on the customer is its account
            self.target = {"account": shown.account.id, "provider_account": None}
        rows = [Row(step.number, (step.mark, f"{step.number}. {step.title}", step.detail),
                    (STATE_STYLES[step.state], None, "dim" if step.state == "waiting" else None))
                for step in shown.steps]
        self.table.set_rows(rows, keep_cursor=not first)
        next_step = shown.next_step
        if first or keep is None:
            keys = [r.key for r in self.table.visible_rows()]
            if next_step is not None and next_step.number in keys:
                self.table.cursor = keys.index(next_step.number)
        status = Text()
        status.append(f"Onboarding {visible(shown.name)}", style="bold")
        status.append(" · ")
        status.append("done: every step" if shown.done else shown.stage,
                      style="green" if shown.done else "yellow")
        status.append("\nenter does the step · t ticket summary · c copies it · r checks again", style="dim")
        self.query_one("#ob-status", Static).update(status)
        self._detail()
        trace.mark("onboarding-checked", stage=shown.stage)

    def on_worker_state_changed(self, event: Any) -> None:
        from textual.worker import WorkerState

        if event.state == WorkerState.ERROR and event.worker.group == "onboarding-check":
            self.failure = str(event.worker.error)
            self.query_one("#ob-status", Static).update(
                Text(f"Could not work out the checklist: {visible(self.failure)} — press r to try again",
                     style="red"))

    @on(RecordTable.Highlighted, "#ob-table")
    def _detail(self) -> None:
        step = self.current
        detail = self.query_one("#ob-detail-text", Static)
        if step is None:
            detail.update(Text(""))
            return
        text = Text()
        text.append(f"{step.number}. {step.title}: ", style="bold")
        text.append(step.state, style=STATE_STYLES[step.state])
        text.append("\n" + visible(step.detail) + "\n")
        for item in step.items[:50]:
            text.append(f"  {visible(item)}\n")
        if len(step.items) > 50:
            text.append(f"  … and {len(step.items) - 50} more\n")
        if step.action is not None and step.state != "done":
            if step.action.pane == "provider-accounts":  # its map dialog opens with the pane
                text.append("enter: map it — opens pane 1's map dialog on it", style="bold")
            else:
                pane = next((n for n, p in enumerate(PANES, start=1) if step.action.pane == p.pane_id), "?")
                text.append(f"enter: {step.action.label} — opens pane {pane} on it; then {step.action.key} there",
                            style="bold")
        detail.update(text)

    # -- acting --------------------------------------------------------------------------------
    @on(RecordTable.Selected, "#ob-table")
    def _selected(self, event: RecordTable.Selected) -> None:
        event.stop()
        self.action_do_next()

    def action_do_next(self) -> None:
        step = self.current
        if step is None or step.action is None or step.state == "done":
            self.app.say("Nothing to do for this step here." if step is None or step.state != "done"  # type: ignore[attr-defined]
                         else f"Step {step.number} is done.", severity="information")
            return
        action = step.action
        self.app.pop_screen()
        app: Any = self.app
        if action.pane == "provider-accounts":
            app.open_provider_account(action.record)
        elif action.pane == "subscriptions":
            app.open_subscriptions(action.record)
        else:
            app.open_customer_on(action.pane, action.record, action.report)

    def action_summary(self) -> None:
        if self.checklist is None:
            return
        self.app.push_screen(SummaryScreen(self.markdown))

    def action_copy(self) -> None:
        if self.checklist is None:
            return
        self.app.copy_to_clipboard(self.markdown)
        self.app.say("The summary for the ticket is copied (OSC 52: the terminal must allow it).")  # type: ignore[attr-defined]

    def action_close(self) -> None:
        self.app.pop_screen()


class SummaryScreen(ModalScreen[None]):
    """The summary for the ticket, as it is copied: Markdown, shown literally."""

    DEFAULT_CSS = MODAL_CSS.format(name="SummaryScreen") + """
    SummaryScreen > VerticalScroll { width: 96%; height: 90%; border: round $primary; padding: 0 1;
                                     background: $surface; }
    """
    BINDINGS: ClassVar[list[Any]] = [Binding("escape,q", "dismiss_screen", "Close", id="summary.close"),
                                     Binding("c", "copy", "Copy", id="summary.copy")]

    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.markdown = markdown

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text("\n".join(visible(line) for line in self.markdown.splitlines())), id="summary-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_dismiss_screen(self) -> None:
        self.dismiss()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.markdown)
        self.app.say("The summary for the ticket is copied (OSC 52: the terminal must allow it).")  # type: ignore[attr-defined]
