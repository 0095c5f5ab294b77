"""The settings file as a file: where it is, reading its TOML, and the first look the TUI takes
at it before the first paint.

Nothing here imports pydantic (a tenth of a second at start-up): ``w365tui.settings`` validates
the file, and re-exports all of this.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "w365tui"
CONFIG_ENV = "W365TUI_CONFIG"
SANDBOX_PROFILE = "sandbox"


class SettingsError(Exception):
    """The settings file cannot be used. ``str()`` is a line per problem, each naming the file,
    line and key; ``key``, ``line`` and ``message`` are the first problem's."""

    def __init__(self, path: Path, message: str, *, key: str | None = None, line: int | None = None,
                 more: list[tuple[str, str | None, int | None]] | None = None):
        self.path = path
        self.key = key
        self.line = line
        self.message = message
        self.problems = [(message, key, line), *(more or [])]
        super().__init__("\n".join(self.describe(*problem) for problem in self.problems))

    def describe(self, message: str, key: str | None, line: int | None) -> str:
        where = str(self.path) if line is None else f"{self.path}:{line}"
        return f"{where}: {key}: {message}" if key else f"{where}: {message}"


def config_path() -> Path:
    """Where the settings file is read from."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def state_dir() -> Path:
    return Path(platformdirs.user_state_dir(APP_NAME))


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME))


def read_toml(path: Path) -> tuple[str, dict[str, Any]] | None:
    """The file's text and its TOML; None when there is no file.

    Raises :class:`SettingsError` naming the file (and the line of a TOML error).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(path, f"cannot read the settings file: {exc}") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise SettingsError(path, f"not valid TOML: {exc}", line=int(match.group(1)) if match else None) from None


def unknown_profile(name: str, profiles: Any) -> str | None:
    """Why ``name`` names no profile (None when it does); ``sandbox`` exists even when not written."""
    known = profiles if isinstance(profiles, dict) else {}
    if name in known or name == SANDBOX_PROFILE:
        return None
    names = ", ".join(sorted({SANDBOX_PROFILE, *map(str, known)}))
    return f"no profile named {name!r} (known: {names})"


@dataclass(frozen=True)
class FirstLook:
    """The profile the TUI starts on, as the file gives it before validation: its name and the
    little the first screen is drawn with. The app validates the whole file right after its
    first paint (``w365tui.settings.load_settings``) and exits with the file's problems, as the
    command line does, if it is not valid."""

    path: Path
    profile_name: str
    kind: str = "dataverse"
    read_only: bool = False
    keys: dict[str, str] = field(default_factory=dict)
    theme: str | None = None

    @property
    def is_sandbox(self) -> bool:
        return self.kind == "sandbox"


def first_look(profile: str | None = None, path: Path | None = None) -> FirstLook:
    """Read the file (not validate it): the chosen profile or the default.

    Raises :class:`SettingsError` for a file that cannot be read or is not TOML, and
    :class:`KeyError` for a profile the file does not have.
    """
    path = path or config_path()
    read = read_toml(path)
    raw = read[1] if read else {}
    default = raw.get("default_profile", SANDBOX_PROFILE)
    name = profile or (default if isinstance(default, str) else SANDBOX_PROFILE)
    profiles = raw.get("profiles")
    why = unknown_profile(name, profiles)
    if why:
        raise KeyError(why)
    if isinstance(profiles, dict) and name in profiles:
        chosen = profiles[name] if isinstance(profiles[name], dict) else {}
    else:
        chosen = {"kind": "sandbox"}  # the built-in sandbox profile
    keys = raw.get("keys")
    theme = raw.get("theme")
    return FirstLook(path, name, kind=str(chosen.get("kind", "dataverse")), read_only=chosen.get("read_only") is True,
                     keys=dict(keys) if isinstance(keys, dict) and all(isinstance(v, str) for v in keys.values())
                     else {},
                     theme=theme if isinstance(theme, str) else None)
