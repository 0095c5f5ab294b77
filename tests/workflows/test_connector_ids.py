"""Both syncs on books whose connector wrote the other kinds of id: tenant ids in provider
accounts, StreamOne's own ids in subscriptions. Nothing the connector wrote is created twice."""

from __future__ import annotations

from uuid import UUID

import pytest

from w365tui.sandbox.host import Sandbox
from w365tui.session import Session
from w365tui.settings import Profile
from w365tui.workflows import sync
from w365tui.workflows.ids import id_usage

pytestmark = pytest.mark.anyio
GUID_LENGTH = 36


@pytest.fixture(params=[("tenant", "ion"), ("customer", "microsoft")], ids=["tenant,ion", "customer,microsoft"])
def connector_ids(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param


def account_id(sandbox: Sandbox, name: str) -> UUID:
    return UUID(sandbox.store.conn.execute("SELECT accountid FROM account WHERE name = ?", (name,)).fetchone()[0])


async def test_the_kinds_the_book_holds_are_detected(session: Session, connector_ids: tuple[str, str]) -> None:
    provider = await sync.provider(session)
    usage = await id_usage(session.reads, session.profile, provider)
    assert (usage.accounts.effective.value, usage.subscriptions.effective.value) == connector_ids
    assert usage.warnings == ()


async def test_provider_account_sync_creates_only_the_new_customers_keyed_as_the_connector_keys(
        session: Session, sandbox: Sandbox, connector_ids: tuple[str, str]) -> None:
    plan = await sync.prepare_provider_account_sync(session)
    created = {c.values["name"]: c.values["providerspecificid"] for c in plan.changes}
    assert set(created) == {"Litware Inc", "Trey Research"}  # the two customers Work 365 lacks, no duplicate
    tenants = dict(sandbox.store.conn.execute(
        "SELECT c.organization, p.tenant_id FROM ion_customer c JOIN ion_cloud_profile p ON p.customer_id = c.id "
        "WHERE p.short_name = 'Microsoft' AND c.organization IN ('Litware Inc', 'Trey Research')").fetchall())
    customers = dict(sandbox.store.conn.execute(
        "SELECT organization, CAST(id AS TEXT) FROM ion_customer "
        "WHERE organization IN ('Litware Inc', 'Trey Research')").fetchall())
    assert created == (tenants if connector_ids[0] == "tenant" else customers)
    assert plan.stats["id_kind"] == connector_ids[0] and plan.stats["rename"] == 0
    assert (await sync.apply(session, plan)).ok
    assert (await sync.prepare_provider_account_sync(session)).is_empty  # idempotent either way


async def test_subscription_sync_reads_a_tenant_keyed_account_and_writes_the_connectors_id(
        session: Session, sandbox: Sandbox, connector_ids: tuple[str, str]) -> None:
    conn = sandbox.store.conn
    customer = conn.execute("SELECT id FROM ion_customer WHERE organization = 'Tailspin Toys Inc.'").fetchone()[0]
    conn.execute("INSERT INTO ion_subscription (id, customer_id, subscription_id, name, total_licenses, status, "
                 "sku_display_name, billing_cycle, billing_term, start_date) VALUES (9999001, ?, "
                 "'5d0c1f7e-2a43-4b8e-9c61-0f3e7a2b9d15', 'Visio', '3', 'active', 'Visio Plan 2', 'monthly', 'P1M', "
                 "'2025-02-01T00:00:00Z')", (customer,))
    prepared = await sync.prepare_subscription_sync(session, account_id(sandbox, "Tailspin Toys, Inc"))
    plan = prepared.plan
    assert plan.stats["streamone"] == 3 and plan.stats["unchanged"] == 2 and plan.stats["create"] == 1
    (new,) = [c for c in plan.changes if c.role == "subscription"]
    expected = "9999001" if connector_ids[1] == "ion" else "5d0c1f7e-2a43-4b8e-9c61-0f3e7a2b9d15"
    assert new.values["providersubscriptionid"] == expected and plan.stats["id_kind"] == connector_ids[1]
    assert not plan.warnings


@pytest.mark.parametrize("connector_ids", [("tenant", "ion")], ids=["tenant,ion"])
@pytest.mark.parametrize("profile", [Profile(kind="sandbox", provider_account_id="customer",
                                             provider_subscription_id="microsoft")], ids=["set-the-other-way"])
async def test_a_setting_the_org_contradicts_is_followed_and_warned_about_in_each_plan(
        session: Session, sandbox: Sandbox) -> None:
    accounts = await sync.prepare_provider_account_sync(session)
    assert {len(c.values["providerspecificid"]) for c in accounts.changes} == {len(str(306870))}  # customer ids
    assert any("provider_account_id = 'customer'" in w and "duplicates" in w for w in accounts.warnings)
    subs = (await sync.prepare_subscription_sync(session, account_id(sandbox, "Tailspin Toys, Inc"))).plan
    assert any("provider_subscription_id = 'microsoft'" in w for w in subs.warnings)
    assert subs.stats["unchanged"] == 2  # the existing rows are still recognised by StreamOne's ids


@pytest.mark.parametrize("connector_ids", [("tenant", "ion")], ids=["tenant,ion"])
async def test_a_provider_account_whose_tenant_no_customer_holds_is_named_not_skipped(
        session: Session, sandbox: Sandbox) -> None:
    from w365tui.sandbox.schema import BY_LOGICAL

    table = BY_LOGICAL["work365_provideraccount"]
    pa_id = sandbox.store.conn.execute(
        "SELECT work365_provideraccountid FROM work365_provideraccount WHERE work365_provideraccount_name = "
        "'Tailspin Toys Inc.'").fetchone()[0]
    sandbox.store.update(table, pa_id, {"work365_providerspecificaccountid": "00000000-0000-4000-8000-0000000000aa"})
    plan = (await sync.prepare_subscription_sync(session, account_id(sandbox, "Tailspin Toys, Inc"))).plan
    assert any("not read from StreamOne" in w and "no StreamOne customer has this tenant" in w for w in plan.warnings)
    assert plan.stats["streamone"] == 0 and plan.stats["create"] == 0


@pytest.mark.parametrize("connector_ids", [("tenant", "ion")], ids=["tenant,ion"])
async def test_a_tenant_keyed_account_named_unlike_its_customer_is_still_found(
        session: Session, sandbox: Sandbox) -> None:
    from w365tui.sandbox.schema import BY_LOGICAL

    pa_id = sandbox.store.conn.execute(
        "SELECT work365_provideraccountid FROM work365_provideraccount WHERE work365_provideraccount_name = "
        "'Tailspin Toys Inc.'").fetchone()[0]
    sandbox.store.update(BY_LOGICAL["work365_provideraccount"], pa_id, {"work365_provideraccount_name": "TT (old)"})
    plan = (await sync.prepare_subscription_sync(session, account_id(sandbox, "Tailspin Toys, Inc"))).plan
    assert plan.stats["streamone"] == 2 and plan.stats["unchanged"] == 2 and not plan.warnings
    customers = sandbox.store.conn.execute("SELECT COUNT(*) FROM ion_customer").fetchone()[0]
    read = len(session.tenants.by_customer)
    assert read > customers // 2  # the named-alike customer was not it: the others were read until found
    sandbox.faults.add("status", path="cloudProfiles", status=503)  # from now on StreamOne would not answer
    again = (await sync.prepare_subscription_sync(session, account_id(sandbox, "Tailspin Toys, Inc"))).plan
    assert again.stats["unchanged"] == 2 and len(session.tenants.by_customer) == read  # remembered, not read again


@pytest.mark.parametrize("connector_ids", [("tenant", "ion")], ids=["tenant,ion"])
async def test_tenants_streamone_does_not_give_are_left_for_the_next_sync_and_said_so(
        session: Session, sandbox: Sandbox) -> None:
    sandbox.faults.add("status", path="cloudProfiles", status=503)
    plan = await sync.prepare_provider_account_sync(session)
    assert plan.is_empty and plan.stats["not_read"] == plan.stats["customers"] - plan.stats["skipped_inactive"]
    assert any("whose tenant StreamOne did not give" in w for w in plan.warnings)
    assert any(w.startswith("StreamOne said, for one: customer ") and "503" in w for w in plan.warnings)
    sandbox.faults.clear()
    assert {c.values["name"] for c in (await sync.prepare_provider_account_sync(session)).changes} == {
        "Litware Inc", "Trey Research"}


@pytest.mark.parametrize("connector_ids", [("tenant", "ion")], ids=["tenant,ion"])
async def test_tenants_read_once_are_kept_for_the_next_run(session: Session, sandbox: Sandbox, profile) -> None:
    from w365tui.journal import Journal
    from w365tui.session import open_session

    first = await sync.prepare_provider_account_sync(session)
    assert len(first.changes) == 2
    sandbox.faults.add("status", path="cloudProfiles", status=503)  # the next run reads no tenant it knows
    later = await open_session("sandbox", profile, sandbox_url=sandbox.url, journal=Journal(session.journal.path))
    try:
        again = await sync.prepare_provider_account_sync(later)
    finally:
        await later.close()
    assert [c.values for c in again.changes] == [c.values for c in first.changes]
    assert not any("did not give" in w for w in again.warnings)


@pytest.mark.parametrize("connector_ids", [("tenant", "ion")], ids=["tenant,ion"])
async def test_rows_of_both_kinds_are_all_recognised_and_the_mix_is_warned_about(
        session: Session, sandbox: Sandbox) -> None:
    conn = sandbox.store.conn
    # the newest two accounts hold customer ids, the rest tenant ids (a connector changed, say)
    for name in ("Fabrikam, Inc.", "Contoso Ltd"):
        cid = conn.execute("SELECT id FROM ion_customer WHERE organization = ?", (name,)).fetchone()[0]
        conn.execute("UPDATE work365_provideraccount SET work365_providerspecificaccountid = ?, "
                     "createdon = '2030-01-01T00:00:00Z' WHERE work365_provideraccount_name = ?", (str(cid), name))
    plan = await sync.prepare_provider_account_sync(session)
    assert {c.values["name"] for c in plan.changes} == {"Litware Inc", "Trey Research"}  # no duplicate
    assert plan.stats["id_kind"] == "tenant"
    assert any("two kinds of provider-specific id" in w and "2 customer ids" in w for w in plan.warnings)


async def test_a_subscription_sync_that_cannot_read_streamone_fails_rather_than_plan_on_nothing(
        session: Session, sandbox: Sandbox) -> None:
    from w365tui.workflows.base import WorkflowError

    sandbox.faults.add("status", path="/subscriptions", status=503)
    with pytest.raises(WorkflowError, match="the StreamOne subscriptions of Tailspin Toys, Inc could not be read"):
        await sync.prepare_subscription_sync(session, account_id(sandbox, "Tailspin Toys, Inc"))
