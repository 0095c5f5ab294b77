"""What became of a journalled plan, read from the service; and the plans that finish, roll back
or undo it.

A changeset whose answer was lost is classified by the rows it touched: **applied** (every row
holds what the plan wrote), **not applied** (every row is as the plan found it) or **diverged**
(anything else: someone else changed them). Finishing sends what was not applied, with the
rows' ETags read again; rolling back and undoing invert what was applied, through the same
review and executor as any plan.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from uuid import UUID

from w365tui.domain.plan import (
    MAX_CHANGESET,
    Change,
    Create,
    Current,
    Plan,
    SetState,
    Update,
    invert,
    renumbered,
    same_state,
)
from w365tui.journal import DONE_STATES, UNDONE_STATES, PlanRecord
from w365tui.work365.reads import Reads
from w365tui.work365.rows import current


@dataclass(frozen=True)
class ChangeCheck:
    index: int
    state: str  # applied, not_applied, diverged
    current: Current | None
    note: str = ""


@dataclass(frozen=True)
class Inspection:
    record: PlanRecord
    plan: Plan
    checks: tuple[ChangeCheck, ...]
    changesets: dict[int, str]  # changeset → applied, not_applied, diverged, or moved (never sent, rows changed)

    @property
    def checked(self) -> dict[int, str]:
        """What was found of the changesets the journal does not know to be applied."""
        return {i: s for i, s in self.changesets.items() if self.record.changeset_state(i) not in DONE_STATES}

    @property
    def diverged(self) -> list[int]:
        """Changesets that cannot be finished: someone else changed their rows."""
        return sorted(i for i, s in self.changesets.items() if s in ("diverged", "moved"))

    @property
    def not_applied(self) -> list[int]:
        return sorted(i for i, s in self.changesets.items() if s == "not_applied")

    @property
    def applied(self) -> list[int]:
        return sorted(i for i, s in self.changesets.items() if s == "applied")

    def summary(self) -> str:
        parts = []
        for label, members in (("applied", self.applied), ("not applied", self.not_applied),
                               ("changed by someone else", self.diverged)):
            if members:
                parts.append(f"changeset{'s' if len(members) > 1 else ''} {', '.join(str(i + 1) for i in members)} "
                             f"{label}")
        return "; ".join(parts) or "nothing to check"

    def remaining(self) -> Plan:
        """The plan with the ETags of the rows it has still to change read again."""
        changes = list(self.plan.changes)
        for check in self.checks:
            change = changes[check.index]
            if check.state == "not_applied" and isinstance(change, Update | SetState) and check.current is not None:
                changes[check.index] = replace(change, etag=check.current.etag or change.etag)
        return replace(self.plan, changes=tuple(changes))


def _matches(change: Change, now: Current | None) -> str:
    """applied, not_applied or diverged, for one change against its row now."""
    if isinstance(change, Create):
        return "applied" if now is not None else "not_applied"
    if now is None:
        return "diverged"
    after, before = (change.after, change.before) if isinstance(change, Update) else \
        (change.values_after, change.values_before)
    values = {name: now.values.get(name) for name in after}
    if isinstance(change, SetState):
        if same_state(now.state, change.after_state) and values == dict(after):
            return "applied"
        if same_state(now.state, change.before_state) and values == dict(before):
            return "not_applied"
        return "diverged"
    if values == dict(after):
        return "applied"
    return "not_applied" if values == {k: before.get(k) for k in after} else "diverged"


async def inspect(reads: Reads, record: PlanRecord) -> Inspection:
    """Read every row the plan touches and classify each change and changeset."""
    plan = record.plan()
    by_role: dict[str, set[UUID]] = {}
    for change in plan.changes:
        by_role.setdefault(change.role, set()).add(change.id)
    rows: dict[UUID, object] = {}
    for role, ids in by_role.items():
        found = await reads.rows_by_id(role, ids)
        fields = {name for c in plan.changes if c.role == role for name in (*c.after, *c.before) if name != "state"}
        fields |= {name for c in plan.changes if c.role == role and isinstance(c, Create) for name in c.values}
        for row_id in ids:
            rows[row_id] = current(reads.schema, role, found.get(row_id), sorted(fields))
    checks = tuple(ChangeCheck(i, _matches(c, rows.get(c.id)), rows.get(c.id))  # type: ignore[arg-type]
                   for i, c in enumerate(plan.changes))
    changesets: dict[int, str] = {}
    for index, members in enumerate(record.changesets):
        journalled = record.changeset_state(index)
        if journalled in DONE_STATES:
            changesets[index] = "applied"
            continue
        if journalled in UNDONE_STATES:
            # Nothing of it was written; its rows may have moved on since, which finishing must
            # know (and rolling back must leave alone: none of it is ours).
            states = {checks[i].state for i in members}
            changesets[index] = "not_applied" if states <= {"not_applied"} else "moved"
            continue
        states = {checks[i].state for i in members}
        changesets[index] = states.pop() if len(states) == 1 else "diverged"
    return Inspection(record, plan, checks, changesets)


def inverse(inspection: Inspection, *, kind: str, today: date) -> Plan:
    """The plan that undoes what of ``inspection``'s plan was applied (``kind`` undo or rollback).

    Rows changed by someone else since are left out, each with a warning; so is anything whose
    undoing would be unsafe (an LCL set back to Awaiting Provisioning).
    """
    plan, record = inspection.plan, inspection.record
    # A changeset changed by someone else since may still hold some of what it wrote: each of its
    # changes is judged on its own row (undone where the row still holds what was written).
    touched = inspection.applied + [i for i, s in inspection.changesets.items() if s == "diverged"]
    applied = {i for index in touched for i in record.changesets[index]}
    changes: list[Change] = []
    warnings: list[str] = []
    # A unit is undone whole or not at all: a quantity is never set back without its LCL reversed.
    units: dict[int, list[Change]] = {}
    skipped: set[int] = set()
    for check in reversed(inspection.checks):
        if check.index not in applied:
            continue
        change = plan.changes[check.index]
        undo, problem = invert(change, check.current, today=today, unit=change.unit)
        if problem:
            warnings.append(problem)
            skipped.add(change.unit)
        units.setdefault(change.unit, []).extend(undo)
    for unit, undo in units.items():
        if unit in skipped:
            if undo:
                warnings.append(f"{len(undo)} more change{'s' if len(undo) > 1 else ''} of the same unit left "
                                "undone with it, so that the rows stay consistent")
            continue
        changes.extend(undo)
    changes = list(renumbered(changes))
    verb = "Undo" if kind == "undo" else "Roll back"
    title = f"{verb}: {plan.title}"
    summary = (f"{len(changes)} change{'s' if len(changes) != 1 else ''} to undo what {record.describe()} applied"
               if changes else f"nothing of {record.describe()} is left to undo")
    return Plan(kind, title, tuple(changes), plan.context, summary=summary, warnings=tuple(warnings),
                atomic=len(changes) <= MAX_CHANGESET, parent=record.plan_id,
                notes=("Created rows are deactivated, never deleted; an LCL is undone by a reversing LCL, "
                       "never deleted or archived.",)).checked()
