"""What a sync from StreamOne would change in Work 365, decided before anything is written.

Both syncs are plans (:mod:`w365tui.domain.plan`) and idempotent: made again after they were
applied, they are empty. Both refuse a provider that is not an automatic StreamOne one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any
from uuid import UUID

from w365tui.domain.ids import WORDS, AccountIdKind, IdUsage, SubscriptionIdKind, norm_id
from w365tui.domain.models import (
    BillingContract,
    LicenseChangeLog,
    Provider,
    ProviderAccount,
    Subscription,
)
from w365tui.domain.plan import (
    ACTIVE,
    INACTIVE,
    NO_CONTEXT,
    Change,
    Create,
    Plan,
    PlanContext,
    Ref,
    SetState,
    Update,
)
from w365tui.domain.rules import clip, quantity_change, settle_create_lcl, streamone_problem
from w365tui.domain.streamone import Customer, IonSubscription, term_words

__all__ = ["clip", "ion_keys", "plan_provider_account_sync", "plan_subscription_sync", "provider_account_key"]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def provider_account_key(provider_id: UUID, customer_id: str) -> str:
    """What makes two provider accounts the same: the provider and the provider-specific id."""
    return f"provideraccount:{provider_id}:{customer_id.strip()}"


def plan_provider_account_sync(provider: Provider, existing: Iterable[ProviderAccount], customers: Iterable[Customer],
                               *, connectors: Collection[str], name_limit: int | None = None,
                               context: PlanContext = NO_CONTEXT, ids: IdUsage | None = None,
                               tenants: Mapping[str, str | None] | None = None,
                               unreadable: Collection[str] = (),
                               new_id: Callable[[], UUID] = uuid.uuid4) -> Plan:
    """Provider accounts to create or rename so that every active StreamOne customer has one,
    keyed by provider + provider-specific id.

    An existing account is recognised by either id it may hold, the StreamOne customer id or
    the customer's tenant id (``tenants``: customer id → tenant id, None for a customer with
    none); a new one gets the kind ``ids`` says the connector writes (the customer id when not
    told). A customer whose tenant could not be read (``unreadable``) may hold an account under
    it, so none is created for it. Not atomic: each account is its own unit, so a large sync
    goes in several changesets.
    """
    title = f"Sync provider accounts on {provider.name}"
    problem = streamone_problem(provider, connectors)
    if problem:
        return Plan("sync-provider-accounts", title, (), context, blocking=(problem,), atomic=False)
    kind = ids.effective if ids is not None else AccountIdKind.CUSTOMER
    tenants = tenants or {}
    by_id: dict[str, ProviderAccount] = {}
    duplicates: set[str] = set()
    for account in sorted(existing, key=lambda a: not a.is_active):  # an active one wins over an inactive twin
        if account.provider_id != provider.id or not account.provider_specific_id:
            continue
        key = norm_id(account.provider_specific_id)
        if key in by_id:
            duplicates.add(account.provider_specific_id.strip())
            continue
        by_id[key] = account
    changes: list[Change] = []
    unchanged = skipped = total = 0
    reactivated: list[str] = []
    no_tenant: list[str] = []
    not_read: list[str] = []
    shared: list[str] = []
    claimed: dict[UUID, str] = {}  # provider account → the customer it was matched to
    seen: set[str] = set()
    provider_ref = Ref("provider", provider.id, provider.name)
    for customer in sorted(customers, key=lambda c: not c.is_active):  # an active customer claims first
        if customer.id in seen:
            continue
        seen.add(customer.id)
        total += 1
        name = clip(customer.display_name.strip() or customer.id, name_limit)
        tenant = tenants.get(customer.id)
        held = [by_id[k] for k in dict.fromkeys(norm_id(i) for i in (customer.id, tenant) if i) if k in by_id]
        if len(held) > 1 and held[0].id != held[1].id:
            duplicates.add(customer.id)
        current = held[0] if held else None
        if current is not None and current.id in claimed:  # two StreamOne customers on one tenant
            shared.append(f"{name} and {claimed[current.id]} (provider account {current.name})")
            continue
        if current is not None:
            claimed[current.id] = name
        if current is None:
            written = customer.id if kind is AccountIdKind.CUSTOMER else tenant
            if not customer.is_active:
                skipped += 1
            elif customer.id in unreadable:
                not_read.append(name)
            elif not written:
                no_tenant.append(name)
            else:
                changes.append(Create("provideraccount", new_id(),
                                      {"name": name, "providerspecificid": written, "provider": provider_ref},
                                      name, key=provider_account_key(provider.id, customer.id),
                                      unit=len(changes)))
        elif not current.is_active:
            if not customer.is_active:
                skipped += 1
                continue
            # deactivated in Work 365 (an undone sync, say) while StreamOne has the customer: back
            if current.etag is None:
                raise ValueError(f"{current.name!r} was read without an ETag")
            renamed = current.name != name
            changes.append(SetState("provideraccount", current.id, current.etag, INACTIVE, ACTIVE, current.name,
                                    unit=len(changes), values_before={"name": current.name} if renamed else {},
                                    values_after={"name": name} if renamed else {}))
            reactivated.append(name)
        elif current.name != name:
            if current.etag is None:
                raise ValueError(f"{current.name!r} was read without an ETag")
            changes.append(Update("provideraccount", current.id, current.etag, {"name": current.name}, {"name": name},
                                  current.name, unit=len(changes)))
        else:
            unchanged += 1
    creates = sum(isinstance(c, Create) for c in changes)
    renames = sum(isinstance(c, Update) for c in changes)
    summary = (f"{_plural(total, 'StreamOne customer')}: {creates} to create, {renames} to rename, "
               f"{unchanged} unchanged, {skipped} inactive skipped")
    warnings: tuple[str, ...] = ()
    if reactivated:
        summary += f", {len(reactivated)} to reactivate"
        warnings += (f"{_plural(len(reactivated), 'provider account')} deactivated in Work 365 "
                     f"{'is' if len(reactivated) == 1 else 'are'} reactivated, as StreamOne still has the customer: "
                     + ", ".join(reactivated[:5]) + (" …" if len(reactivated) > 5 else ""),)
    if no_tenant:
        summary += f", {len(no_tenant)} without a tenant skipped"
        warnings += (f"{_plural(len(no_tenant), 'StreamOne customer')} without a Microsoft tenant in StreamOne "
                     f"(provider-specific ids are tenant ids here), left without a provider account: "
                     + ", ".join(no_tenant[:5]) + (" …" if len(no_tenant) > 5 else ""),)
    if not_read:
        summary += f", {len(not_read)} not read"
        warnings += (f"{_plural(len(not_read), 'StreamOne customer')} whose tenant StreamOne did not give, so "
                     f"whether Work 365 already holds them cannot be told; left for the next sync: "
                     + ", ".join(not_read[:5]) + (" …" if len(not_read) > 5 else ""),)
    if shared:
        warnings += (f"{_plural(len(shared), 'provider account')} held by two StreamOne customers of one tenant, "
                     "left as they are: " + "; ".join(shared[:5]) + (" …" if len(shared) > 5 else ""),)
    if duplicates:
        warnings += (f"ids held by more than one provider account: {', '.join(sorted(duplicates))}",)
    if ids is not None:
        warnings += ids.warnings
    return Plan("sync-provider-accounts", title, tuple(changes), context, summary=summary, warnings=warnings,
                atomic=False, stats={"customers": total, "create": creates, "rename": renames, "unchanged": unchanged,
                                     "skipped_inactive": skipped, "reactivate": len(reactivated),
                                     "no_tenant": len(no_tenant), "not_read": len(not_read),
                                     "id_kind": kind.value}).checked()


def ion_keys(ion: IonSubscription) -> set[str]:
    """The ids a Work 365 subscription may hold for this one: Microsoft's or Ion's own."""
    return {norm_id(k) for k in (ion.subscription_id, ion.id) if k}


def written_subscription_id(ion: IonSubscription, kind: SubscriptionIdKind = SubscriptionIdKind.MICROSOFT) -> str:
    """The provider subscription id to write for ``ion``: the kind asked for ("" when StreamOne
    has not given that one yet)."""
    return ((ion.subscription_id if kind is SubscriptionIdKind.MICROSOFT else ion.id) or "").strip()


def subscription_key(provider_id: UUID, ion: IonSubscription) -> str:
    """The same for every kind of id written, so plans journalled under either overlap."""
    return f"subscription:{provider_id}:{norm_id(ion.subscription_id or ion.id)}"


CREATE_LCL_NOTE = ("Work 365 writes each new subscription's Create LCL itself. It must be Not Applicable, or "
                   "TechData would be asked for the licences again: it is read straight after, and one written "
                   "Awaiting Provisioning is set Not Applicable by a follow-up plan, shown and journalled.")


def adopt(sub: Subscription, lcls: Sequence[LicenseChangeLog], quantity: int, *, account: Ref, contract: Ref,
          today: date, unit: int, name_limit: int | None = None,
          new_id: Callable[[], UUID] = uuid.uuid4) -> list[Change]:
    """A subscription the connector synced before its tenant was mapped (no customer, no
    contract) put on the customer and its contract — not created a second time beside it. Its
    quantity follows StreamOne's (with the Update LCL), its LCLs get the customer, and a Create
    LCL still Awaiting Provisioning is set Not Applicable in the same write."""
    if sub.etag is None:
        raise ValueError(f"{sub.name!r} was read without an ETag")
    before: dict[str, Any] = {"customer": None, "billingcontract": Ref("billingcontract", sub.billing_contract_id)
                              if sub.billing_contract_id else None}
    after: dict[str, Any] = {"customer": account, "billingcontract": contract}
    changes: list[Change] = []
    if sub.quantity != quantity:
        moved, lcl = quantity_change(sub, quantity, today=today, unit=unit, name_limit=name_limit, new_id=new_id)
        before.update(moved.before)
        after.update(moved.after)
        changes.append(replace(lcl, values={**lcl.values, "account": account}))
    changes.insert(0, Update("subscription", sub.id, sub.etag, before, after, sub.name, unit=unit))
    for lcl in lcls:
        if lcl.account_id is not None or lcl.etag is None:
            continue
        settle = settle_create_lcl(lcl, sub.name, unit=unit)
        l_before: dict[str, Any] = {"account": None, **(settle.before if settle else {})}
        l_after: dict[str, Any] = {"account": account, **(settle.after if settle else {})}
        changes.append(Update("licensechangelog", lcl.id, lcl.etag, l_before, l_after,
                              f"{lcl.event.value.capitalize()} {lcl.quantity:+d} on {sub.name}", unit=unit))
    return changes


def plan_subscription_sync(*, provider: Provider, account: Ref, contract: BillingContract,
                           ion: Sequence[tuple[ProviderAccount, IonSubscription]],
                           work365: Sequence[tuple[Subscription, Sequence[LicenseChangeLog]]],
                           today: date, connectors: Collection[str], limits: dict[str, int | None] | None = None,
                           context: PlanContext = NO_CONTEXT, ids: IdUsage | None = None,
                           new_id: Callable[[], UUID] = uuid.uuid4) -> Plan:
    """StreamOne subscriptions missing from Work 365, quantities that differ (each with its
    Update LCL), and Create LCLs of synced subscriptions still Awaiting Provisioning.

    ``work365`` are the account's subscriptions with their LCLs; those on ``provider`` are
    matched by provider subscription id (Microsoft's or Ion's: either is recognised), so one SKU
    held monthly and annually stays two; a new one gets the kind ``ids`` says the connector
    writes. One atomic changeset: a quantity never lands without its LCL.
    """
    title = f"Sync subscriptions onto {contract.name}"
    problem = streamone_problem(provider, connectors)
    if problem:
        return Plan("sync-subscriptions", title, (), context, blocking=(problem,))
    blocking = []
    if contract.customer_id != account.id:
        blocking.append(f"the billing contract {contract.name!r} belongs to another account")
    if not contract.is_active:
        blocking.append(f"the billing contract {contract.name!r} is inactive")
    limits = limits or {}
    kind = ids.effective if ids is not None else SubscriptionIdKind.MICROSOFT
    on_provider = [(s, lcls) for s, lcls in work365 if s.provider_id == provider.id]
    by_key: dict[str, Subscription] = {}
    for sub, _ in on_provider:
        if sub.provider_subscription_id:
            by_key.setdefault(norm_id(sub.provider_subscription_id), sub)
    changes: list[Change] = []
    matched: set[UUID] = set()
    adopted_lcls: set[UUID] = set()  # LCLs written already with their adopted subscription
    creates = updates = unchanged = skipped = adopted = 0
    contract_ref = Ref("billingcontract", contract.id, contract.name)
    lcls_of = {sub.id: lcls for sub, lcls in on_provider}
    retired: list[str] = []  # inactive in Work 365, active in StreamOne
    pending: list[str] = []  # no id of the kind the connector writes yet
    for pa, item in ion:
        match = next((by_key[k] for k in ion_keys(item) if k in by_key), None)
        if match is not None:
            matched.add(match.id)
        if not item.is_active:
            skipped += 1
            continue
        if match is None and not written_subscription_id(item, kind):
            pending.append(item.sku_display_name or item.subscription_name or item.id)
            continue
        if match is None:
            name = clip(item.sku_display_name or item.subscription_name or item.id, limits.get("subscription.name"))
            term = term_words(item.subscription_billing_term)
            label = f"{name} ({term}{', billed ' + item.subscription_billing_cycle if item.subscription_billing_cycle else ''})" \
                if term else name
            values = {
                "name": name,
                "quantity": item.quantity,
                "providersubscriptionid": written_subscription_id(item, kind),
                "partnumber": item.mfg_part_number,
                "effectivestartdate": item.subscription_start_date.date() if item.subscription_start_date else None,
                "customer": account,
                "billingcontract": Ref("billingcontract", contract.id, contract.name),
                "provider": Ref("provider", provider.id, provider.name),
                "provideraccount": Ref("provideraccount", pa.id, pa.name),
            }
            values = {k: v for k, v in values.items() if v is not None}
            changes.append(Create("subscription", new_id(), values, label, key=subscription_key(provider.id, item),
                                  unit=len(changes)))
            creates += 1
        elif not match.is_active:
            skipped += 1
            retired.append(match.name)
        elif match.customer_id is None:  # synced before its tenant was mapped: it becomes this customer's
            adoption = adopt(match, lcls_of.get(match.id, ()), item.quantity, account=account, contract=contract_ref,
                             today=today, unit=len(changes), name_limit=limits.get("licensechangelog.name"),
                             new_id=new_id)
            changes.extend(adoption)
            adopted_lcls.update(c.id for c in adoption if c.role == "licensechangelog")
            adopted += 1
        elif match.quantity != item.quantity:
            changes.extend(quantity_change(match, item.quantity, today=today, unit=len(changes),
                                           name_limit=limits.get("licensechangelog.name"), new_id=new_id))
            updates += 1
        else:
            unchanged += 1
    settled = 0
    for sub, lcls in on_provider:
        if sub.id not in matched or not sub.is_active:
            continue
        for lcl in lcls:
            if lcl.id in adopted_lcls:
                continue
            settle = settle_create_lcl(lcl, sub.name, unit=len(changes))
            if settle is not None:
                changes.append(settle)
                settled += 1
    only = [s for s, _ in on_provider if s.id not in matched and s.is_active]
    summary = (f"{_plural(len(ion), 'StreamOne subscription')}: {creates} new, {updates} quantity "
               f"change{'' if updates == 1 else 's'}, {unchanged} unchanged")
    if adopted:
        summary += (f", {adopted} synced before the mapping to put on {contract.name}")
    if settled:
        summary += f", {settled} Create LCL{'' if settled == 1 else 's'} to set Not Applicable"
    warnings = []
    if only:
        warnings.append(f"{_plural(len(only), 'subscription')} on {provider.name} only in Work 365: "
                        + ", ".join(s.name for s in only[:5]) + (" …" if len(only) > 5 else ""))
    if ids is not None:
        warnings.extend(ids.warnings)
    if pending:
        warnings.append(f"{_plural(len(pending), 'StreamOne subscription')} without {WORDS[kind]} yet, left for a "
                        "later sync (written with another id, Work 365's connector would not recognise it): "
                        + ", ".join(pending[:5]) + (" …" if len(pending) > 5 else ""))
    if retired:
        warnings.append(f"{_plural(len(retired), 'subscription')} active in StreamOne but inactive in Work 365, "
                        "left so (reactivating one writes an Activate LCL; do it in Work 365 if it is wanted): "
                        + ", ".join(retired[:5]) + (" …" if len(retired) > 5 else ""))
    return Plan("sync-subscriptions", title, tuple(changes), context, summary=summary, warnings=tuple(warnings),
                blocking=tuple(blocking), notes=(CREATE_LCL_NOTE,) if creates else (),
                stats={"streamone": len(ion), "create": creates, "quantity": updates, "unchanged": unchanged,
                       "adopted": adopted,
                       "skipped_inactive": skipped, "settle": settled, "only_in_work365": len(only),
                       "pending": len(pending), "retired": len(retired), "id_kind": kind.value}).checked()
