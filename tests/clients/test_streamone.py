"""The Ion client and its single-use refresh tokens, against the sandbox over loopback."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from w365tui.clients.auth import TokenFileError, read_tokens
from w365tui.clients.http import AuthenticationError, ProtocolError
from w365tui.clients.streamone import IonClient, IonTokens
from w365tui.sandbox.host import Sandbox

pytestmark = pytest.mark.anyio


def used_tokens(sandbox: Sandbox) -> int:
    return sandbox.store.conn.execute("SELECT COUNT(*) FROM ion_refresh_token WHERE used = 1").fetchone()[0]


@pytest.fixture
def token_file(sandbox: Sandbox, tmp_path: Path) -> Path:
    path = tmp_path / "tokens" / "ion-sandbox.json"
    IonTokens.save_refresh_token(path, sandbox.new_ion_refresh_token())
    return path


def ion_client(sandbox: Sandbox, path: Path) -> IonClient:
    return IonClient(sandbox.url, sandbox.ion_account_id, IonTokens(path, sandbox.url))


async def test_lists_customers_profiles_and_subscriptions(sandbox: Sandbox, token_file: Path) -> None:
    async with ion_client(sandbox, token_file) as ion:
        customers = [c async for c in ion.customers(page_size=4)]
        assert len(customers) == sandbox.store.count("ion_customer")
        contoso = next(c for c in customers if c.customer_organization == "Contoso Ltd")
        profile = (await ion.cloud_profiles(contoso.id)).profile("Microsoft")
        assert profile is not None and profile.customer_domain == "contoso.com"
        subs = [s async for s in ion.subscriptions(contoso.id, limit=1)]
        assert sorted(s.quantity for s in subs) == [4, 25]
        every = [s async for s in ion.subscriptions(limit=7)]
        assert len({s.id for s in every}) == sandbox.store.count("ion_subscription")
        detail = await ion.subscription(contoso.id, subs[0].id)
        assert detail.subscription_id == subs[0].subscription_id
    assert used_tokens(sandbox) == 1  # one refresh served every call


async def test_the_new_refresh_token_is_on_disk_before_use(sandbox: Sandbox, token_file: Path) -> None:
    first = read_tokens(token_file)["refresh_token"]
    async with ion_client(sandbox, token_file) as ion:
        await ion.cloud_profiles("306870")
    stored = read_tokens(token_file)
    assert stored["refresh_token"] != first and stored["access_token"]
    # the stored refresh token is the live one: the sandbox accepts it
    assert sandbox.store.conn.execute("SELECT used FROM ion_refresh_token WHERE token = ?",
                                      (stored["refresh_token"],)).fetchone()[0] == 0


async def test_a_refused_access_token_is_refreshed_once_and_retried(sandbox: Sandbox, token_file: Path) -> None:
    async with ion_client(sandbox, token_file) as ion:
        await ion.cloud_profiles("306870")
        sandbox.store.conn.execute("DELETE FROM ion_access_token")  # the service forgets it
        profiles = await ion.cloud_profiles("306870")
        assert profiles.customer_id == "306870"
    assert used_tokens(sandbox) == 2


async def test_persistent_refusal_stops_after_one_retry(sandbox: Sandbox, token_file: Path) -> None:
    sandbox.faults.add("status", path="cloudProfiles", status=403)
    async with ion_client(sandbox, token_file) as ion:
        with pytest.raises(AuthenticationError):
            await ion.cloud_profiles("306870")
    assert used_tokens(sandbox) == 2  # the first token, and exactly one more


async def test_a_dead_refresh_token_says_how_to_recover(sandbox: Sandbox, token_file: Path) -> None:
    IonTokens.save_refresh_token(token_file, "long-gone")
    async with ion_client(sandbox, token_file) as ion:
        with pytest.raises(AuthenticationError, match="refused the refresh token"):
            await ion.cloud_profiles("306870")
    token_file.unlink()
    async with ion_client(sandbox, token_file) as ion:
        with pytest.raises(TokenFileError, match="w365tui login"):
            await ion.cloud_profiles("306870")


async def test_malformed_ion_payload_names_the_field(sandbox: Sandbox, token_file: Path) -> None:
    async with ion_client(sandbox, token_file) as ion:
        sandbox.faults.add("malformed", path="cloudProfiles", times=1)
        with pytest.raises(ProtocolError, match="StreamOne GET .*/cloudProfiles"):
            await ion.cloud_profiles("306870")


def test_token_files_are_0600_from_creation(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[tuple[str, int]] = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *args, **kwargs):  # type: ignore[no-untyped-def]
        if flags & os.O_CREAT:
            created.append((os.fspath(path), mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    old_umask = os.umask(0)
    try:
        path = tmp_path / "t" / "ion.json"
        IonTokens.save_refresh_token(path, "secret-value")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert created and all(mode == 0o600 for _, mode in created), created
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


CHILD = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from w365tui.clients.streamone import IonClient, IonTokens

    async def main():
        url, account, path = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
        async with IonClient(url, account, IonTokens(path, url)) as ion:
            profiles = await ion.cloud_profiles("306870")
            print("ok", profiles.customer_id, ion.tokens.rotations)

    asyncio.run(main())
""")


