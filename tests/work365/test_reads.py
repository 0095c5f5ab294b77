"""Reading Work 365 from the sandbox over loopback HTTP, in domain models."""

from __future__ import annotations

import pytest

from w365tui.domain.enums import LclEvent, ProviderType, ProvisioningStatus
from w365tui.domain.matching import Tenant, rank
from w365tui.domain.models import lcl_total
from w365tui.sandbox.host import Sandbox
from w365tui.session import Session
from w365tui.work365.reads import ReadError

pytestmark = pytest.mark.anyio


async def test_the_streamone_provider_is_the_automatic_one_not_the_one_named_techdata(session: Session) -> None:
    provider = await session.reads.streamone_provider(session.profile.streamone_connectors)
    assert provider.type is ProviderType.AUTOMATIC and provider.name == "TD SYNNEX StreamOne"
    names = {p.name: p.type for p in await session.reads.providers()}
    assert names["TechData"] is ProviderType.MANUAL
    assert (await session.reads.provider("techdata")).type is ProviderType.MANUAL  # by name, any case
    assert (await session.reads.provider(str(provider.id))).id == provider.id
    with pytest.raises(ReadError, match="found 0"):
        await session.reads.streamone_provider(("Providers.Nothing",))
    with pytest.raises(ReadError, match="no active provider is 'nope'"):
        await session.reads.provider("nope")


async def test_unmapped_provider_accounts(session: Session, sandbox: Sandbox) -> None:
    provider = await session.reads.streamone_provider(session.profile.streamone_connectors)
    every = await session.reads.provider_accounts(provider.id)
    unmapped = await session.reads.provider_accounts(provider.id, unmapped_only=True)
    assert unmapped and all(not a.is_mapped for a in unmapped)
    assert {a.id for a in unmapped} == {a.id for a in every if not a.is_mapped}
    expected = sandbox.store.conn.execute(
        "SELECT COUNT(*) FROM work365_provideraccount WHERE work365_account IS NULL AND work365_provider = ?",
        (str(provider.id),)).fetchone()[0]
    assert len(unmapped) == expected
    coho = next(a for a in every if a.name == "Coho Winery")
    assert {a.name for a in await session.reads.provider_accounts(provider.id, mapped_to=coho.account_id)} == {
        "Coho Winery", "Coho Winery (EU tenant)"}
    assert await session.reads.mapped_count(coho.account_id, provider.id, besides=coho.id) == 1
    assert (await session.reads.mapped_counts([coho.account_id]))[coho.account_id] == 2


async def test_account_search_is_literal_and_carries_the_city(session: Session) -> None:
    assert [a.name for a in await session.reads.search_accounts("O'Brien")] == ["O'Brien and Sons UK Limited"]
    assert await session.reads.search_accounts("') or (name ne '") == []
    assert len(await session.reads.search_accounts("", top=5)) == 5
    cities = {a.name: a.city for a in await session.reads.search_accounts("contoso")}
    assert cities["Contoso Ltd"] != cities["Contoso Limited"]  # what tells near-duplicates apart


async def test_subscriptions_come_with_their_lcls_in_one_request(session: Session, sandbox: Sandbox) -> None:
    fabrikam = (await session.reads.search_accounts("Fabrikam"))[0]
    contracts = await session.reads.billing_contracts(fabrikam.id)
    assert contracts[0].is_default
    probe = sandbox.faults.add("latency", path="work365_subscriptions", delay=0)
    pairs = await session.reads.subscriptions(account_id=fabrikam.id)
    assert probe.hits == 2  # the subscriptions with their LCLs, and apart the names of their currencies
    by_provider = {s.provider_id: (s, lcls) for s, lcls in pairs}
    techdata = await session.reads.streamone_provider(session.profile.streamone_connectors)
    t, t_lcls = by_provider.pop(techdata.id)
    (m, m_lcls), = by_provider.values()
    assert (t.quantity, [lcl.quantity for lcl in t_lcls]) == (12, [12])
    assert sorted(lcl.quantity for lcl in m_lcls) == [-1, 3, 10]
    assert lcl_total(m_lcls) == m.quantity == 12
    assert {lcl.event for lcl in m_lcls} == {LclEvent.CREATE, LclEvent.UPDATE}
    assert all(lcl.provisioning_status is ProvisioningStatus.NOT_APPLICABLE for lcl in m_lcls)
    assert all(lcl.etag for lcl in m_lcls) and t.etag
    currency = sandbox.store.conn.execute(  # the currency as Dataverse names it: its formatted value
        "SELECT c.currencyname FROM work365_subscription s JOIN transactioncurrency c "
        "ON c.transactioncurrencyid = s.transactioncurrencyid WHERE s.work365_subscriptionid = ?",
        (str(t.id),)).fetchone()
    assert currency is not None and t.currency == currency[0]
    by_contract = await session.reads.subscriptions(contract_id=contracts[0].id)
    assert {s.id for s, _ in by_contract} == {s.id for s, _ in pairs}


