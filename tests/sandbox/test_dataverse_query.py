"""Dataverse Web API reads, against the sandbox over loopback HTTP."""

from __future__ import annotations

import httpx
import pytest

from w365tui.sandbox.host import Sandbox
from w365tui.sandbox.schema import option_value


def get(dv: httpx.Client, path: str, prefer: str | None = None, **params: str) -> httpx.Response:
    headers = {"Prefer": prefer} if prefer else {}
    return dv.get(path, params=params, headers=headers)


def names(response: httpx.Response, column: str = "name") -> list[str]:
    assert response.status_code == 200, response.text
    return [row[column] for row in response.json()["value"]]


def assert_error(response: httpx.Response, status: int, code: str, fragment: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert fragment in body["error"]["message"]


def test_odata_headers_and_context(dv: httpx.Client) -> None:
    response = get(dv, "accounts", "odata.maxpagesize=3", **{"$select": "name,websiteurl"})
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=3"
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#accounts(name,websiteurl)")
    row = body["value"][0]
    assert set(row) == {"@odata.etag", "name", "websiteurl", "accountid"}
    assert row["@odata.etag"].startswith('W/"')


def test_whoami(dv: httpx.Client) -> None:
    body = dv.get("WhoAmI").json()
    assert {"UserId", "BusinessUnitId", "OrganizationId"} <= set(body)


def test_unknown_column_and_entity_set_are_refused(dv: httpx.Client) -> None:
    assert_error(get(dv, "accounts", **{"$select": "Name"}), 400, "0x0",
                 "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.account'.")
    assert_error(get(dv, "Accounts"), 404, "0x8006088a", "Resource not found for the segment 'Accounts'.")
    # a lookup is read as _x_value; its logical name is not a property of the Web API
    assert_error(get(dv, "work365_provideraccounts", **{"$select": "work365_account"}), 400, "0x0")
    assert_error(get(dv, "accounts", **{"$skip": "5"}), 400, "0x0", "$skip")


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ("name eq 'Contoso Ltd'", ["Contoso Ltd"]),
        ("name eq 'CONTOSO LTD'", ["Contoso Ltd"]),  # strings compare case-insensitively
        ("startswith(name, 'contoso')", ["Contoso Limited", "Contoso Ltd", "Contoso Pharmaceuticals"]),
        ("contains(name,'o''brien')", ["O'Brien and Sons UK Limited"]),  # a doubled quote is one quote
        ("endswith(name,'GmbH') and not contains(name, 'Cafe')", ["Lamna Healthcare GmbH"]),
        ("name eq 'Fabrikam Inc' or name eq 'Woodgrove Bank'", ["Fabrikam Inc", "Woodgrove Bank"]),
        ("contains(name,'[[]bold red]')", ["[bold red]Evil[/] Corp"]),  # [[] is a literal [
        # Dataverse's wildcards: _ any one character, % any run, [..] one of a set, [^..] none of it
        ("startswith(name,'c_ho')", ["Coho Winery"]),
        ("startswith(name,'contoso%ph')", ["Contoso Pharmaceuticals"]),
        ("startswith(name,'[fn]%')", ["Fabrikam Inc", "Fourth Coffee", "Northwind Traders"]),
        ("startswith(name,'contoso l[^t]')", ["Contoso Limited"]),
        # a wildcard-free prefix is narrowed by the name's case-blind index: quotes and case as without it
        ("startswith(name,'O''BRIEN and')", ["O'Brien and Sons UK Limited"]),
        ("startswith(name,'CONTOSO LTD')", ["Contoso Ltd"]),
        ("startswith(name,'contoso ltd ')", []),
        ("name eq 'x'' or 1 eq 1 or name eq ''y'", []),
        ("(startswith(name,'Contoso') and contains(name,'Li')) and not (name eq 'Contoso Ltd')", ["Contoso Limited"]),
    ],
)
def test_filter(dv: httpx.Client, filter_text: str, expected: list[str]) -> None:
    response = get(dv, "accounts", **{"$select": "name", "$filter": filter_text, "$orderby": "name"})
    assert names(response) == expected


