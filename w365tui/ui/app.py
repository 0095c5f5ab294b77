"""The first screen: the sandbox's provider accounts, mapped or not.

The sandbox runs on loopback in a background thread; the list is fetched over HTTP in a worker,
so the event loop never waits on it.
"""

from __future__ import annotations

import httpx
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from w365tui.settings import Profile
from w365tui.ui.text import literal
from w365tui.work365.preview import ProviderAccountRow, sandbox_provider_accounts


class W365App(App[None]):
    TITLE = "w365tui"
    CSS = """
    #status { height: 1; padding: 0 1; }
    DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("r", "reload", "Reload", id="provider_accounts.reload"),
        Binding("j", "cursor_down", "Down", show=False, id="list.down"),
        Binding("k", "cursor_up", "Up", show=False, id="list.up"),
    ]

    def __init__(self, profile_name: str, profile: Profile, sandbox_url: str | None = None):
        super().__init__()
        self.profile_name = profile_name
        self.profile = profile
        self._sandbox = None
        self._sandbox_url = sandbox_url or (str(profile.sandbox_url).rstrip("/") if profile.sandbox_url else None)
        self.sub_title = f"profile {profile_name} · SANDBOX" if profile.is_sandbox else f"profile {profile_name}"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Starting the sandbox…", id="status")
        yield DataTable(id="provider-accounts", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Provider account", width=34)
        table.add_column("Customer id", width=11)
        table.add_column("Provider", width=12)
        table.add_column("CRM account", width=30)
        self.load()

    def _start_sandbox(self) -> str:
        if self._sandbox_url:
            return self._sandbox_url
        from w365tui.sandbox.host import Sandbox, default_db_path, open_store

        path = self.profile.sandbox_db or default_db_path()
        store = open_store(path, seed=self.profile.seed, scale=self.profile.scale)
        self._sandbox = Sandbox(store).start()
        self._sandbox_url = self._sandbox.url
        return self._sandbox_url

    @work(exclusive=True, group="provider-accounts")
    async def load(self) -> None:
        status = self.query_one("#status", Static)
        try:
            import asyncio

            url = await asyncio.to_thread(self._start_sandbox)
            status.update(f"Loading provider accounts from {url} …")
            async with httpx.AsyncClient(base_url=f"{url}/api/data/v9.2/", timeout=30) as client:
                rows = await sandbox_provider_accounts(client)
        except (httpx.HTTPError, OSError) as error:
            status.update(f"Could not load provider accounts: {error}")
            self.notify(str(error), title="Sandbox", severity="error")
            return
        self.show_rows(rows)

    def show_rows(self, rows: list[ProviderAccountRow]) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for row in rows:
            table.add_row(
                literal(row.name),
                literal(row.provider_specific_id),
                literal(row.provider),
                literal(row.account) if row.account else literal("— unmapped —", style="bold yellow"),
            )
        unmapped = sum(1 for r in rows if r.account is None)
        self.query_one("#status", Static).update(
            f"{len(rows)} provider accounts, {unmapped} unmapped · SANDBOX"
        )

    def action_reload(self) -> None:
        self.load()

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def on_unmount(self) -> None:
        if self._sandbox is not None:
            self._sandbox.stop()
            self._sandbox.store.close()
