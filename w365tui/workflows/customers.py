"""CRM accounts: search as the operator types, and one customer at a glance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from w365tui.clients.http import W365Error
from w365tui.domain.customers import (
    ContractView,
    CustomerView,
    Found,
    Hit,
    ProviderAccountView,
    customer_view,
    id_in,
    server_terms,
    subscription_flags,
)
from w365tui.domain.enums import ProviderType
from w365tui.domain.ids import AccountIdKind, kind_of, norm_id
from w365tui.domain.matching import (
    Candidate,
    Suggestion,
    Tenant,
    name_similarity,
    score,
    search_terms,
)
from w365tui.domain.models import (
    Account,
    LicenseChangeLog,
    ProviderAccount,
    Subscription,
    lcl_total,
)
from w365tui.domain.rules import streamone_problem
from w365tui.session import Session
from w365tui.workflows.base import WorkflowError, parse_id
from w365tui.workflows.ids import customer_of, memo

SEARCH_TOP = 500  # accounts the service returns for one word; more and the answer is not complete
DETAILED = 100  # results given their mapped and default-contract counts
CANDIDATES_READ = 200  # unmapped provider accounts read for each word of a name


@dataclass
class Details:
    """What the result list shows beside each account, read for the first results."""

    mapped: dict[UUID, int] = field(default_factory=dict)
    default_contract: set[UUID] = field(default_factory=set)
    known: set[UUID] = field(default_factory=set)  # the accounts these were read for


async def find(session: Session, text: str, *, top: int = SEARCH_TOP) -> Found:
    """Ask the service for the accounts ``text`` could mean: those holding its longest words,
    and those a provider account holding it is mapped to when it is a tenant or customer id."""
    terms = server_terms(text)
    accounts: dict[UUID, Account] = {}
    via: dict[UUID, str] = {}
    complete = True
    held = id_in(text)
    if held is not None:
        holding = await session.reads.accounts_holding(held)
        is_tenant = kind_of(held, AccountIdKind) is AccountIdKind.TENANT
        label = "tenant id" if is_tenant else "customer id"
        if is_tenant and not holding:  # accounts keyed by customer id: the tenant's customer, if its tenant was read
            customer_id = memo(session).by_tenant.get(norm_id(held))
            if customer_id is not None:
                holding = await session.reads.accounts_holding(customer_id)
        for account in await session.reads.accounts_by_id(list(holding)):
            accounts[account.id] = account
            via[account.id] = f"{label} of {', '.join(pa.name for pa in holding[account.id])}"
    if terms:
        found, complete = await session.reads.find_accounts(terms, top, prefix=text)
        for account in found:
            accounts.setdefault(account.id, account)
    return Found(text, terms, tuple(accounts.values()), via, complete)


async def details(session: Session, accounts: Sequence[Account]) -> Details:
    ids = [a.id for a in accounts]
    return Details(await session.reads.mapped_counts(ids), await session.reads.with_default_contract(ids), set(ids))


@dataclass
class Search:
    """A search's answer: the ranked hits and what the list shows beside the first of them."""

    found: Found
    hits: list[Hit]
    details: Details


async def search(session: Session, text: str, *, top: int = SEARCH_TOP, detailed: int = DETAILED) -> Search:
    """Everything ``accounts search`` prints."""
    if not server_terms(text) and id_in(text) is None:
        raise WorkflowError(f"{text!r} is too little to search by: type at least two characters of a name, domain, "
                            "account number, tenant id or customer id")
    found = await find(session, text, top=top)
    hits = found.hits()
    return Search(found, hits, await details(session, [h.account for h in hits[:detailed]]))


async def customer(session: Session, account_id: str | UUID) -> CustomerView:
    """One customer at a glance: provider accounts (with tenant and domain from StreamOne),
    billing contracts, subscriptions counted by provider type and state, LCL mismatches and
    step 5's flags."""
    wanted = parse_id(account_id, "CRM account")
    account = await session.reads.account(wanted)
    if account is None:
        raise WorkflowError(f"no CRM account has the id {wanted}")
    providers = {p.id: p for p in await session.reads.providers()}
    views: list[ProviderAccountView] = []
    unread: list[str] = []
    for pa in await session.reads.provider_accounts(mapped_to=account.id):
        provider = providers.get(pa.provider_id) if pa.provider_id else None
        name = provider.name if provider else "?"
        tenant = domain = None
        held = (pa.provider_specific_id or "").strip()
        if kind_of(held, AccountIdKind) is AccountIdKind.TENANT:
            tenant = held
        if provider is not None and streamone_problem(provider, session.profile.streamone_connectors) is None:
            try:
                customer_id = await customer_of(session, pa)
                if customer_id is not None:
                    profile = (await session.ion.cloud_profiles(customer_id)).profile(
                        session.profile.cloud_profile_short_name)
                    if profile is not None:
                        tenant = profile.customer_tenant_id or tenant
                        domain = profile.customer_domain
            except W365Error as error:
                unread.append(f"the tenant of {pa.name} (StreamOne: {error})")
        views.append(ProviderAccountView(pa, name, tenant, domain))
    views.sort(key=lambda v: (v.provider.casefold(), v.account.name.casefold()))
    contracts = [ContractView(c, shown.get("billingfrequency", ""), shown.get("billingpolicy", ""),
                              shown.get("currency", ""), shown.get("pricelist", ""))
                 for c, shown in await session.reads.contracts_shown(account.id)]
    subscriptions = await session.reads.subscriptions(account_id=account.id)
    return customer_view(account, provider_accounts=views, contracts=contracts, providers=providers,
                         subscriptions=subscriptions, unread=unread)


