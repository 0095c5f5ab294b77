"""Plans, outcomes and journal records as text and as JSON, for the command line (and anything
else that prints them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from w365tui.domain.plan import Plan, lines, plan_to_json
from w365tui.domain.replacement import Replacement, Side
from w365tui.journal import PlanRecord
from w365tui.work365.executor import Applied

if TYPE_CHECKING:
    from w365tui.workflows.lcl import LclListing
    from w365tui.workflows.replacement import SubscriptionsView


def change_lines(plan: Plan) -> list[str]:
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
    out.extend(change_lines(plan))
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
        out.extend(change_lines(record.plan()))
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


def _sub_json(view: SubscriptionsView, sub_id: Any) -> dict[str, Any]:
    line = view.line(sub_id)
    assert line is not None
    sub = line.subscription
    return {"id": str(sub.id), "name": sub.name, "provider": line.provider, "provider_type": line.provider_type,
            "techdata": line.streamone, "state": sub.state.value, "quantity": sub.quantity, "lcl_sum": line.lcl_sum,
            "part_number": sub.part_number, "effective_start": sub.effective_start_date.isoformat()
            if sub.effective_start_date else None, "contract": line.contract, "billing_frequency": line.frequency,
            "selling_price": str(sub.selling_price) if sub.selling_price is not None else None,
            "currency": sub.currency, "flags": subscription_problems(view, sub_id)}


def subscription_problems(view: SubscriptionsView, sub_id: Any) -> list[str]:
    """Step 5's flags of an active subscription, and its Σ LCL when it is not its quantity."""
    line = view.line(sub_id)
    if line is None or not line.subscription.is_active:
        return []
    problems = list(line.flags)
    if line.lcl_sum != line.subscription.quantity:
        problems.insert(0, f"Σ LCL {line.lcl_sum} ≠ quantity {line.subscription.quantity}")
    return problems


def subscription_findings(view: SubscriptionsView) -> bool:
    return any(subscription_problems(view, line.subscription.id) for line in view.lines)


def subscriptions_json(view: SubscriptionsView) -> dict[str, Any]:
    pairing = view.pairing
    return {
        "account": {"id": str(view.account.id), "name": view.account.name},
        "contract": {"id": str(view.contract.id), "name": view.contract.name} if view.contract else None,
        "subscriptions": [_sub_json(view, line.subscription.id) for line in view.lines],
        "pairs": [{"manual": str(m.id), "techdata": str(t.id),
                   "diff": [{"field": d.field, "manual": d.manual, "techdata": d.techdata, "differs": d.differs}
                            for d in view.diff(m, t)]} for m, t in pairing.pairs],
        "ambiguous": [{"manual": str(m.id), "candidates": [str(c.id) for c in cands], "why": why}
                      for m, cands, why in pairing.ambiguous],
        "unpaired_manual": [str(m.id) for m in pairing.unpaired_manual],
        "unpaired_techdata": [str(t.id) for t in pairing.unpaired_techdata],
    }


def subscriptions_text(view: SubscriptionsView) -> str:
    out = [f"{view.account.name} ({view.account.id})"
           + (f" · billing contract {view.contract.name}" if view.contract else "")]
    pairing = view.pairing

    def one(sub_id: Any) -> str:
        line = view.line(sub_id)
        assert line is not None
        sub = line.subscription
        start = sub.effective_start_date.isoformat() if sub.effective_start_date else "—"
        return f"{sub.name} · qty {sub.quantity} · Σ LCL {line.lcl_sum} · {start} · {sub.id}"

    def flags(sub_id: Any) -> list[str]:
        return [f"    ⚠ {p}" for p in subscription_problems(view, sub_id)]

    out.append(f"Proposed pairs ({len(pairing.pairs)}): manual → TechData")
    for m, t in pairing.pairs:
        out += [f"  {one(m.id)}", *flags(m.id), f"  → {one(t.id)}", *flags(t.id)]
        differing = [d for d in view.diff(m, t) if d.differs]
        if differing:
            out.append("    differs: " + "; ".join(f"{d.field} {d.manual} ≠ {d.techdata}" for d in differing))
        out.append(f"    w365tui plan replace --manual {m.id} --techdata {t.id}")
    for m, candidates, why in pairing.ambiguous:
        out += [f"  {one(m.id)}", f"    ambiguous: {why}"]
        out += [f"    ? {one(c.id)}" for c in candidates]
    if pairing.unpaired_manual:
        out.append("Manual, no TechData twin:")
        for m in pairing.unpaired_manual:
            out += [f"  {one(m.id)}", *flags(m.id)]
    if pairing.unpaired_techdata:
        out.append("TechData, not paired:")
        for t in pairing.unpaired_techdata:
            out += [f"  {one(t.id)}", *flags(t.id)]
    others = [line for line in view.lines if not line.subscription.is_active
              or not (line.provider_type == "manual" or line.streamone)]
    if others:
        out.append("Other and inactive:")
        out += [f"  {one(line.subscription.id)} · {line.provider} · {line.subscription.state.value}"
                for line in others]
    return "\n".join(out)


