"""The virtualised table on its own: literal text, widths, filter, sort, cursor."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult

from w365tui.ui.widgets.record_table import Column, RecordTable, Row, fit

pytestmark = pytest.mark.anyio

HOSTILE = [
    "[bold red]Evil[/] Corp",
    "\x1b[2J\x1b[31mWipe\x1b[0m Ltd",
    "x" * 500,
    "Pizza 🍕 Palace AB",
    "شركة المثال للتجارة",
    "[link=https://evil.example]click[/link]",
]


class Harness(App[None]):
    def compose(self) -> ComposeResult:
        yield RecordTable([Column("name", "Name", 10, flex=1), Column("n", "N", 5)])


def test_fit_pads_and_cuts_by_cell_width() -> None:
    assert fit("abc", 5) == "abc  "
    assert fit("abcdef", 4) == "abc…"
    assert cell_len(fit("🍕🍕🍕", 4)) == 4
    assert fit("x", 0) == ""


async def test_hostile_text_is_shown_as_typed_and_never_overflows() -> None:
    app = Harness()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(RecordTable)
        table.set_rows([Row(i, (name, str(i))) for i, name in enumerate(HOSTILE)])
        await pilot.pause()
        lines = [table.render_line(y) for y in range(len(HOSTILE) + 1)]
        texts = [strip.text for strip in lines]
        assert "[bold red]Evil[/] Corp" in texts[1]
        assert "\\x1b[2J\\x1b[31mWipe\\x1b[0m Ltd" in texts[2]
        assert all("\x1b" not in t for t in texts)
        assert "x…" in texts[3] and texts[3].rstrip().endswith("2")
        assert "[link=https://evil.example]click[/link]" in texts[6]
        assert all(strip.cell_length == table.size.width for strip in lines)
        # markup-looking text gets no style from itself: every segment of a row shares one style
        assert len({seg.style for seg in lines[1] if seg.text.strip()}) == 1


async def test_filter_sort_and_cursor() -> None:
    app = Harness()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(RecordTable)
        table.set_rows([Row(i, (f"Row {i}", str(i)), sort_values=(f"Row {i}", i)) for i in range(1000)])
        table.focus()
        await pilot.press("G")
        assert table.current_row.key == 999
        table.set_filter("row 99")
        assert table.shown_count == 11 and table.total_count == 1000
        assert table.current_row.key == 999  # still shown: the cursor stays on it
        table.set_filter("row 5")
        assert table.shown_count == 111
        assert table.current_row.key == 5  # gone from view: the cursor falls back to the first match
        table.set_filter("")
        table.sort_by("n", reverse=True)
        assert table.visible_rows()[0].key == 999
        await pilot.press("g", "j", "j")
        assert table.current_row.key == 997
        table.set_rows([Row(i, (f"Row {i}", str(i)), sort_values=(f"Row {i}", i)) for i in range(1000)])
        assert table.current_row.key == 997  # kept across a reload
