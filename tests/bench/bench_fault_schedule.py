"""A randomised schedule of faults on ``$batch`` against both syncs, each followed by what an
operator does (run it again; finish what the journal shows in doubt, or roll it back and sync
again), and a check
that every run ends consistent: every active StreamOne customer has exactly one provider
account with its name, every synced subscription has StreamOne's quantity with Σ LCL equal to
it, no row is duplicated and no plan is left unresolved.

Each run takes a fresh demo sandbox served over loopback HTTP, random changes on the StreamOne
side, a random fault (kind, which changeset it hits, how often) and a random changeset size, so
a plan goes in one changeset or several. Prints counts and the median time per run; the figure
that matters is the number of inconsistent end states (0). Run with:

    python tests/bench/bench_fault_schedule.py [--runs 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from uuid import UUID

from w365tui.domain.rules import clip
from w365tui.journal import Journal
from w365tui.sandbox.host import Sandbox
from w365tui.session import Session, open_session
from w365tui.settings import Profile
from w365tui.work365.executor import PlanRefused
from w365tui.workflows import base, plans, sync

DEBUG = bool(os.environ.get("W365TUI_BENCH_DEBUG"))
OPERATOR = random.Random(0)  # what the operator chooses: finish or roll back
TIMEOUT = 0.4  # the client's patience; a latency fault waits past it
LATE = 0.3  # how far past it
FAULTS = ("none", "drop_before", "drop_after", "latency", "status429", "status503", "malformed")
SYNCED = ("Tailspin Toys Inc.", "Woodgrove Bank", "Lamna Healthcare GmbH")  # mapped demo customers


def mutate_streamone(sandbox: Sandbox, rng: random.Random, run: int) -> None:
    """Renames, new customers, new subscriptions and quantity changes on the StreamOne side."""
    conn = sandbox.store.conn
    ids = [r[0] for r in conn.execute("SELECT id FROM ion_customer ORDER BY id")]
    for cid in rng.sample(ids, rng.randint(0, 4)):
        conn.execute("UPDATE ion_customer SET organization = organization || ? WHERE id = ?", (f" r{run}", cid))
    for n in range(rng.randint(0, 3)):
        conn.execute("INSERT INTO ion_customer (id, account_id, organization, status) VALUES (?, 100042, ?, 'ACTIVE')",
                     (8_000_000 + n, f"New customer {run}-{n}"))
    for name in SYNCED:
        customer = conn.execute("SELECT id FROM ion_customer WHERE organization LIKE ?", (name + "%",)).fetchone()
        if customer is None:
            continue
        for sub_id, in conn.execute("SELECT id FROM ion_subscription WHERE customer_id = ?", (customer[0],)).fetchall():
            if rng.random() < 0.5:
                conn.execute("UPDATE ion_subscription SET total_licenses = ? WHERE id = ?", (str(rng.randint(1, 60)),
                                                                                             sub_id))
        if rng.random() < 0.5:
            conn.execute("INSERT INTO ion_subscription (id, customer_id, subscription_id, name, total_licenses, status, "
                         "sku_display_name, billing_cycle, billing_term, start_date) VALUES (?, ?, ?, 'Extra', ?, "
                         "'active', 'Extra SKU', 'monthly', 'P1M', '2025-02-01T00:00:00Z')",
                         (9_000_000 + customer[0], customer[0], f"bench-{run}-{customer[0]}", str(rng.randint(1, 9))))


def inject(sandbox: Sandbox, rng: random.Random) -> str:
    kind = rng.choice(FAULTS)
    skip = rng.randint(0, 2)
    if kind == "none":
        return kind
    if kind == "latency":
        sandbox.faults.add("latency", path=r"\$batch$", delay=TIMEOUT + LATE, times=1, skip=skip)
    elif kind.startswith("status"):
        sandbox.faults.add("status", path=r"\$batch$", status=int(kind[6:]), retry_after=0,
                           times=rng.randint(1, 6), skip=skip)
    else:
        sandbox.faults.add(kind, path=r"\$batch$", times=rng.randint(1, 2), skip=skip)
    return kind


async def settle(session: Session, counts: Counter[str]) -> None:
    """What an operator does after a sync that did not go through: resume or roll back."""
    for record in session.journal.unresolved(session.profile_name):
        if counts["latency now"]:
            await asyncio.sleep(LATE + 0.1)  # a late write lands before it is checked
        try:
            resume = await plans.prepare_resume(session, record.plan_id)
            if resume.preview.blocking or OPERATOR.random() < 0.3:  # some operators roll back instead
                counts["rollbacks"] += 1
                rollback = await plans.prepare_rollback(session, record.plan_id)
                await plans.apply_inverse(session, rollback)
            else:
                counts["resumes"] += 1
                done = await plans.apply_resume(session, resume)
                if DEBUG:
                    print("   resume", resume.inspection.summary(), "→", done.message())
        except PlanRefused as refusal:
            counts["refusals"] += 1
            if DEBUG:
                print("   refused", refusal)


async def sync_until_done(session: Session, counts: Counter[str]) -> None:
    """Both syncs, again and again, until there is nothing left to do (at most 20 rounds: a fault
    may hit up to 6 requests in a row, resumes included)."""
    for _ in range(20):
        work = False
        if session.journal.unresolved(session.profile_name):  # what the journal screen shows at start
            await settle(session, counts)
        plan = await sync.prepare_provider_account_sync(session)
        if plan.refused:
            counts["refused as overlapping"] += 1
            await settle(session, counts)
            work = True
        elif not plan.is_empty:
            work = True
            applied = await base.apply(session, plan)
            counts[f"provider-accounts {applied.status}"] += 1
            if not applied.ok:
                await settle(session, counts)
        for account_id in await mapped_accounts(session):
            prepared = await sync.prepare_subscription_sync(session, account_id)
            if prepared.plan.refused:
                if "not resolved" in " ".join(prepared.plan.blocking):
                    counts["refused as overlapping"] += 1
                    await settle(session, counts)
                    work = True
                continue
            if prepared.plan.is_empty:
                continue
            work = True
            done = await sync.apply_subscription_sync(session, prepared)
            counts[f"subscriptions {done.status}"] += 1
            if not done.ok:
                await settle(session, counts)
        if not work and not session.journal.unresolved(session.profile_name):
            return
    states = [(r.short_id, r.kind, r.status, r.states()) for r in session.journal.plans().values()]
    raise RuntimeError(f"the syncs did not settle in 20 rounds: {states}")


async def mapped_accounts(session: Session) -> list[UUID]:
    names = {n for n in SYNCED}
    provider = await session.reads.streamone_provider(session.profile.streamone_connectors)
    return sorted({pa.account_id for pa in await session.reads.provider_accounts(provider.id)
                   if pa.account_id and any(pa.name.startswith(n) for n in names)}, key=str)


def lcl_gaps(sandbox: Sandbox) -> dict[str, int]:
    """Σ LCL − quantity of each subscription (the demo book holds one that differs on purpose)."""
    return dict(sandbox.store.conn.execute(
        "SELECT s.work365_subscriptionid, COALESCE((SELECT SUM(l.work365_quantity) FROM work365_licensechangelog l "
        "WHERE l.work365_subscription = s.work365_subscriptionid), 0) - s.work365_quantity FROM work365_subscription s"
    ).fetchall())


def inconsistencies(sandbox: Sandbox, session: Session, gaps: dict[str, int]) -> list[str]:
    conn = sandbox.store.conn
    found = []
    dupes = conn.execute("SELECT work365_providerspecificaccountid, COUNT(*) FROM work365_provideraccount "
                         "WHERE statecode = 0 GROUP BY work365_provider, work365_providerspecificaccountid "
                         "HAVING COUNT(*) > 1").fetchall()
    found += [f"provider account for customer {d[0]} held {d[1]} times" for d in dupes]
    names = dict(conn.execute(
        "SELECT p.work365_providerspecificaccountid, p.work365_provideraccount_name FROM work365_provideraccount p "
        "JOIN work365_provider v ON v.work365_providerid = p.work365_provider WHERE "
        "v.work365_internalname = 'Providers.TechDataCspProvider' AND p.statecode = 0").fetchall())
    for cid, organization in conn.execute("SELECT id, organization FROM ion_customer WHERE status = 'ACTIVE'"):
        if names.get(str(cid)) != clip(organization, 200):
            found.append(f"customer {cid} ({organization[:40]}) has no provider account of that name")
    subs = conn.execute("SELECT work365_providersubscriptionid, COUNT(*) FROM work365_subscription WHERE "
                        "work365_providersubscriptionid IS NOT NULL AND statecode = 0 GROUP BY "
                        "work365_providersubscriptionid HAVING COUNT(*) > 1").fetchall()
    found += [f"subscription {s[0]} held {s[1]} times" for s in subs]
    now = lcl_gaps(sandbox)
    for sub_id, quantity, ion in conn.execute(
            "SELECT s.work365_subscriptionid, s.work365_quantity, i.total_licenses FROM work365_subscription s "
            "JOIN ion_subscription i ON i.subscription_id = s.work365_providersubscriptionid "
            "WHERE s.statecode = 0 AND i.status = 'active'"):
        if now[sub_id] != gaps.get(sub_id, 0):
            found.append(f"subscription {sub_id}: Σ LCL − quantity went from {gaps.get(sub_id, 0)} to {now[sub_id]}")
        if str(quantity) != str(ion):
            found.append(f"subscription {sub_id}: quantity {quantity}, StreamOne {ion}")
    if session.journal.unresolved():
        found.append(f"{len(session.journal.unresolved())} plans left unresolved")
    return found


async def one_run(run: int, rng: random.Random, root: Path, counts: Counter[str]) -> list[str]:
    with Sandbox.in_memory(seed=1) as sandbox:
        gaps = lcl_gaps(sandbox)
        mutate_streamone(sandbox, rng, run)
        session = await open_session("sandbox", Profile(kind="sandbox", timeout=TIMEOUT), sandbox_url=sandbox.url,
                                     journal=Journal(root / f"journal-{run}.jsonl"))
        try:
            session.executor.changeset_size = rng.choice((1, 2, 3, 1000))
            kind = inject(sandbox, rng)
            if DEBUG:
                print(f"run {run}: {kind} {sandbox.faults.active()} changesets of {session.executor.changeset_size}")
            counts[f"fault {kind}"] += 1
            counts["latency now"] = int(kind == "latency")
            try:
                await sync_until_done(session, counts)
            except RuntimeError as error:
                return [str(error)]
            sandbox.faults.clear()
            if kind == "latency":
                await asyncio.sleep(LATE + 0.1)  # any late write has landed
            problems = inconsistencies(sandbox, session, gaps)
        finally:
            await session.close()
        sandbox.store.close()
    return problems


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    OPERATOR.seed(args.seed)
    counts: Counter[str] = Counter()
    times: list[float] = []
    bad = 0
    root = Path(tempfile.mkdtemp(prefix="w365tui-faults-"))
    for run in range(args.runs):
        started = time.perf_counter()
        problems = await one_run(run, rng, root, counts)
        times.append(time.perf_counter() - started)
        if problems:
            bad += 1
            print(f"run {run}: INCONSISTENT: " + "; ".join(problems[:5]), flush=True)
        if (run + 1) % 25 == 0:
            print(f"… {run + 1} runs, {bad} inconsistent", flush=True)
    print(f"\n{args.runs} runs (seed {args.seed}), median {statistics.median(times):.2f} s per run")
    del counts["latency now"]
    for key, value in sorted(counts.items()):
        print(f"  {key:<36} {value}")
    print(f"inconsistent end states: {bad}")


if __name__ == "__main__":
    asyncio.run(main())
