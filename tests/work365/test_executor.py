"""The one executor: refusals before anything is written, the journal around every changeset,
idempotent creates, and what a lost answer leaves behind."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from w365tui.domain.plan import Create, Plan, Ref, Update
from w365tui.sandbox.host import Sandbox
from w365tui.session import Session
from w365tui.work365.executor import PlanRefused

pytestmark = pytest.mark.anyio


async def techdata(session: Session):
    return await session.reads.streamone_provider(session.profile.streamone_connectors)


def new_account(provider, name: str, customer: str, unit: int = 0) -> Create:
    return Create("provideraccount", uuid.uuid4(), {"name": name, "providerspecificid": customer,
                                                   "provider": Ref("provider", provider.id, provider.name)},
                  name, key=f"provideraccount:{provider.id}:{customer}", unit=unit)


def count(sandbox: Sandbox, name: str) -> int:
    return sandbox.store.conn.execute("SELECT COUNT(*) FROM work365_provideraccount WHERE "
                                      "work365_provideraccount_name = ?", (name,)).fetchone()[0]


async def test_a_plan_is_journalled_with_each_outcome_and_creates_the_ids_it_chose(session: Session,
                                                                                     sandbox: Sandbox) -> None:
    provider = await techdata(session)
    plan = Plan("t", "two accounts", tuple(new_account(provider, f"Journalled {i}", f"9{i}", i) for i in range(2)),
                atomic=False)
    session.executor.changeset_size = 1
    applied = await session.executor.apply(plan)
    assert applied.ok and [c.state for c in applied.changesets] == ["committed", "committed"]
    events = [r["event"] for r in session.journal.records()]
    assert events == ["plan"] + ["changeset-sent", "changeset-outcome"] * 2 + ["plan-end"]
    record = session.journal.plans()[applied.plan_id]
    assert record.status == "applied" and record.changesets == [[0], [1]]
    for index, change in enumerate(plan.changes):
        result = record.result(index)
        assert result["id"] == str(change.id) and result["etag"].startswith('W/"')
        row = sandbox.store.conn.execute("SELECT work365_provideraccount_name FROM work365_provideraccount WHERE "
                                         "work365_provideraccountid = ?", (str(change.id),)).fetchone()
        assert tuple(row) == (f"Journalled {index}",)


async def test_a_create_sent_again_cannot_duplicate_its_row(session: Session, sandbox: Sandbox) -> None:
    provider = await techdata(session)
    plan = Plan("t", "one account", (new_account(provider, "Only once", "777"),))
    assert (await session.executor.apply(plan)).ok
    again = await session.executor.apply(plan)  # the same create, the same id: create-only upsert refuses
    assert again.status == "failed" and again.conflict and again.changesets[0].failed_change == 0
    assert "a row changed" in again.message() and "nothing was written" in again.message()
    assert count(sandbox, "Only once") == 1


async def test_what_must_not_run_is_refused_before_the_journal(session: Session) -> None:
    provider = await techdata(session)
    for plan, reason in ((Plan("t", "blocked", (new_account(provider, "x", "1"),), blocking=("no",)), "no"),
                         (Plan("t", "empty", ()), "changes nothing"),
                         (Plan("t", "too big", tuple(new_account(provider, f"x{i}", str(i)) for i in range(1001))),
                          "atomic")):
        with pytest.raises(PlanRefused, match=reason):
            await session.executor.apply(plan)
    session.executor.read_only = True
    with pytest.raises(PlanRefused, match="read-only"):
        await session.executor.apply(Plan("t", "ro", (new_account(provider, "y", "2"),)))
    assert list(session.journal.records()) == []


async def test_a_lost_answer_leaves_the_plan_in_doubt_and_blocks_its_rows(session: Session, sandbox: Sandbox) -> None:
    provider = await techdata(session)
    pa = next(a for a in await session.reads.provider_accounts(provider.id) if a.name == "Northwind Traders")
    rename = Update("provideraccount", pa.id, pa.etag or "", {"name": pa.name}, {"name": "Northwind Traders X"}, pa.name)
    create = new_account(provider, "Doubtful", "888", unit=1)
    sandbox.faults.add("drop_after", path=r"\$batch$", times=1)
    applied = await session.executor.apply(Plan("t", "doubt", (rename, create), atomic=False))
    assert applied.status == "in doubt" and "plan resume" in applied.message()
    (record,) = session.journal.unresolved("sandbox")
    assert record.plan_id == applied.plan_id and record.in_doubt == [0]
    for plan in (Plan("t", "same row", (Update("provideraccount", pa.id, "W/\"1\"", {"name": "a"}, {"name": "b"},
                                               "again"),)),
                 Plan("t", "same key", (new_account(provider, "Doubtful again", "888"),))):
        with pytest.raises(PlanRefused, match=f"plan {applied.plan_id[:8]}"):
            await session.executor.apply(plan)
    other = await session.executor.apply(Plan("t", "elsewhere", (new_account(provider, "Unrelated", "999"),)))
    assert other.ok  # a plan over other rows goes ahead


@pytest.mark.parametrize("fault, state", [("drop_before", "in doubt"), ("drop_after", "in doubt"),
                                          ("malformed", "in doubt"), ("status503", "failed"),
                                          ("status502", "in doubt"), ("status429", "failed")])
async def test_how_each_fault_on_the_batch_is_recorded(session: Session, sandbox: Sandbox, fault: str,
                                                       state: str) -> None:
    provider = await techdata(session)
    if fault.startswith("status"):
        # 429 is retried (nothing ran); past the retries the changeset did not run
        sandbox.faults.add("status", path=r"\$batch$", status=int(fault[6:]), retry_after=0, times=10)
    else:
        sandbox.faults.add(fault, path=r"\$batch$", times=1)
    applied = await session.executor.apply(Plan("t", fault, (new_account(provider, f"Fault {fault}", "555"),)))
    assert applied.status == state
    record = session.journal.plans()[applied.plan_id]
    assert record.status == state and record.unresolved == (state == "in doubt")


async def test_a_throttled_batch_is_retried_and_lands_once(session: Session, sandbox: Sandbox) -> None:
    provider = await techdata(session)
    probe = sandbox.faults.add("status", path=r"\$batch$", status=429, retry_after=0, times=2)
    applied = await session.executor.apply(Plan("t", "throttled", (new_account(provider, "Throttled", "556"),)))
    assert applied.ok and probe.hits == 2 and count(sandbox, "Throttled") == 1


async def test_a_plan_runs_to_its_end_when_its_caller_is_cancelled(session: Session, sandbox: Sandbox) -> None:
    provider = await techdata(session)
    sandbox.faults.add("latency", path=r"\$batch$", delay=0.3)
    session.executor.changeset_size = 2
    plan = Plan("t", "cancelled caller", tuple(new_account(provider, f"Finished {i}", f"7{i}", i) for i in range(4)),
                atomic=False)
    caller = asyncio.ensure_future(session.executor.apply(plan))
    await asyncio.sleep(0.1)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await session.executor.finish_plans()
    (record,) = session.journal.plans().values()
    assert record.status == "applied"
    written = sandbox.store.conn.execute("SELECT COUNT(*) FROM work365_provideraccount WHERE "
                                         "work365_provideraccount_name LIKE 'Finished %'").fetchone()[0]
    assert written == 4
