"""Syncs from StreamOne: provider accounts for a provider, subscriptions for a customer."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from uuid import UUID

from w365tui.clients.http import W365Error
from w365tui.domain.ids import AccountIdKind, kind_of, norm_id
from w365tui.domain.models import Account, BillingContract, Provider, ProviderAccount, Subscription
from w365tui.domain.plan import Create, Plan, Ref
from w365tui.domain.rules import settle_create_lcl, streamone_problem
from w365tui.domain.streamone import Customer, IonSubscription
from w365tui.domain.sync import plan_provider_account_sync, plan_subscription_sync
from w365tui.session import Session
from w365tui.workflows.base import (
    Applied,
    Progress,
    WorkflowError,
    apply,
    context,
    guarded,
    parse_id,
)
from w365tui.workflows.ids import (
    TenantsRead,
    account_id_usage,
    customer_of,
    subscription_id_usage,
    tenant_ids,
)


async def provider(session: Session, which: str | UUID | None = None) -> Provider:
    """The provider named (by id, name or internal name), or the profile's StreamOne provider."""
    from w365tui.work365.reads import ReadError

    try:
        if which is None:
            return await session.reads.streamone_provider(session.profile.streamone_connectors)
        return await session.reads.provider(str(which))
    except ReadError as error:
        raise WorkflowError(str(error)) from None


async def customers(session: Session, progress: Progress | None = None) -> list[Customer]:
    found: list[Customer] = []
    async for customer in session.ion.customers(page_size=100):
        found.append(customer)
        if progress is not None and len(found) % 200 == 0:
            progress(f"Reading StreamOne customers… {len(found):,}")
    return found


async def prepare_provider_account_sync(session: Session, which: str | UUID | Provider | None = None, *,
                                        progress: Progress | None = None) -> Plan:
    """Provider accounts to create or rename so every active StreamOne customer has one."""
    chosen = which if isinstance(which, Provider) else await provider(session, which)
    ctx = context(session, provider_id=chosen.id)
    if streamone_problem(chosen, session.profile.streamone_connectors):  # refused before reading anything
        return plan_provider_account_sync(chosen, [], [], connectors=session.profile.streamone_connectors, context=ctx)
    if progress is not None:
        progress("Reading StreamOne customers…")
    found = await customers(session, progress)
    existing = await session.reads.provider_accounts(chosen.id, include_inactive=True)
    usage = await account_id_usage(session.reads, session.profile, chosen, existing)  # all of them, not a sample
    read = TenantsRead()
    if usage.effective is AccountIdKind.TENANT or usage.counts_of(AccountIdKind.TENANT):
        # Accounts keyed by tenant: a customer's tenant is read to recognise its account (and to key a
        # new one). Where most are, every active customer's (so one also held by its customer id shows
        # as a duplicate); where few are, only those of customers no account holds by customer id.
        held = {norm_id(a.provider_specific_id) for a in existing if a.provider_id == chosen.id}
        everyone = usage.effective is AccountIdKind.TENANT
        read = await tenant_ids(session, [c.id for c in found if c.is_active and (everyone or c.id not in held)],
                                progress)
    if progress is not None:
        progress(f"Comparing {len(found):,} StreamOne customers with the provider accounts…")
    plan = plan_provider_account_sync(chosen, existing, found, connectors=session.profile.streamone_connectors,
                                      name_limit=session.schema.max_length("provideraccount", "name"), context=ctx,
                                      ids=usage, tenants=read.found, unreadable=read.unreadable)
    if read.unreadable:
        plan = replace(plan, warnings=plan.warnings + (f"StreamOne said, for one: {read.failure}",))
    return guarded(session, plan)


@dataclass
class SubscriptionSync:
    """A prepared subscription sync, with what it was made from (to check the follow-up)."""

    plan: Plan
    provider: Provider
    account: Account
    contract: BillingContract | None
    provider_accounts: list[ProviderAccount] = field(default_factory=list)
    ion: list[tuple[ProviderAccount, IonSubscription]] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)  # provider accounts whose StreamOne subscriptions were not read


