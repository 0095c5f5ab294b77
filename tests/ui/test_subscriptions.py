"""Pane 3: a customer's subscriptions side by side and the replacement of the manual ones, by keys."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import anyio
import pytest
from textual.widgets import Static

from w365tui.journal import Journal
from w365tui.sandbox.host import Sandbox
from w365tui.settings import Profile
from w365tui.ui.app import W365App
from w365tui.ui.panes.subscriptions import ConfirmScreen, SubscriptionsPane, SummaryScreen
from w365tui.ui.screens import ChoiceScreen, ReviewScreen

from .conftest import Running, app_for
from .test_provider_accounts import table_text

pytestmark = pytest.mark.anyio


def account_id(sandbox: Sandbox, name: str) -> UUID:
    return UUID(sandbox.store.conn.execute("SELECT accountid FROM account WHERE name = ?", (name,)).fetchone()[0])


def sub_state(sandbox: Sandbox, name: str, customer: str = "Fabrikam Inc") -> list[int]:
    return [r[0] for r in sandbox.store.conn.execute(
        "SELECT s.statecode FROM work365_subscription s JOIN account a ON a.accountid = s.work365_subscription_customer "
        "WHERE s.work365_subscriptionname = ? AND a.name = ?", (name, customer))]


async def open_customer(running: Running, name: str) -> SubscriptionsPane:
    running.app.open_subscriptions(str(account_id(running.sandbox, name)))
    pane = running.app.query_one(SubscriptionsPane)
    await running.until(lambda: pane.view is not None and pane.account is not None and pane.account.name == name)
    await running.pilot.pause()
    assert running.app.active_pane is pane
    return pane


def detail(running: Running) -> str:
    return str(running.app.query_one("#su-detail", Static).render())


async def test_manual_beside_techdata_with_the_pair_field_by_field(running: Running) -> None:
    pane = await open_customer(running, "Humongous Insurance")
    rows = table_text(pane.table)
    assert "Microsoft 365 E3 (manu" in rows[1] and "Microsoft 365 E3 (mont" in rows[1]  # a pair on one row
    assert rows[2].split("│")[0].strip() == "" and "Exchange Online" in rows[2]  # a TechData one without a twin
    shown = detail(running)
    assert "effective start   2022-11-01" in shown and "2024-08-26" in shown
    # the differing field is highlighted, the same ones are not
    text = running.app.query_one("#su-detail", Static).render()
    plain = str(text)

    def style_at(needle: str, line: str) -> str:
        start = plain.index(line)
        at = plain.index(needle, start)
        return " ".join(str(span.style) for span in text.spans if span.start <= at < span.end)

    assert "yellow" in style_at("2022-11-01", "effective start") and "bold" in style_at("2022-11-01", "effective start")
    assert "yellow" not in style_at("60", "quantity")  # the same on both sides: not highlighted
    status = str(running.app.query_one("#su-status", Static).render())
    assert status == "Humongous Insurance · 1 manual · 2 TechData · 1 paired"


async def test_subscriptions_made_a_piece_at_a_time_show_as_made_at_once(
        running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    from w365tui.ui.panes import subscriptions

    monkeypatch.setattr(subscriptions, "SHOW_STEP", 1)  # a pause after each row, as after each 250 of 2,000
    pane = await open_customer(running, "Humongous Insurance")
    pieces = [(r.key, r.cells, r.styles) for r in pane.table.visible_rows()]
    assert len(pieces) >= 2
    pane._show()  # the same view, made at once
    assert pieces == [(r.key, r.cells, r.styles) for r in pane.table.visible_rows()]


async def test_a_hand_pair_of_a_subscription_retired_since_no_longer_hides_its_twin(running: Running) -> None:
    """After the replacement of a pair made by hand, the view read again holds the manual one no
    more: its pair is dropped before the rows are made, and the TechData one is listed."""
    import uuid

    pane = await open_customer(running, "Humongous Insurance")
    assert pane.view is not None
    alone = next(line.subscription.id for line in pane.view.techdata if line.subscription.id not in
                 set(pane.pairs().values()))  # a TechData subscription with no twin
    assert ("techdata", alone) in [r.key for r in pane.table.visible_rows()]
    pane.by_hand = {uuid.uuid4(): alone}  # paired by hand with a manual subscription retired since
    pane._take(pane.view, pane.epoch)
    await running.until(lambda: not pane.by_hand)
    await running.pilot.pause()
    assert ("techdata", alone) in [r.key for r in pane.table.visible_rows()]


async def test_enter_reviews_the_replacement_and_applies_after_two_y(running: Running) -> None:
    await open_customer(running, "Fabrikam Inc")
    await running.press("enter")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    review = running.app.screen
    assert review.plan.kind == "replace" and review.plan.then
    await running.press("y")
    assert running.app.screen is review and review.armed  # one y is not enough
    assert sub_state(running.sandbox, "Microsoft 365 Business Standard (manual)") == [0]
    await running.press("y")
    await running.until(lambda: sub_state(running.sandbox, "Microsoft 365 Business Standard (manual)") == [1])
    pane = running.app.query_one(SubscriptionsPane)
    await running.until(lambda: pane.view is not None and not pane.view.manual)
    deactivation = (
        "SELECT l.statecode FROM work365_licensechangelog l JOIN work365_subscription s "
        "ON s.work365_subscriptionid = l.work365_subscription JOIN account a ON a.accountid = "
        "s.work365_subscription_customer WHERE s.work365_subscriptionname = ? AND a.name = 'Fabrikam Inc' "
        "AND l.work365_quantity = -12")
    # the Deactivate LCL was written, then archived by the step after the plan
    await running.until(lambda: [r[0] for r in running.sandbox.store.conn.execute(
        deactivation, ("Microsoft 365 Business Standard (manual)",))] == [1])
    retired = [row for row in pane.table.rows if row.key[0] == "other"]  # the retired one, dimmed, last
    assert [(row.cells[1], row.cells[3]) for row in retired] == [
        ("Microsoft 365 Business Standard (manual) (inactive)", "-2")]


async def test_esc_or_n_after_one_y_writes_nothing(running: Running) -> None:
    await open_customer(running, "Fabrikam Inc")
    before = running.sandbox.store.canonical_dump()
    await running.press("enter")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    await running.press("y", "n")
    await running.until(lambda: not isinstance(running.app.screen, ReviewScreen))
    assert running.sandbox.store.canonical_dump() == before


async def test_unpair_and_pair_by_hand_and_a_different_product_is_warned(running: Running) -> None:
    pane = await open_customer(running, "Humongous Insurance")
    await running.press("u")
    rows = table_text(pane.table)
    assert "no twin: p to pair by" in rows[1]
    await running.press("p")
    await running.until(lambda: isinstance(running.app.screen, ChoiceScreen))
    choices = table_text(running.app.screen.query_one("RecordTable"))
    exchange = next(i for i, row in enumerate(choices) if "Exchange Online" in row)
    for _ in range(exchange - 1):
        await running.press("down")
    await running.press("enter")
    await running.until(lambda: not isinstance(running.app.screen, ChoiceScreen))
    assert "Exchange Online" in table_text(pane.table)[1] and pane.current_pair() is not None
    await running.press("enter")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    assert any("are not the same product" in w for w in running.app.screen.plan.warnings)
    await running.press("escape")


async def test_marked_pairs_are_replaced_one_plan_each_with_a_summary_for_the_ticket(running: Running) -> None:
    pane = await open_customer(running, "Fabrikam Inc")
    await running.press("space")
    assert pane.marked and table_text(pane.table)[1].startswith("●")
    await running.press("R")
    await running.until(lambda: isinstance(running.app.screen, ConfirmScreen))
    await running.press("y")
    await running.until(lambda: isinstance(running.app.screen, SummaryScreen), timeout=30)
    summary = running.app.screen.markdown
    assert "1 applied, 0 skipped, 0 failed." in summary
    assert "| Microsoft 365 Business Standard (manual) | Microsoft 365 Business Standard (monthly) | applied |" in summary
    await running.press("c")
    assert running.app.clipboard == summary
    assert sub_state(running.sandbox, "Microsoft 365 Business Standard (manual)") == [1]


async def test_a_read_only_profile_reviews_but_never_applies(sandbox: Sandbox, tmp_path: Path) -> None:
    app = W365App("watcher", Profile(kind="sandbox", read_only=True), sandbox_url=sandbox.url,
                  journal=Journal(tmp_path / "journal.jsonl"), open_account=str(account_id(sandbox, "Fabrikam Inc")))
    async with app.run_test(size=(80, 24)) as pilot:
        running = Running(app, pilot, sandbox, Journal(tmp_path / "journal.jsonl"))
        pane = await running.pane_of(SubscriptionsPane)
        await running.until(lambda: pane.view is not None and app.active_pane is pane)
        before = sandbox.store.canonical_dump()
        await running.press("enter")
        await running.until(lambda: any("This profile is read-only." in str(n.message) for n in app._notifications))
        assert not isinstance(app.screen, ReviewScreen)
        await running.press("y", "y")
        assert sandbox.store.canonical_dump() == before


async def test_the_command_line_account_and_a_mapped_provider_account_open_the_pane(sandbox: Sandbox,
                                                                                    tmp_path: Path) -> None:
    wanted = account_id(sandbox, "Humongous Insurance")
    app = app_for(sandbox, Journal(tmp_path / "journal.jsonl"), open_account=str(wanted))
    async with app.run_test(size=(80, 24)) as pilot:
        running = Running(app, pilot, sandbox, Journal(tmp_path / "journal.jsonl"))
        pane = await running.pane_of(SubscriptionsPane)
        await running.until(lambda: pane.view is not None and app.active_pane is pane)
        assert pane.account is not None and pane.account.id == wanted
        # from pane 1: v on a mapped provider account
        await running.press("1")
        await running.until(lambda: running.pane.loaded)
        first = running.pane
        index = next(i for i, row in enumerate(first.table.visible_rows())
                     if first.rows[row.key].account.is_mapped and first.rows[row.key].crm_name == "Fabrikam Inc")
        first.table.cursor = index
        await running.press("v")
        await running.until(lambda: app.active_pane is pane and pane.account is not None
                            and pane.account.name == "Fabrikam Inc")


async def test_a_bad_account_on_the_command_line_is_said_plainly(sandbox: Sandbox, tmp_path: Path) -> None:
    app = app_for(sandbox, Journal(tmp_path / "journal.jsonl"), open_account="nope")
    async with app.run_test(size=(80, 24)) as pilot:
        running = Running(app, pilot, sandbox, Journal(tmp_path / "journal.jsonl"))
        await running.until(lambda: any("'nope' is not a CRM account id" in str(n.message)
                                        for n in app._notifications))


async def test_a_sku_held_monthly_and_annually_is_left_for_the_operator(running: Running) -> None:
    from w365tui.sandbox.schema import BY_LOGICAL

    store = running.sandbox.store
    customer = str(account_id(running.sandbox, "Tailspin Toys, Inc"))
    (techdata,) = store.conn.execute(  # Tailspin holds Business Basic monthly and annually on TechData
        "SELECT work365_subscriptionid FROM work365_subscription WHERE work365_subscription_customer = ? "
        "AND work365_subscriptionname LIKE '%(monthly)'", (customer,)).fetchone()
    manual_provider = store.conn.execute(
        "SELECT work365_providerid FROM work365_provider WHERE work365_name = 'TechData'").fetchone()[0]
    row = {k: v for k, v in (store.get(BY_LOGICAL["work365_subscription"], techdata) or {}).items()
           if k not in ("createdon", "modifiedon", "versionnumber")}
    row.update({"work365_subscriptionid": "00000000-0000-4000-8000-000000000042", "work365_provider": manual_provider,
                "work365_providersubscriptionid": None, "work365_provideraccount": None,
                "work365_subscriptionname": "Microsoft 365 Business Basic (manual)",
                "work365_providerpartnumber": "CFQ7TTC0LH18:0001"})
    # off the event loop: the sandbox serving the app shares the store's lock
    await anyio.to_thread.run_sync(lambda: store.insert(BY_LOGICAL["work365_subscription"], row))
    pane = await open_customer(running, "Tailspin Toys, Inc")
    rows = table_text(pane.table)
    assert "Microsoft 365 Business" in rows[1] and "2 candidates: p to pair" in rows[1]
    assert pane.current_pair() is None and "held in 2 terms or billing cycles; pair it by hand" in detail(running)
    await running.press("enter")  # nothing to replace until the operator pairs it
    assert not isinstance(running.app.screen, ReviewScreen)


async def test_narrowing_to_a_contract_and_esc_keeps_what_was_shown(running: Running) -> None:
    pane = await open_customer(running, "Tailspin Toys, Inc")  # a monthly and an annual contract
    assert len(pane.view.techdata) == 2
    await running.press("C")
    await running.until(lambda: isinstance(running.app.screen, ChoiceScreen))
    await running.press("escape")
    await running.until(lambda: not isinstance(running.app.screen, ChoiceScreen))
    assert pane.contract_id is None and len(pane.view.techdata) == 2
    await running.press("C")
    await running.until(lambda: isinstance(running.app.screen, ChoiceScreen))
    await running.press("down", "enter")  # the first contract after "All billing contracts"
    await running.until(lambda: pane.view is not None and pane.view.contract is not None)
    assert len(pane.view.techdata) == 1
    assert f"· {pane.view.contract.name} ·" in str(running.app.query_one("#su-status", Static).render())
