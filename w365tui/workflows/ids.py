"""Which StreamOne ids to write (:mod:`w365tui.domain.ids`), and the tenant ids it takes to
write or recognise provider accounts keyed by tenant."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from w365tui.clients.http import NotFoundError
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
from w365tui.session import Session
from w365tui.settings import Profile
from w365tui.work365.reads import Reads
from w365tui.workflows.base import Progress

TENANT_BATCH = 50  # cloud-profile reads started together (the client's own limit still holds)


@dataclass(frozen=True)
class IdUsages:
    accounts: IdUsage
    subscriptions: IdUsage

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.accounts.warnings + self.subscriptions.warnings


async def id_usage(reads: Reads, profile: Profile, provider: Provider) -> IdUsages:
    """The profile's settings beside what the provider's newest rows hold."""
    accounts, subscriptions = await reads.provider_ids(provider.id)
    return IdUsages(IdUsage.of(AccountIdKind, profile.provider_account_id, accounts),
                    IdUsage.of(SubscriptionIdKind, profile.provider_subscription_id, subscriptions))


async def tenant_of(session: Session, customer_id: str) -> str | None:
    """The Microsoft tenant id of a StreamOne customer (the profile's cloud profile), read once
    a session; None when the customer has none (or StreamOne no longer knows it)."""
    memo = session.tenant_ids
    if customer_id not in memo:
        try:
            profiles = await session.ion.cloud_profiles(customer_id)
        except NotFoundError:
            memo[customer_id] = None
        else:
            profile = profiles.profile(session.profile.cloud_profile_short_name)
            memo[customer_id] = (profile.customer_tenant_id or "").strip() or None if profile else None
    return memo[customer_id]


async def tenant_ids(session: Session, customer_ids: Iterable[str],
                     progress: Progress | None = None) -> dict[str, str | None]:
    """Tenant ids of many customers, a batch at a time."""
    wanted = list(dict.fromkeys(customer_ids))
    found: dict[str, str | None] = {}
    for start in range(0, len(wanted), TENANT_BATCH):
        batch = wanted[start:start + TENANT_BATCH]
        for customer_id, tenant in zip(batch, await asyncio.gather(*(tenant_of(session, c) for c in batch)),
                                       strict=True):
            found[customer_id] = tenant
        if progress is not None:
            progress(f"Reading tenant ids from StreamOne… {min(start + TENANT_BATCH, len(wanted)):,} of "
                     f"{len(wanted):,}")
    return found


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
    tenant = norm_id(held)

    def known() -> str | None:
        return next((c for c, t in session.tenant_ids.items() if t and norm_id(t) == tenant), None)

    if (found := known()) is not None:
        return found
    rest: list[str] = []

    async def listed() -> AsyncIterator[Customer]:
        if customers is not None:
            for customer in customers:
                yield customer
        else:
            async for customer in session.ion.customers(page_size=100):
                yield customer

    async for customer in listed():
        if customer.id in session.tenant_ids:
            continue
        if same_name(account.name, customer.display_name):
            await tenant_of(session, customer.id)
            if (found := known()) is not None:
                return found
        else:
            rest.append(customer.id)
    for start in range(0, len(rest), TENANT_BATCH):
        await tenant_ids(session, rest[start:start + TENANT_BATCH])
        if (found := known()) is not None:
            return found
    return None
