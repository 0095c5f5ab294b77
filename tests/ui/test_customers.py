"""The customers pane (2) and the subscriptions pane it opens, driven by keys against the sandbox."""

from __future__ import annotations

from uuid import UUID

import pytest
from textual.widgets import Input, Static

from w365tui.ui.panes.customers import CustomersPane
from w365tui.ui.panes.subscriptions import SubscriptionsPane
from w365tui.ui.screens import ChoiceScreen, ReviewScreen

from .conftest import Running
from .test_provider_accounts import table_text

pytestmark = pytest.mark.anyio


def customers(running: Running) -> CustomersPane:
    return running.app.query_one(CustomersPane)


async def search(running: Running, text: str) -> CustomersPane:
    """Pane 2, ``text`` typed into its search, the answer on screen and the first account read."""
    await running.press("2")
    pane = customers(running)
    assert running.app.focused is pane.box  # the search box has the keys when the list is empty
    for key in text:
        await running.press(key if key != " " else "space")
    await running.until(lambda: pane.text == text and pane.found is not None and pane.current is not None
                        and pane.current.id in pane.views and pane.current.id in pane.detailed)
    return pane


def detail(running: Running) -> str:
    return str(running.app.query_one("#cu-detail", Static).render())


def account_id(running: Running, name: str) -> UUID:
    return UUID(running.sandbox.store.conn.execute("SELECT accountid FROM account WHERE name = ?",
                                                   (name,)).fetchone()[0])


async def test_typing_finds_accounts_by_name_and_shows_the_customer_at_a_glance(running: Running) -> None:
    pane = await search(running, "coho")
    assert [h.account.name for h in pane.hits.values()] == ["Coho Winery"]
    assert "Coho Winery" in table_text(pane.table)[1] and "cohowinery.com" in table_text(pane.table)[1]
    row = table_text(pane.table)[1]
    assert row.split()[-2:] == ["2", "yes"]  # two provider accounts mapped, a default contract
    shown = detail(running)
    assert "2 provider accounts: Coho Winery (cohowinery.com)" in shown
    assert "Contract Coho Winery — Monthly (Monthly · Advance · US Dollar · Standard USD)" in shown
    assert "automatic 1/0" in shown and "No flags" in shown
    assert "1 account for “coho”" in str(running.app.query_one("#cu-status", Static).render())


async def test_a_longer_word_is_ranked_locally_and_a_new_word_asks_the_service(running: Running,
                                                                               monkeypatch) -> None:
    from w365tui.workflows import customers as workflow

    asked: list[str] = []
    real = workflow.find

    async def counting(session, text, **kwargs):
        asked.append(text)
        return await real(session, text, **kwargs)

    monkeypatch.setattr(workflow, "find", counting)
    pane = await search(running, "co")
    assert len(pane.hits) > 3 and asked == ["co"]  # the pause swallowed the single letters
    await running.press("h", "o")
    await running.until(lambda: pane.text == "coho")
    assert [h.account.name for h in pane.hits.values()] == ["Coho Winery"] and asked == ["co"]  # no new question
    for _ in range(4):
        await running.press("backspace")
    for key in "fabrikam":
        await running.press(key)
    await running.until(lambda: [h.account.name for h in pane.hits.values()] == ["Fabrikam Inc"])
    # a new word asks the service (once typing rests, or at once after a rest: a slow machine types slowly)
    assert len(asked) > 1 and asked[-1].startswith("fab") and "fabrikam".startswith(asked[-1])


async def test_an_id_from_a_ticket_finds_the_account_it_is_mapped_to(running: Running) -> None:
    tenant = running.sandbox.store.conn.execute(
        "SELECT p.tenant_id FROM ion_cloud_profile p JOIN ion_customer c ON c.id = p.customer_id "
        "WHERE c.organization = 'Fabrikam, Inc.' AND p.short_name = 'Microsoft'").fetchone()[0]
    pane = await search(running, "306871")  # the StreamOne customer id
    assert [h.account.name for h in pane.hits.values()] == ["Fabrikam Inc"]
    assert next(iter(pane.hits.values())).why == "customer id of Fabrikam, Inc."
    await running.press("escape")  # back to the box
    pane.box.value = tenant  # a pasted tenant id
    await running.until(lambda: pane.text == tenant and pane.found is not None and pane.found.text == tenant)
    assert [h.account.name for h in pane.hits.values()] == ["Fabrikam Inc"]


async def test_hostile_names_are_shown_literally(running: Running) -> None:
    pane = await search(running, "evil")
    assert "[bold red]Evil[/] Corp" in table_text(pane.table)[1]
    await running.press("escape")
    pane.box.value = "red alert"
    await running.until(lambda: pane.found is not None and pane.found.text == "red alert" and pane.current is not None
                        and pane.current.id in pane.views)
    assert detail(running).startswith("Red Alert Ltd")


async def test_flags_and_mismatches_show_in_the_glance(running: Running) -> None:
    await search(running, "fourth coffee")
    assert "⚠ 2 flags: Exchange Online (Plan 1) (monthly): no billing contract" in detail(running)
    await running.press("escape")
    pane = customers(running)
    pane.box.value = "woodgrove"
    await running.until(lambda: pane.found is not None and pane.found.text == "woodgrove"
                        and pane.current is not None and pane.current.id in pane.views)
    assert "Σ LCL ≠ qty on 1" in detail(running)


