"""A plan: every write the app makes, decided before anything is sent.

A plan is a tuple of typed changes — create a row (with an id chosen here), update columns,
set state and status — each carrying its before → after, so one review screen (or the command
line) can show any plan row by row and the journal can undo it. Values are in domain terms:
fields by their role names (``quantity``), lookups as :class:`Ref`, option sets as
:class:`Option` meanings. ``work365.compile`` turns them into wire names and integers.

Pure: no I/O, no clock except where a caller passes one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from w365tui.domain.ids import AccountIdKind, kind_of

#: Dataverse takes at most this many operations in one changeset (and one batch).
MAX_CHANGESET = 1000


@dataclass(frozen=True)
class Ref:
    """A lookup's value: the row ``id`` of table role ``role``; ``label`` is for people."""

    role: str
    id: UUID
    label: str = field(default="", compare=False)


@dataclass(frozen=True)
class Option:
    """An option-set value by meaning (``Option("lcl_event", "update")``)."""

    set: str
    meaning: str


@dataclass(frozen=True)
class State:
    """A row's state and status reason, by meaning (``State("inactive", "archived")``).

    ``status`` None means the state's default status reason.
    """

    state: str
    status: str | None = None

    def __str__(self) -> str:
        return self.state if self.status in (None, self.state) else f"{self.state} ({_words(self.status)})"


ACTIVE = State("active")
INACTIVE = State("inactive")

Value = None | bool | int | str | Decimal | date | Ref | Option


@dataclass(frozen=True)
class Create:
    """A new row with an id chosen by the app, so that sending it again cannot duplicate it."""

    role: str
    id: UUID
    values: Mapping[str, Value]
    label: str
    key: str | None = None  # a natural key (e.g. provider + customer id): what makes two creates the same
    unit: int = 0  # changes of one unit always go in one changeset

    verb = "create"

    @property
    def before(self) -> Mapping[str, Value]:
        return {}

    @property
    def after(self) -> Mapping[str, Value]:
        return self.values


@dataclass(frozen=True)
class Update:
    """New values for some columns of a row, if it still has ``etag``."""

    role: str
    id: UUID
    etag: str
    before: Mapping[str, Value]
    after: Mapping[str, Value]
    label: str
    unit: int = 0

    verb = "update"
    key = None


@dataclass(frozen=True)
class SetState:
    """A row's state and status reason, if it still has ``etag``; with any columns that change
    in the same write (one row takes one write per plan: its ETag changes with the first)."""

    role: str
    id: UUID
    etag: str
    before_state: State
    after_state: State
    label: str
    unit: int = 0
    values_before: Mapping[str, Value] = field(default_factory=dict)
    values_after: Mapping[str, Value] = field(default_factory=dict)

    verb = "set state"
    key = None

    @property
    def before(self) -> Mapping[str, Value]:
        return {"state": str(self.before_state), **self.values_before}

    @property
    def after(self) -> Mapping[str, Value]:
        return {"state": str(self.after_state), **self.values_after}


Change = Create | Update | SetState


@dataclass(frozen=True)
class Then:
    """A write that follows a plan because the service makes it necessary: its row exists only
    once the plan is applied (the Deactivate LCL Work 365 writes when a subscription is
    deactivated). Shown in the review beside the plan's changes, journalled with the plan, and
    carried out straight after it — or by resuming it — as a plan whose parent is this one.

    ``action`` ``archive-written-lcl``: archive the Active LCL of ``event`` that the service wrote on
    ``subscription`` (one not among ``known``, the subscription's LCLs when the plan was made).
    """

    action: str
    subscription: Ref
    event: str
    label: str
    known: tuple[UUID, ...] = ()

    def line(self) -> str:
        return f"then archive the {self.label}, written by Work 365"


@dataclass(frozen=True)
class PlanContext:
    """Where a plan applies: the profile and org, and the records it is about."""

    profile: str = ""
    organization: str | None = None
    provider_id: UUID | None = None
    account_id: UUID | None = None
    contract_id: UUID | None = None
    provider_account_id: UUID | None = None


NO_CONTEXT = PlanContext()


@dataclass(frozen=True)
class Plan:
    kind: str  # "sync-provider-accounts", "map", "sync-subscriptions", "undo", "rollback", …
    title: str
    changes: tuple[Change, ...]
    context: PlanContext = NO_CONTEXT
    summary: str = ""
    warnings: tuple[str, ...] = ()
    blocking: tuple[str, ...] = ()  # reasons it must not be applied
    atomic: bool = True  # one changeset, or refused
    notes: tuple[str, ...] = ()  # what the service is expected to do by itself
    parent: str | None = None  # the journalled plan this one undoes or rolls back
    stats: Mapping[str, int] = field(default_factory=dict)  # counts for the summary (unchanged, skipped, …)
    then: tuple[Then, ...] = ()  # writes that follow once the plan is applied

    @property
    def is_empty(self) -> bool:
        return not self.changes

    @property
    def refused(self) -> bool:
        return bool(self.blocking)

    def rows(self) -> set[UUID]:
        return {c.id for c in self.changes}

    def keys(self) -> set[str]:
        return {c.key for c in self.changes if c.key}

    def blocked(self, *reasons: str) -> Plan:
        new = tuple(r for r in reasons if r and r not in self.blocking)
        return replace(self, blocking=self.blocking + new) if new else self

    def checked(self) -> Plan:
        """The plan with the blocking reasons of its own shape added."""
        return self.blocked(*problems(self))


