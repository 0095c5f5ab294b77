"""What every pane is: a numbered tab with its own commands, started with the session.

A pane declares ``PANE_ID``, ``TITLE`` and ``COMMAND_LIST``; its bindings are made from the commands.
The shell (``ui/app.py``) finds panes in the registry (``ui/panes/__init__.py``) and names none.

Writes go through :meth:`Pane.run_plan`: a worker prepares the plan (a workflow), the one review
screen shows it, the workflow applies it, and a :class:`PlanApplied` message tells the pane,
whose handler owns what changes on screen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.containers import Vertical
from textual.message import Message

from w365tui.ui.commands import Command, bindings, palette

if TYPE_CHECKING:
    from w365tui.domain.plan import Plan
    from w365tui.session import Session


#: Plans whose review asks for y twice: they retire a record.
CONFIRM_TWICE = frozenset({"replace"})


class PlanApplied(Message):
    """A reviewed plan was applied (or refused: ``applied`` None and ``refused`` says why)."""

    def __init__(self, plan: Plan, applied: Any = None, refused: str | None = None) -> None:
        super().__init__()
        self.plan = plan
        self.applied = applied
        self.refused = refused


class Pane(Vertical):
    PANE_ID: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    COMMAND_LIST: ClassVar[tuple[Command, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if "COMMAND_LIST" in cls.__dict__:  # before Textual merges the class's bindings
            cls.BINDINGS = [*cls.__dict__.get("BINDINGS", []), *bindings(cls.COMMAND_LIST)]
        super().__init_subclass__(**kwargs)

    def __init__(self) -> None:
        super().__init__(id=self.PANE_ID)
        self.session: Session | None = None
        self.applying = False

    # -- the shell's calls ---------------------------------------------------------------------
    def start(self, session: Session) -> None:
        """The session is open: load what the pane shows."""
        self.session = session

    def disconnected(self, reason: str) -> None:
        """The session could not be opened."""

    def focus_list(self) -> None:
        """Give the keyboard to the pane's main list."""

    # -- helpers for panes ----------------------------------------------------------------------
    def say(self, message: str, *, title: str = "", severity: str = "information", timeout: float | None = None) -> None:
        self.app.say(message, title=title, severity=severity, timeout=timeout)  # type: ignore[attr-defined]

    def connected(self) -> bool:
        """True with a session; otherwise says how to get one."""
        if self.session is None:
            self.say("Not connected yet. Press r to try again.", severity="warning")
            return False
        return True

    def writable(self) -> bool:
        if not self.connected():
            return False
        assert self.session is not None
        if self.session.read_only:
            self.say("This profile is read-only.", severity="warning")
            return False
        return True

    async def make_way(self) -> None:
        """A pause between two pieces of bulk work (see :meth:`W365App.make_way`)."""
        await self.app.make_way()  # type: ignore[attr-defined]

    def palette_commands(self) -> list[tuple[str, str, Any]]:
        return palette(self, self.COMMAND_LIST)

    @work(exclusive=True, exit_on_error=False, group="write")
    async def run_plan(self, prepare: Callable[[], Awaitable[Plan | None]],
                       apply: Callable[[Plan], Awaitable[Any]] | None = None) -> None:
        """Prepare a plan (None: the operator stepped back), show it for review, apply it if the
        operator says so."""
        from w365tui.ui.screens import ReviewScreen
        from w365tui.work365.executor import PlanRefused
        from w365tui.workflows import base

        assert self.session is not None
        session = self.session
        plan = await prepare()
        self.status_done()
        if plan is None:
            return
        review = ReviewScreen(plan, read_only=session.read_only, confirm_twice=plan.kind in CONFIRM_TWICE)
        if not await self.app.push_screen_wait(review):
            return
        self.status(f"Applying {len(plan.changes)} change{'s' if len(plan.changes) != 1 else ''}…")
        self.applying = True  # esc no longer cancels: a plan once started runs to its end
        try:
            applied = await (apply or (lambda p: base.apply(session, p)))(plan)
        except PlanRefused as refusal:
            self.post_message(PlanApplied(plan, refused=str(refusal)))
            return
        finally:
            self.applying = False
        self.post_message(PlanApplied(plan, applied))

    def report(self, message: PlanApplied) -> bool:
        """Tell the operator how a reviewed plan ended (and its follow-up); True when it was
        applied, so the pane reads again what it changed."""
        plan = message.plan
        if message.refused:
            self.say(message.refused, title="Refused", severity="error", timeout=12)
            return False
        applied = message.applied
        if applied is None:  # a rollback with nothing to undo
            return False
        self.say(applied.message() if not applied.ok else self.success(plan),
                 title="Saved" if applied.ok else "Not applied", severity="information" if applied.ok else "error",
                 timeout=None if applied.ok else 15)
        followup = applied.followup
        if followup is not None and followup.plan.kind == "then":  # a step of the plan, as its review said
            self.say(f"{followup.plan.summary} ({followup.message()}).", title="Then",
                     severity="information" if followup.ok else "error", timeout=None if followup.ok else 15)
        elif followup is not None:
            self.say(f"{followup.plan.summary}: set Not Applicable so nothing is ordered twice ({followup.message()}).",
                     title="Checked", severity="warning" if followup.ok else "error", timeout=15)
        if applied.followup_error:
            self.say(applied.followup_error, title="Not checked", severity="error", timeout=15)
        return True

    @staticmethod
    def success(plan: Plan) -> str:
        stats = plan.stats
        if plan.kind == "sync-provider-accounts":
            return f"{stats.get('create', 0)} created, {stats.get('rename', 0)} renamed."
        if plan.kind == "sync-subscriptions":
            return f"{stats.get('create', 0)} added, {stats.get('quantity', 0)} quantities changed."
        if plan.kind == "replace":
            return f"{plan.title.removeprefix('Replace ')}: {stats.get('moved', 0)} LCLs moved."
        return plan.summary or plan.title

    def outside_change(self, plan: Plan) -> None:
        """Another pane applied ``plan``: read again what it may have changed here."""

    def show_customer(self, account: Any) -> bool:
        """Show this CRM account's records; False when the pane shows none by customer."""
        return False

    def onboarding_target(self) -> tuple[str, Any] | None:
        """The customer whose onboarding checklist the pane offers: ("account", id) or
        ("provider_account", id); None when it shows none."""
        return None

    def status(self, text: str) -> None:
        """One line of what the pane is doing (panes with a status line override this)."""

    def status_done(self) -> None:
        """The pane's status line back to its resting text."""

    def on_worker_state_changed(self, event: Any) -> None:
        self.app.worker_failed(event)  # type: ignore[attr-defined]
