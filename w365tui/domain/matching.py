"""Ranking CRM accounts as the match for a provider account, with the reasons shown.

Evidence, strongest first: the tenant id is already known on the account (through another
provider account mapped to it); the tenant's domain is the account's website or an email
domain of the account or its primary contact; the names agree once case, accents, punctuation
and legal suffixes (Ltd/Limited, Inc, LLC, GmbH, AB, …) are set aside.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from w365tui.domain.models import Account

LEGAL_SUFFIXES = frozenset({
    "ltd", "limited", "inc", "incorporated", "llc", "llp", "lp", "plc", "gmbh", "ag", "kg", "ab", "as", "asa", "aps",
    "oy", "oyj", "bv", "nv", "sa", "sas", "sarl", "srl", "spa", "co", "company", "corp", "corporation", "pty",
    "pte", "kk", "sl", "sro", "sp", "zoo", "the",
})
GENERIC_DOMAINS = frozenset({"gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com", "live.com"})
_STOP_WORDS = frozenset({"and", "the", "for", "of", "und", "och"})
TOO_CLOSE = 8.0  # score points between the top two that make them too close to call


def normalise_name(name: str) -> str:
    """Lower case, no accents, no punctuation, ``&`` as ``and``, no legal suffixes."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("&", " and ")
    words = re.findall(r"[^\W_]+", text)
    while words and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    while len(words) > 1 and words[0] == "the":
        words.pop(0)
    return " ".join(words)


def name_similarity(a: str, b: str) -> float:
    left, right = normalise_name(a), normalise_name(b)
    if not left or not right:
        return 0.0
    if left == right:
        return 1.0
    return SequenceMatcher(None, left, right).ratio()


def domain_of(value: str | None) -> str | None:
    """``https://www.Contoso.com/x`` → ``contoso.com``; ``a@Contoso.com`` → ``contoso.com``."""
    if not value:
        return None
    text = value.strip().casefold()
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    elif "//" in text or "/" in text:
        text = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    text = text.strip(". ")
    if text.startswith("www."):
        text = text[4:]
    return text or None


@dataclass(frozen=True)
class Tenant:
    """What StreamOne says of the provider account's customer."""

    name: str
    tenant_id: str | None = None
    domain: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Candidate:
    account: Account
    contact_email: str | None = None
    tenant_ids: frozenset[str] = frozenset()  # tenant ids already mapped to this account
    mapped_on_provider: int = 0  # provider accounts of this provider already mapped to it
    mapped_total: int = 0  # provider accounts of any provider mapped to it


@dataclass(frozen=True)
class Suggestion:
    account: Account
    score: float
    reasons: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())


def _score(tenant: Tenant, candidate: Candidate) -> Suggestion | None:
    account = candidate.account
    score = 0.0
    reasons: list[str] = []
    if tenant.tenant_id and tenant.tenant_id.casefold() in {t.casefold() for t in candidate.tenant_ids}:
        score += 100
        reasons.append("tenant id already mapped to this account")
    tenant_domains = {d for d in (domain_of(tenant.domain), domain_of(tenant.email)) if d and d not in GENERIC_DOMAINS}
    website = domain_of(account.website)
    if website and website in tenant_domains:
        score += 50
        reasons.append(f"website domain {website}")
    emails = {d for d in (domain_of(account.email), domain_of(candidate.contact_email)) if d and d not in GENERIC_DOMAINS}
    shared = sorted(emails & tenant_domains)
    if shared and not (website and website in shared):
        score += 40
        reasons.append(f"email domain {shared[0]}")
    similarity = name_similarity(tenant.name, account.name)
    if similarity >= 0.6:
        score += 60 * similarity
        reasons.append("same name" if similarity == 1.0 else f"similar name ({similarity:.0%})")
    if not reasons:
        return None
    warnings = []
    if candidate.mapped_on_provider:
        warnings.append(f"already mapped to {candidate.mapped_on_provider} provider account"
                        f"{'s' if candidate.mapped_on_provider > 1 else ''} of this provider")
    return Suggestion(account, round(score, 1), tuple(reasons), tuple(warnings))


def score(tenant: Tenant, candidate: Candidate) -> Suggestion | None:
    """How well one CRM account matches one tenant (None: no evidence at all)."""
    return _score(tenant, candidate)


def rank(tenant: Tenant, candidates: Iterable[Candidate], limit: int = 10) -> list[Suggestion]:
    """The best matches first; when the top two are too close to call, both say so."""
    scored = [s for s in (_score(tenant, c) for c in candidates) if s is not None]
    scored.sort(key=lambda s: (-s.score, s.account.name.casefold(), str(s.account.id)))
    scored = scored[:limit]
    if len(scored) >= 2 and scored[0].score - scored[1].score < TOO_CLOSE:
        note = "too close to call: check before mapping"
        scored[0] = Suggestion(scored[0].account, scored[0].score, scored[0].reasons, (*scored[0].warnings, note))
        scored[1] = Suggestion(scored[1].account, scored[1].score, scored[1].reasons, (*scored[1].warnings, note))
    return scored


def search_terms(name: str) -> list[str]:
    """Words to narrow a server-side ``contains`` search by, longest first."""
    words = [w for w in normalise_name(name).split() if len(w) >= 3 and w not in _STOP_WORDS]
    return sorted(dict.fromkeys(words), key=len, reverse=True)[:3]
