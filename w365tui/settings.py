"""The settings file: one TOML file of profiles, validated with pydantic.

The file lives in the platformdirs user config directory (``w365tui config path`` prints it);
``W365TUI_CONFIG`` points elsewhere. With no file, the app runs the ``sandbox`` profile.
No secret is ever stored here: tokens live in the token store, client secrets in the
environment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    model_validator,
)

from w365tui.settings_file import (
    APP_NAME,
    CONFIG_ENV,
    SANDBOX_PROFILE,
    FirstLook,
    SettingsError,
    cache_dir,
    config_path,
    data_dir,
    first_look,
    read_toml,
    state_dir,
    unknown_profile,
)

__all__ = ["APP_NAME", "CONFIG_ENV", "SANDBOX_PROFILE", "STREAMONE_CONNECTORS", "FirstLook", "Profile",
           "SchemaOverrides", "Settings", "SettingsError", "StreamOneSettings", "cache_dir", "config_path",
           "data_dir", "first_look", "load_settings", "looks_secret", "state_dir"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_WORDS = ("secret", "password", "token", "apikey", "api_key", "credential")


def _identifier(value: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{value!r} is not a Dataverse logical name (letters, digits, _)")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]


def _no_user_info(url: HttpUrl) -> HttpUrl:
    if url.username or url.password:
        raise ValueError("a URL carrying a user name or password is refused: sign in with `w365tui login`, "
                         "and keep secrets out of the settings file")
    return url


Url = Annotated[HttpUrl, AfterValidator(_no_user_info)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SchemaOverrides(_Strict):
    """Overrides for what schema discovery finds; real Work 365 environments differ.

    ``entities`` maps a role (``provider``, ``provideraccount``, ``subscription``,
    ``licensechangelog``, …) to a table's logical name; ``columns`` maps role → field → column
    logical name; ``navigation`` role → field → navigation property name (case-sensitive);
    ``options`` option-set name → meaning → integer value.
    """

    entities: dict[str, Identifier] = {}
    columns: dict[str, dict[str, Identifier]] = {}
    navigation: dict[str, dict[str, Identifier]] = {}
    options: dict[str, dict[str, int]] = {}


#: Internal names of the Work 365 connectors that sync from StreamOne. Only the legacy TechData
#: connector's is published; any other (StreamOne Ion's) is added per profile.
STREAMONE_CONNECTORS = ("Providers.TechDataCspProvider",)


class StreamOneSettings(_Strict):
    account_id: int = Field(gt=0, description="the reseller's Ion account id")
    base_url: Url = HttpUrl("https://ion.tdsynnex.com")
    cloud_profile_short_name: str = Field(default="Microsoft", min_length=1)
    connectors: list[str] = Field(default=list(STREAMONE_CONNECTORS), min_length=1,
                                  description="internal names of the providers' StreamOne connectors")
    page_size: int = Field(default=100, ge=1, le=1000,
                           description="rows a StreamOne list page asks for (pagination.limit); 100 is what its "
                                       "documentation shows, the largest it takes is not published")


class Profile(_Strict):
    """A place the app works against: the sandbox or a real Work 365 + StreamOne pair."""

    kind: Literal["sandbox", "dataverse"] = "dataverse"
    read_only: bool = False
    # Dataverse / Entra
    dataverse_url: Url | None = None
    tenant_id: UUID | None = None
    client_id: UUID | None = None
    auth: Literal["device_code", "client_credentials"] = "device_code"
    streamone: StreamOneSettings | None = None
    schema_map: SchemaOverrides = Field(default_factory=SchemaOverrides, alias="schema")
    # which ids Work 365's StreamOne connector writes; auto: what the org's rows hold
    provider_account_id: Literal["auto", "customer", "tenant"] = Field(
        default="auto", description="a provider account's provider-specific id: StreamOne customer id or tenant id")
    provider_subscription_id: Literal["auto", "microsoft", "ion"] = Field(
        default="auto", description="a subscription's provider subscription id: Microsoft's or StreamOne's own")
    # Sandbox
    sandbox_url: Url | None = Field(
        default=None, description="use a sandbox started with `w365tui sandbox serve`"
    )
    sandbox_db: Path | None = None
    dataverse_concurrency: int = Field(default=4, ge=1, le=52, description="requests in flight to Dataverse")
    streamone_concurrency: int = Field(default=2, ge=1, le=16, description="requests in flight to StreamOne")
    timeout: float = Field(default=60.0, gt=0, le=600, description="seconds to wait for a service's answer")
    seed: int = 1
    scale: int | None = Field(default=None, gt=0)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _complete(self) -> Profile:
        if self.kind == "dataverse":
            missing = [
                name
                for name in ("dataverse_url", "tenant_id", "client_id", "streamone")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"a dataverse profile needs {', '.join(missing)}")
        return self

    @property
    def is_sandbox(self) -> bool:
        return self.kind == "sandbox"

    @property
    def streamone_connectors(self) -> tuple[str, ...]:
        return tuple(self.streamone.connectors) if self.streamone else STREAMONE_CONNECTORS

    @property
    def streamone_page_size(self) -> int:
        return self.streamone.page_size if self.streamone else 100

    @property
    def cloud_profile_short_name(self) -> str:
        return self.streamone.cloud_profile_short_name if self.streamone else "Microsoft"


class Settings(_Strict):
    default_profile: str = SANDBOX_PROFILE
    profiles: dict[str, Profile] = {}
    keys: dict[str, str] = Field(default_factory=dict, description="binding id → keys")
    theme: str | None = None

    @model_validator(mode="after")
    def _default_exists(self) -> Settings:
        if self.default_profile != SANDBOX_PROFILE and self.default_profile not in self.profiles:
            raise ValueError(f"default_profile {self.default_profile!r} is not a profile in this file")
        return self

    def profile(self, name: str | None = None) -> tuple[str, Profile]:
        """The named profile (or the default). ``sandbox`` exists even when not written."""
        name = name or self.default_profile
        if name in self.profiles:
            return name, self.profiles[name]
        if name == SANDBOX_PROFILE:
            return name, Profile(kind="sandbox")
        raise KeyError(unknown_profile(name, self.profiles))


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate the settings file; a missing file means the sandbox defaults.

    Raises :class:`SettingsError` with the file, line and key of the first problem.
    """
    path = path or config_path()
    read = read_toml(path)
    if read is None:
        return Settings()
    text, raw = read
    problems: list[tuple[str, str | None, int | None]] = []
    for secret in _find_secrets(raw):
        problems.append(("secrets are never stored in the settings file; sign in with `w365tui login` or pass "
                         "a client secret in the environment", ".".join(secret), _locate(text, secret)))
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():  # the messages never quote the value
            loc = tuple(str(part) for part in error["loc"])
            problems.append((_describe(error), ".".join(loc) or None, _locate(text, loc)))
    if not problems:
        return settings
    first, *more = problems
    raise SettingsError(path, first[0], key=first[1], line=first[2], more=more)


