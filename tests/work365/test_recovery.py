"""A plan left in doubt, checked against the service, then finished or rolled back; and undo."""

from __future__ import annotations

import uuid

import pytest

from w365tui.domain.plan import Create, Plan, Ref, Update
from w365tui.sandbox.host import Sandbox
from w365tui.session import Session
from w365tui.work365.executor import PlanRefused
from w365tui.workflows import plans

pytestmark = pytest.mark.anyio
ORIGINAL = "Northwind Traders"


async def two_changesets(session: Session) -> Plan:
    """A rename and a create, one changeset each."""
    provider = await session.reads.streamone_provider(session.profile.streamone_connectors)
    pa = next(a for a in await session.reads.provider_accounts(provider.id) if a.name == ORIGINAL)
    session.executor.changeset_size = 1
    return Plan("t", "rename and create", (
        Update("provideraccount", pa.id, pa.etag or "", {"name": pa.name}, {"name": "Northwind Renamed"}, pa.name),
        Create("provideraccount", uuid.uuid4(), {"name": "Recovered", "providerspecificid": "4242",
                                                 "provider": Ref("provider", provider.id)}, "Recovered",
               key=f"provideraccount:{provider.id}:4242", unit=1),
    ), atomic=False)


def state(sandbox: Sandbox) -> tuple[list[str], list[tuple[str, int]]]:
    conn = sandbox.store.conn
    customer = "306872"  # Northwind Traders' StreamOne customer id in the demo book
    northwind = [r[0] for r in conn.execute("SELECT work365_provideraccount_name FROM work365_provideraccount "
                                            "WHERE work365_providerspecificaccountid = ?", (customer,))]
    recovered = [tuple(r) for r in conn.execute("SELECT work365_provideraccount_name, statecode FROM "
                                                 "work365_provideraccount WHERE work365_providerspecificaccountid = "
                                                 "'4242'")]
    return northwind, recovered


APPLIED = (["Northwind Renamed"], [("Recovered", 0)])


def test_the_demo_book_is_as_these_tests_expect(sandbox: Sandbox) -> None:
    assert state(sandbox) == ([ORIGINAL], [])


@pytest.mark.parametrize("position", [0, 1])
@pytest.mark.parametrize("fault", ["drop_before", "drop_after"])
async def test_resume_finishes_the_plan_after_each_fault_position(session: Session, sandbox: Sandbox, fault: str,
                                                                  position: int) -> None:
    plan = await two_changesets(session)
    sandbox.faults.add(fault, path=r"\$batch$", times=1, skip=position)
    applied = await session.executor.apply(plan)
    assert applied.status == "in doubt"
    resume = await plans.prepare_resume(session, applied.plan_id[:8])
    lost = "applied" if fault == "drop_after" else "not_applied"
    assert resume.inspection.changesets[position] == lost
    assert not resume.preview.blocking
    finished = await plans.apply_resume(session, resume)
    assert finished.ok and finished.plan_id == applied.plan_id  # the same plan, finished
    assert state(sandbox) == APPLIED
    record = session.journal.plans()[applied.plan_id]
    assert record.status == "applied" and session.journal.unresolved() == []
    assert record.changeset_state(position) in ("applied", "committed")


@pytest.mark.parametrize("position", [0, 1])
@pytest.mark.parametrize("fault", ["drop_before", "drop_after"])
async def test_roll_back_undoes_what_was_applied_after_each_fault_position(session: Session, sandbox: Sandbox,
                                                                           fault: str, position: int) -> None:
    before = state(sandbox)
    plan = await two_changesets(session)
    sandbox.faults.add(fault, path=r"\$batch$", times=1, skip=position)
    applied = await session.executor.apply(plan)
    rollback = await plans.prepare_rollback(session, applied.plan_id)
    expected_changes = {(0, "drop_before"): 0, (0, "drop_after"): 1, (1, "drop_before"): 1, (1, "drop_after"): 2}
    assert len(rollback.changes) == expected_changes[(position, fault)]
    done = await plans.apply_inverse(session, rollback)
    assert done is None or done.ok
    northwind, recovered = state(sandbox)
    assert northwind == before[0]
    assert recovered in ([], [("Recovered", 1)])  # never created, or deactivated: never deleted
    assert session.journal.plans()[applied.plan_id].status == "rolled back"
    assert session.journal.unresolved() == []


async def test_rows_changed_by_someone_else_are_not_finished_nor_overwritten(session: Session,
                                                                             sandbox: Sandbox) -> None:
    from w365tui.sandbox.schema import BY_LOGICAL

    plan = await two_changesets(session)
    sandbox.faults.add("drop_after", path=r"\$batch$", times=1)
    applied = await session.executor.apply(plan)
    sandbox.store.update(BY_LOGICAL["work365_provideraccount"], str(plan.changes[0].id),
                         {"work365_provideraccount_name": "Someone Else's Name"})
    resume = await plans.prepare_resume(session, applied.plan_id)
    assert resume.inspection.changesets[0] == "diverged" and resume.preview.blocking
    with pytest.raises(PlanRefused, match="someone else"):
        await plans.apply_resume(session, resume)
    rollback = await plans.prepare_rollback(session, applied.plan_id)
    assert rollback.refused and any("changed since" in w for w in rollback.warnings)
    assert state(sandbox)[0] == ["Someone Else's Name"]


