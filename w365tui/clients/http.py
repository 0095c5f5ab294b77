"""The shared base of every service client: timeouts, bounded concurrency, careful retries,
typed errors and secret redaction.

Retries happen only when repeating a request cannot do harm:

* 429 (the service refused before doing anything) — always, honouring ``Retry-After``;
* 503 and dropped connections — only for requests that are safe to repeat (GET/HEAD/OPTIONS,
  or a request its caller marked idempotent);
* a connection that could not be opened — always: nothing was sent.

A write whose connection dropped after it was sent is never blindly resent: the caller gets a
:class:`NetworkError` with ``maybe_committed=True`` and decides (the journal knows what was
asked).
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import random
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SECRET_PARAMS = re.compile(
    r"(token|secret|password|code|assertion|sig|signature|key|credential)", re.IGNORECASE
)



@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verified TLS context every client shares (httpx's own: certifi's authorities, or
    ``SSL_CERT_FILE``/``SSL_CERT_DIR``). Loading the authorities takes tens of milliseconds, and
    each client would otherwise load its own; the app loads it once, off its event loop."""
    return httpx.create_ssl_context()


def _unlink(response: httpx.Response) -> None:
    """Let a read response be freed as soon as it is dropped. httpx leaves it and its finished
    stream pointing at each other, a cycle only the garbage collector frees, and never once the
    app has frozen the heap (``gc.freeze``) while the response was alive: each page of a long
    list then stayed in memory for the session, 46 MB over 97,000 provider accounts."""
    if response.is_closed:  # the body is in ``response.content``; the stream is not read again
        response.stream = httpx.ByteStream(b"")

class W365Error(Exception):
    """Root of the errors the clients raise."""


@dataclass(frozen=True)
class RequestInfo:
    service: str
    method: str
    url: str  # redacted

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.url}"


class NetworkError(W365Error):
    """The network failed: nothing came back. ``maybe_committed`` when a write may have landed."""

    def __init__(self, request: RequestInfo, cause: BaseException, *, maybe_committed: bool = False,
                 advice: str | None = None):
        self.request = request
        self.cause = cause
        self.maybe_committed = maybe_committed
        detail = str(cause) or type(cause).__name__
        note = " (the request was sent; it may have been carried out)" if maybe_committed else ""
        super().__init__(f"{request}: network error: {detail}{note}" + (f". {advice}" if advice else ""))


class ProtocolError(W365Error):
    """The service answered something the client cannot read (malformed JSON, a missing field)."""

    def __init__(self, request: RequestInfo, problem: str):
        self.request = request
        self.problem = problem
        super().__init__(f"{request}: malformed response from {request.service}: {problem}")


class ServiceError(W365Error):
    """The service refused the request; carries its status, error code and message."""

    def __init__(self, request: RequestInfo, status: int, code: str | None, message: str):
        self.request = request
        self.status = status
        self.code = code
        self.message = message
        code_text = f" {code}" if code else ""
        super().__init__(f"{request}: {status}{code_text}: {message}")


class AuthenticationError(ServiceError):
    """Not signed in, or the credentials were refused (401/403, or a token endpoint's refusal)."""


class NotFoundError(ServiceError):
    """The row or resource does not exist (404)."""


class PreconditionFailedError(ServiceError):
    """A conditional request failed (412): the row changed since it was read, or already exists."""


ConcurrencyError = PreconditionFailedError


class ThrottledError(ServiceError):
    """Still throttled (429) after the allowed retries; ``retry_after`` is the service's wish."""

    def __init__(self, request: RequestInfo, status: int, code: str | None, message: str, retry_after: float | None):
        super().__init__(request, status, code, message)
        self.retry_after = retry_after


def error_for_status(request: RequestInfo, status: int, code: str | None, message: str,
                     retry_after: float | None = None) -> ServiceError:
    """The typed error for a refusal with this status."""
    if status == 429:
        return ThrottledError(request, status, code, message, retry_after)
    if status in (401, 403):
        return AuthenticationError(request, status, code, message)
    if status == 404:
        return NotFoundError(request, status, code, message)
    if status == 412:
        return PreconditionFailedError(request, status, code, message)
    return ServiceError(request, status, code, message)


def redact_url(url: str | httpx.URL) -> str:
    """The URL without user name or password, and with the values of secret-looking query
    parameters replaced by ``***``."""
    parts = urlsplit(str(url))
    if "@" in parts.netloc:
        parts = parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1])
    if not parts.query:
        return urlunsplit(parts)
    pairs = [(k, "***" if _SECRET_PARAMS.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(pairs, safe="$(),'/:@*")))


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now())


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # in all, the first try included
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0  # a longer wish is raised as ThrottledError instead of waited out

    def backoff(self, attempt: int, rng: Callable[[], float]) -> float:
        """Full jitter: a random wait up to base·2^attempt, capped."""
        return min(self.max_delay, self.base_delay * (2**attempt)) * rng()


