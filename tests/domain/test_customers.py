"""Searching CRM accounts and one customer at a glance, as pure functions."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from w365tui.domain.customers import (
    ContractView,
    Found,
    customer_view,
    id_in,
    rank_accounts,
    server_terms,
)
from w365tui.domain.enums import LclEvent, ProviderType
from w365tui.domain.models import Account, BillingContract, LicenseChangeLog, Provider, Subscription


def account(name: str, **kw) -> Account:
    return Account(id=uuid.uuid4(), name=name, **kw)


ACCOUNTS = [account("Contoso Ltd", website="https://www.contoso.com", number="C10001"),
            account("Contoso Limited"), account("Northwind Traders", email="it@northwind.example"),
            account("Café Müller GmbH"), account("Adventure Works", number="C20002"),
            account("Fabrikam, Inc.", website="fabrikam.com")]


def names(text: str, via=None) -> list[str]:
    return [h.account.name for h in rank_accounts(text, ACCOUNTS, via)]


def test_names_rank_as_the_mapping_suggestions_normalise_them() -> None:
    assert names("contoso ltd") == ["Contoso Ltd", "Contoso Limited"]  # as typed first, then the same name
    assert names("cafe muller") == ["Café Müller GmbH"]  # accents and legal suffixes set aside
    assert names("north trad") == ["Northwind Traders"]  # words of the name, by their beginnings
    assert names("wind") == ["Northwind Traders"]  # part of a name
    assert names("fabrikam inc") == ["Fabrikam, Inc."]
    assert names("zzz") == []


def test_domains_account_numbers_and_ids_find_accounts_too() -> None:
    assert names("contoso.com") == ["Contoso Ltd"] == names("www.contoso.com")[:1]
    assert names("it@northwind.example") == ["Northwind Traders"]
    assert names("north wind") == ["Northwind Traders"]  # every word somewhere: what the service matched
    assert names("northwind.example") == ["Northwind Traders"]
    assert names("C2000") == ["Adventure Works"] and names("c20002")[0] == "Adventure Works"
    found = rank_accounts("306870", ACCOUNTS, {ACCOUNTS[4].id: "customer id of AW"})
    assert [(h.account.name, h.why) for h in found] == [("Adventure Works", "customer id of AW")]


def test_what_the_service_is_asked_and_when_a_longer_text_needs_no_new_question() -> None:
    assert server_terms("  Contoso ltd ") == ("contoso",) and server_terms("a b") == () == server_terms("")
    assert server_terms("acme analytics 12 west") == ("acme", "analytics", "west")  # the longest three, as typed
    assert server_terms("Smith & Sons GmbH") == ("smith", "sons")  # what the ranking sets aside is not asked for
    assert server_terms("co") == ("co",)  # unless it is all there is (the start of Contoso, say)
    assert id_in("306870") == "306870" and id_in("306") is None and id_in("contoso") is None
    assert id_in("{6C2E1A94-3B7D-4E0F-9A51-D2C4B8E7F013}") == "6c2e1a94-3b7d-4e0f-9a51-d2c4b8e7f013"
    found = Found("cont", ("cont",), tuple(ACCOUNTS), complete=True)
    assert found.narrows_to("conto") and found.narrows_to("contoso ltd") and found.narrows_to("ltd cont")
    assert [h.account.name for h in found.hits("contoso ltd")] == ["Contoso Ltd", "Contoso Limited"]
    assert not found.narrows_to("north")  # another word: ask the service
    assert not Found("cont", ("cont",), tuple(ACCOUNTS), complete=False).narrows_to("conto")  # it had more
    assert not Found("12ab", ("12ab",), (), complete=True).narrows_to("x12ab")  # numbers match by their start
    two = Found("acme an", ("acme", "an"), (), complete=True)
    assert two.narrows_to("acme ana") and not two.narrows_to("acme")  # a word dropped: the answer was narrower
    assert not found.narrows_to("306870")  # an id: ask which accounts hold it


MANUAL = Provider(id=uuid.uuid4(), name="TechData", type=ProviderType.MANUAL)
AUTO = Provider(id=uuid.uuid4(), name="TD SYNNEX StreamOne", type=ProviderType.AUTOMATIC)


def test_the_glance_counts_by_provider_type_and_flags_step_5() -> None:
    customer = ACCOUNTS[0]
    contract = BillingContract(id=uuid.uuid4(), name="Monthly", customer_id=customer.id, is_default=True)
    old = BillingContract(id=uuid.uuid4(), name="Old", customer_id=customer.id, state="inactive")

    def sub(name: str, provider: Provider, qty: int, lcl: int, **kw) -> tuple[Subscription, list[LicenseChangeLog]]:
        values = {"customer_id": customer.id, "billing_contract_id": contract.id, "selling_price": Decimal("5"),
                  "effective_start_date": date(2024, 1, 1), **kw}
        s = Subscription(id=uuid.uuid4(), name=name, provider_id=provider.id, quantity=qty, **values)
        return s, [LicenseChangeLog(subscription_id=s.id, id=uuid.uuid4(), event=LclEvent.CREATE, quantity=lcl)]

    subscriptions = [
        sub("good", AUTO, 5, 5),
        sub("mismatch", AUTO, 5, 3),
        sub("no price", MANUAL, 2, 2, selling_price=None),
        sub("old contract", MANUAL, 2, 2, billing_contract_id=old.id),
        sub("elsewhere", MANUAL, 2, 2, customer_id=uuid.uuid4(), billing_contract_id=uuid.uuid4()),
        sub("gone", MANUAL, 0, 9, state="inactive", billing_contract_id=None),
    ]
    view = customer_view(customer, provider_accounts=[], contracts=[ContractView(contract), ContractView(old)],
                         providers={MANUAL.id: MANUAL, AUTO.id: AUTO}, subscriptions=subscriptions)
    counts = view.counts
    assert (counts.automatic_active, counts.manual_active, counts.manual_inactive, counts.total) == (2, 3, 1, 6)
    assert view.mismatched == ("mismatch",)  # an inactive one is not checked
    assert [(f.subscription, f.problem) for f in view.flags] == [
        ("no price", "no selling price"), ("old contract", "an inactive billing contract (Old)"),
        ("elsewhere", "another customer"), ("elsewhere", "a billing contract of another account")]
    assert view.findings == 5 and view.default_contract == contract
