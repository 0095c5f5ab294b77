"""The seed: deterministic, and covering the cases an operator meets."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from w365tui.sandbox import seed as seeding
from w365tui.sandbox.schema import LCL_EVENTS, PROVISIONING_STATUSES
from w365tui.sandbox.store import Store


def build(seed: int = 1, scale: int | None = None) -> Store:
    store = Store(":memory:")
    seeding.seed(store, seed=seed, scale=scale)
    return store


def digest(store: Store) -> str:
    return hashlib.sha256(store.canonical_dump().encode()).hexdigest()


def test_the_same_seed_gives_an_identical_database() -> None:
    assert build(1).canonical_dump() == build(1).canonical_dump()
    assert digest(build(7, scale=200)) == digest(build(7, scale=200))


def test_a_different_seed_gives_different_data() -> None:
    assert digest(build(1)) != digest(build(2))


def test_a_seeded_database_refuses_a_second_seed() -> None:
    store = build()
    with pytest.raises(ValueError, match="not empty"):
        seeding.seed(store)


def rows(store: Store, sql: str, *params: object) -> list[tuple]:
    return [tuple(r) for r in store.conn.execute(sql, params)]


def test_the_demo_book_covers_the_operator_cases() -> None:
    store = build()
    customers = store.count("ion_customer")
    assert 28 <= customers <= 40
    # mapped and unmapped provider accounts on the automatic TechData provider
    techdata = rows(store, "SELECT work365_providerid FROM work365_provider WHERE work365_providertype = 412410000 "
                           "AND work365_internalname = 'Providers.TechDataCspProvider' AND statecode = 0")
    assert len(techdata) == 1
    mapped = Counter(r[0] is not None for r in rows(
        store, "SELECT work365_account FROM work365_provideraccount WHERE work365_provider = ?", techdata[0][0]))
    assert mapped[True] >= 5 and mapped[False] >= 5
    # near-duplicate CRM names
    names = {r[0] for r in rows(store, "SELECT name FROM account")}
    assert {"Contoso Ltd", "Contoso Limited"} <= names
    # a StreamOne customer not yet in Work 365
    assert rows(store, "SELECT COUNT(*) FROM ion_customer c WHERE NOT EXISTS (SELECT 1 FROM work365_provideraccount p "
                       "WHERE p.work365_providerspecificaccountid = CAST(c.id AS TEXT))")[0][0] >= 2
    # hostile names
    organizations = {r[0] for r in rows(store, "SELECT organization FROM ion_customer")}
    assert "[bold red]Evil[/] Corp" in organizations
    assert any("\x1b[" in n for n in organizations)
    assert any("🍕" in n for n in organizations)
    assert any("é" in n or "ü" in n for n in organizations)
    assert any("\u0600" <= ch <= "\u06ff" for n in organizations for ch in n)
    assert max(len(n) for n in organizations) > 200


def test_tenant_domains_match_a_website_or_contact_email() -> None:
    store = build()
    by_website = rows(store, "SELECT a.name FROM account a JOIN ion_customer c ON c.organization = 'Northwind Traders' "
                             "JOIN ion_cloud_profile p ON p.customer_id = c.id AND p.short_name = 'Microsoft' "
                             "WHERE a.websiteurl LIKE '%' || p.domain")
    assert by_website == [("Northwind Traders",)]
    by_email = rows(store, "SELECT a.name FROM account a JOIN contact k ON k.contactid = a.primarycontactid "
                           "JOIN ion_cloud_profile p ON k.emailaddress1 LIKE '%@' || p.domain "
                           "JOIN ion_customer c ON c.id = p.customer_id AND c.organization = 'Adatum Corporation'")
    assert by_email == [("A. Datum Corp",)]


EVENT = {label: value for value, label in LCL_EVENTS}
PROVISIONING = {label: value for value, label in PROVISIONING_STATUSES}


def test_the_worked_example_is_in_the_book() -> None:
    store = build()
    subs = rows(store, "SELECT s.work365_subscriptionid, p.work365_providertype, s.work365_quantity FROM work365_subscription s "
                       "JOIN work365_provider p ON p.work365_providerid = s.work365_provider "
                       "JOIN account a ON a.accountid = s.work365_subscription_customer "
                       "WHERE a.name = 'Fabrikam Inc' ORDER BY p.work365_providertype")
    assert [(t, q) for _, t, q in subs] == [(412410000, 12), (412410001, 12)]  # automatic T, manual M
    history = {sid: sorted(rows(store, "SELECT work365_event, work365_quantity FROM work365_licensechangelog "
                                       "WHERE work365_subscription = ? ORDER BY createdon", sid)) for sid, _, _ in subs}
    techdata, manual = subs[0][0], subs[1][0]
    assert sorted(q for _, q in history[manual]) == [-1, 3, 10]
    assert history[techdata] == [(EVENT["Create"], 12)]


def test_special_cases_are_present() -> None:
    store = build()
    awaiting = rows(store, "SELECT COUNT(*) FROM work365_licensechangelog WHERE work365_provisioningstatus = ?",
                    PROVISIONING["Awaiting Provisioning"])[0][0]
    assert awaiting == 1
    elsewhere = rows(store, "SELECT COUNT(*) FROM work365_licensechangelog l JOIN invoice i ON i.invoiceid = l.work365_invoice "
                            "WHERE i.customerid != l.work365_account")[0][0]
    assert elsewhere == 1
    monthly_and_annual = rows(store, "SELECT s.work365_subscription_customer, substr(s.work365_providerpartnumber, 1, 12) "
                                     "FROM work365_subscription s GROUP BY 1, 2 HAVING COUNT(DISTINCT s.work365_providerpartnumber) > 1")
    assert len(monthly_and_annual) >= 1
    mismatches = rows(store, "SELECT s.work365_subscriptionid FROM work365_subscription s JOIN work365_licensechangelog l "
                             "ON l.work365_subscription = s.work365_subscriptionid GROUP BY 1 "
                             "HAVING SUM(l.work365_quantity) != MAX(s.work365_quantity)")
    assert len(mismatches) >= 1
    no_contract = rows(store, "SELECT COUNT(*) FROM work365_subscription WHERE work365_billingcontract IS NULL")[0][0]
    assert no_contract >= 1


def test_scale_builds_the_requested_number_of_customers() -> None:
    store = build(scale=500)
    assert store.count("ion_customer") == 500
    assert store.count("work365_provideraccount") > 400
    assert store.count("work365_subscription") > 0 and store.count("work365_licensechangelog") > 0
