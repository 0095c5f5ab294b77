"""The journal's plans: list and show them; resume, roll back, undo or dismiss one.

Resuming a plan left in doubt first reads the server state of its rows: each changeset is
applied, not applied, or changed by someone else since. Finishing sends what was not applied
(under the same plan id, with the ETags read again); rolling back and undoing are plans of their
own, built from the journal's before → after, through the same review and executor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from w365tui.domain.enums import LclEvent
from w365tui.domain.plan import Plan, Ref, SetState, Then
from w365tui.journal import Journal, JournalError, PlanRecord
from w365tui.session import Session
from w365tui.work365.executor import Applied, PlanRefused
from w365tui.work365.recovery import Inspection, inspect, inverse
from w365tui.workflows.base import WorkflowError, apply
from w365tui.workflows.replacement import resolve, step_records, steps_plan, with_steps
from w365tui.workflows.sync import with_followup


def list_plans(journal: Journal, profile: str | None = None) -> list[PlanRecord]:
    """Every journalled plan of ``profile`` (all profiles with None), newest first."""
    try:
        plans = list(journal.plans().values())
    except JournalError as error:
        raise WorkflowError(str(error)) from None
    return [p for p in reversed(plans) if profile is None or p.profile == profile]


def find_plan(journal: Journal, plan_id: str) -> PlanRecord:
    try:
        return journal.find(plan_id)
    except JournalError as error:
        raise WorkflowError(str(error)) from None


def _own(session: Session, record: PlanRecord) -> None:
    if record.profile != session.profile_name:
        raise WorkflowError(f"{record.describe()} was applied with the profile {record.profile!r}; "
                            f"use --profile {record.profile}")
    if record.organization and record.organization != session.organization_id:
        raise WorkflowError(f"{record.describe()} was applied to another org ({record.organization}); this profile "
                            f"is connected to {session.organization_id}")
    if record.is_legacy:
        raise WorkflowError(f"{record.describe()} was written by an older version of w365tui and holds no plan to "
                            f"resume or undo; check its rows by hand, then `w365tui plan dismiss {record.short_id}`")


@dataclass
class Resume:
    """A plan left in doubt, checked against the service: what finishing it would send."""

    inspection: Inspection | None  # None: the plan was applied and only the steps that follow it are left
    preview: Plan  # the changes still to send, for review
    applied_record: PlanRecord | None = None

    @property
    def record(self) -> PlanRecord:
        if self.inspection is None:
            assert self.applied_record is not None
            return self.applied_record
        return self.inspection.record


async def check(session: Session, plan_id: str) -> str:
    """What reading the service finds of a plan's changesets, in a line."""
    record = find_plan(session.journal, plan_id)
    _own(session, record)
    return (await inspect(session.reads, record)).summary()


async def _in_doubt(session: Session, plan_id: str, what: str) -> tuple[PlanRecord, Inspection]:
    """A plan of this profile left unresolved, checked against the service."""
    record = find_plan(session.journal, plan_id)
    _own(session, record)
    if not record.unresolved:
        raise WorkflowError(f"{record.describe()} is not left in doubt: there is nothing to {what}"
                            + (f"; `w365tui plan undo {record.short_id}` undoes it" if record.undoable else ""))
    return record, await inspect(session.reads, record)


async def prepare_resume(session: Session, plan_id: str) -> Resume:
    record = find_plan(session.journal, plan_id)
    _own(session, record)
    if record.status == "applied" and not record.is_legacy and (plan := record.plan()).then:
        # applied; the step that follows it (the Deactivate LCL's archive) may be left
        children = step_records(session, record.plan_id)
        unfinished = next((c for c in children if c.unresolved), None)
        if unfinished is not None:
            return await prepare_resume(session, unfinished.plan_id)
        if any(c.status == "applied" for c in children):
            raise WorkflowError(f"{record.describe()} and the step after it are applied: there is nothing to resume"
                                f"; `w365tui plan undo {record.short_id}` undoes it")
        changes, problems = await resolve(session, plan)
        if not changes and not problems:
            raise WorkflowError(f"{record.describe()} is applied and the step after it is done already: there is "
                                "nothing to resume")
        preview = steps_plan(record.plan_id, plan, changes)
        preview = replace(preview, summary=f"{record.describe()} was applied; the step after it is left: "
                                           f"{preview.summary}", warnings=tuple(problems))
        if not changes and problems:
            preview = preview.blocked(*problems)
        return Resume(None, preview, record)
    record, inspection = await _in_doubt(session, plan_id, "resume")
    remaining = inspection.remaining()
    send = {i for index in inspection.not_applied for i in record.changesets[index]}
    changes = tuple(c for i, c in enumerate(remaining.changes) if i in send)
    blocking = ()
    if inspection.diverged:
        blocking = (f"changeset{'s' if len(inspection.diverged) > 1 else ''} "
                    f"{', '.join(str(i + 1) for i in inspection.diverged)} changed by someone else since: the plan "
                    f"cannot be finished; roll back what was applied (`w365tui plan rollback {record.short_id}`)",)
    preview = Plan("resume", f"Finish: {remaining.title}", changes, remaining.context,
                   summary=f"{record.describe()}: {inspection.summary()}"
                           + ("" if changes else "; nothing is left to send"),
                   warnings=remaining.warnings, blocking=blocking, notes=remaining.notes, atomic=remaining.atomic,
                   then=remaining.then)
    return Resume(inspection, preview)


