"""Compiling a plan into the Dataverse operations that carry it out.

A create is sent as an upsert to the id the plan chose, with ``If-None-Match: *`` (Dataverse's
create-only upsert), so sending it again after a lost answer cannot duplicate the row: the
service answers 412 when it is already there. Updates and state changes carry the row's ETag in
``If-Match``: a row changed since it was read is refused, never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from w365tui.clients.odata import Operation
from w365tui.domain.plan import MAX_CHANGESET, Change, Create, Plan, SetState, Update, changesets
from w365tui.work365.rows import encode, encode_state
from w365tui.work365.schema import Work365Schema


@dataclass(frozen=True)
class Compiled:
    changesets: list[list[int]]  # the plan's change indexes, one list per changeset
    operations: list[Operation]  # one per change, in the plan's order

    def changeset(self, index: int) -> list[Operation]:
        """The operations of one changeset, each with a Content-ID that names its place."""
        return [Operation(o.method, o.url, o.body, o.headers, content_id=str(n))
                for n, o in enumerate((self.operations[i] for i in self.changesets[index]), start=1)]


def compile_change(change: Change, schema: Work365Schema) -> Operation:
    table = schema.table(change.role)
    url = f"{table.entity_set}({change.id})"
    if isinstance(change, Create):
        return Operation("PATCH", url, encode(schema, change.role, change.values), headers={"If-None-Match": "*"})
    if isinstance(change, Update):
        return Operation("PATCH", url, encode(schema, change.role, change.after), headers={"If-Match": change.etag})
    if isinstance(change, SetState):
        body = {**encode(schema, change.role, change.values_after), **encode_state(schema, change.role,
                                                                                  change.after_state)}
        return Operation("PATCH", url, body, headers={"If-Match": change.etag})
    raise TypeError(f"cannot compile {type(change).__name__}")


def compile_plan(plan: Plan, schema: Work365Schema, size: int = MAX_CHANGESET) -> Compiled:
    """The plan's operations and their changesets; raises ``PlanError`` when it cannot be sent."""
    groups = changesets(plan, size)
    return Compiled(groups, [compile_change(change, schema) for change in plan.changes])


def operation_json(operation: Operation) -> dict[str, Any]:
    """An operation as the journal records it."""
    return {"method": operation.method, "url": operation.url, "body": operation.body,
            "headers": {k: v for k, v in operation.headers.items() if k.lower() in ("if-match", "if-none-match")}}