ErrorParser = Callable[[Any], tuple[str | None, str | None]]


def _no_details(payload: Any) -> tuple[str | None, str | None]:
    return None, None


class ServiceClient:
    """One ``httpx.AsyncClient`` for one service, for the app's lifetime."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        max_concurrency: int = 4,
        retry: RetryPolicy | None = None,
        error_parser: ErrorParser = _no_details,
        auth_headers: Callable[[], Awaitable[Mapping[str, str]]] | None = None,
        on_unauthorised: Callable[[], Awaitable[bool]] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ):
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.service = service
        self.retry = retry or RetryPolicy()
        self.error_parser = error_parser
        self.auth_headers = auth_headers
        self.on_unauthorised = on_unauthorised
        self.sleep = sleep
        self.rng = rng
        self._limit = asyncio.Semaphore(max_concurrency)
        self.http = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers or {}),
            timeout=timeout or httpx.Timeout(60.0, connect=10.0),
            transport=transport,
            follow_redirects=False,
            verify=tls_context(),
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def info(self, method: str, url: str | httpx.URL) -> RequestInfo:
        return RequestInfo(self.service, method.upper(), redact_url(self.http.build_request(method, url).url))

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        expect: tuple[int, ...] = (),
    ) -> httpx.Response:
        """Send with retries; return the response, or raise a typed error for 4xx/5xx.

        ``expect`` lists error statuses to hand back instead of raising (e.g. 404 for a lookup).
        """
        method = method.upper()
        safe = method in SAFE_METHODS if idempotent is None else idempotent
        request_info = self.info(method, httpx.URL(url, params=params) if params else url)
        reauthorised = False
        attempt = 0
        while True:
            send_headers = dict(headers or {})
            if self.auth_headers is not None:
                send_headers.update(await self.auth_headers())
            try:
                async with self._limit:
                    response = await self.http.request(
                        method, url, params=params, json=json_body, content=content, data=data, headers=send_headers
                    )
                _unlink(response)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing reached the service: always safe to try again.
                if attempt + 1 < self.retry.attempts:
                    await self.sleep(self.retry.backoff(attempt, self.rng))
                    attempt += 1
                    continue
                raise NetworkError(request_info, exc) from exc
            except httpx.TransportError as exc:
                if safe and attempt + 1 < self.retry.attempts:
                    await self.sleep(self.retry.backoff(attempt, self.rng))
                    attempt += 1
                    continue
                raise NetworkError(request_info, exc, maybe_committed=not safe) from exc

            status = response.status_code
            if status < 400 or status in expect:
                return response
            if status in (401, 403) and self.on_unauthorised is not None and not reauthorised:
                reauthorised = True
                if await self.on_unauthorised():
                    continue
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            retryable = status == 429 or (status in (502, 503, 504) and safe)
            if retryable and attempt + 1 < self.retry.attempts:
                if retry_after is not None and retry_after > self.retry.max_retry_after:
                    raise self.error(request_info, response, retry_after)
                wait = retry_after if retry_after is not None else self.retry.backoff(attempt, self.rng)
                await self.sleep(wait)
                attempt += 1
                continue
            raise self.error(request_info, response, retry_after)

    def error(self, request_info: RequestInfo, response: httpx.Response, retry_after: float | None = None) -> ServiceError:
        status = response.status_code
        code: str | None = None
        message: str | None = None
        try:
            payload = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            payload = None
        if payload is not None:
            try:
                code, message = self.error_parser(payload)
            except (TypeError, KeyError, AttributeError):
                code, message = None, None
        if not message:
            message = (response.text or response.reason_phrase or "").strip()[:300] or f"HTTP {status}"
        return error_for_status(request_info, status, code, message, retry_after)

    async def request_json(self, method: str, url: str, **kwargs: Any) -> Any:
        """``request`` and parse the JSON body; a body that is not JSON is a ProtocolError."""
        response = await self.request(method, url, **kwargs)
        return self.parse_json(response)

    def parse_json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
            info = self.info(response.request.method, response.request.url)
            raise ProtocolError(info, f"the body is not JSON ({exc})") from None
        except RecursionError:
            info = self.info(response.request.method, response.request.url)
            raise ProtocolError(info, "the body is JSON nested too deeply to read") from None


def require(request: RequestInfo, payload: Any, field: str, kind: type | tuple[type, ...]) -> Any:
    """``payload[field]``, checked to be of ``kind``; otherwise a ProtocolError naming the field."""
    if not isinstance(payload, dict):
        raise ProtocolError(request, f"expected a JSON object, got {type(payload).__name__}")
    if field not in payload:
        raise ProtocolError(request, f"the field '{field}' is missing")
    value = payload[field]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ProtocolError(request, f"the field '{field}' should be {names}, not {type(value).__name__}")
    return value
