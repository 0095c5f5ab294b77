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
