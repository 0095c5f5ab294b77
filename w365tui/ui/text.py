"""Showing text from the services literally: never as markup, never as terminal control codes."""

from __future__ import annotations

import re

from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(value: str | None) -> str:
    """Replace control characters (escape sequences included) with visible ``\\xNN`` forms."""
    if not value:
        return ""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


def literal(value: str | None, style: str = "") -> Text:
    """A Rich ``Text`` that shows ``value`` exactly, whatever brackets or escapes it holds."""
    return Text(visible(value), style=style, no_wrap=True, overflow="ellipsis")
