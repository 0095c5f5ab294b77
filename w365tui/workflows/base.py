"""What every workflow shares: its errors, and applying a plan through the one executor."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from w365tui.domain.plan import Plan, PlanContext
from w365tui.session import Session
from w365tui.work365.executor import Applied, PlanRefused

Progress = Callable[[str], None]

__all__ = ["Applied", "PlanRefused", "Progress", "WorkflowError", "apply", "context", "guarded", "parse_id"]


class WorkflowError(Exception):
    """The use case cannot be prepared as asked (an unknown id, a missing record); nothing was written."""


def parse_id(text: str | UUID, what: str) -> UUID:
    """A GUID given by an operator, or a clear error naming what it should have been."""
    if isinstance(text, UUID):
        return text
    try:
        return UUID(str(text).strip().strip("{}"))
    except ValueError:
        raise WorkflowError(f"{text!r} is not a {what} id (a GUID such as 00000000-0000-0000-0000-000000000000)") from None


def context(session: Session, **ids: UUID | None) -> PlanContext:
    return PlanContext(profile=session.profile_name, organization=session.organization_id, **ids)


def guarded(session: Session, plan: Plan) -> Plan:
    """The plan, blocked when it touches rows of a plan left unresolved in the journal, so the
    preview already says so."""
    reason = session.executor.overlap(plan)
    return plan.blocked(reason) if reason else plan


async def apply(session: Session, plan: Plan) -> Applied:
    """Apply through the executor; raises :class:`PlanRefused` (nothing written) when it must not run."""
    return await session.executor.apply(plan)