def _describe(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown setting"
    if kind == "missing":
        return "required setting is missing"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


_JWT = re.compile(r"^eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*$")
_TOKENISH = re.compile(r"^[A-Za-z0-9_\-~.+/=]{32,}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def looks_secret(value: str) -> bool:
    """A value shaped like a token or a password: a JWT, ``Bearer …``, or a long run of token
    characters mixing letters and digits that is not a GUID or a dotted name."""
    text = value.strip()
    if _JWT.match(text) or text.lower().startswith("bearer "):
        return True
    if not _TOKENISH.match(text) or _GUID.match(text) or "/" in text and text.startswith(("http", "/")):
        return False
    classes = sum(bool(re.search(pattern, text)) for pattern in ("[a-z]", "[A-Z]", "[0-9]"))
    return classes >= 3 or (classes == 2 and "." not in text and len(text) >= 40)


def _find_secrets(raw: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key named like a secret (binding ids under [keys] aside) and every value shaped like one."""
    found: list[tuple[str, ...]] = []
    for key, value in raw.items():
        path = (*prefix, key)
        if any(word in key.lower() for word in _SECRET_WORDS) and prefix[-1:] != ("keys",):
            found.append(path)
        elif isinstance(value, dict):
            found += _find_secrets(value, path)
        elif isinstance(value, str) and looks_secret(value) or isinstance(value, list) and any(isinstance(v, str) and looks_secret(v) for v in value):
            found.append(path)
    return found


def _split_key(text: str) -> tuple[str, ...]:
    """Split a TOML dotted key (bare or quoted parts) into its parts."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([A-Za-z0-9_-]+)', text)
    return tuple(next(p for p in groups if p) if any(groups) else "" for groups in parts)


def _locate(text: str, loc: tuple[str, ...]) -> int | None:
    """The line of ``loc`` (a key path) in a TOML document, as well as a lexer-free scan can.

    Returns the line of the key itself, else of the deepest table header that contains it.
    """
    if not loc:
        return None
    table: tuple[str, ...] = ()
    best: tuple[int, int] | None = None  # (depth matched, line)
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        header = re.match(r"^\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$", stripped)
        if header:
            table = _split_key(header.group(1))
            if loc[: len(table)] == table and (best is None or len(table) > best[0]):
                best = (len(table), number)
            continue
        assignment = re.match(r"^((?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_.\- ])+?)\s*=", stripped)
        if assignment:
            full = table + _split_key(assignment.group(1))
            depth = len(full)
            if full == loc[:depth] and (best is None or depth > best[0]):
                best = (depth, number)
    return best[1] if best else None
