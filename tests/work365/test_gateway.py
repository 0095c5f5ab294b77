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
async def gateway(sandbox: Sandbox):
    async with DataverseClient(sandbox.dataverse_url) as dv:
        yield await Work365.connect(dv)


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
    outcomes = await gateway.apply(operations, journal=journal, profile="sandbox", description="five accounts",
                                   touched=[TouchedRow("accounts", "new", {}, None)], size=2)
    assert [o.state for o in outcomes] == ["committed"] * 3
    events = [r["event"] for r in journal.records()]
    assert events == ["plan"] + ["changeset-sent", "changeset-outcome"] * 3 + ["plan-end"]
    assert journal.incomplete_plans() == []


async def test_a_lost_answer_leaves_the_plan_in_doubt(gateway: Work365, sandbox: Sandbox, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    sandbox.faults.add("drop_after", path=r"\$batch$", times=1)
    operations = [Operation("POST", "accounts", {"name": "In doubt"})] * 3
    outcomes = await gateway.apply(operations, journal=journal, profile="sandbox", description="doubt",
                                   touched=[], size=1)
    assert [o.state for o in outcomes] == ["unknown", "not_sent", "not_sent"]
    (plan,) = journal.incomplete_plans("sandbox")
    assert plan.description == "doubt" and plan.in_doubt == [0]
    assert journal.incomplete_plans("other") == []
