"""End to end: the installed ``w365tui`` in tmux at 80×24, driven only by keys.

Two Update LCLs (+1 and −1) are put on Fabrikam's TechData subscription in the sandbox; then, by keys alone, the operator finds Fabrikam, opens its subscriptions and the LCLs of
the TechData one, marks the two and archives them — and the sandbox's database shows them
archived.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

from tests.e2e.test_tmux_mapping import BINARY, Terminal, isolated, pytestmark  # noqa: F401 (the skip mark)


def test_archive_two_lcls_with_keys_only(tmp_path: Path) -> None:
    assert BINARY.exists(), f"the installed w365tui is not at {BINARY}"
    env = isolated(tmp_path)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BINARY), *args], capture_output=True, text=True, timeout=120,
                              env={**os.environ, **env})

    assert run("sandbox", "reset").returncode == 0
    database = tmp_path / "data" / "w365tui" / "sandbox.sqlite3"
    with sqlite3.connect(database) as db:
        ((techdata,),) = db.execute(
            "SELECT s.work365_subscriptionid FROM work365_subscription s JOIN account a ON a.accountid = "
            "s.work365_subscription_customer WHERE a.name = 'Fabrikam Inc' AND s.work365_subscriptionname "
            "NOT LIKE '%(manual)'").fetchall()
        create = dict(zip([c[1] for c in db.execute("PRAGMA table_info(work365_licensechangelog)")],
                          db.execute("SELECT * FROM work365_licensechangelog WHERE work365_subscription = ?",
                                     (techdata,)).fetchone(), strict=True))
        update = db.execute("SELECT work365_event FROM work365_licensechangelog WHERE work365_event != ? LIMIT 1",
                            (create["work365_event"],)).fetchone()[0]  # an Update elsewhere in the book
        for quantity, day in ((1, "2025-01-01"), (-1, "2025-02-01")):  # Σ stays 12
            row = {**create, "work365_licensechangelogid": str(uuid.uuid4()), "work365_event": update,
                   "work365_quantity": quantity, "work365_effectivedate": day}
            db.execute(f"INSERT INTO work365_licensechangelog ({', '.join(row)}) VALUES "
                       f"({', '.join('?' for _ in row)})", tuple(row.values()))

    terminal = Terminal(f"w365tui-e2e-{uuid.uuid4().hex[:8]}", env)
    try:
        terminal.start(str(BINARY))
        terminal.wait_for("14 unmapped")
        terminal.keys("2")
        terminal.wait_for("Type to search CRM accounts")
        for key in "fabrikam":
            terminal.keys(key, literal=True)
            time.sleep(0.05)
        terminal.wait_for("1 account for “fabrikam”")
        terminal.keys("Down")
        terminal.wait_for("Subscriptions (active/inactive)")
        terminal.keys("Enter")
        terminal.wait_for("Fabrikam Inc · 1 manual · 1 TechData · 1 paired")
        terminal.keys("L")  # the pair's TechData subscription
        terminal.wait_for("Microsoft 365 Business Standard (monthly) ·")
        terminal.wait_for("Σ LCL 12 = quantity 12")
        terminal.keys("Down")
        terminal.keys("space")  # marks the +1 and moves on to the -1
        terminal.keys("space")
        terminal.wait_for("2 marked, 0 edited")
        terminal.keys("Enter")
        terminal.wait_for("y apply 2 changes")
        terminal.keys("y")
        terminal.wait_for("Saved")  # the notification (its text wraps as the toast's width allows)
        terminal.wait_for("Σ LCL 12 = quantity 12")
        terminal.quit("Σ LCL 12")
    finally:
        terminal.close()

    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT work365_quantity, statecode FROM work365_licensechangelog "
                          "WHERE work365_subscription = ? ORDER BY work365_effectivedate", (techdata,)).fetchall()
    assert rows == [(12, 0), (1, 1), (-1, 1)]  # the two added LCLs archived; the Create untouched
