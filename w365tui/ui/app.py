"""The app shell: numbered panes from the registry, header, footer, help, command palette, the
journal screen and remappable keys. It names no pane.

All I/O runs in workers; a worker's failure becomes a notification and the app stays up.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from w365tui.ui import trace
from w365tui.ui.commands import Command, bindings
from w365tui.ui.panes import PANES, Pane
from w365tui.ui.text import visible
from w365tui.ui.widgets.footer import KeysFooter

if TYPE_CHECKING:
    from w365tui.journal import Journal
    from w365tui.session import Session
    from w365tui.settings import Profile
    from w365tui.settings_file import FirstLook

APP_COMMANDS: tuple[Command, ...] = (
    Command("app.quit", "q", "Quit", "quit", "Quit the app", palette=False),
    Command("app.help", "question_mark,f1", "Help", "help", "Every key, with its binding id", palette=False),
    Command("app.journal", "J", "Journal", "journal", "Every plan applied: finish, roll back or undo one",
            title="Open the journal", show=False),
    Command("app.onboarding", "O", "Onboarding", "onboarding",
            "Where the selected customer stands in the onboarding procedure, step by step",
            title="Onboarding checklist", show=False),
)


#: The theme for terminals of 16 colours (TERM=screen on many jump hosts): the default theme's
#: colours would be rounded to the nearest of them, its orange cursor to an alarming red; the
#: terminal's own colours read as intended.
FEW_COLOURS_THEME = "ansi-dark"


#: How long after a key bulk work on the event loop waits (W365App.make_way): the key's answer is
#: painted first, and the next key of a word being typed finds the loop free. A piece of bulk
#: work is a few milliseconds, so a quarter of a second is enough: with half of one, six keys
#: typed held a 100,000-row list's loading back by a second.
OPERATOR_FIRST = 0.25


#: What the services' clients import, loaded on a thread before the session opens: httpx's
#: transport (httpcore, h11, anyio's asyncio backend) is otherwise imported on the event loop
#: at the first request, 0.05-0.1 s the screen would hold still for.
CLIENT_MODULES = ("w365tui.session", "httpcore", "h11", "anyio._backends._asyncio")


def _load(modules: Iterable[str]) -> None:
    """Import these now (a warm-up: one a later release of a library no longer has is left)."""
    from importlib import import_module

    for name in modules:
        try:
            import_module(name)
        except ImportError:
            if name.startswith("w365tui."):
                raise


class NotSignedIn(Exception):
    """The profile has no tokens: ``w365tui login`` first."""


def few_colours(color_system: str | None) -> bool:
    return color_system in ("standard", "windows")


def _pane_bindings() -> list[Binding]:
    return [Binding(str(n), f"pane('{pane.pane_id}')", pane.title, show=False, id=f"app.pane.{n}")
            for n, pane in enumerate(PANES, start=1)]


class W365App(App[None]):
    TITLE = "w365tui"
    CSS = """
    Header.sandbox { background: $warning 60%; color: $text; }
    Header.readonly { background: $secondary 60%; }
    TabbedContent, TabPane { height: 1fr; }
    TabPane { padding: 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [*bindings(APP_COMMANDS), *_pane_bindings()]

    class Connected(Message):
        def __init__(self, session: Session) -> None:
            super().__init__()
            self.session = session

    def __init__(self, profile_name: str, profile: Profile | FirstLook, *, sandbox_url: str | None = None,
                 keymap: dict[str, str] | None = None, theme: str | None = None, journal: Journal | None = None,
                 open_account: str | None = None, open_subscription: str | None = None):
        super().__init__()
        self.open_account = open_account  # a CRM account to start on (pane 3), from `w365tui --account ID`
        self.open_subscription = open_subscription  # a subscription's LCLs to start on (pane 4)
        self.profile_name = profile_name
        self.profile = profile
        self.sandbox_url = sandbox_url
        self.start_error: Exception | None = None  # why the app exited at start (the settings, the sign-in)
        self.settings_checked = asyncio.Event()  # the settings are valid: panes 2-5 may come
        self.keymap = dict(keymap or {})
        self.requested_theme = theme
        self.journal = journal
        self.session: Session | None = None
        self.last_input = 0.0  # when the operator last pressed a key or a mouse button (Pane.make_way)
        self.panes_ready = asyncio.Event()  # every pane of the registry is mounted (mount_panes)
        self.not_connected: str | None = None  # why the session could not be opened, for panes mounted since
        self.onboarding_last: tuple[str, Any] | None = None  # the customer whose checklist was last opened
        self.sub_title = self._subtitle()

    def _subtitle(self, session: Session | None = None) -> str:
        parts = ["SANDBOX" if self.profile.is_sandbox else f"profile {self.profile_name}"]
        if self.profile.read_only:
            parts.append("READ-ONLY")
        if session is not None:
            parts.append(f"org {session.organization_id[:8]}")
            parts.append(visible(session.user_name) or f"user {session.user_id[:8]}")  # service text: literal
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
        with TabbedContent(initial=f"tab-{PANES[0].pane_id}", id="panes"):
            for number, pane in enumerate(PANES, start=1):
                with TabPane(f"{number} {pane.title}", id=f"tab-{pane.pane_id}"):
                    if number == 1:  # the others are mounted after the first paint (mount_panes)
                        yield pane.load()()
        yield KeysFooter()

    @property
    def panes(self) -> list[Pane]:
        return list(self.query(Pane))

    @property
    def active_pane(self) -> Pane | None:
        active = self.query_one(TabbedContent).active
        return next((p for p in self.panes if f"tab-{p.PANE_ID}" == active), None)

    @staticmethod
    def binding_ids() -> set[str]:
        """Every binding id the app defines (what the settings' [keys] table may remap)."""
        from w365tui.ui.checks import binding_ids

        return binding_ids()

    async def make_way(self) -> None:
        """A pause between two pieces of bulk work on the event loop (a long list loading, its
        rows shown again, a read of thousands of rows): the screen is drawn and keys read, and
        while the operator is typing the work waits until they stop (``OPERATOR_FIRST`` after
        the last key), so that each key is answered before the next piece."""
        await asyncio.sleep(0)
        while time.monotonic() - self.last_input < OPERATOR_FIRST:
            await asyncio.sleep(OPERATOR_FIRST / 5)

    async def _read_pause(self) -> None:
        """The session's reads pause so (Reads.pause): what a long read made so far stays with
        its caller, so it is frozen for the garbage collector (a full collection walking 50,000
        new models held the screen 0.1-0.3 s), and the operator goes first."""
        gc.freeze()
        await self.make_way()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self.last_input = time.monotonic()
        await super().on_event(event)

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)
        if self.requested_theme:
            if self.requested_theme in self.available_themes:
                self.theme = self.requested_theme
        elif not self.is_headless and few_colours(self.console.color_system):
            self.theme = FEW_COLOURS_THEME
        self.panes[0].focus_list()
        trace.mark("mounted")
        if trace.enabled():
            self.run_worker(trace.watch_loop(), group="trace", exit_on_error=False)
        self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        """The first screen is on the terminal: now the rest, which would only have delayed it."""
        trace.mark("painted")
        self.mount_panes()
        self.connect()

    @work(group="panes")
    async def mount_panes(self) -> None:
        """The panes after the first, each module loaded on a thread (with the domain code it
        imports) so that the screen answers keys meanwhile."""
        await self.settings_checked.wait()  # not while the app ends on settings that are not valid
        tabs = self.query_one(TabbedContent)
        for spec in PANES[1:]:
            pane = (await asyncio.to_thread(spec.load))()
            await self.query_one(f"#tab-{spec.pane_id}", TabPane).mount(pane)
            if self.session is not None:
                pane.start(self.session)
            elif self.not_connected is not None:
                pane.disconnected(self.not_connected)
            if tabs.active == f"tab-{spec.pane_id}":  # the operator went there before it was mounted
                pane.focus_list()
        self.panes_ready.set()
        trace.mark("panes-mounted")

    def say(self, message: str, *, title: str = "", severity: str = "information",
            timeout: float | None = None) -> None:
        """A notification whose text (often from a service) is shown literally: never as markup,
        and control characters (a terminal escape sequence in a name) shown as visible codes."""
        self.notify(visible(message), title=visible(title), severity=severity, timeout=timeout,  # type: ignore[arg-type]
                    markup=False)

    async def _settled(self) -> bool:
        """The settings checked, on a thread after the first paint: a profile from a first look at
        the file (``w365tui`` started from the command line) is validated, with the sign-in it
        needs; a file that is not valid ends the app as the command line would (``start_error``,
        exit 2). The [keys] and theme are checked as `w365tui config check` checks them."""
        from w365tui.settings_file import FirstLook

        if self.settings_checked.is_set():  # connecting again (r): said once is enough
            return True
        look = self.profile if isinstance(self.profile, FirstLook) else None

        def check() -> tuple[Profile | None, list[str]]:
            from w365tui.settings import Settings, load_settings
            from w365tui.ui.checks import settings_problems

            if look is None:
                return None, settings_problems(Settings(keys=self.keymap, theme=self.requested_theme))
            settings = load_settings(look.path)
            name, profile = settings.profile(look.profile_name)
            if not profile.is_sandbox:
                from w365tui.clients.auth import read_tokens
                from w365tui.session import entra_store

                if not read_tokens(entra_store(name)):
                    raise NotSignedIn(f"not signed in to {profile.dataverse_url}; run `w365tui login --profile {name}`")
            return profile, settings_problems(settings)

        try:
            profile, problems = await asyncio.to_thread(check)
        except Exception as error:  # the file, the profile, the token store: nothing to run on
            if look is None:  # a profile given validated: the panes come all the same, the error is said
                self.settings_checked.set()
                raise
            self.start_error = error
            self.exit(return_code=2)
            return False
        if profile is not None:
            self.profile = profile
            header = self.query_one(Header)  # drawn from the first look: now from the profile as validated
            header.set_class(profile.is_sandbox, "sandbox")
            header.set_class(not profile.is_sandbox and profile.read_only, "readonly")
            self.sub_title = self._subtitle()
        for problem in problems:
            self.say(f"Settings: {problem}", severity="warning", timeout=12)  # as `w365tui config check` says
        self.settings_checked.set()
        return True

    @work(exclusive=True, exit_on_error=False, group="connect")
    async def connect(self) -> None:
        # The services' clients after the first paint, their modules and TLS authorities loaded
        # on a thread: a tenth of a second the screen would otherwise hold still for
        if not await self._settled():
            return
        await asyncio.to_thread(_load, CLIENT_MODULES)
        from w365tui.clients.http import tls_context
        from w365tui.session import open_session

        await asyncio.to_thread(tls_context)
        session = await open_session(self.profile_name, self.profile, sandbox_url=self.sandbox_url,
                                     journal=self.journal)
        try:
            await self.panes_ready.wait()  # a session's work may open any pane
        except asyncio.CancelledError:  # connecting again (r) meanwhile: this session is nobody's
            await session.close()
            raise
        self.post_message(self.Connected(session))

    @on(Connected)
    def _connected(self, message: Connected) -> None:
        trace.mark("connected")
        self.session = message.session
        message.session.reads.pause = self._read_pause
        self.not_connected = None
        self.sub_title = self._subtitle(message.session)
        for pane in self.panes:
            pane.start(message.session)
        self.check_journal()
        if self.open_account:
            self.open_subscriptions(self.open_account)
        if self.open_subscription:
            self.open_lcls(self.open_subscription)

    def open_lcls(self, subscription_id: Any) -> None:
        """Pane 4 on this subscription's license change logs."""
        from w365tui.ui.panes.lcls import LicenseChangeLogsPane
        from w365tui.workflows.base import WorkflowError, parse_id

        try:
            wanted = parse_id(subscription_id, "subscription")
        except WorkflowError as error:
            self.say(str(error), severity="error", timeout=12)
            return
        pane = self.query_one(LicenseChangeLogsPane)
        pane.show_subscription(wanted)
        self.action_pane(pane.PANE_ID)

    @work(exclusive=True, exit_on_error=False, group="open-account")
    async def open_subscriptions(self, account_id: Any) -> None:
        """Pane 3 on this CRM account's subscriptions (an id from the command line, or a pane)."""
        from w365tui.workflows.base import WorkflowError, parse_id

        assert self.session is not None
        try:
            wanted = parse_id(account_id, "CRM account")
        except WorkflowError as error:
            self.say(str(error), severity="error", timeout=12)
            return
        account = await self.session.reads.account(wanted)
        if account is None:
            self.say(f"No CRM account has the id {wanted}.", severity="error", timeout=12)
            return
        self.show_on("subscriptions", account)

    def open_provider_account(self, account_id: Any) -> None:
        """Pane 1 on this provider account, its map dialog open."""
        from w365tui.ui.panes.provider_accounts import ProviderAccountsPane

        pane = self.query_one(ProviderAccountsPane)
        self.action_pane(pane.PANE_ID)
        if not pane.show_provider_account(account_id):
            self.say("That provider account is not in pane 1's list (another provider: press p there to choose it).",
                     severity="warning", timeout=10)
            return
        pane.action_map()

    @work(exclusive=True, exit_on_error=False, group="open-account")
    async def open_customer_on(self, pane_id: str, account_id: Any, report: str | None = None) -> None:
        """Pane ``pane_id`` on this CRM account (read first: the pane shows the record); pane 5
        on ``report``."""
        from w365tui.ui.panes.reports import ReportsPane

        assert self.session is not None
        account = await self.session.reads.account(account_id)
        if account is None:
            self.say(f"No CRM account has the id {account_id}.", severity="error", timeout=12)
            return
        if pane_id == ReportsPane.PANE_ID:
            self.query_one(ReportsPane).show_customer(account, report)
            self.action_pane(pane_id)
            return
        self.show_on(pane_id, account)

    def action_onboarding(self) -> None:
        """The onboarding checklist of the customer the pane shows (else the last one seen)."""
        from w365tui.ui.onboarding import OnboardingScreen

        if self.session is None:
            self.say("Not connected yet. Press r to try again.", severity="warning")
            return
        if isinstance(self.screen, OnboardingScreen):
            return
        pane = self.active_pane
        target = (pane.onboarding_target() if pane is not None else None) or self.onboarding_last
        if target is None:
            self.say("Choose a customer first: a provider account in pane 1, or a customer in panes 2, 3 or 5.",
                     severity="warning")
            return
        self.onboarding_last = target
        kind, record = target
        self.push_screen(OnboardingScreen(self.session, **{kind: record}))

    def show_on(self, pane_id: str, account: Any) -> None:
        """Open pane ``pane_id`` on this CRM account."""
        for pane in self.panes:
            if pane_id == pane.PANE_ID and pane.show_customer(account):
                self.action_pane(pane_id)
                return

    def check_journal(self) -> None:
        """Plans left in doubt are shown at once: they must be finished or rolled back."""
        assert self.session is not None
        from w365tui.journal import JournalError

        try:
            unresolved = self.session.journal.unresolved(self.session.profile_name, self.session.organization_id)
        except JournalError as error:
            self.say(str(error), title="Journal", severity="error", timeout=15)
            return
        if unresolved:
            self.say(f"{len(unresolved)} plan{'s were' if len(unresolved) > 1 else ' was'} left in doubt: finish or roll "
                     "back before changing the same rows.", title="Journal", severity="warning", timeout=15)
            self.action_journal(focus=unresolved[-1].plan_id)

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
            from w365tui.session import SessionError

            if not isinstance(error, SessionError):
                detail = f"Could not connect: {detail}"
            self.not_connected = detail
            for pane in self.panes:
                if pane.is_mounted:  # one still mounting is told by mount_panes (not_connected)
                    pane.disconnected(detail)
        self.say(detail, title="Error", severity="error", timeout=12)

    def action_pane(self, pane_id: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{pane_id}"
        pane = self.active_pane
        if pane is not None:
            pane.focus_list()

    def changed_elsewhere(self, source: Pane, plan: Any) -> None:
        """A pane applied a plan: every other pane reads again what it may have changed."""
        for pane in self.panes:
            if pane is not source:
                pane.outside_change(plan)

    def show_customer(self, account: Any) -> bool:
        """Open the first other pane that shows a customer's records, on this account."""
        active = self.active_pane
        for pane in self.panes:
            if pane is not active and pane.show_customer(account):
                self.action_pane(pane.PANE_ID)
                return True
        return False

    def action_journal(self, focus: str | None = None) -> None:
        from w365tui.ui.journal import JournalScreen

        if self.session is None:
            self.say("Not connected yet. Press r to try again.", severity="warning")
            return
        if isinstance(self.screen, JournalScreen):
            return
        self.push_screen(JournalScreen(self.session, focus=focus))

    def action_help(self) -> None:
        from w365tui.ui.screens import HelpScreen

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
        for number, pane in enumerate(PANES, start=1):
            yield SystemCommand(f"Go to {pane.title}", f"Pane {number}", lambda p=pane.pane_id: self.action_pane(p))
        for command in APP_COMMANDS:
            if command.palette:
                yield SystemCommand(command.palette_title, command.help, lambda a=command.action: self.run_action(a))
        owner = screen if hasattr(screen, "palette_commands") else self.active_pane
        if owner is not None and owner.is_mounted:
            for title, help_text, callback in owner.palette_commands():  # type: ignore[union-attr]
                yield SystemCommand(title, help_text, callback)

    async def on_unmount(self) -> None:
        if self.session is not None:
            await self.session.close()
