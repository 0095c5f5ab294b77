"""The shared HTTP base against the sandbox over loopback: retries, waits, typed errors."""

from __future__ import annotations

import pytest

from w365tui.clients.http import (
    AuthenticationError,
    NetworkError,
    NotFoundError,
    PreconditionFailedError,
    ProtocolError,
    RetryPolicy,
    ServiceError,
    ThrottledError,
    parse_retry_after,
    redact_url,
)
from w365tui.clients.odata import DataverseClient
from w365tui.sandbox.host import Sandbox

pytestmark = pytest.mark.anyio


class Clock:
    """Records the waits asked for instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def client(sandbox: Sandbox, clock: Clock, **kwargs) -> DataverseClient:
    return DataverseClient(sandbox.dataverse_url, sleep=clock.sleep, rng=lambda: 1.0, **kwargs)


async def test_retry_after_is_honoured(sandbox: Sandbox) -> None:
    clock = Clock()
    sandbox.faults.add("status", path="WhoAmI", status=429, retry_after=7, times=2)
    async with client(sandbox, clock) as dv:
        assert "UserId" in await dv.whoami()
    assert clock.waits == [7.0, 7.0]


async def test_backoff_grows_when_no_retry_after_is_given(sandbox: Sandbox) -> None:
    clock = Clock()
    sandbox.faults.add("status", path="WhoAmI", status=503, times=3)
    async with client(sandbox, clock, retry=RetryPolicy(attempts=4, base_delay=0.5)) as dv:
        await dv.whoami()
    assert clock.waits == [0.5, 1.0, 2.0]


async def test_throttling_beyond_the_attempts_raises_with_the_wish(sandbox: Sandbox) -> None:
    clock = Clock()
    sandbox.faults.add("status", path="WhoAmI", status=429, retry_after=3)
    async with client(sandbox, clock, retry=RetryPolicy(attempts=2)) as dv:
        with pytest.raises(ThrottledError) as caught:
            await dv.whoami()
    assert caught.value.retry_after == 3.0
    assert caught.value.code == "0x80072322"
    assert clock.waits == [3.0]


async def test_a_very_long_retry_after_is_not_waited_out(sandbox: Sandbox) -> None:
    clock = Clock()
    sandbox.faults.add("status", path="WhoAmI", status=429, retry_after=3600)
    async with client(sandbox, clock) as dv:
        with pytest.raises(ThrottledError):
            await dv.whoami()
    assert clock.waits == []


async def test_a_503_on_a_write_is_not_retried(sandbox: Sandbox) -> None:
    clock = Clock()
    sandbox.faults.add("status", path=r"/accounts$", method="POST", status=503, times=1)
    async with client(sandbox, clock) as dv:
        with pytest.raises(ServiceError) as caught:
            await dv.create("accounts", {"name": "Once only"})
    assert caught.value.status == 503
    assert clock.waits == []


async def test_a_dropped_connection_during_a_get_is_retried(sandbox: Sandbox) -> None:
    clock = Clock()
    fault = sandbox.faults.add("drop_before", path="WhoAmI", times=1)
    async with client(sandbox, clock) as dv:
        await dv.whoami()
    assert fault.hits == 1
    assert len(clock.waits) == 1


async def test_a_dropped_connection_during_a_create_is_not_resent(sandbox: Sandbox) -> None:
    clock = Clock()
    sandbox.faults.add("drop_after", path=r"/accounts$", method="POST", times=1)
    async with client(sandbox, clock) as dv:
        with pytest.raises(NetworkError) as caught:
            await dv.create("accounts", {"name": "Maybe written"})
    assert caught.value.maybe_committed
    written = sandbox.store.conn.execute("SELECT COUNT(*) FROM account WHERE name = 'Maybe written'").fetchone()[0]
    assert written == 1


async def test_a_closed_port_is_a_network_error(sandbox: Sandbox) -> None:
    clock = Clock()
    async with DataverseClient("http://127.0.0.1:9/api/data/v9.2/", sleep=clock.sleep, rng=lambda: 1.0) as dv:
        with pytest.raises(NetworkError) as caught:
            await dv.whoami()
    assert not caught.value.maybe_committed
    assert "Dataverse GET http://127.0.0.1:9/api/data/v9.2/WhoAmI" in str(caught.value)
    assert len(clock.waits) == 3  # nothing was sent, so every attempt was safe


async def test_malformed_json_names_the_service_and_url(sandbox: Sandbox) -> None:
    sandbox.faults.add("malformed", path="accounts")
    async with client(sandbox, Clock()) as dv:
        with pytest.raises(ProtocolError) as caught:
            await dv.get("accounts", "00000000-0000-0000-0000-000000000001")
    message = str(caught.value)
    assert message.startswith("Dataverse GET http://127.0.0.1:")
    assert "/api/data/v9.2/accounts(00000000-0000-0000-0000-000000000001)" in message
    assert "malformed response from Dataverse" in message


async def test_errors_are_typed_and_carry_the_service_code(sandbox: Sandbox) -> None:
    async with client(sandbox, Clock()) as dv:
        assert await dv.get("accounts", "00000000-0000-0000-0000-0000000000aa") is None
        with pytest.raises(NotFoundError) as missing:
            await dv.update("accounts", "00000000-0000-0000-0000-0000000000aa", {"name": "x"})
        assert missing.value.code == "0x80040217"
        new = await dv.create("accounts", {"name": "Versioned"})
        row = await dv.get("accounts", new)
        await dv.update("accounts", new, {"name": "v2"}, if_match=row["@odata.etag"])
        with pytest.raises(PreconditionFailedError) as stale:
            await dv.update("accounts", new, {"name": "v3"}, if_match=row["@odata.etag"])
        assert stale.value.code == "0x80060882"
        with pytest.raises(ServiceError) as refused:
            await dv.create("accounts", {"nosuch": 1})
        assert (refused.value.status, refused.value.code) == (400, "0x80048d19")


async def test_a_403_is_an_authentication_error(sandbox: Sandbox) -> None:
    sandbox.faults.add("status", path="WhoAmI", status=403)
    async with client(sandbox, Clock()) as dv:
        with pytest.raises(AuthenticationError):
            await dv.whoami()


def test_secrets_in_urls_are_redacted() -> None:
    url = "https://x.example/cb?code=abc123&state=ok&access_token=t0k&$filter=name eq 'a'"
    redacted = redact_url(url)
    assert "abc123" not in redacted and "t0k" not in redacted
    assert "state=ok" in redacted and "code=***" in redacted and "access_token=***" in redacted


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=lambda: 1445412470.0) == 20.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_user_info_in_urls_is_redacted() -> None:
    redacted = redact_url("https://operator:hunter2@contoso.crm.dynamics.com/api/data/v9.2/accounts?$top=1")
    assert "hunter2" not in redacted and "operator" not in redacted
    assert redacted == "https://***@contoso.crm.dynamics.com/api/data/v9.2/accounts?$top=1"


async def test_an_update_whose_answer_was_lost_is_not_sent_again(sandbox: Sandbox) -> None:
    from w365tui.clients.http import NetworkError

    async with client(sandbox, Clock()) as dv:
        new = await dv.create("accounts", {"name": "Once only"})
        row = await dv.get("accounts", new)
        probe = sandbox.faults.add("drop_after", path=r"accounts\(", method="PATCH", times=1)
        with pytest.raises(NetworkError) as lost:
            await dv.update("accounts", new, {"name": "Updated"}, if_match=row["@odata.etag"])
        assert lost.value.maybe_committed and probe.hits == 1  # sent once, never again
        assert (await dv.get("accounts", new))["name"] == "Updated"


async def test_a_deeply_nested_answer_is_a_malformed_response(sandbox: Sandbox) -> None:
    import httpx

    deep = ("[" * 100_000 + "]" * 100_000).encode()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=deep,
                                                                   headers={"Content-Type": "application/json"}))
    from w365tui.clients.odata import DataverseClient

    async with DataverseClient("http://dataverse.example/api/data/v9.2/", transport=transport) as dv:
        with pytest.raises(ProtocolError, match="nested too deeply"):
            await dv.whoami()


async def test_a_read_response_is_freed_as_soon_as_it_is_dropped(sandbox: Sandbox) -> None:
    """Without the collector: the app freezes its heap (gc.freeze), and a response kept alive
    only by a reference cycle would then stay in memory for the session."""
    import gc
    import weakref

    async with client(sandbox, Clock()) as dv:
        gc.collect()
        gc.disable()
        try:
            response = await dv.http.request("GET", "WhoAmI")
            assert response.json()["UserId"]
            freed = weakref.ref(response)
            del response
            assert freed() is None
        finally:
            gc.enable()
