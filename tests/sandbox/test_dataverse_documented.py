"""Dataverse behaviours Microsoft documents that a client of Work 365 can meet (Web API pages on
querying, joining, conditional operations, retrieving, updating and deleting)."""

from __future__ import annotations

import uuid

import httpx

from w365tui.sandbox.dataverse import EXPAND_INLINE_LIMIT
from w365tui.sandbox.host import Sandbox
from w365tui.sandbox.schema import BY_LOGICAL


def one(dv: httpx.Client, path: str, **params: str) -> dict:
    response = dv.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()["value"][0]


def test_an_expanded_collection_links_to_the_whole_filtered_collection(dv: httpx.Client) -> None:
    sub = one(dv, "work365_subscriptions", **{"$select": "work365_subscriptionid",
                                              "$filter": "work365_subscriptionname eq 'Microsoft 365 Business Standard (manual)'"})
    url = f"work365_subscriptions({sub['work365_subscriptionid']})"
    row = dv.get(url, params={"$select": "work365_quantity", "$expand": "work365_subscription_licensechangelogs("
                              "$select=work365_quantity;$orderby=work365_effectivedate)"}).json()
    link = row["work365_subscription_licensechangelogs@odata.nextLink"]
    assert link.endswith(f"{url}/work365_subscription_licensechangelogs?$select=work365_quantity"
                         "&$orderby=work365_effectivedate")
    followed = httpx.get(link, headers=dict(dv.headers)).json()["value"]
    assert [r["work365_quantity"] for r in followed] == [
        r["work365_quantity"] for r in row["work365_subscription_licensechangelogs"]]


def test_past_the_inline_limit_an_expanded_collection_is_cut_and_the_link_has_the_rest(
        sandbox: Sandbox, dv: httpx.Client) -> None:
    lcl = BY_LOGICAL["work365_licensechangelog"]
    sub = sandbox.store.conn.execute("SELECT work365_subscriptionid FROM work365_subscription LIMIT 1").fetchone()[0]
    for n in range(EXPAND_INLINE_LIMIT + 3):
        sandbox.store.insert(lcl, {"work365_licensechangelogid": str(uuid.uuid4()), "work365_name": f"bulk {n}",
                                   "work365_subscription": sub, "work365_quantity": 1, "statecode": 0,
                                   "statuscode": 1})
    row = dv.get(f"work365_subscriptions({sub})", params={
        "$select": "work365_quantity", "$expand": "work365_subscription_licensechangelogs($select=work365_name)"}).json()
    inline = row["work365_subscription_licensechangelogs"]
    assert len(inline) == EXPAND_INLINE_LIMIT
    counted = int(dv.get(f"work365_subscriptions({sub})/work365_subscription_licensechangelogs/$count").text)
    assert counted == 5000  # $count stops at 5,000, as Dataverse's does
    total = sandbox.store.conn.execute("SELECT COUNT(*) FROM work365_licensechangelog WHERE work365_subscription = ?",
                                       (sub,)).fetchone()[0]
    assert total > EXPAND_INLINE_LIMIT
    pages, link = 0, row["work365_subscription_licensechangelogs@odata.nextLink"]
    seen = 0
    while link:
        page = httpx.get(link, headers={**dict(dv.headers), "Prefer": "odata.maxpagesize=2000"}).json()
        seen += len(page["value"])
        link, pages = page.get("@odata.nextLink"), pages + 1
    assert seen == total and pages == 3


def test_count_of_a_collection_and_one_column_read_and_cleared(dv: httpx.Client) -> None:
    account = one(dv, "accounts", **{"$select": "accountid,name,websiteurl", "$filter": "name eq 'Contoso Ltd'"})
    url = f"accounts({account['accountid']})"
    assert dv.get(f"{url}/work365_account_billingcontracts/$count").text == "1"
    name = dv.get(f"{url}/name")
    assert name.status_code == 200 and name.json()["value"] == "Contoso Ltd"
    assert name.json()["@odata.context"].endswith(f"{url}/name")
    assert dv.delete(f"{url}/websiteurl").status_code == 204
    assert dv.get(f"{url}/websiteurl").status_code == 204  # null: no content
    assert dv.get(url, params={"$select": "websiteurl"}).json()["websiteurl"] is None
    refused = dv.delete(f"{url}/accountid")
    assert refused.status_code == 400 and set(refused.json()["error"]) == {"code", "message"}
    assert dv.get(f"{url}/nosuchcolumn").status_code == 404


def test_a_money_column_comes_with_its_currency_and_a_formatted_symbol(dv: httpx.Client) -> None:
    row = dv.get("work365_subscriptions", params={"$select": "work365_sellingprice", "$top": "1",
                                                  "$filter": "work365_sellingprice ne null"},
                 headers={"Prefer": 'odata.include-annotations="*"'}).json()["value"][0]
    assert "_transactioncurrencyid_value" in row
    currency = dv.get(f"transactioncurrencies({row['_transactioncurrencyid_value']})",
                      params={"$select": "currencysymbol"}).json()["currencysymbol"]
    formatted = row["work365_sellingprice@OData.Community.Display.V1.FormattedValue"]
    assert formatted.startswith(currency) and formatted[len(currency):].replace(",", "").replace(".", "").isdigit()


