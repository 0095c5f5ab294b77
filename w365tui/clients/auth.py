"""Signing in: Microsoft Entra ID (device code, client credentials, refresh) and the token store.

Token files live in the user state directory. Each is written whole to a temporary file that is
created with mode 0600 (never a moment readable by others), fsynced, and renamed over the old
one; a lock file serialises refreshes across processes. Tokens never reach a log or an error
message.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from w365tui.clients.http import (
    AuthenticationError,
    ProtocolError,
    ServiceClient,
    ServiceError,
    require,
)

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REFRESH_MARGIN = 300.0  # refresh this many seconds before expiry


def token_dir() -> Path:
    from w365tui.settings import state_dir

    return state_dir() / "tokens"


def secure_write(path: Path, data: Mapping[str, Any]) -> None:
    """Replace ``path`` atomically with ``data`` as JSON; the file is 0600 from its creation."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, json.dumps(dict(data)).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def read_tokens(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise TokenFileError(f"{path}: the token file cannot be read ({type(exc).__name__}); "
                             "sign in again with `w365tui login`") from None
    return data if isinstance(data, dict) else {}


class TokenFileError(Exception):
    """A token file is missing, unreadable or holds no usable token."""


@contextlib.asynccontextmanager
async def file_lock(path: Path) -> AsyncIterator[None]:
    """An exclusive lock shared with other processes (``flock`` on ``path``)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class TokenProvider(Protocol):
    """What a client needs from sign-in: a bearer token, and a way to get a fresh one."""

    async def access_token(self) -> str: ...

    async def invalidate(self) -> bool: ...


# -- Microsoft Entra ID -----------------------------------------------------------------------
def entra_error(payload: Any) -> tuple[str | None, str | None]:
    if isinstance(payload, dict):
        return payload.get("error"), payload.get("error_description") or payload.get("error")
    return None, None


@dataclass(frozen=True)
class DeviceCode:
    device_code: str
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int
    message: str


class EntraSignIn:
    """The Entra v2 endpoints for one tenant and client; tokens kept in one 0600 file."""

    def __init__(self, authority: str, tenant_id: str, client_id: str, scope: str, store: Path, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.time):
        self.client_id = client_id
        self.scope = scope
        self.store = store
        self.sleep = sleep
        self.clock = clock
        self.http = ServiceClient("Entra ID", f"{authority.rstrip('/')}/{tenant_id}/oauth2/v2.0/",
                                  error_parser=entra_error, transport=transport, sleep=sleep)
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def start_device_code(self) -> DeviceCode:
        payload = await self.http.request_json("POST", "devicecode", data={"client_id": self.client_id, "scope": self.scope})
        info = self.http.info("POST", "devicecode")
        return DeviceCode(
            device_code=require(info, payload, "device_code", str),
            user_code=require(info, payload, "user_code", str),
            verification_uri=require(info, payload, "verification_uri", str),
            expires_in=int(require(info, payload, "expires_in", int)),
            interval=int(payload.get("interval") or 5),
            message=str(payload.get("message") or ""),
        )

    async def poll_device_code(self, code: DeviceCode) -> None:
        """Poll no faster than ``interval`` (plus 5 s per ``slow_down``) until signed in."""
        interval = float(code.interval)
        deadline = self.clock() + code.expires_in
        while True:
            await self.sleep(interval)
            response = await self.http.request("POST", "token", data={
                "grant_type": DEVICE_CODE_GRANT, "client_id": self.client_id, "device_code": code.device_code,
            }, expect=(400,))
            if response.status_code == 200:
                self._save(self.http.parse_json(response))
                return
            error, description = entra_error(self.http.parse_json(response))
            if error == "authorization_pending":
                pass
            elif error == "slow_down":
                interval += 5
            else:
                info = self.http.info("POST", "token")
                raise AuthenticationError(info, 400, error, description or "sign-in was not completed")
            if self.clock() >= deadline:
                raise AuthenticationError(self.http.info("POST", "token"), 400, "expired_token",
                                          "the sign-in code expired before it was used")

    async def client_credentials(self, secret: str) -> None:
        payload = await self.http.request_json("POST", "token", data={
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": secret,
            "scope": self.scope})
        self._save(payload)

    def _save(self, payload: Any) -> None:
        info = self.http.info("POST", "token")
        access = require(info, payload, "access_token", str)
        expires_in = require(info, payload, "expires_in", int)
        data = {"access_token": access, "expires_at": self.clock() + expires_in,
                "refresh_token": payload.get("refresh_token") if isinstance(payload.get("refresh_token"), str) else None}
        secure_write(self.store, data)

    async def access_token(self) -> str:
        data = read_tokens(self.store)
        if data.get("access_token") and float(data.get("expires_at") or 0) - REFRESH_MARGIN > self.clock():
            return str(data["access_token"])
        await self._refresh(data.get("access_token"))
        return str(read_tokens(self.store)["access_token"])

    async def invalidate(self) -> bool:
        data = read_tokens(self.store)
        await self._refresh(data.get("access_token"))
        return True

    async def _refresh(self, stale: str | None) -> None:
        async with self._lock, file_lock(self.store.with_suffix(".lock")):
            data = read_tokens(self.store)
            current = data.get("access_token")
            if current and current != stale and float(data.get("expires_at") or 0) - REFRESH_MARGIN > self.clock():
                return  # another process refreshed meanwhile
            refresh = data.get("refresh_token")
            if not refresh:
                raise TokenFileError(f"{self.store}: no refresh token; sign in again with `w365tui login`")
            try:
                payload = await self.http.request_json("POST", "token", data={
                    "grant_type": "refresh_token", "client_id": self.client_id, "refresh_token": refresh,
                    "scope": self.scope})
            except ServiceError as exc:
                if exc.code == "invalid_grant":
                    raise TokenFileError(f"{self.store}: the sign-in has expired; sign in again with `w365tui login`") from None
                raise
            self._save(payload)


__all__ = [
    "DeviceCode",
    "EntraSignIn",
    "ProtocolError",
    "TokenFileError",
    "TokenProvider",
    "file_lock",
    "read_tokens",
    "secure_write",
    "token_dir",
]
