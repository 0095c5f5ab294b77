"""Commands as data: each has an id (its binding id, what the settings' [keys] table remaps), a
default key, a label, the action it runs and when it is available.

Bindings, the help screen and the command palette are all made from these lists, so a pane
adds its commands and touches nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from textual.binding import Binding


def _always(_: Any) -> bool:
    return True


@dataclass(frozen=True)
class Command:
    id: str  # binding id, e.g. "accounts.map"
    key: str  # default key(s), Textual's names, comma-separated
    label: str  # short, for the footer
    action: str  # the action on the owner (a pane, a screen or the app), with its arguments
    help: str = ""  # the palette's line of help
    title: str = ""  # the palette's title (default: the label)
    show: bool = True  # in the footer
    palette: bool = True  # offered by the command palette
    available: Callable[[Any], bool] = _always  # given the owner: may it run now (palette)?

    @property
    def palette_title(self) -> str:
        return self.title or self.label


def bindings(commands: Iterable[Command]) -> list[Binding]:
    return [Binding(c.key, c.action, c.label, show=c.show, id=c.id) for c in commands]


def palette(owner: Any, commands: Iterable[Command]) -> list[tuple[str, str, Callable[[], Any]]]:
    """(title, help, callback) of the commands that fit ``owner``'s state now."""
    offered = []
    for command in commands:
        if command.palette and command.available(owner):
            offered.append((command.palette_title, command.help or command.label,
                            lambda c=command: owner.run_action(c.action)))
    return offered
