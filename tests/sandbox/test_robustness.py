"""Bad requests never get a stack trace or a 500: always the service's own error shape."""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from w365tui.sandbox.asgi import SandboxApp
from w365tui.sandbox.seed import seed
from w365tui.sandbox.store import Store
from w365tui.sandbox.wire import Request

_store = Store(":memory:")
seed(_store)
APP = SandboxApp(_store)


def dataverse(method: str, path: str, query: str = "", body: bytes = b"", content_type: str = "application/json") -> tuple[int, object]:
    request = Request(method, f"/api/data/v9.2/{path}", query, {"content-type": content_type}, body)
    response = APP.dispatch(request)
    import json

    return response.status, json.loads(response.body) if response.body else None


FILTER_PIECES = st.sampled_from(["name", "eq", "ne", "'x'", "''", "(", ")", "and", "or", "not", "contains(",
                                 ",", "null", "1", "1.5", "true", "_primarycontactid_value",
                                 "00000000-0000-0000-0000-000000000001", "2024-01-01", "/", "statecode", " ", "$"])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(FILTER_PIECES, max_size=8).map(" ".join) | st.text(max_size=40))
def test_any_filter_gets_a_result_or_a_400(text: str) -> None:
    from urllib.parse import quote

    status, body = dataverse("GET", "accounts", "$filter=" + quote(text))
    assert status in (200, 400), (text, body)
    if status == 400:
        assert set(body["error"]) == {"code", "message"}


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_body_gets_a_clean_refusal(body: bytes) -> None:
    status, payload = dataverse("POST", "accounts", body=body)
    assert status in (204, 400), payload
    if status == 400:
        assert set(payload["error"]) == {"code", "message"}


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789()$/'=-_,.", max_size=60), st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT"]))
def test_any_path_gets_the_error_shape(path: str, method: str) -> None:
    status, payload = dataverse(method, path, body=b"{}")
    assert status < 500, (path, payload)
    if status >= 400:
        assert set(payload["error"]) == {"code", "message"}


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_any_batch_body_gets_the_error_shape_or_a_multipart_answer(text: str) -> None:
    request = Request("POST", "/api/data/v9.2/$batch", "", {"content-type": "multipart/mixed; boundary=b"},
                      ("--b\r\n" + text + "\r\n--b--\r\n").encode())
    response = APP.dispatch(request)
    assert response.status < 500, response.body
    if response.status >= 400 and not (response.header("Content-Type") or "").startswith("multipart/"):
        import json

        assert set(json.loads(response.body)["error"]) == {"code", "message"}


def test_ion_refusals_have_the_ion_shape(sandbox, ion: httpx.Client) -> None:
    for path in ("/api/v3/accounts/x/customers", "/api/v3/accounts/1/nothing"):
        response = ion.get(path)
        assert response.status_code in (403, 404)
        assert set(response.json()) == {"error", "message", "code", "details"}


HUGE = "9" * 40
ARABIC_DIGITS = "١٢٣"