def record_url(session: Session, role: str, row_id: UUID) -> str:
    """Where an operator opens the record in Dynamics 365 (Work 365's own form); on the sandbox,
    which has no forms, the record in its Web API."""
    table = session.schema.table(role)
    base = str(session.profile.dataverse_url or "").rstrip("/")
    if base and not session.is_sandbox:
        return f"{base}/main.aspx?pagetype=entityrecord&etn={table.logical_name}&id={row_id}"
    return f"{session.dataverse.base_url.rstrip('/')}/{table.entity_set}({row_id})"


@dataclass(frozen=True)
class MapCandidate:
    """An unmapped provider account that may be this customer's, seen from the account's side."""

    account: ProviderAccount
    suggestion: Suggestion
    tenant: Tenant


async def map_candidates(session: Session, account: Account, *, read_tenants: int = 10,
                         limit: int = 50) -> list[MapCandidate]:
    """The StreamOne provider's unmapped provider accounts ranked as this account's tenant by the
    mapping suggestions' evidence: those whose name holds a word of the account's name (asked of
    the service), by name, then by the tenant domains of the likeliest few, read from StreamOne."""
    from w365tui.workflows.sync import provider as streamone_provider

    provider = await streamone_provider(session)
    found: dict[UUID, ProviderAccount] = {}
    for word in search_terms(account.name) or [account.name.strip()]:  # narrowed by the service, by name
        for pa in await session.reads.provider_accounts(provider.id, unmapped_only=True, name_contains=word,
                                                        top=CANDIDATES_READ):
            found[pa.id] = pa
    unmapped = list(found.values())
    mapped = await session.reads.provider_accounts(provider.id, mapped_to=account.id)
    candidate = Candidate(account, None, frozenset(p.provider_specific_id or "" for p in mapped), len(mapped),
                          await _mapped_total(session, account.id))
    similarity = {pa.id: name_similarity(pa.name, account.name) for pa in unmapped}
    by_name = sorted(unmapped, key=lambda pa: -similarity[pa.id])
    tenants: dict[UUID, Tenant] = {pa.id: Tenant(pa.name) for pa in unmapped}
    for pa in by_name[:read_tenants]:
        try:
            customer_id = await customer_of(session, pa)
            if customer_id is None:
                continue
            profile = (await session.ion.cloud_profiles(customer_id)).profile(session.profile.cloud_profile_short_name)
        except W365Error:
            continue  # ranked by its name alone
        if profile is not None:
            tenants[pa.id] = Tenant(pa.name, profile.customer_tenant_id, profile.customer_domain)
    ranked = []
    for pa in unmapped:
        suggestion = score(tenants[pa.id], candidate)
        if suggestion is not None:
            ranked.append(MapCandidate(pa, suggestion, tenants[pa.id]))
    ranked.sort(key=lambda c: (-c.suggestion.score, c.account.name.casefold()))
    return ranked[:limit]


async def _mapped_total(session: Session, account_id: UUID) -> int:
    return (await session.reads.mapped_counts([account_id])).get(account_id, 0)


@dataclass(frozen=True)
class SubscriptionLine:
    """One subscription of a customer as the subscriptions pane lists it."""

    subscription: Subscription
    provider: str
    provider_type: str  # "manual", "automatic" or "other"
    lcl_sum: int
    contract: str
    flags: tuple[str, ...]
    lcls: tuple[LicenseChangeLog, ...] = ()
    frequency: str | None = None  # the billing frequency of its contract
    streamone: bool = False  # on the automatic provider whose connector is StreamOne (TechData)


async def subscription_lines(session: Session, account_id: UUID) -> tuple[Account, list[SubscriptionLine]]:
    """A customer's subscriptions with their provider, Σ of their LCLs, contract and step 5's flags."""
    account = await session.reads.account(account_id)
    if account is None:
        raise WorkflowError(f"no CRM account has the id {account_id}")
    providers = {p.id: p for p in await session.reads.providers()}
    contracts = {c.id: c for c in await session.reads.billing_contracts(account.id)}
    lines = []
    for sub, lcls in await session.reads.subscriptions(account_id=account.id):
        provider = providers.get(sub.provider_id) if sub.provider_id else None
        kind = "other"
        if provider is not None and provider.type in (ProviderType.MANUAL, ProviderType.AUTOMATIC):
            kind = str(provider.type)
        contract = contracts.get(sub.billing_contract_id) if sub.billing_contract_id else None
        flags = tuple(subscription_flags(sub, account, contracts)) if sub.is_active else ()
        frequency = contract.billing_frequency.value if contract and contract.billing_frequency else None
        streamone = provider is not None and streamone_problem(provider, session.profile.streamone_connectors) is None
        lines.append(SubscriptionLine(sub, provider.name if provider else "—", kind, lcl_total(lcls),
                                      contract.name if contract else "—", flags, tuple(lcls), frequency, streamone))
    lines.sort(key=lambda line: (not line.subscription.is_active, line.provider_type != "manual",
                                 line.subscription.name.casefold()))
    return account, lines