class PlanError(ValueError):
    """A plan that cannot be applied as it stands."""


def problems(plan: Plan) -> list[str]:
    """What is wrong with a plan's shape, whatever its content."""
    found: list[str] = []
    if plan.atomic and len(plan.changes) > MAX_CHANGESET:
        found.append(f"an atomic plan holds at most {MAX_CHANGESET} changes, not {len(plan.changes)}; "
                     "it is refused rather than split")
    rows = [c.id for c in plan.changes]
    if len(rows) != len(set(rows)):
        found.append("the plan writes one row twice; its ETag changes with the first write, so the second "
                     "would be refused")
    for change in plan.changes:
        if isinstance(change, Update | SetState) and not change.etag:
            found.append(f"{change.label} was read without an ETag; read it again")
        if isinstance(change, Update | SetState) and set(change.after) - set(change.before):
            found.append(f"{change.label}: every updated column needs its before value")
    units: dict[int, int] = {}
    for change in plan.changes:
        units[change.unit] = units.get(change.unit, 0) + 1
    if not plan.atomic and units and max(units.values()) > MAX_CHANGESET:
        found.append(f"one unit of the plan holds more than {MAX_CHANGESET} changes")
    return found


def changesets(plan: Plan, size: int = MAX_CHANGESET) -> list[list[int]]:
    """The plan's changes (by index) grouped into changesets of at most ``size``.

    An atomic plan is one changeset. Otherwise changes of one unit stay together and units
    keep their order. Raises :class:`PlanError` when the plan cannot be grouped.
    """
    if not 1 <= size <= MAX_CHANGESET:
        raise PlanError(f"a changeset holds 1 to {MAX_CHANGESET} operations")
    if not plan.changes:
        return []
    if plan.atomic:
        if len(plan.changes) > size:
            raise PlanError(f"an atomic plan holds at most {size} changes, not {len(plan.changes)}")
        return [list(range(len(plan.changes)))]
    units: dict[int, list[int]] = {}
    for index, change in enumerate(plan.changes):
        units.setdefault(change.unit, []).append(index)
    groups: list[list[int]] = []
    current: list[int] = []
    for members in units.values():
        if len(members) > size:
            raise PlanError(f"one unit of the plan holds {len(members)} changes, more than {size}")
        if len(current) + len(members) > size:
            groups.append(current)
            current = []
        current.extend(members)
    if current:
        groups.append(current)
    return groups


# -- showing a plan -------------------------------------------------------------------------------
FIELD_LABELS = {
    "providerspecificid": "customer id",  # or "tenant id": see field_label
    "account": "CRM account",
    "billingcontract": "billing contract",
    "provideraccount": "provider account",
    "providersubscriptionid": "provider subscription id",
    "partnumber": "part number",
    "effectivestartdate": "effective start",
    "effectivedate": "effective date",
    "provisioningstatus": "provisioning status",
}

ROLE_LABELS = {
    "provideraccount": "provider account",
    "licensechangelog": "LCL",
    "billingcontract": "billing contract",
    "account": "CRM account",
}


def _words(text: str) -> str:
    return text.replace("_", " ")


def show_value(value: Value) -> str:
    """A value as an operator reads it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Ref):
        return value.label or str(value.id)
    if isinstance(value, Option):
        return _words(value.meaning)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return str(value)


@dataclass(frozen=True)
class Line:
    """One line of a plan's review: a field of a change, before → after."""

    index: int  # the change
    verb: str
    role: str  # what kind of row, for people ("provider account")
    record: str  # which row (its label)
    field: str
    before: str
    after: str

    @property
    def what(self) -> str:
        return f"{self.role} {self.record}".strip()


def field_label(name: str, value: Value = None) -> str:
    """A field as an operator calls it; a provider-specific id by what it holds."""
    if name == "providerspecificid" and isinstance(value, str) and kind_of(value, AccountIdKind) is AccountIdKind.TENANT:
        return "tenant id"
    return FIELD_LABELS.get(name, name)


