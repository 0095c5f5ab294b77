"""Benchmark: the LCL-mismatch report over a large book — server-side aggregation beside
client-side paging — in time and requests.

Prints medians (and checks both ways find exactly the subscriptions built to differ). Run with:

    python tests/bench/bench_reports.py [--subscriptions 50000] [--lcls-each 10] [--runs 3]

It builds a book of the demo's customers holding ``--subscriptions`` more subscriptions of
``--lcls-each`` LCLs each (500,000 LCLs by default; created over three years, a subscription's
LCLs close together in time, as a book grows), one in a hundred of them built with Σ ≠ quantity.
The book is served by ``w365tui sandbox serve`` in its own process, over loopback HTTP, and the
report runs through the workflow the pane and ``w365tui report`` call:

- ``aggregate``: subscriptions listed and Σ LCL asked with ``$apply`` (split into ``createdon``
  slices of at most 50,000 rows, the service's limit for one aggregate);
- ``paging``: the same subscriptions and every LCL read page by page (5,000 a page) and summed here.

Requests are counted by the report's meter (each page asked, and each aggregate the service
refused for its size). Goal for ``aggregate``: ≤ 2 s and ≤ 20 requests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from w365tui.journal import Journal
from w365tui.session import open_session
from w365tui.settings import Profile
from w365tui.workflows import reports

BINARY = Path(sys.executable).parent / "w365tui"


def build(db: Path, subscriptions: int, lcls_each: int) -> int:
    """The demo book and the large one beside it; returns how many subscriptions differ."""
    env = {**os.environ, "XDG_DATA_HOME": str(db.parent / "data")}
    subprocess.run([str(BINARY), "sandbox", "reset", "--db", str(db)], check=True, capture_output=True, env=env)
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    sub_template = dict(conn.execute(
        "SELECT * FROM work365_subscription WHERE statecode = 0 AND work365_billingcontract IS NOT NULL "
        "AND work365_subscriptionname NOT LIKE '%(manual)' LIMIT 1").fetchone())
    lcl_template = dict(conn.execute("SELECT * FROM work365_licensechangelog WHERE work365_subscription = ?",
                                     (sub_template["work365_subscriptionid"],)).fetchone())
    customers = [r[0] for r in conn.execute("SELECT accountid FROM account WHERE statecode = 0")]
    start = datetime(2023, 1, 1, tzinfo=UTC)
    span = timedelta(days=3 * 365).total_seconds()
    sub_rows, lcl_rows = [], []
    differ = 0
    for n in range(subscriptions):
        created = start + timedelta(seconds=span * n / subscriptions)
        sub_id = str(uuid.uuid4())
        steps = [10] + [(1 if (n + k) % 3 else -1) for k in range(lcls_each - 1)]
        quantity = sum(steps)
        if n % 100 == 0:
            quantity += 1
            differ += 1
        stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
        sub_rows.append({**sub_template, "work365_subscriptionid": sub_id, "work365_quantity": quantity,
                         "work365_subscription_customer": customers[n % len(customers)],
                         "work365_subscriptionname": f"Bench subscription {n}", "createdon": stamp,
                         "modifiedon": stamp})
        for k, step in enumerate(steps):
            when = (created + timedelta(seconds=k)).strftime("%Y-%m-%dT%H:%M:%SZ")
            lcl_rows.append({**lcl_template, "work365_licensechangelogid": str(uuid.uuid4()),
                             "work365_subscription": sub_id, "work365_quantity": step, "createdon": when,
                             "modifiedon": when})
    for table, rows in (("work365_subscription", sub_rows), ("work365_licensechangelog", lcl_rows)):
        columns = list(rows[0])
        conn.executemany(f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({", ".join("?" for _ in columns)})',
                         [tuple(r[c] for c in columns) for r in rows])
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    return differ


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def one(url: str, method: str, journal: Path) -> tuple[float, int, int, set[str]]:
    session = await open_session("bench", Profile(kind="sandbox", sandbox_url=url, timeout=120),
                                 journal=Journal(journal))
    try:
        started = time.perf_counter()
        report = await reports.run(session, "lcl-mismatch", method=method)
        elapsed = time.perf_counter() - started
    finally:
        await session.close()
    return elapsed, report.requests, report.read, {str(r.key) for r in report.rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=50_000)
    parser.add_argument("--lcls-each", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="w365tui-bench-reports-"))
    try:
        db = root / "book.sqlite3"
        began = time.perf_counter()
        differ = build(db, args.subscriptions, args.lcls_each)
        print(f"book: {args.subscriptions:,} subscriptions and {args.subscriptions * args.lcls_each:,} LCLs more than "
              f"the demo's, {differ:,} of them built to differ (built in {time.perf_counter() - began:.1f} s)")
        port = free_port()
        env = {**os.environ, "XDG_DATA_HOME": str(root / "data")}
        server = subprocess.Popen([str(BINARY), "sandbox", "serve", "--db", str(db), "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            os.environ["XDG_DATA_HOME"] = str(root / "data")
            os.environ["XDG_CACHE_HOME"] = str(root / "cache")
            os.environ["XDG_STATE_HOME"] = str(root / "state")
            results: dict[str, list[tuple[float, int, int]]] = {"aggregate": [], "paging": []}
            found: dict[str, set[str]] = {}
            for run in range(args.runs):
                for method in ("aggregate", "paging"):
                    elapsed, requests, read, keys = asyncio.run(one(url, "auto" if method == "aggregate" else method,
                                                                    root / f"journal-{run}.jsonl"))
                    results[method].append((elapsed, requests, read))
                    found[method] = keys
            assert found["aggregate"] == found["paging"], "the two ways disagree"
            assert len(found["aggregate"]) == differ + 2, "not exactly the demo's two and the ones built to differ"
            print(f"rows reported: {len(found['aggregate']):,} (the demo's own 2 and the {differ:,} built to differ)")
            print(f"{'method':<10} {'median s':>9} {'requests':>9} {'rows read':>10}")
            for method, runs in results.items():
                print(f"{method:<10} {statistics.median(r[0] for r in runs):>9.2f} "
                      f"{statistics.median(r[1] for r in runs):>9.0f} {statistics.median(r[2] for r in runs):>10,.0f}")
            agg, paged = (statistics.median(r[0] for r in results[m]) for m in ("aggregate", "paging"))
            print(f"aggregation is {paged / agg:.1f}× as fast as paging; goal for it: ≤ 2 s and ≤ 20 requests")
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
