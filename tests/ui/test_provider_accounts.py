"""The provider accounts pane, driven by keys with Textual's pilot against the sandbox."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from w365tui.ui.screens import AccountPickerScreen, ChoiceScreen, HelpScreen, ReviewScreen
from w365tui.ui.widgets.record_table import RecordTable

from .conftest import Running, app_for

pytestmark = pytest.mark.anyio


def mapped_to(running: Running, name: str) -> str | None:
    row = running.sandbox.store.conn.execute(
        "SELECT a.name FROM work365_provideraccount p LEFT JOIN account a ON a.accountid = p.work365_account "
        "WHERE p.work365_provideraccount_name = ?", (name,)).fetchone()
    return row[0] if row else None


def table_text(table: RecordTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


async def filter_to(running: Running, text: str) -> None:
    await running.press("slash", *list(text), "enter")


async def test_the_list_shows_every_provider_account_with_its_state(running: Running) -> None:
    expected = running.sandbox.store.conn.execute(
        "SELECT COUNT(*) FROM work365_provideraccount p JOIN work365_provider v ON v.work365_providerid = p.work365_provider "
        "WHERE v.work365_internalname = 'Providers.TechDataCspProvider' AND p.statecode = 0").fetchone()[0]
    table = running.pane.table
    assert table.total_count == expected == len(running.pane.rows)
    subtitle = running.app.sub_title
    assert subtitle.startswith("SANDBOX · org ") and subtitle.endswith(" · Sandbox Operator")
    status = str(running.app.query_one("#pa-status", Static).render())
    assert f"{expected} accounts" in status and "unmapped" in status
    assert running.app.focused is table


async def test_filtering_reports_shown_of_total(running: Running) -> None:
    await filter_to(running, "coho")
    table = running.pane.table
    assert table.shown_count == 2 and table.total_count > 2
    assert f"2 of {table.total_count} shown" in str(running.app.query_one("#pa-status", Static).render())
    await running.press("escape")
    assert table.shown_count == table.total_count


async def test_map_with_keys_writes_the_mapping_and_journals_it(running: Running) -> None:
    before = sum(1 for r in running.pane.rows.values() if not r.account.is_mapped)
    await filter_to(running, "Contoso Ltd")
    await running.until(lambda: running.pane.current is not None
                        and running.pane.current.account.id in running.pane.suggestions)
    await running.press("m")
    await running.until(lambda: isinstance(running.app.screen, AccountPickerScreen))
    picker = running.app.screen
    rows = picker.query_one(RecordTable).visible_rows()
    assert [r.cells[1] for r in rows][:2] == ["Contoso Ltd", "Contoso Limited"]
    await running.press("enter")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    review = running.app.screen
    assert [(c.verb, c.label) for c in review.plan.changes] == [("update", "Contoso Ltd")]
    await running.press("y")
    await running.until(lambda: mapped_to(running, "Contoso Ltd") == "Contoso Ltd")
    await running.until(lambda: running.pane.current.account.is_mapped)
    (plan,) = running.journal.plans().values()
    assert plan.status == "applied" and plan.title == "Map Contoso Ltd to Contoso Ltd"
    # the counts the status line shows follow the rows (kept as they change, not recounted)
    unmapped = sum(1 for r in running.pane.rows.values() if not r.account.is_mapped)
    assert unmapped == before - 1
    assert f" · {unmapped} unmapped" in str(running.app.query_one("#pa-status", Static).render())


async def test_cancelling_the_confirm_writes_nothing(running: Running) -> None:
    before = running.sandbox.store.canonical_dump()
    await filter_to(running, "Northwind")
    await running.press("m")
    await running.until(lambda: isinstance(running.app.screen, AccountPickerScreen))
    await running.press("enter")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    await running.press("n")
    await running.until(lambda: not isinstance(running.app.screen, ReviewScreen))
    assert running.sandbox.store.canonical_dump() == before
    assert list(running.journal.records()) == []


async def test_unmap_asks_first(running: Running) -> None:
    await filter_to(running, "Southridge")
    await running.press("u")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    await running.press("y")
    await running.until(lambda: mapped_to(running, "Southridge Video") is None)


async def test_a_row_changed_elsewhere_after_review_is_refused_and_nothing_is_written(running: Running) -> None:
    await filter_to(running, "Northwind")
    store = running.sandbox.store
    from w365tui.sandbox.schema import BY_LOGICAL

    pa_id = running.pane.current.account.id
    await running.press("m")
    await running.until(lambda: isinstance(running.app.screen, AccountPickerScreen))
    await running.press("enter")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    store.update(BY_LOGICAL["work365_provideraccount"], str(pa_id), {"work365_syncstatus": None})  # someone else wrote
    await running.press("y")
    await running.until(lambda: any(n.title == "Not applied" and "a row changed" in n.message
                                    for n in running.app._notifications))
    assert mapped_to(running, "Northwind Traders") is None
    assert running.app.is_running


async def test_sync_provider_accounts_previews_then_applies_idempotently(running: Running) -> None:
    await running.press("a")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    assert [c.label for c in running.app.screen.plan.changes] == ["Litware Inc", "Trey Research"]
    await running.press("y")
    await running.until(lambda: "Litware Inc" in {r.account.name for r in running.pane.rows.values()})
    assert mapped_to(running, "Trey Research") is None  # created, unmapped
    await running.press("a")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    assert running.app.screen.plan.is_empty and not running.app.screen.can_apply
    await running.press("escape")


async def test_sync_subscriptions_for_a_mapped_account(running: Running) -> None:
    store = running.sandbox.store
    customer = store.conn.execute("SELECT id FROM ion_customer WHERE organization = 'Woodgrove Bank'").fetchone()[0]
    store.conn.execute("UPDATE ion_subscription SET total_licenses = '8' WHERE customer_id = ? AND billing_term = 'P1M'",
                       (customer,))
    await filter_to(running, "Woodgrove")
    await running.press("b")  # one active contract: no question asked
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    plan = running.app.screen.plan
    assert [(c.verb, c.role) for c in plan.changes] == [("update", "subscription"), ("create", "licensechangelog")]
    assert plan.changes[0].before == {"quantity": 5} and plan.changes[0].after == {"quantity": 8}
    assert plan.changes[1].values["quantity"] == 3
    await running.press("y")
    await running.until(lambda: store.conn.execute(
        "SELECT COUNT(*) FROM work365_subscription s JOIN account a ON a.accountid = s.work365_subscription_customer "
        "WHERE a.name = 'Woodgrove Bank' AND s.work365_quantity = 8").fetchone()[0] == 1)


async def test_hostile_names_render_literally_in_list_detail_and_dialogs(running: Running) -> None:
    table = running.pane.table
    lines = "\n".join(table_text(table))
    assert "[bold red]Evil[/] Corp" in lines
    assert "\\x1b[31mRed Alert" in lines and "\x1b" not in lines
    await filter_to(running, "evil")
    detail = running.app.query_one("#pa-detail", Static).render()
    assert "[bold red]Evil[/] Corp" in detail.plain
    await running.press("m")
    await running.until(lambda: isinstance(running.app.screen, AccountPickerScreen))
    title = running.app.screen.query(Static).first().render()
    assert "[bold red]Evil[/] Corp" in title.plain
    await running.press("enter")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    body = "\n".join(s.render().plain for s in running.app.screen.query(Static))
    assert body.count("[bold red]Evil[/] Corp") >= 2  # provider account and CRM account, as typed
    assert "[bold red]Evil[/]" in "\n".join(table_text(running.app.screen.query_one(RecordTable)))


async def test_help_lists_keys_with_their_binding_ids(running: Running) -> None:
    await running.press("question_mark")
    assert isinstance(running.app.screen, HelpScreen)
    ids = {row[2] for row in running.app.screen.rows}
    assert {"accounts.map", "accounts.unmap", "accounts.sync", "list.filter", "list.down", "app.quit"} <= ids
    await running.press("escape")
    assert not isinstance(running.app.screen, HelpScreen)


async def test_command_palette_offers_what_fits_the_selection(running: Running) -> None:
    await filter_to(running, "Fabrikam")
    titles = {c.title for c in running.app.get_system_commands(running.app.screen)}
    assert {"Unmap provider account", "Sync subscriptions", "Sync provider accounts", "Open the journal"} <= titles
    assert "Map provider account" in titles  # m changes a mapping too
    await filter_to(running, "Contoso Ltd")
    titles = {c.title for c in running.app.get_system_commands(running.app.screen)}
    assert "Map provider account" in titles and "Unmap provider account" not in titles
    assert "Sync subscriptions" not in titles


async def test_long_work_can_be_cancelled_with_escape(running: Running) -> None:
    running.sandbox.faults.add("latency", path="/customers$", delay=10, times=1)
    await running.press("a")
    await running.until(lambda: "Reading StreamOne customers" in str(running.app.query_one("#pa-status", Static).render()))
    await running.press("escape")
    await running.until(lambda: any(n.message == "Cancelled." for n in running.app._notifications))
    assert not isinstance(running.app.screen, ReviewScreen)


async def test_while_the_list_loads_the_status_says_how_far_and_what_the_filter_holds(running: Running) -> None:
    def status() -> str:
        return str(running.app.query_one("#pa-status", Static).render())

    running.sandbox.faults.add("latency", path="work365_provideraccounts", delay=10, times=1)
    await running.press("r")
    await running.until(lambda: status().startswith("Loading provider accounts…"))
    await filter_to(running, "coho")
    assert "Loading provider accounts…" in status() and "· 2 hold “coho”" in status()  # not overwritten by the counts
    await running.press("escape")  # cancels the load
    await running.until(lambda: any(n.message == "Cancelled." for n in running.app._notifications))
    assert "Loading" not in status() and f"2 of {running.pane.table.total_count} shown" in status()
    # the same while StreamOne's tenants are read after the list
    running.sandbox.faults.add("latency", path="/customers$", delay=10, times=1)
    await running.press("r")
    await running.until(lambda: status().startswith("Reading tenants from StreamOne…"))
    assert "· 2 hold “coho”" in status()
    await running.press("escape")
    await running.until(lambda: "Reading" not in status())
    assert f"2 of {running.pane.table.total_count} shown" in status()


async def test_a_failing_service_becomes_a_notification(running: Running) -> None:
    running.sandbox.faults.add("status", path="work365_provideraccounts", status=400)
    await running.press("r")
    await running.until(lambda: any(n.severity == "error" for n in running.app._notifications))
    assert running.app.is_running


async def test_keys_can_be_remapped_by_binding_id(sandbox, tmp_path) -> None:
    from w365tui.journal import Journal

    app = app_for(sandbox, Journal(tmp_path / "j.jsonl"), keymap={"accounts.map": "M"})
    async with app.run_test(size=(80, 24)) as pilot:
        state = Running(app, pilot, sandbox, Journal(tmp_path / "j.jsonl"))
        await state.until(lambda: state.pane.rows)
        await state.press("m")
        assert not isinstance(app.screen, AccountPickerScreen)
        await state.press("M")
        await state.until(lambda: isinstance(app.screen, AccountPickerScreen))


async def test_copy_offers_each_id_and_says_which_it_copied(running: Running) -> None:
    await filter_to(running, "Fabrikam")
    await running.press("c")
    await running.until(lambda: isinstance(running.app.screen, ChoiceScreen))
    offered = [row.cells[0] for row in running.app.screen.query_one(RecordTable).visible_rows()]
    assert offered == ["Tenant id (Microsoft)", "StreamOne customer id", "Provider account record id (Dataverse)",
                       "CRM account record id (Dataverse)"]
    await running.press("j", "enter")
    await running.until(lambda: running.app.clipboard == running.pane.current.account.provider_specific_id)
    assert any(n.message.startswith("Copied the streamOne customer id") or "StreamOne customer id" in n.message
               for n in running.app._notifications)


async def test_ansi_theme_and_unknown_theme(sandbox, tmp_path) -> None:
    from w365tui.journal import Journal

    app = app_for(sandbox, Journal(tmp_path / "j.jsonl"), theme="ansi-dark")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "ansi-dark"
    app = app_for(sandbox, Journal(tmp_path / "j.jsonl"), theme="no-such-theme")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme != "no-such-theme"
        assert any("unknown theme 'no-such-theme'" in n.message for n in app._notifications)


async def test_no_color_is_honoured(sandbox, tmp_path, monkeypatch) -> None:
    from w365tui.journal import Journal

    monkeypatch.setenv("NO_COLOR", "1")
    app = app_for(sandbox, Journal(tmp_path / "j.jsonl"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.no_color


async def test_every_list_filters_with_slash(running: Running) -> None:
    await running.press("question_mark")
    help_table = running.app.screen.query_one(RecordTable)
    total = help_table.shown_count
    await running.press("slash", *"accounts.")
    assert 0 < help_table.shown_count < total
    assert all(row.cells[2].startswith("accounts.") for row in help_table.visible_rows())
    await running.press("escape")  # clears the filter first
    assert help_table.shown_count == total
    await running.press("escape")  # then closes the help
    assert not isinstance(running.app.screen, HelpScreen)


async def test_tenants_beyond_the_preload_are_read_when_the_cursor_arrives(sandbox, tmp_path, monkeypatch) -> None:
    from w365tui.journal import Journal
    from w365tui.ui.panes import provider_accounts

    monkeypatch.setattr(provider_accounts, "TENANT_PRELOAD", 2)
    app = app_for(sandbox, Journal(tmp_path / "j.jsonl"))
    async with app.run_test(size=(80, 24)) as pilot:
        state = Running(app, pilot, sandbox, Journal(tmp_path / "j.jsonl"))
        await state.until(lambda: state.pane.loaded and state.pane.tenants_loaded)
        assert len(state.pane.profiles) == 2
        await filter_to(state, "Woodgrove")
        key = state.pane.current.account.provider_specific_id
        await state.until(lambda: key in state.pane.profiles)
        assert state.pane.current.profile.customer_domain == "woodgrovebank.com"


async def test_unknown_binding_ids_in_the_keymap_are_reported(sandbox, tmp_path) -> None:
    from w365tui.journal import Journal

    app = app_for(sandbox, Journal(tmp_path / "j.jsonl"), keymap={"accounts.map": "M", "accounts.mapp": "x"})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        warnings = [n.message for n in app._notifications if n.severity == "warning"]
        assert any("accounts.mapp" in w and "accounts.map," not in w for w in warnings)


async def test_a_read_only_profile_refuses_writes(sandbox, tmp_path) -> None:
    from w365tui.journal import Journal
    from w365tui.settings import Profile
    from w365tui.ui.app import W365App

    journal = Journal(tmp_path / "j.jsonl")
    app = W365App("sandbox", Profile(kind="sandbox", read_only=True), sandbox_url=sandbox.url, journal=journal)
    async with app.run_test(size=(80, 24)) as pilot:
        state = Running(app, pilot, sandbox, journal)
        await state.until(lambda: state.pane.loaded and state.pane.tenants_loaded)
        assert "READ-ONLY" in app.sub_title
        await filter_to(state, "Contoso Ltd")
        await state.press("m")
        assert not isinstance(app.screen, AccountPickerScreen)
        assert any(n.message == "This profile is read-only." for n in app._notifications)
        await state.press("a")
        await state.until(lambda: isinstance(app.screen, ReviewScreen))
        await state.press("y")  # refused: the review stays, nothing is written
        assert isinstance(app.screen, ReviewScreen)
        await state.press("escape")
    assert list(journal.records()) == []


async def test_suggestions_stay_on_screen_while_they_are_made_again(running: Running) -> None:
    def detail() -> str:
        return str(running.app.query_one("#pa-detail", Static).render())

    def suggesting() -> bool:
        return any(w.group == "accounts-suggest" and w.is_running for w in running.pane.workers)

    await filter_to(running, "Contoso Ltd")
    await running.until(lambda: "Suggested: Contoso Ltd" in detail())
    running.sandbox.faults.add("latency", path="/accounts", delay=2, times=3)
    await running.press("r")  # the list read again: what was suggested is made again
    await running.until(suggesting)
    assert "Suggested: Contoso Ltd" in detail() and "Looking for" not in detail()  # not cleared meanwhile
    await running.until(lambda: not suggesting() and running.pane.tenants_loaded, timeout=20)
    assert "Suggested: Contoso Ltd" in detail()


async def test_typing_in_the_map_dialog_reaches_the_search_from_any_focus(running: Running) -> None:
    await filter_to(running, "Contoso Ltd")
    await running.until(lambda: running.pane.current is not None
                        and running.pane.current.account.id in running.pane.suggestions)
    await running.press("m")
    await running.until(lambda: isinstance(running.app.screen, AccountPickerScreen))
    picker = running.app.screen
    picker.query_one(RecordTable).focus()  # as a click on the results would
    await running.pilot.pause()
    await running.press(*"Contoso Pharma")  # 's', 'h' and the rest are typed, not table keys
    box = picker.query_one("#picker-search")
    assert box.value == "Contoso Pharma" and box.has_focus
    assert picker.query_one(RecordTable).sort_state == (None, False)  # 's' did not sort the results
    await running.press("enter")  # the search is still on its way: enter runs it, it does not choose
    await running.until(lambda: picker.searched == "Contoso Pharma")
    assert isinstance(running.app.screen, AccountPickerScreen)
    assert [r.cells[1] for r in picker.query_one(RecordTable).visible_rows()] == ["Contoso Pharmaceuticals"]
    await running.press("enter")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    assert running.app.screen.plan.title == "Map Contoso Ltd to Contoso Pharmaceuticals"


async def test_the_map_dialog_tells_near_duplicates_apart(running: Running) -> None:
    await filter_to(running, "Contoso Ltd")
    await running.until(lambda: running.pane.current is not None
                        and running.pane.current.account.id in running.pane.suggestions)
    await running.press("m")
    await running.until(lambda: isinstance(running.app.screen, AccountPickerScreen))
    rows = {r.cells[1]: r.cells for r in running.app.screen.query_one(RecordTable).visible_rows()}
    assert rows["Contoso Ltd"][2:4] == ("contoso.com", "Seattle")
    assert rows["Contoso Limited"][3] == "Manchester"
    why = str(running.app.screen.query_one("#picker-why", Static).render())
    assert "website domain contoso.com" in why  # the full reasons of the highlighted row, never cut


async def test_enter_opens_a_row_and_its_keys_act_on_it(running: Running) -> None:
    from w365tui.ui.panes.provider_accounts import ProviderAccountScreen

    await filter_to(running, "Fabrikam")
    await running.press("enter")
    await running.until(lambda: isinstance(running.app.screen, ProviderAccountScreen))
    text = "\n".join(str(s.render()) for s in running.app.screen.query(Static))
    assert "Tenant domain fabrikam.com" in " ".join(text.split()) and "Fabrikam Inc" in text
    await running.press("c")  # the detail's c runs the pane's copy
    await running.until(lambda: isinstance(running.app.screen, ChoiceScreen))
    await running.press("escape")


async def test_the_sorted_column_is_marked_and_the_filter_finds_tenant_ids(running: Running) -> None:
    header = table_text(running.pane.table)[0]
    assert "Provider account▲" in header
    await running.press("S")
    assert "Provider account▼" in table_text(running.pane.table)[0]
    tenant = next(r.profile.customer_tenant_id for r in running.pane.rows.values()
                  if r.account.name == "Adatum Corporation")
    await filter_to(running, tenant[:13])  # not a column: the filter searches it all the same
    assert [r.cells[1] for r in running.pane.table.visible_rows()] == ["Adatum Corporation"]


async def test_textual_s_own_quit_hint_keeps_its_markup_and_service_text_does_not(running: Running) -> None:
    running.app.action_help_quit()  # what ctrl+c runs
    running.app.say("[bold]Evil[/]")
    await running.until(lambda: len(running.app._notifications) >= 2)
    hint = next(n for n in running.app._notifications if n.title == "Do you want to quit?")
    assert hint.markup  # rendered bold, not shown as [b]q[/b]
    assert not next(n for n in running.app._notifications if n.message == "[bold]Evil[/]").markup


def test_a_16_colour_terminal_gets_the_terminal_s_own_colours() -> None:
    from rich.console import Console

    from w365tui.ui.app import few_colours

    for term, few in (("screen", True), ("xterm", True), ("xterm-256color", False)):
        console = Console(force_terminal=True, _environ={"TERM": term})
        assert few_colours(console.color_system) is few, term


async def test_an_unreachable_sandbox_says_so_and_r_connects_once_it_is_up(tmp_path) -> None:
    import socket

    from w365tui.journal import Journal
    from w365tui.sandbox.host import Sandbox

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sandbox = Sandbox(Sandbox.in_memory(seed=1).store, port=port)
    app = app_for(sandbox, Journal(tmp_path / "j.jsonl"))
    app.sandbox_url = f"http://127.0.0.1:{port}"
    async with app.run_test(size=(80, 24)) as pilot:
        state = Running(app, pilot, sandbox, Journal(tmp_path / "j.jsonl"))
        await state.until(lambda: "press r to try again" in str(app.query_one("#pa-status", Static).render()))
        for key in ("p", "a", "m", "b"):  # each says it is not connected, none raises
            await state.press(key)
        assert not any("AssertionError" in n.message or n.message == "" for n in app._notifications)
        assert any("Not connected yet" in n.message for n in app._notifications)
        sandbox.start()
        try:
            await state.press("r")
            await state.until(lambda: state.pane.loaded, timeout=30)
            assert app.session is not None and "not connected" not in app.sub_title
        finally:
            await app.session.close() if app.session else None
            app.session = None
            sandbox.stop()
            sandbox.store.close()


async def test_escape_while_a_plan_is_applied_lets_it_run_to_its_end(running: Running) -> None:
    running.sandbox.faults.add("latency", path=r"\$batch$", delay=1.0, times=1)
    await running.press("a")
    await running.until(lambda: isinstance(running.app.screen, ReviewScreen))
    await running.press("y")
    await running.until(lambda: running.pane.applying)
    await running.press("escape")
    await running.until(lambda: any("runs to its end" in n.message for n in running.app._notifications))
    await running.until(lambda: "Litware Inc" in {r.account.name for r in running.pane.rows.values()})
    assert not any(n.message == "Cancelled." for n in running.app._notifications)
    (plan,) = running.journal.plans().values()
    assert plan.status == "applied"


async def test_a_user_name_or_message_holding_escape_sequences_never_reaches_the_terminal(sandbox, tmp_path) -> None:
    from w365tui.journal import Journal
    from w365tui.sandbox.dataverse import USER_ID
    from w365tui.sandbox.schema import BY_LOGICAL

    sandbox.store.update(BY_LOGICAL["systemuser"], USER_ID, {"fullname": "Eve\x1b]2;owned\x07 Ops"})
    app = app_for(sandbox, Journal(tmp_path / "j.jsonl"))
    async with app.run_test(size=(80, 24)) as pilot:
        state = Running(app, pilot, sandbox, Journal(tmp_path / "j.jsonl"))
        await state.until(lambda: app.session is not None)
        assert "\x1b" not in app.sub_title and "\\x1b]2;owned\\x07 Ops" in app.sub_title
        app.say("bad \x1b[2J name", title="\x1b]0;t\x07")
        await state.until(lambda: any("bad" in n.message for n in app._notifications))
        shown = next(n for n in app._notifications if "bad" in n.message)
        assert "\x1b" not in shown.message + shown.title and "\\x1b[2J" in shown.message
