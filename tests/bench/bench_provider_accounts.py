"""Benchmark: the provider accounts list at 100,000 customers, beside Textual's DataTable.

Prints medians of several runs; asserts nothing. Run with:

    python tests/bench/bench_provider_accounts.py [--scale 100000] [--runs 3]

It builds a sandbox of ``--scale`` customers, reads the TechData provider's accounts through
Work 365 reads over loopback HTTP once, then measures, for the app's virtualised RecordTable and
for the stock DataTable holding the same rows: the time from handing over the rows to the
first paint, and the time per filter keystroke while typing a search.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from w365tui.clients.odata import DataverseClient
from w365tui.journal import Journal
from w365tui.sandbox import seed as seeding
from w365tui.sandbox.host import Sandbox
from w365tui.sandbox.store import Store
from w365tui.settings import STREAMONE_CONNECTORS, Profile
from w365tui.ui.app import W365App
from w365tui.ui.panes.provider_accounts import COLUMNS, ProviderAccountsPane
from w365tui.ui.widgets.record_table import RecordTable, Row
from w365tui.work365.reads import Reads
from w365tui.work365.schema import load_schema

QUERY = "acme 12"  # typed one key at a time


class Harness(App[None]):
    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


async def fetch_rows(sandbox: Sandbox) -> list[tuple[str, ...]]:
    async with DataverseClient(sandbox.dataverse_url) as dv:
        schema, _, _ = await load_schema(dv)
        reads = Reads(dv, schema)
        provider = await reads.streamone_provider(STREAMONE_CONNECTORS)
        pairs = [pair async for page in reads.provider_account_pages(provider.id) for pair in page]
    return [("●" if pa.is_mapped else "○", pa.name, pa.provider_specific_id or "", "", name or "(unmapped)")
            for pa, name in pairs]


async def record_table_run(cells: list[tuple[str, ...]]) -> tuple[float, list[float]]:
    table = RecordTable(COLUMNS)
    app = Harness(table)
    async with app.run_test(size=(120, 40)) as pilot:
        rows = [Row(i, c) for i, c in enumerate(cells)]
        started = time.perf_counter()
        table.set_rows(rows)
        await pilot.pause()
        paint = time.perf_counter() - started
        keys = []
        for end in range(1, len(QUERY) + 1):
            started = time.perf_counter()
            table.set_filter(QUERY[:end])
            await pilot.pause()
            keys.append(time.perf_counter() - started)
    return paint, keys


async def data_table_run(cells: list[tuple[str, ...]]) -> tuple[float, list[float]]:
    table: DataTable = DataTable()
    app = Harness(table)
    async with app.run_test(size=(120, 40)) as pilot:
        table.add_columns(*(c.label or "state" for c in COLUMNS))
        started = time.perf_counter()
        table.add_rows(cells)
        await pilot.pause()
        paint = time.perf_counter() - started
        haystack = ["\t".join(c).casefold() for c in cells]
        keys = []
        for end in range(1, len(QUERY) + 1):
            needle = QUERY[:end]
            started = time.perf_counter()
            table.clear()
            table.add_rows([c for c, h in zip(cells, haystack, strict=True) if needle in h])
            await pilot.pause()
            keys.append(time.perf_counter() - started)
    return paint, keys


async def app_first_paint(sandbox: Sandbox, journal: Journal) -> tuple[float, float]:
    """From starting the app to the first rows painted, and to the whole list (HTTP included)."""
    started = time.perf_counter()
    app = W365App("sandbox", Profile(kind="sandbox"), sandbox_url=sandbox.url, journal=journal)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(ProviderAccountsPane)
        while not pane.rows:
            await pilot.pause(0.005)
        await pilot.pause()
        first = time.perf_counter() - started
        while not pane.loaded:
            await pilot.pause(0.01)
        await pilot.pause()
        filled = time.perf_counter() - started
        pane.workers.cancel_group(pane, "accounts-tenants")
    return first, filled


def summary(name: str, paints: list[float], keys: list[list[float]]) -> str:
    per_key = statistics.median([k for run in keys for k in run])
    worst = statistics.median([max(run) for run in keys])
    return (f"{name:<28} first paint median {statistics.median(paints) * 1000:8.0f} ms   "
            f"filter keystroke median {per_key * 1000:6.0f} ms (slowest key, median of runs {worst * 1000:6.0f} ms)")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from pathlib import Path

    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp()  # what the app caches per org goes here, not to yours

    started = time.perf_counter()
    store = Store(":memory:")
    seeding.seed(store, seed=1, scale=args.scale)
    store.set_meta("organization_id", str(uuid.uuid4()))  # a book of its own: an org of its own
    print(f"sandbox of {args.scale:,} customers built in {time.perf_counter() - started:.1f} s")
    journal = Journal(Path(tempfile.mkdtemp()) / "journal.jsonl")
    with Sandbox(store) as sandbox:
        started = time.perf_counter()
        cells = await fetch_rows(sandbox)
        print(f"{len(cells):,} provider accounts read over loopback HTTP in {time.perf_counter() - started:.1f} s")
        results = {}
        for name, run in (("RecordTable (w365tui)", record_table_run), ("DataTable (Textual)", data_table_run)):
            paints, keys = [], []
            for _ in range(args.runs):
                paint, key_times = await run(cells)
                paints.append(paint)
                keys.append(key_times)
            results[name] = (paints, keys)
            print(summary(name, paints, keys))
        ours = statistics.median(results["RecordTable (w365tui)"][0])
        stock = statistics.median(results["DataTable (Textual)"][0])
        print(f"first paint: RecordTable is {stock / ours:,.0f}× faster than DataTable on the same rows")
        apps = [await app_first_paint(sandbox, journal) for _ in range(args.runs)]
        print(f"whole app, start to first rows painted (HTTP included): median "
              f"{statistics.median(a[0] for a in apps):.2f} s; to the full list: median "
              f"{statistics.median(a[1] for a in apps):.2f} s")


if __name__ == "__main__":
    asyncio.run(main())