async def apply_resume(session: Session, resume: Resume) -> Applied:
    """Finish the plan: record what was found, send what was not applied."""
    if resume.preview.blocking:
        raise PlanRefused("; ".join(resume.preview.blocking))
    if resume.inspection is None:  # only the step after an applied plan is left
        return await apply(session, resume.preview)
    inspection = resume.inspection

    async def both() -> Applied:
        applied = await session.executor.resume(resume.record, inspection.remaining(), inspection.checked)
        # a finished sync settles its Create LCLs too; a finished replacement archives its Deactivate LCL
        return await with_steps(session, await with_followup(session, applied))

    return await session.executor.protect(both())


async def prepare_rollback(session: Session, plan_id: str, *, today: date | None = None) -> Plan:
    """Undo what of a plan left in doubt (or half done) was applied."""
    _, inspection = await _in_doubt(session, plan_id, "roll back")
    plan = _refuse_if_nothing(inverse(inspection, kind="rollback", today=today or date.today()))
    return await _with_reactivation_steps(session, plan)


async def prepare_undo(session: Session, plan_id: str, *, today: date | None = None) -> Plan:
    """The inverse of a completed plan, for review."""
    record = find_plan(session.journal, plan_id)
    _own(session, record)
    if record.status != "applied":
        hint = (f"; finish or roll it back first (`w365tui plan resume {record.short_id}`)" if record.unresolved
                else "")
        raise WorkflowError(f"only an applied plan can be undone; {record.describe()}{hint}")
    inspection = await inspect(session.reads, record)
    plan = _refuse_if_nothing(inverse(inspection, kind="undo", today=today or date.today()))
    if inspection.plan.kind == "replace" and plan.warnings and not plan.blocking:
        plan = plan.blocked("a replacement is undone whole or not at all, and some of its rows were changed since "
                            "(above); put them back by hand, or retire the subscriptions as they are")
    return await _with_reactivation_steps(session, plan)


async def _with_reactivation_steps(session: Session, plan: Plan) -> Plan:
    """An undo that reactivates a subscription archives the Activate LCL Work 365 writes for it,
    as the replacement archived its Deactivate LCL: neither is to be invoiced."""
    steps = []
    notes = []
    written = plan.rows()  # LCLs the undo moves back are not the one Work 365 writes
    for change in plan.changes:
        if (isinstance(change, SetState) and change.role == "subscription" and change.after_state.state == "active"
                and change.before_state.state == "inactive"):
            found = await session.reads.subscription(change.id)
            lcls = found[1] if found else []
            if any(lcl.event is LclEvent.DEACTIVATE and not lcl.is_archived for lcl in lcls):
                # its Deactivate LCL is to be invoiced: the Activate LCL is too, so the two cancel out
                notes.append(f"Reactivating {change.label} makes Work 365 write an Activate LCL; it stays Active, "
                             "as its Deactivate LCL does, so the two cancel out on the invoice.")
                continue
            known = tuple(sorted({lcl.id for lcl in lcls} | written, key=str))
            steps.append(Then("archive-written-lcl", Ref("subscription", change.id, change.label),
                              LclEvent.ACTIVATE.value, f"Activate LCL of {change.label}", known))
            notes.append(f"Reactivating {change.label} makes Work 365 write an Activate LCL; it is archived straight "
                         "after, as its Deactivate LCL was, so neither is invoiced.")
    if not steps and not notes:
        return plan
    return replace(plan, then=tuple(steps), notes=plan.notes + tuple(notes))


def _refuse_if_nothing(plan: Plan) -> Plan:
    if plan.is_empty and plan.warnings:
        return plan.blocked("nothing can be undone: every row it changed has been changed since")
    return plan


async def apply_inverse(session: Session, plan: Plan) -> Applied | None:
    """Apply a rollback or undo. A rollback with nothing to undo only marks the plan resolved
    (returns None): nothing of it had been applied."""
    if plan.is_empty and plan.parent and plan.kind == "rollback" and not plan.blocking:
        if session.read_only:
            raise PlanRefused("this profile is read-only: nothing can be applied")
        session.journal.resolve(plan.parent, "rolled-back", note="nothing of it had been applied")
        return None

    async def both() -> Applied:
        return await with_steps(session, await apply(session, plan))

    return await session.executor.protect(both())


def dismiss(journal: Journal, plan_id: str, note: str, *, profile: str, read_only: bool = False) -> PlanRecord:
    """Mark a plan left in doubt as settled by hand, so its rows can be planned again."""
    record = find_plan(journal, plan_id)
    if record.profile != profile:
        raise WorkflowError(f"{record.describe()} belongs to the profile {record.profile!r}; use --profile "
                            f"{record.profile}")
    if read_only:
        raise PlanRefused("this profile is read-only: nothing can be applied")
    if not record.unresolved:
        raise WorkflowError(f"{record.describe()} is not left in doubt")
    journal.resolve(record.plan_id, "dismissed", note=note)
    return replace(record, resolution={"resolution": "dismissed", "note": note})
