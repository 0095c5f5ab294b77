"""Retire a manual subscription for its TechData twin: read the pair, plan, apply, and carry out
the steps that follow a plan (:class:`~w365tui.domain.plan.Then`).

A step that follows — archiving the Deactivate LCL Work 365 writes when the manual subscription
is deactivated — is resolved by reading once the plan is applied, and applied as a plan of its
own whose parent is the replacement, so the journal holds both. Were the app stopped between the
two, resuming the replacement finds the step not done and does it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from w365tui.domain.enums import LclEvent
from w365tui.domain.models import Account, BillingContract, LicenseChangeLog, Subscription
from w365tui.domain.plan import ACTIVE, Change, Plan, SetState, State, Then
from w365tui.domain.replacement import FieldDiff, Pairing, Replacement, diff, pair, plan_replacement
from w365tui.journal import PlanRecord
from w365tui.session import Session
from w365tui.work365.executor import Applied, PlanRefused
from w365tui.workflows.base import WorkflowError, apply, context, guarded, parse_id
from w365tui.workflows.customers import SubscriptionLine, subscription_lines

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
    invoices = {lcl.invoice_id for lcl in manual_lcls  # the LCLs that move: the Create stays
                if lcl.invoice_id is not None and lcl.event is not LclEvent.CREATE}
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


# -- a customer's subscriptions side by side --------------------------------------------------------------
@dataclass
class SubscriptionsView:
    """A customer's subscriptions (optionally of one billing contract): manual ones beside the
    TechData ones, paired where the products say so."""

    account: Account
    lines: list[SubscriptionLine]
    pairing: Pairing
    contract: BillingContract | None = None  # the contract it is narrowed to
    contracts: dict[UUID, BillingContract] = field(default_factory=dict)
    _by_id: tuple[int, dict[UUID, SubscriptionLine]] | None = field(default=None, init=False, repr=False,
                                                                     compare=False)

    def line(self, sub_id: UUID) -> SubscriptionLine | None:
        if self._by_id is None or self._by_id[0] != len(self.lines):  # looked up per row: not a scan each
            self._by_id = (len(self.lines), {line.subscription.id: line for line in reversed(self.lines)})
        return self._by_id[1].get(sub_id)

    @property
    def manual(self) -> list[SubscriptionLine]:
        return [line for line in self.lines if line.provider_type == "manual" and line.subscription.is_active]

    @property
    def techdata(self) -> list[SubscriptionLine]:
        return [line for line in self.lines if line.streamone and line.subscription.is_active]

    def names(self) -> dict[UUID, str]:
        """Lookups by name, for the pair side by side."""
        names = {c.id: c.name for c in self.contracts.values()}
        names[self.account.id] = self.account.name
        return names

    def diff(self, manual: Subscription, techdata: Subscription) -> list[FieldDiff]:
        frequencies = {line.subscription.id: line.frequency for line in self.lines}
        return diff(manual, techdata, names=self.names(), frequencies=frequencies)


async def subscriptions_view(session: Session, account_id: str | UUID,
                             contract_id: str | UUID | None = None) -> SubscriptionsView:
    """The customer's subscriptions with the proposed pairs and step 5's flags."""
    wanted = parse_id(account_id, "CRM account")
    account, lines = await subscription_lines(session, wanted)
    contracts = {c.id: c for c in await session.reads.billing_contracts(account.id)}
    contract = None
    if contract_id is not None:
        chosen = parse_id(contract_id, "billing contract")
        contract = contracts.get(chosen)
        if contract is None:
            raise WorkflowError(f"{account.name} has no billing contract {chosen}")
        lines = [line for line in lines if line.subscription.billing_contract_id == contract.id
                 or line.provider_type == "manual" and line.subscription.billing_contract_id is None]
    manual = [line.subscription for line in lines if line.provider_type == "manual"]
    techdata = [line.subscription for line in lines if line.streamone]
    cycles = {line.subscription.id: line.frequency for line in lines}
    return SubscriptionsView(account, lines, pair(manual, techdata, cycles=cycles), contract, contracts)


# -- several pairs, one plan each -------------------------------------------------------------------------
@dataclass
class BulkOutcome:
    manual: Subscription
    techdata: Subscription
    state: str  # applied, skipped, failed
    reason: str = ""
    plan_id: str | None = None


async def replace_many(session: Session, pairs: list[tuple[UUID, UUID]], *, invoice_deactivation: bool = False,
                       progress: Callable[[str], None] | None = None) -> list[BulkOutcome]:
    """Replace several pairs, each its own plan, one after another: one blocked by preflight is
    skipped with its reason, one that fails is reported and the rest go on."""
    outcomes: list[BulkOutcome] = []
    for number, (manual_id, techdata_id) in enumerate(pairs, 1):
        try:
            prepared = await prepare_replacement(session, manual_id, techdata_id,
                                                 invoice_deactivation=invoice_deactivation)
        except Exception as error:  # unreadable: said in the summary, and the rest go on
            placeholder = Subscription(id=manual_id, name=str(manual_id))
            state = "skipped" if isinstance(error, WorkflowError) else "failed"
            outcomes.append(BulkOutcome(placeholder, Subscription(id=techdata_id, name=str(techdata_id)), state,
                                        str(error) or type(error).__name__))
            continue
        if progress is not None:
            progress(f"{number}/{len(pairs)}: {prepared.manual.name} → {prepared.techdata.name}")
        if prepared.plan.blocking:
            outcomes.append(BulkOutcome(prepared.manual, prepared.techdata, "skipped", "; ".join(prepared.plan.blocking)))
            continue
        try:
            applied = await apply_replacement(session, prepared)
        except PlanRefused as refusal:
            outcomes.append(BulkOutcome(prepared.manual, prepared.techdata, "skipped", str(refusal)))
            continue
        except Exception as error:  # noqa: BLE001 — said in the summary; the journal has the plan
            outcomes.append(BulkOutcome(prepared.manual, prepared.techdata, "failed", str(error)))
            continue
        if applied.all_done:
            outcomes.append(BulkOutcome(prepared.manual, prepared.techdata, "applied", plan_id=applied.plan_id))
        elif not applied.ok:
            outcomes.append(BulkOutcome(prepared.manual, prepared.techdata, "failed", applied.message(),
                                        applied.plan_id))
        else:  # retired, but the step after it did not finish
            step = applied.followup_error or (applied.followup.message() if applied.followup else "")
            outcomes.append(BulkOutcome(prepared.manual, prepared.techdata, "failed",
                                        f"applied, but the step after it did not finish: {step}; finish it with "
                                        f"`w365tui plan resume {applied.plan_id[:8]}`", applied.plan_id))
    return outcomes


def bulk_markdown(account: Account | None, outcomes: list[BulkOutcome]) -> str:
    """The outcome of several replacements as Markdown, for the ticket."""
    counts = {state: sum(1 for o in outcomes if o.state == state) for state in ("applied", "skipped", "failed")}
    head = f"## Manual subscriptions retired{' for ' + account.name if account else ''}"
    out = [head, "", f"{counts['applied']} applied, {counts['skipped']} skipped, {counts['failed']} failed.", "",
           "| Manual | TechData | Outcome | Plan |", "|---|---|---|---|"]
    for o in outcomes:
        outcome = o.state + (f": {o.reason}" if o.reason else "")
        cells = [o.manual.name, o.techdata.name, outcome, o.plan_id[:8] if o.plan_id else ""]
        out.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(out) + "\n"


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


__all__ = ["BulkOutcome", "PreparedReplacement", "SubscriptionsView", "Then", "apply_replacement", "bulk_markdown",
           "replace_many", "subscriptions_view", "step_records", "prepare_replacement", "resolve",
           "steps_plan", "with_steps"]