async def choose_contract(session: Session, account: Account, contract_id: str | UUID | None) -> BillingContract:
    contracts = await session.reads.billing_contracts(account.id)
    if contract_id is not None:
        wanted = parse_id(contract_id, "billing contract")
        chosen = next((c for c in contracts if c.id == wanted), None)
        if chosen is None:
            other = await session.reads.billing_contract(wanted)
            if other is None:
                raise WorkflowError(f"no billing contract has the id {wanted}")
            return other  # another account's: the plan refuses it, saying so
        return chosen
    active = [c for c in contracts if c.is_active]
    default = [c for c in active if c.is_default]
    if len(default) == 1 or len(active) == 1:
        return (default or active)[0]
    if not active:
        raise WorkflowError(f"{account.name} has no active billing contract")
    listed = "; ".join(f"{c.name} ({c.id})" for c in active)
    raise WorkflowError(f"{account.name} has {len(active)} billing contracts and no single default; choose one with "
                        f"--contract: {listed}")


async def prepare_subscription_sync(session: Session, account_id: str | UUID, contract_id: str | UUID | None = None,
                                    *, which: str | UUID | Provider | None = None, today: date | None = None,
                                    progress: Progress | None = None) -> SubscriptionSync:
    """The customer's StreamOne subscriptions onto one of their billing contracts (the default
    unless ``contract_id``)."""
    wanted = parse_id(account_id, "CRM account")
    account = await session.reads.account(wanted)
    if account is None:
        raise WorkflowError(f"no CRM account has the id {wanted}")
    chosen = which if isinstance(which, Provider) else await provider(session, which)
    contract = await choose_contract(session, account, contract_id)
    ctx = context(session, provider_id=chosen.id, account_id=account.id, contract_id=contract.id)
    connectors = session.profile.streamone_connectors
    account_ref = Ref("account", account.id, account.name)
    if streamone_problem(chosen, connectors):
        plan = plan_subscription_sync(provider=chosen, account=account_ref, contract=contract, ion=[], work365=[],
                                      today=today or date.today(), connectors=connectors, context=ctx)
        return SubscriptionSync(plan, chosen, account, contract)
    mapped = await session.reads.provider_accounts(chosen.id, mapped_to=account.id)
    if not mapped:
        plan = Plan("sync-subscriptions", f"Sync subscriptions onto {contract.name}", (), ctx,
                    blocking=(f"no provider account of {chosen.name} is mapped to {account.name}: map its tenant "
                              "first (pane 1, m)",))
        return SubscriptionSync(plan, chosen, account, contract)
    ion: list[tuple[ProviderAccount, IonSubscription]] = []
    unread: list[str] = []
    failed: W365Error | None = None
    for pa in mapped:
        if progress is not None:
            progress(f"Reading the StreamOne subscriptions of {pa.name}…")
        held = (pa.provider_specific_id or "").strip()
        try:
            customer_id = await customer_of(session, pa)
            if customer_id is None:
                unread.append(f"{pa.name} ({'no provider-specific id' if not held else repr(held)}: "
                              + ("no StreamOne customer has this tenant" if kind_of(held, AccountIdKind) else
                                 "neither a StreamOne customer id nor a tenant id") + ")")
                continue
            ion.extend([(pa, item) async for item in session.ion.subscriptions(customer_id)])
        except W365Error as error:
            failed = error
            unread.append(f"{pa.name} (StreamOne: {error})")
    if failed is not None and len(unread) == len(mapped):  # nothing read: a plan would only mislead
        raise WorkflowError(f"the StreamOne subscriptions of {account.name} could not be read: {failed}") from failed
    if progress is not None:
        progress(f"Comparing {len(ion)} StreamOne subscriptions with Work 365…")
    work365 = await session.reads.subscriptions(account_id=account.id)
    elsewhere: list[Subscription] = []
    no_column = not session.schema.table("subscription").has("provideraccount")
    if not no_column:
        # synced before the tenant was mapped: no customer yet, found by its provider account
        known = {s.id for s, _ in work365}
        for s, lcls in await session.reads.subscriptions(provider_account_ids=[p.id for p in mapped]):
            if s.customer_id is None and s.id not in known:
                work365.append((s, lcls))
            elif s.customer_id is not None and s.customer_id != account.id and s.is_active:
                elsewhere.append(s)  # the tenant was mapped to another customer before
    usage = await subscription_id_usage(session.reads, session.profile, chosen)
    plan = plan_subscription_sync(provider=chosen, account=account_ref, contract=contract, ion=ion, work365=work365,
                                  today=today or date.today(), connectors=connectors, limits=session.schema.limits(),
                                  context=ctx, ids=usage)
    if unread:
        plan = replace(plan, warnings=plan.warnings + (
            f"not read from StreamOne, so left out of this sync: the subscriptions of {'; '.join(unread)}",))
    held = {norm_id(s.provider_subscription_id): s for s in elsewhere if s.provider_subscription_id}
    twice = [held[key] for c in plan.changes if c.role == "subscription" and isinstance(c, Create)
             if (key := norm_id(str(c.values.get("providersubscriptionid") or ""))) in held]
    if twice:
        names = ", ".join(s.name for s in twice[:5]) + (" …" if len(twice) > 5 else "")
        plan = plan.blocked(f"{len(twice)} of these subscriptions {'are' if len(twice) != 1 else 'is'} already in "
                            f"Work 365 on another customer, this tenant's before ({names}): creating them for "
                            f"{account.name} too would bill the licences twice; retire or move those first")
    if no_column:
        plan = replace(plan, warnings=plan.warnings + (
            "this org's subscriptions have no provider account column: a subscription synced before the mapping "
            "cannot be found, and one may be created a second time; check for duplicates after",))
    return SubscriptionSync(guarded(session, plan), chosen, account, contract, mapped, ion, unread)


