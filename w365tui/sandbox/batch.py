"""``$batch``: the multipart/mixed framing of Dataverse batch requests and responses.

A batch holds single requests and changesets. A changeset runs in one transaction: when one of
its operations fails, none of it stays. ``Content-ID`` values let later operations of the same
changeset refer to rows created earlier as ``$n``. Without ``Prefer: odata.continue-on-error``
processing stops at the first failure, whose status becomes the batch's. The whole body is
checked before anything runs, so a malformed batch or a GET inside a changeset changes nothing.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote

from w365tui.sandbox.errors import DataverseError, bad_request
from w365tui.sandbox.wire import REASONS, Request, Response

if TYPE_CHECKING:
    from w365tui.sandbox.dataverse import DataverseService

MAX_OPERATIONS = 1000
CRLF = "\r\n"
_LINE = re.compile(r"\r?\n")


@dataclass
class Operation:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class Part:
    operations: list[Operation]
    changeset: bool
    extra: dict[str, str] = field(default_factory=dict)


def boundary_of(content_type: str | None) -> str | None:
    if not content_type or not content_type.lower().startswith("multipart/mixed"):
        return None
    match = re.search(r'boundary\s*=\s*("([^"]+)"|[^;\s]+)', content_type, re.IGNORECASE)
    if not match:
        return None
    return match.group(2) or match.group(1)


def _split(text: str, boundary: str) -> list[list[str]]:
    """The parts between ``--boundary`` lines, each as its list of lines."""
    lines = _LINE.split(text)
    opening, closing = f"--{boundary}", f"--{boundary}--"
    parts: list[list[str]] = []
    current: list[str] | None = None
    closed = False
    for line in lines:
        stripped = line.rstrip()
        if stripped == closing:
            if current is not None:
                parts.append(current)
            current = None
            closed = True
            break
        if stripped == opening:
            if current is not None:
                parts.append(current)
            current = []
            continue
        if current is not None:
            current.append(line)
    if not closed:
        raise bad_request(f"The batch body does not end with the closing delimiter '--{boundary}--'.")
    if not parts:
        raise bad_request("The batch request contains no parts.")
    return parts


def _headers(lines: list[str], start: int = 0) -> tuple[dict[str, str], int]:
    headers: dict[str, str] = {}
    index = start
    while index < len(lines) and lines[index].strip():
        name, sep, value = lines[index].partition(":")
        if not sep:
            raise bad_request(f"The batch part header line '{lines[index]}' is malformed.")
        headers[name.strip().lower()] = value.strip()
        index += 1
    return headers, index + 1


def _operation(lines: list[str], part_headers: dict[str, str]) -> Operation:
    content_type = part_headers.get("content-type", "")
    if not content_type.lower().startswith("application/http"):
        raise bad_request(f"A batch part must have Content-Type application/http, not '{content_type}'.")
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index >= len(lines):
        raise bad_request("A batch part holds no HTTP request.")
    request_line = lines[index].split()
    if len(request_line) != 3 or not request_line[2].startswith("HTTP/"):
        raise bad_request(f"The request line '{lines[index]}' in the batch is malformed.")
    method, url = request_line[0].upper(), request_line[1]
    headers, body_start = _headers(lines, index + 1)
    body_lines = lines[body_start:]
    while body_lines and not body_lines[-1].strip():
        body_lines.pop()
    body = CRLF.join(body_lines).encode("utf-8")
    return Operation(method, url, headers, body, part_headers.get("content-id"))


def parse_batch(body: bytes, content_type: str | None) -> list[Part]:
    boundary = boundary_of(content_type)
    if boundary is None:
        raise bad_request("A $batch request needs Content-Type multipart/mixed with a boundary.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("The batch body is not UTF-8.") from None
    parts: list[Part] = []
    for lines in _split(text, boundary):
        headers, start = _headers(lines)
        inner = boundary_of(headers.get("content-type"))
        if inner is not None:
            operations = []
            seen: set[str] = set()
            for sub in _split(CRLF.join(lines[start:]), inner):
                sub_headers, sub_start = _headers(sub)
                operation = _operation(sub[sub_start:], sub_headers)
                if operation.method == "GET":
                    raise bad_request("GET requests are not allowed within a change set.")
                if operation.content_id is not None:
                    if operation.content_id in seen:
                        raise bad_request(f"The Content-ID '{operation.content_id}' is used twice in one change set.")
                    seen.add(operation.content_id)
                operations.append(operation)
            if not operations:
                raise bad_request("A change set in the batch is empty.")
            parts.append(Part(operations, changeset=True))
        else:
            parts.append(Part([_operation(lines[start:], headers)], changeset=False))
    total = sum(len(p.operations) for p in parts)
    if total > MAX_OPERATIONS:
        raise bad_request(f"The batch holds {total} requests; at most {MAX_OPERATIONS} are allowed in one batch.")
    return parts


def _relative(url: str, content_ids: dict[str, str]) -> tuple[str, str]:
    from w365tui.sandbox.dataverse import API_PREFIX

    text = url
    if text.startswith("$"):
        reference, _, rest = text[1:].partition("/")
        resolved = content_ids.get(reference)
        if resolved is None:
            raise bad_request(f"Content-ID Reference: '${reference}' does not exist in the batch context.")
        text = resolved + (f"/{rest}" if rest else "")
    if API_PREFIX in text:
        text = text.split(API_PREFIX, 1)[1]
    elif text.startswith("/"):
        raise bad_request(f"The URL '{url}' in the batch is outside the Web API.")
    path, _, query = text.partition("?")
    return unquote(path), query


def _render(response: Response, content_id: str | None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"HTTP/1.1 {response.status} {REASONS.get(response.status, '')}".rstrip()]
    lines += [f"{name}: {value}" for name, value in response.headers]
    lines += ["", response.body.decode("utf-8")]
    return CRLF.join(lines) + CRLF


def handle_batch(service: DataverseService, request: Request) -> Response:
    from w365tui.sandbox.dataverse import API_PREFIX, ODATA_VERSION, Prefer

    if request.method != "POST":
        raise DataverseError(405, "0x80060887", "A $batch request must be a POST.")
    prefer = Prefer.parse(request.header("prefer"))
    parts = parse_batch(request.body, request.header("content-type"))
    boundary = f"batchresponse_{uuid.uuid4()}"
    chunks: list[str] = []
    status = 200

    def run(operation: Operation, content_ids: dict[str, str]) -> Response:
        relative, query = _relative(operation.url, content_ids)
        inner = Request(
            method=operation.method,
            path=API_PREFIX + relative,
            query=query,
            headers=operation.headers,
            body=operation.body,
            base_url=request.base_url,
        )
        response = service.execute(inner, relative, content_ids)
        entity_id = response.header("OData-EntityId")
        if operation.content_id is not None and entity_id:
            content_ids[operation.content_id] = entity_id
        return response

    for part in parts:
        if part.changeset:
            content_ids: dict[str, str] = {}
            done: list[tuple[Operation, Response]] = []
            failing: Operation | None = None
            try:
                with service.store.transaction():
                    for operation in part.operations:
                        failing = operation
                        done.append((operation, run(operation, content_ids)))
            except DataverseError as error:
                failure = service.error_response(error)
                chunks.append(_render(failure, failing.content_id if failing else None))
                if not prefer.continue_on_error:
                    status = error.status
                    break
                continue
            inner_boundary = f"changesetresponse_{uuid.uuid4()}"
            body = [f"Content-Type: multipart/mixed; boundary={inner_boundary}", ""]
            for operation, response in done:
                body.append(f"--{inner_boundary}")
                body.append(_render(response, operation.content_id))
            body.append(f"--{inner_boundary}--")
            chunks.append(CRLF.join(body) + CRLF)
        else:
            operation = part.operations[0]
            try:
                with service.store.transaction():
                    response = run(operation, {})
            except DataverseError as error:
                chunks.append(_render(service.error_response(error), None))
                if not prefer.continue_on_error:
                    status = error.status
                    break
                continue
            chunks.append(_render(response, None))
    text = "".join(f"--{boundary}{CRLF}{chunk}" for chunk in chunks) + f"--{boundary}--{CRLF}"
    headers = [ODATA_VERSION, ("Content-Type", f"multipart/mixed; boundary={boundary}")]
    if prefer.continue_on_error:
        headers.append(("Preference-Applied", "odata.continue-on-error"))
    return Response(status, headers, text.encode("utf-8"))
