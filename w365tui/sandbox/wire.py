"""Plain request/response values shared by the emulated services and the ``$batch`` framing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Request:
    method: str
    path: str  # percent-decoded, without the query string
    query: str  # raw query string, still percent-encoded
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    base_url: str = "http://127.0.0.1"  # scheme://host[:port] the client used

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def query_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


class DropConnection(Exception):
    """Raised by a fault: the server closes the connection without answering."""


REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


def json_response(status: int, payload: Any, headers: list[tuple[str, str]] | None = None,
                  content_type: str = "application/json") -> Response:
    # "surrogatepass" would write invalid UTF-8; a lone surrogate echoed in an error is escaped instead
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "backslashreplace")
    return Response(status, [("Content-Type", content_type), *(headers or [])], body)


#: The largest request body the sandbox takes; a larger one is refused as it streams in, never
#: buffered whole. (A $batch of 1,000 operations is a few megabytes.)
MAX_BODY = 32 * 1024 * 1024


def too_large_body(path: str) -> bytes:
    """A 413 body in the shape of the service the path belongs to."""
    if path.startswith(("/oauth/", "/api/v3/")):
        payload: dict[str, Any] = {"error": "INVALID_ARGUMENT", "message": "The request body is too large.",
                                   "code": 413, "details": []}
    else:
        payload = {"error": {"code": "0x80040216", "message": "The request body is too large."}}
    return json.dumps(payload).encode()

