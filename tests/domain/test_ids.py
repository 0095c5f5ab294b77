"""Which StreamOne ids the app writes: the setting, the org's rows, and the syncs that follow them."""

from __future__ import annotations

import uuid

import pytest

from tests.domain.test_sync import PROVIDER, customer, ion, pa, sub, sync_accounts, sync_subs
from w365tui.domain.ids import (
    AccountIdKind,
    IdUsage,
    SubscriptionIdKind,
    kind_of,
    norm_id,
    same_name,
)
from w365tui.domain.plan import Create, Update, lines

T1, T2, T3 = (str(uuid.UUID(int=n)) for n in (101, 102, 103))
M1, M2 = "6c2e1a94-3b7d-4e0f-9a51-d2c4b8e7f013", "0b9d7e55-1c2a-4f6b-8e3d-a7f5c9e2d184"


def test_the_kind_of_an_id_is_its_shape_and_a_guid_compares_however_it_is_spelt() -> None:
    assert kind_of("306870", AccountIdKind) is AccountIdKind.CUSTOMER
    assert kind_of(f"{{{T1.upper()}}}", AccountIdKind) is AccountIdKind.TENANT
    assert kind_of("1234567", SubscriptionIdKind) is SubscriptionIdKind.ION
    assert kind_of(M1, SubscriptionIdKind) is SubscriptionIdKind.MICROSOFT
    assert kind_of("CUST-9", AccountIdKind) is None and kind_of("", AccountIdKind) is None
    assert kind_of("٣٠٦", AccountIdKind) is None  # digits of another script are not a StreamOne id
    assert norm_id(M1.replace("-", "").upper()) == norm_id(f" {{{M1}}} ") == M1
    assert norm_id(" 306870 ") == "306870"


def test_auto_follows_the_rows_and_an_org_without_rows_gets_the_usual_kinds() -> None:
    tenants = IdUsage.of(AccountIdKind, "auto", [T1, T2, "306870", None, ""])
    assert (tenants.detected, tenants.effective, tenants.total) == (AccountIdKind.TENANT, AccountIdKind.TENANT, 3)
    assert tenants.warnings == ("the org's 3 provider accounts hold 1 customer id, 2 tenant ids: two kinds of "
                                "provider-specific id; new ones get the Microsoft tenant id, as most have; set "
                                "provider_account_id to say which Work 365's connector writes",)
    assert tenants.describe() == ("provider-specific id: the Microsoft tenant id (detected: the org's 3 provider "
                                  "accounts hold 1 customer id, 2 tenant ids)")
    empty = IdUsage.of(SubscriptionIdKind, "auto", [])
    assert (empty.detected, empty.effective, empty.warnings) == (None, SubscriptionIdKind.MICROSOFT, ())
    assert empty.describe() == ("provider subscription id: Microsoft's subscription id (no subscriptions to detect "
                                "from yet; set provider_subscription_id to choose)")
    tie = IdUsage.of(SubscriptionIdKind, "auto", [M1, "55"])
    assert tie.detected is None and tie.effective is SubscriptionIdKind.MICROSOFT
    assert "as many of each kind" in tie.warnings[0]
    strange = IdUsage.of(AccountIdKind, "auto", ["CUST-1", "CUST-2"])
    assert strange.effective is AccountIdKind.CUSTOMER
    assert strange.warnings[0].startswith("the org's 2 provider accounts hold 2 of neither kind, so the kind cannot")
    assert "undecided: the org's 2 provider accounts hold 2 of neither kind" in strange.describe()


def test_a_setting_the_rows_contradict_is_obeyed_and_warned_about_and_one_they_bear_out_is_not() -> None:
    values = [M1, M2, "1234567"] * 1000
    usage = IdUsage.of(SubscriptionIdKind, "ion", values[:2000], sample=2000)
    assert usage.effective is SubscriptionIdKind.ION
    (warning,) = usage.warnings
    assert warning.startswith("provider_subscription_id = 'ion', but the newest 2,000 subscriptions hold 1,334 "
                              "Microsoft ids, 666 StreamOne ids: if Work 365's connector writes Microsoft's")
    assert "duplicates" in warning
    agreeing = IdUsage.of(SubscriptionIdKind, "microsoft", values[:2000], sample=2000)
    assert agreeing.warnings == ()  # most rows bear it out: the few others are history, not a mistake
    assert agreeing.describe().startswith("provider subscription id: Microsoft's subscription id (set by "
                                          "provider_subscription_id; the newest 2,000 subscriptions hold")
    with pytest.raises(ValueError, match="provider_account_id must be auto or one of customer, tenant"):
        IdUsage.of(AccountIdKind, "guid", [])


