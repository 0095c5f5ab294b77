"""The onboarding checklist: where one customer stands in the procedure (SPEC §1, steps 1–7).

Every step's status is worked out from the services each time it is asked for, never remembered:
the procedure runs over days and several people, and only the services know what was done. A
step that needs an earlier one waits for it, saying which. The summary for the ticket is made
from the journal: every plan applied for this customer, by whom and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from w365tui.clients.http import W365Error
from w365tui.domain.models import Account, ProviderAccount
from w365tui.work365.reads import ReadError
from w365tui.workflows.base import WorkflowError, parse_id

if TYPE_CHECKING:
    from w365tui.journal import PlanRecord
    from w365tui.session import Session

DONE, TODO, WAITING, BLOCKED, UNREAD = "done", "todo", "waiting", "blocked", "unread"
MARKS = {DONE: "✓", TODO: "→", WAITING: "·", BLOCKED: "✗", UNREAD: "?"}
REPORTS = ("lcl-mismatch", "license-mismatch", "missing-data")  # the customer's own mismatch reports


@dataclass(frozen=True)
class Action:
    """Where the next step is done: a pane, on a record (the app opens it there)."""

    pane: str  # provider-accounts (its map dialog) | customers | subscriptions | reports
    record: UUID
    key: str  # the key that does it, once there
    label: str  # what it does, said beside the step
    report: str | None = None  # pane 5: the report to show

    def as_json(self) -> dict[str, Any]:
        return {"pane": self.pane, "record": str(self.record), "key": self.key, "label": self.label,
                **({"report": self.report} if self.report else {})}


@dataclass(frozen=True)
class Step:
    number: int  # SPEC §1's step
    key: str
    title: str
    state: str  # done | todo | waiting | blocked | unread
    detail: str  # what was found, or why it cannot proceed yet
    action: Action | None = None
    items: tuple[str, ...] = ()  # what is left, one line each (subscriptions to retire, report rows)

    @property
    def mark(self) -> str:
        return MARKS[self.state]

    def as_json(self) -> dict[str, Any]:
        return {"step": self.number, "key": self.key, "title": self.title, "state": self.state, "detail": self.detail,
                "next": self.action.as_json() if self.action else None, "items": list(self.items)}


@dataclass(frozen=True)
class Checklist:
    account: Account | None  # the customer's CRM account (None: not known until mapped)
    provider_accounts: tuple[ProviderAccount, ...]  # the customer's on the TechData provider
    steps: tuple[Step, ...]
    customer_ids: tuple[str, ...] = ()  # StreamOne's

    @property
    def name(self) -> str:
        if self.account is not None:
            return self.account.name
        return self.provider_accounts[0].name if self.provider_accounts else "?"

    @property
    def done(self) -> bool:
        return all(s.state == DONE for s in self.steps)

    @property
    def unread(self) -> bool:
        return any(s.state == UNREAD for s in self.steps)

    @property
    def next_step(self) -> Step | None:
        """The first step to act on (or that cannot go on), else the first still waiting."""
        return next((s for s in self.steps if s.state not in (DONE, WAITING)),
                    next((s for s in self.steps if s.state != DONE), None))

    @property
    def stage(self) -> str:
        """Where the customer stands, in a few words."""
        step = self.next_step
        return "done" if step is None else f"at step {step.number}, {step.title[0].lower()}{step.title[1:]}"

    def as_json(self) -> dict[str, Any]:
        return {"customer": self.name, "account": _ref(self.account),
                "provider_accounts": [_ref(p) for p in self.provider_accounts],
                "streamone_customers": list(self.customer_ids), "done": self.done, "stage": self.stage,
                "steps": [s.as_json() for s in self.steps]}


def _ref(record: Account | ProviderAccount | None) -> dict[str, str] | None:
    return None if record is None else {"id": str(record.id), "name": record.name}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass
class _Found:
    """What the steps are worked out from, read once."""

    account: Account | None = None
    provider_accounts: list[ProviderAccount] = field(default_factory=list)
    customer_ids: list[str] = field(default_factory=list)


async def checklist(session: Session, *, account: str | UUID | None = None,
                    provider_account: str | UUID | None = None) -> Checklist:
    """The checklist of one customer, named by its CRM account or by its provider account."""
    from w365tui.workflows.sync import provider as streamone_provider

    if (account is None) == (provider_account is None):
        raise WorkflowError("name the customer by its CRM account or by its provider account (one of them)")
    techdata = await streamone_provider(session)
    found = _Found()
    if provider_account is not None:
        wanted = parse_id(provider_account, "provider account")
        pa = await session.reads.provider_account(wanted)
        if pa is None:
            raise WorkflowError(f"no provider account has the id {wanted}")
        if pa.provider_id != techdata.id:
            raise WorkflowError(f"{pa.name} is not on the TechData provider ({techdata.name})")
        if not pa.is_active:
            raise WorkflowError(f"{pa.name} is inactive: StreamOne no longer lists its customer")
        found.provider_accounts = [pa]
        if pa.account_id is not None:  # mapped: the customer is its CRM account, with all its provider accounts
            found.account = await session.reads.account(pa.account_id)
            if found.account is not None:
                found.provider_accounts = [p for p in await session.reads.provider_accounts(
                    techdata.id, mapped_to=found.account.id) if p.is_active] or [pa]
    else:
        wanted = parse_id(account or "", "CRM account")
        found.account = await session.reads.account(wanted)
        if found.account is None:
            raise WorkflowError(f"no CRM account has the id {wanted}")
        found.provider_accounts = [p for p in await session.reads.provider_accounts(techdata.id,
                                                                                     mapped_to=found.account.id)
                                   if p.is_active]
    steps = [await _streamone(session, found)]
    steps.append(_synced_account(found))
    steps.append(await _mapped(session, found))
    if steps[-1].state != DONE:
        why = "waits for the mapping (step 3)"
        steps += [Step(4, "subscriptions", "Subscriptions synced onto a billing contract", WAITING, why),
                  Step(5, "checked", "Contract, customer and pricing checked", WAITING, why),
                  Step(6, "retired", "Manual subscriptions retired", WAITING, why),
                  Step(7, "reports", "Mismatch reports clean", WAITING, why)]
    else:
        assert found.account is not None
        synced = await _subscriptions(session, found.account, techdata)
        steps.append(synced)
        if synced.state != DONE:
            why = "waits for the subscriptions to be synced (step 4)"
            steps += [Step(5, "checked", "Contract, customer and pricing checked", WAITING, why),
                      Step(6, "retired", "Manual subscriptions retired", WAITING, why)]
        else:
            steps.append(await _checked(session, found.account))
            steps.append(await _retired(session, found.account))
        steps.append(await _reports(session, found.account))
    return Checklist(found.account, tuple(found.provider_accounts), tuple(steps), tuple(found.customer_ids))


async def _streamone(session: Session, found: _Found) -> Step:
    from w365tui.workflows.ids import customer_of

    title = "StreamOne customer and subscriptions"
    if not found.provider_accounts:
        return Step(1, "streamone", title, WAITING,
                    "not known until a TechData provider account is mapped to this account (step 3)")
    counts: list[str] = []
    missing: list[str] = []
    try:
        for pa in found.provider_accounts:
            customer_id = await customer_of(session, pa)
            if customer_id is None:
                missing.append(f"{pa.name}: no StreamOne customer holds {pa.provider_specific_id or 'its id'}")
                continue
            found.customer_ids.append(customer_id)
            count = sum([1 async for s in session.ion.subscriptions(customer_id) if s.is_active])
            if count:
                counts.append(f"customer {customer_id}: {_plural(count, 'active subscription')}")
            else:
                missing.append(f"customer {customer_id} has no active subscription yet (the order is placed in "
                               "StreamOne)")
    except W365Error as error:
        return Step(1, "streamone", title, UNREAD, f"StreamOne could not be read: {error}")
    if not counts:  # nothing provisioned for this customer yet
        return Step(1, "streamone", title, BLOCKED, "; ".join(missing))
    return Step(1, "streamone", title, DONE, "; ".join(counts), items=tuple(missing))


def _synced_account(found: _Found) -> Step:
    title = "Provider account synced"
    if found.provider_accounts:
        names = ", ".join(p.name for p in found.provider_accounts)
        return Step(2, "provider-account", title, DONE, names)
    return Step(2, "provider-account", title, WAITING,
                "no TechData provider account is mapped to this account yet: step 3 finds it (run the provider "
                "account sync first when it is not in pane 1)")


async def _mapped(session: Session, found: _Found) -> Step:
    from w365tui.workflows.customers import map_candidates

    title = "Mapped to the CRM account"
    if found.account is None:  # named by an unmapped provider account
        pa = found.provider_accounts[0]
        return Step(3, "mapped", title, TODO, f"{pa.name} is not mapped to a CRM account",
                    Action("provider-accounts", pa.id, "m", "map it (pane 1)"))
    if found.provider_accounts:
        return Step(3, "mapped", title, DONE,
                    f"{', '.join(p.name for p in found.provider_accounts)} → {found.account.name}")
    try:
        candidates = await map_candidates(session, found.account, limit=3)
    except W365Error as error:
        return Step(3, "mapped", title, UNREAD, f"the unmapped provider accounts could not be read: {error}")
    items = tuple(c.account.name for c in candidates)
    return Step(3, "mapped", title, TODO,
                f"no TechData provider account is mapped to {found.account.name}"
                + (f"; likeliest: {items[0]}" if items else "; none looks like it: sync provider accounts (pane 1, a)"),
                Action("customers", found.account.id, "m", "map a tenant to it (pane 2)"), items)


async def _subscriptions(session: Session, account: Account, techdata: Any) -> Step:
    from w365tui.workflows.sync import prepare_subscription_sync

    title = "Subscriptions synced onto a billing contract"
    sync = Action("customers", account.id, "b", "sync (pane 2)")
    try:
        prepared = await prepare_subscription_sync(session, account.id, which=techdata)
    except (W365Error, ReadError) as error:
        return Step(4, "subscriptions", title, UNREAD, f"could not be read: {error}")
    except WorkflowError as error:  # no contract, several and no default, or StreamOne unread
        unread = isinstance(error.__cause__, W365Error)
        return Step(4, "subscriptions", title, UNREAD if unread else BLOCKED, str(error), sync)
    plan = prepared.plan
    if plan.blocking:
        return Step(4, "subscriptions", title, BLOCKED, "; ".join(plan.blocking), sync)
    contract = prepared.contract.name if prepared.contract else "?"
    if prepared.unread:  # a provider account's subscriptions could not be read: done cannot be said
        return Step(4, "subscriptions", title, UNREAD, f"not read from StreamOne: {'; '.join(prepared.unread)}")
    if plan.is_empty and (plan.stats.get("pending") or plan.stats.get("retired")):
        # nothing the sync can do, but not all synced: StreamOne subscriptions with no id yet, or
        # active there and inactive in Work 365 (the plan's warnings name them)
        return Step(4, "subscriptions", title, BLOCKED, "; ".join(plan.warnings))
    if plan.is_empty:
        return Step(4, "subscriptions", title, DONE,
                    f"{_plural(len(prepared.ion), 'StreamOne subscription')}, all on {contract}")
    return Step(4, "subscriptions", title, TODO, plan.summary or f"{_plural(len(plan.changes), 'change')} to make",
                Action("customers", account.id, "b", f"sync onto {contract} (pane 2)"),
                tuple(f"{c.verb} {c.label}" for c in plan.changes[:20]))


async def _checked(session: Session, account: Account) -> Step:
    from w365tui.workflows.customers import customer

    title = "Contract, customer and pricing checked"
    try:
        view = await customer(session, account.id)
    except W365Error as error:
        return Step(5, "checked", title, UNREAD, f"could not be read: {error}")
    if not view.flags:
        return Step(5, "checked", title, DONE, "every active subscription has its contract, customer and pricing")
    return Step(5, "checked", title, TODO, f"{_plural(len(view.flags), 'problem')} on the subscriptions",
                Action("customers", account.id, "o",
                       "see them in pane 2 (prices and contracts of synced subscriptions are set in Work 365)"),
                tuple(f"{f.subscription}: {f.problem}" for f in view.flags))


async def _retired(session: Session, account: Account) -> Step:
    from w365tui.workflows.replacement import subscriptions_view

    title = "Manual subscriptions retired"
    try:
        view = await subscriptions_view(session, account.id)
    except W365Error as error:
        return Step(6, "retired", title, UNREAD, f"could not be read: {error}")
    pairing = view.pairing
    left = [f"{m.name} (qty {m.quantity}) → {t.name}" for m, t in pairing.pairs]
    left += [f"{m.name}: {why}" for m, _, why in pairing.ambiguous]
    alone = tuple(f"{m.name} (qty {m.quantity}): no TechData twin, stays manual" for m in pairing.unpaired_manual)
    if not left:
        detail = "no manual subscription has a TechData twin left active"
        if alone:
            detail += f"; {_plural(len(alone), 'manual subscription')} with no twin"
        return Step(6, "retired", title, DONE, detail, items=alone)
    return Step(6, "retired", title, TODO, f"{_plural(len(left), 'manual subscription')} to retire",
                Action("subscriptions", account.id, "enter", "replace each (pane 3)"), tuple(left) + alone)


async def _reports(session: Session, account: Account) -> Step:
    from w365tui.domain.reports import Scope
    from w365tui.workflows.reports import run

    title = "Mismatch reports clean"
    scope = Scope("customer", account.id, account.name)
    found: list[str] = []
    items: list[str] = []
    apart = 0
    first: str | None = None  # the first report with findings: pane 5 opens on it
    try:
        for name in REPORTS:
            report = await run(session, name, scope)
            # inactive subscriptions are listed apart (a retired manual one keeps its history): not findings
            rows = [row for row in report.rows if row.section != "inactive"]
            apart += len(report.rows) - len(rows)
            count = len(rows) + report.left_out
            if count:
                first = first or name
                found.append(f"{report.title}: {count}")
                items += [f"{report.title}: " + " · ".join(str(row.get(c.key)) for c in report.columns[:3]
                                                          if row.get(c.key) not in (None, ""))
                          for row in rows[:10]]
    except (W365Error, WorkflowError, ReadError) as error:
        return Step(7, "reports", title, UNREAD, f"could not be run: {error}")
    if not found:
        return Step(7, "reports", title, DONE, "LCL mismatch, license mismatch and missing data: nothing"
                    + (f" (and {_plural(apart, 'inactive subscription')} listed apart)" if apart else ""))
    return Step(7, "reports", title, TODO, "; ".join(found),
                Action("reports", account.id, "enter", "fix each row (pane 5)", report=first), tuple(items))


# -- the summary for the ticket --------------------------------------------------------------------
def plans_for(records: Sequence[PlanRecord], shown: Checklist, *, profile: str,
              organization: str | None) -> list[PlanRecord]:
    """The journalled plans of this customer: made for its CRM account or its provider accounts,
    or writing one of them, in this profile and org, oldest first."""
    pa_ids = {p.id for p in shown.provider_accounts}
    account_id = shown.account.id if shown.account else None
    mine = []
    for record in records:
        if record.data is None or record.profile != profile or (organization and record.organization
                                                                and record.organization != organization):
            continue
        if record.status == "failed":  # nothing of it was written
            continue
        plan = record.plan()
        c = plan.context
        if (account_id is not None and c.account_id == account_id) or c.provider_account_id in pa_ids \
                or (plan.rows() & (pa_ids | ({account_id} if account_id else set()))):
            mine.append(record)
    return sorted(mine, key=lambda r: r.time)


def summary_markdown(shown: Checklist, records: Sequence[PlanRecord]) -> str:
    """The ticket's summary: where the customer stands, and every plan applied for it, each
    change before → after on one line."""
    from w365tui.workflows.render import change_lines

    out = [f"# Onboarding: {_md(shown.name)}", ""]
    if shown.account is not None:
        out.append(f"- CRM account: {_md(shown.account.name)} (`{shown.account.id}`)")
    for pa in shown.provider_accounts:
        out.append(f"- Provider account: {_md(pa.name)} (`{pa.id}`)")
    if shown.customer_ids:
        out.append(f"- StreamOne customer: {', '.join(f'`{c}`' for c in shown.customer_ids)}")
    out.append(f"- Stage: {'done' if shown.done else shown.stage}")
    out += ["", "## Checklist", ""]
    for step in shown.steps:
        box = "x" if step.state == DONE else " "
        out.append(f"- [{box}] {step.number}. {step.title}: {_md(step.detail)}")
    out += ["", "## Changes made", ""]
    if not records:
        out.append("No plan has been applied for this customer from this journal.")
    for record in records:
        when = record.time[:16].replace("T", " ")
        by = f" by {_md(record.user)}" if record.user else ""
        out.append(f"- {when} · {record.status}{by} · {_md(record.title)} (plan `{record.short_id}`)")
        out += [f"  - {_md(line.strip())}" for line in change_lines(record.plan())]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    """Service text as literal Markdown: no markup of its own, no line breaks, no control codes."""
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return "".join("\\" + ch if ch in "\\`*_[]<>#|" else ch for ch in cleaned)
