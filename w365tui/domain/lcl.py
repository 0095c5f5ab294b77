"""License change logs: archive marks, edits and a correcting LCL, decided before anything is
written (SPEC §2: an LCL is never deleted or plainly deactivated — archived).

Rules, each refused with a reason naming the row:

- an Awaiting Provisioning LCL is never edited or archived: it is about to be pushed to the
  provider;
- an invoiced LCL is never unarchived, nor edited;
- an inactive subscription's LCLs are read-only except for archive marks;
- an edit is a whole number of licences or a real date, on an Active, uninvoiced LCL; a Create
  LCL is never moved after an Update of the same subscription;
- an earlier Awaiting or Failed LCL blocks the later ones (flagged, as Work 365 processes them
  in order).

Pure: no I/O.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from w365tui.domain.enums import LclEvent, ProvisioningStatus
from w365tui.domain.models import LicenseChangeLog, Subscription, lcl_total
from w365tui.domain.plan import (
    ACTIVE,
    MAX_CHANGESET,
    NO_CONTEXT,
    Change,
    Create,
    Option,
    Plan,
    PlanContext,
    Ref,
    SetState,
    State,
    Update,
    Value,
)
from w365tui.domain.replacement import describe_lcl

ARCHIVED = State("inactive", "archived")
UNSETTLED = (ProvisioningStatus.AWAITING_PROVISIONING, ProvisioningStatus.FAILED_PROVISIONING)


def ordered(lcls: Sequence[LicenseChangeLog]) -> list[LicenseChangeLog]:
    """LCLs by effective date (undated last), then id: the order Work 365 processes them in."""
    return sorted(lcls, key=lambda lcl: (lcl.effective_date is None, lcl.effective_date or date.min, str(lcl.id)))


def blocked_by(lcls: Sequence[LicenseChangeLog]) -> dict[UUID, LicenseChangeLog]:
    """LCL id → the earlier Awaiting or Failed LCL that blocks it (Active LCLs only)."""
    out: dict[UUID, LicenseChangeLog] = {}
    first: LicenseChangeLog | None = None
    for lcl in ordered(lcls):
        if lcl.is_archived:
            continue
        if first is not None:
            out[lcl.id] = first
        elif lcl.provisioning_status in UNSETTLED:
            first = lcl
    return out


@dataclass(frozen=True)
class Sigma:
    """Σ of a subscription's LCLs (Active and Archived) against its quantity."""

    total: int
    quantity: int

    @property
    def difference(self) -> int:
        return self.total - self.quantity

    @property
    def matches(self) -> bool:
        return self.total == self.quantity

    def line(self) -> str:
        if self.matches:
            return f"Σ LCL {self.total} = quantity {self.quantity}"
        return f"Σ LCL {self.total} ≠ quantity {self.quantity} ({self.difference:+d})"


def sigma(subscription: Subscription, lcls: Sequence[LicenseChangeLog]) -> Sigma:
    return Sigma(lcl_total(list(lcls)), subscription.quantity)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# -- archive marks ------------------------------------------------------------------------------------
def archive_problem(subscription: Subscription, lcl: LicenseChangeLog, *, unarchive: bool) -> str | None:
    """Why this LCL's archive mark cannot change as asked, or None."""
    what = f"LCL {describe_lcl(lcl)} of “{subscription.name}”"
    if lcl.subscription_id != subscription.id:
        return f"{what} belongs to another subscription"
    if lcl.provisioning_status is ProvisioningStatus.AWAITING_PROVISIONING:
        return f"{what} is Awaiting Provisioning: it is about to be pushed to the provider and is left as it is"
    if unarchive and lcl.invoice_id is not None:
        return f"{what} is invoiced: an invoiced LCL stays archived"
    if lcl.etag is None:
        return f"{what} was read without an ETag; read it again"
    return None


