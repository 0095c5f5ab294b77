"""Which StreamOne ids to write (:mod:`w365tui.domain.ids`), and the tenant ids it takes to
write or recognise provider accounts keyed by tenant.

A customer's tenant is one StreamOne request (its cloud profiles). Tenants read are kept for
the session and, as a customer's tenant does not change, in a file in the user cache directory
per Work 365 org and StreamOne account, so the next run reads only customers it has not seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from w365tui.clients.auth import secure_write
from w365tui.clients.http import NotFoundError, W365Error
from w365tui.domain.ids import (
    AccountIdKind,
    IdUsage,
    SubscriptionIdKind,
    kind_of,
    norm_id,
    same_name,
)
from w365tui.domain.models import Provider, ProviderAccount
from w365tui.domain.streamone import Customer
from w365tui.session import Session, TenantMemo
from w365tui.settings import Profile, cache_dir
from w365tui.work365.reads import ID_SAMPLE, Reads
from w365tui.workflows.base import Progress

TENANT_BATCH = 50  # cloud-profile reads started together (the client's own limit still holds)


@dataclass(frozen=True)
class IdUsages:
    accounts: IdUsage
    subscriptions: IdUsage

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.accounts.warnings + self.subscriptions.warnings


async def account_id_usage(reads: Reads, profile: Profile, provider: Provider,
                           existing: Iterable[ProviderAccount] | None = None) -> IdUsage:
    """The setting beside what the provider's accounts hold: all of ``existing`` when given
    (a sync has read them all anyway), else the newest ones."""
    if existing is not None:
        values = [a.provider_specific_id for a in existing if a.provider_id == provider.id]
        return IdUsage.of(AccountIdKind, profile.provider_account_id, values)
    values = await reads.provider_ids(provider.id, "provideraccount")
    return IdUsage.of(AccountIdKind, profile.provider_account_id, values, sample=ID_SAMPLE)


async def subscription_id_usage(reads: Reads, profile: Profile, provider: Provider) -> IdUsage:
    values = await reads.provider_ids(provider.id, "subscription")
    return IdUsage.of(SubscriptionIdKind, profile.provider_subscription_id, values, sample=ID_SAMPLE)


async def id_usage(reads: Reads, profile: Profile, provider: Provider) -> IdUsages:
    """The profile's settings beside what the provider's newest rows hold."""
    return IdUsages(await account_id_usage(reads, profile, provider),
                    await subscription_id_usage(reads, profile, provider))


# -- tenants -----------------------------------------------------------------------------------
def _cache_file(session: Session) -> Path:
    return cache_dir() / "tenants" / f"{session.organization_id}-{session.ion.account_id}.json"


def memo(session: Session) -> TenantMemo:
    """The session's tenants, with those kept on disk from earlier runs."""
    tenants = session.tenants
    if tenants.cache is None:
        tenants.cache = _cache_file(session)
        with contextlib.suppress(OSError, ValueError, AttributeError, TypeError):
            for customer_id, tenant in json.loads(tenants.cache.read_text(encoding="utf-8")).items():
                if isinstance(customer_id, str) and isinstance(tenant, str) and kind_of(tenant, AccountIdKind):
                    tenants.remember(customer_id, tenant, norm_id(tenant))
    return tenants


def _save(tenants: TenantMemo) -> None:
    """Only tenants found are kept: a customer without one may get one later."""
    if tenants.cache is None:
        return
    with contextlib.suppress(OSError):
        secure_write(tenants.cache, {c: t for c, t in tenants.by_customer.items() if t})


@dataclass
class TenantsRead:
    """Tenant ids of the customers asked for (None: the customer has no Microsoft tenant), and
    the customers StreamOne did not answer for, with what it said."""

    found: dict[str, str | None] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def failure(self) -> str:
        """The first failure, said once, for a plan's warning."""
        if not self.unreadable:
            return ""
        customer, error = next(iter(self.unreadable.items()))
        return f"customer {customer}: {error}"


