"""A virtualised table for every list in the app.

Only the lines on screen are rendered (Textual's line API), so 100,000 rows cost what 24 do;
filtering and sorting work on a precomputed index, not on widgets. Cell text is shown literally:
it becomes plain segments, never markup, and control characters are shown as ``\\xNN``.
"""

from __future__ import annotations

import asyncio
import heapq
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from w365tui.ui import trace
from w365tui.ui.text import visible


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int = 10  # the width, or the least width of a flexible column
    flex: int = 0  # share of the spare width
    # found by the filter: False for a column of symbols (a ● would make every row's search
    # text a two-byte string, twice the memory at 100,000 rows)
    searched: bool = True


@dataclass(frozen=True, slots=True)  # slots: a list holds 100,000 of them
class Row:
    key: Any
    cells: tuple[str, ...]
    styles: tuple[str | None, ...] | None = None  # a Rich style per cell (the app's, never the data's)
    sort_values: tuple[Any, ...] | None = None
    search: str = ""  # more text the filter matches, not shown (ids, domains)

    def haystack(self, searched: Sequence[int] | None = None) -> str:
        """What the filter looks in: the cells (those ``searched``, else all) and the search text."""
        return (self._shown(searched) + ("\t" + self.search if self.search else "")).casefold()

    def _shown(self, searched: Sequence[int] | None) -> str:
        cells = self.cells if searched is None else [self.cells[i] for i in searched if i < len(self.cells)]
        return "\t".join(cells)

    def kept(self) -> Row:
        """This row as a table holds it: its search text lives on in the table's haystack only
        (a second copy of it per row, at 100,000 rows, is megabytes)."""
        return Row(self.key, self.cells, self.styles, self.sort_values) if self.search else self

    def with_search_of(self, haystack: str, searched: Sequence[int] | None = None) -> Row:
        """A kept row with its search text again, case-folded, from its haystack."""
        shown = len(self._shown(searched).casefold())
        return replace(self, search=haystack[shown + 1:]) if len(haystack) > shown else self


