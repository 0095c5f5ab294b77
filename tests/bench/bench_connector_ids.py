"""Benchmark: what knowing the connector's kind of id costs the provider-account sync.

Prints medians of several runs; asserts nothing. Run with:

    python tests/bench/bench_connector_ids.py [--scale 100000] [--tenant-scale 2000] [--runs 3]

For a book whose provider accounts hold StreamOne customer ids (``--scale`` customers) it
measures detecting the kinds as ``doctor`` does (two reads of the newest rows) and preparing the
whole sync. For a
book keyed by tenant ids (``--tenant-scale`` customers: every customer's tenant is one
StreamOne request) it measures preparing the sync cold, and again in the same session, where
the tenants read the first time are remembered, and in a new session, where they are read
back from the user cache directory (a temporary one here).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from w365tui.journal import Journal
from w365tui.sandbox import seed as seeding
from w365tui.sandbox.host import Sandbox
from w365tui.sandbox.store import Store
from w365tui.session import open_session
from w365tui.settings import Profile, cache_dir
from w365tui.workflows import sync
from w365tui.workflows.ids import id_usage


def book(scale: int, ids: tuple[str, str]) -> Sandbox:
    started = time.perf_counter()
    store = Store(":memory:")
    seeding.seed(store, seed=1, scale=scale, connector_ids=ids)
    print(f"book of {scale:,} customers ({','.join(ids)}) built in {time.perf_counter() - started:.1f} s")
    return Sandbox(store)


async def timed(make, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = await make()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--tenant-scale", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp()  # the tenants kept between runs go here, not to yours
    journal = Journal(Path(tempfile.mkdtemp()) / "journal.jsonl")
    with book(args.scale, ("customer", "microsoft")) as sandbox:
        session = await open_session("sandbox", Profile(kind="sandbox"), sandbox_url=sandbox.url, journal=journal)
        provider = await sync.provider(session)
        detect, usage = await timed(lambda: id_usage(session.reads, session.profile, provider), args.runs)
        print(f"detect the kinds of id as doctor does (newest {usage.accounts.total:,} provider "
              f"accounts, {usage.subscriptions.total:,} subscriptions): median {detect * 1000:.0f} ms")
        prepare, plan = await timed(lambda: sync.prepare_provider_account_sync(session), args.runs)
        print(f"prepare the provider-account sync, customer ids, {args.scale:,} customers (the kind told from "
              f"the accounts it reads anyway): median {prepare:.2f} s; {plan.summary}")
        await session.close()
    with book(args.tenant_scale, ("tenant", "microsoft")) as sandbox:
        cold, disk, warm = [], [], []
        for _ in range(args.runs):
            shutil.rmtree(cache_dir() / "tenants", ignore_errors=True)
            for times in (cold, disk):  # no tenant known; then a new run with the tenants kept on disk
                session = await open_session("sandbox", Profile(kind="sandbox"), sandbox_url=sandbox.url,
                                             journal=journal)
                seconds, plan = await timed(lambda s=session: sync.prepare_provider_account_sync(s), 1)
                times.append(seconds)
            seconds, _ = await timed(lambda s=session: sync.prepare_provider_account_sync(s), 1)
            warm.append(seconds)  # again in the same session
            await session.close()
        per = statistics.median(cold) / args.tenant_scale * 1000
        print(f"prepare the provider-account sync, tenant ids, {args.tenant_scale:,} customers: no tenant known "
              f"median {statistics.median(cold):.2f} s ({per:.1f} ms a customer); next run, tenants kept on disk "
              f"{statistics.median(disk):.2f} s; again in the same session {statistics.median(warm):.2f} s; "
              f"{plan.summary}")

if __name__ == "__main__":
    asyncio.run(main())
