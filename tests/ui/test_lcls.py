"""Pane 4, the license change log editor, by keys against the sandbox."""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio
import pytest
from textual.widgets import Input, Static

from w365tui.journal import Journal
from w365tui.sandbox.host import Sandbox
from w365tui.sandbox.schema import BY_LOGICAL
from w365tui.ui.panes.lcls import FormScreen, LicenseChangeLogsPane
from w365tui.ui.panes.subscriptions import SubscriptionsPane
from w365tui.ui.screens import ReviewScreen

from .conftest import Running, app_for
from .test_provider_accounts import table_text

pytestmark = pytest.mark.anyio
LCL = BY_LOGICAL["work365_licensechangelog"]
SUB = BY_LOGICAL["work365_subscription"]


def subscription(sandbox: Sandbox, customer: str, manual: bool = True) -> str:
    pattern = "%(manual)" if manual else "%(monthly)"
    ((sub_id,),) = sandbox.store.conn.execute(
        "SELECT s.work365_subscriptionid FROM work365_subscription s JOIN account a ON a.accountid = "
        "s.work365_subscription_customer WHERE a.name = ? AND s.work365_subscriptionname LIKE ?",
        (customer, pattern)).fetchall()
    return sub_id


def states(sandbox: Sandbox, sub_id: str) -> list[tuple[int, int]]:
    return [tuple(r) for r in sandbox.store.conn.execute(
        "SELECT work365_quantity, statecode FROM work365_licensechangelog WHERE work365_subscription = ? "
        "ORDER BY work365_effectivedate", (sub_id,))]


async def open_lcls(running: Running, sub_id: str) -> LicenseChangeLogsPane:
    running.app.open_lcls(sub_id)
    pane = running.app.query_one(LicenseChangeLogsPane)
    await running.until(lambda: pane.listing is not None and str(pane.listing.subscription.id) == sub_id)
    await running.pilot.pause()
    assert running.app.active_pane is pane
    return pane


def footer(running: Running) -> str:
    return str(running.app.query_one("#lc-sigma", Static).render())


def notified(running: Running, text: str) -> bool:
    return any(text in str(n.message) for n in running.app._notifications)


async def test_the_list_with_its_header_and_sigma(running: Running) -> None:
    pane = await open_lcls(running, subscription(running.sandbox, "Humongous Insurance"))
    rows = table_text(pane.table)
    assert rows[1].split()[:4] == ["create", "+55", "2022-11-01", "n/a"] and "yes" in rows[1]  # invoiced
    assert [r.split()[1] for r in rows[1:4]] == ["+55", "+7", "-2"]  # by effective date
    head = str(running.app.query_one("#lc-head", Static).render())
    assert head.startswith("Microsoft 365 E3 (manual) · Humongous Insurance ·") and "quantity 60" in head
    assert footer(running).startswith("Σ LCL 60 = quantity 60")


