"""Retire a manual subscription for its TechData twin: read the pair, plan, apply, and carry out
the steps that follow a plan (:class:`~w365tui.domain.plan.Then`).

A step that follows — archiving the Deactivate LCL Work 365 writes when the manual subscription
is deactivated — is resolved by reading once the plan is applied, and applied as a plan of its
own whose parent is the replacement, so the journal holds both. Were the app stopped between the
two, resuming the replacement finds the step not done and does it.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from w365tui.domain.enums import LclEvent
from w365tui.domain.models import LicenseChangeLog, Subscription
from w365tui.domain.plan import ACTIVE, Change, Plan, SetState, State, Then
from w365tui.domain.replacement import Replacement, plan_replacement
from w365tui.journal import PlanRecord
from w365tui.session import Session
from w365tui.work365.executor import Applied
from w365tui.workflows.base import WorkflowError, apply, context, guarded, parse_id

ARCHIVED = State("inactive", "archived")


@dataclass
class PreparedReplacement:
    replacement: Replacement
    manual: Subscription
    techdata: Subscription

    @property
    def plan(self) -> Plan:
        return self.replacement.plan


async def read_subscription(session: Session, text: str | UUID, what: str) -> tuple[Subscription, list[LicenseChangeLog]]:
    row_id = parse_id(text, what)
    found = await session.reads.subscription(row_id)
    if found is None:
        raise WorkflowError(f"no {what} {row_id}")
    return found


async def prepare_replacement(session: Session, manual_id: str | UUID, techdata_id: str | UUID, *,
                              invoice_deactivation: bool = False) -> PreparedReplacement:
    """The replacement of ``manual_id`` by ``techdata_id``, read now and checked, for review."""
    manual, manual_lcls = await read_subscription(session, manual_id, "manual subscription")
    techdata, techdata_lcls = await read_subscription(session, techdata_id, "TechData subscription")
    providers = {p.id: p for p in await session.reads.providers()}
    invoices = {lcl.invoice_id for lcl in manual_lcls if lcl.invoice_id is not None}
    invoice_accounts = await session.reads.invoice_accounts(invoices) if invoices else {}
    done = plan_replacement(manual, manual_lcls, techdata, techdata_lcls, providers,
                            connectors=session.profile.streamone_connectors, invoice_deactivation=invoice_deactivation,
                            invoice_accounts=invoice_accounts,
                            context=context(session, account_id=techdata.customer_id,
                                            contract_id=techdata.billing_contract_id,
                                            provider_id=techdata.provider_id))
    return PreparedReplacement(Replacement(guarded(session, done.plan), done.manual, done.techdata, done.moved),
                               manual, techdata)


async def apply_replacement(session: Session, prepared: PreparedReplacement) -> Applied:
    """Apply the replacement, then the steps that follow it; both run to their end together,
    even if the caller is cancelled."""

    async def both() -> Applied:
        return await with_steps(session, await apply(session, prepared.plan))

    return await session.executor.protect(both())


# -- the steps that follow a plan ------------------------------------------------------------------------
async def resolve(session: Session, plan: Plan) -> tuple[list[Change], list[str]]:
    """The changes ``plan``'s steps come to now that it is applied, read from the service, and
    what could not be resolved (a step whose LCL is not there, or already archived)."""
    changes: list[Change] = []
    problems: list[str] = []
    for step in plan.then:
        if step.action != "archive-written-lcl":
            problems.append(f"unknown step {step.action!r}")
            continue
        found = await session.reads.subscription(step.subscription.id)
        lcls = found[1] if found else []
        known = set(step.known)
        written = [lcl for lcl in lcls if lcl.id not in known and lcl.event is LclEvent(step.event)]
        waiting = [lcl for lcl in written if not lcl.is_archived]
        if not waiting:
            if not written:
                problems.append(f"the {step.label} was not found: Work 365 has not written it (yet); check "
                                f"{step.subscription.label or step.subscription.id} in Work 365")
            continue  # already archived: nothing left to do
        for lcl in waiting:
            changes.append(SetState("licensechangelog", lcl.id, lcl.etag or "", ACTIVE, ARCHIVED,
                                    f"{step.label} ({lcl.quantity:+d})", unit=len(changes)))
    return changes, problems


def steps_plan(parent: Applied | str, plan: Plan, changes: list[Change]) -> Plan:
    parent_id = parent.plan_id if isinstance(parent, Applied) else parent
    return Plan("then", f"Then, after: {plan.title}", tuple(changes), plan.context,
                summary="; ".join(step.line() for step in plan.then), parent=parent_id,
                notes=("A step of the plan above: its row exists only once that plan is applied.",))


async def with_steps(session: Session, applied: Applied) -> Applied:
    """``applied`` with its plan's steps carried out (as its preview said), when it was applied."""
    if not applied.ok or not applied.plan.then:
        return applied
    try:
        changes, problems = await resolve(session, applied.plan)
        if problems:
            applied.followup_error = "; ".join(problems)
        if changes:
            applied.followup = await apply(session, steps_plan(applied, applied.plan, changes))
    except Exception as error:  # the plan stands; the operator must know its step did not
        applied.followup_error = (f"the step after the plan could not be carried out: {error}; finish it with "
                                  f"`w365tui plan resume {applied.plan_id[:8]}`")
    return applied


def step_records(session: Session, plan_id: str) -> list[PlanRecord]:
    """The journalled plans that carried out the steps following plan ``plan_id``."""
    return [r for r in session.journal.plans().values() if r.parent == plan_id and r.kind == "then"]


__all__ = ["PreparedReplacement", "Then", "apply_replacement", "step_records", "prepare_replacement", "resolve",
           "steps_plan", "with_steps"]
