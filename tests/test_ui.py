"""The first screen, driven with Textual's pilot against a sandbox over loopback HTTP."""

from __future__ import annotations

import asyncio

from textual.widgets import DataTable, Static

from w365tui.sandbox.host import Sandbox
from w365tui.settings import Profile
from w365tui.ui.app import W365App
from w365tui.ui.text import literal, visible


def test_visible_shows_control_characters_and_keeps_markup_literal() -> None:
    assert visible("\x1b[31mRed\x1b[0m") == "\\x1b[31mRed\\x1b[0m"
    assert literal("[bold red]Evil[/] Corp").plain == "[bold red]Evil[/] Corp"
    assert literal("[bold red]Evil[/] Corp").spans == []


def test_the_provider_accounts_list_shows_every_row_literally(sandbox: Sandbox) -> None:
    expected = sandbox.store.count("work365_provideraccount")

    async def drive() -> None:
        app = W365App("sandbox", Profile(kind="sandbox"), sandbox_url=sandbox.url)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            table = app.query_one(DataTable)
            assert table.row_count == expected
            cells = [table.get_row_at(i)[0] for i in range(table.row_count)]
            plain = {cell.plain for cell in cells}
            assert "[bold red]Evil[/] Corp" in plain
            assert "\\x1b[31mRed Alert\\x1b[0m Ltd" in plain
            status = str(app.query_one("#status", Static).render())
            assert f"{expected} provider accounts" in status and "SANDBOX" in status
            await pilot.press("j", "j")
            assert table.cursor_row == 2
            await pilot.press("q")

    asyncio.run(drive())


def test_an_unreachable_sandbox_is_reported_not_fatal() -> None:
    async def drive() -> None:
        app = W365App("sandbox", Profile(kind="sandbox"), sandbox_url="http://127.0.0.1:9")
        async with app.run_test(size=(80, 24)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert "Could not load provider accounts" in str(app.query_one("#status", Static).render())
            assert app.is_running

    asyncio.run(drive())
