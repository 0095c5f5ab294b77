"""StreamOne Ion v3 against the sandbox over loopback HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


# -- the shape of the real responses ----------------------------------------------------------

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
Shape = set[tuple[str, str]]


def real(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.real.json").read_text())


def json_type(value: Any) -> str:
    """The JSON type of a decoded value.

    int and float are one type, ``number``: JSON has a single number type, and the real data
    itself writes a price as ``0`` on one row and ``63.8452759`` on the next.

    ``null`` is a type of its own, not "a string that may be missing". The captured responses
    never carry a null: a subscription with no PO number or part number leaves the key out. So
    a null where they have a string is a different shape and fails; a key the real API may
    leave out is an optional key, checked by presence (see ``optional``), never by accepting
    null.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    assert isinstance(value, dict), f"not a JSON value: {value!r}"
    return "object"


def shape(value: Any, path: str = "$") -> Shape:
    """Every (key path, JSON type) in ``value``; a list's items share the path ``…[]``."""
    pairs = {(path, json_type(value))}
    if isinstance(value, dict):
        for key, item in value.items():
            pairs |= shape(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            pairs |= shape(item, f"{path}[]")
    return pairs


def paths(value: Any, path: str = "$") -> set[str]:
    return {p for p, _ in shape(value, path)}


def optional(value: Any, path: str = "$") -> set[str]:
    """Key paths inside lists that some items have and others lack."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found |= optional(item, f"{path}.{key}")
    elif isinstance(value, list) and value:
        each = [paths(item, f"{path}[]") for item in value]
        found |= set.union(*each) - set.intersection(*each)
        for item in value:
            found |= optional(item, f"{path}[]")
    return found


def top_level(paths_in_items: set[str]) -> set[str]:
    """``$.items[].x`` → ``$.x``: a list item's paths as a detail response's."""
    prefix = "$.items[]"
    return {"$" + p[len(prefix):] for p in paths_in_items if p.startswith(prefix + ".")}


def token(sandbox: Sandbox, ion: httpx.Client) -> dict[str, str]:
    response = refresh(ion, sandbox.new_ion_refresh_token())
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_the_subscription_list_has_the_shape_of_the_real_one(sandbox: Sandbox, ion: httpx.Client,
                                                             auth: dict[str, str]) -> None:
    listed = real("subscriptions-list")
    item_shape = {pair for pair in shape(listed) if pair[0].startswith("$.items[]")}
    kept_out = optional(listed)
    assert kept_out == {"$.items[].mfgPartNumber", "$.items[].resellerPO", "$.items[].customerPO"}
    required = paths(listed) - kept_out - {"$.items[]"}  # "$.items[]" itself: an empty page has none
    everything = ion.get(f"{base(sandbox)}/subscriptions",
                         params={"pagination.limit": 1000, "pagination.offset": 0}, headers=auth).json()
    assert len(everything["items"]) == everything["paginationResponse"]["totalSize"] > 7
    # taken together, the sandbox's rows have exactly the real rows' key paths and types
    assert shape(everything) == shape(listed)
    # and keys come and go on the same paths only: on some rows and not others
    assert optional(everything) == kept_out
    holder = sandbox.store.conn.execute(
        "SELECT customer_id FROM ion_subscription WHERE mfg_part_number IS NULL ORDER BY id").fetchone()[0]
    one_customer = ion.get(f"{base(sandbox)}/subscriptions", params={
        "customerId": holder, "pagination.limit": 100, "pagination.offset": 0}, headers=auth).json()
    assert {item["customerId"] for item in one_customer["items"]} == {str(holder)}
    for page in (everything, one_customer):
        assert shape(page) <= shape(listed)
        assert required <= paths(page)
        for item in page["items"]:
            row = shape(item, "$.items[]")
            assert row <= item_shape, f"row {item['id']}: {sorted(row - item_shape)} not in the real rows"
            missing = {p for p in required if p.startswith("$.items[].")} - paths(item, "$.items[]")
            assert not missing, f"row {item['id']} lacks {sorted(missing)}"
        SubscriptionsPage.model_validate(page)
    # the real list holds a customer's Azure plans (no part number) beside their licences (with one)
    with_part = ["mfgPartNumber" in item for item in one_customer["items"]]
    assert True in with_part and False in with_part


def test_subscription_details_have_the_shape_of_the_real_one(sandbox: Sandbox, ion: httpx.Client,
                                                             auth: dict[str, str]) -> None:
    detail = real("subscription-detail")
    kept_out = top_level(optional(real("subscriptions-list")))  # mfgPartNumber, resellerPO, customerPO
    assert kept_out <= paths(detail)  # the captured detail has them all
    assert not optional(detail)  # every activity log entry has every key
    full = sandbox.store.conn.execute(
        "SELECT id FROM ion_subscription WHERE mfg_part_number IS NOT NULL AND reseller_po IS NOT NULL "
        "AND customer_po IS NOT NULL ORDER BY id").fetchone()[0]
    rows = sandbox.store.conn.execute("SELECT id, customer_id FROM ion_subscription ORDER BY id").fetchall()
    seen_without: set[str] = set()
    for sub_id, customer in rows:
        raw = ion.get(f"{base(sandbox)}/customers/{customer}/subscriptions/{sub_id}", headers=auth).json()
        absent = kept_out - paths(raw)
        seen_without |= absent
        # the real detail's pairs, less only the optional keys this subscription has no value for
        assert shape(raw) == {pair for pair in shape(detail) if pair[0] not in absent}, f"subscription {sub_id}"
        if sub_id == full:
            assert shape(raw) == shape(detail)
        IonSubscription.model_validate(raw)
    assert seen_without == kept_out  # each optional key is missing somewhere, as in the real data


def test_a_subscription_row_written_by_hand_keeps_the_shape(sandbox: Sandbox, ion: httpx.Client,
                                                            auth: dict[str, str]) -> None:
    """Tests and benches insert rows with only a few columns: the answer keeps the real shape."""
    customer = sandbox.store.conn.execute("SELECT id FROM ion_customer ORDER BY id").fetchone()[0]
    sandbox.store.conn.execute(
        "INSERT INTO ion_subscription (id, customer_id, subscription_id, name, total_licenses, status, "
        "sku_display_name, billing_cycle, billing_term, start_date) VALUES (9999101, ?, 'by-hand', 'Visio', '3', "
        "'active', 'Visio Plan 2', 'monthly', 'P1Y', '2025-02-01T00:00:00Z')", (customer,))
    detail = real("subscription-detail")
    kept_out = top_level(optional(real("subscriptions-list")))
    raw = ion.get(f"{base(sandbox)}/customers/{customer}/subscriptions/9999101", headers=auth).json()
    assert shape(raw) == {pair for pair in shape(detail) if pair[0] not in kept_out}
    assert (raw["subscriptionEndDate"], raw["cancellationAllowedUntilDate"]) == (
        "2026-02-01T00:00:00Z", "2025-02-16T00:00:00Z")
    parsed = IonSubscription.model_validate(raw)
    assert parsed.quantity == 3 and parsed.mfg_part_number is None