def hostile_requests() -> list[tuple[str, str, str, bytes, dict[str, str]]]:
    """(method, path, query, body, headers): what a careless or hostile client can send."""
    from urllib.parse import quote

    account = _store.conn.execute("SELECT accountid FROM account LIMIT 1").fetchone()[0]
    cases: list[tuple[str, str, str, bytes, dict[str, str]]] = []
    for top in (HUGE, ARABIC_DIGITS, "-1", "1e3", "٣"):
        cases.append(("GET", "accounts", "$top=" + quote(top), b"", {}))
    for size in (HUGE, ARABIC_DIGITS, "0", "x"):
        cases.append(("GET", "accounts", "", b"", {"prefer": f"odata.maxpagesize={size}"}))
    cases += [
        ("GET", f"accounts({ARABIC_DIGITS})", "", b"", {}),
        ("GET", "accounts(" + "1" * 5000 + ")", "", b"", {}),
        ("GET", "accounts", "$filter=" + quote("(" * 5000 + "name eq 'x'" + ")" * 5000), b"", {}),
        ("GET", "accounts", "$filter=" + quote(" and ".join(["name eq 'x'"] * 20000)), b"", {}),
        ("GET", "accounts", "$filter=" + quote("not " * 5000 + "name eq 'x'"), b"", {}),
        ("GET", "accounts", "$orderby=" + quote(",".join(["name"] * 20000)), b"", {}),
        ("GET", "accounts", "$select=" + quote(",".join(["name"] * 20000)), b"", {}),
        ("GET", "work365_subscriptions", "$filter=" + quote("work365_quantity eq " + HUGE), b"", {}),
        ("GET", "work365_subscriptions", "$filter=" + quote("work365_quantity gt 1e400"), b"", {}),
        ("GET", "accounts", "$expand=" + quote("primarycontactid(" * 200 + ")" * 200), b"", {}),
        ("GET", "accounts", "$skiptoken=" + quote("eyJvIjo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5LCJrIjpudWxsLCJxIjoiIn0"), b"", {}),
        ("POST", "accounts", "", b"[" * 100_000 + b"]" * 100_000, {}),
        ("POST", "accounts", "", b'{"name": ' * 50_000, {}),
        ("POST", "work365_subscriptions", "", b'{"work365_quantity": ' + HUGE.encode() + b"}", {}),
        ("POST", "work365_subscriptions", "", b'{"work365_sellingprice": 1e999}', {}),
        ("POST", "work365_subscriptions", "", b'{"work365_sellingprice": ' + b"9" * 400 + b"}", {}),
        ("PATCH", f"accounts({account})", "", b'{"name": "\\ud800"}', {}),
        ("POST", "$batch", "", b"--b\r\n" * 10_000, {"content-type": "multipart/mixed; boundary=b"}),
    ]
    return cases


def test_hostile_parameters_and_bodies_get_the_service_shape_never_a_500() -> None:
    import json

    for method, path, query, body, headers in hostile_requests():
        request = Request(method, f"/api/data/v9.2/{path}", query, {"content-type": "application/json", **headers},
                          body)
        response = APP.dispatch(request)
        assert response.status < 500, (method, path[:40], query[:60], response.body[:200])
        if response.status >= 400 and not (response.header("Content-Type") or "").startswith("multipart/"):
            assert set(json.loads(response.body)["error"]) == {"code", "message"}, response.body[:200]


