from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from w365tui.domain.streamone import (
    Customer,
    CustomerCloudProfiles,
    IonSubscription,
    SubscriptionsPage,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_the_real_subscription_list_parses_unchanged() -> None:
    raw = json.loads((FIXTURES / "subscriptions-list.real.json").read_text())
    page = SubscriptionsPage.model_validate(raw)
    assert page.total_size == 7 == len(page.items)
    first = page.items[0]
    assert first.id == "2277242" and first.customer_id == "306870"
    assert first.quantity == 3  # "3" on the wire
    assert first.is_active  # "active" on the wire
    assert first.mfg_part_number == "CFQ7TTC0LH18:000D:P1M:M"
    assert first.sku_display_name == "Microsoft 365 Business Basic EEA (no Teams)"
    assert [s.mfg_part_number for s in page.items].count(None) == 3  # Azure plans have none
    # timestamps with and without milliseconds
    assert page.items[0].subscription_start_date.microsecond == 491000
    assert page.items[1].subscription_start_date.microsecond == 0


def test_the_real_subscription_detail_parses_unchanged() -> None:
    raw = json.loads((FIXTURES / "subscription-detail.real.json").read_text())
    detail = IonSubscription.model_validate(raw)
    assert detail.quantity == 10
    assert detail.subscription_billing_term == "P1M"
    assert str(detail.price) == "63.8452759"


@pytest.mark.parametrize("status", ["active", "ACTIVE", "Active"])
def test_status_is_compared_case_insensitively(status: str) -> None:
    assert IonSubscription.model_validate({"id": "1", "subscriptionStatus": status}).is_active


@pytest.mark.parametrize(("raw", "expected"), [("10", 10), (" 7 ", 7), (4, 4), ("", None), (None, None)])
def test_licence_counts_accept_strings(raw: object, expected: int | None) -> None:
    sub = IonSubscription.model_validate({"id": 5, "subscriptionTotalLicenses": raw})
    assert sub.subscription_total_licenses == expected
    assert sub.id == "5"


def test_a_bad_licence_count_names_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        IonSubscription.model_validate({"id": "1", "subscriptionTotalLicenses": "ten"})
    assert "subscriptionTotalLicenses" in str(caught.value)
    assert "'ten'" in str(caught.value)


def test_customer_id_is_the_last_segment_of_name_and_unknown_fields_are_ignored() -> None:
    customer = Customer.model_validate({"name": "accounts/123/customers/306870", "customerOrganization": "Contoso",
                                        "somethingNew": {"x": 1}})
    assert customer.id == "306870"
    assert customer.display_name == "Contoso"
    with pytest.raises(ValidationError):
        Customer.model_validate({"name": "accounts/123/customers/"})


def test_the_microsoft_profile_is_chosen_by_short_name() -> None:
    profiles = CustomerCloudProfiles.model_validate({
        "customerId": 306870,
        "customerCloudProfiles": [
            {"providerId": "12", "shortName": "AWS"},
            {"providerId": 30, "shortName": "Microsoft", "customerTenantId": "t", "customerDomain": "contoso.com"},
        ],
    })
    chosen = profiles.profile("microsoft")
    assert chosen is not None and chosen.customer_domain == "contoso.com" and chosen.provider_id == "30"
    assert profiles.profile("Google") is None
