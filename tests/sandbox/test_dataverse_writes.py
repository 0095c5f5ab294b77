"""Dataverse Web API writes: status codes, headers, ETags, binds, validation and Work 365's
server-side LCLs, against the sandbox over loopback HTTP."""

from __future__ import annotations

import uuid

import httpx
import pytest

from w365tui.sandbox.host import Sandbox
from w365tui.sandbox.schema import (
    LCL_STATUS_ARCHIVED,
    option_value,
)

from .test_dataverse_query import assert_error

ACCOUNT_KEY = "00000000-0000-0000-0000-000000000001"


def one(dv: httpx.Client, entity_set: str, filter_text: str, select: str) -> dict:
    rows = dv.get(entity_set, params={"$filter": filter_text, "$select": select}).json()["value"]
    assert len(rows) == 1, rows
    return rows[0]


def snapshot(sandbox: Sandbox) -> str:
    return sandbox.store.canonical_dump()


def test_post_returns_204_with_the_entity_id(dv: httpx.Client, sandbox: Sandbox) -> None:
    response = dv.post("accounts", json={"name": "Tailwind Traders", "websiteurl": "https://tailwind.example"})
    assert response.status_code == 204
    assert response.content == b""
    entity_url = response.headers["OData-EntityId"]
    new_id = entity_url.rsplit("(", 1)[1].rstrip(")")
    assert entity_url == f"{sandbox.dataverse_url}accounts({new_id})"
    assert dv.get(f"accounts({new_id})").json()["name"] == "Tailwind Traders"


def test_post_with_return_representation(dv: httpx.Client) -> None:
    response = dv.post("accounts?$select=name", json={"name": "Litware"}, headers={"Prefer": "return=representation"})
    assert response.status_code == 201
    assert response.headers["Preference-Applied"] == "return=representation"
    body = response.json()
    assert body["name"] == "Litware" and body["@odata.etag"].startswith('W/"')
    assert set(body) == {"@odata.context", "@odata.etag", "name", "accountid"}


def test_patch_updates_and_every_write_changes_the_etag(dv: httpx.Client) -> None:
    row = one(dv, "accounts", "name eq 'Northwind Traders'", "name")
    url = f"accounts({row['accountid']})"
    etags = {row["@odata.etag"]}
    for website in ("https://a.example", "https://b.example", "https://b.example"):
        response = dv.patch(url, json={"websiteurl": website}, headers={"If-Match": "*"})
        assert response.status_code == 204
        etags.add(dv.get(url).json()["@odata.etag"])
    assert len(etags) == 4
    assert dv.get(url).json()["websiteurl"] == "https://b.example"


def test_a_stale_etag_gets_412_and_changes_nothing(dv: httpx.Client) -> None:
    row = one(dv, "accounts", "name eq 'Northwind Traders'", "name")
    url = f"accounts({row['accountid']})"
    stale = row["@odata.etag"]
    assert dv.patch(url, json={"name": "Northwind (renamed)"}, headers={"If-Match": stale}).status_code == 204
    response = dv.patch(url, json={"name": "Northwind (again)"}, headers={"If-Match": stale})
    assert_error(response, 412, "0x80060882", "doesn't match the RowVersion")
    assert dv.get(url).json()["name"] == "Northwind (renamed)"
    assert_error(dv.delete(url, headers={"If-Match": stale}), 412, "0x80060882")
    fresh = dv.get(url).json()["@odata.etag"]
    assert dv.delete(url, headers={"If-Match": fresh}).status_code == 204
    assert_error(dv.get(url), 404, "0x80040217")


def test_patch_is_an_upsert_unless_if_match_forbids_it(dv: httpx.Client) -> None:
    key = str(uuid.uuid4())
    assert_error(dv.patch(f"accounts({key})", json={"name": "Ghost"}, headers={"If-Match": "*"}), 404, "0x80040217")
    assert dv.get(f"accounts({key})").status_code == 404
    created = dv.patch(f"accounts({key})", json={"name": "Upserted"})
    assert created.status_code == 204
    assert dv.get(f"accounts({key})").json()["name"] == "Upserted"
    assert_error(dv.patch(f"accounts({key})", json={"name": "Again"}, headers={"If-None-Match": "*"}), 412, "0x80040237")
    assert dv.get(f"accounts({key})").json()["name"] == "Upserted"


