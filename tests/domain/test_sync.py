from __future__ import annotations

import uuid

from w365tui.domain.models import ProviderAccount, Subscription
from w365tui.domain.streamone import Customer, IonSubscription
from w365tui.domain.sync import plan_provider_account_sync, plan_subscription_sync

PROVIDER = uuid.uuid4()


def customer(cid: str, name: str, status: str = "ACTIVE") -> Customer:
    return Customer(name=f"accounts/1/customers/{cid}", customer_organization=name, customer_status=status)


def pa(cid: str, name: str, provider: uuid.UUID = PROVIDER) -> ProviderAccount:
    return ProviderAccount(id=uuid.uuid4(), name=name, provider_specific_id=cid, provider_id=provider)


def test_provider_account_sync_creates_renames_and_is_idempotent() -> None:
    existing = [pa("1", "Contoso"), pa("2", "Old name"), pa("9", "Elsewhere", provider=uuid.uuid4())]
    customers = [customer("1", "Contoso"), customer("2", "New name"), customer("3", "Fresh"), customer("4", "Gone", "INACTIVE"),
                 customer("9", "Same id, other provider")]
    plan = plan_provider_account_sync(PROVIDER, existing, customers)
    assert [(c.customer_id, c.name) for c in plan.creates] == [("3", "Fresh"), ("9", "Same id, other provider")]
    assert [(r.account.name, r.name) for r in plan.renames] == [("Old name", "New name")]
    assert (plan.unchanged, plan.skipped_inactive) == (1, 1)
    after = [*existing[:1], pa("2", "New name"), pa("3", "Fresh"), pa("9", "Same id, other provider")]
    assert plan_provider_account_sync(PROVIDER, after, customers).is_empty


def test_long_names_are_clipped_to_the_column_and_duplicates_reported() -> None:
    plan = plan_provider_account_sync(PROVIDER, [pa("1", "a"), pa("1", "b")], [customer("5", "x" * 300)], name_limit=200)
    assert len(plan.creates[0].name) == 200 and plan.creates[0].name.endswith("…")
    assert plan.duplicates == ("1",)


def ion(sid: str, guid: str, qty: int, status: str = "active") -> IonSubscription:
    return IonSubscription(id=sid, subscription_id=guid, subscription_total_licenses=str(qty), subscription_status=status)


def sub(guid: str | None, qty: int, active: bool = True) -> Subscription:
    return Subscription(id=uuid.uuid4(), name="s", quantity=qty, provider_subscription_id=guid,
                        state="active" if active else "inactive")


def test_subscription_sync_matches_by_provider_subscription_id() -> None:
    monthly, annual = sub("G-MONTHLY", 10), sub("g-annual", 20)
    plan = plan_subscription_sync(uuid.uuid4(), [ion("1", "G-MONTHLY", 10), ion("2", "G-ANNUAL", 25), ion("3", "G-NEW", 4),
                                                 ion("4", "G-OFF", 9, status="SUSPENDED")],
                                  [monthly, annual, sub("G-STALE", 3)])
    assert [c.ion.id for c in plan.creates] == ["3"]
    assert [(c.subscription.id, c.delta) for c in plan.changes] == [(annual.id, 5)]
    assert plan.unchanged == 1 and plan.skipped_inactive == 1
    assert [s.provider_subscription_id for s in plan.only_in_work365] == ["G-STALE"]


def test_subscription_sync_is_idempotent() -> None:
    ions = [ion("1", "A", 3), ion("2", "B", 7)]
    plan = plan_subscription_sync(uuid.uuid4(), ions, [sub("A", 3), sub("B", 7)])
    assert plan.is_empty
    assert plan_subscription_sync(uuid.uuid4(), ions, [sub("1", 3), sub("2", 7)]).is_empty  # Ion's own id works too
