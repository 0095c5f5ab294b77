"""Retiring a manual subscription for its TechData twin (SPEC §1 step 6 and §2), decided
before anything is written.

From a pair — the manual subscription M and the automatic TechData subscription T that replaces
it — and their LCLs: the preflight checks (each blocking or a warning, each naming the row),
the ordered changes and the predicted after-state of both sides:

1. every LCL of M except its Create moves to T, its values unchanged;
2. T's effective start := M's;
3. T's Create LCL quantity := M's Create quantity, kept Not Applicable, and archived (one write:
   a row is written once per plan);
4. M is deactivated: Work 365 writes its Deactivate LCL itself, so archiving that LCL (unless
   the operator invoices it) is a step that follows the plan (:class:`~w365tui.domain.plan.Then`).

Also the pairing of a customer's manual and TechData subscriptions by product, then quantity,
term and billing cycle. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from uuid import UUID

from w365tui.domain.enums import LclEvent, ProviderType, ProvisioningStatus, RecordState
from w365tui.domain.models import LicenseChangeLog, Provider, Subscription, lcl_total
from w365tui.domain.plan import (
    ACTIVE,
    MAX_CHANGESET,
    NO_CONTEXT,
    Change,
    Option,
    Plan,
    PlanContext,
    Ref,
    SetState,
    State,
    Then,
    Update,
    Value,
)
from w365tui.domain.rules import streamone_problem

ARCHIVED = State("inactive", "archived")
DEACTIVATED = State("inactive")
NOT_APPLICABLE = Option("provisioning_status", ProvisioningStatus.NOT_APPLICABLE.value)
UNSETTLED = (ProvisioningStatus.AWAITING_PROVISIONING, ProvisioningStatus.FAILED_PROVISIONING)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def describe_lcl(lcl: LicenseChangeLog, *, named: bool = True) -> str:
    """An LCL as an operator finds it in Work 365: event, quantity, date (and name)."""
    when = lcl.effective_date.isoformat() if lcl.effective_date else "no date"
    name = f" “{lcl.name}”" if lcl.name and named else ""
    return f"{lcl.event.value.capitalize()} {lcl.quantity:+d} of {when}{name}"


# -- the predicted after-state ---------------------------------------------------------------------
@dataclass(frozen=True)
class Side:
    """One subscription before and after: its quantity beside Σ of its LCLs."""

    name: str
    quantity_before: int
    quantity_after: int
    sigma_before: int
    sigma_after: int
    state_after: str
    events_after: tuple[str, ...]  # the LCLs it will hold, as "Create +10"

    @property
    def matches_after(self) -> bool:
        return self.sigma_after == self.quantity_after

    def line(self, shown: int = 5) -> str:
        """Σ beside quantity after the plan, and the first ``shown`` LCLs it will hold."""
        mark = "=" if self.matches_after else "≠"
        events = list(self.events_after[:shown])
        if len(self.events_after) > shown:
            events.append(f"… {len(self.events_after) - shown} more")
        return (f"Σ LCL {self.sigma_before} → {self.sigma_after} {mark} quantity {self.quantity_after}, "
                f"{self.state_after} ({', '.join(events) or 'no LCLs'})")


@dataclass(frozen=True)
class Replacement:
    """The plan and what it predicts."""

    plan: Plan
    manual: Side
    techdata: Side
    moved: int
    checks: tuple[str, ...] = field(default=())  # what preflight checked and found right

    @property
    def blocking(self) -> tuple[str, ...]:
        return self.plan.blocking

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.plan.warnings


# -- preflight ----------------------------------------------------------------------------------------
def preflight(manual: Subscription, manual_lcls: Sequence[LicenseChangeLog], techdata: Subscription,
              techdata_lcls: Sequence[LicenseChangeLog], providers: Mapping[UUID, Provider], *,
              connectors: Collection[str], invoice_accounts: Mapping[UUID, UUID | None] | None = None,
              ) -> tuple[list[str], list[str]]:
    """SPEC §2's checks before anything is written: (blocking reasons, warnings), each naming
    the row it is about. ``invoice_accounts`` maps the invoices M's LCLs reference to the
    account each was issued to (an invoice missing from it counts as unknown)."""
    blocking: list[str] = []
    warnings: list[str] = []
    m, t = f"manual subscription “{manual.name}”", f"TechData subscription “{techdata.name}”"
    if manual.id == techdata.id:
        return [f"{m} cannot replace itself"], []
    for sub, label in ((manual, m), (techdata, t)):
        if sub.state is not RecordState.ACTIVE:
            blocking.append(f"{label} is inactive: a deactivated subscription cannot be edited")
        if sub.etag is None:
            blocking.append(f"{label} was read without an ETag; read it again")
    t_provider = providers.get(techdata.provider_id) if techdata.provider_id else None
    m_provider = providers.get(manual.provider_id) if manual.provider_id else None
    if t_provider is None:
        blocking.append(f"{t} has no provider: it must be on the automatic TechData provider")
    else:
        problem = streamone_problem(t_provider, connectors)
        if problem:
            blocking.append(f"{t} is not on the automatic TechData provider: {problem}")
    if m_provider is None:
        blocking.append(f"{m} has no provider: it must be on a manual provider")
    elif m_provider.type is not ProviderType.MANUAL:
        kind = m_provider.type.value.replace("_", " ") if m_provider.type else "unknown"
        blocking.append(f"{m} is on {m_provider.name!r} ({kind} provider), not on a manual provider")
    if manual.customer_id is None or techdata.customer_id is None:
        which = m if manual.customer_id is None else t
        blocking.append(f"{which} has no customer")
    elif manual.customer_id != techdata.customer_id:
        blocking.append(f"{m} and {t} belong to different customers")
    if techdata.billing_contract_id is None:
        blocking.append(f"{t} has no billing contract: map the provider account and sync it onto one first")
    if not same_product(manual, techdata):
        warnings.append(f"{m} ({_product(manual)}) and {t} ({_product(techdata)}) are not the same product")
    m_creates = [lcl for lcl in manual_lcls if lcl.event is LclEvent.CREATE]
    t_creates = [lcl for lcl in techdata_lcls if lcl.event is LclEvent.CREATE]
    for creates, label in ((m_creates, m), (t_creates, t)):
        if len(creates) != 1:
            blocking.append(f"{label} has {len(creates)} Create LCLs, not exactly one"
                            + (f": {'; '.join(describe_lcl(c) for c in creates)}" if creates else ""))
    moving = [lcl for lcl in manual_lcls if lcl.event is not LclEvent.CREATE]
    invoice_accounts = invoice_accounts or {}
    for lcl in moving:
        if lcl.provisioning_status in UNSETTLED:
            status = lcl.provisioning_status.value.replace("_", " ")
            blocking.append(f"LCL {describe_lcl(lcl)} of {m} is {status.capitalize()}: it cannot be moved until "
                            "it is settled")
        if lcl.etag is None:
            blocking.append(f"LCL {describe_lcl(lcl)} of {m} was read without an ETag; read it again")
        if lcl.invoice_id is not None:
            owner = invoice_accounts.get(lcl.invoice_id)
            if owner is None:
                blocking.append(f"LCL {describe_lcl(lcl)} of {m} is on invoice {lcl.invoice_id}, whose account "
                                "could not be read")
            elif owner != techdata.customer_id:
                blocking.append(f"LCL {describe_lcl(lcl)} of {m} is on an invoice of another account: it cannot "
                                "move to a subscription of this customer")
    for lcl in t_creates[:1]:
        if lcl.etag is None:
            blocking.append(f"the Create LCL of {t} was read without an ETag; read it again")
        if lcl.invoice_id is not None:
            warnings.append(f"the Create LCL of {t} is on an invoice already; it is archived all the same")
        if lcl.provisioning_status in UNSETTLED:
            warnings.append(f"the Create LCL of {t} is {lcl.provisioning_status.value.replace('_', ' ').capitalize()}; "
                            "it is set Not Applicable so nothing is ordered at TechData")
    for lcl in techdata_lcls:
        if lcl.event is not LclEvent.CREATE and lcl.provisioning_status in UNSETTLED:
            warnings.append(f"LCL {describe_lcl(lcl)} of {t} is "
                            f"{lcl.provisioning_status.value.replace('_', ' ').capitalize()}: it blocks the LCLs "
                            "after it until it is settled")
    if manual.effective_start_date is None:
        warnings.append(f"{m} has no effective start: {t}'s is left as it is")
    if len(m_creates) == 1 and len(t_creates) == 1:
        predicted = m_creates[0].quantity + sum(lcl.quantity for lcl in moving) + sum(
            lcl.quantity for lcl in techdata_lcls if lcl.event is not LclEvent.CREATE)
        if predicted != techdata.quantity:
            warnings.append(f"after the move, Σ LCL of {t} would be {predicted}, not its quantity "
                            f"{techdata.quantity} (a difference of {predicted - techdata.quantity:+d}); fix it in the "
                            "LCL editor afterwards or check the histories first")
    return blocking, warnings


def same_product(a: Subscription, b: Subscription) -> bool:
    """The same product: the same product record, or the same part number (TechData SKU) by its
    Microsoft product and SKU (``CFQ7TTC0LH18:0001``, whatever term and cycle follow)."""
    if a.product_id is not None and a.product_id == b.product_id:
        return True
    return bool(a.part_number and b.part_number and sku_of(a.part_number) == sku_of(b.part_number))


def sku_of(part_number: str) -> str:
    """A TechData part number's product and SKU (``CFQ7TTC0LH18:0001:P1M:M`` → ``CFQ7TTC0LH18:0001``);
    a part number of another form, as it is (case-blind)."""
    parts = part_number.strip().upper().split(":")
    return ":".join(parts[:2]) if len(parts) >= 2 else parts[0]


def term_of(part_number: str | None) -> tuple[str, str] | None:
    """The term and billing cycle a TechData part number ends with (``P1M``, ``M``), if any."""
    parts = (part_number or "").strip().upper().split(":")
    return (parts[2], parts[3]) if len(parts) >= 4 else None


def _product(sub: Subscription) -> str:
    return sub.part_number or (str(sub.product_id) if sub.product_id else "no product")


# -- the plan -------------------------------------------------------------------------------------------
def plan_replacement(manual: Subscription, manual_lcls: Sequence[LicenseChangeLog], techdata: Subscription,
                     techdata_lcls: Sequence[LicenseChangeLog], providers: Mapping[UUID, Provider], *,
                     connectors: Collection[str], invoice_deactivation: bool = False,
                     invoice_accounts: Mapping[UUID, UUID | None] | None = None,
                     context: PlanContext = NO_CONTEXT) -> Replacement:
    """The replacement of ``manual`` by ``techdata`` as one plan, with its preflight and the
    predicted after-state. Blocked (and still shown) when preflight finds a blocking reason."""
    blocking, warnings = preflight(manual, manual_lcls, techdata, techdata_lcls, providers,
                                   connectors=connectors, invoice_accounts=invoice_accounts)
    m_ref = Ref("subscription", manual.id, manual.name)
    t_ref = Ref("subscription", techdata.id, techdata.name)
    m_create = next((lcl for lcl in manual_lcls if lcl.event is LclEvent.CREATE), None)
    t_create = next((lcl for lcl in techdata_lcls if lcl.event is LclEvent.CREATE), None)
    moving = sorted((lcl for lcl in manual_lcls if lcl.event is not LclEvent.CREATE),
                    key=lambda lcl: (lcl.effective_date or date.min, str(lcl.id)))
    changes: list[Change] = []
    unit = 0
    for number, lcl in enumerate(moving):
        if number and number % MAX_CHANGESET == 0:
            unit += 1
        changes.append(Update("licensechangelog", lcl.id, lcl.etag or "", {"subscription": m_ref},
                              {"subscription": t_ref}, describe_lcl(lcl, named=False), unit=unit))
    # the last writes go together, in the changeset after the moves when they do not fit in one
    final = unit + 1 if len(moving) + 3 > MAX_CHANGESET else unit
    if manual.effective_start_date is not None and manual.effective_start_date != techdata.effective_start_date:
        changes.append(Update("subscription", techdata.id, techdata.etag or "",
                              {"effectivestartdate": techdata.effective_start_date},
                              {"effectivestartdate": manual.effective_start_date}, techdata.name, unit=final))
    if t_create is not None and m_create is not None:
        before: dict[str, Value] = {}
        after: dict[str, Value] = {}
        if t_create.quantity != m_create.quantity:
            before["quantity"], after["quantity"] = t_create.quantity, m_create.quantity
        if t_create.provisioning_status is not ProvisioningStatus.NOT_APPLICABLE:
            status = t_create.provisioning_status
            before["provisioningstatus"] = Option("provisioning_status", status.value) if status else None
            after["provisioningstatus"] = NOT_APPLICABLE
        label = f"Create LCL of {techdata.name}"
        if not t_create.is_archived:
            changes.append(SetState("licensechangelog", t_create.id, t_create.etag or "", ACTIVE, ARCHIVED, label,
                                    unit=final, values_before=before, values_after=after))
        elif after:
            changes.append(Update("licensechangelog", t_create.id, t_create.etag or "", before, after, label,
                                  unit=final))
    changes.append(SetState("subscription", manual.id, manual.etag or "", ACTIVE, DEACTIVATED, manual.name,
                            unit=final))
    then: tuple[Then, ...] = ()
    notes = [f"Deactivating {manual.name} makes Work 365 write its Deactivate LCL "
             f"({-manual.quantity:+d})."]
    known = tuple(sorted((lcl.id for lcl in manual_lcls), key=str))
    if invoice_deactivation:
        notes.append("It stays Active, to be invoiced, as chosen.")
    else:
        then = (Then("archive-written-lcl", m_ref, LclEvent.DEACTIVATE.value, f"Deactivate LCL of {manual.name}",
                     known),)
        notes.append("It is archived straight after, so it is not invoiced: a step of this plan, journalled "
                     "and resumable like the rest.")
    manual_side, techdata_side = predict(manual, manual_lcls, techdata, techdata_lcls)
    moved = len(moving)
    summary = (f"{_plural(moved, 'LCL')} move from the manual subscription to the TechData one. After:\n"
               f"  manual   {manual_side.line()}\n  TechData {techdata_side.line()}")
    plan = Plan("replace", f"Replace {manual.name} by {techdata.name}", tuple(changes), context,
                summary=summary, warnings=tuple(warnings), blocking=tuple(blocking),
                atomic=len(changes) <= MAX_CHANGESET, notes=tuple(notes), then=then,
                stats={"moved": moved})
    return Replacement(plan.checked(), manual_side, techdata_side, moved)


def predict(manual: Subscription, manual_lcls: Sequence[LicenseChangeLog], techdata: Subscription,
            techdata_lcls: Sequence[LicenseChangeLog]) -> tuple[Side, Side]:
    """Both subscriptions after the replacement: M keeps its Create and gains its Deactivate LCL
    (−its quantity); T holds its Create (at M's Create quantity) and everything else of M."""
    m_create = [lcl for lcl in manual_lcls if lcl.event is LclEvent.CREATE]
    moving = [lcl for lcl in manual_lcls if lcl.event is not LclEvent.CREATE]
    m_after = [(lcl.event.value, lcl.quantity) for lcl in m_create] + [(LclEvent.DEACTIVATE.value, -manual.quantity)]
    create_quantity = m_create[0].quantity if len(m_create) == 1 else None
    t_after = [(lcl.event.value, create_quantity if lcl.event is LclEvent.CREATE and create_quantity is not None
                else lcl.quantity) for lcl in techdata_lcls] + [(lcl.event.value, lcl.quantity) for lcl in moving]
    manual_side = Side(manual.name, manual.quantity, manual.quantity, lcl_total(list(manual_lcls)),
                       sum(q for _, q in m_after), "inactive", tuple(_event(e, q) for e, q in m_after))
    techdata_side = Side(techdata.name, techdata.quantity, techdata.quantity, lcl_total(list(techdata_lcls)),
                         sum(q for _, q in t_after), "active", tuple(_event(e, q) for e, q in t_after))
    return manual_side, techdata_side


def _event(event: str, quantity: int) -> str:
    return f"{event.capitalize()} {quantity:+d}"


# -- pairing -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pairing:
    """A customer's manual subscriptions beside their TechData twins."""

    pairs: tuple[tuple[Subscription, Subscription], ...]  # (manual, TechData), paired automatically
    ambiguous: tuple[tuple[Subscription, tuple[Subscription, ...], str], ...]  # manual, candidates, why
    unpaired_manual: tuple[Subscription, ...]
    unpaired_techdata: tuple[Subscription, ...]


def pair(manual: Iterable[Subscription], techdata: Iterable[Subscription], *,
         cycles: Mapping[UUID, str | None] | None = None) -> Pairing:
    """Pair active manual subscriptions with active TechData ones of the same product (SKU),
    preferring the same quantity, then the same term and billing cycle. A SKU the customer holds
    on TechData more than once in different terms or billing cycles (monthly and annual) is
    ambiguous and never paired automatically; ``cycles`` gives a subscription's billing cycle where its part
    number does not say it (from its contract)."""
    cycles = cycles or {}

    def cycle(sub: Subscription) -> str | None:
        term = term_of(sub.part_number)
        return term[1] if term else cycles.get(sub.id)

    def kind(sub: Subscription) -> tuple[str | None, str | None]:
        """Its term and billing cycle: P1M monthly and P1Y annual are two ways to hold one SKU."""
        term = term_of(sub.part_number)
        return (term[0] if term else None, cycle(sub))

    free = [t for t in techdata if t.state is RecordState.ACTIVE]
    active_manual = [m for m in manual if m.state is RecordState.ACTIVE]
    pairs: list[tuple[Subscription, Subscription]] = []
    ambiguous: list[tuple[Subscription, tuple[Subscription, ...], str]] = []
    unpaired: list[Subscription] = []
    for m in sorted(active_manual, key=lambda s: (s.name, str(s.id))):
        same = [t for t in free if same_product(m, t)]
        if not same:
            unpaired.append(m)
            continue
        sku = sku_of(m.part_number or "") or "the product"
        kinds = {kind(t) for t in same}
        if len(kinds) > 1:
            ambiguous.append((m, tuple(same), f"{sku} is held in {len(kinds)} terms or billing cycles; "
                                              "pair it by hand"))
            continue
        (t_kind,) = kinds
        m_kind = kind(m)
        if m_kind[0] is not None and t_kind[0] is not None and m_kind != t_kind:
            ambiguous.append((m, tuple(same), f"{sku} is {'/'.join(filter(None, m_kind))} here but "
                                              f"{'/'.join(filter(None, t_kind))} on TechData; pair it by hand"))
            continue
        rivals = [o for o in active_manual if o is not m and same_product(o, m) and kind(o) != m_kind]
        if rivals:
            ambiguous.append((m, tuple(same), f"{len(rivals) + 1} manual subscriptions of {sku} in different terms; "
                                              "pair them by hand"))
            continue
        m_term = term_of(m.part_number)
        best = sorted(same, key=lambda t: (t.quantity != m.quantity, term_of(t.part_number) != m_term,
                                           cycle(t) != cycle(m), t.name, str(t.id)))[0]
        pairs.append((m, best))
        free.remove(best)
    return Pairing(tuple(pairs), tuple(ambiguous), tuple(unpaired), tuple(free))


# -- a pair side by side -----------------------------------------------------------------------------------
DIFF_FIELDS = ("quantity", "effective_start_date", "billing_contract_id", "customer_id", "part_number",
               "selling_price", "cost_price", "currency", "billing_frequency")


@dataclass(frozen=True)
class FieldDiff:
    field: str
    manual: str
    techdata: str

    @property
    def differs(self) -> bool:
        return self.manual != self.techdata


def diff(manual: Subscription, techdata: Subscription, *, names: Mapping[UUID, str] | None = None,
         frequencies: Mapping[UUID, str | None] | None = None) -> list[FieldDiff]:
    """The pair field by field (quantity, effective start, billing contract, customer, product,
    selling price, cost, currency, billing frequency); ``names`` shows lookups by name and
    ``frequencies`` gives each subscription's billing frequency (from its contract)."""
    names = names or {}
    frequencies = frequencies or {}

    def shown(sub: Subscription, name: str) -> str:
        if name == "billing_frequency":
            value: object = frequencies.get(sub.id)
        else:
            value = getattr(sub, name)
        if value is None:
            return "—"
        if isinstance(value, UUID):
            return names.get(value, str(value))
        if isinstance(value, Decimal):
            return f"{value:.2f}"
        if isinstance(value, date):
            return value.isoformat()
        return str(value)

    labels = {"effective_start_date": "effective start", "billing_contract_id": "billing contract",
              "customer_id": "customer", "part_number": "product", "selling_price": "selling price",
              "cost_price": "cost", "billing_frequency": "billing frequency"}
    return [FieldDiff(labels.get(f, f), shown(manual, f), shown(techdata, f)) for f in DIFF_FIELDS]