async def _read_tenant(session: Session, tenants: TenantMemo, customer_id: str, out: TenantsRead) -> None:
    if customer_id in tenants.by_customer:
        out.found[customer_id] = tenants.by_customer[customer_id]
        return
    try:
        profiles = await session.ion.cloud_profiles(customer_id)
    except NotFoundError:
        out.unreadable[customer_id] = "StreamOne does not know this customer's cloud profiles (404)"
        return
    except W365Error as error:  # a failing service: this customer is left for the next sync
        out.unreadable[customer_id] = str(error)
        return
    profile = profiles.profile(session.profile.cloud_profile_short_name)
    tenant = ((profile.customer_tenant_id or "").strip() or None) if profile else None
    if tenant is not None and kind_of(tenant, AccountIdKind) is not AccountIdKind.TENANT:
        out.unreadable[customer_id] = f"StreamOne gave {tenant!r} as the tenant id, which is not a GUID"
        return
    tenants.remember(customer_id, tenant, norm_id(tenant) if tenant else None)
    out.found[customer_id] = tenant


async def tenant_ids(session: Session, customer_ids: Iterable[str], progress: Progress | None = None) -> TenantsRead:
    """Tenant ids of many customers, a batch at a time; a customer StreamOne does not answer
    for is reported, not fatal."""
    tenants = memo(session)
    wanted = list(dict.fromkeys(customer_ids))
    out = TenantsRead()
    todo = [c for c in wanted if c not in tenants.by_customer]
    for customer_id in wanted:
        if customer_id in tenants.by_customer:
            out.found[customer_id] = tenants.by_customer[customer_id]
    try:
        for start in range(0, len(todo), TENANT_BATCH):
            batch = todo[start:start + TENANT_BATCH]
            await asyncio.gather(*(_read_tenant(session, tenants, c, out) for c in batch))
            if progress is not None:
                progress(f"Reading tenant ids from StreamOne… {min(start + TENANT_BATCH, len(todo)):,} of "
                         f"{len(todo):,}" + (f" ({len(out.unreadable):,} not answered)" if out.unreadable else ""))
    finally:
        if todo:
            _save(tenants)
    return out


async def customer_of(session: Session, account: ProviderAccount,
                      customers: Sequence[Customer] | None = None) -> str | None:
    """The StreamOne customer id a provider account stands for: its provider-specific id when
    that is a customer id; when it is a tenant id, the customer holding that tenant. Customers
    named like the account are tried as they are listed (most often the first is the one, and
    the list is not read to its end); the rest a batch of requests at a time, until found."""
    held = (account.provider_specific_id or "").strip()
    kind = kind_of(held, AccountIdKind)
    if kind is AccountIdKind.CUSTOMER:
        return held
    if kind is not AccountIdKind.TENANT:
        return None
    tenants = memo(session)
    tenant = norm_id(held)
    if tenant in tenants.by_tenant:
        return tenants.by_tenant[tenant]
    if tenants.complete:
        return None  # every customer's tenant is known, and none is this one

    async def listed() -> AsyncIterator[Customer]:
        if customers is not None:
            for customer in customers:
                yield customer
        else:
            async for customer in session.ion.customers(page_size=100):
                yield customer

    rest: list[str] = []
    async for customer in listed():
        if customer.id in tenants.by_customer:
            continue
        if same_name(account.name, customer.display_name):
            await tenant_ids(session, [customer.id])
            if tenant in tenants.by_tenant:
                return tenants.by_tenant[tenant]
        else:
            rest.append(customer.id)
    unanswered = 0
    for start in range(0, len(rest), TENANT_BATCH):
        read = await tenant_ids(session, rest[start:start + TENANT_BATCH])
        unanswered += len(read.unreadable)
        if tenant in tenants.by_tenant:
            return tenants.by_tenant[tenant]
    tenants.complete = customers is None and unanswered == 0
    return None