def test_two_processes_refreshing_at_once_rotate_once(sandbox: Sandbox, token_file: Path) -> None:
    # A slow token endpoint makes sure the second process arrives while the first refreshes.
    sandbox.faults.add("latency", path="^/oauth/token$", delay=0.5)
    args = [sys.executable, "-c", CHILD, sandbox.url, str(sandbox.ion_account_id), str(token_file)]
    processes = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=60) for p in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
        assert out.startswith("ok 306870")
    assert sorted(int(out.split()[2]) for out, _ in outputs) == [0, 1]
    assert used_tokens(sandbox) == 1


async def test_a_refusal_of_a_token_another_process_already_replaced_rotates_no_more(sandbox: Sandbox,
                                                                                      token_file: Path) -> None:
    async with ion_client(sandbox, token_file) as first, ion_client(sandbox, token_file) as second:
        await first.cloud_profiles("306870")
        await second.cloud_profiles("306870")  # both sent the same access token
        sandbox.store.conn.execute("DELETE FROM ion_access_token")  # the service forgets it
        await first.cloud_profiles("306870")  # refused: the first refreshes (one rotation) and retries
        assert used_tokens(sandbox) == 2
        refused = second.tokens.used
        assert refused != read_tokens(token_file)["access_token"]
        await second.tokens.invalidate()  # the second's refusal of the old token comes in late
        assert used_tokens(sandbox) == 2  # it takes the new token; nothing is rotated twice
        assert (await second.cloud_profiles("306870")).customer_id == "306870"
    assert used_tokens(sandbox) == 2


async def test_a_failing_token_service_is_not_a_refused_refresh_token(sandbox: Sandbox, token_file: Path) -> None:
    from w365tui.clients.http import ServiceError

    sandbox.faults.add("status", path="^/oauth/token$", status=503, times=1)
    async with ion_client(sandbox, token_file) as ion:
        with pytest.raises(ServiceError, match="token service failed") as failed:
            await ion.cloud_profiles("306870")
        assert not isinstance(failed.value, AuthenticationError)
        assert (await ion.cloud_profiles("306870")).customer_id == "306870"  # the refresh token was still good


@pytest.mark.parametrize("fault", ["drop_after", "malformed"])
async def test_a_refresh_whose_answer_is_lost_says_how_to_get_a_new_token(sandbox: Sandbox, token_file: Path,
                                                                          fault: str) -> None:
    from w365tui.clients.http import W365Error

    sandbox.faults.add(fault, path="^/oauth/token$", times=1)
    async with ion_client(sandbox, token_file) as ion:
        with pytest.raises(W365Error, match="StreamOne portal") as lost:
            await ion.cloud_profiles("306870")
    assert "--streamone-token-stdin" in str(lost.value)
