"""Plans, outcomes and journal records as text and as JSON, for the command line (and anything
else that prints them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from w365tui.domain.plan import Plan, lines, plan_to_json
from w365tui.domain.replacement import Replacement, Side
from w365tui.journal import PlanRecord
from w365tui.work365.executor import Applied


def _change_lines(plan: Plan) -> list[str]:
    out: list[str] = []
    current = -1
    fields: list[str] = []
    head = ""
    for line in lines(plan):
        if line.index != current:
            if head:
                out.append(head + (" · " + "; ".join(fields) if fields else ""))
            current, fields, head = line.index, [], f"  {line.verb:<9} {line.what}"
        if line.field:
            fields.append(f"{line.field} {line.before} → {line.after}" if line.before else f"{line.field} {line.after}")
    if head:
        out.append(head + (" · " + "; ".join(fields) if fields else ""))
    return out


def plan_text(plan: Plan) -> str:
    out = [plan.title]
    if plan.summary:
        out.append(plan.summary)
    out.extend(_change_lines(plan))
    out.extend(f"⚠ {w}" for w in plan.warnings)
    out.extend(f"note: {n}" for n in plan.notes)
    out.extend(f"refused: {b}" for b in plan.blocking)
    return "\n".join(out)


def applied_json(applied: Applied | None) -> dict[str, Any] | None:
    if applied is None:
        return None
    return {"plan_id": applied.plan_id, "status": applied.status, "message": applied.message(),
            "changesets": [{"index": c.index, "state": c.state, "error": c.error, "results": c.results}
                           for c in applied.changesets],
            "followup": applied_json(applied.followup), "followup_error": applied.followup_error}


def plan_json(plan: Plan) -> dict[str, Any]:
    data = plan_to_json(plan)
    data["lines"] = [{"change": ln.index, "verb": ln.verb, "role": ln.role, "record": ln.record, "field": ln.field,
                      "before": ln.before, "after": ln.after} for ln in lines(plan)]
    return data


def record_line(record: PlanRecord) -> str:
    count = len(record.data.get("changes", [])) if record.data else len(record.operations)
    when = record.time[:16].replace("T", " ")
    return f"{record.short_id}  {when}  {record.status:<12} {count:>5}  {record.title}"


def record_json(record: PlanRecord) -> dict[str, Any]:
    return {"plan_id": record.plan_id, "time": record.time, "profile": record.profile,
            "organization": record.organization, "user": record.user, "kind": record.kind, "title": record.title,
            "status": record.status, "unresolved": record.unresolved, "parent": record.parent,
            "resolution": record.resolution,
            "changesets": [{"index": i, "changes": members, "state": record.changeset_state(i),
                            "results": record.results.get(i, [])} for i, members in enumerate(record.changesets)],
            "plan": record.data}


def record_text(record: PlanRecord) -> str:
    out = [f"plan {record.plan_id}", f"  {record.title}",
           f"  {record.status} · {record.time} · profile {record.profile}"
           + (f" · by {record.user}" if record.user else "")]
    if record.resolution:
        by = record.resolution.get("by")
        note = record.resolution.get("note")
        out.append(f"  {record.status}" + (f" by plan {by[:8]}" if by else "") + (f": {note}" if note else ""))
    if record.parent:
        out.append(f"  undoes plan {record.parent[:8]}")
    for index, members in enumerate(record.changesets):
        out.append(f"  changeset {index + 1}: {record.changeset_state(index)} ({len(members)} change"
                   f"{'s' if len(members) != 1 else ''})")
    if record.data is not None:
        out.extend(_change_lines(record.plan()))
    else:
        out.append("  (written by an older version: operations only)")
        out.extend(f"  {o.get('method')} {o.get('url')}" for o in record.operations)
    return "\n".join(out)


def records_text(records: Sequence[PlanRecord]) -> str:
    if not records:
        return "no plans in the journal"
    header = f"{'id':<8}  {'time':<16}  {'status':<12} {'changes':>5}  title"
    return "\n".join([header, *(record_line(r) for r in records)])


# -- accounts ----------------------------------------------------------------------------------------
def _account_json(account: Any) -> dict[str, Any]:
    from w365tui.domain.customers import account_domain

    return {"id": str(account.id), "name": account.name, "domain": account_domain(account) or None,
            "city": account.city, "number": account.number, "state": str(account.state)}


def search_json(search: Any) -> dict[str, Any]:
    details = search.details
    hits = []
    for hit in search.hits:
        row = {**_account_json(hit.account), "score": hit.score, "matched": hit.why}
        if hit.account.id in details.known:
            row["provider_accounts"] = details.mapped.get(hit.account.id, 0)
            row["default_contract"] = hit.account.id in details.default_contract
        hits.append(row)
    return {"text": search.found.text, "complete": search.found.complete, "accounts": hits}


def search_text(search: Any, limit: int = 50) -> str:
    from w365tui.domain.customers import account_domain

    if not search.hits:
        return f"no CRM account matches {search.found.text!r}"
    details = search.details
    out = [f"{len(search.hits)} CRM account{'s match' if len(search.hits) != 1 else ' matches'} {search.found.text!r}"
           + ("" if search.found.complete else " (the service had more: type more to narrow)")]
    for hit in search.hits[:limit]:
        account = hit.account
        extra = ""
        if account.id in details.known:
            extra = (f" · {details.mapped.get(account.id, 0)} provider account"
                     f"{'s' if details.mapped.get(account.id, 0) != 1 else ''}"
                     + (" · default contract" if account.id in details.default_contract else " · no default contract"))
        out.append(f"  {account.id}  {account.name}" + (f" · {account_domain(account)}" if account_domain(account)
                                                        else "") + (f" · {account.city}" if account.city else "")
                   + extra + f"  [{hit.why}]")
    if len(search.hits) > limit:
        out.append(f"  … {len(search.hits) - limit} more (--format json lists them all)")
    return "\n".join(out)


def customer_json(view: Any) -> dict[str, Any]:
    counts = view.counts
    return {
        "account": _account_json(view.account),
        "provider_accounts": [{"id": str(p.account.id), "name": p.account.name, "provider": p.provider,
                               "provider_specific_id": p.account.provider_specific_id, "tenant_id": p.tenant_id,
                               "domain": p.domain} for p in view.provider_accounts],
        "billing_contracts": [{"id": str(c.contract.id), "name": c.contract.name, "frequency": c.frequency or None,
                               "policy": c.policy or None, "currency": c.currency or None,
                               "price_list": c.price_list or None, "default": c.contract.is_default,
                               "state": str(c.contract.state),
                               "start": c.contract.start_date.isoformat() if c.contract.start_date else None,
                               "end": c.contract.end_date.isoformat() if c.contract.end_date else None}
                              for c in view.contracts],
        "subscriptions": {"manual": {"active": counts.manual_active, "inactive": counts.manual_inactive},
                          "automatic": {"active": counts.automatic_active, "inactive": counts.automatic_inactive},
                          "other": {"active": counts.other_active, "inactive": counts.other_inactive},
                          "lcl_mismatch": list(view.mismatched)},
        "flags": [{"subscription": f.subscription, "problem": f.problem} for f in view.flags],
        "unread": list(view.unread),
    }


def customer_text(view: Any) -> str:
    from w365tui.domain.customers import account_domain

    account = view.account
    out = [f"{account.name}  ({account.id})" + "".join(f" · {v}" for v in (account_domain(account), account.city,
                                                                           account.number) if v)]
    out.append(f"provider accounts: {len(view.provider_accounts) or 'none mapped'}")
    for p in view.provider_accounts:
        out.append(f"  {p.provider}: {p.account.name} · id {p.account.provider_specific_id or '—'}"
                   + (f" · tenant {p.tenant_id}" if p.tenant_id and p.tenant_id != p.account.provider_specific_id
                      else "") + (f" · {p.domain}" if p.domain else ""))
    out.append(f"billing contracts: {len(view.contracts) or 'none'}")
    for c in view.contracts:
        contract = c.contract
        facts = [c.frequency, c.policy, c.currency, c.price_list, "default" if contract.is_default else "",
                 "inactive" if not contract.is_active else ""]
        out.append(f"  {contract.name} · " + " · ".join(f for f in facts if f))
    counts = view.counts
    out.append(f"subscriptions: {counts.total} — manual {counts.manual_active} active, {counts.manual_inactive} "
               f"inactive; automatic {counts.automatic_active} active, {counts.automatic_inactive} inactive"
               + (f"; other {counts.other_active + counts.other_inactive}" if counts.other_active
                  + counts.other_inactive else ""))
    if view.mismatched:
        out.append(f"Σ LCL ≠ quantity on {len(view.mismatched)}: " + ", ".join(view.mismatched))
    for flag in view.flags:
        out.append(f"⚠ {flag.subscription}: {flag.problem}")
    for what in view.unread:
        out.append(f"not read: {what}")
    if not view.findings:
        out.append("no flags: every active subscription has its customer, contract, price and start date, "
                   "and its LCLs add up")
    return "\n".join(out)


def _side_json(side: Side) -> dict[str, Any]:
    return {"name": side.name, "quantity": side.quantity_after, "sigma_before": side.sigma_before,
            "sigma_after": side.sigma_after, "matches": side.matches_after, "state": side.state_after,
            "lcls_after": list(side.events_after)}


def replacement_json(replacement: Replacement) -> dict[str, Any]:
    """What a replacement predicts, beside its plan: both sides after it, Σ beside quantity."""
    return {"moved": replacement.moved, "manual": _side_json(replacement.manual),
            "techdata": _side_json(replacement.techdata)}
