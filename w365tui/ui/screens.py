"""Modal screens: help, the one plan review, the CRM account picker, and a choice list.

Every piece of service text on them is a Rich ``Text`` built from plain strings, so nothing a
customer typed is read as markup or reaches the terminal as a control sequence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from w365tui.domain.matching import domain_of
from w365tui.ui.text import literal, visible
from w365tui.ui.widgets.filtered_list import FilteredList
from w365tui.ui.widgets.record_table import Column, RecordTable, Row

if TYPE_CHECKING:  # the domain's models are loaded after the first paint (see ui/panes/__init__.py)
    from w365tui.domain.matching import Suggestion
    from w365tui.domain.models import Account
    from w365tui.domain.plan import Plan

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 92%; max-width: 120; height: auto; max-height: 94%;
    border: thick $primary; background: $surface; padding: 0 1;
}}
{name} .title {{ text-style: bold; margin-bottom: 1; }}
{name} .warning {{ color: $warning; }}
{name} .blocking {{ color: $error; text-style: bold; }}
{name} .note {{ color: $text-muted; }}
{name} .keys {{ color: $text-muted; margin-top: 1; }}
{name} RecordTable {{ height: auto; max-height: 16; min-height: 3; }}
{name} FilteredList {{ height: auto; }}
"""


def wrapped(text: str, prefix: str = "") -> Text:
    """Service text shown literally, wrapping at the screen's edge (never cut)."""
    return Text(prefix + visible(text))


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


VERB_STYLES = {"create": "green", "update": "yellow", "set state": "magenta"}


