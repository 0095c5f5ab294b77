"""Benchmark: what one replacement of a manual subscription costs, in HTTP requests and time, for
manual histories of 10, 100 and 2,000 LCLs — beside sending each row's edit on its own.

Prints medians (and checks each replacement was applied, not how fast). Run with:

    python tests/bench/bench_replacement.py [--sizes 10,100,2000] [--runs 5]

Each run takes the demo book's worked-example pair (Fabrikam Inc), gives a fresh copy of the
manual subscription a history of N LCLs (its Create, then N Updates whose Σ is its quantity),
and, over loopback HTTP against the sandbox:

- reads and plans the replacement (the reads the plan is made from);
- applies it: its changesets, then the read and the write of the step that follows (the
  Deactivate LCL's archive). The goal for the apply is ⌈(N + 4) / 1000⌉ + 2 requests;
- for comparison, the same changes sent one row per request (a changeset of one), as a script
  editing each row separately would.

Requests are counted by the sandbox as it receives them.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from w365tui.journal import Journal
from w365tui.sandbox.host import Sandbox
from w365tui.sandbox.schema import BY_LOGICAL, option_value
from w365tui.session import Session, open_session
from w365tui.settings import Profile
from w365tui.workflows.replacement import apply_replacement, prepare_replacement

SUB = BY_LOGICAL["work365_subscription"]
LCL = BY_LOGICAL["work365_licensechangelog"]
CREATE = option_value("work365_licensechangelog", "work365_event", "Create")
UPDATE = option_value("work365_licensechangelog", "work365_event", "Update")
STAMPS = ("createdon", "modifiedon", "versionnumber")


def pair_with_history(sandbox: Sandbox, moved: int) -> tuple[str, str]:
    """A fresh copy of the demo pair whose manual subscription holds a Create and ``moved`` Updates."""
    conn = sandbox.store.conn
    rows = conn.execute(
        "SELECT s.work365_subscriptionid, s.work365_subscriptionname FROM work365_subscription s JOIN account a "
        "ON a.accountid = s.work365_subscription_customer WHERE a.name = 'Fabrikam Inc' AND s.statecode = 0 "
        "AND s.work365_quantity = 12").fetchall()
    manual = next(r[0] for r in rows if r[1].endswith("(manual)"))
    techdata = next(r[0] for r in rows if not r[1].endswith("(manual)"))
    create = 12 - moved  # the Updates are +1 each: Σ is the quantity, 12, as on T
    ids = []
    for source in (manual, techdata):
        row = {k: v for k, v in (sandbox.store.get(SUB, source) or {}).items() if k not in STAMPS}
        row["work365_subscriptionid"] = str(uuid.uuid4())
        sandbox.store.insert(SUB, row)
        ids.append(row["work365_subscriptionid"])
    template = {k: v for k, v in dict(conn.execute(
        "SELECT * FROM work365_licensechangelog WHERE work365_subscription = ?", (manual,)).fetchone()).items()
        if k not in STAMPS}
    history = [(ids[0], CREATE, create, "2022-01-01")] + [
        (ids[0], UPDATE, 1, f"2023-{n % 12 + 1:02d}-{n % 28 + 1:02d}") for n in range(moved)] + [
        (ids[1], CREATE, 12, "2024-01-01")]
    with sandbox.store.transaction():
        for sub_id, event, quantity, day in history:
            sandbox.store.insert(LCL, {**template, "work365_licensechangelogid": str(uuid.uuid4()),
                                       "work365_subscription": sub_id, "work365_event": event,
                                       "work365_quantity": quantity, "work365_effectivedate": day,
                                       "work365_invoice": None, "statecode": 0, "statuscode": 1})
    return ids[0], ids[1]


class Counter:
    """Requests the sandbox receives (a latency fault of no delay on every path counts them)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def __enter__(self) -> Counter:
        self.probe = self.sandbox.faults.add("latency", path=".", delay=0)
        self.batches = self.sandbox.faults.add("latency", path=r"\$batch$", delay=0)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.sandbox.faults.remove(self.probe)
        self.sandbox.faults.remove(self.batches)


async def one(session: Session, sandbox: Sandbox, moved: int, *, separately: bool) -> dict[str, float]:
    manual, techdata = pair_with_history(sandbox, moved)
    with Counter(sandbox) as counted:
        started = time.perf_counter()
        prepared = await prepare_replacement(session, manual, techdata)
        planned = time.perf_counter()
        reads = counted.probe.hits
    assert not prepared.plan.blocking and not prepared.plan.warnings, prepared.plan.blocking + prepared.plan.warnings
    if separately:  # one row per request: a changeset of one each
        prepared.replacement = replace(prepared.replacement, plan=replace(prepared.plan, atomic=False,
                                                                          changes=tuple(replace(c, unit=n) for n, c in
                                                                                        enumerate(prepared.plan.changes))))
        session.executor.changeset_size = 1
    try:
        with Counter(sandbox) as counted:
            started_apply = time.perf_counter()
            applied = await apply_replacement(session, prepared)
            done = time.perf_counter()
            requests, batches = counted.probe.hits, counted.batches.hits
    finally:
        session.executor.changeset_size = 1000
    assert applied.all_done, applied.message()
    return {"plan_s": planned - started, "plan_requests": reads, "apply_s": done - started_apply,
            "apply_requests": requests, "batches": batches}


def med(values: list[float]) -> float:
    return statistics.median(values)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,2000")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'LCLs moved':>10}  {'plan: reads':>11} {'time':>9}  {'apply: requests':>15} {'(batches)':>9} "
          f"{'goal':>4} {'time':>9}  {'row by row: requests':>20} {'time':>9}")
    with Sandbox.in_memory(seed=1) as sandbox:
        session = await open_session("sandbox", Profile(kind="sandbox"), sandbox_url=sandbox.url,
                                     journal=Journal(Path(tempfile.mkdtemp()) / "journal.jsonl"))
        try:
            for moved in sizes:
                together = [await one(session, sandbox, moved, separately=False) for _ in range(args.runs)]
                apart = [await one(session, sandbox, moved, separately=True) for _ in range(max(1, args.runs // 2))]
                goal = math.ceil((moved + 4) / 1000) + 2
                print(f"{moved:>10}  {med([r['plan_requests'] for r in together]):>11.0f} "
                      f"{med([r['plan_s'] for r in together]) * 1000:>7.0f}ms  "
                      f"{med([r['apply_requests'] for r in together]):>15.0f} "
                      f"{med([r['batches'] for r in together]):>9.0f} {goal:>4} "
                      f"{med([r['apply_s'] for r in together]) * 1000:>7.0f}ms  "
                      f"{med([r['apply_requests'] for r in apart]):>20.0f} "
                      f"{med([r['apply_s'] for r in apart]) * 1000:>7.0f}ms")
        finally:
            await session.close()
        sandbox.store.close()


if __name__ == "__main__":
    asyncio.run(main())
