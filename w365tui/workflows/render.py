"""Plans, outcomes and journal records as text and as JSON, for the command line (and anything
else that prints them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from w365tui.domain.plan import Plan, lines, plan_to_json
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