def test_bind_is_case_sensitive_and_refusal_writes_nothing(dv: httpx.Client, sandbox: Sandbox) -> None:
    pa = one(dv, "work365_provideraccounts", "work365_provideraccount_name eq 'Contoso Ltd'", "_work365_account_value")
    account = one(dv, "accounts", "name eq 'Contoso Ltd'", "name")
    url = f"work365_provideraccounts({pa['work365_provideraccountid']})"
    before = snapshot(sandbox)
    wrong_case = dv.patch(url, json={"work365_account@odata.bind": f"/accounts({account['accountid']})"},
                          headers={"If-Match": pa["@odata.etag"]})
    assert_error(wrong_case, 400, "0x80048d19", "An undeclared property 'work365_account'")
    assert_error(dv.patch(url, json={"_work365_account_value": account["accountid"]}), 400, "0x80048d19",
                 "Use Navigation properties")
    wrong_set = dv.patch(url, json={"work365_Account@odata.bind": f"/contacts({account['accountid']})"})
    assert_error(wrong_set, 400, "0x80048d19", "expects a 'account'")
    missing = dv.patch(url, json={"work365_Account@odata.bind": f"/accounts({uuid.uuid4()})"})
    assert_error(missing, 404, "0x80040217")
    assert snapshot(sandbox) == before
    mapped = dv.patch(url, json={"work365_Account@odata.bind": f"/accounts({account['accountid']})"},
                      headers={"If-Match": pa["@odata.etag"]})
    assert mapped.status_code == 204
    after = dv.get(url, params={"$select": "_work365_account_value"}).json()
    assert after["_work365_account_value"] == account["accountid"]
    unmapped = dv.patch(url, json={"work365_Account@odata.bind": None}, headers={"If-Match": after["@odata.etag"]})
    assert unmapped.status_code == 204
    assert dv.get(url).json()["_work365_account_value"] is None


def test_ref_endpoints_associate_and_disassociate(dv: httpx.Client) -> None:
    pa = one(dv, "work365_provideraccounts", "work365_provideraccount_name eq 'Contoso Ltd'", "work365_provideraccount_name")
    account = one(dv, "accounts", "name eq 'Contoso Ltd'", "name")
    ref = f"work365_provideraccounts({pa['work365_provideraccountid']})/work365_Account/$ref"
    assert dv.put(ref, json={"@odata.id": f"accounts({account['accountid']})"}).status_code == 204
    assert dv.get(ref).json()["@odata.id"].endswith(f"accounts({account['accountid']})")
    assert dv.delete(ref).status_code == 204
    assert dv.get(ref).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "code", "fragment"),
    [
        ({"nosuch": 1}, 400, "0x80048d19", "The property 'nosuch' does not exist on type 'Microsoft.Dynamics.CRM.account'"),
        ({"name": 5}, 400, "0x80048d19", "Cannot convert the literal '5' to the expected type 'Edm.String'"),
        ({"name": "x" * 161}, 400, "0x80044331", "exceeded the maximum allowed length of '160'"),
        ({"statuscode": 2}, 400, "0x80048408", "2 is not a valid status code for state code AccountState.Active"),
        ({"statecode": 7}, 400, "0x80044331", "outside the valid range"),
        ({"primarycontactid": {"fullname": "New"}}, 400, "0x80048d19", "Deep insert"),
        ([1, 2], 400, "0x80048d19", "JSON object"),
    ],
)
def test_invalid_payloads_are_refused(dv: httpx.Client, sandbox: Sandbox, body: object, status: int, code: str,
                                      fragment: str) -> None:
    row = one(dv, "accounts", "name eq 'Fabrikam Inc'", "name")
    before = snapshot(sandbox)
    assert_error(dv.patch(f"accounts({row['accountid']})", json=body), status, code, fragment)
    assert snapshot(sandbox) == before


def test_malformed_json_and_wrong_content_type(dv: httpx.Client) -> None:
    assert_error(dv.post("accounts", content=b"{not json", headers={"Content-Type": "application/json"}),
                 400, "0x80048d19", "not valid JSON")
    assert dv.post("accounts", content=b"name=x", headers={"Content-Type": "text/plain"}).status_code == 415


def test_picklist_values_are_validated(dv: httpx.Client) -> None:
    lcl = dv.get("work365_licensechangelogs", params={"$top": "1"}).json()["value"][0]
    url = f"work365_licensechangelogs({lcl['work365_licensechangelogid']})"
    assert_error(dv.patch(url, json={"work365_event": 1}), 400, "0x80044331", "Accepted Values")


