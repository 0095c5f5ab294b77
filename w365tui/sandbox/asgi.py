"""The sandbox as one ASGI app: Dataverse under ``/api/data/v9.2/``, Ion under ``/oauth/`` and
``/api/v3/``, and the sandbox's own controls under ``/_sandbox/``."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from w365tui.sandbox.dataverse import API_PREFIX, DataverseService
from w365tui.sandbox.entra import EntraService, is_entra_path
from w365tui.sandbox.errors import (
    CODE_THROTTLED,
    CODE_UNAVAILABLE,
    DataverseError,
    IonError,
)
from w365tui.sandbox.faults import Fault, FaultInjector
from w365tui.sandbox.ion import IonService
from w365tui.sandbox.store import Store, naming_of
from w365tui.sandbox.wire import MAX_BODY, DropConnection, Request, Response, json_response


class SandboxApp:
    def __init__(self, store: Store, faults: FaultInjector | None = None, clock: Callable[[], float] = time.time):
        self.store = store
        self.faults = faults or FaultInjector()
        self.dataverse = DataverseService(store, naming_of(store))
        self.ion = IonService(store, clock)
        self.entra = EntraService(clock)

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                await self._send(send, json_response(413, {"error": {"code": "0x80040216", "message": "The request body is too large."}}))
                return
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        scheme = scope.get("scheme", "http")
        host = headers.get("host") or "{}:{}".format(*(scope.get("server") or ("127.0.0.1", 80)))
        raw_path = scope.get("raw_path")
        path = unquote(raw_path.decode("latin-1")) if raw_path else scope["path"]
        request = Request(
            method=scope["method"].upper(),
            path=path.split("?", 1)[0],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=bytes(body),
            base_url=f"{scheme}://{host}",
        )
        response = await self.respond(request)
        await self._send(send, response)

    async def respond(self, request: Request) -> Response:
        faults = self.faults.take(request.method, request.path) if not request.path.startswith("/_sandbox/") else []
        for fault in faults:
            if fault.kind == "latency":
                await asyncio.sleep(fault.delay)
        for fault in faults:
            if fault.kind == "status":
                return self._fault_response(request, fault)
            if fault.kind == "drop_before":
                raise DropConnection(request.path)
            if fault.kind == "malformed":
                return Response(200, [("Content-Type", "application/json"), ("OData-Version", "4.0")],
                                b'{"value": [{"name": "trunc')
        response = self.dispatch(request)
        if any(f.kind == "drop_after" for f in faults):
            raise DropConnection(request.path)
        return response

    def dispatch(self, request: Request) -> Response:
        try:
            if request.path.startswith(API_PREFIX) or request.path.rstrip("/") + "/" == API_PREFIX:
                return self.dataverse.handle(request)
            if request.path.startswith(("/oauth/", "/api/v3/")):
                return self.ion.handle(request)
            if request.path.startswith("/_sandbox/"):
                return self.control(request)
            if is_entra_path(request.path):
                return self.entra.handle(request)
            return json_response(404, {"error": {"code": "NotFound", "message": f"Nothing is served at {request.path}"}})
        except Exception as exc:  # a sandbox bug must still answer in the service's shape
            message = f"The sandbox failed on this request: {type(exc).__name__}: {exc}"
            if request.path.startswith(("/oauth/", "/api/v3/")):
                return json_response(500, IonError(500, "INTERNAL", message).body())
            return json_response(500, DataverseError(500, "0x80040216", message).body())

    def _fault_response(self, request: Request, fault: Fault) -> Response:
        headers = []
        if fault.retry_after is not None:
            value = fault.retry_after
            headers.append(("Retry-After", str(int(value)) if float(value).is_integer() else str(value)))
        if request.path.startswith(("/oauth/", "/api/v3/")):
            error = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}.get(fault.status, "INTERNAL")
            return json_response(fault.status, IonError(fault.status, error, "Injected fault").body(), headers)
        if fault.status == 429:
            message = "Number of requests exceeded the limit of 6000 over time window of 300 seconds."
            code = CODE_THROTTLED
        else:
            message = "The service is temporarily unavailable."
            code = CODE_UNAVAILABLE
        return json_response(fault.status, DataverseError(fault.status, code, message).body(),
                             [("OData-Version", "4.0"), *headers])

    def control(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == "/_sandbox/health" and request.method == "GET":
            return json_response(200, {
                "ok": True,
                "seed": self.store.meta("seed"),
                "scale": self.store.meta("scale"),
                "ion_account_id": self.ion.account_id(),
            })
        if path == "/_sandbox/faults":
            if request.method == "GET":
                return json_response(200, {"faults": [f.describe() for f in self.faults.active()]})
            if request.method == "DELETE":
                self.faults.clear()
                return Response(204)
            if request.method == "POST":
                try:
                    spec = json.loads(request.body or b"{}")
                    if not isinstance(spec, dict) or "kind" not in spec:
                        raise ValueError("send a JSON object with at least 'kind'")
                    fault = self.faults.add(**spec)
                except RecursionError:
                    return json_response(400, {"error": {"code": "BadFault", "message": "the JSON is nested too deeply"}})
                except (ValueError, TypeError, OverflowError) as exc:
                    return json_response(400, {"error": {"code": "BadFault", "message": str(exc)}})
                return json_response(201, fault.describe())
        if path == "/_sandbox/entra/approve" and request.method == "POST":
            try:
                spec = json.loads(request.body or b"{}")
                approved = self.entra.approve(str(spec["user_code"]), deny=bool(spec.get("deny")))
            except (ValueError, TypeError, KeyError, RecursionError):
                return json_response(400, {"error": {"code": "BadRequest", "message": "send {\"user_code\": …}"}})
            if not approved:
                return json_response(404, {"error": {"code": "NotFound", "message": "no pending sign-in has that code"}})
            return Response(204)
        if path == "/_sandbox/ion/refresh-token" and request.method == "POST":
            account = self.ion.account_id()
            return json_response(201, {"account_id": account, "refresh_token": self.ion.mint_refresh_token(account)})
        return json_response(404, {"error": {"code": "NotFound", "message": f"No sandbox control at {request.path}"}})

    @staticmethod
    async def _send(send: Callable, response: Response) -> None:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        if response.status not in (204, 304):
            headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if response.status in (204, 304) else response.body})
