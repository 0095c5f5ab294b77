"""Entra sign-in against the sandbox's device code and token endpoints (RFC 8628)."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import httpx
import pytest

from w365tui.clients.auth import EntraSignIn, TokenFileError, read_tokens
from w365tui.clients.http import AuthenticationError
from w365tui.sandbox.entra import SANDBOX_CLIENT_SECRET
from w365tui.sandbox.host import Sandbox

pytestmark = pytest.mark.anyio
CLIENT = "51f81489-12ee-4a9e-aaae-a2591f45987d"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


class FakeTime:
    """A clock shared by the sandbox and the client; sleeping moves it on, instantly."""

    def __init__(self) -> None:
        self.now = time.time()
        self.waits: list[float] = []
        self.on_sleep = lambda: None
        self.step: float | None = None  # advance by this instead of the requested wait

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds if self.step is None else self.step
        self.on_sleep()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def timed_sandbox(fake_time: FakeTime):
    with Sandbox.in_memory(clock=fake_time) as running:
        yield running


def sign_in(sandbox: Sandbox, fake_time: FakeTime, path: Path) -> EntraSignIn:
    return EntraSignIn(sandbox.entra_authority, TENANT, CLIENT, "https://org.crm.dynamics.com/.default", path,
                       sleep=fake_time.sleep, clock=fake_time)


def approve(sandbox: Sandbox, user_code: str, deny: bool = False) -> None:
    response = httpx.post(f"{sandbox.url}/_sandbox/entra/approve", json={"user_code": user_code, "deny": deny})
    assert response.status_code == 204


async def test_device_code_flow_polls_at_the_interval_until_approved(timed_sandbox: Sandbox, fake_time: FakeTime,
                                                                      tmp_path: Path) -> None:
    store = tmp_path / "tokens" / "entra.json"
    entra = sign_in(timed_sandbox, fake_time, store)
    code = await entra.start_device_code()
    assert code.interval == 5 and code.user_code in code.message and code.verification_uri.startswith("https://")
    fake_time.on_sleep = lambda: approve(timed_sandbox, code.user_code) if len(fake_time.waits) == 3 else None
    await entra.poll_device_code(code)
    await entra.aclose()
    assert fake_time.waits == [5, 5, 5]  # two authorization_pending answers, then the tokens
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    saved = read_tokens(store)
    assert saved["access_token"].startswith("sbx.") and saved["refresh_token"]


async def test_slow_down_adds_five_seconds(timed_sandbox: Sandbox, fake_time: FakeTime, tmp_path: Path) -> None:
    entra = sign_in(timed_sandbox, fake_time, tmp_path / "entra.json")
    code = await entra.start_device_code()
    fake_time.step = 1.0  # the client's waits pass too quickly for the service: it says slow_down

    def after_sleep() -> None:
        if len(fake_time.waits) == 2:
            fake_time.step = None  # from now on real waits
        if len(fake_time.waits) == 3:
            approve(timed_sandbox, code.user_code)

    fake_time.on_sleep = after_sleep
    await entra.poll_device_code(code)
    await entra.aclose()
    # 1st poll: pending; 2nd came 1 s after it: slow_down; so the 3rd waits 5 + 5
    assert fake_time.waits == [5, 5, 10]


@pytest.mark.parametrize(("deny", "expire", "error"), [(True, False, "access_denied"), (False, True, "expired_token")])
async def test_denied_or_expired_sign_in_stops(timed_sandbox: Sandbox, fake_time: FakeTime, tmp_path: Path,
                                               deny: bool, expire: bool, error: str) -> None:
    entra = sign_in(timed_sandbox, fake_time, tmp_path / "entra.json")
    code = await entra.start_device_code()
    if deny:
        approve(timed_sandbox, code.user_code, deny=True)
    if expire:
        fake_time.now += 1000
    with pytest.raises(AuthenticationError) as caught:
        await entra.poll_device_code(code)
    await entra.aclose()
    assert caught.value.code == error
    assert not (tmp_path / "entra.json").exists()


async def test_client_credentials_and_refresh_rotation(timed_sandbox: Sandbox, fake_time: FakeTime, tmp_path: Path) -> None:
    store = tmp_path / "entra.json"
    entra = sign_in(timed_sandbox, fake_time, store)
    with pytest.raises(AuthenticationError) as refused:
        await entra.client_credentials("wrong")
    assert refused.value.code == "invalid_client"
    await entra.client_credentials(SANDBOX_CLIENT_SECRET)
    first = await entra.access_token()
    assert first == read_tokens(store)["access_token"]
    assert read_tokens(store)["refresh_token"] is None  # client credentials get no refresh token
    fake_time.now += 3600
    with pytest.raises(TokenFileError, match="w365tui login"):
        await entra.access_token()
    await entra.aclose()


async def test_refresh_tokens_rotate_and_an_invalid_grant_asks_for_sign_in(timed_sandbox: Sandbox, fake_time: FakeTime,
                                                                           tmp_path: Path) -> None:
    store = tmp_path / "entra.json"
    entra = sign_in(timed_sandbox, fake_time, store)
    code = await entra.start_device_code()
    approve(timed_sandbox, code.user_code)
    await entra.poll_device_code(code)
    old = read_tokens(store)
    fake_time.now += 3400  # inside the five-minute margin: refresh before use
    fresh = await entra.access_token()
    assert fresh != old["access_token"] and read_tokens(store)["refresh_token"] != old["refresh_token"]
    stale = dict(read_tokens(store), refresh_token=old["refresh_token"], expires_at=0)
    from w365tui.clients.auth import secure_write

    secure_write(store, stale)
    with pytest.raises(TokenFileError, match="sign in again"):
        await entra.access_token()
    await entra.aclose()
