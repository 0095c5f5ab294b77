"""The mismatch reports (SPEC §1 step 7, §2): which rows of a book do not add up, each with
the pane that fixes it.

- **LCL mismatch**: Σ LCL quantity (Active and Archived) ≠ the subscription's quantity; the
  inactive ones listed apart, since a retired manual subscription is expected to differ.
- **License mismatch**: Work 365's quantity against StreamOne's licences, matched by provider
  subscription id (Microsoft's or StreamOne's own, whichever the row holds — never by SKU, so
  one SKU held monthly and annually stays two); rows on one side only; statuses that disagree;
  one StreamOne subscription held by two Work 365 rows.
- **Missing data**: active subscriptions without customer, billing contract, selling price,
  currency or effective date; Active LCLs without account.
- **Unmapped provider accounts**, and **uninvoiced LCLs** (Active, no invoice, effective more
  than N days ago).

Pure: the gateway reads the facts, these functions decide the rows.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from w365tui.domain.ids import norm_id
from w365tui.domain.streamone import IonSubscription, term_words

LCL_MISMATCH, LICENSE_MISMATCH, MISSING_DATA, UNMAPPED, UNINVOICED = (
    "lcl-mismatch", "license-mismatch", "missing-data", "unmapped", "uninvoiced")
REPORTS = (LCL_MISMATCH, LICENSE_MISMATCH, MISSING_DATA, UNMAPPED, UNINVOICED)
TITLES = {
    LCL_MISMATCH: "LCL mismatch",
    LICENSE_MISMATCH: "License mismatch",
    MISSING_DATA: "Missing data",
    UNMAPPED: "Unmapped provider accounts",
    UNINVOICED: "Uninvoiced LCLs",
}
ABOUT = {
    LCL_MISMATCH: "subscriptions whose Σ LCL quantity (Active and Archived) differs from their quantity",
    LICENSE_MISMATCH: "Work 365 quantity and status against StreamOne's, by provider subscription id",
    MISSING_DATA: "active subscriptions without customer, contract, price, currency or start; LCLs without account",
    UNMAPPED: "active provider accounts not mapped to a CRM account",
    UNINVOICED: "Active LCLs with no invoice, effective more than {days} days ago",
}
DEFAULT_DAYS = 45  # a monthly billing run has invoiced anything this old


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int  # in a text table
    numeric: bool = False


COLUMNS: dict[str, tuple[Column, ...]] = {
    LCL_MISMATCH: (
        Column("customer", "Customer", 24), Column("subscription", "Subscription", 30),
        Column("provider", "Provider", 12), Column("quantity", "Qty", 5, True), Column("lcl_sum", "Σ LCL", 6, True),
        Column("difference", "Σ−Qty", 6, True), Column("state", "State", 8), Column("subscription_id", "Subscription id", 36),
    ),
    LICENSE_MISMATCH: (
        Column("customer", "Customer", 24), Column("subscription", "Subscription", 30), Column("finding", "Finding", 20),
        Column("work365_quantity", "W365", 5, True), Column("streamone_quantity", "S1", 5, True),
        Column("work365_state", "W365 state", 10), Column("streamone_status", "S1 status", 10),
        Column("term", "Term", 14), Column("provider_subscription_id", "Provider subscription id", 36),
        Column("subscription_id", "Subscription id", 36),
    ),
    MISSING_DATA: (
        Column("customer", "Customer", 24), Column("record", "Record", 12), Column("name", "Name", 30),
        Column("missing", "Missing", 36), Column("id", "Id", 36),
    ),
    UNMAPPED: (
        Column("provider", "Provider", 12), Column("provider_account", "Provider account", 34),
        Column("provider_specific_id", "Provider-specific id", 36), Column("created", "Created", 10),
        Column("id", "Id", 36),
    ),
    UNINVOICED: (
        Column("customer", "Customer", 24), Column("subscription", "Subscription", 30), Column("event", "Event", 10),
        Column("quantity", "Qty", 5, True), Column("effective_date", "Effective", 10), Column("age", "Days", 5, True),
        Column("provisioning", "Provisioning", 21), Column("lcl_id", "LCL id", 36),
    ),
}


@dataclass(frozen=True)
class Scope:
    """What a report covers: everything, one customer (CRM account) or one provider."""

    kind: str = "everything"  # everything | customer | provider
    id: UUID | None = None
    label: str = "everything"

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": str(self.id) if self.id else None, "label": self.label}


EVERYTHING = Scope()


@dataclass(frozen=True)
class Fix:
    """Where a row is fixed: the pane, and the row it opens on."""

    pane: str  # lcls (a subscription id) | subscriptions (an account id) | provider-accounts (a provider account id)
    id: UUID
    what: str  # said in the footer: "open the LCL editor"


@dataclass(frozen=True)
class Row:
    values: Mapping[str, Any]
    key: UUID  # the record the row is about, to check it again after a fix
    fix: Fix | None = None
    section: str = ""  # LCL mismatch: "active" or "inactive"

    def get(self, column: str) -> Any:
        return self.values.get(column)


@dataclass
class Report:
    name: str
    scope: Scope
    rows: list[Row]
    generated: datetime = field(default_factory=lambda: datetime.now(UTC))
    requests: int = 0
    read: int = 0  # rows (or groups) the services returned
    method: str = ""  # how it was read: "aggregate", "paging", …
    notes: list[str] = field(default_factory=list)
    days: int = DEFAULT_DAYS
    left_out: int = 0  # findings not listed as rows, said in the notes (they still count)

    @property
    def title(self) -> str:
        return TITLES[self.name]

    @property
    def columns(self) -> tuple[Column, ...]:
        return COLUMNS[self.name]

    @property
    def findings(self) -> bool:
        return bool(self.rows) or self.left_out > 0


# -- facts the gateway reads -------------------------------------------------------------------
@dataclass(frozen=True)
class SubFact:
    """A subscription as the reports need it."""

    id: UUID
    name: str
    quantity: int
    active: bool
    customer_id: UUID | None = None
    customer: str = ""
    provider_id: UUID | None = None
    provider: str = ""
    billing_contract_id: UUID | None = None
    provider_subscription_id: str | None = None
    selling_price: Decimal | None = None
    currency: str | None = None
    effective_start_date: date | None = None


@dataclass(frozen=True)
class LclFact:
    id: UUID
    subscription_id: UUID | None
    subscription: str
    account_id: UUID | None
    customer: str
    event: str
    quantity: int
    effective_date: date | None
    provisioning: str
    archived: bool = False
    invoiced: bool = False


@dataclass(frozen=True)
class ProviderAccountFact:
    id: UUID
    name: str
    provider: str
    provider_specific_id: str | None
    created: date | None = None


def _state(active: bool) -> str:
    return "active" if active else "inactive"


def _by_customer(rows: Iterable[Row], *columns: str) -> list[Row]:
    return sorted(rows, key=lambda r: tuple(str(r.get(c) or "").casefold() for c in columns) + (str(r.key),))


# -- the reports ---------------------------------------------------------------------------------
def lcl_mismatch(subs: Iterable[SubFact], sums: Mapping[UUID, int]) -> list[Row]:
    """Subscriptions whose Σ LCL ≠ quantity (no LCL at all counts as Σ 0): active ones first,
    then the inactive ones, each by customer and name."""
    rows = []
    for sub in subs:
        total = sums.get(sub.id, 0)
        if total == sub.quantity:
            continue
        rows.append(Row({"customer": sub.customer, "subscription": sub.name, "provider": sub.provider,
                         "quantity": sub.quantity, "lcl_sum": total, "difference": total - sub.quantity,
                         "state": _state(sub.active), "subscription_id": str(sub.id)},
                        sub.id, Fix("lcls", sub.id, "open the LCL editor on it"), _state(sub.active)))
    ordered = _by_customer(rows, "customer", "subscription")
    return [r for r in ordered if r.section == "active"] + [r for r in ordered if r.section == "inactive"]


@dataclass(frozen=True, slots=True)
class IonFact:
    """A StreamOne subscription as the license report needs it (a book holds 100,000s)."""

    id: str
    microsoft_id: str | None
    customer_id: str | None
    quantity: int
    active: bool
    status: str
    name: str
    term: str

    @classmethod
    def of(cls, item: IonSubscription) -> IonFact:
        term = term_words(item.subscription_billing_term) or (item.subscription_billing_term or "")
        if item.subscription_billing_cycle:
            term = f"{term}, {item.subscription_billing_cycle}" if term else item.subscription_billing_cycle
        return cls(str(item.id), item.subscription_id, str(item.customer_id) if item.customer_id else None,
                   item.quantity, item.is_active, (item.subscription_status or "").lower(),
                   item.sku_display_name or item.subscription_name or str(item.id), term)


@dataclass(frozen=True)
class LicenseFindings:
    rows: list[Row]
    unmapped: int = 0  # StreamOne subscriptions of customers whose provider account is not mapped
    unknown: int = 0  # … of customers no provider account is known for
    unknown_customers: frozenset[str] = frozenset()  # those customers' StreamOne ids


@dataclass(frozen=True)
class IonCustomer:
    """A StreamOne customer as a report names it: the CRM account its provider account is mapped
    to, when there is one."""

    account_id: UUID | None
    name: str
    provider_account_id: UUID | None = None


def license_mismatch(work365: Iterable[SubFact], ion: Iterable[IonFact | IonSubscription],
                     customers: Mapping[str, IonCustomer]) -> LicenseFindings:
    """``work365``: the subscriptions on the StreamOne provider in scope; ``ion``: StreamOne's
    subscriptions in scope; ``customers``: StreamOne customer id → who it is.

    A StreamOne subscription no Work 365 row holds is a finding when its customer is mapped; one
    of a customer not mapped (or not known) is counted instead — mapping comes first, and the
    unmapped report lists those customers."""
    by_key: dict[str, list[SubFact]] = {}
    unkeyed: list[SubFact] = []
    for sub in work365:
        if sub.provider_subscription_id and sub.provider_subscription_id.strip():
            by_key.setdefault(norm_id(sub.provider_subscription_id), []).append(sub)
        else:
            unkeyed.append(sub)
    rows: list[Row] = []
    matched: set[UUID] = set()
    unmapped = unknown = 0
    strangers: set[str] = set()

    def row(finding: str, sub: SubFact | None, item: IonFact | None) -> Row:
        customer = customers.get(item.customer_id) if item is not None and item.customer_id else None
        account_id = sub.customer_id if sub is not None else (customer.account_id if customer else None)
        name = sub.customer if sub is not None and sub.customer else (customer.name if customer else "")
        if not name and item is not None:
            name = f"StreamOne customer {item.customer_id}"
        values = {
            "customer": name,
            "subscription": sub.name if sub is not None else (item.name if item is not None else ""),
            "finding": finding,
            "work365_quantity": sub.quantity if sub is not None else None,
            "streamone_quantity": item.quantity if item is not None else None,
            "work365_state": _state(sub.active) if sub is not None else "",
            "streamone_status": item.status if item is not None else "",
            "term": item.term if item is not None else "",
            "provider_subscription_id": (sub.provider_subscription_id if sub is not None else
                                         (item.microsoft_id or item.id) if item is not None else "") or "",
            "subscription_id": str(sub.id) if sub is not None else "",
        }
        fix = Fix("subscriptions", account_id, "open the customer's subscriptions") if account_id else None
        if fix is None and customer is not None and customer.provider_account_id is not None:
            fix = Fix("provider-accounts", customer.provider_account_id, "map its provider account in pane 1")
        return Row(values, sub.id if sub is not None else _ion_key(item), fix)

    for given in ion:
        item = given if isinstance(given, IonFact) else IonFact.of(given)
        holders: list[SubFact] = []
        for k in dict.fromkeys(norm_id(i) for i in (item.microsoft_id, item.id) if i):
            holders += by_key.get(k, [])
        holders = list({s.id: s for s in holders}.values())
        matched.update(s.id for s in holders)
        if not holders:
            if not item.active:
                continue
            customer = customers.get(item.customer_id or "")
            if customer is None:
                unknown += 1
                strangers.add(item.customer_id or "")
            elif customer.account_id is None:
                unmapped += 1
            else:
                rows.append(row("only in StreamOne", None, item))
            continue
        active = [s for s in holders if s.active]
        if len(active) > 1:
            rows += [row("held twice in Work 365", s, item) for s in active]
            continue
        sub = active[0] if active else holders[0]
        if sub.active != item.active:
            rows.append(row("status differs", sub, item))
        elif sub.active and sub.quantity != item.quantity:
            rows.append(row("quantity differs", sub, item))
    for subs in by_key.values():
        rows += [row("only in Work 365", s, None) for s in subs if s.id not in matched and s.active]
    rows += [row("no provider subscription id", s, None) for s in unkeyed if s.active]
    return LicenseFindings(_by_customer(rows, "customer", "subscription", "finding"), unmapped, unknown,
                           frozenset(strangers - {""}))


def _ion_key(item: IonFact | None) -> UUID:
    """A stable key for a StreamOne subscription no Work 365 row holds (a name-based UUID)."""
    import uuid

    return uuid.uuid5(uuid.NAMESPACE_URL, f"streamone:subscription:{item.id if item else ''}")


MISSING_FIELDS = (("customer_id", "customer"), ("billing_contract_id", "billing contract"),
                  ("selling_price", "selling price"), ("currency", "currency"),
                  ("effective_start_date", "effective date"))


def missing_data(subs: Iterable[SubFact], lcls: Iterable[LclFact],
                 checked: Collection[str] = tuple(attr for attr, _ in MISSING_FIELDS)) -> list[Row]:
    """Active subscriptions missing any of :data:`MISSING_FIELDS` (those ``checked``: the org's
    subscriptions have the column); LCLs without account."""
    rows = []
    for sub in subs:
        if not sub.active:
            continue
        missing = [label for attr, label in MISSING_FIELDS if attr in checked and getattr(sub, attr) in (None, "")]
        if not missing:
            continue
        # no pane here sets a subscription's customer: one without is fixed in Work 365
        fix = Fix("subscriptions", sub.customer_id, "open the customer's subscriptions") if sub.customer_id else None
        rows.append(Row({"customer": sub.customer, "record": "subscription", "name": sub.name,
                         "missing": ", ".join(missing), "id": str(sub.id)}, sub.id, fix))
    for lcl in lcls:
        if lcl.account_id is not None:
            continue
        name = f"{lcl.event} {lcl.quantity:+d} of {lcl.subscription or '?'}"
        fix = Fix("lcls", lcl.subscription_id, "open the LCL editor on its subscription") if lcl.subscription_id else None
        rows.append(Row({"customer": lcl.customer, "record": "LCL", "name": name, "missing": "account",
                         "id": str(lcl.id)}, lcl.id, fix))
    return _by_customer(rows, "customer", "record", "name")


def unmapped(accounts: Iterable[ProviderAccountFact]) -> list[Row]:
    rows = [Row({"provider": pa.provider, "provider_account": pa.name,
                 "provider_specific_id": pa.provider_specific_id or "", "created": pa.created, "id": str(pa.id)},
                pa.id, Fix("provider-accounts", pa.id, "map it in pane 1"))
            for pa in accounts]
    return _by_customer(rows, "provider", "provider_account")


def uninvoiced(lcls: Iterable[LclFact], today: date, days: int = DEFAULT_DAYS) -> list[Row]:
    """Active (not archived) LCLs with no invoice, effective more than ``days`` days before
    ``today``; the oldest first."""
    rows = []
    for lcl in lcls:
        if lcl.archived or lcl.invoiced or lcl.effective_date is None:
            continue
        age = (today - lcl.effective_date).days
        if age <= days:
            continue
        fix = Fix("lcls", lcl.subscription_id, "open the LCL editor on its subscription") if lcl.subscription_id else None
        rows.append(Row({"customer": lcl.customer, "subscription": lcl.subscription, "event": lcl.event,
                         "quantity": lcl.quantity, "effective_date": lcl.effective_date, "age": age,
                         "provisioning": lcl.provisioning, "lcl_id": str(lcl.id)}, lcl.id, fix))
    return sorted(rows, key=lambda r: (-r.get("age"), str(r.get("customer") or "").casefold(),
                                       str(r.get("subscription") or "").casefold(), str(r.key)))


# -- how a report is written out -------------------------------------------------------------------
def cell_text(value: Any) -> str:
    """A value as a table or CSV shows it: dates ISO, none empty."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as written: text starting like a formula is quoted."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return value
    text = cell_text(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def to_csv(report: Report) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = report.columns
    extra = ["section"] if report.name == LCL_MISMATCH else []
    writer.writerow([c.key for c in columns] + extra)
    for row in report.rows:
        writer.writerow([csv_cell(row.get(c.key)) for c in columns] + ([row.section] if extra else []))
    return buffer.getvalue()


def to_json(report: Report) -> dict[str, Any]:
    def value(v: Any) -> Any:
        if isinstance(v, date | datetime):
            return cell_text(v)
        if isinstance(v, Decimal):
            return str(v)
        return v

    return {
        "report": report.name,
        "title": report.title,
        "scope": report.scope.as_json(),
        "generated": cell_text(report.generated),
        "columns": [c.key for c in report.columns],
        "count": len(report.rows),
        "rows": [{**{c.key: value(r.get(c.key)) for c in report.columns},
                  **({"section": r.section} if r.section else {})} for r in report.rows],
        "notes": list(report.notes),
        "left_out": report.left_out,
        "read": {"requests": report.requests, "rows": report.read, "method": report.method},
        **({"days": report.days} if report.name == UNINVOICED else {}),
    }


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _shown(text: str) -> str:
    """Control characters as visible ``\\xNN``: a name is never a terminal escape."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _fit(text: str, width: int, numeric: bool) -> str:
    """A cell of a text table, shown literally, cut with an ellipsis to ``width``."""
    text = _shown(text)
    if len(text) > width:
        text = text[: max(1, width - 1)] + "…"
    return text.rjust(width) if numeric else text.ljust(width)


def to_table(report: Report, columns: Sequence[Column] | None = None) -> str:
    """A text table: a heading line, the column titles, the rows (an inactive section apart)."""
    shown = list(columns or report.columns)
    lines = [_shown(f"{report.title} · {report.scope.label} · {len(report.rows):,} "
                    f"row{'s' if len(report.rows) != 1 else ''} · {cell_text(report.generated)}")]
    lines += [f"  {_shown(note)}" for note in report.notes]
    if not report.rows:
        lines.append("nothing to report")
        return "\n".join(lines)
    lines.append("  ".join(_fit(c.title, c.width, c.numeric) for c in shown).rstrip())
    section = None
    for row in report.rows:
        if row.section and row.section != section:
            if section is not None or row.section != "active":
                lines.append(f"— {row.section} subscriptions —")
            section = row.section
        lines.append("  ".join(_fit(cell_text(row.get(c.key)), c.width, c.numeric) for c in shown).rstrip())
    return "\n".join(lines)
