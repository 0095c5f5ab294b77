from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from w365tui.journal import Journal
from w365tui.sandbox.host import Sandbox
from w365tui.settings import Profile
from w365tui.ui.app import W365App
from w365tui.ui.panes.provider_accounts import ProviderAccountsPane

P = TypeVar("P")


@dataclass
class Running:
    app: W365App
    pilot: object
    sandbox: Sandbox
    journal: Journal

    @property
    def pane(self) -> ProviderAccountsPane:
        return self.app.query_one(ProviderAccountsPane)

    async def until(self, condition, timeout: float = 15.0) -> None:
        """Let the app run until ``condition()`` holds."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "the app did not get there in time"
            await self.pilot.pause(0.05)

    async def pane_of(self, kind: type[P]) -> P:
        """A pane after the first: mounted once the first screen is painted."""
        await self.until(self.app.panes_ready.is_set)
        return self.app.query_one(kind)

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.pilot.pause()


def app_for(sandbox: Sandbox, journal: Journal, **kwargs) -> W365App:
    return W365App("sandbox", Profile(kind="sandbox"), sandbox_url=sandbox.url, journal=journal, **kwargs)


@pytest.fixture
async def running(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[Running]:
    journal = Journal(tmp_path / "journal.jsonl")
    app = app_for(sandbox, journal)
    async with app.run_test(size=(80, 24)) as pilot:
        state = Running(app, pilot, sandbox, journal)
        await state.until(lambda: state.pane.loaded and state.pane.tenants_loaded)
        yield state