def plan_archive(subscription: Subscription, lcls: Sequence[LicenseChangeLog], ids: Collection[UUID], *,
                 unarchive: bool = False, context: PlanContext = NO_CONTEXT) -> Plan:
    """Archive (or unarchive) the LCLs ``ids`` of one subscription. LCLs already so are left out
    (and counted); the plan is blocked, naming each row, when one of them must not change. Over
    1,000 LCLs the plan goes in changesets of up to 1,000, each LCL on its own."""
    by_id = {lcl.id: lcl for lcl in lcls}
    missing = [str(i) for i in ids if i not in by_id]
    blocking = [f"LCL {i} is not one of “{subscription.name}”'s" for i in missing]
    changes: list[Change] = []
    already = 0
    target, source = (ACTIVE, ARCHIVED) if unarchive else (ARCHIVED, ACTIVE)
    for lcl in ordered([by_id[i] for i in ids if i in by_id]):
        if lcl.is_archived != unarchive:
            already += 1
            continue
        problem = archive_problem(subscription, lcl, unarchive=unarchive)
        if problem:
            blocking.append(problem)
            continue
        changes.append(SetState("licensechangelog", lcl.id, lcl.etag or "", source, target,
                                f"{describe_lcl(lcl, named=False)} of {subscription.name}", unit=len(changes)))
    verb = "Unarchive" if unarchive else "Archive"
    total = sigma(subscription, lcls)
    summary = (f"{_plural(len(changes), 'LCL')} of “{subscription.name}” "
               f"{'unarchived' if unarchive else 'archived'}"
               + (f"; {already} already {'active' if unarchive else 'archived'}" if already else "")
               + f". {total.line()}, before and after: archiving changes no quantity.")
    return Plan(f"lcl-{verb.lower()}", f"{verb} {_plural(len(changes), 'LCL')} of {subscription.name}",
                tuple(changes), context, summary=summary, blocking=tuple(blocking),
                atomic=len(changes) <= MAX_CHANGESET, stats={"changed": len(changes), "already": already}).checked()


# -- edits --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Edit:
    """New values for one LCL: a quantity, an effective date, or both."""

    lcl_id: UUID
    quantity: int | None = None
    effective_date: date | None = None


def parse_quantity(text: str) -> int:
    """A signed whole number of licences, or ValueError saying what was wrong."""
    cleaned = text.strip()
    if not re.fullmatch(r"[+-]?[0-9]{1,9}", cleaned):
        raise ValueError(f"{text!r} is not a whole number of licences")
    return int(cleaned)


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def edit_problem(subscription: Subscription, lcls: Sequence[LicenseChangeLog], lcl: LicenseChangeLog,
                 edit: Edit, others: Sequence[Edit] = ()) -> str | None:
    """Why this edit must not be made (beside ``others`` pending on the same subscription), or None."""
    what = f"LCL {describe_lcl(lcl)} of “{subscription.name}”"
    if not subscription.is_active:
        return f"“{subscription.name}” is inactive: its LCLs can only be archived or unarchived"
    if lcl.is_archived:
        return f"{what} is archived: unarchive it first"
    if lcl.invoice_id is not None:
        return f"{what} is invoiced: it is not edited"
    if lcl.provisioning_status is ProvisioningStatus.AWAITING_PROVISIONING:
        return f"{what} is Awaiting Provisioning: it is about to be pushed to the provider and is not edited"
    if lcl.etag is None:
        return f"{what} was read without an ETag; read it again"
    return order_problem(subscription, lcls, [*others, edit])


def _create_after_update(lcls: Sequence[LicenseChangeLog], dates: Mapping[UUID, date | None]) -> tuple[date, date] | None:
    creates = [dates[lcl.id] for lcl in lcls if lcl.event is LclEvent.CREATE and dates[lcl.id] is not None]
    updates = [dates[lcl.id] for lcl in lcls if lcl.event is LclEvent.UPDATE and dates[lcl.id] is not None]
    if creates and updates and max(creates) > min(updates):  # type: ignore[type-var]
        return max(creates), min(updates)  # type: ignore[type-var,return-value]
    return None


def order_problem(subscription: Subscription, lcls: Sequence[LicenseChangeLog], edits: Sequence[Edit]) -> str | None:
    """Why these date edits, together, would put a Create after an Update of the subscription
    (an order the LCLs did not have already), or None."""
    dates: dict[UUID, date | None] = {lcl.id: lcl.effective_date for lcl in lcls}
    before = _create_after_update(lcls, dates)
    for edit in edits:
        if edit.effective_date is not None and edit.lcl_id in dates:
            dates[edit.lcl_id] = edit.effective_date
    after = _create_after_update(lcls, dates)
    if after is None or after == before:
        return None
    create, update = after
    return (f"the Create LCL of “{subscription.name}” would fall after an Update ({create.isoformat()} after "
            f"{update.isoformat()}): a Create comes first")


