"""Benchmark: building a large sandbox, and reading it back over loopback HTTP.

Prints medians of several runs; never asserts timings. Run with:

    python tests/bench/bench_sandbox.py [--scale 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

from w365tui.sandbox import seed as seeding
from w365tui.sandbox.host import Sandbox
from w365tui.sandbox.store import Store


def build(scale: int) -> tuple[float, Store]:
    started = time.perf_counter()
    store = Store(":memory:")
    seeding.seed(store, seed=1, scale=scale)
    return time.perf_counter() - started, store


def page_all(client: httpx.Client, page_size: int) -> tuple[float, int]:
    started = time.perf_counter()
    url: str | None = "work365_provideraccounts?$select=work365_provideraccount_name,_work365_account_value"
    rows = 0
    while url:
        body = client.get(url, headers={"Prefer": f"odata.maxpagesize={page_size}"}).json()
        rows += len(body["value"])
        url = body.get("@odata.nextLink")
    return time.perf_counter() - started, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    builds = []
    store = None
    for _ in range(args.runs):
        seconds, store = build(args.scale)
        builds.append(seconds)
    assert store is not None
    counts = {t: store.count(t) for t in ("account", "work365_provideraccount", "work365_subscription",
                                          "work365_licensechangelog", "ion_customer", "ion_subscription")}
    print(f"build {args.scale:,} customers: median {statistics.median(builds):.2f} s over {args.runs} runs "
          f"({', '.join(f'{b:.2f}' for b in builds)})")
    print("  rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))

    with Sandbox(store) as sandbox, httpx.Client(base_url=sandbox.dataverse_url, timeout=300) as client:
        for page_size in (500, 5000):
            times = []
            for _ in range(args.runs):
                seconds, rows = page_all(client, page_size)
                times.append(seconds)
            print(f"page all provider accounts at maxpagesize {page_size}: median {statistics.median(times):.2f} s "
                  f"for {rows:,} rows ({rows / statistics.median(times):,.0f} rows/s)")
        filters = []
        for index in range(20):
            started = time.perf_counter()
            client.get("accounts", params={"$select": "name", "$filter": f"contains(name,'{index} ')", "$top": "50"})
            filters.append(time.perf_counter() - started)
        print(f"contains() search over {counts['account']:,} accounts: median {statistics.median(filters) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