def test_filter_on_lookup_value_and_null(dv: httpx.Client) -> None:
    rows = get(dv, "work365_provideraccounts", **{"$select": "work365_provideraccount_name,_work365_account_value"}).json()["value"]
    mapped = [r for r in rows if r["_work365_account_value"]]
    target = mapped[0]["_work365_account_value"]
    by_lookup = get(dv, "work365_provideraccounts", **{"$filter": f"_work365_account_value eq {target}"}).json()["value"]
    assert {r["work365_provideraccountid"] for r in by_lookup} == {
        r["work365_provideraccountid"] for r in rows if r["_work365_account_value"] == target
    }
    unmapped = get(dv, "work365_provideraccounts", **{"$filter": "_work365_account_value eq null"}).json()["value"]
    assert len(unmapped) == sum(1 for r in rows if r["_work365_account_value"] is None) > 0
    # a GUID is unquoted; quoting it is a type error, as in Dataverse
    assert_error(get(dv, "work365_provideraccounts", **{"$filter": f"_work365_account_value eq '{target}'"}), 400, "0x0",
                 "incompatible types")


def test_filter_on_option_set_and_navigation_path(dv: httpx.Client) -> None:
    awaiting = option_value("work365_licensechangelog", "work365_provisioningstatus", "Awaiting Provisioning")
    rows = get(dv, "work365_licensechangelogs", **{
        "$select": "work365_name",
        "$filter": f"work365_provisioningstatus eq {awaiting} and work365_Subscription/work365_quantity gt 0",
    })
    assert names(rows, "work365_name") == ["Update: Microsoft 365 Business Premium (manual)"]


@pytest.mark.parametrize(
    "bad",
    ["name eq", "name eq 5", "name eqq 'x'", "contains(name)", "name eq 'unterminated", "(name eq 'x'",
     "nosuch eq 1", "statecode eq 1.5", "createdon gt 2024-13-45", "name eq 'a' and", "1 eq 1"],
)
def test_malformed_filters_are_refused_in_the_service_shape(dv: httpx.Client, bad: str) -> None:
    response = get(dv, "accounts", **{"$filter": bad})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "0x0"


def test_orderby_and_top(dv: httpx.Client) -> None:
    asc = names(get(dv, "accounts", **{"$select": "name", "$orderby": "name asc", "$top": "4"}))
    desc = names(get(dv, "accounts", **{"$select": "name", "$orderby": "name desc"}))
    assert len(asc) == 4
    assert asc == sorted(desc, key=str.casefold)[:4]
    assert_error(get(dv, "accounts", **{"$top": "-1"}), 400, "0x0")


def test_expand_single_and_collection_with_nested_select(dv: httpx.Client) -> None:
    response = get(dv, "work365_subscriptions", **{
        "$select": "work365_subscriptionname,work365_quantity",
        "$expand": "work365_Provider($select=work365_name),"
                   "work365_subscription_licensechangelogs($select=work365_quantity;$orderby=work365_quantity desc)",
    })
    body = response.json()
    assert "work365_Provider(work365_name)" in body["@odata.context"]
    for sub in body["value"]:
        provider = sub["work365_Provider"]
        assert set(provider) == {"@odata.etag", "work365_name", "work365_providerid"}
        quantities = [lcl["work365_quantity"] for lcl in sub["work365_subscription_licensechangelogs"]]
        assert quantities == sorted(quantities, reverse=True)
    assert_error(get(dv, "work365_subscriptions", **{"$expand": "work365_provider"}), 400, "0x0")


