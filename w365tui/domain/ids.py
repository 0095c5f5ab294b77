"""Which StreamOne ids Work 365's connector writes, and so which ones the app must write.

A provider account's provider-specific id holds either the StreamOne customer id (``306870``)
or the customer's Microsoft tenant id (a GUID); a subscription's provider subscription id holds
either Microsoft's subscription id (a GUID) or Ion's own id (``1234567``). Which one depends on
the connector's version and set-up, and writing the other kind duplicates the connector's rows:
the next nightly sync no longer recognises them and creates its own beside them.

The two kinds never look alike (digits against a GUID), so the rows already in the org show
which kind the connector writes. A setting may name the kind; ``auto`` follows the rows, and a
setting the rows contradict is a warning wherever the app plans to write one of these ids.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

_GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\}?$")
_NUMBER = re.compile(r"^[0-9]{1,18}$")
AUTO = "auto"


class AccountIdKind(StrEnum):
    """What a provider account's provider-specific id holds."""

    CUSTOMER = "customer"  # the StreamOne customer id
    TENANT = "tenant"  # the customer's Microsoft tenant id


class SubscriptionIdKind(StrEnum):
    """What a subscription's provider subscription id holds."""

    MICROSOFT = "microsoft"  # Microsoft's subscription id (Ion's subscriptionId)
    ION = "ion"  # Ion's own id (Ion's id)


WORDS: dict[str, str] = {
    AccountIdKind.CUSTOMER: "the StreamOne customer id",
    AccountIdKind.TENANT: "the Microsoft tenant id",
    SubscriptionIdKind.MICROSOFT: "Microsoft's subscription id",
    SubscriptionIdKind.ION: "StreamOne's own subscription id",
}
SHORT: dict[str, str] = {
    AccountIdKind.CUSTOMER: "customer id",
    AccountIdKind.TENANT: "tenant id",
    SubscriptionIdKind.MICROSOFT: "Microsoft id",
    SubscriptionIdKind.ION: "StreamOne id",
}
SETTING = {AccountIdKind: "provider_account_id", SubscriptionIdKind: "provider_subscription_id"}
DEFAULT = {AccountIdKind: AccountIdKind.CUSTOMER, SubscriptionIdKind: SubscriptionIdKind.MICROSOFT}
WHAT = {AccountIdKind: "provider account", SubscriptionIdKind: "subscription"}
COLUMN = {AccountIdKind: "provider-specific id", SubscriptionIdKind: "provider subscription id"}


def norm_id(value: str | None) -> str:
    """An id as compared: a GUID in its one canonical spelling (braces, hyphens and case do not
    matter), anything else trimmed and case-folded."""
    text = (value or "").strip()
    if _GUID.match(text):
        return str(uuid.UUID(text.strip("{}")))
    return text.casefold()


def same_name(account_name: str, customer_name: str) -> bool:
    """Whether a provider account's name is the customer's, as a sync wrote it (perhaps clipped
    to the column with "…")."""
    ours, theirs = account_name.casefold().strip(), customer_name.casefold().strip()
    if ours.endswith("…"):
        return bool(ours[:-1]) and theirs.startswith(ours[:-1].rstrip())
    return ours == theirs


def kind_of(value: str | None, kinds: type[AccountIdKind] | type[SubscriptionIdKind]) -> AccountIdKind | SubscriptionIdKind | None:
    """The kind of id ``value`` is, by its shape; None for an empty or unrecognised value."""
    text = (value or "").strip()
    if _GUID.match(text):
        return AccountIdKind.TENANT if kinds is AccountIdKind else SubscriptionIdKind.MICROSOFT
    if _NUMBER.match(text):
        return AccountIdKind.CUSTOMER if kinds is AccountIdKind else SubscriptionIdKind.ION
    return None


