"""Work 365 operations against the sandbox over loopback HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from w365tui.clients.http import PreconditionFailedError
from w365tui.clients.odata import DataverseClient, Operation
from w365tui.domain.enums import LclEvent, ProviderType, ProvisioningStatus
from w365tui.domain.models import lcl_total
from w365tui.journal import Journal, TouchedRow
from w365tui.sandbox.host import Sandbox
from w365tui.work365.gateway import GatewayError, Work365

pytestmark = pytest.mark.anyio


@pytest.fixture
async def gateway(sandbox: Sandbox, tmp_path: Path):
    async with DataverseClient(sandbox.dataverse_url) as dv:
        yield await Work365.connect(dv, journal=Journal(tmp_path / "gateway-journal.jsonl"))


async def test_the_techdata_provider_is_the_automatic_one_not_the_one_named_techdata(gateway: Work365) -> None:
    provider = await gateway.techdata_provider()
    assert provider.type is ProviderType.AUTOMATIC
    assert provider.name == "TD SYNNEX StreamOne"
    names = {p.name: p.type for p in await gateway.providers()}
    assert names["TechData"] is ProviderType.MANUAL
    with pytest.raises(GatewayError):
        await gateway.techdata_provider("Providers.Nothing")


async def test_unmapped_provider_accounts(gateway: Work365, sandbox: Sandbox) -> None:
    provider = await gateway.techdata_provider()
    every = await gateway.provider_accounts(provider.id)
    unmapped = await gateway.provider_accounts(provider.id, unmapped_only=True)
    assert unmapped and all(not a.is_mapped for a in unmapped)
    assert {a.id for a in unmapped} == {a.id for a in every if not a.is_mapped}
    expected = sandbox.store.conn.execute(
        "SELECT COUNT(*) FROM work365_provideraccount WHERE work365_account IS NULL AND work365_provider = ?",
        (str(provider.id),)).fetchone()[0]
    assert len(unmapped) == expected


async def test_map_and_unmap_with_etags(gateway: Work365) -> None:
    provider = await gateway.techdata_provider()
    contoso = next(a for a in await gateway.provider_accounts(provider.id, unmapped_only=True) if a.name == "Contoso Ltd")
    account = next(a for a in await gateway.search_accounts("contoso") if a.name == "Contoso Ltd")
    mapped = await gateway.map_provider_account(contoso, account.id)
    assert mapped.account_id == account.id and mapped.etag != contoso.etag
    with pytest.raises(PreconditionFailedError):
        await gateway.map_provider_account(contoso, None)  # the stale row: refused, nothing changes
    other = next(a for a in await gateway.search_accounts("contoso") if a.name == "Contoso Limited")
    with pytest.raises(GatewayError, match="already mapped"):
        await gateway.map_provider_account(mapped, other.id)
    replaced = await gateway.map_provider_account(mapped, other.id, overwrite=True)
    assert replaced.account_id == other.id
    cleared = await gateway.map_provider_account(replaced, None)
    assert cleared.account_id is None
    plans = list(gateway.journal.plans().values())
    assert [p.outcome for p in plans] == ["committed", "failed", "committed", "committed"]
    assert plans[0].rows[0]["before"] == {"_work365_account_value": None}
    assert plans[0].rows[0]["etag"] == contoso.etag


async def test_account_search_is_literal(gateway: Work365) -> None:
    assert [a.name for a in await gateway.search_accounts("O'Brien")] == ["O'Brien and Sons UK Limited"]
    assert await gateway.search_accounts("') or (name ne '") == []
    assert len(await gateway.search_accounts("", top=5)) == 5


async def test_subscriptions_come_with_their_lcls_in_one_request(gateway: Work365, sandbox: Sandbox) -> None:
    fabrikam = (await gateway.search_accounts("Fabrikam"))[0]
    contracts = await gateway.billing_contracts(fabrikam.id)
    assert contracts[0].is_default
    probe = sandbox.faults.add("latency", path="work365_subscriptions", delay=0)
    pairs = await gateway.subscriptions(account_id=fabrikam.id)
    assert probe.hits == 1
    by_provider = {s.provider_id: (s, lcls) for s, lcls in pairs}
    techdata = await gateway.techdata_provider()
    t, t_lcls = by_provider.pop(techdata.id)
    (m, m_lcls), = by_provider.values()
    assert (t.quantity, [lcl.quantity for lcl in t_lcls]) == (12, [12])
    assert sorted(lcl.quantity for lcl in m_lcls) == [-1, 3, 10]
    assert lcl_total(m_lcls) == m.quantity == 12
    assert {lcl.event for lcl in m_lcls} == {LclEvent.CREATE, LclEvent.UPDATE}
    assert all(lcl.provisioning_status is ProvisioningStatus.NOT_APPLICABLE for lcl in m_lcls)
    by_contract = await gateway.subscriptions(contract_id=contracts[0].id)
    assert {s.id for s, _ in by_contract} == {s.id for s, _ in pairs}


async def test_apply_journals_each_changeset(gateway: Work365, sandbox: Sandbox, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    operations = [Operation("POST", "accounts", {"name": f"Journalled {i}"}) for i in range(5)]
    outcomes = await gateway.apply(operations, journal=journal, description="five accounts",
                                   touched=[TouchedRow("accounts", "new", {}, None)], size=2)
    assert [o.state for o in outcomes] == ["committed"] * 3
    events = [r["event"] for r in journal.records()]
    assert events == ["plan"] + ["changeset-sent", "changeset-outcome"] * 3 + ["plan-end"]
    assert journal.incomplete_plans() == []


async def test_a_lost_answer_leaves_the_plan_in_doubt(gateway: Work365, sandbox: Sandbox, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    sandbox.faults.add("drop_after", path=r"\$batch$", times=1)
    operations = [Operation("POST", "accounts", {"name": "In doubt"})] * 3
    outcomes = await gateway.apply(operations, journal=journal, description="doubt", touched=[], size=1)
    assert [o.state for o in outcomes] == ["unknown", "not_sent", "not_sent"]
    (plan,) = journal.incomplete_plans("sandbox")
    assert plan.description == "doubt" and plan.in_doubt == [0]
    assert journal.incomplete_plans("other") == []


@pytest.fixture
async def ion_client(sandbox: Sandbox, tmp_path: Path):
    from w365tui.clients.streamone import IonClient, IonTokens

    path = tmp_path / "ion.json"
    IonTokens.save_refresh_token(path, sandbox.new_ion_refresh_token())
    async with IonClient(sandbox.url, sandbox.ion_account_id, IonTokens(path, sandbox.url)) as client:
        yield client


async def test_provider_account_sync_creates_the_missing_and_is_idempotent(gateway: Work365, ion_client) -> None:
    provider = await gateway.techdata_provider()
    customers = [c async for c in ion_client.customers()]
    plan = await gateway.provider_account_sync_plan(provider, customers)
    assert sorted(c.name for c in plan.creates) == ["Litware Inc", "Trey Research"]
    assert plan.renames == () and plan.skipped_inactive == 0
    operations, touched = gateway.provider_account_sync_operations(plan)
    outcomes = await gateway.apply_or_raise(operations, description="sync provider accounts", touched=touched)
    assert [o.state for o in outcomes] == ["committed"]
    accounts = {a.name: a for a in await gateway.provider_accounts(provider.id)}
    assert accounts["Litware Inc"].provider_specific_id == next(c.id for c in customers if c.display_name == "Litware Inc")
    assert not accounts["Litware Inc"].is_mapped
    again = await gateway.provider_account_sync_plan(provider, customers)
    assert again.is_empty


async def test_subscription_sync_adds_missing_and_writes_update_lcls(gateway: Work365, ion_client, sandbox: Sandbox) -> None:
    from datetime import date

    provider = await gateway.techdata_provider()
    tailspin = (await gateway.search_accounts("Tailspin"))[0]
    contract = (await gateway.billing_contracts(tailspin.id))[0]
    pa = next(a for a in await gateway.provider_accounts(provider.id) if a.name == "Tailspin Toys Inc.")
    customer_id = int(pa.provider_specific_id or 0)
    monthly = sandbox.store.conn.execute(
        "SELECT id FROM ion_subscription WHERE customer_id = ? AND billing_term = 'P1M'", (customer_id,)).fetchone()[0]
    sandbox.store.conn.execute("UPDATE ion_subscription SET total_licenses = '15' WHERE id = ?", (monthly,))
    sandbox.store.conn.execute(
        "INSERT INTO ion_subscription (id, customer_id, subscription_id, name, total_licenses, status, sku_display_name, "
        "mfg_part_number, billing_cycle, billing_term, start_date) VALUES (9999001, ?, 'new-guid-0001', 'Visio', '3', "
        "'active', 'Visio Plan 2', 'CFQ7TTC0HD33:0001:P1M:M', 'monthly', 'P1M', '2025-02-01T00:00:00Z')", (customer_id,))
    ion_subs = [s async for s in ion_client.subscriptions(str(customer_id))]
    plan = await gateway.subscription_sync_plan(tailspin.id, contract.id, provider, ion_subs)
    assert [c.ion.subscription_id for c in plan.creates] == ["new-guid-0001"]
    assert [(c.subscription.quantity, c.delta) for c in plan.changes] == [(10, 5)]
    assert plan.unchanged == 1  # the annual subscription of the same SKU stays apart
    operations, touched = gateway.subscription_sync_operations(plan, account_id=tailspin.id, provider_id=provider.id,
                                                               provider_account_id=pa.id, today=date(2025, 3, 1))
    await gateway.apply_or_raise(operations, description="sync subscriptions", touched=touched)
    pairs = {s.provider_subscription_id: (s, lcls) for s, lcls in await gateway.subscriptions(account_id=tailspin.id)}
    new, new_lcls = pairs["new-guid-0001"]
    assert new.quantity == 3 and new.billing_contract_id == contract.id and new.provider_account_id == pa.id
    assert [(x.event, x.quantity, x.provisioning_status) for x in new_lcls] == [
        (LclEvent.CREATE, 3, ProvisioningStatus.NOT_APPLICABLE)]
    changed, changed_lcls = next(v for v in pairs.values() if v[0].id == plan.changes[0].subscription.id)
    assert changed.quantity == 15 == lcl_total(changed_lcls)
    assert changed_lcls[-1].event is LclEvent.UPDATE and changed_lcls[-1].quantity == 5
    again = await gateway.subscription_sync_plan(tailspin.id, contract.id, provider,
                                                 [s async for s in ion_client.subscriptions(str(customer_id))])
    assert again.is_empty


async def test_suggestions_for_the_demo_cases(gateway: Work365) -> None:
    from w365tui.domain.matching import Tenant, rank

    provider = await gateway.techdata_provider()
    contoso = rank(Tenant("Contoso Ltd", domain="contoso.com"), await gateway.suggestion_candidates(
        Tenant("Contoso Ltd", domain="contoso.com"), provider.id))
    assert [s.account.name for s in contoso[:2]] == ["Contoso Ltd", "Contoso Limited"]
    adatum_tenant = Tenant("Adatum Corporation", domain="adatum.com")
    adatum = rank(adatum_tenant, await gateway.suggestion_candidates(adatum_tenant, provider.id))
    assert adatum[0].account.name == "A. Datum Corp" and "email domain adatum.com" in adatum[0].reasons
    coho_tenant = Tenant("Coho Winery", domain="cohowinery.com")
    coho = rank(coho_tenant, await gateway.suggestion_candidates(coho_tenant, provider.id))
    assert coho[0].warnings == ("already mapped to 2 provider accounts of this provider",)


async def test_a_malformed_plan_is_refused_before_it_is_journalled(gateway: Work365, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    operations = [Operation("POST", "accounts", {"name": "a"}, content_id="1"), Operation("PATCH", "$1", {"name": "b"})]
    with pytest.raises(ValueError, match=r"\$1"):
        await gateway.apply(operations, journal=journal, description="split reference", touched=[], size=1)
    assert list(journal.records()) == []


async def test_create_lcls_left_awaiting_are_settled_not_applicable(gateway: Work365, ion_client, sandbox: Sandbox,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import date

    from w365tui.sandbox.schema import option_value

    provider = await gateway.techdata_provider()
    account = (await gateway.search_accounts("Southridge"))[0]
    contract = (await gateway.billing_contracts(account.id))[0]
    pa = next(a for a in await gateway.provider_accounts(provider.id) if a.name == "Southridge Video")
    customer_id = int(pa.provider_specific_id or 0)
    sandbox.store.conn.execute(
        "INSERT INTO ion_subscription (id, customer_id, subscription_id, name, total_licenses, status, sku_display_name, "
        "billing_cycle, billing_term, start_date) VALUES (9999002, ?, 'guid-settle', 'Teams', '2', 'active', "
        "'Teams Essentials', 'monthly', 'P1M', '2025-02-01T00:00:00Z')", (customer_id,))
    # A service that writes the Create LCL awaiting provisioning, as a real org might:
    awaiting = option_value("work365_licensechangelog", "work365_provisioningstatus", "Awaiting Provisioning")
    from w365tui.sandbox import dataverse

    monkeypatch.setattr(dataverse, "PROV_NOT_APPLICABLE", awaiting)
    plan = await gateway.subscription_sync_plan(account.id, contract.id, provider,
                                                [s async for s in ion_client.subscriptions(str(customer_id))])
    settled = await gateway.apply_subscription_sync(plan, account_id=account.id, provider_id=provider.id,
                                                    provider_account_id=pa.id, today=date(2025, 3, 1),
                                                    description="sync")
    monkeypatch.undo()
    assert settled == 1
    pairs = {s.provider_subscription_id: lcls for s, lcls in await gateway.subscriptions(account_id=account.id)}
    assert [lcl.provisioning_status for lcl in pairs["guid-settle"]] == [ProvisioningStatus.NOT_APPLICABLE]


async def test_a_plan_runs_to_its_end_when_its_caller_is_cancelled(gateway: Work365, sandbox: Sandbox,
                                                                   tmp_path: Path) -> None:
    import asyncio

    journal = Journal(tmp_path / "journal.jsonl")
    sandbox.faults.add("latency", path=r"\$batch$", delay=0.3)
    operations = [Operation("POST", "accounts", {"name": f"Finished {i}"}) for i in range(4)]
    caller = asyncio.ensure_future(gateway.apply(operations, journal=journal, description="cancelled caller",
                                                 touched=[], size=2))
    await asyncio.sleep(0.1)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await gateway.finish_plans()
    (plan,) = journal.plans().values()
    assert plan.outcome == "committed"
    written = sandbox.store.conn.execute("SELECT COUNT(*) FROM account WHERE name LIKE 'Finished %'").fetchone()[0]
    assert written == 4
