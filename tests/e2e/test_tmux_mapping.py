"""End to end: the installed ``w365tui`` in tmux at 80×24, driven only by keys.

Maps an unmapped provider account to its CRM account, then checks the mapping in the
sandbox's database file.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

BINARY = Path(sys.executable).parent / "w365tui"


def tmux_available() -> bool:
    return shutil.which("tmux") is not None


pytestmark = pytest.mark.skipif(not tmux_available() and not os.environ.get("CI"),
                                reason="tmux is not installed (CI installs it and runs this test)")


class Terminal:
    def __init__(self, socket: str, env: dict[str, str]):
        self.socket = socket
        self.env = env

    def tmux(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def start(self, command: str) -> None:
        exports = " ".join(f"{k}={v}" for k, v in self.env.items())
        self.tmux("new-session", "-d", "-s", "e2e", "-x", "80", "-y", "24", f"env {exports} {command}; sleep 60")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-t", "e2e", "-p")

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", "e2e", *(["-l"] if literal else []), *keys)

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear; the screen shows:\n{screen}")
            time.sleep(0.2)

    def quit(self, showing: str, timeout: float = 20.0) -> None:
        """Press q and wait until ``showing`` is gone from the screen (the app has closed)."""
        self.keys("q")
        deadline = time.monotonic() + timeout
        while showing in self.screen() and time.monotonic() < deadline:
            time.sleep(0.2)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def isolated(tmp_path: Path) -> dict[str, str]:
    """Settings, data, state and cache of the app under ``tmp_path``, for a 256-colour terminal."""
    return {
        "W365TUI_CONFIG": str(tmp_path / "config.toml"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "TERM": "xterm-256color",
    }


def test_map_an_unmapped_provider_account_with_keys_only(tmp_path: Path) -> None:
    assert BINARY.exists(), f"the installed w365tui is not at {BINARY}"
    env = isolated(tmp_path)
    reset = subprocess.run([str(BINARY), "sandbox", "reset"], capture_output=True, text=True, timeout=120,
                           env={**os.environ, **env})
    assert reset.returncode == 0, reset.stderr
    database = tmp_path / "data" / "w365tui" / "sandbox.sqlite3"
    assert database.exists()

    terminal = Terminal(f"w365tui-e2e-{uuid.uuid4().hex[:8]}", env)
    try:
        terminal.start(str(BINARY))
        terminal.wait_for("14 unmapped")
        terminal.wait_for("Suggested:")  # tenants from StreamOne are in
        terminal.keys("/")
        terminal.wait_for("filter: type to narrow")
        terminal.keys("Contoso Ltd", literal=True)
        terminal.keys("Enter")
        terminal.wait_for("1 of 29 shown")
        terminal.wait_for("Suggested: Contoso Ltd")
        terminal.keys("m")
        terminal.wait_for("to a CRM account")
        terminal.keys("Enter")
        terminal.wait_for("y apply 1 change")  # the review: CRM account — → Contoso Ltd
        terminal.keys("y")
        screen = terminal.wait_for("13 unmapped")
        assert "● Contoso Ltd" in screen
        terminal.keys("J")  # the journal lists the plan as applied; u shows its undo for review
        screen = terminal.wait_for("Map Contoso Ltd to Contoso Ltd")
        assert "applied" in screen
        terminal.keys("u")
        terminal.wait_for("Undo: Map Contoso Ltd to Contoso Ltd")
        terminal.keys("Escape")
        terminal.keys("Escape")
        terminal.wait_for("13 unmapped")
        terminal.quit("13 unmapped")
    finally:
        terminal.close()

    with sqlite3.connect(database) as db:
        mapped = db.execute(
            "SELECT a.name FROM work365_provideraccount p JOIN account a ON a.accountid = p.work365_account "
            "WHERE p.work365_provideraccount_name = 'Contoso Ltd'").fetchall()
    assert mapped == [("Contoso Ltd",)]
    journal = (tmp_path / "data" / "w365tui" / "journal.jsonl").read_text()
    assert '"outcome":"committed"' in journal
