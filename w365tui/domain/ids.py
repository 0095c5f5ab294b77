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
    """An id as compared: GUIDs without braces, in one case."""
    return (value or "").strip().strip("{}").casefold()


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

    @classmethod
    def of(cls, kinds: type[AccountIdKind] | type[SubscriptionIdKind], setting: str,
           values: Iterable[str | None]) -> IdUsage:
        if setting != AUTO and setting not in {k.value for k in kinds}:
            raise ValueError(f"{SETTING[kinds]} must be auto or one of {', '.join(k.value for k in kinds)}, "
                             f"not {setting!r}")
        counts = dict.fromkeys(kinds, 0)
        unrecognised = 0
        for value in values:
            if not (value or "").strip():
                continue
            kind = kind_of(value, kinds)
            if kind is None:
                unrecognised += 1
            else:
                counts[kind] += 1
        return cls(kinds, setting, tuple((k.value, n) for k, n in counts.items()), unrecognised)

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

    def _tally(self) -> str:
        parts = [f"{n} {SHORT[self.kinds(k)]}{'' if n == 1 else 's'}" for k, n in self.counts if n]
        if self.unrecognised:
            parts.append(f"{self.unrecognised} neither")
        return ", ".join(parts) or "no rows yet"

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the operator must know before the app writes one of these ids."""
        what, column, setting = WHAT[self.kinds], COLUMN[self.kinds], SETTING[self.kinds]
        effective = self.effective
        others = sum(n for k, n in self.counts if k != effective.value)
        out: list[str] = []
        if self.setting != AUTO and others:
            out.append(f"{setting} = {self.setting!r}, but {others} of the org's {self.total} {what}s hold another "
                       f"kind of {column} ({self._tally()}): if Work 365's connector writes that kind, the rows "
                       f"written here are duplicates it does not recognise; check the setting")
        elif self.setting == AUTO and self.detected is None and self.total:
            out.append(f"the org's {what}s hold as many of each kind of {column} ({self._tally()}): new ones get "
                       f"{WORDS[effective]}; set {setting} to say which Work 365's connector writes")
        elif self.setting == AUTO and self.mixed:
            out.append(f"the org's {what}s hold two kinds of {column} ({self._tally()}): new ones get "
                       f"{WORDS[effective]}, as most do; set {setting} to say which Work 365's connector writes")
        return tuple(out)

    def describe(self) -> str:
        """One line for ``doctor``: what is written and why."""
        rows = f"the org's {WHAT[self.kinds]}s hold {self._tally()}"
        if self.setting != AUTO:
            why = f"set by {SETTING[self.kinds]}" + (f"; {rows}" if self.total else "")
        elif self.detected is not None:
            why = f"detected: {rows}"
        elif self.total:
            why = f"undecided, {rows}; set {SETTING[self.kinds]} to choose"
        else:
            why = f"no {WHAT[self.kinds]}s to detect from yet; set {SETTING[self.kinds]} to choose"
        return f"{COLUMN[self.kinds]}: {WORDS[self.effective]} ({why})"