async def test_suggestions_for_the_demo_cases(session: Session) -> None:
    provider = await session.reads.streamone_provider(session.profile.streamone_connectors)

    async def ranked(name: str, domain: str):
        tenant = Tenant(name, domain=domain)
        return rank(tenant, await session.reads.suggestion_candidates(tenant, provider.id))

    assert [s.account.name for s in (await ranked("Contoso Ltd", "contoso.com"))[:2]] == ["Contoso Ltd", "Contoso Limited"]
    adatum = await ranked("Adatum Corporation", "adatum.com")
    assert adatum[0].account.name == "A. Datum Corp" and "email domain adatum.com" in adatum[0].reasons
    coho = await ranked("Coho Winery", "cohowinery.com")
    assert coho[0].warnings == ("already mapped to 2 provider accounts of this provider",)


async def test_a_subscription_with_more_lcls_than_the_inline_limit_gets_them_all(session: Session,
                                                                                sandbox: Sandbox) -> None:
    import uuid

    from w365tui.sandbox.dataverse import EXPAND_INLINE_LIMIT
    from w365tui.sandbox.schema import BY_LOGICAL

    fabrikam = (await session.reads.search_accounts("Fabrikam"))[0]
    (sub, lcls), *_ = [(s, x) for s, x in await session.reads.subscriptions(account_id=fabrikam.id)
                       if s.quantity == 12 and len(x) == 1]
    table = BY_LOGICAL["work365_licensechangelog"]
    create = sandbox.store.conn.execute("SELECT work365_event FROM work365_licensechangelog WHERE "
                                        "work365_subscription = ?", (str(sub.id),)).fetchone()[0]
    for n in range(EXPAND_INLINE_LIMIT + 10):
        sandbox.store.insert(table, {"work365_licensechangelogid": str(uuid.uuid4()), "work365_name": f"n{n}",
                                     "work365_subscription": str(sub.id), "work365_event": create,
                                     "work365_quantity": 0, "statecode": 0, "statuscode": 1})
    again = {s.id: x for s, x in await session.reads.subscriptions(account_id=fabrikam.id)}
    assert len(again[sub.id]) == EXPAND_INLINE_LIMIT + 11  # none silently lost


async def test_a_provider_account_brief_made_from_the_row_is_the_one_made_from_its_model(session: Session) -> None:
    """The list's rows skip the pydantic model: what they hold is what the model would give."""
    from w365tui.domain.models import ProviderAccountBrief
    from w365tui.work365.rows import RowError, model, provider_account_brief

    provider = await session.reads.streamone_provider(session.profile.streamone_connectors)
    raw = await session.reads.dv.rows(session.reads.provider_account_query(provider.id))
    assert len(raw) > 20
    schema = session.reads.schema
    assert [provider_account_brief(schema, r) for r in raw] == [
        ProviderAccountBrief.of(model(schema, "provideraccount", r)) for r in raw]
    bent = dict(raw[0])
    bent["statecode"] = 7  # a state the app does not know reads as inactive, as the model has it
    assert provider_account_brief(schema, bent).state == model(schema, "provideraccount", bent).state
    for column in ("provider", "account"):  # a lookup that is not a GUID: the column is named
        broken = dict(raw[1])
        name = f"_{schema.table('provideraccount').column(column)}_value"
        broken[name] = "not-a-guid"
        with pytest.raises(RowError, match=f"{name} holds 'not-a-guid'"):
            provider_account_brief(schema, broken)
        with pytest.raises(RowError, match=f"{name} holds 'not-a-guid'"):
            model(schema, "provideraccount", broken)
    odd = dict(raw[2])
    odd[f"_{schema.table('provideraccount').column('provider')}_value"] = ["not", "a", "string"]
    assert provider_account_brief(schema, odd) == ProviderAccountBrief.of(model(schema, "provideraccount", odd))
    del bent[schema.table("provideraccount").primary_id]
    with pytest.raises(RowError, match="no valid"):  # as the model's reading says it
        provider_account_brief(schema, bent)
