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
    done = await sync.apply_subscription_sync(session, prepared, today=date(2025, 3, 1))
    monkeypatch.undo()
    assert done.applied.ok and done.followup is not None and done.followup.ok
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
    assert done.applied.ok
    undo = await plans.prepare_undo(session, done.applied.plan_id)
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
