"""The virtualised table on its own: literal text, widths, filter, sort, cursor."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult

from w365tui.ui.widgets import record_table
from w365tui.ui.widgets.record_table import Column, RecordTable, Row, fit, merged_order

pytestmark = pytest.mark.anyio

HOSTILE = [
    "[bold red]Evil[/] Corp",
    "\x1b[2J\x1b[31mWipe\x1b[0m Ltd",
    "x" * 500,
    "Pizza 🍕 Palace AB",
    "شركة المثال للتجارة",
    "[link=https://evil.example]click[/link]",
]


async def until(pilot: object, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the app run until ``condition()`` holds (what a timer of the table does)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the table did not get there in time"
        await pilot.pause(0.02)  # type: ignore[attr-defined]


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


async def test_an_empty_list_says_whether_it_is_empty_or_only_filtered() -> None:
    app = Harness()
    async with app.run_test(size=(60, 10)):
        table = app.query_one(RecordTable)
        table.empty = "No accounts."
        assert table.render_line(1).text.startswith("No accounts.")
        table.set_rows([Row(1, ("Contoso", "1"))])
        table.set_filter("fabrikam")
        assert table.render_line(1).text.startswith("Nothing here holds the filter's text.")


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


class Two(App[None]):
    def compose(self) -> ComposeResult:
        yield RecordTable([Column("name", "Name", 10, flex=1), Column("n", "N", 5)], id="a")
        yield RecordTable([Column("name", "Name", 10, flex=1), Column("n", "N", 5)], id="b")


def _names(table: RecordTable) -> list[object]:
    return [row.key for row in table.visible_rows()]


async def test_pages_appended_to_a_sorted_list_land_where_a_full_sort_puts_them() -> None:
    import random

    rng = random.Random(7)
    words = ["acme", "Acme", "contoso", "fabrikam", "Zeta", "ähnlich", "", "acme co"]
    rows = [Row(i, (f"{rng.choice(words)} {rng.randint(0, 30)}", str(i))) for i in range(3000)]
    app = Two()
    async with app.run_test():
        grown, whole = app.query_one("#a", RecordTable), app.query_one("#b", RecordTable)
        check_merge(rows, grown, whole)


async def test_the_scrollable_height_follows_appended_rows_soon_not_per_page() -> None:
    app = Two()
    async with app.run_test() as pilot:
        table = app.query_one("#a", RecordTable)
        table.set_rows([Row(i, (f"name {i:05d}", str(i))) for i in range(10)])
        table.sort_by("name")
        for start in range(10, 1010, 100):
            table.append_rows([Row(i, (f"name {i:05d}", str(i))) for i in range(start, start + 100)])
        assert table.shown_count == 1010
        await until(pilot, lambda: table.virtual_size.height == 1011)  # soon (a timer), not per page
        table.cursor = 1009  # the last row is reachable
        assert table.current_row is not None and table.current_row.key == 1009


async def test_rows_arriving_on_the_screen_are_painted_soon_not_per_page(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Two()
    async with app.run_test() as pilot:
        table = app.query_one("#a", RecordTable)
        table.set_rows([Row(i, (f"name {i:05d}", str(i))) for i in range(0, 2000, 2)])
        table.sort_by("name")
        await pilot.pause()
        painted: list[int] = []
        monkeypatch.setattr(table, "refresh", lambda *a, **k: painted.append(1))
        for start in range(1, 2000, 200):  # each page lands on the screen (odd names between the even ones)
            table.append_rows([Row(i, (f"name {i:05d}", str(i))) for i in range(start, start + 200, 2)])
        assert len(painted) <= 1  # not once per page
        await until(pilot, lambda: bool(painted))  # but soon


async def test_pages_arriving_are_merged_into_the_sorted_order_soon_not_per_page(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [Row(i, (f"name {(i * 7919 + 1) % 5000:05d}", str(i))) for i in range(5000)]  # "name 00000" arrives late
    whole = sorted(range(5000), key=lambda i: (rows[i].cells[0], i))
    app = Two()
    async with app.run_test() as pilot:
        table = await sorted_by_name(app, pilot, rows[:500])
        merges = counting_merges(monkeypatch)
        for start in range(500, 5000, 250):
            table.append_rows(rows[start:start + 250])
        assert merges == []  # not once per page
        # counted, and the first rows taken in their places, without merging there and then
        assert table.shown_count == 5000 and [r.key for r in table.first_rows(5)] == whole[:5]
        assert merges == []
        await until(pilot, lambda: bool(merges))  # but soon, all of them at once
        assert merges == [4500]
        assert [r.key for r in table.visible_rows()] == whole
        # the cursor was on the first row: it stays on the first row, now another one
        assert table.current_row.key == whole[0] and table.current_row.cells[0] == "name 00000"


async def test_rows_arriving_under_a_filter_are_counted_before_they_are_merged(
        monkeypatch: pytest.MonkeyPatch) -> None:
    app = Two()
    async with app.run_test():
        table = app.query_one("#a", RecordTable)
        table.set_rows([Row(i, (f"name {i:04d}", "")) for i in range(100)])
        table.sort_by("name")
        table.set_filter("name 00")
        merges = counting_merges(monkeypatch)
        table.append_rows([Row(i, (f"name {i:04d}", "")) for i in range(100, 2000)])
        assert table.shown_count == 100 and merges == []  # "name 0000"-"name 0099": none of the new ones
        table.append_rows([Row(5000 + i, (f"name 00{i}x", "")) for i in range(3)])
        assert table.shown_count == 103 and merges == []
        assert len(table.visible_rows()) == 103 and merges == [1903]


async def sorted_by_name(app: Two, pilot: object, rows: list[Row]) -> RecordTable:
    """The app's first table holding ``rows``, sorted by name, painted."""
    table = app.query_one("#a", RecordTable)
    table.set_rows(rows)
    table.sort_by("name")
    await pilot.pause()  # type: ignore[attr-defined]
    return table


