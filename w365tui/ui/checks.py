"""What the settings file asks of the TUI, checked the same way by the app and by
``w365tui config check``: binding ids that exist, no key doing two things at once, a theme
Textual has."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.binding import Binding

from w365tui.settings import Settings


def _owners() -> dict[str, list[type]]:
    """Whose bindings are active together: each pane with the app and the list widgets, and each
    screen with the list widgets."""
    from w365tui.ui import screens
    from w365tui.ui.app import W365App
    from w365tui.ui.journal import JournalScreen
    from w365tui.ui.onboarding import OnboardingScreen, SummaryScreen
    from w365tui.ui.panes import PANES
    from w365tui.ui.panes.provider_accounts import ProviderAccountScreen
    from w365tui.ui.widgets.filtered_list import FilteredList
    from w365tui.ui.widgets.record_table import RecordTable

    widgets: list[type] = [RecordTable, FilteredList]
    scopes: dict[str, list[type]] = {f"pane {pane.title}": [W365App, pane.load(), *widgets] for pane in PANES}
    for screen in (screens.HelpScreen, screens.ReviewScreen, screens.AccountPickerScreen, screens.ChoiceScreen,
                   JournalScreen, ProviderAccountScreen, OnboardingScreen, SummaryScreen):
        scopes[f"screen {screen.__name__}"] = [screen, *widgets]
    return scopes


def _bindings(owner: type) -> Iterable[Binding]:
    return (b for b in owner.BINDINGS if isinstance(b, Binding) and b.id)


def binding_ids() -> set[str]:
    """Every binding id the app defines (what the settings' [keys] table may remap)."""
    return {b.id for owners in _owners().values() for owner in owners for b in _bindings(owner) if b.id}


def key_clashes(keymap: Mapping[str, str]) -> list[str]:
    """Keys the [keys] table puts on two bindings that are active at the same time."""
    found: dict[tuple[str, frozenset[str]], str] = {}
    for scope, owners in _owners().items():
        on_key: dict[str, set[str]] = {}
        for owner in owners:
            for binding in _bindings(owner):
                keys = keymap.get(binding.id or "", binding.key)
                for key in (k.strip() for k in keys.split(",")):
                    on_key.setdefault(key, set()).add(binding.id or "")
        for key, ids in on_key.items():
            if len(ids) > 1 and ids & set(keymap):
                found.setdefault((key, frozenset(ids)), scope)
    return [f"[keys]: {key!r} is on {' and '.join(sorted(ids))} at once ({scope})"
            for (key, ids), scope in sorted(found.items(), key=lambda item: (item[0][0], sorted(item[0][1])))]


def settings_problems(settings: Settings) -> list[str]:
    """What in the settings the TUI cannot honour, one line each."""
    from textual.theme import BUILTIN_THEMES

    problems = []
    unknown = sorted(set(settings.keys) - binding_ids())
    if unknown:
        problems.append(f"[keys] names unknown binding ids: {', '.join(unknown)}; `?` in the app lists them")
    problems += key_clashes(settings.keys)
    if settings.theme and settings.theme not in BUILTIN_THEMES:
        problems.append(f"theme: unknown theme {settings.theme!r}; available: {', '.join(sorted(BUILTIN_THEMES))}")
    return problems
