"""``$batch`` against the sandbox over loopback HTTP, including the examples of Microsoft's
"Execute batch operations using the Web API" page, sent as written there (with CRLF)."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from w365tui.sandbox.host import Sandbox

ACCOUNT = "00000000-0000-0000-0000-000000000001"

DOC_BATCH = """\
--batch_80dd1615-2a10-428a-bb6f-0e559792721f
Content-Type: application/http
Content-Transfer-Encoding: binary

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 1 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--batch_80dd1615-2a10-428a-bb6f-0e559792721f
Content-Type: application/http
Content-Transfer-Encoding: binary

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 2 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--batch_80dd1615-2a10-428a-bb6f-0e559792721f
Content-Type: application/http
Content-Transfer-Encoding: binary

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 3 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--batch_80dd1615-2a10-428a-bb6f-0e559792721f
Content-Type: application/http
Content-Transfer-Encoding: binary

GET /api/data/v9.2/accounts(00000000-0000-0000-0000-000000000001)/Account_Tasks?$select=subject HTTP/1.1


--batch_80dd1615-2a10-428a-bb6f-0e559792721f--
"""

DOC_CHANGESET = """\
--batch_22975cad-7f57-410d-be15-6363209367ea
Content-Type: multipart/mixed; boundary="changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a"

--changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 1 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 2 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 3

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 3 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a--

--batch_22975cad-7f57-410d-be15-6363209367ea
Content-Type: application/http
Content-Transfer-Encoding: binary

GET /api/data/v9.2/accounts(00000000-0000-0000-0000-000000000001)/Account_Tasks?$select=subject HTTP/1.1


--batch_22975cad-7f57-410d-be15-6363209367ea--
"""

LONG_SUBJECT = "Subject is too long " + "x" * 200


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def send(dv: httpx.Client, body: bytes | str, boundary: str, prefer: str | None = None) -> httpx.Response:
    headers = {"Content-Type": f'multipart/mixed; boundary="{boundary}"', "If-None-Match": "null"}
    if prefer:
        headers["Prefer"] = prefer
    return dv.post("$batch", content=crlf(body) if isinstance(body, str) else body, headers=headers)


def parse(response: httpx.Response) -> list:
    """The parts of a batch response: (status, headers, body) or, for a changeset, a list of those."""
    match = re.search(r"boundary=([^;\s]+)", response.headers["Content-Type"])
    assert match, response.headers
    return _parts(response.text, match.group(1))


def _parts(text: str, boundary: str) -> list:
    assert "\r\n" in text and not re.search(r"[^\r]\n", text), "responses use CRLF line endings"
    assert text.rstrip("\r\n").endswith(f"--{boundary}--")
    result = []
    for chunk in text.split(f"--{boundary}")[1:-1]:
        head, _, rest = chunk.strip("\r\n").partition("\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.split("\r\n"))
        inner = re.search(r"boundary=([^;\s]+)", headers["Content-Type"])
        if inner:
            result.append(_parts(rest, inner.group(1)))
            continue
        assert headers["Content-Type"] == "application/http"
        assert headers["Content-Transfer-Encoding"] == "binary"
        status_line, _, rest = rest.partition("\r\n")
        http_head, _, body = rest.partition("\r\n\r\n")
        http_headers = dict(line.split(": ", 1) for line in http_head.split("\r\n") if line)
        result.append((int(status_line.split()[1]), http_headers, body.strip(), headers.get("Content-ID")))
    return result


@pytest.fixture
def account(dv: httpx.Client) -> str:
    assert dv.patch(f"accounts({ACCOUNT})", json={"name": "Batch example account"}).status_code == 204
    return ACCOUNT


def test_documented_batch_without_changeset(dv: httpx.Client, account: str) -> None:
    response = send(dv, DOC_BATCH, "batch_80dd1615-2a10-428a-bb6f-0e559792721f")
    assert response.status_code == 200, response.text
    assert response.headers["OData-Version"] == "4.0"
    assert re.fullmatch(r"multipart/mixed; boundary=batchresponse_[0-9a-f-]{36}", response.headers["Content-Type"])
    parts = parse(response)
    assert [p[0] for p in parts] == [204, 204, 204, 200]
    for _status, headers, body, _ in parts[:3]:
        assert headers["OData-Version"] == "4.0"
        assert re.fullmatch(r"http://.+/api/data/v9\.2/tasks\([0-9a-f-]{36}\)", headers["OData-EntityId"])
        assert headers["Location"] == headers["OData-EntityId"]
        assert body == ""
    listing = json.loads(parts[3][2])
    assert parts[3][1]["Content-Type"].startswith("application/json")
    assert listing["@odata.context"].endswith("$metadata#tasks(subject)")
    assert sorted(t["subject"] for t in listing["value"]) == ["Task 1 in batch", "Task 2 in batch", "Task 3 in batch"]
    assert all(set(t) == {"@odata.etag", "subject", "activityid"} for t in listing["value"])


def test_documented_batch_with_changeset(dv: httpx.Client, account: str) -> None:
    response = send(dv, DOC_CHANGESET, "batch_22975cad-7f57-410d-be15-6363209367ea")
    assert response.status_code == 200, response.text
    changeset, listing = parse(response)
    assert [(status, cid) for status, _, _, cid in changeset] == [(204, "1"), (204, "2"), (204, "3")]
    assert listing[0] == 200
    assert len(json.loads(listing[2])["value"]) == 3
    assert re.search(r"Content-Type: multipart/mixed; boundary=changesetresponse_[0-9a-f-]{36}", response.text)


def test_a_changeset_whose_third_operation_fails_leaves_no_trace(dv: httpx.Client, sandbox: Sandbox) -> None:
    before = sandbox.store.canonical_dump()
    body = """\
