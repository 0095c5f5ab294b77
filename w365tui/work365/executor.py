"""The one executor every write goes through: refuse what must not run, journal, send, record.

For each plan: refused (nothing written, nothing journalled) when it has blocking reasons, when
the profile is read-only, or when it touches rows of a plan left unresolved in the journal;
otherwise journalled whole before the first changeset, then each changeset is journalled before
it is sent and after, with every operation's status, created id and new ETag. A plan once
started runs to its end even if its caller is cancelled: stopping between sending a changeset
and recording its outcome would leave the journal in doubt for no gain.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from w365tui.clients.http import NetworkError, ProtocolError, ServiceError, ThrottledError
from w365tui.clients.odata import BatchResult, DataverseClient
from w365tui.domain.plan import MAX_CHANGESET, Plan, PlanError, plan_to_json
from w365tui.journal import DONE_STATES, Journal, PlanRecord
from w365tui.work365.compile import Compiled, compile_plan, operation_json
from w365tui.work365.schema import Work365Schema

_ENTITY_ID = re.compile(r"\(([0-9a-fA-F-]{36})\)\s*$")
RESOLUTION_OF = {"undo": "undone", "rollback": "rolled-back"}


class PlanRefused(Exception):
    """The plan was not applied and nothing was written; the message says why."""


@dataclass
class ChangesetResult:
    index: int
    state: str  # committed, failed, unknown, not_sent (or, resumed, skipped as already applied)
    results: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    failed_change: int | None = None  # the plan's change the service refused, when it says


@dataclass
class Applied:
    plan_id: str
    plan: Plan
    changesets: list[ChangesetResult]
    followup: Applied | None = None  # a plan the workflow applied straight after, as its preview said
    followup_error: str | None = None  # why that follow-up could not be checked or applied

    @property
    def all_done(self) -> bool:
        """Applied, and so is any follow-up."""
        return self.ok and not self.followup_error and (self.followup is None or self.followup.all_done)

    @property
    def status(self) -> str:
        """applied, failed, in doubt or partial — as the journal will say."""
        states = ["committed" if c.state == "skipped" else c.state for c in self.changesets]  # skipped: applied before
        if all(s in DONE_STATES for s in states):
            return "applied"
        if "unknown" in states:
            return "in doubt"
        if any(s in DONE_STATES for s in states):
            return "partial"
        return "failed"

    @property
    def ok(self) -> bool:
        return self.status == "applied"

    @property
    def error(self) -> str | None:
        return next((c.error for c in self.changesets if c.error), None)

    @property
    def conflict(self) -> bool:
        """Refused because a row changed (or already existed) since the plan was made."""
        return any(c.state == "failed" and c.error and c.error.startswith("412") for c in self.changesets)

    def message(self) -> str:
        short = self.plan_id[:8]
        if self.ok:
            return f"plan {short} applied"
        failing = next((c for c in self.changesets if c.error), None)
        what = ""
        if failing is not None and failing.failed_change is not None:
            what = f" ({self.plan.changes[failing.failed_change].label})"
        if self.status == "in doubt":
            return (f"plan {short}: the answer was lost, so it is not known whether it was applied{what}: "
                    f"{self.error}. Check and finish it with `w365tui plan resume {short}` (or the journal screen)")
        if self.status == "partial":
            return (f"plan {short} stopped half way{what}: {self.error}. Finish it with `w365tui plan resume {short}` "
                    f"or undo what was applied with `w365tui plan rollback {short}`")
        if self.conflict:
            return f"plan {short} was refused{what}: a row changed since it was read; nothing was written. Read it again"
        return f"plan {short} failed{what}: {self.error}; nothing was written"


def _result(change: int, result: BatchResult) -> dict[str, Any]:
    match = _ENTITY_ID.search(result.header("OData-EntityId") or "")
    return {"change": change, "status": result.status, "etag": result.header("ETag"),
            "id": match.group(1) if match else None}


class Executor:
    def __init__(self, dv: DataverseClient, schema: Work365Schema, journal: Journal, *, profile: str,
                 organization: str | None = None, user: str | None = None, read_only: bool = False):
        self.dv = dv
        self.schema = schema
        self.journal = journal
        self.profile = profile
        self.organization = organization
        self.user = user
        self.read_only = read_only
        self.changeset_size = MAX_CHANGESET  # smaller only in tests, to see plans split
        self._running: set[asyncio.Future[Any]] = set()  # plans that must finish

    # -- refusals -------------------------------------------------------------------------------
    def unresolved_overlap(self, plan: Plan, *, exempt: set[str] = frozenset()) -> PlanRecord | None:  # type: ignore[assignment]
        """The unresolved journalled plan whose rows ``plan`` would touch, if any."""
        exempt = set(exempt) | ({plan.parent} if plan.parent else set())
        return self.journal.overlapping({str(r) for r in plan.rows()}, plan.keys(), profile=self.profile,
                                        organization=self.organization, exempt=exempt)

    def overlap(self, plan: Plan) -> str | None:
        """Why ``plan`` must wait for a plan left unresolved over the same rows, or None."""
        other = self.unresolved_overlap(plan)
        if other is None:
            return None
        return (f"{other.describe()} touches the same rows and is not resolved: finish or roll it back first "
                f"(`w365tui plan resume {other.short_id}`, or the journal screen: J)")

    def refusal(self, plan: Plan) -> str | None:
        """Why ``plan`` must not be applied now, or None."""
        if self.read_only:
            return "this profile is read-only: nothing can be applied"
        if plan.blocking:
            return "; ".join(plan.blocking)
        if plan.is_empty:
            return "the plan changes nothing"
        return self.overlap(plan)

    # -- applying --------------------------------------------------------------------------------
    async def apply(self, plan: Plan) -> Applied:
        """Journal and send a plan; raises :class:`PlanRefused` before writing anything when it must not run."""
        reason = self.refusal(plan)
        if reason:
            raise PlanRefused(reason)
        try:
            compiled = compile_plan(plan, self.schema, MAX_CHANGESET if plan.atomic else self.changeset_size)
        except PlanError as error:
            raise PlanRefused(str(error)) from None
        return await self.protect(self._apply(plan, compiled, None, {}))

    async def resume(self, record: PlanRecord, plan: Plan, checked: dict[int, str]) -> Applied:
        """Send, under the same plan id, the changesets of a journalled plan that are not applied.

        ``plan`` is the journalled plan with the ETags read again; ``checked`` says what reading
        the service found of each changeset whose outcome was not known (applied, not_applied,
        diverged). A diverged changeset stops the resume: someone else changed its rows.
        """
        if self.read_only:
            raise PlanRefused("this profile is read-only: nothing can be applied")
        diverged = sorted(i for i, s in checked.items() if s in ("diverged", "moved"))
        if diverged:
            raise PlanRefused(f"changeset {diverged[0] + 1} of {record.describe()} was changed by someone else since: "
                              "it cannot be finished; roll back what was applied or check the rows by hand")
        compiled = Compiled([list(c) for c in record.changesets], compile_plan(plan, self.schema).operations)
        return await self.protect(self._apply(plan, compiled, record, checked))

    async def protect(self, work: Any) -> Any:
        """Run ``work`` to its end even if the caller is cancelled (and before the session closes)."""
        task = asyncio.ensure_future(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return await asyncio.shield(task)

    async def finish_plans(self) -> None:
        """Wait for every plan still being applied (before closing the clients)."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _apply(self, plan: Plan, compiled: Compiled, record: PlanRecord | None,
                     checked: dict[int, str]) -> Applied:
        journal = self.journal
        if record is None:
            # The journal fsyncs each line: keep that off the event loop.
            plan_id = await asyncio.to_thread(
                journal.begin, plan=plan_to_json(plan), changesets=compiled.changesets,
                operations=[operation_json(o) for o in compiled.operations], profile=self.profile,
                organization=self.organization, user=self.user)
        else:
            plan_id = record.plan_id
            for index, state in sorted(checked.items()):
                await asyncio.to_thread(journal.changeset_checked, plan_id, index, state)
        results: list[ChangesetResult] = []
        stopped = False
        for index, members in enumerate(compiled.changesets):
            known = checked.get(index) or (record.changeset_state(index) if record is not None else None)
            if known in DONE_STATES:
                results.append(ChangesetResult(index, "skipped", (record.results.get(index, []) if record else [])))
                continue
            if stopped:
                results.append(ChangesetResult(index, "not_sent"))
                await asyncio.to_thread(journal.changeset_outcome, plan_id, index, "not_sent")
                continue
            await asyncio.to_thread(journal.changeset_sent, plan_id, index, len(members))
            result = await self._send(index, members, compiled)
            await asyncio.to_thread(journal.changeset_outcome, plan_id, index, result.state, result.error,
                                    result.results)
            results.append(result)
            stopped = result.state != "committed"
        applied = Applied(plan_id, plan, results)
        status = applied.status
        if status != "in doubt":  # an answer lost in transit leaves the plan open
            outcome = {"applied": "committed", "failed": "failed", "partial": "partial"}[status]
            await asyncio.to_thread(journal.finish, plan_id, outcome)
        if status == "applied" and plan.parent and plan.kind in RESOLUTION_OF:
            await asyncio.to_thread(journal.resolve, plan.parent, RESOLUTION_OF[plan.kind], plan_id)
        return applied

    async def _send(self, index: int, members: Sequence[int], compiled: Compiled) -> ChangesetResult:
        try:
            (answer,) = await self.dv.batch([compiled.changeset(index)])
        except ThrottledError as error:  # still throttled after the retries: nothing ran
            return ChangesetResult(index, "failed", error=f"429 {error.message}")
        except NetworkError as error:
            return ChangesetResult(index, "unknown" if error.maybe_committed else "failed", error=str(error))
        except ProtocolError as error:  # an answer that cannot be read: it may have been carried out
            return ChangesetResult(index, "unknown", error=str(error))
        except ServiceError as error:
            # 503: the service answered that it could not take the request, so nothing ran. Any
            # other 5xx for the whole batch (a gateway's 502 or 504, say) does not say whether the
            # changeset ran behind it.
            state = "unknown" if error.status >= 500 and error.status != 503 else "failed"
            return ChangesetResult(index, state, error=f"{error.status} {error.code or ''}: {error.message}")
        if isinstance(answer, list):
            return ChangesetResult(index, "committed", [_result(members[n], r) for n, r in enumerate(answer)])
        code, message = answer.error()
        failed = None
        if answer.content_id and answer.content_id.isdigit() and 0 < int(answer.content_id) <= len(members):
            failed = members[int(answer.content_id) - 1]
        return ChangesetResult(index, "failed", error=f"{answer.status} {code or ''}: {message}".replace("  ", " "),
                               failed_change=failed)
