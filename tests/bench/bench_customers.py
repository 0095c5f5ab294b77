"""Benchmark: searching CRM accounts as you type, over a book of 100,000 customers.

Prints medians; asserts nothing. Run with:

    python tests/bench/bench_customers.py [--scale 100000] [--runs 5]

It builds a sandbox of ``--scale`` generated customers (about 95% have a CRM account), then
measures, in the customers pane at 120×40 driven by Textual's pilot:

- a keystroke the last answer holds (the word only grows): ranked locally and repainted;
- a keystroke that asks the service: a word typed after a rest is asked at once; a key typed
  close on another waits for typing to rest (shown with and without that pause);

and, outside the pane, one question to the service over loopback HTTP and the local ranking of
its answer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from w365tui.journal import Journal
from w365tui.sandbox import seed as seeding
from w365tui.sandbox.host import Sandbox
from w365tui.sandbox.store import Store
from w365tui.session import open_session
from w365tui.settings import Profile
from w365tui.ui.app import W365App
from w365tui.ui.panes import customers as pane_module
from w365tui.ui.panes.customers import CustomersPane
from w365tui.ui.panes.provider_accounts import ProviderAccountsPane
from w365tui.workflows.customers import customer, find

# typed a key at a time; a key whose answer the last one holds is ranked locally, any other asks the service
TYPED = ["acme ana", "summit 12", "golden rob", "pioneer 4", "river log", "zenith 77", "maple legal"]
WORDS = [(t.split()[0], t) for t in TYPED]


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms"


async def outside_the_pane(sandbox: Sandbox, journal: Journal, runs: int) -> None:
    session = await open_session("sandbox", Profile(kind="sandbox"), sandbox_url=sandbox.url, journal=journal)
    asked, ranked, sizes = [], [], []
    for _ in range(runs):
        for first, longer in WORDS:
            started = time.perf_counter()
            found = await find(session, first)
            asked.append(time.perf_counter() - started)
            sizes.append(len(found.accounts))
            started = time.perf_counter()
            found.hits(longer)
            ranked.append(time.perf_counter() - started)
    glances = []
    for hit in found.hits()[:10]:
        started = time.perf_counter()
        await customer(session, hit.account.id)
        glances.append(time.perf_counter() - started)
    await session.close()
    print(f"one customer at a glance (provider accounts, StreamOne tenants, contracts, subscriptions): {ms(glances)}")
    print(f"one question to the service (loopback HTTP, ≤500 accounts back, median {statistics.median(sizes):.0f}):"
          f" {ms(asked)}")
    print(f"local ranking of that answer for a longer text:                     {ms(ranked)}")


async def in_the_pane(sandbox: Sandbox, journal: Journal, runs: int) -> None:
    app = W365App("sandbox", Profile(kind="sandbox"), sandbox_url=sandbox.url, journal=journal)
    local, server, at_once = [], [], []
    keyed = 0.0
    async with app.run_test(size=(120, 40)) as pilot:
        first = app.query_one(ProviderAccountsPane)
        while not (first.loaded and first.tenants_loaded):  # pane 1's start-up reading done: not timed here
            await pilot.pause(0.05)
        await pilot.press("2")
        pane = app.query_one(CustomersPane)
        for _ in range(runs):
            for text in TYPED:
                pane.box.value = ""
                await pilot.pause()
                for end in range(2, len(text) + 1):
                    typed = text[:end]
                    before = pane.found
                    started = time.perf_counter()
                    # as the pane decides: a word typed after a rest is asked at once
                    rested = time.monotonic() - keyed >= pane_module.REST and len(typed) >= 3
                    keyed = time.monotonic()
                    pane.box.value = typed
                    await pilot.pause()
                    if pane.found is before and before is not None and before.narrows_to(typed):
                        local.append(time.perf_counter() - started)  # ranked and repainted already
                        continue
                    while not (pane.found is not None and pane.found.text == typed):
                        await pilot.pause(0.002)
                    await pilot.pause()
                    (at_once if rested else server).append(time.perf_counter() - started)
    rest = pane_module.SEARCH_PAUSE
    print(f"pane, keystrokes ranked locally → repainted ({len(local)}):                  {ms(local)}")
    print(f"pane, a word typed after a rest, asked at once → repainted ({len(at_once)}):  {ms(at_once)}")
    print(f"pane, keys typed close together → repainted ({len(server)}):               {ms(server)} "
          f"(of which {rest * 1000:.0f} ms waiting for typing to rest: {ms([s - rest for s in server])} without it)")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp()  # what the app caches per org goes here, not to yours
    started = time.perf_counter()
    store = Store(":memory:")
    seeding.seed(store, seed=1, scale=args.scale)
    store.set_meta("organization_id", str(uuid.uuid4()))  # a book of its own: an org of its own
    accounts = store.count("account")
    print(f"sandbox of {args.scale:,} customers ({accounts:,} CRM accounts) built in "
          f"{time.perf_counter() - started:.1f} s")
    journal = Journal(Path(tempfile.mkdtemp()) / "journal.jsonl")
    with Sandbox(store) as sandbox:
        await outside_the_pane(sandbox, journal, args.runs)
        await in_the_pane(sandbox, journal, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
