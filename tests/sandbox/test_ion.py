"""StreamOne Ion v3 against the sandbox over loopback HTTP."""

from __future__ import annotations

import httpx
import pytest

from w365tui.domain.streamone import (
    CustomerCloudProfiles,
    CustomersPage,
    IonSubscription,
    SubscriptionsPage,
)
from w365tui.sandbox.host import Sandbox


def refresh(ion: httpx.Client, token: str) -> httpx.Response:
    return ion.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token})


@pytest.fixture
def auth(sandbox: Sandbox, ion: httpx.Client) -> dict[str, str]:
    response = refresh(ion, sandbox.new_ion_refresh_token())
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def base(sandbox: Sandbox) -> str:
    return f"/api/v3/accounts/{sandbox.ion_account_id}"


def test_refresh_tokens_rotate_and_a_used_one_is_refused(sandbox: Sandbox, ion: httpx.Client) -> None:
    first = sandbox.new_ion_refresh_token()
    response = refresh(ion, first)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "refresh_token", "token_type"}
    assert (body["expires_in"], body["token_type"]) == (7200, "Bearer")
    assert body["refresh_token"] != first
    reused = refresh(ion, first)
    assert reused.status_code == 400
    assert set(reused.json()) == {"error"} and "used" in reused.json()["error"]
    assert refresh(ion, body["refresh_token"]).status_code == 200
    assert refresh(ion, "made-up").status_code == 400
    wrong_grant = ion.post("/oauth/token", data={"grant_type": "password", "refresh_token": body["refresh_token"]})
    assert wrong_grant.status_code == 400


def test_validate_access(sandbox: Sandbox, ion: httpx.Client) -> None:
    tokens = refresh(ion, sandbox.new_ion_refresh_token()).json()
    body = ion.post("/oauth/validateAccess", data={"access_token": tokens["access_token"]}).json()
    assert 7100 < body["access_expires_in"] <= 7200
    assert body["refresh_expires_in"] > 30 * 24 * 3600
    assert ion.post("/oauth/validateAccess", data={"access_token": "nope"}).status_code == 400


def test_business_calls_need_a_valid_token_for_the_right_account(sandbox: Sandbox, ion: httpx.Client,
                                                                 auth: dict[str, str]) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = ion.get(f"{base(sandbox)}/customers", params={"pageSize": 5}, headers=headers)
        assert response.status_code == 403
        assert response.json()["error"] == "PERMISSION_DENIED" and response.json()["code"] == 403
    other_account = ion.get("/api/v3/accounts/1/customers", params={"pageSize": 5}, headers=auth)
    assert other_account.status_code == 403


def test_customers_page_by_cursor_and_need_a_page_size_or_token(sandbox: Sandbox, ion: httpx.Client,
                                                                auth: dict[str, str]) -> None:
    missing = ion.get(f"{base(sandbox)}/customers", headers=auth)
    assert missing.status_code == 400
    assert set(missing.json()) == {"error", "message", "code", "details"}
    seen: list[str] = []
    params: dict[str, object] = {"pageSize": 4}
    while True:
        page = CustomersPage.model_validate(ion.get(f"{base(sandbox)}/customers", params=params, headers=auth).json())
        assert len(page.customers) <= 4
        seen += [c.id for c in page.customers]
        if page.is_last:
            break
        params = {"pageToken": page.next_page_token}
    total = sandbox.store.count("ion_customer")
    assert len(seen) == len(set(seen)) == total
    first = ion.get(f"{base(sandbox)}/customers", params={"pageSize": 1}, headers=auth).json()["customers"][0]
    assert "id" not in first and first["name"].startswith(f"accounts/{sandbox.ion_account_id}/customers/")
    bad = ion.get(f"{base(sandbox)}/customers", params={"pageToken": "garbage!"}, headers=auth)
    assert bad.status_code == 400


