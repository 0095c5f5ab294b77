"""Both syncs as plans: idempotent, keyed as Work 365 keys them, and refused on the wrong provider."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from w365tui.domain.enums import LclEvent, ProviderType, ProvisioningStatus
from w365tui.domain.models import (
    BillingContract,
    LicenseChangeLog,
    Provider,
    ProviderAccount,
    Subscription,
)
from w365tui.domain.plan import ACTIVE, INACTIVE, Create, Option, Ref, SetState, Update
from w365tui.domain.streamone import Customer, IonSubscription
from w365tui.domain.sync import plan_provider_account_sync, plan_subscription_sync

CONNECTORS = ("Providers.TechDataCspProvider",)
PROVIDER = Provider(id=uuid.uuid4(), name="TD SYNNEX StreamOne", internal_name=CONNECTORS[0], type=ProviderType.AUTOMATIC)
MANUAL = Provider(id=uuid.uuid4(), name="TechData", internal_name="Providers.ManualProvider", type=ProviderType.MANUAL)
ACCOUNT = Ref("account", uuid.uuid4(), "Tailspin Toys")
CONTRACT = BillingContract(id=uuid.uuid4(), name="Tailspin monthly", customer_id=ACCOUNT.id, is_default=True)
TODAY = date(2025, 3, 1)


def customer(cid: str, name: str, status: str = "ACTIVE") -> Customer:
    return Customer(name=f"accounts/1/customers/{cid}", customer_organization=name, customer_status=status)


def pa(cid: str, name: str, provider: uuid.UUID = PROVIDER.id, state: str = "active") -> ProviderAccount:
    return ProviderAccount(id=uuid.uuid4(), etag='W/"1"', name=name, provider_specific_id=cid, provider_id=provider,
                           state=state)


def sync_accounts(existing, customers, **kw):
    return plan_provider_account_sync(PROVIDER, existing, customers, connectors=CONNECTORS, **kw)


def test_provider_account_sync_creates_renames_and_is_idempotent() -> None:
    existing = [pa("1", "Contoso"), pa("2", "Old name"), pa("9", "Elsewhere", provider=uuid.uuid4()),
                pa("5", "Undone", state="inactive")]
    customers = [customer("1", "Contoso"), customer("2", "New name"), customer("3", "Fresh"), customer("4", "Gone", "INACTIVE"),
                 customer("9", "Same id, other provider"), customer("5", "Undone")]
    plan = sync_accounts(existing, customers)
    creates = [c for c in plan.changes if isinstance(c, Create)]
    renames = [c for c in plan.changes if isinstance(c, Update)]
    assert [(c.values["providerspecificid"], c.values["name"]) for c in creates] == [("3", "Fresh"),
                                                                                    ("9", "Same id, other provider")]
    assert all(c.values["provider"] == Ref("provider", PROVIDER.id) for c in creates)
    assert creates[0].key == f"provideraccount:{PROVIDER.id}:3"
    assert [(r.before, r.after) for r in renames] == [({"name": "Old name"}, {"name": "New name"})]
    assert plan.stats == {"customers": 6, "create": 2, "rename": 1, "unchanged": 1, "skipped_inactive": 1,
                          "reactivate": 1, "no_tenant": 0, "not_read": 0, "id_kind": "customer"}
    assert not plan.atomic and len({c.unit for c in plan.changes}) == 4  # each account its own unit
    (back,) = [c for c in plan.changes if isinstance(c, SetState)]
    assert (back.id, back.before_state, back.after_state) == (existing[3].id, INACTIVE, ACTIVE)
    assert "reactivated" in plan.warnings[0] and "Undone" in plan.warnings[0]
    assert "6 StreamOne customers: 2 to create" in plan.summary
    after = [*existing[:1], pa("2", "New name"), pa("3", "Fresh"), pa("9", "Same id, other provider"), pa("5", "Undone")]
    assert sync_accounts(after, customers).is_empty


def test_long_names_are_clipped_to_the_column_and_duplicates_reported() -> None:
    plan = sync_accounts([pa("1", "a"), pa("1", "b")], [customer("5", "x" * 300)], name_limit=200)
    name = plan.changes[0].values["name"]
    assert len(name) == 200 and name.endswith("…")
    assert plan.warnings == ("ids held by more than one provider account: 1",)


def test_one_customer_is_not_pluralised() -> None:
    assert sync_accounts([], [customer("1", "One")]).summary.startswith("1 StreamOne customer:")


def test_both_syncs_refuse_a_provider_that_is_not_automatic_streamone() -> None:
    plan = plan_provider_account_sync(MANUAL, [], [customer("1", "x")], connectors=CONNECTORS)
    assert plan.is_empty and plan.refused and "manual provider" in plan.blocking[0]
    subs = plan_subscription_sync(provider=MANUAL, account=ACCOUNT, contract=CONTRACT,
                                  ion=[(pa("1", "t"), ion("1", "G", 3))], work365=[], today=TODAY, connectors=CONNECTORS)
    assert subs.is_empty and subs.refused


def ion(sid: str, guid: str, qty: int, status: str = "active", term: str = "P1M") -> IonSubscription:
    return IonSubscription(id=sid, subscription_id=guid, subscription_total_licenses=str(qty), subscription_status=status,
                           subscription_billing_term=term, subscription_billing_cycle="monthly",
                           subscription_start_date=datetime(2025, 2, 1))


def sub(guid: str | None, qty: int, active: bool = True, provider: uuid.UUID = PROVIDER.id) -> Subscription:
    return Subscription(id=uuid.uuid4(), etag='W/"5"', name=f"sub {guid}", quantity=qty, provider_subscription_id=guid,
                        state="active" if active else "inactive", provider_id=provider, customer_id=ACCOUNT.id)


def sync_subs(ions, work365, **kw):
    tenant = pa("77", "Tailspin")
    return plan_subscription_sync(provider=PROVIDER, account=ACCOUNT, contract=CONTRACT,
                                  ion=[(tenant, i) for i in ions], work365=work365, today=TODAY,
                                  connectors=CONNECTORS, **kw)


def test_subscription_sync_matches_by_provider_subscription_id() -> None:
    monthly, annual, stale = sub("G-MONTHLY", 10), sub("g-annual", 20), sub("G-STALE", 3)
    manual = sub(None, 7, provider=uuid.uuid4())
    plan = sync_subs([ion("1", "G-MONTHLY", 10), ion("2", "G-ANNUAL", 25, term="P1Y"), ion("3", "G-NEW", 4),
                      ion("4", "G-OFF", 9, status="SUSPENDED")], [(monthly, []), (annual, []), (stale, []), (manual, [])])
    (new,) = [c for c in plan.changes if isinstance(c, Create) and c.role == "subscription"]
    assert new.values["providersubscriptionid"] == "G-NEW" and new.values["quantity"] == 4
    assert new.values["billingcontract"] == Ref("billingcontract", CONTRACT.id)
    assert new.values["effectivestartdate"] == date(2025, 2, 1)
    assert new.label.endswith("(1 month, billed monthly)")  # the term in words, not P1M
    update = next(c for c in plan.changes if isinstance(c, Update))
    assert (update.id, update.after) == (annual.id, {"quantity": 25})
    lcl = next(c for c in plan.changes if isinstance(c, Create) and c.role == "licensechangelog")
    assert lcl.values["quantity"] == 5 and lcl.unit == update.unit  # the LCL goes with its quantity
    assert plan.atomic and plan.stats["unchanged"] == 1 and plan.stats["skipped_inactive"] == 1
    assert plan.warnings and "sub G-STALE" in plan.warnings[0]
    assert plan.notes  # says that Work 365 writes the Create LCL itself, and what follows


def test_subscription_sync_is_idempotent_and_settles_awaiting_create_lcls() -> None:
    a, b = sub("A", 3), sub("B", 7)
    awaiting = LicenseChangeLog(id=uuid.uuid4(), etag='W/"8"', subscription_id=b.id, event=LclEvent.CREATE, quantity=7,
                                provisioning_status=ProvisioningStatus.AWAITING_PROVISIONING)
    plan = sync_subs([ion("1", "A", 3), ion("2", "B", 7)], [(a, []), (b, [awaiting])])
    (settle,) = plan.changes
    assert settle.id == awaiting.id
    assert settle.after == {"provisioningstatus": Option("provisioning_status", "not_applicable")}
    settled = awaiting.model_copy(update={"provisioning_status": ProvisioningStatus.NOT_APPLICABLE})
    assert sync_subs([ion("1", "A", 3), ion("2", "B", 7)], [(a, []), (b, [settled])]).is_empty


def test_a_contract_of_another_account_is_refused() -> None:
    other = BillingContract(id=uuid.uuid4(), name="Elsewhere", customer_id=uuid.uuid4())
    plan = plan_subscription_sync(provider=PROVIDER, account=ACCOUNT, contract=other, ion=[], work365=[], today=TODAY,
                                  connectors=CONNECTORS)
    assert plan.refused and "belongs to another account" in plan.blocking[0]
