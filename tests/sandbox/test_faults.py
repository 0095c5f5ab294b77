"""Fault injection: throttling, outages, dropped connections and latency, per route."""

from __future__ import annotations

import time

import httpx
import pytest

from w365tui.sandbox.host import Sandbox


def count_named(sandbox: Sandbox, name: str) -> int:
    return sandbox.store.conn.execute("SELECT COUNT(*) FROM account WHERE name = ?", (name,)).fetchone()[0]


def test_throttling_answers_429_with_retry_after_in_the_dataverse_shape(sandbox: Sandbox, dv: httpx.Client) -> None:
    sandbox.faults.add("status", path=r"/accounts$", status=429, retry_after=7, times=2)
    for _ in range(2):
        response = dv.get("accounts")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "7"
        assert response.json()["error"]["code"] == "0x80072322"
    assert dv.get("accounts").status_code == 200  # the fault was for two requests only


def test_an_outage_on_ion_uses_the_ion_error_shape(sandbox: Sandbox, ion: httpx.Client) -> None:
    sandbox.faults.add("status", path=r"^/oauth/token$", status=503, retry_after=1.5)
    response = ion.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1.5"
    assert response.json() == {"error": "UNAVAILABLE", "message": "Injected fault", "code": 503, "details": []}


def test_faults_match_route_and_method_only(sandbox: Sandbox, dv: httpx.Client) -> None:
    sandbox.faults.add("status", path=r"work365_subscriptions", method="POST", status=503)
    assert dv.get("work365_subscriptions", params={"$top": "1"}).status_code == 200
    assert dv.get("accounts", params={"$top": "1"}).status_code == 200
    assert dv.post("work365_subscriptions", json={}).status_code == 503


def test_a_connection_dropped_before_the_write_writes_nothing(sandbox: Sandbox, dv: httpx.Client) -> None:
    sandbox.faults.add("drop_before", path=r"/accounts$", method="POST", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        dv.post("accounts", json={"name": "Dropped before"})
    assert count_named(sandbox, "Dropped before") == 0


def test_a_connection_dropped_after_the_write_has_committed_it(sandbox: Sandbox, dv: httpx.Client) -> None:
    sandbox.faults.add("drop_after", path=r"/accounts$", method="POST", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        dv.post("accounts", json={"name": "Dropped after"})
    assert count_named(sandbox, "Dropped after") == 1
    assert dv.post("accounts", json={"name": "Dropped after"}).status_code == 204  # the fault is spent


def test_a_dropped_batch_after_commit_keeps_the_whole_changeset(sandbox: Sandbox, dv: httpx.Client) -> None:
    sandbox.faults.add("drop_after", path=r"\$batch$", times=1)
    body = ("--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n"
            + "".join("--c\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
                      f"Content-ID: {i}\r\n\r\nPOST accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n"
                      '{"name": "Batched"}\r\n' for i in (1, 2))
            + "--c--\r\n--b--\r\n")
    with pytest.raises(httpx.RemoteProtocolError):
        dv.post("$batch", content=body.encode(), headers={"Content-Type": "multipart/mixed; boundary=b"})
    assert count_named(sandbox, "Batched") == 2


def test_latency_delays_the_answer(sandbox: Sandbox, dv: httpx.Client) -> None:
    sandbox.faults.add("latency", path="WhoAmI", delay=0.3, times=1)
    started = time.monotonic()
    assert dv.get("WhoAmI").status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        sandbox.faults.add("latency", path="WhoAmI", delay=2, times=1)
        dv.get("WhoAmI", timeout=0.2)


def test_faults_can_be_switched_over_http(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.url) as control:
        created = control.post("/_sandbox/faults", json={"kind": "status", "path": "WhoAmI", "status": 503})
        assert created.status_code == 201 and created.json()["kind"] == "status"
        assert control.get("/api/data/v9.2/WhoAmI").status_code == 503
        assert [f["path"] for f in control.get("/_sandbox/faults").json()["faults"]] == ["WhoAmI"]
        assert control.delete("/_sandbox/faults").status_code == 204
        assert control.get("/api/data/v9.2/WhoAmI").status_code == 200
        for bad in ({"kind": "explode"}, {"kind": "status", "status": 200}, {"path": "x"}, {"kind": "latency", "delay": -1}):
            response = control.post("/_sandbox/faults", json=bad)
            assert response.status_code == 400, bad
            assert response.json()["error"]["message"]
