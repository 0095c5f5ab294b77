"""The use cases, as the TUI and the command line call them, against the demo sandbox."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from w365tui.domain.enums import LclEvent, ProvisioningStatus
from w365tui.domain.models import lcl_total
from w365tui.sandbox.host import Sandbox
from w365tui.sandbox.schema import BY_LOGICAL, PROVIDER_TYPES
from w365tui.session import Session
from w365tui.workflows import base, mapping, plans, sync
from w365tui.workflows.base import WorkflowError

pytestmark = pytest.mark.anyio
AUTOMATIC = dict((label, value) for value, label in PROVIDER_TYPES)["Automatic"]


def account_id(sandbox: Sandbox, name: str) -> UUID:
    return UUID(sandbox.store.conn.execute("SELECT accountid FROM account WHERE name = ?", (name,)).fetchone()[0])


@pytest.mark.parametrize("provider", ["TechData", "Microsoft Direct", "Pax8"])
async def test_both_syncs_refuse_a_provider_that_is_not_automatic_streamone(session: Session, sandbox: Sandbox,
                                                                            provider: str) -> None:
    if provider == "Pax8":  # an automatic provider with a connector that is not StreamOne's
        sandbox.store.insert(BY_LOGICAL["work365_provider"], {
            "work365_providerid": "11111111-2222-3333-4444-555555555555", "work365_name": "Pax8",
            "work365_internalname": "Providers.Pax8Provider", "work365_providertype": AUTOMATIC,
            "statecode": 0, "statuscode": 1})
    before = sandbox.store.canonical_dump()
    accounts = await sync.prepare_provider_account_sync(session, provider)
    assert accounts.refused and accounts.is_empty
    assert "StreamOne" in accounts.blocking[0] and provider in accounts.blocking[0]
    subs = await sync.prepare_subscription_sync(session, account_id(sandbox, "Fabrikam Inc"), which=provider)
    assert subs.plan.refused and subs.plan.is_empty
    for plan in (accounts, subs.plan):
        with pytest.raises(base.PlanRefused):
            await base.apply(session, plan)
    assert sandbox.store.canonical_dump() == before  # nothing written
    assert list(session.journal.records()) == []


async def test_subscription_sync_needs_a_mapped_tenant_and_a_contract(session: Session, sandbox: Sandbox) -> None:
    unmapped = await sync.prepare_subscription_sync(session, account_id(sandbox, "Contoso Ltd"))
    assert unmapped.plan.refused and "map its tenant first" in unmapped.plan.blocking[0]
    with pytest.raises(WorkflowError, match="not a CRM account id"):
        await sync.prepare_subscription_sync(session, "contoso")
    with pytest.raises(WorkflowError, match="no CRM account has the id"):
        await sync.prepare_subscription_sync(session, "00000000-0000-0000-0000-000000000001")


async def test_subscription_sync_writes_quantities_with_their_lcls_and_settles_create_lcls(
        session: Session, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from w365tui.sandbox import dataverse
    from w365tui.sandbox.schema import option_value

    conn = sandbox.store.conn
    customer = conn.execute("SELECT id FROM ion_customer WHERE organization = 'Tailspin Toys Inc.'").fetchone()[0]
    conn.execute("UPDATE ion_subscription SET total_licenses = '15' WHERE customer_id = ? AND billing_term = 'P1M'",
                 (customer,))
    conn.execute("INSERT INTO ion_subscription (id, customer_id, subscription_id, name, total_licenses, status, "
                 "sku_display_name, billing_cycle, billing_term, start_date) VALUES (9999001, ?, 'new-guid-0001', "
                 "'Visio', '3', 'active', 'Visio Plan 2', 'monthly', 'P1M', '2025-02-01T00:00:00Z')", (customer,))
    tailspin = account_id(sandbox, "Tailspin Toys, Inc")
    prepared = await sync.prepare_subscription_sync(session, tailspin, today=date(2025, 3, 1))
    plan = prepared.plan
    assert plan.stats["create"] == 1 and plan.stats["quantity"] == 1 and plan.stats["unchanged"] == 1
    assert plan.notes  # the preview says Work 365 writes the Create LCL and what follows if it is awaiting
    # a service that writes the Create LCL Awaiting Provisioning, as a real org might:
    monkeypatch.setattr(dataverse, "PROV_NOT_APPLICABLE",
                        option_value("work365_licensechangelog", "work365_provisioningstatus", "Awaiting Provisioning"))
    done = await sync.apply_subscription_sync(session, prepared)
    monkeypatch.undo()
    assert done.ok and done.followup is not None and done.followup.ok
    assert len(done.followup.plan.changes) == 1  # only the new subscription's Create LCL
    pairs = {s.provider_subscription_id: (s, lcls) for s, lcls in
             await session.reads.subscriptions(account_id=prepared.account.id)}
    new, new_lcls = pairs["new-guid-0001"]
    assert [(x.event, x.quantity, x.provisioning_status) for x in new_lcls] == [
        (LclEvent.CREATE, 3, ProvisioningStatus.NOT_APPLICABLE)]
    changed = next(s for s, _ in pairs.values() if s.quantity == 15)
    assert lcl_total(pairs[changed.provider_subscription_id][1]) == 15
    again = await sync.prepare_subscription_sync(session, tailspin)
    assert again.plan.is_empty  # idempotent
    # both plans are journalled, the follow-up as its own plan
    kinds = [r.kind for r in session.journal.plans().values()]
    assert kinds == ["sync-subscriptions", "settle-create-lcls"]


async def test_undoing_a_subscription_sync_restores_quantities_and_deactivates_what_it_created(
        session: Session, sandbox: Sandbox) -> None:
    conn = sandbox.store.conn
    customer = conn.execute("SELECT id FROM ion_customer WHERE organization = 'Woodgrove Bank'").fetchone()[0]
    conn.execute("UPDATE ion_subscription SET total_licenses = '8' WHERE customer_id = ? AND billing_term = 'P1M'",
                 (customer,))
    conn.execute("INSERT INTO ion_subscription (id, customer_id, subscription_id, name, total_licenses, status, "
                 "sku_display_name, billing_cycle, billing_term, start_date) VALUES (9999003, ?, 'guid-undo', "
                 "'Teams', '2', 'active', 'Teams Essentials', 'monthly', 'P1M', '2025-02-01T00:00:00Z')", (customer,))
    woodgrove = account_id(sandbox, "Woodgrove Bank")
    before = {s.id: (s.quantity, lcl_total(lcls)) for s, lcls in await session.reads.subscriptions(account_id=woodgrove)}
    prepared = await sync.prepare_subscription_sync(session, woodgrove)
    done = await sync.apply_subscription_sync(session, prepared)
    assert done.ok
    undo = await plans.prepare_undo(session, done.plan_id)
    assert {c.verb for c in undo.changes} == {"set state", "update", "create"}  # deactivate, quantity back, reversal
    assert (await plans.apply_inverse(session, undo)).ok
    after = {s.id: s for s, _ in await session.reads.subscriptions(account_id=woodgrove)}
    lcls = {s.id: lcl_total(x) for s, x in await session.reads.subscriptions(account_id=woodgrove)}
    for sub_id, (quantity, total) in before.items():
        assert after[sub_id].quantity == quantity and lcls[sub_id] == total  # Σ LCL = quantity again
    created = [s for s in after.values() if s.provider_subscription_id == "guid-undo"]
    assert len(created) == 1 and not created[0].is_active  # deactivated, never deleted


async def test_mapping_never_replaces_without_being_asked(session: Session, sandbox: Sandbox) -> None:
    provider = await session.reads.streamone_provider(session.profile.streamone_connectors)
    fabrikam = next(a for a in await session.reads.provider_accounts(provider.id) if a.name == "Fabrikam, Inc.")
    other = account_id(sandbox, "Contoso Ltd")
    refused = await mapping.prepare_map(session, fabrikam.id, other)
    assert refused.refused and "--replace" in refused.blocking[0]
    replaced = await mapping.prepare_map(session, fabrikam.id, other, replace=True)
    assert not replaced.refused and any("replaces the mapping to Fabrikam Inc" in w for w in replaced.warnings)
    assert (await base.apply(session, replaced)).ok
    unmap = await mapping.prepare_unmap(session, fabrikam.id)
    assert unmap.changes[0].before == {"account": unmap.changes[0].before["account"]}
    assert (await base.apply(session, unmap)).ok
    assert (await mapping.prepare_unmap(session, fabrikam.id)).is_empty
    coho = next(a for a in await session.reads.provider_accounts(provider.id) if a.name == "Coho Winery")
    second = await mapping.prepare_map(session, next(a for a in await session.reads.provider_accounts(
        provider.id, unmapped_only=True) if a.name == "Contoso Ltd").id, coho.account_id)
    assert any("already has 2 provider accounts of this provider" in w for w in second.warnings)


async def test_a_provider_account_deactivated_in_work365_is_reactivated_and_renamed_in_one_write(
        session: Session, sandbox: Sandbox) -> None:
    conn = sandbox.store.conn
    pa_id = conn.execute("SELECT work365_provideraccountid FROM work365_provideraccount WHERE "
                         "work365_provideraccount_name = 'Northwind Traders'").fetchone()[0]
    sandbox.store.update(BY_LOGICAL["work365_provideraccount"], pa_id, {"statecode": 1, "statuscode": 2})
    conn.execute("UPDATE ion_customer SET organization = 'Northwind Group' WHERE organization = 'Northwind Traders'")
    plan = await sync.prepare_provider_account_sync(session)
    (back,) = [c for c in plan.changes if str(c.id) == pa_id]
    assert back.verb == "set state" and back.values_after == {"name": "Northwind Group"}
    assert any("reactivated" in w and "Northwind Group" in w for w in plan.warnings)
    applied = await base.apply(session, plan)
    assert applied.ok
    assert tuple(conn.execute("SELECT work365_provideraccount_name, statecode FROM work365_provideraccount WHERE "
                              "work365_provideraccountid = ?", (pa_id,)).fetchone()) == ("Northwind Group", 0)
    assert (await sync.prepare_provider_account_sync(session)).is_empty
    undo = await plans.prepare_undo(session, applied.plan_id)
    assert (await plans.apply_inverse(session, undo)).ok
    assert tuple(conn.execute("SELECT work365_provideraccount_name, statecode FROM work365_provideraccount WHERE "
                              "work365_provideraccountid = ?", (pa_id,)).fetchone()) == ("Northwind Traders", 1)


def awaiting_create_lcls(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service that writes a new subscription's Create LCL Awaiting Provisioning, as a real org might."""
    from w365tui.sandbox import dataverse
    from w365tui.sandbox.schema import option_value

    monkeypatch.setattr(dataverse, "PROV_NOT_APPLICABLE",
                        option_value("work365_licensechangelog", "work365_provisioningstatus", "Awaiting Provisioning"))