async def test_map_a_provider_account_from_the_accounts_side(running: Running) -> None:
    pane = await search(running, "contoso ltd")
    assert [h.account.name for h in pane.hits.values()][:2] == ["Contoso Ltd", "Contoso Limited"]  # as typed first
    await running.press("down", "m")
    await running.until(lambda: isinstance(running.app.screen, ChoiceScreen))
    choice = running.app.screen
    rows = table_text(choice.query_one("RecordTable"))
    assert "Contoso Ltd" in rows[1] and "306870" in rows[1] and "contoso.com" in rows[1]  # likeliest first
    await running.press("enter")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    await running.press("y")
    contoso = account_id(running, "Contoso Ltd")
    await running.until(lambda: running.sandbox.store.conn.execute(
        "SELECT COUNT(*) FROM work365_provideraccount WHERE work365_account = ?", (str(contoso),)).fetchone()[0] == 1)
    await running.until(lambda: contoso in pane.views and pane.views[contoso].provider_accounts)
    assert "1 provider account: Contoso Ltd (contoso.com)" in detail(running)


async def test_sync_subscriptions_onto_the_contract_chosen_here(running: Running) -> None:
    conn = running.sandbox.store.conn
    customer = conn.execute("SELECT id FROM ion_customer WHERE organization = 'Tailspin Toys Inc.'").fetchone()[0]
    conn.execute("UPDATE ion_subscription SET total_licenses = '31' WHERE customer_id = ? AND billing_term = 'P1M'",
                 (customer,))
    await search(running, "tailspin")
    await running.press("down", "b")
    await running.until(lambda: isinstance(running.app.screen, ChoiceScreen))
    rows = table_text(running.app.screen.query_one("RecordTable"))
    assert "yes" in rows[1] and "Monthly" in rows[1] and "Annual" in rows[2]  # the default first
    await running.press("down", "enter")  # the annual contract
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    review = running.app.screen
    assert review.plan.title.endswith("Tailspin Toys, Inc — Annual")
    assert review.plan.context.contract_id is not None
    await running.press("escape")


async def test_enter_opens_the_customers_subscriptions(running: Running) -> None:
    await search(running, "fabrikam")
    await running.press("down", "enter")
    subscriptions = running.app.query_one(SubscriptionsPane)
    await running.until(lambda: subscriptions.view is not None)
    assert running.app.active_pane is subscriptions
    status = str(running.app.query_one("#su-status", Static).render())
    assert status.startswith("Fabrikam Inc · 1 manual · 1 TechData · 1 paired")


async def test_esc_leaves_the_search_box_so_digits_change_pane(running: Running) -> None:
    await running.press("2")
    pane = customers(running)
    assert isinstance(running.app.focused, Input)
    await running.press("1")
    assert pane.box.value == "1"  # a digit in the box is typed: account numbers and ids have them
    await running.press("backspace", "escape", "1")
    assert running.app.active_pane is running.pane


async def test_an_answer_to_an_older_question_never_replaces_the_list(running: Running) -> None:
    from w365tui.domain.customers import Found

    pane = await search(running, "coho")
    stale = Found("co", ("co",), (), complete=True)  # an empty answer to what was typed before
    pane.post_message(CustomersPane.Answered(stale, pane.asked - 1))
    await running.pilot.pause()
    assert [h.account.name for h in pane.hits.values()] == ["Coho Winery"] and pane.found is not stale


async def test_after_a_reload_the_cursor_stays_on_its_account_and_the_glance_is_read_again(running: Running) -> None:
    pane = await search(running, "contoso")
    await running.press("down", "down")
    second = pane.current
    assert second is not None
    await running.until(lambda: second.id in pane.views)
    before = pane.views[second.id]
    await running.press("r")
    await running.until(lambda: second.id in pane.views and pane.views[second.id] is not before)
    assert pane.current is not None and pane.current.id == second.id


async def test_a_word_pasted_after_a_rest_is_asked_at_once_and_close_keys_wait(running: Running,
                                                                               monkeypatch) -> None:
    from w365tui.ui.panes import customers as pane_module

    monkeypatch.setattr(pane_module, "SEARCH_PAUSE", 3.0)  # a pause no test waits out
    await running.press("2")
    pane = customers(running)
    pane._keyed = 0.0  # long after the last key
    pane.box.value = "fabrikam"  # a paste
    await running.until(lambda: pane.found is not None and pane.found.text == "fabrikam", timeout=2.0)
    pane.box.value = "coho"  # straight after: typing goes on, so the pane waits
    await running.until(lambda: any(w.group == "customers-search" and w.is_running for w in pane.workers))
    assert pane.found.text == "fabrikam" and "Searching for “coho”" in str(  # asked, still waiting 3 s
        running.app.query_one("#cu-status", Static).render())
    await running.until(lambda: pane.found.text == "coho", timeout=5.0)
    assert [h.account.name for h in pane.hits.values()] == ["Coho Winery"]