def lines(plan: Plan) -> list[Line]:
    """Every change of a plan, a line per field, as the review screen shows it."""
    out: list[Line] = []
    for index, change in enumerate(plan.changes):
        role = ROLE_LABELS.get(change.role, change.role)
        before = change.before
        after = change.after
        if not after:
            out.append(Line(index, change.verb, role, change.label, "", "", ""))
        for name, value in after.items():
            shown_before = show_value(before.get(name)) if isinstance(change, Update | SetState) else ""
            out.append(Line(index, change.verb, role, change.label, field_label(name, value), shown_before,
                            show_value(value)))
    for number, step in enumerate(plan.then):
        out.append(Line(len(plan.changes) + number, "then", "LCL", f"{step.label} (written by Work 365)", "state",
                        "active", str(State("inactive", "archived"))))
    return out


# -- undoing ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Current:
    """A row as the service holds it now: its ETag, state and the values of some fields."""

    etag: str | None
    state: State | None
    values: Mapping[str, Value]


def invert(change: Change, current: Current | None, *, today: date, new_id: Callable[[], UUID] = uuid.uuid4,
           unit: int = 0) -> tuple[tuple[Change, ...], str | None]:
    """The changes that undo ``change``, given the row as it is now.

    Returns the changes and, when the change cannot be undone safely, the reason (the changes
    are then empty). Created rows are deactivated, never deleted; a created LCL is reversed
    by a new LCL of the opposite quantity; an LCL is never set back to Awaiting Provisioning.
    """
    if isinstance(change, Create):
        if change.role == "licensechangelog":
            quantity = change.values.get("quantity")
            if current is None:
                return (), f"{change.label}: the LCL is not there any more"
            if not isinstance(quantity, int) or quantity == 0:
                return (), None
            values = dict(change.values)
            values.update({"quantity": -quantity, "event": Option("lcl_event", "update"), "effectivedate": today,
                           "provisioningstatus": Option("provisioning_status", "not_applicable"),
                           "name": _reversing_name(values.get("name"))})
            return (Create("licensechangelog", new_id(), values, f"reversing {change.label}", unit=unit),), None
        if current is None:
            return (), f"{change.label}: the row is not there any more"
        if current.state is not None and current.state.state == "inactive":
            return (), None  # already inactive: nothing to undo
        return (SetState(change.role, change.id, current.etag or "", current.state or ACTIVE, INACTIVE,
                         change.label, unit=unit),), None
    if current is None:
        return (), f"{change.label}: the row is not there any more"
    if isinstance(change, Update):
        now = {name: current.values.get(name) for name in change.after}
        if now != dict(change.after):
            return (), f"{change.label} was changed since (now {_describe(now)}); left as it is"
        restore = dict(change.before)
        written = dict(change.after)
        if restore.get("provisioningstatus") == Option("provisioning_status", "awaiting_provisioning"):
            # never back to Awaiting Provisioning: that would order the change at the provider again;
            # what else the write changed (an adopted subscription's LCL given its customer) is undone
            del restore["provisioningstatus"]
            written.pop("provisioningstatus", None)
            if not restore:
                return (), (f"{change.label}: not set back to Awaiting Provisioning, which would order the change "
                            "at the provider again")
        # ``now`` equals what was written; the plan's own values carry the names people read
        return (Update(change.role, change.id, current.etag or "", written, restore, change.label,
                       unit=unit),), None
    if not same_state(current.state, change.after_state):
        return (), f"{change.label} is {current.state} now, not {change.after_state}; left as it is"
    now = {name: current.values.get(name) for name in change.values_after}
    if now != dict(change.values_after):
        return (), f"{change.label} was changed since (now {_describe(now)}); left as it is"
    restore = dict(change.values_before)
    written = dict(change.values_after)
    if restore.get("provisioningstatus") == Option("provisioning_status", "awaiting_provisioning"):
        # never back to Awaiting Provisioning: that would order the licences at the provider again
        del restore["provisioningstatus"]
        del written["provisioningstatus"]
    return (SetState(change.role, change.id, current.etag or "", current.state or change.after_state,
                     change.before_state, change.label, unit=unit, values_before=written,
                     values_after=restore),), None


def same_state(state: State | None, wanted: State) -> bool:
    """``state`` is ``wanted`` (any status reason when ``wanted`` names none)."""
    return state is not None and state.state == wanted.state and wanted.status in (None, state.status)


def _reversing_name(name: Value) -> str:
    return f"Reversal of {name}" if isinstance(name, str) and name else "Reversal"


def _describe(values: Mapping[str, Value]) -> str:
    return ", ".join(f"{field_label(k, v)} {show_value(v)}" for k, v in values.items())


# -- the journal's form -----------------------------------------------------------------------------
def _value_json(value: Value) -> Any:
    if isinstance(value, Ref):
        return {"ref": value.role, "id": str(value.id), "label": value.label}
    if isinstance(value, Option):
        return {"option": value.set, "meaning": value.meaning}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    return value


