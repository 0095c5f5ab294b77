"""What a sync from StreamOne would change in Work 365, decided before anything is written.

Both plans are idempotent: computed again after they were applied, they are empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

from w365tui.domain.models import ProviderAccount, Subscription
from w365tui.domain.streamone import Customer, IonSubscription


def clip(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…"


@dataclass(frozen=True)
class NewProviderAccount:
    customer_id: str
    name: str


@dataclass(frozen=True)
class ProviderAccountRename:
    account: ProviderAccount
    name: str


@dataclass(frozen=True)
class ProviderAccountSyncPlan:
    provider_id: UUID
    creates: tuple[NewProviderAccount, ...]
    renames: tuple[ProviderAccountRename, ...]
    unchanged: int
    skipped_inactive: int
    duplicates: tuple[str, ...]  # provider-specific ids held by more than one provider account

    @property
    def is_empty(self) -> bool:
        return not self.creates and not self.renames


def plan_provider_account_sync(provider_id: UUID, existing: Iterable[ProviderAccount], customers: Iterable[Customer],
                               name_limit: int | None = None) -> ProviderAccountSyncPlan:
    """Provider accounts to create or rename so that every active StreamOne customer has one,
    keyed by provider + provider-specific id (the StreamOne customer id)."""
    by_id: dict[str, ProviderAccount] = {}
    duplicates: set[str] = set()
    for account in existing:
        if account.provider_id != provider_id or not account.provider_specific_id:
            continue
        key = account.provider_specific_id.strip()
        if key in by_id:
            duplicates.add(key)
            continue
        by_id[key] = account
    creates: list[NewProviderAccount] = []
    renames: list[ProviderAccountRename] = []
    unchanged = skipped = 0
    seen: set[str] = set()
    for customer in customers:
        if customer.id in seen:
            continue
        seen.add(customer.id)
        name = clip(customer.display_name.strip() or customer.id, name_limit)
        current = by_id.get(customer.id)
        if current is None:
            if customer.is_active:
                creates.append(NewProviderAccount(customer.id, name))
            else:
                skipped += 1
        elif current.name != name:
            renames.append(ProviderAccountRename(current, name))
        else:
            unchanged += 1
    return ProviderAccountSyncPlan(provider_id, tuple(creates), tuple(renames), unchanged, skipped, tuple(sorted(duplicates)))


@dataclass(frozen=True)
class NewSubscription:
    ion: IonSubscription


@dataclass(frozen=True)
class QuantityChange:
    subscription: Subscription
    ion: IonSubscription

    @property
    def delta(self) -> int:
        return self.ion.quantity - self.subscription.quantity


@dataclass(frozen=True)
class SubscriptionSyncPlan:
    contract_id: UUID
    creates: tuple[NewSubscription, ...]
    changes: tuple[QuantityChange, ...]
    unchanged: int
    skipped_inactive: int
    only_in_work365: tuple[Subscription, ...]

    @property
    def is_empty(self) -> bool:
        return not self.creates and not self.changes


def ion_keys(ion: IonSubscription) -> set[str]:
    """The ids a Work 365 subscription may hold for this one: Microsoft's or Ion's own."""
    return {k.casefold() for k in (ion.subscription_id, ion.id) if k}


def plan_subscription_sync(contract_id: UUID, ion_subscriptions: Sequence[IonSubscription],
                           work365: Sequence[Subscription]) -> SubscriptionSyncPlan:
    """StreamOne subscriptions missing from Work 365, and quantities that differ.

    ``work365`` are the account's subscriptions on the automatic TechData provider; they are
    matched by provider subscription id, so one SKU held monthly and annually stays two.
    """
    by_key: dict[str, Subscription] = {}
    for sub in work365:
        if sub.provider_subscription_id:
            by_key.setdefault(sub.provider_subscription_id.casefold(), sub)
    creates: list[NewSubscription] = []
    changes: list[QuantityChange] = []
    matched: set[UUID] = set()
    unchanged = skipped = 0
    for ion in ion_subscriptions:
        match = next((by_key[k] for k in ion_keys(ion) if k in by_key), None)
        if match is not None:
            matched.add(match.id)
        if not ion.is_active:
            skipped += 1
            continue
        if match is None:
            creates.append(NewSubscription(ion))
        elif not match.is_active:
            skipped += 1
        elif match.quantity != ion.quantity:
            changes.append(QuantityChange(match, ion))
        else:
            unchanged += 1
    only = tuple(s for s in work365 if s.id not in matched and s.is_active)
    return SubscriptionSyncPlan(contract_id, tuple(creates), tuple(changes), unchanged, skipped, only)
