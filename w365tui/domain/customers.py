"""CRM accounts found by what an operator types, and one customer at a glance.

Search ranks locally what the service narrowed down: the typed words against the account's
name (normalised as the mapping suggestions normalise it: case, accents, punctuation, legal
suffixes), its website and e-mail domains, its account number, and the ids of the provider
accounts mapped to it (a tenant id or a StreamOne customer id pasted from a ticket).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from w365tui.domain.enums import ProviderType
from w365tui.domain.ids import AccountIdKind, kind_of, norm_id
from w365tui.domain.matching import LEGAL_SUFFIXES, domain_of, normalise_name
from w365tui.domain.models import (
    Account,
    BillingContract,
    LicenseChangeLog,
    Provider,
    ProviderAccount,
    Subscription,
    lcl_total,
)

MIN_SERVER_TERM = 2  # characters a word needs before the service is asked for it


def account_domain(account: Account) -> str:
    return domain_of(account.website) or domain_of(account.email) or ""


MAX_SERVER_TERMS = 3
IGNORED = LEGAL_SUFFIXES | {"and", "of", "for", "&"}


def server_terms(text: str) -> tuple[str, ...]:
    """The words the service narrows by, each of which an account must hold (in its name, web
    site or e-mail, or as the start of its number): the longest few typed, in the order typed.
    The service compares case-insensitively; the ranking does the rest."""
    words = [w for w in re.findall(r"[^\s,;()'\"]+", text.strip()) if len(w) >= MIN_SERVER_TERM]
    kept = [w for w in words if w.casefold().strip(".") not in IGNORED]
    words = kept or words  # the ranking sets legal suffixes aside, so does the service, unless they are all there is
    longest = sorted(dict.fromkeys(w.casefold() for w in words), key=len, reverse=True)[:MAX_SERVER_TERMS]
    return tuple(w for w in dict.fromkeys(x.casefold() for x in words) if w in longest)


@dataclass(frozen=True)
class Hit:
    """An account found, how well it matches and why."""

    account: Account
    score: float
    why: str


def score_account(text: str, account: Account, via: str | None = None) -> Hit | None:
    """How well ``account`` answers what was typed; None when it does not. ``via``: the account
    was found through a provider account holding the typed id."""
    typed = text.strip()
    if not typed:
        return Hit(account, 0.0, "")
    if via:
        return Hit(account, 120.0, via)
    query = normalise_name(typed)
    name = normalise_name(account.name)
    folded = typed.casefold()
    best, why = 0.0, ""

    def better(score: float, reason: str) -> None:
        nonlocal best, why
        if score > best:
            best, why = score, reason

    if account.name.casefold().strip() == folded:
        better(110, "name")
    if query and name:
        if name == query:
            better(100, "name")
        elif name.startswith(query):
            better(85, "name starts so")
        else:
            words = name.split()
            wanted = query.split()
            if all(any(w.startswith(q) for w in words) for q in wanted):
                better(70 - 2 * len(wanted), "words of the name")
            elif query in name:
                better(50, "part of the name")
    typed_domain = domain_of(typed) or folded  # www.contoso.com, it@contoso.com, contoso.com
    for value, label in ((domain_of(account.website), "website"), (domain_of(account.email), "e-mail domain")):
        if value and typed_domain:
            if value == typed_domain or value.split(".")[0] == typed_domain:
                better(90, label)
            elif typed_domain in value:
                better(45, label)
    number = (account.number or "").casefold()
    if number and folded:
        if number == folded:
            better(95, "account number")
        elif number.startswith(folded):
            better(60, "account number")
    if not best:  # every word somewhere: what the service matched, ranked last
        haystack = " ".join(filter(None, (name, account.name.casefold(), (account.website or "").casefold(),
                                          (account.email or "").casefold(), number)))
        words = [w for w in folded.split() if w.strip(".") not in IGNORED] or folded.split()
        if words and all(w in haystack for w in words):
            better(30, "words")
    if not best:
        return None
    return Hit(account, best, why)


def rank_accounts(text: str, accounts: Iterable[Account], via: Mapping[UUID, str] | None = None,
                  limit: int | None = None) -> list[Hit]:
    """The accounts that answer ``text``, best first (then by name)."""
    via = via or {}
    hits = [h for h in (score_account(text, a, via.get(a.id)) for a in accounts) if h is not None]
    hits.sort(key=lambda h: (-h.score, h.account.name.casefold(), str(h.account.id)))
    return hits[:limit] if limit is not None else hits


@dataclass(frozen=True)
class Found:
    """What the service answered for a search: the accounts for ``term`` (all of them when
    ``complete``), and those found through a provider account holding a typed id."""

    text: str
    terms: tuple[str, ...]
    accounts: tuple[Account, ...]
    via: Mapping[UUID, str] = field(default_factory=dict)
    complete: bool = True

    def hits(self, text: str | None = None, limit: int | None = None) -> list[Hit]:
        return rank_accounts(self.text if text is None else text, self.accounts, self.via, limit)

    def narrows_to(self, text: str) -> bool:
        """Whether ``text`` can be answered from these accounts without asking the service: the
        answer was complete, and every word it was asked for is held by a word now typed (so
        the accounts ``text`` finds are among these)."""
        if not self.complete or self.via or id_in(text) is not None or not self.terms:
            return False
        now = server_terms(text)
        # a word that only grows (typed on at its end): the service matches account numbers by
        # their start, so a word grown at its front could find numbers the old word did not
        return all(any(new.startswith(old) for new in now) for old in self.terms)


def id_in(text: str) -> str | None:
    """The provider-specific id typed, if what was typed is one (a tenant id or a customer id)."""
    typed = text.strip()
    kind = kind_of(typed, AccountIdKind)
    if kind is AccountIdKind.TENANT or (kind is AccountIdKind.CUSTOMER and len(typed) >= 4):
        return norm_id(typed)
    return None


# -- one customer at a glance ----------------------------------------------------------------------
@dataclass(frozen=True)
class ProviderAccountView:
    account: ProviderAccount
    provider: str
    tenant_id: str | None = None
    domain: str | None = None


@dataclass(frozen=True)
class ContractView:
    contract: BillingContract
    frequency: str = ""
    policy: str = ""
    currency: str = ""
    price_list: str = ""


@dataclass(frozen=True)
class SubscriptionCounts:
    manual_active: int = 0
    manual_inactive: int = 0
    automatic_active: int = 0
    automatic_inactive: int = 0
    other_active: int = 0
    other_inactive: int = 0

    @property
    def total(self) -> int:
        return sum((self.manual_active, self.manual_inactive, self.automatic_active, self.automatic_inactive,
                    self.other_active, self.other_inactive))


@dataclass(frozen=True)
class Flag:
    """A step-5 check that failed: what is wrong, on which subscription."""

    subscription: str
    problem: str


@dataclass(frozen=True)
class CustomerView:
    account: Account
    provider_accounts: tuple[ProviderAccountView, ...] = ()
    contracts: tuple[ContractView, ...] = ()
    counts: SubscriptionCounts = field(default_factory=SubscriptionCounts)
    mismatched: tuple[str, ...] = ()  # subscriptions whose Σ LCL quantity is not their quantity
    flags: tuple[Flag, ...] = ()
    unread: tuple[str, ...] = ()  # what could not be read (StreamOne failing): the view is partial

    @property
    def default_contract(self) -> BillingContract | None:
        return next((c.contract for c in self.contracts if c.contract.is_default and c.contract.is_active), None)

    @property
    def findings(self) -> int:
        """What needs the operator's attention: flags and LCL mismatches."""
        return len(self.flags) + len(self.mismatched)