def _value_from(data: Any) -> Value:
    if isinstance(data, dict):
        if "ref" in data:
            return Ref(data["ref"], UUID(data["id"]), data.get("label") or "")
        if "option" in data:
            return Option(data["option"], data["meaning"])
        if "decimal" in data:
            return Decimal(data["decimal"])
        if "date" in data:
            return date.fromisoformat(data["date"])
        raise PlanError(f"unknown value {data!r} in a journalled plan")
    return data


def _values_json(values: Mapping[str, Value]) -> dict[str, Any]:
    return {k: _value_json(v) for k, v in values.items()}


def _values_from(data: Mapping[str, Any]) -> dict[str, Value]:
    return {k: _value_from(v) for k, v in data.items()}


def change_to_json(change: Change) -> dict[str, Any]:
    base = {"type": change.verb, "role": change.role, "id": str(change.id), "label": change.label, "unit": change.unit}
    if isinstance(change, Create):
        return {**base, "values": _values_json(change.values), "key": change.key}
    if isinstance(change, Update):
        return {**base, "etag": change.etag, "before": _values_json(change.before), "after": _values_json(change.after)}
    return {**base, "etag": change.etag, "before": [change.before_state.state, change.before_state.status],
            "after": [change.after_state.state, change.after_state.status],
            "values_before": _values_json(change.values_before), "values_after": _values_json(change.values_after)}


def change_from_json(data: Mapping[str, Any]) -> Change:
    kind = data["type"]
    common = {"role": data["role"], "id": UUID(data["id"]), "label": data.get("label", ""), "unit": data.get("unit", 0)}
    if kind == "create":
        return Create(values=_values_from(data["values"]), key=data.get("key"), **common)
    if kind == "update":
        return Update(etag=data["etag"], before=_values_from(data["before"]), after=_values_from(data["after"]), **common)
    if kind == "set state":
        return SetState(etag=data["etag"], before_state=State(*data["before"]), after_state=State(*data["after"]),
                        values_before=_values_from(data.get("values_before") or {}),
                        values_after=_values_from(data.get("values_after") or {}), **common)
    raise PlanError(f"unknown change type {kind!r} in a journalled plan")


def _ids(value: UUID | None) -> str | None:
    return str(value) if value else None


def plan_to_json(plan: Plan) -> dict[str, Any]:
    c = plan.context
    return {
        "kind": plan.kind, "title": plan.title, "summary": plan.summary, "atomic": plan.atomic,
        "context": {"profile": c.profile, "organization": c.organization, "provider_id": _ids(c.provider_id),
                    "account_id": _ids(c.account_id), "contract_id": _ids(c.contract_id),
                    "provider_account_id": _ids(c.provider_account_id)},
        "warnings": list(plan.warnings), "blocking": list(plan.blocking), "notes": list(plan.notes),
        "parent": plan.parent, "stats": dict(plan.stats),
        "changes": [change_to_json(change) for change in plan.changes],
        **({"then": [then_to_json(step) for step in plan.then]} if plan.then else {}),
    }


def then_to_json(step: Then) -> dict[str, Any]:
    return {"action": step.action, "subscription": _value_json(step.subscription), "event": step.event,
            "label": step.label, "known": [str(i) for i in step.known]}


def then_from_json(data: Mapping[str, Any]) -> Then:
    subscription = _value_from(data["subscription"])
    if not isinstance(subscription, Ref):
        raise PlanError(f"a journalled follow-up step names no row: {data!r}")
    return Then(data["action"], subscription, data["event"], data.get("label", ""),
                tuple(UUID(i) for i in data.get("known", ())))


def plan_from_json(data: Mapping[str, Any]) -> Plan:
    raw = data.get("context") or {}
    context = PlanContext(
        profile=raw.get("profile", ""), organization=raw.get("organization"),
        **{k: UUID(raw[k]) for k in ("provider_id", "account_id", "contract_id", "provider_account_id") if raw.get(k)})
    return Plan(kind=data["kind"], title=data.get("title", ""), changes=tuple(change_from_json(c) for c in data["changes"]),
                context=context, summary=data.get("summary", ""), warnings=tuple(data.get("warnings", ())),
                blocking=tuple(data.get("blocking", ())), atomic=bool(data.get("atomic", True)),
                notes=tuple(data.get("notes", ())), parent=data.get("parent"), stats=dict(data.get("stats", {})),
                then=tuple(then_from_json(t) for t in data.get("then", ())))


def renumbered(changes: Iterable[Change], start: int = 0) -> Sequence[Change]:
    """Changes with their units numbered afresh in order, keeping which belong together."""
    mapping: dict[int, int] = {}
    out = []
    for change in changes:
        unit = mapping.setdefault(change.unit, start + len(mapping))
        out.append(replace(change, unit=unit))
    return out
