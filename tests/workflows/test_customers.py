"""The customers workflows against the demo sandbox (both namings)."""

from __future__ import annotations

from uuid import UUID

import pytest

from w365tui.sandbox.host import Sandbox
from w365tui.session import Session
from w365tui.workflows import customers

pytestmark = pytest.mark.anyio


def account_id(sandbox: Sandbox, name: str) -> UUID:
    return UUID(sandbox.store.conn.execute("SELECT accountid FROM account WHERE name = ?", (name,)).fetchone()[0])


async def test_a_tenant_id_finds_its_account_once_its_tenant_was_read(session: Session, sandbox: Sandbox) -> None:
    from w365tui.workflows.ids import tenant_ids

    tenant = sandbox.store.conn.execute(
        "SELECT p.tenant_id FROM ion_cloud_profile p JOIN ion_customer c ON c.id = p.customer_id "
        "WHERE c.organization = 'Fabrikam, Inc.' AND p.short_name = 'Microsoft'").fetchone()[0]
    assert (await customers.search(session, tenant)).hits == []  # its tenant not read yet: nothing to go by
    cid = str(sandbox.store.conn.execute("SELECT id FROM ion_customer WHERE organization = 'Fabrikam, Inc.'")
              .fetchone()[0])
    await tenant_ids(session, [cid])
    found = await customers.search(session, tenant.upper())
    assert [(h.account.name, h.why) for h in found.hits] == [("Fabrikam Inc", "tenant id of Fabrikam, Inc.")]


async def test_the_map_candidates_for_an_account_are_its_likely_tenants(session: Session, sandbox: Sandbox) -> None:
    contoso = await session.reads.account(account_id(sandbox, "Contoso Ltd"))
    assert contoso is not None
    ranked = await customers.map_candidates(session, contoso)
    assert ranked[0].account.name == "Contoso Ltd" and ranked[0].tenant.domain == "contoso.com"
    assert "website domain contoso.com" in ranked[0].suggestion.reasons
    assert all(not c.account.is_mapped for c in ranked)


async def test_the_web_address_of_a_record(session: Session, sandbox: Sandbox) -> None:
    row = account_id(sandbox, "Contoso Ltd")
    assert customers.record_url(session, "account", row) == f"{sandbox.dataverse_url.rstrip('/')}/accounts({row})"
    from dataclasses import replace

    from w365tui.settings import Profile

    real = replace(session, profile=Profile(kind="dataverse", dataverse_url="https://contoso.crm.dynamics.com",
                                            tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
                                            client_id="51f81489-12ee-4a9e-aaae-a2591f45987d",
                                            streamone={"account_id": 7}))
    assert customers.record_url(real, "account", row) == (
        f"https://contoso.crm.dynamics.com/main.aspx?pagetype=entityrecord&etn=account&id={row}")


async def test_an_exact_name_is_found_among_many_that_hold_it(session: Session, sandbox: Sandbox) -> None:
    from w365tui.sandbox.schema import BY_LOGICAL

    table = BY_LOGICAL["account"]
    for n in range(520):  # more than one answer holds: the service's answer is not complete
        sandbox.store.insert(table, {"accountid": str(UUID(int=0xA9E0000 + n)), "name": f"Apex Holdings {n:03d}",
                                     "statecode": 0, "statuscode": 1})
    sandbox.store.insert(table, {"accountid": str(UUID(int=0xA9EFFFF)), "name": "Zzz Apex", "statecode": 0,
                                 "statuscode": 1})
    sandbox.store.insert(table, {"accountid": str(UUID(int=0xA9EFFFE)), "name": "Apex", "statecode": 0,
                                 "statuscode": 1})
    found = await customers.search(session, "apex")
    assert not found.found.complete and found.hits[0].account.name == "Apex"


async def test_wildcard_characters_are_searched_for_as_written(session: Session, sandbox: Sandbox) -> None:
    from w365tui.sandbox.schema import BY_LOGICAL

    table = BY_LOGICAL["account"]
    for n, name in enumerate(("100% Green Ltd", "1000 Green Ltd", "A_B Partners", "AXB Partners", "[Brackets] Co")):
        sandbox.store.insert(table, {"accountid": str(UUID(int=0xB0000 + n)), "name": name, "statecode": 0,
                                     "statuscode": 1})
    assert [h.account.name for h in (await customers.search(session, "100%")).hits] == ["100% Green Ltd"]
    assert [h.account.name for h in (await customers.search(session, "a_b")).hits] == ["A_B Partners"]
    assert [h.account.name for h in (await customers.search(session, "[brackets]")).hits] == ["[Brackets] Co"]