def test_statuscode_must_belong_to_its_statecode(dv: httpx.Client) -> None:
    lcl = dv.get("work365_licensechangelogs", params={"$filter": "statecode eq 0", "$top": "1"}).json()["value"][0]
    url = f"work365_licensechangelogs({lcl['work365_licensechangelogid']})"
    assert_error(dv.patch(url, json={"statecode": 0, "statuscode": LCL_STATUS_ARCHIVED}), 400, "0x80048408")
    # a status reason of another state is refused on its own: state and status change together
    assert_error(dv.patch(url, json={"statuscode": LCL_STATUS_ARCHIVED}), 400, "0x80048408")
    assert dv.patch(url, json={"statecode": 1, "statuscode": LCL_STATUS_ARCHIVED}).status_code == 204
    archived = dv.get(url, params={"$select": "statecode,statuscode"}).json()
    assert (archived["statecode"], archived["statuscode"]) == (1, LCL_STATUS_ARCHIVED)


def test_creating_a_subscription_writes_its_create_lcl(dv: httpx.Client) -> None:
    account = one(dv, "accounts", "name eq 'Fabrikam Inc'", "name")
    manual = one(dv, "work365_providers", "work365_internalname eq 'Providers.ManualProvider'", "work365_name")
    response = dv.post("work365_subscriptions", json={
        "work365_subscriptionname": "Visio Plan 2",
        "work365_quantity": 4,
        "work365_effectivestartdate": "2025-03-01",
        "work365_Subscription_Customer@odata.bind": f"/accounts({account['accountid']})",
        "work365_Provider@odata.bind": f"/work365_providers({manual['work365_providerid']})",
    })
    assert response.status_code == 204, response.text
    sub_id = response.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    lcls = dv.get("work365_licensechangelogs", params={
        "$filter": f"_work365_subscription_value eq {sub_id}",
        "$select": "work365_event,work365_quantity,work365_effectivedate,work365_provisioningstatus,_work365_account_value"}).json()["value"]
    assert len(lcls) == 1
    assert lcls[0]["work365_event"] == option_value("work365_licensechangelog", "work365_event", "Create")
    assert lcls[0]["work365_quantity"] == 4
    assert lcls[0]["work365_effectivedate"] == "2025-03-01"
    assert lcls[0]["_work365_account_value"] == account["accountid"]
    assert lcls[0]["work365_provisioningstatus"] == option_value(
        "work365_licensechangelog", "work365_provisioningstatus", "Not Applicable")


def test_deactivating_a_subscription_writes_a_deactivate_lcl_and_freezes_it(dv: httpx.Client) -> None:
    sub = one(dv, "work365_subscriptions", "work365_subscriptionname eq 'Microsoft 365 Business Standard (manual)' "
              "and work365_quantity eq 12", "work365_quantity")
    url = f"work365_subscriptions({sub['work365_subscriptionid']})"
    deactivate = dv.patch(url, json={"statecode": 1, "statuscode": 2}, headers={"If-Match": sub["@odata.etag"]})
    assert deactivate.status_code == 204
    lcls = dv.get("work365_licensechangelogs", params={
        "$filter": f"_work365_subscription_value eq {sub['work365_subscriptionid']}",
        "$select": "work365_event,work365_quantity"}).json()["value"]
    deactivations = [r for r in lcls if r["work365_event"] == option_value("work365_licensechangelog", "work365_event", "Deactivate")]
    assert [r["work365_quantity"] for r in deactivations] == [-sub["work365_quantity"]]
    assert sum(r["work365_quantity"] for r in lcls) == 0
    refused = dv.patch(url, json={"work365_quantity": 99})
    assert_error(refused, 400, "0x80040265", "inactive")
    assert dv.get(url).json()["work365_quantity"] == sub["work365_quantity"]
    # a second deactivation is not a state change and writes nothing more
    assert dv.patch(url, json={"statecode": 1, "statuscode": 2}).status_code == 204
    again = dv.get("work365_licensechangelogs", params={
        "$filter": f"_work365_subscription_value eq {sub['work365_subscriptionid']}"}).json()["value"]
    assert len(again) == len(lcls)
    # reactivated, the licences are back: an Activate LCL restores Σ = quantity
    assert dv.patch(url, json={"statecode": 0, "statuscode": 1}).status_code == 204
    after = dv.get("work365_licensechangelogs", params={
        "$filter": f"_work365_subscription_value eq {sub['work365_subscriptionid']}",
        "$select": "work365_event,work365_quantity"}).json()["value"]
    activate = option_value("work365_licensechangelog", "work365_event", "Activate")
    assert [r["work365_quantity"] for r in after if r["work365_event"] == activate] == [sub["work365_quantity"]]
    assert sum(r["work365_quantity"] for r in after) == sub["work365_quantity"]


def test_create_refuses_an_inactive_status(dv: httpx.Client) -> None:
    assert_error(dv.post("accounts", json={"name": "Born inactive", "statecode": 1, "statuscode": 2}), 400,
                 "0x80048408", "AccountState.Active")
