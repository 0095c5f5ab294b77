"""Render SVG screenshots of each pane from a fresh demo sandbox.

    python -m w365tui.ui.screenshots [--out screenshots] [--size 120x40]

The same scenes back the snapshot tests, so what the README shows is what the tests check.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

from w365tui.journal import Journal
from w365tui.sandbox.host import Sandbox
from w365tui.settings import Profile
from w365tui.ui.app import W365App
from w365tui.ui.panes.customers import CustomersPane
from w365tui.ui.panes.provider_accounts import ProviderAccountsPane
from w365tui.ui.screens import AccountPickerScreen, ReviewScreen

Scene = Callable[[W365App, object], Awaitable[None]]


async def _until(pilot: object, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not reach the scene in time")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


async def _ready(app: W365App, pilot: object) -> None:
    pane = app.query_one(ProviderAccountsPane)
    await _until(pilot, lambda: pane.loaded and pane.tenants_loaded)
    await _until(pilot, lambda: pane.current is not None and (pane.current.account.is_mapped
                                                              or pane.current.account.id in pane.suggestions))
    await pilot.pause()  # type: ignore[attr-defined]


async def _press(pilot: object, *keys: str) -> None:
    await pilot.press(*keys)  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]


async def provider_accounts(app: W365App, pilot: object) -> None:
    await _ready(app, pilot)
    await _press(pilot, "j", "j")
    pane = app.query_one(ProviderAccountsPane)
    await _until(pilot, lambda: pane.current is not None and pane.current.account.id in pane.suggestions)


async def map_dialog(app: W365App, pilot: object) -> None:
    await _ready(app, pilot)
    await _press(pilot, "slash", *"Contoso Ltd", "enter")
    pane = app.query_one(ProviderAccountsPane)
    await _until(pilot, lambda: pane.current is not None and pane.current.account.id in pane.suggestions)
    await _press(pilot, "m")
    await _until(pilot, lambda: isinstance(app.screen, AccountPickerScreen))
    await pilot.pause(0.1)  # type: ignore[attr-defined]


async def sync_preview(app: W365App, pilot: object) -> None:
    await _ready(app, pilot)
    await _press(pilot, "a")
    await _until(pilot, lambda: isinstance(app.screen, ReviewScreen))


async def map_review(app: W365App, pilot: object) -> None:
    await map_dialog(app, pilot)
    await _press(pilot, "enter")
    await _until(pilot, lambda: isinstance(app.screen, ReviewScreen))


async def journal(app: W365App, pilot: object) -> None:
    from w365tui.ui.journal import JournalScreen

    await map_review(app, pilot)
    await _press(pilot, "y")
    pane = app.query_one(ProviderAccountsPane)
    await _until(pilot, lambda: pane.current is not None and pane.current.account.is_mapped)
    await _press(pilot, "J")
    await _until(pilot, lambda: isinstance(app.screen, JournalScreen))
    await pilot.pause(0.1)  # type: ignore[attr-defined]


async def help_screen(app: W365App, pilot: object) -> None:
    await _ready(app, pilot)
    await _press(pilot, "question_mark")


async def _customer(app: W365App, pilot: object, text: str) -> CustomersPane:
    """Pane 2 with ``text`` searched and the first account read, the list focused."""
    await _ready(app, pilot)
    await _press(pilot, "2", *text)
    pane = app.query_one(CustomersPane)
    await _until(pilot, lambda: pane.current is not None and pane.current.id in pane.views
                 and pane.current.id in pane.detailed)
    await _press(pilot, "down")
    return pane


async def customers(app: W365App, pilot: object) -> None:
    await _customer(app, pilot, "co")


async def customers_hostile(app: W365App, pilot: object) -> None:
    await _customer(app, pilot, "evil")


async def customers_map(app: W365App, pilot: object) -> None:
    from w365tui.ui.screens import ChoiceScreen

    await _customer(app, pilot, "contoso")
    await _press(pilot, "m")
    await _until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
    await pilot.pause(0.1)  # type: ignore[attr-defined]


async def _subscriptions(app: W365App, pilot: object, text: str) -> object:
    from w365tui.ui.panes.subscriptions import SubscriptionsPane

    await _customer(app, pilot, text)
    await _press(pilot, "enter")
    pane = app.query_one(SubscriptionsPane)
    await _until(pilot, lambda: pane.view is not None)
    await pilot.pause()  # type: ignore[attr-defined]
    return pane


async def subscriptions(app: W365App, pilot: object) -> None:
    await _subscriptions(app, pilot, "humongous")


async def replace_review(app: W365App, pilot: object) -> None:
    from w365tui.ui.screens import ReviewScreen

    await _subscriptions(app, pilot, "fabrikam")
    await _press(pilot, "enter")
    await _until(pilot, lambda: isinstance(app.screen, ReviewScreen))
    await pilot.pause(0.1)  # type: ignore[attr-defined]


async def lcls(app: W365App, pilot: object) -> None:
    from w365tui.ui.panes.lcls import LicenseChangeLogsPane

    await _subscriptions(app, pilot, "humongous")
    await _press(pilot, "l")
    pane = app.query_one(LicenseChangeLogsPane)
    await _until(pilot, lambda: pane.listing is not None)
    await _press(pilot, "down", "down", "space", "up")  # the last LCL marked to archive
    await pilot.pause(0.1)  # type: ignore[attr-defined]


async def reports(app: W365App, pilot: object) -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    from w365tui.ui.panes.reports import ReportsPane

    await _ready(app, pilot)
    await _press(pilot, "5")
    pane = app.query_one(ReportsPane)
    await _until(pilot, lambda: pane.report is not None and not pane.running)
    pane.report = replace(pane.report, generated=datetime(2026, 11, 2, 9, 30, tzinfo=UTC))  # the same every time
    pane._show()
    await pilot.pause(0.1)  # type: ignore[attr-defined]


async def onboarding(app: W365App, pilot: object) -> None:
    """School of Fine Art taken from unmapped to done by the checklist's keys, its checklist shown."""
    from w365tui.ui.onboarding import OnboardingScreen
    from w365tui.ui.screens import ChoiceScreen

    def checked(marks: str) -> Callable[[], bool]:
        def ready() -> bool:
            screen = app.screen
            return isinstance(screen, OnboardingScreen) and screen.checklist is not None and \
                "".join(s.mark for s in screen.checklist.steps) == marks
        return ready

    await _ready(app, pilot)
    pane = app.query_one(ProviderAccountsPane)
    await _press(pilot, "slash", *"School of Fine Art", "enter")
    await _until(pilot, lambda: pane.current is not None and pane.current.account.name == "School of Fine Art")
    await _press(pilot, "O")
    await _until(pilot, checked("✓✓→····"))
    await _press(pilot, "enter")
    await _until(pilot, lambda: isinstance(app.screen, AccountPickerScreen)
                 and any(t.current_row is not None for t in app.screen.query("#picker-results")))  # type: ignore[attr-defined]
    await _press(pilot, "enter")
    await _until(pilot, lambda: isinstance(app.screen, ReviewScreen))
    await _press(pilot, "y")
    await _until(pilot, lambda: pane.current is not None and pane.current.account.is_mapped)
    await _press(pilot, "O")
    await _until(pilot, checked("✓✓✓→··→"))
    await _press(pilot, "enter")
    customers = app.query_one(CustomersPane)
    await _until(pilot, lambda: customers.current is not None and customers.table.has_focus)
    await _press(pilot, "b")
    await _until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
    await _press(pilot, "enter")
    await _until(pilot, lambda: isinstance(app.screen, ReviewScreen))
    await _press(pilot, "y")
    await _until(pilot, lambda: not isinstance(app.screen, ReviewScreen) and not customers.applying)
    await _press(pilot, "O")
    await _until(pilot, checked("✓✓✓✓✓✓✓"))
    await pilot.pause(0.1)  # type: ignore[attr-defined]