def new_ion_subscription(sandbox: Sandbox, organization: str, guid: str) -> None:
    conn = sandbox.store.conn
    customer = conn.execute("SELECT id FROM ion_customer WHERE organization = ?", (organization,)).fetchone()[0]
    conn.execute("INSERT INTO ion_subscription (id, customer_id, subscription_id, name, total_licenses, status, "
                 "sku_display_name, billing_cycle, billing_term, start_date) VALUES (?, ?, ?, 'Teams', '2', 'active', "
                 "'Teams Essentials', 'monthly', 'P1M', '2025-02-01T00:00:00Z')", (abs(hash(guid)) % 10**8, customer,
                                                                                     guid))


async def test_finishing_a_subscription_sync_left_in_doubt_settles_its_create_lcls(
        session: Session, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    new_ion_subscription(sandbox, "Woodgrove Bank", "guid-resumed")
    awaiting_create_lcls(monkeypatch)
    prepared = await sync.prepare_subscription_sync(session, account_id(sandbox, "Woodgrove Bank"))
    sandbox.faults.add("drop_after", path=r"\$batch$", times=1)
    lost = await sync.apply_subscription_sync(session, prepared)
    assert lost.status == "in doubt" and lost.followup is None  # nothing is known yet: nothing is settled
    resumed = await plans.apply_resume(session, await plans.prepare_resume(session, lost.plan_id))
    assert resumed.ok and resumed.followup is not None and resumed.followup.ok and resumed.all_done
    statuses = [lcl.provisioning_status for s, lcls in await session.reads.subscriptions(
        account_id=prepared.account.id) if s.provider_subscription_id == "guid-resumed" for lcl in lcls]
    assert statuses == [ProvisioningStatus.NOT_APPLICABLE]


async def test_a_follow_up_that_fails_is_reported_and_the_sync_is_not_called_done(
        session: Session, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    new_ion_subscription(sandbox, "Woodgrove Bank", "guid-followup")
    awaiting_create_lcls(monkeypatch)
    prepared = await sync.prepare_subscription_sync(session, account_id(sandbox, "Woodgrove Bank"))
    sandbox.faults.add("drop_before", path=r"\$batch$", times=1, skip=1)  # the follow-up's batch is lost
    done = await sync.apply_subscription_sync(session, prepared)
    assert done.ok and done.followup is not None and done.followup.status == "in doubt"
    assert not done.all_done
    # the follow-up left in doubt guards its row: the next sync says so instead of writing it twice
    again = await sync.prepare_subscription_sync(session, account_id(sandbox, "Woodgrove Bank"))
    assert again.plan.refused and f"plan {done.followup.plan_id[:8]}" in again.plan.blocking[0]


async def test_a_follow_up_that_cannot_be_read_back_is_reported(session: Session, sandbox: Sandbox,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    awaiting_create_lcls(monkeypatch)
    new_ion_subscription(sandbox, "Woodgrove Bank", "guid-unread")
    prepared = await sync.prepare_subscription_sync(session, account_id(sandbox, "Woodgrove Bank"))
    sandbox.faults.clear()
    sandbox.faults.add("status", path="work365_subscriptions", status=400, times=1)  # the read-back fails
    unread = await sync.apply_subscription_sync(session, prepared)
    assert unread.ok and unread.followup is None and "could not be checked" in (unread.followup_error or "")
    assert not unread.all_done


async def test_subscriptions_synced_before_the_mapping_are_put_on_the_customer_not_created_again(
        session: Session, sandbox: Sandbox) -> None:
    conn = sandbox.store.conn
    customer = conn.execute("SELECT id FROM ion_customer WHERE organization = 'School of Fine Art'").fetchone()[0]
    conn.execute("UPDATE ion_subscription SET total_licenses = '33' WHERE customer_id = ?", (customer,))  # was 30
    provider = await session.reads.streamone_provider(session.profile.streamone_connectors)
    pa = next(a for a in await session.reads.provider_accounts(provider.id) if a.name == "School of Fine Art")
    school = account_id(sandbox, "School of Fine Art")
    assert (await base.apply(session, await mapping.prepare_map(session, pa.id, school))).ok
    (orphan, orphan_lcls), = await session.reads.subscriptions(provider_account_ids=[pa.id])
    assert orphan.customer_id is None and all(lcl.account_id is None for lcl in orphan_lcls)
    conn.execute("UPDATE work365_licensechangelog SET work365_provisioningstatus = 757320000 WHERE "
                 "work365_subscription = ?", (str(orphan.id),))  # its Create LCL as Work 365 writes it
    prepared = await sync.prepare_subscription_sync(session, school)
    plan = prepared.plan
    assert plan.stats["create"] == 0 and plan.stats["adopted"] == 1 and not plan.refused
    assert [(c.verb, c.role) for c in plan.changes] == [("update", "subscription"), ("create", "licensechangelog"),
                                                        ("update", "licensechangelog")]
    assert plan.changes[0].after["quantity"] == 33
    assert (await sync.apply_subscription_sync(session, prepared)).ok
    (sub, lcls), = await session.reads.subscriptions(account_id=school)
    assert sub.id == orphan.id  # the one the connector synced, not a second one beside it
    assert sub.billing_contract_id == prepared.contract.id and sub.quantity == 33 == lcl_total(lcls)
    assert all(lcl.account_id == school for lcl in lcls)
    again = await sync.prepare_subscription_sync(session, school)
    assert again.plan.is_empty  # done: nothing left to sync
    rows = conn.execute("SELECT COUNT(*) FROM work365_subscription WHERE work365_subscription_customer = ?",
                        (str(school),)).fetchone()[0]
    assert rows == 1
    # undone: the subscription back as the connector left it (a Create LCL never back to Awaiting)
    (applied,) = [r for r in session.journal.plans().values() if r.kind == "sync-subscriptions"]
    undo = await plans.prepare_undo(session, applied.plan_id)
    assert not undo.refused, undo.blocking
    assert (await plans.apply_inverse(session, undo)).ok
    (sub, lcls), = await session.reads.subscriptions(provider_account_ids=[pa.id])
    assert sub.customer_id is None and sub.billing_contract_id is None and sub.quantity == 30 == lcl_total(lcls)
    original = {lcl.id for lcl in orphan_lcls}
    assert all(lcl.account_id is None for lcl in lcls if lcl.id in original)  # the Update LCL is reversed, not deleted
    assert all(lcl.provisioning_status is not ProvisioningStatus.AWAITING_PROVISIONING for lcl in lcls)


async def test_a_tenant_mapped_to_another_customer_is_not_synced_a_second_time(session: Session,
                                                                               sandbox: Sandbox) -> None:
    provider = await session.reads.streamone_provider(session.profile.streamone_connectors)
    fabrikam = next(a for a in await session.reads.provider_accounts(provider.id) if a.name == "Fabrikam, Inc.")
    lamna = account_id(sandbox, "Lamna Healthcare GmbH")
    remap = await mapping.prepare_map(session, fabrikam.id, lamna, replace=True)
    assert (await base.apply(session, remap)).ok
    prepared = await sync.prepare_subscription_sync(session, lamna)
    assert prepared.plan.refused and "would bill the licences twice" in prepared.plan.blocking[0]
    assert "Microsoft 365 Business Standard (monthly)" in prepared.plan.blocking[0]
