"""The sandbox's two namings: Work 365's published, table-prefixed names by default, and the
compact names of earlier sandboxes beside them, over the same stored book."""

from __future__ import annotations

import httpx
import pytest

from w365tui.sandbox.host import Sandbox
from w365tui.sandbox.schema import catalog

#: Every name SPEC.md §2 publishes, table by table.
PUBLISHED = {
    "work365_subscription": ["work365_subscriptionid", "work365_subscription_customer",
                             "work365_subscription_billingcontract", "work365_subscription_product",
                             "work365_subscription_effectivestartdate", "work365_subscription_subscriptionname",
                             "work365_subscription_friendlyname", "work365_subscription_billablestatus",
                             "work365_subscription_parentsubscription", "work365_subscription_linkedsubscription",
                             "work365_subscription_billat"],
    "work365_billingcontract": ["work365_billingcontractid"],
    "work365_provideraccount": ["work365_provideraccount_name", "work365_provideraccount_account",
                                "work365_provideraccount_providerspecificaccountid", "work365_provideraccount_provider"],
    "work365_slcl": ["work365_slcl_customer", "work365_slcl_subscription", "work365_slcl_subscriptionevent",
                     "work365_slcl_effectivedate", "work365_slcl_quantity", "work365_slcl_sellingpriceperunit",
                     "work365_slcl_costpriceperunit"],
    "invoice": ["work365_invoice_billingcontract"],
    "work365_invoiceproduct": ["work365_invoiceproduct_subscription"],
}


def attributes(url: str, table: str) -> set[str]:
    answer = httpx.get(f"{url}EntityDefinitions(LogicalName='{table}')/Attributes",
                       params={"$select": "LogicalName"}, timeout=10)
    answer.raise_for_status()
    return {a["LogicalName"] for a in answer.json()["value"]}


@pytest.mark.parametrize("table", sorted(PUBLISHED))
def test_every_published_name_is_in_the_default_naming(table: str) -> None:
    with Sandbox.in_memory(seed=1) as sandbox:
        assert sandbox.naming == "published"
        assert set(PUBLISHED[table]) <= attributes(sandbox.dataverse_url, table)
    sandbox.store.close()


def test_unpublished_columns_follow_the_table_prefix() -> None:
    for entity in catalog("published").entities:
        if not entity.logical_name.startswith("work365_"):
            continue
        for attr in entity.attributes:
            if attr.logical_name.startswith("work365_") and attr.logical_name != entity.primary_id:
                assert attr.logical_name.startswith(entity.logical_name + "_"), attr.logical_name


def test_the_compact_naming_keeps_today_s_names_exactly() -> None:
    with Sandbox.in_memory(seed=1, naming="compact") as sandbox:
        names = attributes(sandbox.dataverse_url, "work365_subscription")
        assert {"work365_subscriptionname", "work365_quantity", "work365_billingcontract",
                "work365_subscription_customer"} <= names
        assert "work365_subscription_linkedsubscription" not in names
        tables = httpx.get(f"{sandbox.dataverse_url}EntityDefinitions", params={"$select": "LogicalName"},
                           timeout=10).json()["value"]
        assert "work365_slcl" not in {t["LogicalName"] for t in tables}
        nav = httpx.get(f"{sandbox.dataverse_url}EntityDefinitions(LogicalName='work365_provideraccount')/"
                        "ManyToOneRelationships", timeout=10).json()["value"]
        assert {"work365_Account", "work365_Provider"} <= {r["ReferencingEntityNavigationPropertyName"] for r in nav}
    sandbox.store.close()


def test_both_namings_serve_the_same_book() -> None:
    dumps = {}
    for naming in ("published", "compact"):
        with Sandbox.in_memory(seed=1, naming=naming) as sandbox:
            published = naming == "published"
            column = "work365_subscription_quantity" if published else "work365_quantity"
            name = "work365_subscription_subscriptionname" if published else "work365_subscriptionname"
            rows = httpx.get(f"{sandbox.dataverse_url}work365_subscriptions",
                             params={"$select": f"{name},{column}", "$filter": f"{column} gt 20",
                                     "$orderby": name}, timeout=10).json()["value"]
            dumps[naming] = [(r[name], r[column]) for r in rows]
            with pytest.raises(httpx.HTTPStatusError):  # the other naming's name is unknown here
                other = "work365_quantity" if published else "work365_subscription_quantity"
                httpx.get(f"{sandbox.dataverse_url}work365_subscriptions", params={"$select": other},
                          timeout=10).raise_for_status()
        sandbox.store.close()
    assert dumps["published"] == dumps["compact"] and dumps["published"]


def test_a_write_under_published_names_lands_in_the_same_columns() -> None:
    with Sandbox.in_memory(seed=1) as sandbox:
        account = sandbox.store.conn.execute("SELECT accountid FROM account WHERE name = 'Contoso Ltd'").fetchone()[0]
        created = httpx.post(f"{sandbox.dataverse_url}work365_provideraccounts", json={
            "work365_provideraccount_name": "Written", "work365_provideraccount_providerspecificaccountid": "42",
            "work365_ProviderAccount_Account@odata.bind": f"/accounts({account})"}, timeout=10)
        assert created.status_code == 204, created.text
        stored = sandbox.store.conn.execute("SELECT work365_providerspecificaccountid, work365_account FROM "
                                            "work365_provideraccount WHERE work365_provideraccount_name = 'Written'"
                                            ).fetchone()
        assert tuple(stored) == ("42", account)
        wrong_case = httpx.post(f"{sandbox.dataverse_url}work365_provideraccounts", json={
            "work365_provideraccount_name": "x", "work365_provideraccount_account@odata.bind": f"/accounts({account})"},
            timeout=10)
        assert wrong_case.status_code == 400  # navigation names are case-sensitive here too
    sandbox.store.close()
