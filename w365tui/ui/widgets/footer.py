"""The footer of keys, laid out again only when the keys it shows change.

Textual's footer mounts a widget per key whenever the screen's bindings are signalled as
updated — on every focus change, three times as the app starts — a fiftieth of a second each
time, on the event loop. Most of those signals leave the keys shown as they were.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.widgets import Footer


class KeysFooter(Footer):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._shown: Hashable | None = None

    def _keys_shown(self) -> Hashable:
        """What the footer would show: every shown binding (and the palette's), with its state."""
        palette = self.app.COMMAND_PALETTE_BINDING
        return (self.compact, self.show_command_palette, tuple(
            (binding.key, self.app.get_key_display(binding), binding.description, binding.action, binding.group,
             enabled, tooltip)
            for _, binding, enabled, tooltip in self.screen.active_bindings.values()
            if binding.show or binding.key == palette))

    async def recompose(self) -> None:
        if not self.is_attached:
            return
        shown = self._keys_shown()
        if shown == self._shown:
            return
        self._shown = shown
        await super().recompose()
