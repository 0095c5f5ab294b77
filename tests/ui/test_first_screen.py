"""Pane 1 starts on the first screen the last run saw: rows at once, marked as not read yet and
never written from, replaced row by row as the service answers, and gone when it no longer
holds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from w365tui.journal import Journal
from w365tui.sandbox.host import Sandbox
from w365tui.sandbox.schema import BY_LOGICAL
from w365tui.ui.panes.provider_accounts import ProviderAccountsPane

from .conftest import Running, app_for

pytestmark = pytest.mark.anyio
PA = BY_LOGICAL["work365_provideraccount"]


async def test_the_last_runs_first_screen_is_shown_at_once_then_read_again(sandbox: Sandbox, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    first = app_for(sandbox, journal)
    async with first.run_test(size=(80, 24)) as pilot:
        pane = first.query_one(ProviderAccountsPane)
        await Running(first, pilot, sandbox, journal).until(lambda: pane.loaded)
        shown = [row.key for row in pane.table.visible_rows()]
    gone = shown[1]
    with sandbox.store.transaction():
        sandbox.store.update(PA, str(gone), {"statecode": 1, "statuscode": 2})
    sandbox.faults.add("latency", path="work365_provideraccounts", delay=1.5)  # the service is slow today

    second = app_for(sandbox, journal)
    async with second.run_test(size=(80, 24)) as pilot:
        pane = second.query_one(ProviderAccountsPane)
        running = Running(second, pilot, sandbox, journal)
        await pilot.pause()  # the cached rows are set as the pane mounts
        assert not pane.loaded and pane.cached  # nothing read yet, yet the rows are there
        assert [row.key for row in pane.table.visible_rows()] == shown
        status = str(pane.query_one("#pa-status").render())  # before or after the session opens
        assert "last run" in status and "reading it again" in status
        pane.table.focus()
        await pilot.press("m")
        await pilot.pause()
        assert any("from the last run" in str(n.message) for n in second._notifications)
        await running.until(lambda: pane.loaded)
        assert not pane.cached
        keys = [row.key for row in pane.table.visible_rows()]
        assert gone not in keys and keys == [key for key in shown if key != gone]
        assert all(key in pane.rows for key in keys)  # every row shown is one read now