async def onboarding_summary(app: W365App, pilot: object) -> None:
    from w365tui.ui.onboarding import SummaryScreen

    await onboarding(app, pilot)
    await _press(pilot, "t")
    await _until(pilot, lambda: isinstance(app.screen, SummaryScreen))
    await pilot.pause(0.1)  # type: ignore[attr-defined]


SCENES: dict[str, Scene] = {
    "1-provider-accounts": provider_accounts,
    "1-map-dialog": map_dialog,
    "1-map-review": map_review,
    "1-sync-preview": sync_preview,
    "journal": journal,
    "2-customers": customers,
    "2-customers-hostile": customers_hostile,
    "2-customers-map": customers_map,
    "3-subscriptions": subscriptions,
    "3-replace-review": replace_review,
    "4-license-change-logs": lcls,
    "5-reports": reports,
    "onboarding": onboarding,
    "onboarding-summary": onboarding_summary,
    "help": help_screen,
}


@contextlib.contextmanager
def _steady_journal() -> Iterator[None]:
    """Plan ids and times as a screenshot can show them the same every time."""
    from w365tui import journal

    ids = (uuid.UUID(int=n) for n in itertools.count(0x5CEE0000_0000_4000_8000_000000000001))
    saved = journal.uuid, journal._now
    journal.uuid = SimpleNamespace(uuid4=lambda: next(ids))  # type: ignore[assignment]
    journal._now = lambda: "2026-11-02T09:30:00.000Z"
    try:
        yield
    finally:
        journal.uuid, journal._now = saved


async def capture(scene: str, size: tuple[int, int], journal_dir: Path | None = None) -> str:
    """The SVG of one scene at ``size``, from a fresh demo sandbox."""
    journal_dir = journal_dir or Path(tempfile.mkdtemp())
    with _steady_journal(), Sandbox.in_memory(seed=1) as sandbox:
        app = W365App("sandbox", Profile(kind="sandbox"), sandbox_url=sandbox.url,
                      journal=Journal(journal_dir / "journal.jsonl"))
        async with app.run_test(size=size) as pilot:
            await SCENES[scene](app, pilot)
            svg = app.export_screenshot(title=f"w365tui — {scene}")
        sandbox.store.close()
    return svg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--size", default="120x40", help="COLUMNSxROWS")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    for scene in SCENES:
        svg = asyncio.run(capture(scene, (width, height)))
        path = args.out / f"{scene}.svg"
        path.write_text(svg, encoding="utf-8")
        print(path)


if __name__ == "__main__":
    main()
