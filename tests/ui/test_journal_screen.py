"""The journal screen, driven by keys: a plan left in doubt is shown at start, checked against the
service, and finished; an applied plan is undone through the same review."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from w365tui.journal import Journal
from w365tui.sandbox.host import Sandbox
from w365tui.session import open_session
from w365tui.settings import Profile
from w365tui.ui.journal import JournalScreen
from w365tui.ui.screens import ReviewScreen
from w365tui.ui.widgets.record_table import RecordTable
from w365tui.workflows import base, sync

from .conftest import Running, app_for

pytestmark = pytest.mark.anyio


async def leave_a_sync_in_doubt(sandbox: Sandbox, journal: Journal, fault: str) -> str:
    session = await open_session("sandbox", Profile(kind="sandbox"), sandbox_url=sandbox.url, journal=journal)
    try:
        plan = await sync.prepare_provider_account_sync(session)
        sandbox.faults.add(fault, path=r"\$batch$", times=1)
        applied = await base.apply(session, plan)
        assert applied.status == "in doubt"
        return applied.plan_id
    finally:
        await session.close()


def detail(app) -> str:
    return str(app.screen.query_one("#journal-detail", Static).render())


@pytest.mark.parametrize("fault, found", [("drop_after", "changeset 1 applied"),
                                          ("drop_before", "changeset 1 not applied")])
async def test_a_plan_left_in_doubt_is_shown_at_start_checked_and_finished(sandbox: Sandbox, tmp_path: Path,
                                                                           fault: str, found: str) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    plan_id = await leave_a_sync_in_doubt(sandbox, journal, fault)
    app = app_for(sandbox, journal)
    async with app.run_test(size=(80, 24)) as pilot:
        state = Running(app, pilot, sandbox, journal)
        await state.until(lambda: isinstance(app.screen, JournalScreen)  # opened on its own, its list drawn
                          and any(t.current_row is not None for t in app.screen.query(RecordTable)))
        table = app.screen.query_one(RecordTable)
        assert table.current_row.key == plan_id and table.current_row.cells[2] == "in doubt"
        await state.until(lambda: found in detail(app))  # read from the service, not guessed
        await state.press("f")
        await state.until(lambda: isinstance(app.screen, ReviewScreen))
        assert app.screen.plan.title.startswith("Finish: Sync provider accounts")
        assert len(app.screen.plan.changes) == (0 if fault == "drop_after" else 2)
        await state.press("y")
        await state.until(lambda: isinstance(app.screen, JournalScreen)
                          and app.screen.query_one(RecordTable).current_row.cells[2] == "applied")
        assert journal.unresolved() == []
        names = [r[0] for r in sandbox.store.conn.execute(
            "SELECT work365_provideraccount_name FROM work365_provideraccount WHERE "
            "work365_provideraccount_name IN ('Litware Inc', 'Trey Research')")]
        assert sorted(names) == ["Litware Inc", "Trey Research"]  # each once


async def test_an_applied_plan_is_undone_from_the_journal(running: Running) -> None:
    app = running.app
    await running.press("a")
    await running.until(lambda: isinstance(app.screen, ReviewScreen))
    await running.press("y")
    await running.until(lambda: "Litware Inc" in {r.account.name for r in running.pane.rows.values()})
    await running.press("J")
    await running.until(lambda: isinstance(app.screen, JournalScreen))
    assert app.screen.query_one(RecordTable).current_row.cells[2] == "applied"
    await running.press("u")
    await running.until(lambda: isinstance(app.screen, ReviewScreen))
    assert [c.verb for c in app.screen.plan.changes] == ["set state", "set state"]  # deactivated, never deleted
    await running.press("y")
    await running.until(lambda: isinstance(app.screen, JournalScreen)
                        and [r.cells[2] for r in app.screen.query_one(RecordTable).visible_rows()] == ["applied",
                                                                                                      "undone"])
    active = running.sandbox.store.conn.execute(
        "SELECT COUNT(*) FROM work365_provideraccount WHERE work365_provideraccount_name = 'Litware Inc' "
        "AND statecode = 0").fetchone()[0]
    assert active == 0
    await running.press("escape")
    assert not isinstance(app.screen, JournalScreen)