def subscription_flags(subscription: Subscription, account: Account,
                       contracts: Mapping[UUID, BillingContract]) -> list[str]:
    """Step 5's checks on one active subscription: billing contract, customer and pricing
    present and consistent with the contract and the account."""
    problems = []
    if subscription.customer_id is None:
        problems.append("no customer")
    elif subscription.customer_id != account.id:
        problems.append("another customer")
    if subscription.billing_contract_id is None:
        problems.append("no billing contract")
    else:
        contract = contracts.get(subscription.billing_contract_id)
        if contract is None:
            problems.append("a billing contract of another account")
        elif not contract.is_active:
            problems.append(f"an inactive billing contract ({contract.name})")
    if subscription.selling_price is None:
        problems.append("no selling price")
    elif subscription.selling_price < Decimal(0):
        problems.append("a negative selling price")
    if subscription.effective_start_date is None:
        problems.append("no effective start date")
    return problems


def customer_view(account: Account, *, provider_accounts: Sequence[ProviderAccountView],
                  contracts: Sequence[ContractView], providers: Mapping[UUID, Provider],
                  subscriptions: Sequence[tuple[Subscription, Sequence[LicenseChangeLog]]],
                  unread: Sequence[str] = ()) -> CustomerView:
    """Everything one customer has, counted and checked."""
    by_id = {c.contract.id: c.contract for c in contracts}
    counts = dict.fromkeys(("manual_active", "manual_inactive", "automatic_active", "automatic_inactive",
                            "other_active", "other_inactive"), 0)
    mismatched: list[str] = []
    flags: list[Flag] = []
    for sub, lcls in subscriptions:
        provider = providers.get(sub.provider_id) if sub.provider_id else None
        kind = "other"
        if provider is not None and provider.type is ProviderType.MANUAL:
            kind = "manual"
        elif provider is not None and provider.type is ProviderType.AUTOMATIC:
            kind = "automatic"
        counts[f"{kind}_{'active' if sub.is_active else 'inactive'}"] += 1
        if not sub.is_active:
            continue
        if lcl_total(lcls) != sub.quantity:
            mismatched.append(sub.name)
        flags.extend(Flag(sub.name, p) for p in subscription_flags(sub, account, by_id))
    return CustomerView(account, tuple(provider_accounts), tuple(contracts), SubscriptionCounts(**counts),
                        tuple(mismatched), tuple(flags), tuple(unread))
