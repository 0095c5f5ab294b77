"""The StreamOne Ion v3 client, with single-use refresh tokens handled safely.

Ion's refresh token works once: every refresh returns a new one and kills the old. So a
refresh runs under a lock shared by every process on the machine, re-reads the token file
inside the lock (another process may have refreshed already), and writes the new refresh token
to disk — atomically, 0600 — before the access token is used. A 401/403 refreshes once and
retries once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from w365tui.clients.auth import (
    REFRESH_MARGIN,
    TokenFileError,
    file_lock,
    read_tokens,
    secure_write,
)
from w365tui.clients.http import (
    AuthenticationError,
    NetworkError,
    ProtocolError,
    RequestInfo,
    RetryPolicy,
    ServiceClient,
    ServiceError,
)
from w365tui.domain.streamone import (
    Customer,
    CustomerCloudProfiles,
    CustomersPage,
    IonSubscription,
    SubscriptionsPage,
)

ModelT = TypeVar("ModelT", bound=BaseModel)

#: When the answer to a refresh is lost, StreamOne may have rotated the refresh token: the stored
#: one is then dead, and only the portal gives a new one.
LOST_ROTATION = ("The answer to the StreamOne token refresh was lost or unreadable; if StreamOne rotated the refresh "
                 "token, the stored one no longer works: get a new refresh token from the StreamOne portal and store "
                 "it with `w365tui login --streamone-token-stdin`")


def ion_error(payload: Any) -> tuple[str | None, str | None]:
    if not isinstance(payload, dict):
        return None, None
    error = payload.get("error")
    message = payload.get("message")
    if isinstance(error, str) and message is None:
        return None, error  # the token endpoint's {"error": "<free text>"}
    return (error if isinstance(error, str) else None), (message if isinstance(message, str) else None)


class IonTokens:
    """The Ion refresh/access token pair of one profile, in a 0600 file."""

    def __init__(self, path: Path, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], float] = time.time):
        self.path = path
        self.clock = clock
        self.http = ServiceClient("StreamOne", base_url, error_parser=ion_error, transport=transport,
                                  retry=RetryPolicy(attempts=1))
        self._lock = asyncio.Lock()
        self.rotations = 0
        self.used: str | None = None  # the access token last handed to a request

    @staticmethod
    def save_refresh_token(path: Path, refresh_token: str) -> None:
        """Store a refresh token generated in the StreamOne portal (or by the sandbox)."""
        secure_write(path, {"refresh_token": refresh_token, "access_token": None, "expires_at": 0})

    async def aclose(self) -> None:
        await self.http.aclose()

    def _valid(self, data: dict[str, Any]) -> bool:
        return bool(data.get("access_token")) and float(data.get("expires_at") or 0) - REFRESH_MARGIN > self.clock()

    async def access_token(self) -> str:
        data = read_tokens(self.path)
        if self._valid(data):
            self.used = str(data["access_token"])
        else:
            self.used = await self._refresh(stale=data.get("access_token"))
        return self.used

    async def invalidate(self) -> bool:
        """The service refused the access token this client sent: get another — unless another
        process has already replaced that one, whose new token is then used (one rotation)."""
        await self._refresh(stale=self.used, force=True)
        return True

    async def _refresh(self, stale: str | None, force: bool = False) -> str:
        async with self._lock, file_lock(self.path.with_suffix(".lock")):
            data = read_tokens(self.path)
            if self._valid(data) and data.get("access_token") != stale:
                return str(data["access_token"])  # refreshed by someone else meanwhile
            if self._valid(data) and not force:
                return str(data["access_token"])
            refresh = data.get("refresh_token")
            if not refresh:
                raise TokenFileError(f"{self.path}: no StreamOne refresh token; add one with `w365tui login`")
            info = self.http.info("POST", "/oauth/token")
            try:
                response = await self.http.request("POST", "/oauth/token", data={
                    "grant_type": "refresh_token", "refresh_token": str(refresh)}, idempotent=False)
            except ServiceError as exc:
                if exc.status >= 500:  # the token service failed; the refresh token was not used up
                    raise ServiceError(exc.request, exc.status, exc.code,
                                       f"StreamOne's token service failed ({exc.message}); the stored refresh "
                                       "token is still good: try again later") from None
                raise AuthenticationError(exc.request, exc.status, exc.code,
                                          f"StreamOne refused the refresh token: {exc.message}; get a new one from "
                                          "the StreamOne portal and store it with `w365tui login "
                                          "--streamone-token-stdin`") from None
            except NetworkError as exc:
                if exc.maybe_committed:
                    raise NetworkError(info, exc.cause, maybe_committed=True, advice=LOST_ROTATION) from None
                raise
            try:
                payload = self.http.parse_json(response)
            except ProtocolError as exc:  # StreamOne answered, so it has most likely rotated the token
                raise ProtocolError(info, f"{exc.problem}. {LOST_ROTATION}") from None
            for name in ("access_token", "refresh_token"):
                if not isinstance(payload, dict) or not isinstance(payload.get(name), str):
                    raise ProtocolError(info, f"the field '{name}' is missing. {LOST_ROTATION}")
            expires_in = payload.get("expires_in")
            if not isinstance(expires_in, int):
                raise ProtocolError(info, "the field 'expires_in' should be a whole number of seconds")
            # The old refresh token is dead now: keep the new one before anything else.
            await asyncio.to_thread(secure_write, self.path, {"refresh_token": payload["refresh_token"],
                                                              "access_token": payload["access_token"],
                                                              "expires_at": self.clock() + expires_in})
            self.rotations += 1
            return str(payload["access_token"])


class IonClient:
    """Business calls under ``/api/v3/accounts/{account_id}/``."""

    def __init__(self, base_url: str, account_id: int, tokens: IonTokens, *,
                 transport: httpx.AsyncBaseTransport | None = None, max_concurrency: int = 2,
                 retry: RetryPolicy | None = None, sleep: Any = None, timeout: httpx.Timeout | None = None):
        self.account_id = int(account_id)
        self.tokens = tokens
        extra = {"sleep": sleep} if sleep is not None else {}
        self.http = ServiceClient(
            "StreamOne", base_url, headers={"Accept": "application/json"}, error_parser=ion_error,
            auth_headers=self._auth, on_unauthorised=tokens.invalidate, transport=transport,
            max_concurrency=max_concurrency, retry=retry, timeout=timeout, **extra)
        self.prefix = f"/api/v3/accounts/{self.account_id}"

    async def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.tokens.access_token()}"}

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.tokens.aclose()

    async def __aenter__(self) -> IonClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _get(self, path: str, model: type[ModelT], params: dict[str, Any] | None = None) -> ModelT:
        url = f"{self.prefix}{path}"
        response = await self.http.request("GET", url, params=params)
        payload = self.http.parse_json(response)
        return _validate(self.http.info("GET", response.request.url), model, payload)

    async def customers(self, page_size: int = 100) -> AsyncIterator[Customer]:
        params: dict[str, Any] = {"pageSize": page_size}
        while True:
            page = await self._get("/customers", CustomersPage, params)
            for customer in page.customers:
                yield customer
            if page.is_last:
                return
            params = {"pageSize": page_size, "pageToken": page.next_page_token}

    async def cloud_profiles(self, customer_id: str) -> CustomerCloudProfiles:
        return await self._get(f"/customers/{_segment(customer_id)}/cloudProfiles", CustomerCloudProfiles)

    async def subscriptions(self, customer_id: str | None = None, limit: int = 100) -> AsyncIterator[IonSubscription]:
        offset = 0
        while True:
            params: dict[str, Any] = {"pagination.limit": limit, "pagination.offset": offset}
            if customer_id is not None:
                params["customerId"] = _segment(customer_id)
            page = await self._get("/subscriptions", SubscriptionsPage, params)
            for item in page.items:
                yield item
            offset += len(page.items)
            if not page.items or page.total_size is None or offset >= page.total_size:
                return

    async def subscription_pages(self, customer_id: str | None = None, limit: int = 100,
                                 ahead: int = 4) -> AsyncIterator[list[IonSubscription]]:
        """The subscriptions a page at a time, in order; once the first page tells how many there
        are, up to ``ahead`` further pages are asked together (the client's own limit on requests
        in flight still holds)."""
        params: dict[str, Any] = {"pagination.limit": limit, "pagination.offset": 0}
        if customer_id is not None:
            params["customerId"] = _segment(customer_id)
        first = await self._get("/subscriptions", SubscriptionsPage, params)
        yield first.items
        total = first.total_size
        if not first.items or total is None or len(first.items) >= total:
            return
        offsets = list(range(len(first.items), total, limit))
        for start in range(0, len(offsets), ahead):
            batch = offsets[start:start + ahead]
            pages = await asyncio.gather(*(self._get("/subscriptions", SubscriptionsPage,
                                                     {**params, "pagination.offset": offset}) for offset in batch))
            for page in pages:
                yield page.items

    async def subscription(self, customer_id: str, subscription_id: str) -> IonSubscription:
        return await self._get(f"/customers/{_segment(customer_id)}/subscriptions/{_segment(subscription_id)}",
                               IonSubscription)


def _segment(value: str) -> str:
    text = str(value)
    if not text.isdigit():
        raise ValueError(f"{value!r} is not a StreamOne id")
    return text


def _validate(info: RequestInfo, model: type[ModelT], payload: Any) -> ModelT:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the body"
        raise ProtocolError(info, f"the field '{where}': {first['msg']}") from None