def plan_edits(subscription: Subscription, lcls: Sequence[LicenseChangeLog], edits: Sequence[Edit], *,
               context: PlanContext = NO_CONTEXT) -> Plan:
    """Quantity and date edits of one subscription's LCLs, with the Σ they will produce."""
    by_id = {lcl.id: lcl for lcl in lcls}
    blocking: list[str] = []
    changes: list[Change] = []
    after_total = lcl_total(list(lcls))
    for edit in edits:
        lcl = by_id.get(edit.lcl_id)
        if lcl is None:
            blocking.append(f"LCL {edit.lcl_id} is not one of “{subscription.name}”'s")
            continue
        problem = edit_problem(subscription, lcls, lcl, edit, [e for e in edits if e is not edit])
        if problem:
            blocking.append(problem)
            continue
        before: dict[str, Value] = {}
        after: dict[str, Value] = {}
        if edit.quantity is not None and edit.quantity != lcl.quantity:
            before["quantity"], after["quantity"] = lcl.quantity, edit.quantity
            after_total += edit.quantity - lcl.quantity
        if edit.effective_date is not None and edit.effective_date != lcl.effective_date:
            before["effectivedate"], after["effectivedate"] = lcl.effective_date, edit.effective_date
        if after:
            changes.append(Update("licensechangelog", lcl.id, lcl.etag or "", before, after,
                                  f"{describe_lcl(lcl, named=False)} of {subscription.name}", unit=len(changes)))
    now = sigma(subscription, lcls)
    then = Sigma(after_total, subscription.quantity)
    warnings = () if then.matches or not changes else (f"after these edits {then.line()}",)
    return Plan("lcl-edit", f"Edit {_plural(len(changes), 'LCL')} of {subscription.name}", tuple(changes), context,
                summary=f"{now.line()} now; after: {then.line()}", warnings=warnings, blocking=tuple(blocking),
                atomic=True).checked()


# -- a correcting LCL ------------------------------------------------------------------------------------
ADDABLE = (LclEvent.UPDATE, LclEvent.CREATE, LclEvent.ACTIVATE, LclEvent.DEACTIVATE)


def plan_add(subscription: Subscription, lcls: Sequence[LicenseChangeLog], *, event: LclEvent, quantity: int,
             effective_date: date, name_limit: int | None = None, context: PlanContext = NO_CONTEXT,
             customer_name: str = "", new_id: Callable[[], UUID] = uuid.uuid4) -> Plan:
    """A correcting LCL for a subscription whose Σ does not match: Not Applicable, so nothing is
    provisioned at the provider."""
    blocking: list[str] = []
    if not subscription.is_active:
        blocking.append(f"“{subscription.name}” is inactive: its LCLs can only be archived or unarchived")
    if event not in ADDABLE:
        blocking.append(f"a correcting LCL is one of {', '.join(e.value for e in ADDABLE)}, not {event.value}")
    if event is LclEvent.CREATE and any(lcl.event is LclEvent.CREATE for lcl in lcls):
        blocking.append(f"“{subscription.name}” has a Create LCL already; correct it with an Update")
    if quantity == 0:
        blocking.append("a correcting LCL of 0 licences changes nothing")
    now = sigma(subscription, lcls)
    if now.matches:
        blocking.append(f"Σ LCL of “{subscription.name}” already equals its quantity ({now.quantity}): a correcting "
                        "LCL would break it")
    then = Sigma(now.total + quantity, subscription.quantity)
    name = f"Correction: {subscription.name}"
    if name_limit is not None and len(name) > name_limit:
        name = name[: max(0, name_limit - 1)] + "…"
    values: Mapping[str, Value] = {
        "name": name,
        "event": Option("lcl_event", event.value),
        "quantity": quantity,
        "effectivedate": effective_date,
        "provisioningstatus": Option("provisioning_status", ProvisioningStatus.NOT_APPLICABLE.value),
        "subscription": Ref("subscription", subscription.id, subscription.name),
        "account": Ref("account", subscription.customer_id, customer_name) if subscription.customer_id else None,
    }
    change = Create("licensechangelog", new_id(), values, f"{event.value.capitalize()} {quantity:+d} on "
                                                             f"{subscription.name}")
    warnings = () if then.matches else (f"after it {then.line()}",)
    return Plan("lcl-add", f"Add an LCL to {subscription.name}", (change,), context,
                summary=f"{now.line()} now; after: {then.line()}", warnings=warnings, blocking=tuple(blocking),
                notes=("Not Applicable: nothing is provisioned at the provider.",)).checked()