def test_count_and_annotations(dv: httpx.Client, sandbox: Sandbox) -> None:
    response = get(dv, "work365_licensechangelogs", 'odata.include-annotations="*",odata.maxpagesize=2', **{
        "$select": "work365_event,_work365_subscription_value,statuscode", "$count": "true"})
    body = response.json()
    assert body["@odata.count"] == sandbox.store.count("work365_licensechangelog")
    assert len(body["value"]) == 2
    row = body["value"][0]
    assert row["work365_event@OData.Community.Display.V1.FormattedValue"] in {"Create", "Update", "Deactivate"}
    assert row["_work365_subscription_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "work365_subscription"
    assert row["_work365_subscription_value@OData.Community.Display.V1.FormattedValue"]


def test_apply_groupby_sum(dv: httpx.Client, sandbox: Sandbox) -> None:
    response = get(dv, "work365_licensechangelogs", **{
        "$apply": "groupby((_work365_subscription_value),aggregate(work365_quantity with sum as total))"})
    assert response.status_code == 200, response.text
    totals = {r["_work365_subscription_value"]: r["total"] for r in response.json()["value"]}
    expected = dict(sandbox.store.conn.execute(
        "SELECT work365_subscription, SUM(work365_quantity) FROM work365_licensechangelog GROUP BY 1").fetchall())
    assert totals == expected
    filtered = get(dv, "work365_licensechangelogs", **{
        "$apply": "filter(work365_quantity lt 0)/aggregate(work365_quantity with sum as total, $count as n)"})
    row = filtered.json()["value"][0]
    negative = sandbox.store.conn.execute(
        "SELECT SUM(work365_quantity), COUNT(*) FROM work365_licensechangelog WHERE work365_quantity < 0").fetchone()
    assert (row["total"], row["n"]) == tuple(negative)


@pytest.mark.parametrize("ordered", [True, False], ids=["orderby", "key-order"])
@pytest.mark.parametrize("page_size", [1, 7, 5000])
def test_next_link_returns_every_row_exactly_once(dv: httpx.Client, sandbox: Sandbox, page_size: int,
                                                  ordered: bool) -> None:
    prefer = {"Prefer": f"odata.maxpagesize={page_size}"}
    seen: list[str] = []
    pages = 0
    url: str | None = "work365_licensechangelogs?$select=work365_name"
    url += "&$orderby=work365_quantity desc" if ordered else ""
    while url:
        response = dv.get(url, headers=prefer)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["value"]) <= page_size
        seen += [r["work365_licensechangelogid"] for r in body["value"]]
        url = body.get("@odata.nextLink")
        pages += 1
    total = sandbox.store.count("work365_licensechangelog")
    assert len(seen) == len(set(seen)) == total
    assert pages == -(-total // page_size) if page_size < total else pages == 1
    if not ordered:
        assert seen == sorted(seen)


@pytest.mark.parametrize("ordered", [True, False])
def test_top_caps_the_rows_across_pages(dv: httpx.Client, ordered: bool) -> None:
    url: str | None = "accounts?$select=name&$top=5" + ("&$orderby=name" if ordered else "")
    seen = []
    while url:
        body = dv.get(url, headers={"Prefer": "odata.maxpagesize=2"}).json()
        seen += [r["accountid"] for r in body["value"]]
        url = body.get("@odata.nextLink")
    assert len(seen) == len(set(seen)) == 5


def test_skiptoken_is_opaque_and_checked(dv: httpx.Client) -> None:
    first = get(dv, "accounts", "odata.maxpagesize=2", **{"$select": "name"}).json()
    link = first["@odata.nextLink"]
    assert "$skiptoken=" in link
    tampered = link.rsplit("$skiptoken=", 1)[0] + "$skiptoken=bm90LWEtdG9rZW4"
    assert_error(dv.get(tampered, headers={"Prefer": "odata.maxpagesize=2"}), 400, "0x0", "$skiptoken")
    # a token minted for one query is refused for another
    other = link.replace("%24select=name", "%24select=websiteurl").replace("$select=name", "$select=websiteurl")
    assert_error(dv.get(other), 400, "0x0", "$skiptoken")


def test_retrieve_one_row_and_navigation_collection(dv: httpx.Client) -> None:
    account = get(dv, "accounts", **{"$filter": "name eq 'Fabrikam Inc'", "$select": "accountid"}).json()["value"][0]
    one = dv.get(f"accounts({account['accountid']})", params={"$select": "name"})
    assert one.status_code == 200
    assert one.json()["name"] == "Fabrikam Inc"
    assert one.json()["@odata.context"].endswith("accounts(name)/$entity")
    assert one.headers["ETag"] == one.json()["@odata.etag"]
    assert dv.get(f"accounts({account['accountid']})", headers={"If-None-Match": one.headers["ETag"]}).status_code == 304
    subs = dv.get(f"accounts({account['accountid']})/work365_account_subscriptions",
                  params={"$select": "work365_subscriptionname"})
    assert sorted(names(subs, "work365_subscriptionname")) == [
        "Microsoft 365 Business Standard (manual)", "Microsoft 365 Business Standard (monthly)"]
    assert_error(dv.get("accounts(00000000-0000-0000-0000-0000000000ff)"), 404, "0x80040217")
    assert_error(dv.get("accounts(not-a-guid)"), 400, "0x0")
