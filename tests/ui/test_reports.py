"""Pane 5, the mismatch reports, by keys against the sandbox: a row leads to the pane that fixes
it, coming back checks it again, a running report stops on esc."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from textual.widgets import Static
from textual.worker import WorkerState

from w365tui.domain import reports as r
from w365tui.ui.panes.lcls import LicenseChangeLogsPane
from w365tui.ui.panes.provider_accounts import ProviderAccountsPane
from w365tui.ui.panes.reports import ReportsPane
from w365tui.ui.panes.subscriptions import SubscriptionsPane
from w365tui.ui.screens import AccountPickerScreen
from w365tui.workflows import base, lcl

from .conftest import Running
from .test_lcls import notified

pytestmark = pytest.mark.anyio


async def reports_pane(running: Running, name: str = r.LCL_MISMATCH) -> ReportsPane:
    await running.press("5")
    pane = running.app.query_one(ReportsPane)
    await running.until(lambda: pane.report is not None and not pane.running)
    while pane.name_shown != name:
        await running.press("]")
        await running.until(lambda: pane.report is not None and pane.report.name == pane.name_shown
                            and not pane.running)
    return pane


async def select(running: Running, pane: ReportsPane, column: str, value: str) -> r.Row:
    pane.table.focus()
    await running.press("home")
    for _ in range(len(pane.table.visible_rows())):
        row = pane.current()
        if row is not None and row.get(column) == value:
            return row
        await running.press("down")
    raise AssertionError(f"no row with {column} = {value!r}")


def status(running: Running) -> str:
    return str(running.app.query_one("#rp-status", Static).render())


async def test_the_lcl_mismatch_shows_the_demo_rows_and_enter_opens_the_editor_on_that_subscription(
        running: Running) -> None:
    pane = await reports_pane(running)
    assert [(row.get("customer"), row.section) for row in pane.report.rows] == [
        ("Woodgrove Bank", "active"), ("Margie's Travel", "inactive")]
    assert status(running).startswith("LCL mismatch · everything · 2 rows ·")
    row = await select(running, pane, "customer", "Woodgrove Bank")
    await running.press("enter")
    editor = running.app.query_one(LicenseChangeLogsPane)
    await running.until(lambda: editor.listing is not None)
    assert running.app.active_pane is editor and editor.subscription_id == row.key

    # Fixed there (a correcting LCL), and checked again on coming back: the row is gone.
    session = running.app.session
    assert session is not None
    plan = await lcl.prepare_add(session, row.key, event="update", quantity=-2, effective_date=date(2026, 11, 28))
    assert (await base.apply(session, plan)).ok
    await running.press("5")
    await running.until(lambda: pane.report is not None and row.key not in {x.key for x in pane.report.rows}
                        and not pane.running)
    assert [x.get("customer") for x in pane.report.rows] == ["Margie's Travel"]
    assert notified(running, "Fixed: the row is gone from the report.")


async def test_a_license_mismatch_row_opens_the_customers_subscriptions(running: Running) -> None:
    conn = running.sandbox.store.conn
    with running.sandbox.store.transaction():
        conn.execute("UPDATE work365_subscription SET work365_quantity = 7 WHERE work365_subscriptionname = "
                     "'Power BI Pro (monthly)' AND work365_subscription_customer = (SELECT accountid FROM account "
                     "WHERE name = 'Woodgrove Bank')")
    ((woodgrove,),) = conn.execute("SELECT accountid FROM account WHERE name = 'Woodgrove Bank'").fetchall()
    pane = await reports_pane(running, r.LICENSE_MISMATCH)
    row = await select(running, pane, "finding", "quantity differs")
    assert (row.get("customer"), row.get("work365_quantity"), row.get("streamone_quantity")) == ("Woodgrove Bank", 7, 5)
    await running.press("enter")
    subscriptions = running.app.query_one(SubscriptionsPane)
    await running.until(lambda: subscriptions.account is not None and subscriptions.view is not None)
    assert running.app.active_pane is subscriptions and subscriptions.account.id == uuid.UUID(woodgrove)


async def test_an_unmapped_row_opens_the_map_dialog_in_pane_1(running: Running) -> None:
    pane = await reports_pane(running, r.UNMAPPED)
    row = await select(running, pane, "provider_account", "Adatum Corporation")
    await running.press("enter")
    await running.until(lambda: isinstance(running.app.screen, AccountPickerScreen))
    accounts = running.app.query_one(ProviderAccountsPane)
    assert accounts.current is not None and accounts.current.account.id == row.key
    await running.press("escape")


async def test_choosing_a_report_and_a_scope_by_keys_and_esc_stops_a_slow_one(running: Running) -> None:
    recent = (date.today() - timedelta(days=100)).isoformat()  # uninvoiced over 45 days, not over a year
    with running.sandbox.store.transaction():
        running.sandbox.store.conn.execute(
            "UPDATE work365_licensechangelog SET work365_effectivedate = ? WHERE work365_licensechangelogid = (SELECT "
            "work365_licensechangelogid FROM work365_licensechangelog WHERE statecode = 0 AND work365_invoice IS NULL "
            "ORDER BY work365_effectivedate DESC LIMIT 1)", (recent,))
    pane = await reports_pane(running)
    await running.press("t")
    await running.press("end", "enter")  # the last report: uninvoiced LCLs
    await running.until(lambda: pane.report is not None and pane.report.name == r.UNINVOICED and not pane.running)
    assert "Uninvoiced LCLs over 45 days · everything" in status(running)
    before = len(pane.report.rows)
    await running.press("d")
    await running.press("end", "enter")  # a year
    await running.until(lambda: pane.report is not None and pane.report.days == 365 and not pane.running)
    assert "over 365 days" in status(running) and len(pane.report.rows) == before - 1
    await running.press("o")
    await running.press("end", "enter")  # the last provider listed
    await running.until(lambda: pane.scope.kind == "provider" and not pane.running)
    assert pane.report is not None and pane.report.scope == pane.scope
    running.sandbox.faults.add("latency", path="work365_licensechangelogs", delay=1)
    await running.press("r")
    await running.until(lambda: "Running" in status(running))
    first = pane._worker
    await running.press("r")  # run again while running: the first run is replaced, not reported as stopped
    await running.until(lambda: first.state == WorkerState.CANCELLED and pane._worker is not first)
    await running.pilot.pause()  # what the replaced run posted before it ended is handled
    assert pane.running and "Running" in status(running)
    await running.until(lambda: not pane.running, timeout=20)
    assert pane.report is not None and "Stopped" not in status(running)
    shown = pane.report
    await running.press("r")
    await running.until(lambda: "Running" in status(running))
    stopped = pane._worker
    await running.press("escape")
    assert not pane.running and status(running).startswith("Stopped.")
    await running.until(lambda: stopped.state == WorkerState.CANCELLED)
    await running.pilot.pause()  # what the stopped run posted before it ended is not shown
    assert status(running).startswith("Stopped.") and pane.report is shown
