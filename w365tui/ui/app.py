"""The app shell: numbered panes, header, footer, help, command palette, remappable keys.

All I/O runs in workers; a worker's failure becomes a notification and the app stays up.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from w365tui.journal import Journal
from w365tui.session import Session, SessionError, open_session
from w365tui.settings import Profile
from w365tui.ui.panes.provider_accounts import ProviderAccountsPane
from w365tui.ui.screens import HelpScreen

PANES = (
    ("provider-accounts", "1 Provider accounts"),
    ("subscriptions", "2 Subscriptions"),
    ("lcls", "3 License change logs"),
    ("reports", "4 Reports"),
)
COMING = {
    "subscriptions": "Side-by-side comparison and retirement of manual subscriptions arrive in the next release.",
    "lcls": "Editing license change logs, with archive toggles, arrives in a coming release.",
    "reports": "The mismatch reports, each leading straight to its fix, arrive in a coming release.",
}


class W365App(App[None]):
    TITLE = "w365tui"
    CSS = """
    Header.sandbox { background: $warning 60%; color: $text; }
    Header.readonly { background: $secondary 60%; }
    .coming { padding: 1 2; color: $text-muted; }
    TabbedContent, TabPane { height: 1fr; }
    TabPane { padding: 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("1", "pane('provider-accounts')", "Accounts", show=False, id="app.pane.1"),
        Binding("2", "pane('subscriptions')", "Subscriptions", show=False, id="app.pane.2"),
        Binding("3", "pane('lcls')", "LCLs", show=False, id="app.pane.3"),
        Binding("4", "pane('reports')", "Reports", show=False, id="app.pane.4"),
    ]

    class Connected(Message):
        def __init__(self, session: Session) -> None:
            super().__init__()
            self.session = session

    def __init__(self, profile_name: str, profile: Profile, *, sandbox_url: str | None = None,
                 keymap: dict[str, str] | None = None, theme: str | None = None, journal: Journal | None = None):
        super().__init__()
        self.profile_name = profile_name
        self.profile = profile
        self.sandbox_url = sandbox_url
        self.keymap = dict(keymap or {})
        self.requested_theme = theme
        self.journal = journal
        self.session: Session | None = None
        self.sub_title = self._subtitle()

    def _subtitle(self, session: Session | None = None) -> str:
        parts = ["SANDBOX" if self.profile.is_sandbox else f"profile {self.profile_name}"]
        if self.profile.read_only:
            parts.append("READ-ONLY")
        if session is not None:
            parts.append(f"org {session.organization_id[:8]}")
            parts.append(session.user_name or f"user {session.user_id[:8]}")
        else:
            parts.append("connecting…")
        return " · ".join(parts)

    def compose(self) -> ComposeResult:
        header = Header(icon="▤")
        if self.profile.is_sandbox:
            header.add_class("sandbox")
        elif self.profile.read_only:
            header.add_class("readonly")
        yield header
        with TabbedContent(initial="provider-accounts", id="panes"):
            for pane_id, title in PANES:
                with TabPane(title, id=pane_id):
                    if pane_id == "provider-accounts":
                        yield ProviderAccountsPane()
                    else:
                        yield Static(Text(COMING[pane_id]), classes="coming")
        yield Footer()

    @staticmethod
    def binding_ids() -> set[str]:
        """Every binding id the app defines (what the settings' [keys] table may remap)."""
        from w365tui.ui import screens
        from w365tui.ui.widgets.filtered_list import FilteredList
        from w365tui.ui.widgets.record_table import RecordTable

        owners = [W365App, ProviderAccountsPane, RecordTable, FilteredList, screens.HelpScreen, screens.ConfirmScreen,
                  screens.PlanScreen, screens.AccountPickerScreen, screens.ChoiceScreen]
        return {b.id for owner in owners for b in owner.BINDINGS if isinstance(b, Binding) and b.id}

    def on_mount(self) -> None:
        if self.keymap:
            unknown = sorted(set(self.keymap) - self.binding_ids())
            if unknown:
                self.notify(f"The settings' [keys] table names unknown binding ids: {', '.join(unknown)}; "
                            "press ? to see the ids.", severity="warning", timeout=12)
            self.set_keymap(self.keymap)
        if self.requested_theme:
            if self.requested_theme in self.available_themes:
                self.theme = self.requested_theme
            else:
                self.notify(f"Unknown theme {self.requested_theme!r}; available: {', '.join(sorted(self.available_themes))}",
                            severity="warning")
        self.query_one(ProviderAccountsPane).focus_list()
        self.connect()

    def notify(self, message: str, *, title: str = "", severity: str = "information", timeout: float | None = None,
               markup: bool = False) -> None:  # type: ignore[override]
        """Notifications carry service text: never read it as markup."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)  # type: ignore[arg-type]

    @work(exclusive=True, exit_on_error=False, group="connect")
    async def connect(self) -> None:
        session = await open_session(self.profile_name, self.profile, sandbox_url=self.sandbox_url,
                                     journal=self.journal)
        self.post_message(self.Connected(session))

    @on(Connected)
    def _connected(self, message: Connected) -> None:
        self.session = message.session
        self.sub_title = self._subtitle(message.session)
        self.query_one(ProviderAccountsPane).start(message.session)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.worker_failed(event)

    def worker_failed(self, event: Worker.StateChanged) -> None:
        """Every failed worker becomes a notification; the app stays up. Panes and screens
        forward their workers' state changes here (those messages do not bubble)."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        detail = str(error) or type(error).__name__
        if event.worker.group == "connect":
            self.sub_title = f"{self._subtitle()} · not connected"
            if not isinstance(error, SessionError):
                detail = f"Could not connect: {detail}"
            pane = self.query_one(ProviderAccountsPane)
            pane.status(detail)
        self.notify(detail, title="Error", severity="error", timeout=12)

    def action_pane(self, pane_id: str) -> None:
        self.query_one(TabbedContent).active = pane_id
        if pane_id == "provider-accounts":
            self.query_one(ProviderAccountsPane).focus_list()

    def action_help(self) -> None:
        rows = []
        seen = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if binding.action in seen and not binding.description:
                continue
            seen.add(binding.action)
            rows.append((self.get_key_display(binding), binding.description or binding.action, binding.id or ""))
        self.push_screen(HelpScreen(sorted(rows, key=lambda r: (r[2] == "", r[2]))))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for pane_id, title in PANES:
            yield SystemCommand(f"Go to {title[2:]}", f"Pane {title[0]}", lambda p=pane_id: self.action_pane(p))
        pane = self.query_one(ProviderAccountsPane)
        if self.session is None or not pane.is_mounted:
            return
        row = pane.current
        if row is not None and not self.session.read_only:
            if row.account.is_mapped:
                yield SystemCommand("Unmap provider account", f"Remove the mapping of {row.account.name}", pane.action_unmap)
                yield SystemCommand("Sync subscriptions", f"StreamOne subscriptions of {row.account.name} onto a contract",
                                    pane.action_sync_subscriptions)
            else:
                yield SystemCommand("Map provider account", f"Map {row.account.name} to a CRM account", pane.action_map)
        if not self.session.read_only:
            yield SystemCommand("Sync provider accounts", "Create provider accounts for new StreamOne customers",
                                pane.action_sync_accounts)
        if row is not None:
            yield SystemCommand("Copy id", "Copy the provider account's id (OSC 52)", pane.action_copy_id)
        yield SystemCommand("Reload", "Read the provider accounts again", pane.action_reload)

    async def on_unmount(self) -> None:
        if self.session is not None:
            await self.session.close()