def fit(text: str, width: int) -> str:
    """``text`` in exactly ``width`` cells: padded, or cut with an ellipsis."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…"


def merged_order(order: list[int], keys: list[str], added: range) -> tuple[list[int], int]:
    """``order`` (row indexes sorted by ``keys``, of equal keys the lower index first) with the
    rows ``added`` (indexes above all of it) merged in, as a new list; and the first place that
    changed. Pure, for a thread: each new row finds its place by bisection and the rows between
    are copied a slice at a time (the thread gives the event loop its turn between them); when
    the new rows are many beside the old, one sort of the two runs is quicker."""
    key = keys.__getitem__
    new = sorted(added, key=key)  # stable: of equal keys the lower index first
    if not new:
        return list(order), len(order)
    first = bisect_right(order, keys[new[0]], key=key)
    if len(new) * 4 >= len(order):
        merged = order + new
        merged.sort(key=key)  # two sorted runs, merged in one pass; stable
        return merged, first
    merged = order[:first]
    taken = first
    for index in new:
        place = bisect_right(order, keys[index], taken, key=key)
        merged += order[taken:place]
        merged.append(index)
        taken = place
    merged += order[taken:]
    return merged, first


class RecordTable(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    RecordTable {
        background: $surface;
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
    }
    RecordTable > .record-table--header { text-style: bold; background: $primary 30%; }
    RecordTable > .record-table--cursor { background: $accent 40%; }
    RecordTable:focus > .record-table--cursor { background: $accent; color: $text; }
    RecordTable > .record-table--empty { color: $text-muted; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "record-table--header", "record-table--cursor", "record-table--empty"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "cursor(1)", "Down", show=False, id="list.down"),
        Binding("up,k", "cursor(-1)", "Up", show=False, id="list.up"),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False, id="list.page_down"),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False, id="list.page_up"),
        Binding("home,g", "first", "First", show=False, id="list.first"),
        Binding("end,G", "last", "Last", show=False, id="list.last"),
        Binding("enter", "select", "Open", show=False, id="list.select"),
        Binding("s", "sort", "Sort", show=False, id="list.sort"),
        Binding("S", "reverse", "Reverse", show=False, id="list.reverse"),
    ]

    cursor = reactive(0, always_update=True)

    class _RowMessage(Message):
        def __init__(self, table: RecordTable, row: Row | None) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> RecordTable:
            return self.table

    class Highlighted(_RowMessage):
        """The cursor moved to ``row`` (None when the list is empty)."""

    class Selected(_RowMessage):
        """Enter was pressed on ``row``."""

        row: Row

    def __init__(self, columns: Sequence[Column], *, empty: str = "Nothing to show.", name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self._searched = [i for i, c in enumerate(self.columns) if c.searched]
        self.empty = empty
        self._rows: list[Row] = []
        self._haystack: list[str] = []
        self._order: list[int] = []  # sorted indexes into _rows
        self._view: list[int] = []  # sorted and filtered
        self._filter = ""
        self._sort_column: int | None = None
        self._reverse = False
        self._widths: list[int] = [c.width for c in self.columns]
        self._filter_painted: str | None = None
        self._index: dict[Any, int] = {}  # a row's key → its place in _rows
        # per row (by its place in _rows): its text sort key, when the order is by text ascending
        # (None otherwise); rows arriving are merged into the order by these
        self._keys: list[str] | None = None
        self._merged = 0  # the rows before this place in _rows are in the order; those after it arrived since
        self._match: list[bool] | None = None  # per row: does it hold the filter text (None: no filter)
        self._matched_for = ""  # the filter text _match was worked out for
        self._merging: asyncio.Task[None] | None = None  # a merge of arrived rows on a thread (_merge_soon)
        self._pending: dict[Callable[[], object], Any] = {}  # what _soon will do, and its timer
        self._base_style: Style | None = None  # the widget's style while lines are rendered

    # -- data ---------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[Row], keep_cursor: bool = True) -> None:
        """Replace every row; the cursor stays on the same key when it can."""
        current = self.current_row.key if keep_cursor and self.current_row else None
        self._haystack = [r.haystack(self._searched) for r in rows]
        self._rows = [r.kept() for r in rows]
        self._index = {r.key: i for i, r in enumerate(self._rows)}
        self._resort()
        self._match = None
        self._refilter(current)

    def append_rows(self, rows: Sequence[Row]) -> None:
        """Add rows (as pages arrive) without rebuilding what is there: in key order they are
        appended at once; sorted by a text column they are merged into place four times a
        second, however many pages arrive meanwhile (merging each page into 100,000 rows
        copied the whole order once per page: a quarter of the loop's time while a list loaded).
        Whatever reads the order or the view merges first."""
        current = self.current_row
        start = len(self._rows)
        self._rows.extend(r.kept() for r in rows)
        self._haystack.extend(r.haystack(self._searched) for r in rows)
        for offset, row in enumerate(rows):
            self._index[row.key] = start + offset
        added = range(start, len(self._rows))
        if self._match is not None:
            needle = self._filter.casefold()
            self._match.extend(needle in self._haystack[i] for i in added)
        if self._sort_column is not None:
            self._soon(0.25, self._merge_soon)
            return
        self._merged = len(self._rows)
        self._order.extend(added)
        shown = len(self._view)
        self._view.extend(i for i in added if self._match is None or self._match[i])
        self._size_soon()
        if shown <= self.scroll_offset.y + self.size.height:  # the new rows may be on the screen
            self._repaint_soon()
        if current is None and self._view:
            self.cursor = 0

    def _merge_arrived(self) -> None:
        """The rows appended since the last merge, merged into the order and the view now."""
        added = range(self._merged, len(self._rows))
        if not added:
            return
        keys = self._keys_for(added)
        if keys is None:  # not all text: sorted anew
            current = self.current_row.key if self.current_row else None
            self._resort()
            self._rebuild_view(current, quiet=current is not None)
            return
        self._take_merged(added, *merged_order(self._order, keys, added))

    def _merge_soon(self) -> None:
        """Rows arrived a quarter of a second ago: merged with the work of it on a thread, so the
        screen answers keys meanwhile (one sort of 90,000 rows held it 20-30 ms)."""
        if not self.is_mounted:
            self._merge_arrived()
        elif self._merging is None:
            self._merging = asyncio.ensure_future(self._merge_on_thread())

    async def _merge_on_thread(self) -> None:
        try:
            added = range(self._merged, len(self._rows))
            keys = self._keys_for(added) if added else None
            if keys is None:
                self._merge_arrived()
                return
            order = self._order
            merged, first = await asyncio.to_thread(merged_order, order, keys, added)
            # merged meanwhile (a reader merged at once) or sorted anew: what this found is stale
            if self._order is order and self._keys is keys and self._merged == added.start:
                self._take_merged(added, merged, first)
        finally:
            self._merging = None
            if self._merged < len(self._rows) and self.is_mounted:
                self._soon(0.25, self._merge_soon)

    def _take_merged(self, added: range, merged: list[int], first: int) -> None:
        """The order with the rows ``added`` merged in (``first``: the first place that changed),
        shown: the view follows, the cursor keeps its row (on the first row, the first row), and
        the screen is painted again when the new rows land on it."""
        current = self.current_row.key if self.current_row else None
        self._order = merged
        self._merged = added.stop
        if self._match is None:
            self._view = list(merged)
        else:  # the rows shown are a few of many: the matching new ones merged in, not all rows sifted again
            first = self._merge_view([i for i in added if self._match[i]])
        before = self.cursor
        top = self.current_row_at(0)
        if before == 0 and top is not None and top.key != current:
            # On the first row it stays on the first row, whichever that is now: the operator
            # waiting at the top of a loading list sees its top, not the row that was first
            # drifting down the screen and the list with it
            self.cursor = 0
            self._size_soon()
            return
        self._place_cursor(current, quiet=current is not None, lazy=True)
        if self.cursor == before and first > self.scroll_offset.y + self.size.height:
            return  # every new row lands below the screen, the cursor's row where it was: nothing to paint
        self.refresh()

    def _repaint_soon(self) -> None:
        """Rows arriving on the screen as a list loads: painted ten times a second, not per page
        (painting the screen was a sixth of the loop's time while 97,000 rows loaded)."""
        self._soon(0.1, self.refresh)

    def _soon(self, delay: float, action: Callable[[], object]) -> None:
        """``action`` ``delay`` seconds from now, once however often it is asked for meanwhile
        (at once when the table is not mounted)."""
        if not self.is_mounted:
            action()
        elif action not in self._pending:
            def run() -> None:
                del self._pending[action]
                action()

            self._pending[action] = self.set_timer(delay, run)

    def _merge_view(self, indexes: list[int]) -> int:
        """Put rows (ascending) into the view at their places in the order (text, ascending: the
        last merge succeeded); returns the first place that changed (the view's length when none did)."""
        view, keys = self._view, self._keys
        if not indexes or keys is None:
            return len(view)
        first = bisect_right(view, min(keys[i] for i in indexes), key=keys.__getitem__)
        view.extend(indexes)
        view.sort(key=keys.__getitem__)  # stable: of equal keys, the rows held longer stay first
        return first

    def _size_soon(self) -> None:
        """The scrollable height brought up to date twice a second as rows arrive, not per page:
        each change lays the whole screen out again."""
        self._soon(0.5, self._size_now)

    def _size_now(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._view) + 1)

    def update_rows(self, rows: Sequence[Row]) -> None:
        """Replace the rows of these keys (their cells, styles, search text), keeping the rest
        as it is; the order changes only when a sort value did. A key not held is ignored."""
        self._merge_arrived()
        current = self.current_row.key if self.current_row else None
        needle = self._filter.casefold()
        moved = shown = False
        for row in rows:
            index = self._index.get(row.key)
            if index is None:
                continue
            if self._sort_column is not None and self._sort_key_of(row) != self._sort_key(index):
                moved = True
            self._rows[index] = row.kept()
            self._haystack[index] = row.haystack(self._searched)
            if self._match is not None and self._match[index] != (needle in self._haystack[index]):
                self._match[index] = not self._match[index]
                shown = True
        if moved:
            self._resort()
        if moved or shown:
            self._rebuild_view(current, quiet=current is not None)
        else:  # the same rows in the same places: only their cells to paint again
            self.refresh()

    def remove_keys(self, keys: set[Any]) -> None:
        """Take these rows out (rows shown from a cache that the service no longer holds)."""
        if not keys:
            return
        current = self.current_row.key if self.current_row else None
        kept = [i for i, row in enumerate(self._rows) if row.key not in keys]
        self._haystack = [self._haystack[i] for i in kept]
        self._rows = [self._rows[i] for i in kept]
        self._index = {r.key: i for i, r in enumerate(self._rows)}
        self._resort()
        self._match = None
        self._refilter(current)
        if current is not None and current in self._index:
            self._place_cursor(current)

    def has_key(self, key: Any) -> bool:
        return key in self._index

    def first_rows(self, count: int) -> list[Row]:
        """The first ``count`` rows in the list's order, whatever the filter hides (those that
        arrived since the last merge taken in their places, not merged there and then)."""
        pending = range(self._merged, len(self._rows))
        keys = self._keys_for(pending) if pending else None
        if pending and keys is None:
            self._merge_arrived()
        if pending and keys is not None:  # of equal keys the order's first, as a merge puts them
            arrived = sorted(pending, key=keys.__getitem__)
            indexes = list(islice(heapq.merge(self._order, arrived, key=keys.__getitem__), count))
        else:
            indexes = self._order[:count]
        return [self._rows[i].with_search_of(self._haystack[i], self._searched) for i in indexes]

    @property
    def rows(self) -> list[Row]:
        return self._rows

    @property
    def total_count(self) -> int:
        return len(self._rows)

    @property
    def shown_count(self) -> int:
        """The rows shown, those that arrived since the last merge counted without merging them
        there and then (a merge of 90,000 rows for a count said while a list loads was a second
        pause of the screen)."""
        pending = range(self._merged, len(self._rows))
        if self._match is None:
            return len(self._view) + len(pending)
        match = self._match
        return len(self._view) + sum(1 for i in pending if match[i])

    @property
    def filter_text(self) -> str:
        return self._filter

    @property
    def current_row(self) -> Row | None:
        if 0 <= self.cursor < len(self._view):
            return self._rows[self._view[self.cursor]]
        return None

    def visible_rows(self) -> list[Row]:
        self._merge_arrived()
        return [self._rows[i] for i in self._view]

    def set_filter(self, text: str) -> None:
        """Keep the rows whose cells contain ``text`` (any case), as the operator types."""
        self._merge_arrived()
        current = self.current_row.key if self.current_row else None
        self._filter = text
        self._refilter(current)
        self._filter_painted = text  # the benchmark's trace: when the list shows it

    def sort_by(self, column_key: str | None, reverse: bool = False) -> None:
        current = self.current_row.key if self.current_row else None
        self._sort_column = None if column_key is None else [c.key for c in self.columns].index(column_key)
        self._reverse = reverse
        self._resort()
        self._rebuild_view(current)

    @property
    def sort_state(self) -> tuple[str | None, bool]:
        key = None if self._sort_column is None else self.columns[self._sort_column].key
        return key, self._reverse

    def _sort_key_of(self, row: Row) -> Any:
        column = self._sort_column or 0
        value = row.sort_values[column] if row.sort_values else row.cells[column].casefold()
        return (value is None, value)

    def _sort_key(self, index: int) -> Any:
        return self._sort_key_of(self._rows[index])

    def _resort(self) -> None:
        order = list(range(len(self._rows)))
        self._keys = None
        self._merged = len(self._rows)
        if self._sort_column is not None:
            keys = [self._sort_key(i) for i in order]
            if not self._reverse and all(type(k[1]) is str and not k[0] for k in keys):
                plain = [k[1] for k in keys]  # text only: sorted by CPython's fast comparison of str
                order.sort(key=plain.__getitem__)
                self._keys = plain
            else:
                order.sort(key=keys.__getitem__, reverse=self._reverse)
        self._order = order

    def _keys_for(self, added: range) -> list[str] | None:
        """The text sort keys of the rows up to ``added``'s end, those of rows not keyed yet
        added; None when the order is not by text ascending or a new row's key is not text."""
        keys = self._keys
        if keys is None or len(keys) < added.start:
            return None
        new = [self._sort_key(i) for i in range(len(keys), added.stop)]
        if not all(type(k[1]) is str and not k[0] for k in new):
            return None
        keys.extend(k[1] for k in new)
        return keys

    def _refilter(self, keep_key: Any = None) -> None:
        """The filter changed (or the rows did): which rows match, worked out from the rows the
        last filter kept when the text only grew."""
        needle = self._filter.casefold()
        if not needle:
            self._match = None
        elif self._match is not None and self._matched_for and needle.startswith(self._matched_for):
            haystack, match = self._haystack, self._match
            for i in self._view:  # only what the shorter text kept can match the longer one
                match[i] = needle in haystack[i]
            self._view = [i for i in self._view if match[i]]
            self._matched_for = needle
            self._place_cursor(keep_key)
            return
        else:
            haystack = self._haystack
            self._match = [needle in text for text in haystack]
        self._matched_for = needle
        self._rebuild_view(keep_key)

    def _rebuild_view(self, keep_key: Any = None, quiet: bool = False) -> None:
        match = self._match
        self._view = list(self._order) if match is None else [i for i in self._order if match[i]]
        self._place_cursor(keep_key, quiet)

    def _place_cursor(self, keep_key: Any, quiet: bool = False, lazy: bool = False) -> None:
        """The cursor on ``keep_key``'s row (else the first). ``quiet``: when it is still on that
        row, nobody is told it was highlighted again — rows arriving while a list loads would
        otherwise have the pane lay its detail out again for each page. ``lazy``: rows arriving,
        the scrollable height follows soon (:meth:`_size_soon`) and the caller repaints."""
        position = 0
        if keep_key is not None:
            index = self._index.get(keep_key)
            if index is not None:
                view = self._view
                try:  # rows arriving before it move it down: looked for from where it was first
                    position = view.index(index, min(self.cursor, len(view)))
                except ValueError:
                    try:
                        position = view.index(index)
                    except ValueError:
                        position = 0
        if lazy:
            self._size_soon()
        else:
            self.virtual_size = Size(self.size.width, len(self._view) + 1)
        position = min(position, max(0, len(self._view) - 1))
        if quiet and keep_key is not None and self.current_row_at(position) is not None \
                and self.current_row_at(position).key == keep_key:
            self.set_reactive(RecordTable.cursor, position)
            self._scroll_to_cursor()
            if not lazy:
                self.refresh()
            return
        self.cursor = position
        self.refresh()

    def current_row_at(self, position: int) -> Row | None:
        if 0 <= position < len(self._view):
            return self._rows[self._view[position]]
        return None

    # -- layout and rendering -------------------------------------------------------------------
    def refresh_layout(self) -> None:
        """Lay the columns out again (after ``columns`` was replaced)."""
        self._widths = [c.width for c in self.columns]
        self._layout()
        self.refresh()

    def on_resize(self) -> None:
        self._layout()
        self.virtual_size = Size(self.size.width, len(self._view) + 1)

    def _layout(self) -> None:
        scrollbar = self.styles.scrollbar_size_vertical if len(self._view) + 1 > self.size.height else 0
        width = max(0, self.size.width - scrollbar)
        gaps = len(self.columns) - 1
        fixed = sum(c.width for c in self.columns)
        spare = max(0, width - fixed - gaps)
        shares = sum(c.flex for c in self.columns)
        widths = []
        for column in self.columns:
            extra = spare * column.flex // shares if shares else 0
            widths.append(column.width + extra)
        if shares:
            leftover = width - gaps - sum(widths)
            last_flex = max(i for i, c in enumerate(self.columns) if c.flex)
            widths[last_flex] += max(0, leftover)
        self._widths = widths

    def render_lines(self, crop: Region) -> list[Strip]:
        """The lines asked for, the widget's style worked out once for them all (it walks the
        widget's ancestors: half of what a line cost)."""
        self._base_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._base_style = None

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self._base_style or self.rich_style
        if y == 0:
            self._layout()  # the scrollbar may have come or gone with the rows
            if self._filter_painted is not None:
                trace.mark("filter-painted", text=self._filter_painted, shown=len(self._view))
                self._filter_painted = None
            header = self.get_component_rich_style("record-table--header")
            segments = self._cells(self._labels(), base + header, None)
            return Strip(segments).crop_extend(0, width, base + header)
        index = self.scroll_offset.y + y - 1
        if index >= len(self._view):
            if index == 0 and not self._view:
                muted = self.get_component_rich_style("record-table--empty")
                said = self.empty if not self._rows else "Nothing here holds the filter's text."
                return Strip([Segment(fit(said, width), base + muted)])
            return Strip.blank(width, base)
        row = self._rows[self._view[index]]
        style = base
        on_cursor = index == self.cursor
        if on_cursor:
            style = base + self.get_component_rich_style("record-table--cursor")
        return Strip(self._cells(row.cells, style, row.styles, on_cursor)).crop_extend(0, width, style)

    def _labels(self) -> list[str]:
        """Column labels, the sorted one marked ▲ (ascending) or ▼."""
        labels = [c.label for c in self.columns]
        if self._sort_column is not None:
            labels[self._sort_column] = f"{labels[self._sort_column]}{'▼' if self._reverse else '▲'}"
        return labels

    def _cells(self, cells: Sequence[str], style: Style, styles: Sequence[str | None] | None,
               on_cursor: bool = False) -> list[Segment]:
        """A row's cells. On the cursor row a cell keeps its bold or italic but not its colour, so
        nothing turns the colour of the cursor's background (with 16 colours, or NO_COLOR)."""
        segments: list[Segment] = []
        for position, (text, width) in enumerate(zip(cells, self._widths, strict=False)):
            if position:
                segments.append(Segment(" ", style))
            cell_style = style
            if styles and position < len(styles) and styles[position]:
                own = Style.parse(styles[position] or "")
                cell_style = style + (own.without_color if on_cursor else own)
            segments.append(Segment(fit(visible(text), width), cell_style))
        return segments

    # -- cursor -------------------------------------------------------------------------------
    def watch_cursor(self, old: int, new: int) -> None:
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Highlighted(self, self.current_row))

    def _scroll_to_cursor(self) -> None:
        body = max(1, self.size.height - 1)
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False)

    def action_cursor(self, step: int) -> None:
        if self._view:
            self.cursor = max(0, min(len(self._view) - 1, self.cursor + step))

    def action_page(self, step: int) -> None:
        self.action_cursor(step * max(1, self.size.height - 2))

    def action_first(self) -> None:
        if self._view:
            self.cursor = 0

    def action_last(self) -> None:
        if self._view:
            self.cursor = len(self._view) - 1

    def action_select(self) -> None:
        row = self.current_row
        if row is not None:
            self.post_message(self.Selected(self, row))

    def action_sort(self) -> None:
        """Sort by the next column (then back to the original order)."""
        current = self._sort_column
        following = 0 if current is None else current + 1
        self.sort_by(None if following >= len(self.columns) else self.columns[following].key)

    def action_reverse(self) -> None:
        key, reverse = self.sort_state
        self.sort_by(key or self.columns[0].key, not reverse)

    def on_click(self, event: Any) -> None:
        row = self.scroll_offset.y + event.y - 1
        if event.y >= 1 and 0 <= row < len(self._view):
            self.cursor = row
