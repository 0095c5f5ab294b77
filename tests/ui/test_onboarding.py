"""The onboarding checklist driven by keys alone: a customer from unmapped to done, each step
done where the checklist's enter opens, the checklist worked out again each time it comes back."""

from __future__ import annotations

import pytest

from w365tui.ui.onboarding import OnboardingScreen, SummaryScreen
from w365tui.ui.panes.customers import CustomersPane
from w365tui.ui.screens import AccountPickerScreen, ChoiceScreen, ReviewScreen

from .conftest import Running

pytestmark = pytest.mark.anyio


def marks(running: Running) -> str:
    screen = running.app.screen
    assert isinstance(screen, OnboardingScreen) and screen.checklist is not None
    return "".join(step.mark for step in screen.checklist.steps)


async def open_checklist(running: Running, expected: str) -> OnboardingScreen:
    await running.press("O")
    await running.until(lambda: isinstance(running.app.screen, OnboardingScreen)
                        and running.app.screen.checklist is not None and marks(running) == expected)
    return running.app.screen


async def test_a_customer_goes_from_unmapped_to_done_by_keys_alone(running: Running) -> None:
    await running.press("slash", *"School of Fine Art", "enter")
    await running.until(lambda: running.pane.current is not None
                        and running.pane.current.account.name == "School of Fine Art")
    screen = await open_checklist(running, "✓✓→····")
    assert screen.current.number == 3  # the cursor on the step to do next
    await running.press("enter")  # pane 1's map dialog, on this provider account
    await running.until(lambda: isinstance(running.app.screen, AccountPickerScreen))
    await running.until(lambda: any(t.current_row is not None  # composed, its suggestions listed
                                    for t in running.app.screen.query("#picker-results")))
    await running.press("enter")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    await running.press("y")
    await running.until(lambda: running.pane.current is not None and running.pane.current.account.is_mapped)

    screen = await open_checklist(running, "✓✓✓→··→")
    assert screen.current.number == 4 and screen.current.action.pane == "customers"
    await running.press("enter")  # pane 2, on the customer
    customers = running.app.query_one(CustomersPane)
    await running.until(lambda: customers.current is not None and customers.current.name == "School of Fine Art"
                        and customers.table.has_focus)
    await running.press("b")
    await running.until(lambda: isinstance(running.app.screen, ChoiceScreen))  # the contract: the default first
    await running.press("enter")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    await running.press("y")
    await running.until(lambda: not isinstance(running.app.screen, ReviewScreen) and not customers.applying)

    screen = await open_checklist(running, "✓✓✓✓✓✓✓")
    assert screen.checklist.done
    await running.press("t")
    await running.until(lambda: isinstance(running.app.screen, SummaryScreen))
    summary = running.app.screen.markdown
    assert "- Stage: done" in summary and summary.count("applied by Sandbox Operator") == 2
    await running.press("escape", "escape")
    assert not isinstance(running.app.screen, OnboardingScreen | SummaryScreen)


async def test_the_checklist_is_worked_out_again_when_it_comes_back(running: Running) -> None:
    await running.press("slash", *"Northwind Traders", "enter")
    await running.until(lambda: running.pane.current is not None
                        and running.pane.current.account.name == "Northwind Traders")
    screen = await open_checklist(running, "✓✓→····")
    from w365tui.workflows import base, mapping

    session = running.app.session
    account = running.sandbox.store.conn.execute("SELECT accountid FROM account WHERE name = 'Northwind Traders'"
                                                 ).fetchone()[0]
    await base.apply(session, await mapping.prepare_map(session, running.pane.current.account.id, account))  # elsewhere
    await running.press("r")
    await running.until(lambda: marks(running) == "✓✓✓→··→")
    assert screen.target == {"account": screen.checklist.account.id, "provider_account": None}


async def test_without_a_customer_the_key_says_what_to_choose(running: Running) -> None:
    await running.press("5")  # the reports pane over everything: no customer
    await running.press("O")
    assert not isinstance(running.app.screen, OnboardingScreen)
    assert any("Choose a customer first" in str(n.message) for n in running.app._notifications)


async def test_the_reports_step_opens_pane_5_on_the_customer_and_the_report_with_findings(running: Running) -> None:
    from w365tui.ui.panes.reports import ReportsPane

    await running.press("slash", *"Fourth Coffee", "enter")
    await running.until(lambda: running.pane.current is not None
                        and running.pane.current.account.name == "Fourth Coffee")
    screen = await open_checklist(running, "✓✓✓✓→✓→")
    assert screen.current.number == 5
    await running.press("down", "down")
    assert screen.current.number == 7
    await running.press("enter")
    reports = running.app.query_one(ReportsPane)
    await running.until(lambda: reports.report is not None and not reports.running)
    assert running.app.active_pane is reports
    assert (reports.name_shown, reports.scope.kind, reports.scope.label) == ("missing-data", "customer", "Fourth Coffee")
    assert [row.get("customer") for row in reports.report.rows] == ["Fourth Coffee"]
    await running.press("O")  # back to the checklist: the customer pane 5 shows
    await running.until(lambda: isinstance(running.app.screen, OnboardingScreen)
                        and running.app.screen.checklist is not None)