async def settle_created(session: Session, plan: Plan) -> Applied | None:
    """After a subscription sync: the Create LCLs Work 365 wrote for the subscriptions the plan
    created, read back; any left Awaiting Provisioning is set Not Applicable by a follow-up plan
    (the sync's preview says so). None when there was nothing to settle."""
    created = {c.id: c.label for c in plan.changes if c.role == "subscription" and isinstance(c, Create)}
    if not created or plan.context.account_id is None:
        return None
    settles = []
    for sub, lcls in await session.reads.subscriptions(account_id=plan.context.account_id):
        if sub.id in created:
            settles += [s for s in (settle_create_lcl(lcl, sub.name, unit=len(settles)) for lcl in lcls) if s]
    if not settles:
        return None
    followup = Plan("settle-create-lcls", f"Set Create LCLs Not Applicable after: {plan.title}", tuple(settles),
                    plan.context, notes=("So that nothing is ordered twice at TechData.",),
                    summary=f"{len(settles)} Create LCL{'s' if len(settles) > 1 else ''} written Awaiting "
                            "Provisioning by Work 365 for subscriptions just synced")
    return await apply(session, followup)


async def with_followup(session: Session, applied: Applied) -> Applied:
    """``applied`` with the settle of its new subscriptions' Create LCLs, when it is a sync."""
    if not applied.ok or applied.plan.kind != "sync-subscriptions":
        return applied
    try:
        applied.followup = await settle_created(session, applied.plan)
    except Exception as error:  # the sync stands; the operator must know the check did not
        applied.followup_error = (f"the new subscriptions' Create LCLs could not be checked: {error}; run the "
                                  "sync again to check them")
    return applied


async def apply_subscription_sync(session: Session, prepared: SubscriptionSync) -> Applied:
    """Apply the sync, then settle the Create LCLs of what it created; the two run to their end
    together, even if the caller is cancelled."""

    async def both() -> Applied:
        return await with_followup(session, await apply(session, prepared.plan))

    return await session.executor.protect(both())