def test_hostile_ion_parameters_get_the_ion_shape_never_a_500(sandbox, ion: httpx.Client) -> None:
    token = ion.post("/oauth/token", data={"grant_type": "refresh_token",
                                           "refresh_token": sandbox.new_ion_refresh_token()}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    base = f"/api/v3/accounts/{sandbox.ion_account_id}"
    customer = ion.get(f"{base}/customers", params={"pageSize": "1"}, headers=auth).json()["customers"][0]["name"]
    customer_id = customer.rsplit("/", 1)[1]
    import base64

    def cursor(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    numbers = (HUGE, ARABIC_DIGITS, "²", "-1", " 5", "+5", "1e3", "0x10")
    cases = [("customers", {"pageSize": n}) for n in numbers]
    cases += [("customers", {"pageToken": cursor(f"c:{n}:5")}) for n in numbers]
    cases += [("customers", {"pageToken": cursor(f"c:1:{n}")}) for n in numbers]
    cases += [("subscriptions", {key: n}) for n in numbers
              for key in ("pagination.limit", "pagination.offset", "customerId")]
    cases += [(f"customers/{n}", {}) for n in numbers]
    cases += [(f"customers/{customer_id}/subscriptions/{n}", {}) for n in numbers]
    for path, params in cases:
        response = ion.get(f"{base}/{path}", params=params, headers=auth)
        assert response.status_code in (400, 404), (path, params, response.status_code, response.text[:200])
        assert set(response.json()) == {"error", "message", "code", "details"}, (path, params)
    for account in (HUGE, ARABIC_DIGITS, "²"):  # someone else's account, in any spelling: refused
        response = ion.get(f"/api/v3/accounts/{account}/customers", params={"pageSize": "1"}, headers=auth)
        assert response.status_code == 403, account


def test_an_oversized_body_is_refused_as_it_streams_and_memory_stays_bounded(sandbox) -> None:
    import resource
    import socket

    port = int(sandbox.url.rsplit(":", 1)[1])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    with socket.create_connection(("127.0.0.1", port)) as conn:  # 300 MB, chunked: no length to refuse by
        conn.sendall(b"POST /api/data/v9.2/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % (1024 * 1024) + b"a" * (1024 * 1024) + b"\r\n"
        try:
            for _ in range(300):
                conn.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server has answered and closed
        answer = read_all(conn)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024 - before
    assert answer.startswith(b"HTTP/1.1 413") and b'"message": "The request body is too large."' in answer
    assert grown < 120, f"the server's memory grew by {grown} MB"
    with socket.create_connection(("127.0.0.1", port)) as conn:  # a length past the limit: refused unread
        conn.sendall(b"POST /api/v3/accounts/100042/customers HTTP/1.1\r\nHost: x\r\nContent-Length: 314572800\r\n\r\n")
        answer = read_all(conn)
    assert answer.startswith(b"HTTP/1.1 413") and b'"error": "INVALID_ARGUMENT"' in answer


def read_all(conn) -> bytes:
    """Everything the server sends until it closes the connection."""
    conn.settimeout(10)
    data = b""
    while True:
        try:
            part = conn.recv(4096)
        except ConnectionResetError:
            return data
        if not part:
            return data
        data += part


def test_every_other_route_answers_hostile_bodies_in_its_shape() -> None:
    """The sandbox's control routes, Entra's token endpoints and Ion's: no 500 for any of them."""
    import json

    tenant = "00000000-0000-0000-0000-000000000001"
    deep = b"[" * 100_000 + b"]" * 100_000
    cases = [
        ("POST", "/_sandbox/faults", deep),
        ("POST", "/_sandbox/faults", b'{"kind": "status", "times": 1e400}'),
        ("POST", "/_sandbox/faults", b'{"kind": "status", "status": ' + HUGE.encode() + b"}"),
        ("POST", "/_sandbox/faults", b'{"kind": "latency", "delay": -1}'),
        ("POST", "/_sandbox/faults", b'{"kind": "status", "path": {"a": 1}}'),
        ("POST", "/_sandbox/faults", b'{"kind": "status", "retry_after": "\\u0663"}'),
        ("POST", "/_sandbox/faults", b"\xff\xfe"),
        ("POST", "/_sandbox/entra/approve", deep),
        ("POST", "/_sandbox/entra/approve", b'{"user_code": ' + HUGE.encode() + b"}"),
        ("POST", "/_sandbox/entra/approve", b"\xff"),
        ("POST", f"/{tenant}/oauth2/v2.0/devicecode", b"client_id=" + b"%ff" * 1000),
        ("POST", f"/{tenant}/oauth2/v2.0/token", b"client_id=x&grant_type=refresh_token&refresh_token=%00"),
        ("POST", f"/{tenant}/oauth2/v2.0/token", b"&&&==&client_id=\xff\xfe&grant_type=" + b"a" * 100_000),
        ("POST", "/oauth/token", b"grant_type=refresh_token&refresh_token=" + b"%ff" * 1000),
        ("POST", "/oauth/token", deep),
        ("POST", "/oauth/validateAccess", b"access_token=" + HUGE.encode()),
        ("GET", "/_sandbox/health", b""),
    ]
    for method, path, body in cases:
        response = APP.dispatch(Request(method, path, "", {"content-type": "application/json"}, body))
        assert response.status < 500, (method, path, body[:60], response.body[:200])
        json.loads(response.body or b"{}")  # always JSON