class ReviewScreen(ModalScreen[bool]):
    """The one review of a plan before anything is written: every change, field by field, with
    its before → after; its warnings, what the service will do by itself, and why it is refused."""

    DEFAULT_CSS = MODAL_CSS.format(name="ReviewScreen") + """
    ReviewScreen RecordTable { max-height: 10; }
    ReviewScreen VerticalScroll { height: auto; max-height: 8; }
    ReviewScreen #review-line { height: auto; max-height: 3; color: $text-muted; }
    ReviewScreen .keys { dock: bottom; }
    ReviewScreen .keys.armed { color: $warning; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "apply", "Apply", id="review.apply"),
        Binding("escape,n", "cancel", "Cancel", id="review.cancel"),
    ]

    def __init__(self, plan: Plan, *, read_only: bool = False, confirm_twice: bool = False):
        super().__init__()
        self.plan = plan
        self.read_only = read_only
        self.confirm_twice = confirm_twice  # y, then y again: for plans that retire a record
        self.armed = False
        self._roles: dict[int, str] = {}

    @property
    def can_apply(self) -> bool:
        return not self.read_only and not self.plan.blocking and not self.plan.is_empty

    def rows(self) -> list[Row]:
        from w365tui.domain.plan import lines

        out = []
        for number, line in enumerate(lines(self.plan)):
            change = f"{line.before} → {line.after}" if line.before else line.after
            out.append(Row(number, (line.verb, line.record, line.field, change),
                           (VERB_STYLES.get(line.verb), None, None, None), search=line.role))
        self._roles = {n: line.role for n, line in enumerate(lines(self.plan))}
        return out

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical():
            yield Static(literal(plan.title, style="bold"), classes="title")
            if plan.summary:
                yield Static(wrapped(plan.summary))
            if plan.changes:
                table = RecordTable([Column("verb", "Change", 9), Column("record", "Record", 16, flex=3),
                                     Column("field", "Field", 10, flex=1),
                                     Column("change", "Before → after", 16, flex=3)],
                                    id="review-lines")
                table.set_rows(self.rows())
                yield FilteredList(table)
                yield Static(Text(""), id="review-line")
            if plan.blocking or plan.warnings or plan.notes:
                with VerticalScroll():
                    for reason in plan.blocking:
                        yield Static(wrapped(reason, "✗ Refused: "), classes="blocking")
                    for warning in plan.warnings:
                        yield Static(wrapped(warning, "⚠ "), classes="warning")
                    for note in plan.notes:
                        yield Static(wrapped(note, "· "), classes="note")
            if self.read_only:
                yield Static(Text("This profile is read-only: nothing can be applied. esc close"), classes="keys")
            elif plan.blocking:
                yield Static(Text("Nothing can be applied. esc close"), classes="keys")
            elif plan.changes:
                count = len(plan.changes)
                how = "atomic" if plan.atomic else "in changesets"
                steps = f" + {len(plan.then)} after" if plan.then else ""
                twice = ", then y again to confirm" if self.confirm_twice else ""
                yield Static(Text(f"y apply {count} change{'s' if count != 1 else ''}{steps} ({how}, journalled"
                                  f"){twice} · / filter · esc cancel"), classes="keys", id="review-keys")
            else:
                yield Static(Text("Nothing to change. esc close"), classes="keys")

    def on_mount(self) -> None:
        tables = self.query(RecordTable)
        if tables:
            tables.first().focus()
        self._fit(self.app.size.height)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.height)

    def _fit(self, height: int) -> None:
        """On a short terminal the lists give up rows, so the key that applies stays in sight."""
        short = height < 32
        for table in self.query(RecordTable):
            table.styles.max_height = 6 if short else 10
        for scroll in self.query(VerticalScroll):
            scroll.styles.max_height = 4 if short else 8
        for line in self.query("#review-line"):
            line.styles.max_height = 1 if short else 3

    @on(RecordTable.Highlighted, "#review-lines")
    def _line(self, event: RecordTable.Highlighted) -> None:
        """The highlighted line in full: the table cuts long names at 80 columns."""
        if event.row is None:
            return
        verb, record, field, change = event.row.cells
        text = Text(f"{verb} {self._roles.get(event.row.key, '')} ", style=VERB_STYLES.get(verb, ""))
        text.append(visible(record), style="bold")
        if field:
            text.append(f" · {field}: {visible(change)}")
        self.query_one("#review-line", Static).update(text)

    def action_apply(self) -> None:
        if not self.can_apply:
            return
        if self.confirm_twice and not self.armed:
            self.armed = True
            count = len(self.plan.changes)
            keys = self.query_one("#review-keys", Static)
            keys.update(Text(f"Press y again to apply these {count} change{'s' if count != 1 else ''} "
                             "(n or esc: cancel)", style="bold"))
            keys.add_class("armed")
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class AccountPickerScreen(ModalScreen["Account | None"]):
    """Ranked suggestions for a provider account, and a search over every CRM account.

    Typing always reaches the search box, whatever has the focus; ↑/↓ move through the results
    and enter chooses one. Enter while a search is still on its way runs it and shows its
    results first, so what is chosen is always what was searched for.
    """

    DEFAULT_CSS = MODAL_CSS.format(name="AccountPickerScreen") + """
    AccountPickerScreen RecordTable { max-height: 10; }
    AccountPickerScreen #picker-why { height: auto; max-height: 4; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        Binding("down", "move(1)", "Next", show=False, id="picker.down"),
        Binding("up", "move(-1)", "Previous", show=False, id="picker.up"),
        Binding("pagedown", "move(5)", "Page down", show=False, id="picker.page_down"),
        Binding("pageup", "move(-5)", "Page up", show=False, id="picker.page_up"),
        Binding("enter", "choose", "Choose", show=False, id="picker.choose", priority=True),
    ]
    COLUMNS = [Column("score", "Score", 5), Column("name", "Account", 16, flex=3), Column("domain", "Domain", 12, flex=1),
               Column("city", "City", 9, flex=1), Column("pas", "PAs", 3)]

    def __init__(self, subject: str, suggestions: Sequence[Suggestion],
                 search: Callable[[str], Awaitable[list[tuple[Account, int]]]],
                 mapped_counts: Mapping[UUID, int] | None = None):
        super().__init__()
        self.subject = subject
        self.suggestions = list(suggestions)
        self.search = search
        self.counts = dict(mapped_counts or {})
        self.searched = ""  # the text the results on screen answer
        self._by_id: dict[Any, Account] = {}
        self._why: dict[Any, Text] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text.assemble(("Map ", "bold"), (visible(self.subject), "bold"), (" to a CRM account", "bold")),
                         classes="title")
            # select_on_focus would let the next key replace a letter typed while the results had the focus
            yield Input(placeholder="type to search CRM accounts by name", id="picker-search", select_on_focus=False)
            yield RecordTable(self.COLUMNS, id="picker-results", empty="No suggestion; type to search.")
            yield Static(Text(""), id="picker-why")
            yield Static(Text("type to search · ↑↓ move · enter choose · esc cancel · PAs: provider accounts "
                              "already mapped to it"), classes="keys")

    def on_mount(self) -> None:
        self._show(self.suggestions, [])
        self.query_one(Input).focus()

    @property
    def table(self) -> RecordTable:
        return self.query_one("#picker-results", RecordTable)

    def _show(self, suggestions: Sequence[Suggestion], accounts: Sequence[tuple[Account, int]]) -> None:
        rows = []
        self._by_id, self._why = {}, {}
        for suggestion in suggestions:
            account = suggestion.account
            self._by_id[account.id] = account
            why = Text("; ".join(suggestion.reasons))
            for warning in suggestion.warnings:
                why.append(f"  ⚠ {warning}", style="bold yellow")
            self._why[account.id] = why
            rows.append(Row(account.id, (f"{suggestion.score:.0f}", account.name, self._domain(account),
                                         account.city or "", str(self.counts.get(account.id, 0))),
                            (None, "bold yellow" if suggestion.warnings else None, None, None, None)))
        for account, count in accounts:
            if account.id not in self._by_id:
                self._by_id[account.id] = account
                self.counts[account.id] = count
                self._why[account.id] = Text("search result")
                rows.append(Row(account.id, ("", account.name, self._domain(account), account.city or "", str(count))))
        self.table.set_rows(rows, keep_cursor=False)
        self._highlighted()

    @staticmethod
    def _domain(account: Account) -> str:
        return domain_of(account.website) or domain_of(account.email) or ""

    @on(RecordTable.Highlighted, "#picker-results")
    def _highlighted(self) -> None:
        row = self.table.current_row
        why = self._why.get(row.key) if row else None
        self.query_one("#picker-why", Static).update(why or Text(""))

    def on_key(self, event: events.Key) -> None:
        """Typing reaches the search box from any focus in the dialog."""
        box = self.query_one(Input)
        if event.is_printable and event.character and not box.has_focus:
            event.stop()
            event.prevent_default()
            box.focus()
            box.insert_text_at_cursor(event.character)

    @on(Input.Changed, "#picker-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self._run_search(event.value, debounce=True)

    @work(exclusive=True, exit_on_error=False, group="picker-search")
    async def _run_search(self, text: str, debounce: bool = True) -> None:
        if debounce:
            await asyncio.sleep(0.25)  # one query per pause in typing
        if not text.strip():
            self._show(self.suggestions, [])
        else:
            accounts = await self.search(text)
            needle = text.strip().casefold()
            self._show([s for s in self.suggestions if needle in s.account.name.casefold()], accounts)
        self.searched = text

    def action_move(self, step: int) -> None:
        self.table.action_cursor(step)

    def action_choose(self) -> None:
        text = self.query_one(Input).value
        if text != self.searched:
            self._run_search(text, debounce=False)  # show what was typed for; a second enter chooses
            return
        row = self.table.current_row
        if row is not None:
            self.dismiss(self._by_id.get(row.key))

    @on(RecordTable.Selected, "#picker-results")
    def _chosen(self, event: RecordTable.Selected) -> None:
        event.stop()
        self.action_choose()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_worker_state_changed(self, event: Any) -> None:
        self.app.worker_failed(event)  # type: ignore[attr-defined]


class ChoiceScreen(ModalScreen[Any]):
    """Pick one of a few rows (a billing contract, a provider, an id to copy)."""

    DEFAULT_CSS = MODAL_CSS.format(name="ChoiceScreen")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="choice.cancel")]

    def __init__(self, title: str, columns: Sequence[Column], rows: Sequence[Row], note: str = "",
                 current: Any = None):
        super().__init__()
        self.title_text = title
        self.columns = columns
        self.rows = rows
        self.note = note
        self.current = current  # the row the cursor starts on

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(self.title_text, style="bold"), classes="title")
            table = RecordTable(self.columns)
            table.set_rows(self.rows)
            yield FilteredList(table)
            if self.note:
                yield Static(wrapped(self.note), classes="note")
            yield Static(Text("enter choose · / filter · esc cancel"), classes="keys")

    def on_mount(self) -> None:
        table = self.query_one(RecordTable)
        table.focus()
        keys = [row.key for row in table.visible_rows()]
        if self.current in keys:
            table.cursor = keys.index(self.current)

    @on(RecordTable.Selected)
    def _chosen(self, event: RecordTable.Selected) -> None:
        self.dismiss(event.row.key)

    def action_cancel(self) -> None:
        self.dismiss(None)