--batch_A
Content-Type: multipart/mixed; boundary=changeset_B

--changeset_B
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST accounts HTTP/1.1
Content-Type: application/json

{"name": "First of three"}
--changeset_B
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

POST contacts HTTP/1.1
Content-Type: application/json

{"fullname": "Second of three", "parentcustomerid_account@odata.bind": "$1"}
--changeset_B
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 3

PATCH $1 HTTP/1.1
Content-Type: application/json

{"websiteurl": 42}
--changeset_B--
--batch_A--
"""
    response = send(dv, body, "batch_A")
    assert response.status_code == 400
    parts = parse(response)
    assert len(parts) == 1
    status, headers, payload, content_id = parts[0]
    assert (status, content_id) == (400, "3")
    assert json.loads(payload)["error"]["code"] == "0x80048d19"
    assert sandbox.store.canonical_dump() == before
    assert dv.get("accounts", params={"$filter": "name eq 'First of three'"}).json()["value"] == []


def test_content_id_references_in_body_and_url(dv: httpx.Client) -> None:
    body = """\
--batch_AAA123
Content-Type: multipart/mixed; boundary=changeset_dd81

--changeset_dd81
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST http://ignored.example/api/data/v9.2/accounts HTTP/1.1
Content-Type: application/json

{"name": "Referenced account"}

--changeset_dd81
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

POST /api/data/v9.2/contacts HTTP/1.1
Content-Type: application/json

{"fullname": "Referenced contact", "parentcustomerid_account@odata.bind": "$1"}

--changeset_dd81
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 3

PATCH $1 HTTP/1.1
Content-Type: application/json

{"primarycontactid@odata.bind": "$2"}

--changeset_dd81--
--batch_AAA123--
"""
    response = send(dv, body, "batch_AAA123")
    assert response.status_code == 200, response.text
    (changeset,) = parse(response)
    account_url = changeset[0][1]["OData-EntityId"]
    assert changeset[2][1]["OData-EntityId"] == account_url
    account = dv.get(account_url, params={"$expand": "primarycontactid($select=fullname)"}).json()
    assert account["primarycontactid"]["fullname"] == "Referenced contact"


def test_an_undeclared_content_id_is_refused(dv: httpx.Client, sandbox: Sandbox) -> None:
    before = sandbox.store.canonical_dump()
    body = """\
--batch_X
Content-Type: multipart/mixed; boundary=changeset_Y

--changeset_Y
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

POST contacts HTTP/1.1
Content-Type: application/json

{"fullname": "Orphan", "parentcustomerid_account@odata.bind": "$1"}
--changeset_Y
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST accounts HTTP/1.1
Content-Type: application/json