LCL_FIELDS = ("id", "event", "quantity", "effective_date", "provisioning_status", "status", "invoice",
              "selling_price", "cost_price", "name", "blocked_by")


def _lcl_row(shown: LclListing, lcl: Any) -> dict[str, Any]:
    blocker = shown.blocked.get(lcl.id)
    return {"id": str(lcl.id), "event": lcl.event.value, "quantity": lcl.quantity,
            "effective_date": lcl.effective_date.isoformat() if lcl.effective_date else None,
            "provisioning_status": lcl.provisioning_status.value if lcl.provisioning_status else None,
            "status": lcl.status.value, "invoice": str(lcl.invoice_id) if lcl.invoice_id else None,
            "selling_price": str(lcl.selling_price) if lcl.selling_price is not None else None,
            "cost_price": str(lcl.cost_price) if lcl.cost_price is not None else None,
            "name": lcl.name, "blocked_by": str(blocker.id) if blocker else None}


def lcl_json(shown: LclListing) -> dict[str, Any]:
    sub, total = shown.subscription, shown.sigma
    return {"subscription": {"id": str(sub.id), "name": sub.name, "customer": shown.customer,
                             "contract": shown.contract, "provider": shown.provider, "quantity": sub.quantity,
                             "state": sub.state.value},
            "sigma": total.total, "difference": total.difference, "matches": total.matches,
            "lcls": [_lcl_row(shown, lcl) for lcl in shown.lcls]}


def _cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: service text starting like a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def lcl_csv(shown: LclListing) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LCL_FIELDS, lineterminator="\n")
    writer.writeheader()
    for lcl in shown.lcls:
        writer.writerow({k: _cell(v) for k, v in _lcl_row(shown, lcl).items()})
    return buffer.getvalue()


def lcl_text(shown: LclListing) -> str:
    sub = shown.subscription
    out = [f"{sub.name} · {shown.customer} · contract {shown.contract} · {shown.provider} · quantity "
           f"{sub.quantity} · {sub.state.value}"]
    for lcl in shown.lcls:
        when = lcl.effective_date.isoformat() if lcl.effective_date else "—"
        provisioning = lcl.provisioning_status.value.replace("_", " ") if lcl.provisioning_status else "—"
        line = (f"  {lcl.event.value:<10} {lcl.quantity:>+6d}  {when}  {provisioning:<21} {lcl.status.value:<8} "
                f"{'invoiced' if lcl.invoice_id else '':<8} {lcl.id}")
        blocker = shown.blocked.get(lcl.id)
        if blocker is not None:
            line += (f"  ⚠ blocked by the earlier {blocker.event.value} of "
                     f"{blocker.effective_date.isoformat() if blocker.effective_date else 'no date'}")
        out.append(line)
    out.append(shown.sigma.line())
    return "\n".join(out)


def checklist_text(shown: Any) -> str:
    """The onboarding checklist: a line per step, what is left under it, and what to do next."""
    from w365tui.workflows.onboard import DONE

    out = [f"Onboarding {shown.name}: {'done' if shown.done else shown.stage}"]
    for step in shown.steps:
        out.append(f"  {step.mark} {step.number}. {step.title}: {step.detail}")
        if step.state != DONE:
            out.extend(f"      {item}" for item in step.items[:20])
            if len(step.items) > 20:
                out.append(f"      … and {len(step.items) - 20} more")
        if step.action is not None and step.state != DONE:
            out.append(f"      next: {step.action.label}, key {step.action.key}")
    return "\n".join(out)
