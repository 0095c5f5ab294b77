"""Shared fixtures. Tests never read the developer's own settings or data: every user
directory points into a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from w365tui.sandbox.host import Sandbox

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("W365TUI_CONFIG", str(home / "config" / "config.toml"))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))


@pytest.fixture
def naming() -> str:
    """The names the sandbox's Web API shows: Work 365's published ones unless a test directory
    asks for the compact ones (or both)."""
    return "published"


@pytest.fixture
def connector_ids() -> tuple[str, str]:
    """Which ids the book's provider accounts and subscriptions hold (as Work 365's connector
    wrote them): the StreamOne customer id and Microsoft's subscription id unless a test asks."""
    return ("customer", "microsoft")


@pytest.fixture
def profile():
    """The settings profile a session opens with: the sandbox's defaults unless a test asks."""
    from w365tui.settings import Profile

    return Profile(kind="sandbox")


@pytest.fixture
def sandbox(naming: str, connector_ids: tuple[str, str]) -> Iterator[Sandbox]:
    """A freshly seeded demo book, served over real loopback HTTP on a free port."""
    with Sandbox.in_memory(seed=1, naming=naming, connector_ids=connector_ids) as running:
        yield running
    running.store.close()


@pytest.fixture
def dv(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """An httpx client on the sandbox's Dataverse Web API, with the headers the API expects."""
    headers = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
    with httpx.Client(base_url=sandbox.dataverse_url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def ion(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=30) as client:
        yield client


@pytest.fixture
async def session(sandbox: Sandbox, profile, tmp_path: Path):
    """A working session (clients, schema, reads, executor, journal) on the demo sandbox."""
    from w365tui.journal import Journal
    from w365tui.session import open_session

    opened = await open_session("sandbox", profile, sandbox_url=sandbox.url,
                                journal=Journal(tmp_path / "journal.jsonl"))
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def served_demo(tmp_path: Path) -> Iterator[object]:
    """The installed ``w365tui sandbox serve`` on a fresh demo book, as an operator's script meets it."""
    from tests.test_cli_plans import BINARY, serve

    assert BINARY.exists(), f"the installed w365tui is not at {BINARY}"
    running = serve(tmp_path / "served", rename=False)
    try:
        yield running
    finally:
        running.process.terminate()
        running.process.wait(timeout=10)