def test_provider_accounts_keyed_by_tenant_are_recognised_and_new_ones_get_the_tenant() -> None:
    existing = [pa(T1.upper().replace("-", ""), "Contoso"), pa(T2, "Old name")]
    customers = [customer("1", "Contoso"), customer("2", "New name"), customer("3", "Fresh"),
                 customer("4", "No Microsoft tenant"), customer("5", "Not read")]
    tenants = {"1": T1, "2": T2, "3": T3, "4": None}
    usage = IdUsage.of(AccountIdKind, "auto", [a.provider_specific_id for a in existing])
    plan = sync_accounts(existing, customers, ids=usage, tenants=tenants, unreadable={"5"})
    creates = [c for c in plan.changes if isinstance(c, Create)]
    assert [(c.values["providerspecificid"], c.values["name"]) for c in creates] == [(T3, "Fresh")]
    assert creates[0].key == f"provideraccount:{PROVIDER.id}:3"  # keyed by the customer, whichever id is written
    assert plan.stats["rename"] == 1 and plan.stats["unchanged"] == 1 and plan.stats["no_tenant"] == 1
    assert plan.stats["not_read"] == 1 and plan.stats["id_kind"] == "tenant"
    assert any("without a Microsoft tenant" in w and "No Microsoft tenant" in w for w in plan.warnings)
    assert any("did not give" in w and "Not read" in w for w in plan.warnings)
    # the same customers against accounts keyed by customer id: nothing is created twice
    again = sync_accounts([pa("1", "Contoso"), pa("2", "New name"), pa(T3, "Fresh")], customers,
                          ids=IdUsage.of(AccountIdKind, "customer", ["1", "2", T3]), tenants=tenants)
    assert [c.values["providerspecificid"] for c in again.changes if isinstance(c, Create)] == ["4", "5"]


def test_a_customer_held_under_both_ids_is_reported_as_a_duplicate() -> None:
    plan = sync_accounts([pa("1", "Contoso"), pa(T1, "Contoso (tenant)")], [customer("1", "Contoso")],
                         tenants={"1": T1})
    assert "ids held by more than one provider account: 1" in plan.warnings
    assert not [c for c in plan.changes if isinstance(c, Create)]


def test_two_customers_on_one_tenant_do_not_both_claim_its_account() -> None:
    plan = sync_accounts([pa(T1, "Contoso")], [customer("9", "Contoso old", "INACTIVE"), customer("1", "Contoso")],
                         tenants={"1": T1, "9": T1}, ids=IdUsage.of(AccountIdKind, "tenant", [T1]))
    assert plan.is_empty  # the active customer keeps the account's name; the inactive one renames nothing
    assert any("held by two StreamOne customers of one tenant" in w and "Contoso old and Contoso" in w
               for w in plan.warnings)
    assert not [c for c in plan.changes if isinstance(c, Update)]


def test_subscriptions_get_the_kind_of_id_the_connector_writes_and_either_kind_matches() -> None:
    existing = [(sub("555", 10), [])]  # the connector keyed this one by Ion's id
    usage = IdUsage.of(SubscriptionIdKind, "auto", ["555"])
    plan = sync_subs([ion("555", M1, 10), ion("556", M2, 3)], existing, ids=usage)
    (new,) = [c for c in plan.changes if isinstance(c, Create) and c.role == "subscription"]
    assert new.values["providersubscriptionid"] == "556" and new.key.endswith(f":{M2}")  # the key is stable
    assert plan.stats["unchanged"] == 1
    microsoft = sync_subs([ion("555", M1, 10), ion("556", M2.upper(), 3)],
                          [(sub(f"{{{M1.upper().replace('-', '')}}}", 10), [])])
    (new,) = [c for c in microsoft.changes if isinstance(c, Create) and c.role == "subscription"]
    assert new.values["providersubscriptionid"] == M2.upper() and microsoft.stats["unchanged"] == 1


def test_a_subscription_without_microsofts_id_yet_waits_rather_than_take_another_id() -> None:
    plan = sync_subs([ion("557", "", 2)], [], ids=IdUsage.of(SubscriptionIdKind, "microsoft", []))
    assert plan.is_empty and plan.stats["pending"] == 1
    assert any("without Microsoft's subscription id yet" in w for w in plan.warnings)
    by_ion = sync_subs([ion("557", "", 2)], [], ids=IdUsage.of(SubscriptionIdKind, "ion", []))
    assert [c.values["providersubscriptionid"] for c in by_ion.changes if c.role == "subscription"] == ["557"]


def test_a_name_clipped_to_the_column_is_the_same_name() -> None:
    assert same_name("Contoso Ltd", " contoso ltd")
    assert same_name("Consolidated Regional Association of…", "Consolidated Regional Association of Farmers")
    assert not same_name("Contoso", "Contoso Ltd") and not same_name("…", "anything")


def test_a_plan_calls_a_provider_specific_id_by_what_it_holds() -> None:
    plan = sync_accounts([], [customer("1", "Contoso"), customer("3", "Fresh")],
                         ids=IdUsage.of(AccountIdKind, "tenant", []), tenants={"1": T1, "3": None})
    assert [(line.field, line.after) for line in lines(plan) if line.after in (T1, "3")] == [("tenant id", T1)]
    plain = sync_accounts([], [customer("3", "Fresh")])
    assert [line.field for line in lines(plain) if line.after == "3"] == ["customer id"]
