"""The mismatch reports as one use case: the TUI's pane 5 and ``w365tui report`` both call
:func:`run`, and :func:`recheck` after a fix. Read-only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import date, timedelta
from uuid import UUID

from w365tui.clients.http import W365Error
from w365tui.domain import reports as r
from w365tui.domain.ids import AccountIdKind, kind_of, norm_id
from w365tui.domain.reports import EVERYTHING, IonCustomer, Report, Row, Scope
from w365tui.session import Session
from w365tui.work365.report_reads import Meter, ReportReads, key
from w365tui.workflows.base import WorkflowError, parse_id
from w365tui.workflows.ids import customer_of, memo, tenant_ids


async def scope_of(session: Session, *, customer: str | UUID | None = None,
                   provider: str | UUID | None = None) -> Scope:
    """The scope an operator named: a CRM account by id, or a provider by id or name."""
    if customer is not None and provider is not None:
        raise WorkflowError("choose a customer or a provider, not both")
    if customer is not None:
        wanted = parse_id(customer, "CRM account")
        account = await session.reads.account(wanted)
        if account is None:
            raise WorkflowError(f"no CRM account has the id {wanted}")
        return Scope("customer", account.id, account.name)
    if provider is not None:
        from w365tui.workflows.sync import provider as find_provider

        chosen = await find_provider(session, provider)
        return Scope("provider", chosen.id, chosen.name)
    return EVERYTHING


async def run(session: Session, name: str, scope: Scope = EVERYTHING, *, days: int = r.DEFAULT_DAYS,
              today: date | None = None, progress: Callable[[Meter], None] | None = None,
              method: str = "auto") -> Report:
    """Run one report over ``scope``; ``progress`` is told after every request."""
    if name not in r.REPORTS:
        raise WorkflowError(f"no report is called {name!r} (known: {', '.join(r.REPORTS)})")
    meter = Meter(changed=progress)
    reads = ReportReads(session.reads, meter, method=method)
    today = today or date.today()
    notes: list[str] = []
    left_out = 0
    if name == r.LCL_MISMATCH:
        # Both read together: one is parsed here while the service answers the other.
        sums, listed = await asyncio.gather(reads.lcl_sums(scope), reads.subscription_rows(scope))
        # Only the subscriptions whose Σ differs become facts: a book holds tens of thousands.
        subs = reads.facts(listed, keep=lambda sub_id, quantity: quantity != sums.get(sub_id, 0))
        rows = r.lcl_mismatch(subs, {s.id: sums.get(key(s.id), 0) for s in subs})
        inactive = sum(1 for row in rows if row.section == "inactive")
        if inactive:
            notes.append(f"{inactive:,} of them inactive: a retired manual subscription is expected to differ.")
    elif name == r.LICENSE_MISMATCH:
        rows, more, left_out = await _license_rows(session, reads, scope)
        notes += more
    elif name == r.MISSING_DATA:
        subs = await reads.subscriptions_in_detail(scope, missing_only=True)
        lcls = await reads.lcls(scope, without_account=True)
        rows = r.missing_data(subs, lcls, reads.missing_checked())
    elif name == r.UNMAPPED:
        if scope.kind == "customer":
            raise WorkflowError("the unmapped report lists provider accounts mapped to no customer: choose everything "
                                "or a provider, not a customer")
        rows = r.unmapped(await reads.unmapped(scope))
    else:
        if days < 0:
            raise WorkflowError("the number of days cannot be negative")
        lcls = await reads.lcls(scope, uninvoiced_before=today - timedelta(days=days))
        rows = r.uninvoiced(lcls, today, days)
    return Report(name, scope, rows, requests=meter.requests, read=meter.rows, method=meter.method or "query",
                  notes=notes + meter.notes, days=days, left_out=left_out)


async def _license_rows(session: Session, reads: ReportReads, scope: Scope) -> tuple[list[Row], list[str], int]:
    from w365tui.workflows.sync import provider as find_provider

    streamone = await find_provider(session)
    if scope.kind == "provider" and scope.id != streamone.id:
        raise WorkflowError(f"the license mismatch compares the StreamOne provider ({streamone.name}) with StreamOne; "
                            f"{scope.label} is another provider")
    sub_scope = scope if scope.kind == "customer" else Scope("provider", streamone.id, streamone.name)
    work365 = [s for s in await reads.subscriptions(sub_scope, provider_ids=True) if s.provider_id == streamone.id]
    notes: list[str] = []
    accounts = await session.reads.provider_accounts(streamone.id, mapped_to=scope.id) if scope.kind == "customer" \
        else await session.reads.provider_accounts(streamone.id)
    reads.meter.count(len(accounts))
    tenants = memo(session).by_tenant
    customers: dict[str, IonCustomer] = {}
    for pa in accounts:
        held = (pa.provider_specific_id or "").strip()
        kind = kind_of(held, AccountIdKind)
        cid = held if kind is AccountIdKind.CUSTOMER else tenants.get(norm_id(held)) if kind else None
        if cid and (cid not in customers or pa.account_id is not None):
            customers[cid] = IonCustomer(pa.account_id, pa.name, pa.id)
    ion: list[r.IonFact] = []
    try:
        if scope.kind == "customer":
            unread = []
            for pa in accounts:
                cid = await customer_of(session, pa)
                if cid is None:
                    unread.append(pa.name)
                    continue
                customers.setdefault(cid, IonCustomer(pa.account_id, pa.name, pa.id))
                ion += [item async for item in _counted(session, reads.meter, cid)]
            if unread:
                notes.append(f"Not compared (no StreamOne customer found for): {', '.join(unread)}.")
            if not accounts:
                notes.append(f"No provider account of {streamone.name} is mapped to {scope.label}: only its Work 365 "
                             "side is shown.")
        else:
            ion = [item async for item in _counted(session, reads.meter, None)]
    except W365Error as error:
        raise WorkflowError(f"StreamOne's subscriptions could not be read: {error}") from None
    found = r.license_mismatch(work365, ion, customers)
    by_tenant = {norm_id(pa.provider_specific_id): pa for pa in accounts
                 if kind_of(pa.provider_specific_id, AccountIdKind) is AccountIdKind.TENANT}
    if found.unknown_customers and by_tenant:  # accounts keyed by tenant: read those customers' tenants
        try:
            read = await tenant_ids(session, sorted(found.unknown_customers))
        except W365Error as error:
            raise WorkflowError(f"StreamOne's tenants could not be read: {error}") from None
        for cid, tenant in read.found.items():
            pa = by_tenant.get(norm_id(tenant)) if tenant else None
            if pa is not None:
                customers[cid] = IonCustomer(pa.account_id, pa.name, pa.id)
        if read.unreadable:
            notes.append(f"StreamOne did not say the tenant of {len(read.unreadable):,} customers "
                         f"({read.failure}).")
        found = r.license_mismatch(work365, ion, customers)
    rows = await _crm_names(session, found.rows, {s.customer_id: s.customer for s in work365 if s.customer_id})
    if found.unmapped:
        notes.append(f"{found.unmapped:,} StreamOne subscriptions of customers whose provider account is not mapped "
                     "are left out: map them first (the unmapped report lists them).")
    if found.unknown:
        notes.append(f"{found.unknown:,} StreamOne subscriptions of customers no provider account is known for are "
                     "left out: sync the provider accounts first (pane 1, a).")
    return rows, notes, found.unmapped + found.unknown


async def _crm_names(session: Session, rows: list[Row], known: dict[UUID, str]) -> list[Row]:
    """Rows of a customer Work 365 holds no subscription for are named by its CRM account, as
    the rest are (not by the provider account's StreamOne name)."""
    wanted = {row.fix.id for row in rows if row.fix is not None and row.fix.pane == "subscriptions"
              and row.fix.id not in known and not row.get("subscription_id")}
    if wanted:
        known = {**known, **{account.id: account.name for account in await session.reads.accounts_by_id(wanted)}}
    return [replace(row, values={**row.values, "customer": known[row.fix.id]})
            if row.fix is not None and row.fix.pane == "subscriptions" and row.fix.id in known
            and not row.get("subscription_id") else row for row in rows]


async def _counted(session: Session, meter: Meter, customer_id: str | None) -> AsyncIterator[r.IonFact]:
    """StreamOne's subscriptions (of one customer, or all), kept as the report needs them,
    counting each page as a request."""
    async for page in session.ion.subscription_pages(customer_id, limit=session.profile.streamone_page_size):
        meter.count(len(page))
        for item in page:
            yield r.IonFact.of(item)


async def recheck(session: Session, report: Report, row: Row, *, today: date | None = None) -> Report:
    """``report`` with ``row`` checked again (after the operator fixed it): the rows about the
    same record replaced by what the report finds for it now (none when it is fixed)."""
    scope = report.scope
    if report.name == r.LCL_MISMATCH:
        found = await session.reads.subscription(row.key)
        fresh: list[Row] = []
        if found is not None:
            sub, lcls = found
            fact = r.SubFact(sub.id, sub.name, sub.quantity, sub.is_active, sub.customer_id,
                             str(row.get("customer") or ""), sub.provider_id, str(row.get("provider") or ""))
            fresh = r.lcl_mismatch([fact], {sub.id: sum(lcl.quantity for lcl in lcls)})
        return _replaced(report, {row.key}, fresh)
    if report.name == r.LICENSE_MISMATCH and row.fix is not None and row.fix.pane == "subscriptions":
        account = row.fix.id
        narrowed = await run(session, report.name, Scope("customer", account, str(row.get("customer") or "")),
                             today=today)
        same = {x.key for x in report.rows if x.fix is not None and x.fix.id == account} | {row.key}
        return _replaced(report, same, narrowed.rows)
    again = await run(session, report.name, scope, days=report.days, today=today)
    keep = {x.key for x in again.rows}
    return _replaced(report, {row.key}, [x for x in again.rows if x.key == row.key] if row.key in keep else [])


def _replaced(report: Report, keys: set[UUID], fresh: list[Row]) -> Report:
    """The report with the rows of ``keys`` replaced by ``fresh``, where the first of them stood."""
    rows: list[Row] = []
    placed = False
    for existing in report.rows:
        if existing.key in keys:
            if not placed:
                rows += fresh
                placed = True
            continue
        rows.append(existing)
    if not placed:
        rows += fresh
    return replace(report, rows=rows)


__all__ = ["recheck", "run", "scope_of"]
