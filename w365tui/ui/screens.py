"""Modal screens: help, confirm, plan preview, and the CRM account picker.

Every piece of service text on them is a Rich ``Text`` built from plain strings, so nothing a
customer typed is read as markup or reaches the terminal as a control sequence.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from w365tui.domain.matching import Suggestion
from w365tui.domain.models import Account
from w365tui.ui.text import literal, visible
from w365tui.ui.widgets.filtered_list import FilteredList
from w365tui.ui.widgets.record_table import Column, RecordTable, Row

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 90%; max-width: 110; height: auto; max-height: 90%;
    border: thick $primary; background: $surface; padding: 0 1;
}}
{name} .title {{ text-style: bold; margin-bottom: 1; }}
{name} .warning {{ color: $warning; }}
{name} .keys {{ color: $text-muted; margin-top: 1; }}
{name} RecordTable {{ height: auto; max-height: 16; min-height: 3; }}
{name} FilteredList {{ height: auto; }}
"""


def text_lines(lines: Sequence[Text | str]) -> Text:
    out = Text()
    for index, line in enumerate(lines):
        if index:
            out.append("\n")
        out.append(line if isinstance(line, Text) else literal(line))
    return out


class HelpScreen(ModalScreen[None]):
    """Every key that works where the focus was, with what it does."""

    DEFAULT_CSS = MODAL_CSS.format(name="HelpScreen")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, rows: Sequence[tuple[str, str, str]]):
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Keys", style="bold"), classes="title")
            table = RecordTable([Column("key", "Key", 9), Column("action", "Does", 12, flex=1),
                                 Column("id", "Binding id", 28)])
            table.set_rows([Row(i, row) for i, row in enumerate(self.rows)])
            yield FilteredList(table)
            yield Static(Text("/ filter · remap any key under [keys] in the settings file, by binding id · "
                              "esc closes"), classes="keys")

    def on_mount(self) -> None:
        self.query_one(RecordTable).focus()


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no, with the consequences spelt out."""

    DEFAULT_CSS = MODAL_CSS.format(name="ConfirmScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, lines: Sequence[Text | str], warnings: Sequence[str] = ()):
        super().__init__()
        self.title_text = title
        self.lines = lines
        self.warnings = warnings

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(self.title_text, style="bold"), classes="title")
            yield Static(text_lines(self.lines))
            for warning in self.warnings:
                yield Static(Text("⚠ " + visible(warning)), classes="warning")
            yield Static(Text("y confirm · n or esc cancel"), classes="keys")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class PlanScreen(ModalScreen[bool]):
    """A plan's changes, one per line, before anything is written."""

    DEFAULT_CSS = MODAL_CSS.format(name="PlanScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "apply", "Apply", id="plan.apply"),
        Binding("escape,n", "cancel", "Cancel", id="plan.cancel"),
    ]

    def __init__(self, title: str, summary: str, changes: Sequence[tuple[str, str, str]], *, read_only: bool = False):
        super().__init__()
        self.title_text = title
        self.summary = summary
        self.changes = changes
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(self.title_text, style="bold"), classes="title")
            yield Static(literal(self.summary))
            if self.changes:
                table = RecordTable([Column("change", "Change", 10), Column("what", "What", 20, flex=2),
                                     Column("detail", "Detail", 16, flex=1)])
                table.set_rows([Row(i, c) for i, c in enumerate(self.changes)])
                yield FilteredList(table)
            if self.read_only:
                yield Static(Text("This profile is read-only: nothing can be applied."), classes="warning")
                yield Static(Text("esc close"), classes="keys")
            elif self.changes:
                yield Static(Text("y apply (atomic, journalled) · esc cancel"), classes="keys")
            else:
                yield Static(Text("Nothing to change. esc close"), classes="keys")

    def action_apply(self) -> None:
        if self.changes and not self.read_only:
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class AccountPickerScreen(ModalScreen[Account | None]):
    """Ranked suggestions for a provider account, and a search over every CRM account."""

    DEFAULT_CSS = MODAL_CSS.format(name="AccountPickerScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        Binding("down", "focus_results", "Results", show=False, id="picker.results"),
    ]

    def __init__(self, subject: str, suggestions: Sequence[Suggestion],
                 search: Callable[[str], Awaitable[list[Account]]]):
        super().__init__()
        self.subject = subject
        self.suggestions = list(suggestions)
        self.search = search
        self._by_id: dict[Any, Account] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text.assemble(("Map ", "bold"), (visible(self.subject), "bold"), (" to a CRM account", "bold")),
                         classes="title")
            yield Input(placeholder="type to search CRM accounts by name", id="picker-search")
            yield RecordTable([Column("score", "Score", 5), Column("name", "Account", 20, flex=2),
                               Column("why", "Why", 20, flex=3)], id="picker-results",
                              empty="No suggestion; type to search.")
            yield Static(Text("enter choose · ↓ results · esc cancel"), classes="keys")

    def on_mount(self) -> None:
        self._show(self.suggestions, [])
        table = self.query_one(RecordTable)
        if self.suggestions:
            table.focus()
        else:
            self.query_one(Input).focus()

    def _show(self, suggestions: Sequence[Suggestion], accounts: Sequence[Account]) -> None:
        rows = []
        self._by_id = {}
        for suggestion in suggestions:
            self._by_id[suggestion.account.id] = suggestion.account
            why = "; ".join([*suggestion.reasons, *("⚠ " + w for w in suggestion.warnings)])
            style = "bold yellow" if suggestion.warnings else None
            rows.append(Row(suggestion.account.id, (f"{suggestion.score:.0f}", suggestion.account.name, why),
                            (None, None, style)))
        for account in accounts:
            if account.id not in self._by_id:
                self._by_id[account.id] = account
                rows.append(Row(account.id, ("", account.name, "search result")))
        self.query_one(RecordTable).set_rows(rows, keep_cursor=False)

    @on(Input.Changed, "#picker-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self._run_search(event.value)

    @work(exclusive=True, exit_on_error=False, group="picker-search")
    async def _run_search(self, text: str) -> None:
        import asyncio

        await asyncio.sleep(0.25)  # debounce: one query per pause in typing
        if not text.strip():
            self._show(self.suggestions, [])
            return
        accounts = await self.search(text)
        self._show([s for s in self.suggestions if text.casefold() in s.account.name.casefold()], accounts)

    @on(Input.Submitted, "#picker-search")
    def _submitted(self) -> None:
        self.action_focus_results()

    def action_focus_results(self) -> None:
        self.query_one(RecordTable).focus()

    @on(RecordTable.Selected, "#picker-results")
    def _chosen(self, event: RecordTable.Selected) -> None:
        self.dismiss(self._by_id.get(event.row.key))

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_worker_state_changed(self, event: Any) -> None:
        self.app.worker_failed(event)  # type: ignore[attr-defined]


class ChoiceScreen(ModalScreen[Any]):
    """Pick one of a few rows (a billing contract, a provider)."""

    DEFAULT_CSS = MODAL_CSS.format(name="ChoiceScreen")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="choice.cancel")]

    def __init__(self, title: str, columns: Sequence[Column], rows: Sequence[Row]):
        super().__init__()
        self.title_text = title
        self.columns = columns
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(self.title_text, style="bold"), classes="title")
            table = RecordTable(self.columns)
            table.set_rows(self.rows)
            yield FilteredList(table)
            yield Static(Text("enter choose · / filter · esc cancel"), classes="keys")

    def on_mount(self) -> None:
        self.query_one(RecordTable).focus()

    @on(RecordTable.Selected)
    def _chosen(self, event: RecordTable.Selected) -> None:
        self.dismiss(event.row.key)

    def action_cancel(self) -> None:
        self.dismiss(None)