async def test_a_listing_made_a_piece_at_a_time_shows_every_row_as_made_at_once(
        running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    from w365tui.ui.panes import lcls

    monkeypatch.setattr(lcls, "SHOW_STEP", 1)  # a pause after each row, as after each 500 of 5,000
    pane = await open_lcls(running, subscription(running.sandbox, "Humongous Insurance"))
    assert pane.listing is not None and len(pane.listing.lcls) > 2
    pieces = [(r.key, r.cells) for r in pane.table.visible_rows()]
    pane._show()  # the same listing, made at once
    assert pieces == [(r.key, r.cells) for r in pane.table.visible_rows()]


async def test_toggle_review_apply_and_the_refusals(running: Running) -> None:
    sub_id = subscription(running.sandbox, "Humongous Insurance")
    pane = await open_lcls(running, sub_id)
    await running.press("space")  # the invoiced, archived Create: never unarchived
    await running.until(lambda: notified(running, "is invoiced: an invoiced LCL stays archived"))
    assert not pane.marks
    await running.press("down", "down", "space")  # the last one, Active
    assert len(pane.marks) == 1 and "→archived" in table_text(pane.table)[3]
    assert states(running.sandbox, sub_id)[2] == (-2, 0)  # nothing written yet
    await running.press("enter")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    assert "Σ LCL 60 = quantity 60, before and after" in running.app.screen.plan.summary
    await running.press("y")
    await running.until(lambda: states(running.sandbox, sub_id)[2] == (-2, 1))
    await running.until(lambda: not pane.marks and "archived" in table_text(pane.table)[3])
    assert footer(running).startswith("Σ LCL 60 = quantity 60")  # the footer after: archiving changes no Σ


async def test_a_mark_the_server_made_true_meanwhile_is_dropped_not_reversed(running: Running) -> None:
    sub_id = subscription(running.sandbox, "Humongous Insurance")
    pane = await open_lcls(running, sub_id)
    await running.press("down", "down", "space")  # mark the Active one to archive
    (lcl_id,) = pane.marks
    store = running.sandbox.store
    from w365tui.sandbox.schema import LCL_STATUS_ARCHIVED

    await anyio.to_thread.run_sync(lambda: store.update(LCL, str(lcl_id), {"statecode": 1,
                                                                           "statuscode": LCL_STATUS_ARCHIVED}))
    await running.press("r")  # someone archived it meanwhile: the mark must not become an unarchive
    await running.until(lambda: notified(running, "1 mark dropped: the LCL changed since it was marked"))
    assert not pane.marks


async def test_an_awaiting_provisioning_lcl_is_never_marked(running: Running) -> None:
    pane = await open_lcls(running, subscription(running.sandbox, "Wide World Importers"))
    await running.press("down", "space")
    await running.until(lambda: notified(running, "is Awaiting Provisioning"))
    assert not pane.marks
    await running.press("e")
    await running.until(lambda: notified(running, "Awaiting Provisioning: it is about to be pushed"))
    assert not isinstance(running.app.screen, FormScreen)


async def test_a_range_follows_its_first_row_and_marks_go_in_one_plan(running: Running) -> None:
    sub_id = subscription(running.sandbox, "Fabrikam Inc")  # Create +10 and Update +3 archived, Update -1 active
    pane = await open_lcls(running, sub_id)
    await running.press("v", "down", "down", "v")  # from an archived row: the range unarchives archived rows
    assert len(pane.marks) == 2
    shown = table_text(pane.table)[1:4]
    assert "→active" in shown[0] and "→active" in shown[1] and "→" not in shown[2]
    await running.press("space")  # and the Active one is marked to archive on its own
    await running.press("enter")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    plan = running.app.screen.plan
    assert len(plan.changes) == 3 and not plan.blocking and len({c.unit for c in plan.changes}) == 3
    await running.press("y")
    await running.until(lambda: [s for _, s in states(running.sandbox, sub_id)] == [0, 0, 1])
    await running.until(lambda: footer(running).startswith("Σ LCL 12 = quantity 12"))  # archiving keeps Σ


async def test_an_edit_shows_the_sigma_it_will_produce_before_anything_is_sent(running: Running) -> None:
    sub_id = subscription(running.sandbox, "Fabrikam Inc", manual=False)  # Create +12, Active
    pane = await open_lcls(running, sub_id)
    await running.press("e")
    await running.until(lambda: isinstance(running.app.screen, FormScreen))
    box = running.app.screen.query_one("#form-quantity", Input)
    box.value = "1.5"
    await running.press("enter")
    assert isinstance(running.app.screen, FormScreen)  # refused in place, said why
    assert "'1.5' is not a whole number" in str(running.app.screen.query_one("#form-error", Static).render())
    box.value = "+14"
    await running.press("enter")
    await running.until(lambda: not isinstance(running.app.screen, FormScreen))
    assert "after the edits: Σ LCL 14 ≠ quantity 12 (+2)" in footer(running)
    assert running.app.query_one("#lc-sigma", Static).has_class("mismatch")
    assert "+12→+14" in table_text(pane.table)[1] and states(running.sandbox, sub_id) == [(12, 0)]
    await running.press("escape")  # forgets the edit; nothing was written
    assert not pane.edits and footer(running).startswith("Σ LCL 12 = quantity 12")


async def test_an_inactive_subscriptions_lcls_take_archive_marks_only(running: Running) -> None:
    ((sub_id,),) = running.sandbox.store.conn.execute(
        "SELECT work365_subscriptionid FROM work365_subscription WHERE statecode = 1 LIMIT 1").fetchall()
    pane = await open_lcls(running, sub_id)
    await running.press("e")
    await running.until(lambda: notified(running, "is inactive: its LCLs can only be archived or unarchived"))
    await running.press("space")
    assert len(pane.marks) == 1  # its archived Create, not invoiced: may be unarchived


async def test_a_correcting_lcl_prefilled_with_the_difference(running: Running) -> None:
    sub_id = subscription(running.sandbox, "Fabrikam Inc", manual=False)
    store = running.sandbox.store
    await anyio.to_thread.run_sync(lambda: store.update(SUB, sub_id, {"work365_quantity": 15}))
    pane = await open_lcls(running, sub_id)
    assert "a adds a correcting LCL of +3" in footer(running)
    assert running.app.query_one("#lc-sigma", Static).has_class("mismatch")
    await running.press("a")
    await running.until(lambda: isinstance(running.app.screen, FormScreen))
    assert running.app.screen.query_one("#form-quantity", Input).value == "+3"
    await running.press("enter")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    await running.press("y")
    await running.until(lambda: pane.listing is not None and pane.listing.sigma.matches)
    assert sorted(states(running.sandbox, sub_id)) == [(3, 0), (12, 0)]


async def test_hostile_lcl_names_render_literally(running: Running) -> None:
    sub_id = subscription(running.sandbox, "Fabrikam Inc", manual=False)
    store = running.sandbox.store
    row = dict(store.conn.execute("SELECT * FROM work365_licensechangelog WHERE work365_subscription = ?",
                                  (sub_id,)).fetchone())
    row.update({"work365_licensechangelogid": str(uuid.uuid4()), "work365_name": "[bold red]Evil[/] \x1b[31mred",
                "work365_effectivedate": "1999-01-01", "work365_quantity": 0})
    for key in ("createdon", "modifiedon", "versionnumber"):
        row.pop(key, None)
    await anyio.to_thread.run_sync(lambda: store.insert(LCL, row))
    await open_lcls(running, sub_id)
    shown = str(running.app.query_one("#lc-detail", Static).render())
    assert "[bold red]Evil[/]" in shown and "\x1b" not in shown


async def test_l_in_pane_3_and_the_command_line_open_the_editor(sandbox: Sandbox, tmp_path: Path) -> None:
    sub_id = subscription(sandbox, "Fabrikam Inc")
    app = app_for(sandbox, Journal(tmp_path / "journal.jsonl"), open_subscription=sub_id)
    async with app.run_test(size=(80, 24)) as pilot:
        running = Running(app, pilot, sandbox, Journal(tmp_path / "journal.jsonl"))
        pane = await running.pane_of(LicenseChangeLogsPane)
        await running.until(lambda: pane.listing is not None and app.active_pane is pane)
        customer = sandbox.store.conn.execute("SELECT accountid FROM account WHERE name = 'Humongous Insurance'"
                                              ).fetchone()[0]
        app.open_subscriptions(customer)
        subs = app.query_one(SubscriptionsPane)
        await running.until(lambda: subs.view is not None and app.active_pane is subs)
        await running.press("l")
        await running.until(lambda: app.active_pane is pane and pane.listing is not None
                            and pane.listing.subscription.name == "Microsoft 365 E3 (manual)")
