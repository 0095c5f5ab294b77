"""A RecordTable with a filter box that ``/`` opens: every list in the app filters the same way."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.events import Key
from textual.message import Message
from textual.widgets import Input

from w365tui.ui.widgets.record_table import RecordTable


class FilteredList(Vertical):
    DEFAULT_CSS = """
    FilteredList { height: auto; }
    FilteredList.fill { height: 1fr; }
    FilteredList > Input { display: none; height: 3; }
    FilteredList > Input.open { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("slash", "open_filter", "Filter", id="list.filter")]

    class Changed(Message):
        """The filter text changed."""

        def __init__(self, filtered: FilteredList, text: str) -> None:
            super().__init__()
            self.filtered = filtered
            self.text = text

        @property
        def control(self) -> FilteredList:
            return self.filtered

    def __init__(self, table: RecordTable, *, fill: bool = False, id: str | None = None) -> None:
        super().__init__(id=id, classes="fill" if fill else "")
        self.table = table

    def compose(self) -> ComposeResult:
        yield self.table
        yield Input(placeholder="filter: type to narrow, ↑↓ move, enter keeps it, esc clears")

    @property
    def box(self) -> Input:
        return self.query_one(Input)

    def action_open_filter(self) -> None:
        self.box.add_class("open")
        self.box.focus()

    def clear_filter(self) -> bool:
        """Close and clear the filter; False when there was nothing to clear."""
        box = self.box
        had = bool(box.value) or box.has_class("open")
        box.value = ""
        box.remove_class("open")
        self.table.set_filter("")
        self.table.focus()
        return had

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.table.set_filter(event.value)
        self.post_message(self.Changed(self, event.value))

    @on(Input.Submitted)
    def _kept(self, event: Input.Submitted) -> None:
        event.stop()
        self.box.remove_class("open")
        self.table.focus()

    #: keys that move the list's cursor from the filter box: typed ahead of the box closing
    #: (enter, then down, down) they would be lost on the box
    MOVES: ClassVar[dict[str, tuple[str, int]]] = {
        "down": ("cursor", 1), "up": ("cursor", -1), "pagedown": ("page", 1), "pageup": ("page", -1)}

    def on_key(self, event: Key) -> None:
        if not self.box.has_focus:
            return
        if event.key == "escape":
            event.stop()
            self.clear_filter()
            self.post_message(self.Changed(self, ""))
        elif event.key in self.MOVES:
            event.stop()
            action, step = self.MOVES[event.key]
            getattr(self.table, f"action_{action}")(step)

    def focus_list(self, *_: Any) -> None:
        self.table.focus()
