"""End to end: the installed ``w365tui`` in tmux at 80×24, driven only by keys.

Finds Fabrikam Inc in the customers pane, opens its subscriptions, reviews the replacement of
its manual subscription by the TechData one, applies it with y twice, and checks the sandbox's
database file.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

from tests.e2e.test_tmux_mapping import BINARY, Terminal, isolated, pytestmark  # noqa: F401 (the skip mark)


def test_replace_a_manual_subscription_with_keys_only(tmp_path: Path) -> None:
    assert BINARY.exists(), f"the installed w365tui is not at {BINARY}"
    env = isolated(tmp_path)
    reset = subprocess.run([str(BINARY), "sandbox", "reset"], capture_output=True, text=True, timeout=120,
                           env={**os.environ, **env})
    assert reset.returncode == 0, reset.stderr
    database = tmp_path / "data" / "w365tui" / "sandbox.sqlite3"

    terminal = Terminal(f"w365tui-e2e-{uuid.uuid4().hex[:8]}", env)
    try:
        terminal.start(str(BINARY))
        terminal.wait_for("14 unmapped")
        terminal.keys("2")
        terminal.wait_for("Type to search CRM accounts")
        for key in "fabrikam":  # a key at a time, as typed
            terminal.keys(key, literal=True)
            time.sleep(0.05)
        terminal.wait_for("1 account for “fabrikam”")
        terminal.keys("Down")
        terminal.wait_for("Subscriptions (active/inactive)")
        terminal.keys("Enter")
        terminal.wait_for("Fabrikam Inc · 1 manual · 1 TechData · 1 paired")
        terminal.wait_for("enter: replace")
        terminal.keys("Enter")
        screen = terminal.wait_for("y apply 5 changes + 1 after")
        assert "then y again to" in screen and "Σ LCL 12 → 12 = quantity 12" in screen
        terminal.keys("y")
        terminal.wait_for("Press y again to apply these 5 changes")
        terminal.keys("y")
        terminal.wait_for("Fabrikam Inc · 0 manual · 1 TechData · 0 paired")
        terminal.quit("0 paired")
    finally:
        terminal.close()

    with sqlite3.connect(database) as db:
        (manual, state), = db.execute(
            "SELECT s.work365_subscriptionid, s.statecode FROM work365_subscription s JOIN account a "
            "ON a.accountid = s.work365_subscription_customer WHERE a.name = 'Fabrikam Inc' "
            "AND s.work365_subscriptionname LIKE '%(manual)'").fetchall()
        (techdata, quantity), = db.execute(
            "SELECT s.work365_subscriptionid, s.work365_quantity FROM work365_subscription s JOIN account a "
            "ON a.accountid = s.work365_subscription_customer WHERE a.name = 'Fabrikam Inc' "
            "AND s.work365_subscriptionname NOT LIKE '%(manual)'").fetchall()
        on_t = db.execute("SELECT work365_event, work365_quantity FROM work365_licensechangelog "
                          "WHERE work365_subscription = ?", (techdata,)).fetchall()
        on_m = db.execute("SELECT work365_quantity, statecode FROM work365_licensechangelog "
                          "WHERE work365_subscription = ?", (manual,)).fetchall()
    assert state == 1  # the manual subscription is deactivated
    assert sum(q for _, q in on_t) == quantity == 12 and len(on_t) == 3  # its history moved: Σ = quantity
    assert sorted(on_m) == [(-12, 1), (10, 1)]  # its Create stays; the Deactivate LCL is archived