{"name": "Late"}
--changeset_Y--
--batch_X--
"""
    response = send(dv, body, "batch_X")
    assert response.status_code == 400
    (status, _, payload, _), = parse(response)
    assert "Content-ID Reference: '$1' does not exist in the batch context." in json.loads(payload)["error"]["message"]
    assert sandbox.store.canonical_dump() == before


def test_a_get_inside_a_changeset_is_refused_before_anything_runs(dv: httpx.Client, sandbox: Sandbox) -> None:
    before = sandbox.store.canonical_dump()
    body = """\
--batch_G
Content-Type: multipart/mixed; boundary=changeset_G

--changeset_G
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST accounts HTTP/1.1
Content-Type: application/json

{"name": "Never written"}
--changeset_G
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

GET accounts HTTP/1.1


--changeset_G--
--batch_G--
"""
    response = send(dv, body, "batch_G")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "GET requests are not allowed within a change set."
    assert sandbox.store.canonical_dump() == before


def _doc_error_batch() -> str:
    parts = []
    for subject in (LONG_SUBJECT, "Task 2 in batch", "Task 3 in batch"):
        parts.append(
            "--batch_431f\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n\n"
            "POST /api/data/v9.2/tasks HTTP/1.1\nContent-Type: application/json; type=entry\n\n"
            + json.dumps({"subject": subject,
                          "regardingobjectid_account_task@odata.bind": f"accounts({ACCOUNT})"}, indent=2)
            + "\n"
        )
    return "".join(parts) + "--batch_431f--\n"


def test_without_continue_on_error_the_first_failure_stops_the_batch(dv: httpx.Client, account: str) -> None:
    response = send(dv, _doc_error_batch(), "batch_431f")
    assert response.status_code == 400
    parts = parse(response)
    assert len(parts) == 1
    error = json.loads(parts[0][2])["error"]
    assert error == {"code": "0x80044331", "message": "A validation error occurred.  The length of the 'subject' "
                     "attribute of the 'task' entity exceeded the maximum allowed length of '200'."}
    assert dv.get(f"accounts({ACCOUNT})/Account_Tasks").json()["value"] == []


def test_continue_on_error_runs_the_rest(dv: httpx.Client, account: str) -> None:
    response = send(dv, _doc_error_batch(), "batch_431f", prefer="odata.continue-on-error")
    assert response.status_code == 200
    assert response.headers["Preference-Applied"] == "odata.continue-on-error"
    assert [p[0] for p in parse(response)] == [400, 204, 204]
    subjects = [t["subject"] for t in dv.get(f"accounts({ACCOUNT})/Account_Tasks").json()["value"]]
    assert sorted(subjects) == ["Task 2 in batch", "Task 3 in batch"]


def test_more_than_1000_requests_are_refused(dv: httpx.Client, sandbox: Sandbox) -> None:
    operation = ("--batch_L\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n\n"
                 "POST accounts HTTP/1.1\nContent-Type: application/json\n\n{\"name\": \"n\"}\n")
    before = sandbox.store.count("account")
    response = send(dv, operation * 1001 + "--batch_L--\n", "batch_L")
    assert response.status_code == 400
    assert "at most 1000" in response.json()["error"]["message"]
    assert sandbox.store.count("account") == before
    assert send(dv, operation * 1000 + "--batch_L--\n", "batch_L").status_code == 200
    assert sandbox.store.count("account") == before + 1000


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"--b\r\nContent-Type: application/http\r\n\r\nPOST accounts HTTP/1.1\r\n\r\n{}\r\n", "multipart/mixed; boundary=b"),
        (b"no parts at all", "multipart/mixed; boundary=b"),
        (b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n", "multipart/mixed; boundary=b"),
        (b"--b\r\nContent-Type: application/http\r\n\r\nNOT A REQUEST LINE\r\n--b--\r\n", "multipart/mixed; boundary=b"),
        (b"{}", "application/json"),
    ],
)
def test_malformed_batches_are_refused_in_the_service_shape(dv: httpx.Client, body: bytes, content_type: str) -> None:
    response = dv.post("$batch", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message"}