async def test_an_applied_plan_is_undone_and_its_undo_can_be_undone(session: Session, sandbox: Sandbox) -> None:
    before = state(sandbox)
    plan = await two_changesets(session)
    applied = await session.executor.apply(plan)
    assert applied.ok and state(sandbox) == APPLIED
    with pytest.raises(Exception, match="not left in doubt"):
        await plans.prepare_resume(session, applied.plan_id)
    undo = await plans.prepare_undo(session, applied.plan_id)
    assert [c.verb for c in undo.changes] == ["set state", "update"]  # newest first; the created row deactivated
    undone = await plans.apply_inverse(session, undo)
    assert undone.ok
    assert state(sandbox) == (before[0], [("Recovered", 1)])
    assert session.journal.plans()[applied.plan_id].status == "undone"
    with pytest.raises(Exception, match="only an applied plan"):
        await plans.prepare_undo(session, applied.plan_id)
    redo = await plans.prepare_undo(session, undone.plan_id)
    assert (await plans.apply_inverse(session, redo)).ok
    assert state(sandbox) == APPLIED


async def three_renames(session: Session) -> tuple[Plan, list]:
    provider = await session.reads.streamone_provider(session.profile.streamone_connectors)
    accounts = {a.name: a for a in await session.reads.provider_accounts(provider.id)}
    rows = [accounts[n] for n in ("Contoso Ltd", "Lamna Healthcare GmbH", "Tailspin Toys Inc.")]
    session.executor.changeset_size = 1
    return Plan("t", "three renames", tuple(
        Update("provideraccount", pa.id, pa.etag or "", {"name": pa.name}, {"name": pa.name + " X"}, pa.name, unit=n)
        for n, pa in enumerate(rows)), atomic=False), rows


async def test_a_changeset_never_sent_whose_rows_moved_is_neither_finished_nor_rolled_back(
        session: Session, sandbox: Sandbox) -> None:
    from w365tui.sandbox.schema import BY_LOGICAL

    table = BY_LOGICAL["work365_provideraccount"]
    plan, rows = await three_renames(session)
    sandbox.store.update(table, str(rows[1].id), {"work365_syncstatus": None})  # stale ETag: changeset 2 is refused
    applied = await session.executor.apply(plan)
    assert [c.state for c in applied.changesets] == ["committed", "failed", "not_sent"]
    assert applied.status == "partial" and "stopped half way" in applied.message()
    # someone else now gives the third row the very name the plan would have written
    sandbox.store.update(table, str(rows[2].id), {"work365_provideraccount_name": "Tailspin Toys Inc. X"})
    resume = await plans.prepare_resume(session, applied.plan_id)
    assert resume.inspection.changesets == {0: "applied", 1: "not_applied", 2: "moved"}
    assert resume.preview.blocking  # finishing would write over someone else's change
    rollback = await plans.prepare_rollback(session, applied.plan_id)
    assert [c.id for c in rollback.changes] == [rows[0].id]  # only what this plan wrote
    assert (await plans.apply_inverse(session, rollback)).ok
    names = dict(sandbox.store.conn.execute(
        "SELECT work365_provideraccountid, work365_provideraccount_name FROM work365_provideraccount").fetchall())
    assert [names[str(r.id)] for r in rows] == ["Contoso Ltd", "Lamna Healthcare GmbH", "Tailspin Toys Inc. X"]


async def test_a_resume_that_fails_after_skipping_what_was_applied_is_partial(session: Session,
                                                                              sandbox: Sandbox) -> None:
    from w365tui.sandbox.schema import BY_LOGICAL

    plan, rows = await three_renames(session)
    sandbox.store.update(BY_LOGICAL["work365_provideraccount"], str(rows[1].id), {"work365_syncstatus": None})
    applied = await session.executor.apply(plan)
    assert applied.status == "partial"
    resume = await plans.prepare_resume(session, applied.plan_id)
    assert not resume.preview.blocking  # the second row's name is as the plan found it: its ETag is read again
    sandbox.faults.add("status", path=r"\$batch$", status=400, times=1)
    again = await plans.apply_resume(session, resume)
    assert [c.state for c in again.changesets] == ["skipped", "failed", "not_sent"]
    assert again.status == "partial" and session.journal.plans()[applied.plan_id].status == "partial"
    finished = await plans.apply_resume(session, await plans.prepare_resume(session, applied.plan_id))
    assert finished.ok and session.journal.plans()[applied.plan_id].status == "applied"