def test_conditional_get_answers_not_modified_only_for_the_plain_row(dv: httpx.Client) -> None:
    account = one(dv, "accounts", **{"$select": "accountid", "$filter": "name eq 'Contoso Ltd'"})
    url = f"accounts({account['accountid']})"
    etag = dv.get(url, params={"$select": "name"}).headers["ETag"]
    assert dv.get(url, params={"$select": "name"}, headers={"If-None-Match": etag}).status_code == 304
    expanded = dv.get(url, params={"$select": "name", "$expand": "primarycontactid($select=fullname)"},
                      headers={"If-None-Match": etag})
    assert expanded.status_code == 200
    annotated = dv.get(url, params={"$select": "name"},
                       headers={"If-None-Match": etag, "Prefer": 'odata.include-annotations="*"'})
    assert annotated.status_code == 200
    assert annotated.headers["Preference-Applied"] == 'odata.include-annotations="*"'


def test_return_representation_sends_no_entity_id(dv: httpx.Client) -> None:
    created = dv.post("accounts", json={"name": "Represented"}, headers={"Prefer": "return=representation"})
    assert created.status_code == 201 and created.json()["name"] == "Represented"
    assert "OData-EntityId" not in created.headers
    plain = dv.post("accounts", json={"name": "Plain"})
    assert plain.status_code == 204 and plain.headers["OData-EntityId"].endswith(")")


def names(dv: httpx.Client, **params: str) -> list[str]:
    response = dv.get("accounts", params={"$select": "name", **params})
    assert response.status_code == 200, response.text
    return sorted(row["name"] for row in response.json()["value"])


def test_the_in_and_between_query_functions_with_inline_values_and_aliases(dv: httpx.Client) -> None:
    in_ = "Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['Contoso Ltd','fabrikam inc'])"
    assert names(dv, **{"$filter": in_}) == ["Contoso Ltd", "Fabrikam Inc"]  # strings compare without case
    aliased = names(dv, **{"$filter": "Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)",
                           "@p1": "'name'", "@p2": "['Contoso Ltd','Tailspin Toys, Inc']"})
    assert aliased == ["Contoso Ltd", "Tailspin Toys, Inc"]
    assert names(dv, **{"$filter": "name eq @p1", "@p1": "'Contoso Ltd'"}) == ["Contoso Ltd"]
    every = names(dv)
    not_in = names(dv, **{"$filter": "Microsoft.Dynamics.CRM.NotIn(PropertyName='name',PropertyValues=['Contoso Ltd'])"})
    assert sorted([*not_in, "Contoso Ltd"]) == every
    between = names(dv, **{"$filter": "Microsoft.Dynamics.CRM.Between(PropertyName='name',PropertyValues=['B','C'])"})
    assert between and all("b" <= n.casefold() <= "c" for n in between)
    for bad in ("Microsoft.Dynamics.CRM.Nope(PropertyName='name')", "name eq @missing",
                "Microsoft.Dynamics.CRM.Between(PropertyName='name',PropertyValues=['A'])"):
        refused = dv.get("accounts", params={"$filter": bad})
        assert refused.status_code == 400 and set(refused.json()["error"]) == {"code", "message"}


def test_lambda_operators_over_related_rows(dv: httpx.Client) -> None:
    with_tenant = names(dv, **{"$filter": "work365_account_provideraccounts/any(p: p/work365_providerspecificaccountid "
                                          "eq '306871')"})
    assert with_tenant == ["Fabrikam Inc"]
    mapped = names(dv, **{"$filter": "work365_account_provideraccounts/any()"})
    assert "Coho Winery" in mapped and "Contoso Ltd" not in mapped
    small = names(dv, **{"$filter": "work365_account_subscriptions/all(s: s/work365_quantity le 12) and "
                                    "work365_account_subscriptions/any()"})
    large = names(dv, **{"$filter": "work365_account_subscriptions/any(s: s/work365_quantity gt 12)"})
    assert small and large and not set(small) & set(large)
    refused = dv.get("accounts", params={"$filter": "work365_account_subscriptions/any(s: work365_quantity gt 1)"})
    assert refused.status_code == 400


def test_apply_groups_by_a_related_column_and_formats_what_it_returns(dv: httpx.Client) -> None:
    answer = dv.get("work365_subscriptions", params={
        "$apply": "groupby((work365_Provider/work365_name,work365_billablestatus),"
                  "aggregate(work365_quantity with sum as total,$count as n))"},
                    headers={"Prefer": 'odata.include-annotations="*"'})
    assert answer.status_code == 200, answer.text
    rows = answer.json()["value"]
    providers = {r["work365_Provider"]["work365_name"] for r in rows}
    assert {"TD SYNNEX StreamOne", "TechData"} <= providers
    row = rows[0]
    assert row["work365_billablestatus@OData.Community.Display.V1.FormattedValue"] in ("Billable", "Non-Billable")
    assert row["total@OData.Community.Display.V1.FormattedValue"] == f"{row['total']:,}"