@dataclass(frozen=True)
class IdUsage:
    """Which kind of id to write in one column: the setting, what the org's rows hold, and the
    kind that follows from both."""

    kinds: type[AccountIdKind] | type[SubscriptionIdKind]
    setting: str  # "auto" or a kind's value
    counts: tuple[tuple[str, int], ...]  # rows per kind, in the enum's order
    unrecognised: int = 0
    sample: int | None = None  # the rows were the newest ``sample`` of them (None: all of them)

    @classmethod
    def of(cls, kinds: type[AccountIdKind] | type[SubscriptionIdKind], setting: str,
           values: Iterable[str | None], *, sample: int | None = None) -> IdUsage:
        if setting != AUTO and setting not in {k.value for k in kinds}:
            raise ValueError(f"{SETTING[kinds]} must be auto or one of {', '.join(k.value for k in kinds)}, "
                             f"not {setting!r}")
        counts = dict.fromkeys(kinds, 0)
        unrecognised = seen = 0
        for value in values:
            if not (value or "").strip():
                continue
            seen += 1
            kind = kind_of(value, kinds)
            if kind is None:
                unrecognised += 1
            else:
                counts[kind] += 1
        return cls(kinds, setting, tuple((k.value, n) for k, n in counts.items()), unrecognised,
                   sample if sample is not None and seen >= sample else None)

    def counts_of(self, kind: AccountIdKind | SubscriptionIdKind) -> int:
        return dict(self.counts).get(kind.value, 0)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)

    @property
    def detected(self) -> AccountIdKind | SubscriptionIdKind | None:
        """The kind most of the rows hold (None with no rows, or a tie)."""
        ranked = sorted(self.counts, key=lambda c: -c[1])
        if not ranked or ranked[0][1] == 0 or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
            return None
        return self.kinds(ranked[0][0])

    @property
    def effective(self) -> AccountIdKind | SubscriptionIdKind:
        """The kind the app writes: the setting's, else the rows', else the usual one."""
        if self.setting != AUTO:
            return self.kinds(self.setting)
        return self.detected or DEFAULT[self.kinds]

    @property
    def mixed(self) -> bool:
        return sum(1 for _, n in self.counts if n) > 1

    def _rows(self) -> str:
        """Which rows were counted: "the org's 29 provider accounts", "the newest 2,000 …"."""
        count = self.total + self.unrecognised
        plural = "" if count == 1 else "s"
        if self.sample is not None:
            return f"the newest {count:,} {WHAT[self.kinds]}{plural}"
        return f"the org's {count:,} {WHAT[self.kinds]}{plural}"

    def _tally(self) -> str:
        parts = [f"{n:,} {SHORT[self.kinds(k)]}{'' if n == 1 else 's'}" for k, n in self.counts if n]
        if self.unrecognised:
            parts.append(f"{self.unrecognised:,} of neither kind")
        return ", ".join(parts)

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the operator must know before the app writes one of these ids."""
        column, setting = COLUMN[self.kinds], SETTING[self.kinds]
        effective = self.effective
        rows = f"{self._rows()} hold {self._tally()}" if self.total + self.unrecognised else ""
        if self.setting != AUTO and self.detected is not None and self.detected is not effective:
            return (f"{setting} = {self.setting!r}, but {rows}: if Work 365's connector writes "
                    f"{WORDS[self.detected]}, the rows written here are duplicates it does not recognise; check "
                    f"the setting",)
        if self.setting != AUTO:
            return ()
        if self.total and self.detected is None:
            return (f"{rows}, as many of each kind: new ones get {WORDS[effective]}; set {setting} to say which "
                    f"Work 365's connector writes",)
        if self.mixed:
            return (f"{rows}: two kinds of {column}; new ones get {WORDS[effective]}, as most have; set {setting} "
                    f"to say which Work 365's connector writes",)
        if self.unrecognised and not self.total:
            return (f"{rows}, so the kind cannot be told: new ones get {WORDS[effective]}; set {setting} to say "
                    f"which Work 365's connector writes",)
        return ()

    def describe(self) -> str:
        """One line for ``doctor``: what is written and why."""
        rows = f"{self._rows()} hold {self._tally()}" if self.total + self.unrecognised else ""
        if self.setting != AUTO:
            why = f"set by {SETTING[self.kinds]}" + (f"; {rows}" if rows else "")
        elif self.detected is not None:
            why = f"detected: {rows}"
        elif rows:
            why = f"undecided: {rows}; set {SETTING[self.kinds]} to choose"
        else:
            why = f"no {WHAT[self.kinds]}s to detect from yet; set {SETTING[self.kinds]} to choose"
        return f"{COLUMN[self.kinds]}: {WORDS[self.effective]} ({why})"
