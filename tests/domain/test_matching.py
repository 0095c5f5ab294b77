from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from w365tui.domain.matching import (
    Candidate,
    Tenant,
    domain_of,
    name_similarity,
    normalise_name,
    rank,
    search_terms,
)
from w365tui.domain.models import Account


def account(name: str, website: str | None = None, email: str | None = None) -> Account:
    return Account(id=uuid.uuid4(), name=name, website=website, email=email)


@pytest.mark.parametrize(
    ("a", "b"),
    [("Contoso Ltd", "Contoso Limited"), ("Tailspin Toys Inc.", "Tailspin Toys, Inc"), ("Café Müller GmbH", "Cafe Muller"),
     ("O'Brien & Sons (UK) Ltd.", "OBrien and Sons UK Limited"), ("The Phone Company", "Phone Company"),
     ("Wide World Importers LLC", "WIDE WORLD IMPORTERS")],
)
def test_names_agree_once_case_accents_punctuation_and_suffixes_are_set_aside(a: str, b: str) -> None:
    assert normalise_name(a).replace(" ", "") == normalise_name(b).replace(" ", "")


def test_normalising_keeps_meaningful_words() -> None:
    assert normalise_name("Contoso Pharmaceuticals") == "contoso pharmaceuticals"
    assert normalise_name("Pizza 🍕 Palace AB") == "pizza palace"
    assert name_similarity("Ltd", "Ltd") == 0.0  # nothing left to compare


@given(st.text(max_size=60))
def test_normalise_never_fails_and_is_idempotent(text: str) -> None:
    once = normalise_name(text)
    assert normalise_name(once) == once


@pytest.mark.parametrize(("value", "domain"), [("https://www.Contoso.com/about", "contoso.com"), ("it@Contoso.com", "contoso.com"),
                                                 ("contoso.com", "contoso.com"), ("", None), (None, None)])
def test_domains(value: str | None, domain: str | None) -> None:
    assert domain_of(value) == domain


def test_a_domain_match_decides_between_near_duplicate_names() -> None:
    ltd = account("Contoso Ltd", website="https://www.contoso.com")
    limited = account("Contoso Limited")
    pharma = account("Contoso Pharmaceuticals")
    ranked = rank(Tenant("Contoso Ltd", domain="contoso.com"), [Candidate(limited), Candidate(pharma), Candidate(ltd)])
    assert [s.account.name for s in ranked][:2] == ["Contoso Ltd", "Contoso Limited"]
    assert ranked[0].reasons == ("website domain contoso.com", "same name")
    assert not any("too close" in w for w in ranked[0].warnings)


def test_names_alone_that_tie_are_too_close_to_call() -> None:
    ranked = rank(Tenant("Contoso Ltd"), [Candidate(account("Contoso Ltd")), Candidate(account("Contoso Limited"))])
    assert all("too close to call: check before mapping" in s.warnings for s in ranked)


def test_tenant_id_and_contact_email_are_evidence() -> None:
    tenant = Tenant("Adatum Corporation", tenant_id="T-1", domain="adatum.com")
    known = account("Something Else Entirely")
    by_contact = account("A. Datum Corp")
    ranked = rank(tenant, [Candidate(known, tenant_ids=frozenset({"t-1"})),
                           Candidate(by_contact, contact_email="jane@adatum.com")])
    assert ranked[0].account is known and ranked[0].reasons == ("tenant id already mapped to this account",)
    assert ranked[1].reasons[0] == "email domain adatum.com"


def test_accounts_mapped_on_the_provider_carry_a_warning_and_unrelated_ones_are_left_out() -> None:
    coho = account("Coho Winery")
    ranked = rank(Tenant("Coho Winery"), [Candidate(coho, mapped_on_provider=1), Candidate(account("Fabrikam"))])
    assert len(ranked) == 1
    assert ranked[0].warnings == ("already mapped to 1 provider account of this provider",)


def test_generic_mail_domains_are_not_evidence() -> None:
    ranked = rank(Tenant("X", email="x@gmail.com"), [Candidate(account("Y", email="y@gmail.com"))])
    assert ranked == []


def test_search_terms() -> None:
    assert search_terms("O'Brien & Sons (UK) Ltd.") == ["brien", "sons"]
    assert search_terms("AB") == []