def counting_merges(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many rows each merge of arrived rows merges, from now on."""
    merges: list[int] = []
    merge = record_table.merged_order
    monkeypatch.setattr(record_table, "merged_order",
                        lambda order, keys, added: merges.append(len(added)) or merge(order, keys, added))
    return merges


def test_a_merge_gives_the_order_a_whole_sort_gives_both_ways_of_merging() -> None:
    import random

    rng = random.Random(3)
    for old, new in ((2000, 10), (2000, 400), (300, 2000), (0, 50), (50, 0)):
        keys = [rng.choice(["acme", "contoso", "fabrikam", "zeta", ""]) + str(rng.randint(0, 40))
                for _ in range(old + new)]
        order = sorted(range(old), key=keys.__getitem__)
        merged, first = merged_order(order, keys, range(old, old + new))
        assert merged == sorted(range(old + new), key=lambda i: (keys[i], i))
        assert merged[:first] == order[:first] and (not new or merged[first] >= old)


async def test_a_merge_on_its_thread_found_stale_is_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    rows = [Row(i, (f"name {(i * 7919 + 1) % 3000:05d}", str(i))) for i in range(3000)]
    release = threading.Event()
    merge = record_table.merged_order

    def slow(order: list[int], keys: list[str], added: range) -> tuple[list[int], int]:
        if threading.current_thread() is not threading.main_thread():
            release.wait(5)  # the thread's merge is held until the reader has merged
        return merge(order, keys, added)

    app = Two()
    async with app.run_test() as pilot:
        table = await sorted_by_name(app, pilot, rows[:500])
        monkeypatch.setattr(record_table, "merged_order", slow)
        table.append_rows(rows[500:2000])
        await until(pilot, lambda: table._merging is not None)  # its merge is on the thread
        table.remove_keys(set(range(10)))  # the order made anew meanwhile, every row in it
        release.set()
        await until(pilot, lambda: table._merging is None)
        assert [r.key for r in table.visible_rows()] == sorted(range(10, 2000), key=lambda i: (rows[i].cells[0], i))
        table.append_rows(rows[2000:])  # and the next rows merge as ever
        await until(pilot, lambda: table._merged == 2990)
        assert [r.key for r in table.visible_rows()] == sorted(range(10, 3000), key=lambda i: (rows[i].cells[0], i))


def check_merge(rows: list[Row], grown: RecordTable, whole: RecordTable) -> None:
    grown.set_rows(rows[:100])
    grown.sort_by("name")
    grown.set_filter("acme")
    grown.cursor = 5
    held = grown.current_row.key
    for start in range(100, 3000, 350):  # pages as they arrive, the filter kept
        grown.append_rows(rows[start:start + 350])
        assert grown.current_row.key == held  # rows merged in before it move the cursor with its row
    assert len(grown.visible_rows()) > 100 and grown.current_row.key == held
    whole.set_rows(rows)
    whole.sort_by("name")
    whole.set_filter("acme")
    assert _names(grown) == _names(whole) and len(_names(whole)) > 100
    grown.set_filter("")
    whole.set_filter("")
    assert _names(grown) == _names(whole) == sorted(range(3000), key=lambda i: (rows[i].cells[0].casefold(), i))


async def test_a_filter_that_grows_narrows_what_it_kept_and_one_that_shrinks_looks_again() -> None:
    rows = [Row(i, (f"name {i}", str(i))) for i in range(500)]
    app = Two()
    async with app.run_test():
        table = app.query_one("#a", RecordTable)
        table.set_rows(rows)
        check_filters(table, rows)


def check_filters(table: RecordTable, rows: list[Row]) -> None:
    for text, expected in (("1", [r.key for r in rows if "1" in r.cells[0]]),
                           ("12", [r.key for r in rows if "12" in r.cells[0]]),
                           ("123", [123]),
                           ("12", [r.key for r in rows if "12" in r.cells[0]]),
                           ("", [r.key for r in rows])):
        table.set_filter(text)
        assert _names(table) == expected, text


async def test_updated_rows_change_in_place_and_move_only_when_their_sort_value_does() -> None:
    app = Two()
    async with app.run_test():
        check_updates(app.query_one("#a", RecordTable))


def check_updates(table: RecordTable) -> None:
    rows = [Row(i, (f"name {i:03d}", str(i))) for i in range(50)]
    table.set_rows(rows)
    table.sort_by("name")
    table.set_filter("name")
    table.update_rows([Row(7, ("name 007", "seven"), search="tenant-x"), Row(999, ("unknown", "x"))])
    assert _names(table) == list(range(50)) and table.rows[7].cells[1] == "seven"
    table.set_filter("tenant-x")
    assert _names(table) == [7]
    table.set_filter("")
    table.update_rows([Row(3, ("zzz last", "3"))])
    assert _names(table)[-1] == 3 and len(_names(table)) == 50
    # under a filter, a row whose new text no longer matches leaves the view, and comes back in its place
    table.set_filter("name")
    table.update_rows([Row(5, ("name 005", "5"), search="gone")])
    assert 5 in _names(table)  # its name still holds the filter's text
    table.update_rows([Row(5, ("other 005", "5"))])
    assert 5 not in _names(table) and len(_names(table)) == 48  # "zzz last" and this one hidden
    table.update_rows([Row(5, ("name 005", "5"))])
    assert _names(table)[:7] == [0, 1, 2, 4, 5, 6, 7]


async def test_search_text_is_held_once_and_still_found_after_updates_and_removals() -> None:
    rows = [Row(i, (f"Name {i}", str(i)), search=f"Tenant-{i:04d} Domain{i}.Example") for i in range(50)]
    app = Harness()
    async with app.run_test():
        table = app.query_one(RecordTable)
        table.set_rows(rows[:30])
        table.append_rows(rows[30:])
        assert all(r.search == "" for r in table.rows)  # kept in the haystack only
        table.set_filter("tenant-0042")
        assert [r.key for r in table.visible_rows()] == [42]
        table.update_rows([Row(42, ("Name 42", "42"), search="Tenant-9999")])
        table.set_filter("tenant-9999")
        assert [r.key for r in table.visible_rows()] == [42]
        table.remove_keys({0, 1})
        table.set_filter("domain7.example")
        assert [r.key for r in table.visible_rows()] == [7]
        table.set_filter("")
        first = table.first_rows(3)
        assert [(r.key, r.search) for r in first] == [(2, "tenant-0002 domain2.example"),
                                                       (3, "tenant-0003 domain3.example"),
                                                       (4, "tenant-0004 domain4.example")]


class Filtered(App[None]):
    def compose(self) -> ComposeResult:
        from w365tui.ui.widgets.filtered_list import FilteredList

        yield FilteredList(RecordTable([Column("name", "Name", 10, flex=1), Column("n", "N", 5)]))


async def test_arrows_typed_in_the_filter_box_move_the_list_even_ahead_of_it_closing() -> None:
    from textual import events

    from w365tui.ui.widgets.filtered_list import FilteredList

    app = Filtered()
    async with app.run_test() as pilot:
        table = app.query_one(RecordTable)
        table.set_rows([Row(i, (f"name {i}", str(i))) for i in range(50)])
        await pilot.press("slash", "1")  # name 1, 10-19, 21, 31, 41
        box = app.query_one(FilteredList).box
        assert box.has_focus and table.shown_count == 14
        await pilot.press("down")  # while typing: the list's cursor moves, the box keeps the keyboard
        assert table.cursor == 1 and box.has_focus
        await pilot.press("up")
        assert table.cursor == 0
        for key in ("enter", "down", "down"):  # typed ahead: the box has not closed when the arrows come
            app.post_message(events.Key(key, None))
        await until(pilot, lambda: table.has_focus and table.cursor == 2)
        await pilot.press("down")
        assert table.cursor == 3 and table.filter_text == "1"
