"""License change logs through the workflows, against the sandbox: archive 1,500 in one plan of
two changesets, a dropped connection and resume; add a correcting LCL."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from w365tui.sandbox.host import Sandbox
from w365tui.sandbox.schema import BY_LOGICAL, option_value
from w365tui.session import Session
from w365tui.workflows import base, lcl, plans

pytestmark = pytest.mark.anyio
LCL = BY_LOGICAL["work365_licensechangelog"]
UPDATE = option_value("work365_licensechangelog", "work365_event", "Update")


def busy_subscription(sandbox: Sandbox, count: int) -> tuple[str, list[str]]:
    """Fabrikam's TechData subscription with ``count`` more Active LCLs (+1 each, and its quantity to match)."""
    conn = sandbox.store.conn
    (sub_id, quantity), = conn.execute(
        "SELECT s.work365_subscriptionid, s.work365_quantity FROM work365_subscription s JOIN account a "
        "ON a.accountid = s.work365_subscription_customer WHERE a.name = 'Fabrikam Inc' "
        "AND s.work365_subscriptionname NOT LIKE '%(manual)'").fetchall()
    template = {k: v for k, v in dict(conn.execute(
        "SELECT * FROM work365_licensechangelog WHERE work365_subscription = ?", (sub_id,)).fetchone()).items()
        if k not in ("createdon", "modifiedon", "versionnumber")}
    ids = []
    with sandbox.store.transaction():
        for n in range(count):
            row_id = str(uuid.uuid4())
            sandbox.store.insert(LCL, {**template, "work365_licensechangelogid": row_id, "work365_event": UPDATE,
                                       "work365_quantity": 1, "work365_effectivedate": f"2025-{n % 12 + 1:02d}-01",
                                       "statecode": 0, "statuscode": 1})
            ids.append(row_id)
        sandbox.store.update(BY_LOGICAL["work365_subscription"], sub_id, {"work365_quantity": quantity + count})
    return sub_id, ids


def states(sandbox: Sandbox, ids: list[str]) -> set[int]:
    marks = ",".join("?" for _ in ids)
    return {r[0] for r in sandbox.store.conn.execute(
        f"SELECT statecode FROM work365_licensechangelog WHERE work365_licensechangelogid IN ({marks})", ids)}


async def test_archiving_1500_lcls_is_one_plan_of_two_changesets_resumable_after_a_dropped_connection(
        session: Session, sandbox: Sandbox) -> None:
    sub_id, ids = busy_subscription(sandbox, 1500)
    plan = await lcl.prepare_archive(session, ids)
    assert not plan.blocking and len(plan.changes) == 1500 and not plan.atomic
    sandbox.faults.add("drop_after", path=r"\$batch$", times=1, skip=1)  # the second changeset's answer is lost
    applied = await base.apply(session, plan)
    assert applied.status == "in doubt"
    (record,) = session.journal.plans().values()  # one plan, journalled as two changesets
    assert [len(c) for c in record.changesets] == [1000, 500]
    resume = await plans.prepare_resume(session, record.plan_id)
    finished = await plans.apply_resume(session, resume)
    assert finished.ok and states(sandbox, ids) == {1}
    assert not any(r.unresolved for r in session.journal.plans().values())
    listing = await lcl.listing(session, sub_id)
    assert listing.sigma.matches  # archiving changes no quantity


async def test_a_connection_dropped_before_the_second_changeset_is_finished_by_resume(
        session: Session, sandbox: Sandbox) -> None:
    _, ids = busy_subscription(sandbox, 1200)
    sandbox.faults.add("drop_before", path=r"\$batch$", times=1, skip=1)
    applied = await base.apply(session, await lcl.prepare_archive(session, ids))
    assert not applied.ok and states(sandbox, ids) == {0, 1}  # half of it written
    (record,) = session.journal.plans().values()
    finished = await plans.apply_resume(session, await plans.prepare_resume(session, record.plan_id))
    assert finished.ok and states(sandbox, ids) == {1}


async def test_a_correcting_lcl_brings_sigma_to_the_quantity(session: Session, sandbox: Sandbox) -> None:
    sub_id, _ = busy_subscription(sandbox, 0)
    sandbox.store.update(BY_LOGICAL["work365_subscription"], sub_id, {"work365_quantity": 15})
    before = await lcl.listing(session, sub_id)
    assert before.sigma.difference == -3
    plan = await lcl.prepare_add(session, sub_id, event="update", quantity=3, effective_date=date(2025, 1, 1))
    assert (await base.apply(session, plan)).ok
    after = await lcl.listing(session, sub_id)
    assert after.sigma.matches and len(after.lcls) == len(before.lcls) + 1
    with pytest.raises(base.WorkflowError, match="'refund' is not an LCL event"):
        await lcl.prepare_add(session, sub_id, event="refund", quantity=1, effective_date=date(2025, 1, 1))


async def test_one_archive_over_two_subscriptions_keeps_each_lcl_on_its_own(session: Session,
                                                                           sandbox: Sandbox) -> None:
    rows = sandbox.store.conn.execute(
        "SELECT l.work365_licensechangelogid FROM work365_licensechangelog l JOIN work365_subscription s ON "
        "s.work365_subscriptionid = l.work365_subscription JOIN account a ON a.accountid = "
        "s.work365_subscription_customer WHERE a.name IN ('Fabrikam Inc', 'Humongous Insurance') AND l.statecode = 0 "
        "AND l.work365_provisioningstatus != ?",
        (option_value("work365_licensechangelog", "work365_provisioningstatus", "Awaiting Provisioning"),)).fetchall()
    ids = [r[0] for r in rows]
    plan = await lcl.prepare_archive(session, ids)
    assert len(plan.changes) == len(ids) >= 3 and "subscriptions" in plan.title
    assert len({c.unit for c in plan.changes}) == len(ids)  # no two LCLs share a unit
    assert plan.context.account_id is None and plan.context.provider_id is None
    assert (await base.apply(session, plan)).ok and states(sandbox, ids) == {1}


async def test_a_row_both_marked_and_edited_is_refused(session: Session, sandbox: Sandbox) -> None:
    from w365tui.domain.lcl import Edit

    sub_id, ids = busy_subscription(sandbox, 2)
    first, second = (uuid.UUID(i) for i in ids)
    plan = await lcl.prepare_changes(session, sub_id, archive=[first], edits=[Edit(first, quantity=2),
                                                                             Edit(second, quantity=2)])
    assert any("both marked and edited" in b for b in plan.blocking)
    ok = await lcl.prepare_changes(session, sub_id, archive=[first], edits=[Edit(second, quantity=2)])
    assert not ok.blocking and len({c.unit for c in ok.changes}) == 2
    assert "after: Σ LCL" in ok.summary