def test_cloud_profiles_carry_tenant_and_domain(sandbox: Sandbox, ion: httpx.Client, auth: dict[str, str]) -> None:
    relecloud = sandbox.store.conn.execute("SELECT id FROM ion_customer WHERE organization = 'Relecloud'").fetchone()[0]
    body = ion.get(f"{base(sandbox)}/customers/{relecloud}/cloudProfiles", headers=auth).json()
    profiles = CustomerCloudProfiles.model_validate(body)
    assert profiles.customer_id == str(relecloud)
    assert [p.short_name for p in profiles.customer_cloud_profiles] == ["AWS", "Microsoft"]
    microsoft = profiles.profile("Microsoft")
    assert microsoft is not None and microsoft.customer_domain == "relecloud.com" and microsoft.customer_tenant_id
    missing = ion.get(f"{base(sandbox)}/customers/999/cloudProfiles", headers=auth)
    assert missing.status_code == 404
    assert missing.json() == {"error": "NOT_FOUND", "message": "customer 999 not found", "code": 404, "details": []}


def test_subscriptions_page_by_offset_with_string_quantities(sandbox: Sandbox, ion: httpx.Client,
                                                              auth: dict[str, str]) -> None:
    seen: list[str] = []
    offset = 0
    while True:
        raw = ion.get(f"{base(sandbox)}/subscriptions",
                      params={"pagination.limit": 5, "pagination.offset": offset}, headers=auth).json()
        assert all(isinstance(item["subscriptionTotalLicenses"], str) for item in raw["items"])
        assert all(item["subscriptionStatus"] == item["subscriptionStatus"].lower() for item in raw["items"])
        page = SubscriptionsPage.model_validate(raw)
        seen += [s.id for s in page.items]
        offset += 5
        if offset >= (page.total_size or 0):
            break
    assert len(seen) == len(set(seen)) == sandbox.store.count("ion_subscription")
    tailspin = sandbox.store.conn.execute("SELECT id FROM ion_customer WHERE organization = 'Tailspin Toys Inc.'").fetchone()[0]
    page = SubscriptionsPage.model_validate(ion.get(
        f"{base(sandbox)}/subscriptions", params={"customerId": tailspin}, headers=auth).json())
    assert sorted((s.mfg_part_number, s.quantity) for s in page.items) == [
        ("CFQ7TTC0LH18:0001:P1M:M", 10), ("CFQ7TTC0LH18:0001:P1Y:M", 20)]


def test_subscription_detail_by_internal_id(sandbox: Sandbox, ion: httpx.Client, auth: dict[str, str]) -> None:
    sub_id, customer = sandbox.store.conn.execute("SELECT id, customer_id FROM ion_subscription LIMIT 1").fetchone()
    raw = ion.get(f"{base(sandbox)}/customers/{customer}/subscriptions/{sub_id}", headers=auth).json()
    detail = IonSubscription.model_validate(raw)
    assert detail.id == str(sub_id) and detail.customer_id == str(customer)
    assert raw["activityLogs"]["items"][0]["actionType"] == "Subscription Created"
    wrong_customer = ion.get(f"{base(sandbox)}/customers/{customer + 1}/subscriptions/{sub_id}", headers=auth)
    assert wrong_customer.status_code == 404 and wrong_customer.json()["error"] == "NOT_FOUND"


def test_sandbox_responses_have_the_shape_of_the_real_ones(sandbox: Sandbox, ion: httpx.Client,
                                                           auth: dict[str, str]) -> None:
    import json
    from pathlib import Path

    real = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "subscriptions-list.real.json").read_text())
    ours = ion.get(f"{base(sandbox)}/subscriptions", params={"pagination.limit": 1}, headers=auth).json()
    assert set(ours) == set(real)
    real_keys = set().union(*(item.keys() for item in real["items"]))
    missing = real_keys - set(ours["items"][0]) - {"isvId", "customerPO", "resellerPO", "cancellationAllowedUntilDate",
                                                   "subscriptionProductId", "subscriptionSkuId"}
    assert missing == set()
    for key in ("subscriptionTotalLicenses", "subscriptionStatus", "id", "customerId"):
        assert type(ours["items"][0][key]) is type(real["items"][0][key])
