"""License change logs of a subscription: list them with Σ against the quantity, archive or
unarchive some, edit them, add a correcting one — each a plan through the one executor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from uuid import UUID

from w365tui.domain.enums import LclEvent
from w365tui.domain.lcl import (
    Edit,
    Sigma,
    blocked_by,
    ordered,
    plan_add,
    plan_archive,
    plan_edits,
    sigma,
)
from w365tui.domain.models import LicenseChangeLog, Subscription
from w365tui.domain.plan import MAX_CHANGESET, Change, Plan, renumbered
from w365tui.session import Session
from w365tui.workflows.base import WorkflowError, context, guarded, parse_id


@dataclass
class LclListing:
    """One subscription's LCLs as the editor and ``lcl list`` show them."""

    subscription: Subscription
    lcls: list[LicenseChangeLog]
    customer: str = "—"
    contract: str = "—"
    provider: str = "—"
    blocked: dict[UUID, LicenseChangeLog] = field(default_factory=dict)

    @property
    def sigma(self) -> Sigma:
        return sigma(self.subscription, self.lcls)


async def read_subscription(session: Session, subscription_id: str | UUID) -> tuple[Subscription, list[LicenseChangeLog]]:
    wanted = parse_id(subscription_id, "subscription")
    found = await session.reads.subscription(wanted)
    if found is None:
        raise WorkflowError(f"no subscription has the id {wanted}")
    return found


async def listing(session: Session, subscription_id: str | UUID) -> LclListing:
    sub, lcls = await read_subscription(session, subscription_id)
    names: dict[UUID, str] = {}
    if sub.customer_id is not None:
        account = await session.reads.account(sub.customer_id)
        if account is not None:
            names[account.id] = account.name
        for contract in await session.reads.billing_contracts(sub.customer_id):
            names[contract.id] = contract.name
    providers = {p.id: p.name for p in await session.reads.providers()}
    return LclListing(sub, ordered(lcls),
                      names.get(sub.customer_id, "—") if sub.customer_id else "—",
                      names.get(sub.billing_contract_id, "—") if sub.billing_contract_id else "—",
                      providers.get(sub.provider_id, "—") if sub.provider_id else "—", blocked_by(lcls))


def _context(session: Session, sub: Subscription):  # type: ignore[no-untyped-def]
    return context(session, account_id=sub.customer_id, contract_id=sub.billing_contract_id,
                   provider_id=sub.provider_id)


async def prepare_archive(session: Session, lcl_ids: Sequence[str | UUID], *, unarchive: bool = False) -> Plan:
    """Archive (or unarchive) these LCLs, of one subscription or several, as one plan."""
    if not lcl_ids:
        raise WorkflowError("name at least one LCL id")
    ids = [parse_id(i, "license change log") for i in lcl_ids]
    rows = await session.reads.rows_by_id("licensechangelog", ids)
    missing = [str(i) for i in ids if i not in rows]
    if missing:
        raise WorkflowError(f"no license change log has the id {', '.join(missing)}")
    from w365tui.work365.rows import model

    by_sub: dict[UUID, list[UUID]] = {}
    for row_id, row in rows.items():
        by_sub.setdefault(model(session.schema, "licensechangelog", row).subscription_id, []).append(row_id)
    plans = []
    for sub, lcls in await session.reads.subscriptions(ids=list(by_sub)):
        plans.append(plan_archive(sub, lcls, by_sub[sub.id], unarchive=unarchive, context=_context(session, sub)))
    if len(plans) == 1:
        return guarded(session, plans[0])
    changes = _joined(plans)
    verb = "Unarchive" if unarchive else "Archive"
    merged = Plan(plans[0].kind, f"{verb} {len(changes)} LCLs of {len(plans)} subscriptions", changes,
                  replace(plans[0].context, account_id=None, contract_id=None, provider_id=None),
                  summary="\n".join(p.summary for p in plans),
                  blocking=tuple(b for p in plans for b in p.blocking), atomic=len(changes) <= MAX_CHANGESET,
                  stats={"changed": len(changes), "already": sum(p.stats.get("already", 0) for p in plans)})
    return guarded(session, merged.checked())


def _joined(plans: Sequence[Plan]) -> tuple[Change, ...]:
    """The changes of several plans in one, each plan's units kept apart from the others'."""
    out: list[Change] = []
    for plan in plans:
        out += renumbered(plan.changes, start=len({c.unit for c in out}))
    return tuple(out)


async def prepare_edits(session: Session, subscription_id: str | UUID, edits: Sequence[Edit]) -> Plan:
    sub, lcls = await read_subscription(session, subscription_id)
    return guarded(session, plan_edits(sub, lcls, edits, context=_context(session, sub)))


async def prepare_add(session: Session, subscription_id: str | UUID, *, event: str, quantity: int,
                      effective_date: date) -> Plan:
    sub, lcls = await read_subscription(session, subscription_id)
    try:
        kind = LclEvent(event.strip().lower())
    except ValueError:
        raise WorkflowError(f"{event!r} is not an LCL event; use one of "
                            f"{', '.join(e.value for e in LclEvent)}") from None
    limit = session.schema.max_length("licensechangelog", "name")
    account = await session.reads.account(sub.customer_id) if sub.customer_id else None
    return guarded(session, plan_add(sub, lcls, event=kind, quantity=quantity, effective_date=effective_date,
                                     name_limit=limit, context=_context(session, sub),
                                     customer_name=account.name if account else ""))


async def prepare_changes(session: Session, subscription_id: str | UUID, *, archive: Sequence[UUID] = (),
                          unarchive: Sequence[UUID] = (), edits: Sequence[Edit] = ()) -> Plan:
    """What the editor marked on one subscription — archive marks both ways and edits — read again
    now and planned as one: a row both marked and edited is refused (its ETag changes with the
    first write)."""
    sub, lcls = await read_subscription(session, subscription_id)
    ctx = _context(session, sub)
    parts = [p for p in (plan_archive(sub, lcls, archive, context=ctx) if archive else None,
                         plan_archive(sub, lcls, unarchive, unarchive=True, context=ctx) if unarchive else None,
                         plan_edits(sub, lcls, edits, context=ctx) if edits else None) if p is not None]
    if not parts:
        raise WorkflowError("nothing is marked: space marks an LCL, e edits one")
    if len(parts) == 1:
        return guarded(session, parts[0])
    changes = _joined(parts)
    both = {e.lcl_id for e in edits} & (set(archive) | set(unarchive))
    blocking = tuple(b for p in parts for b in p.blocking) + tuple(
        f"LCL {i} is both marked and edited: apply one, then the other" for i in sorted(both, key=str))
    plan = Plan("lcl-edit", f"Change {len(changes)} LCLs of {sub.name}", changes, ctx,
                summary="\n".join(p.summary for p in parts), warnings=tuple(w for p in parts for w in p.warnings),
                blocking=blocking, atomic=len(changes) <= MAX_CHANGESET)
    return guarded(session, plan.checked())
