"""A small HTTP/1.1 server for the sandbox's ASGI app, on loopback, built on h11.

It exists (rather than a general ASGI server) for one reason: the sandbox's faults need to
drop a connection before or after a request commits, without any answer, exactly as a network
failure looks to the client. It keeps connections alive, so clients reuse them as they would
with the real services. It runs either in a background thread (the app hosts the sandbox so,
keeping its own event loop free) or in the foreground (``w365tui sandbox serve``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import h11

from w365tui.sandbox.wire import MAX_BODY, REASONS, DropConnection, too_large_body

MAX_HEADER = 64 * 1024


class _TooLarge(Exception):
    """A request body past the sandbox's limit (its path, for the error's shape)."""

    def __init__(self, path: str):
        super().__init__(path)
        self.path = path.split("?", 1)[0]


class LoopbackServer:
    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self.host = host
        self.port = port
        self._server: asyncio.base_events.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- lifecycle --------------------------------------------------------------------------
    async def start_async(self) -> None:
        self._server = await asyncio.start_server(self._client, self.host, self.port, limit=MAX_HEADER)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop_async(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._connections):
                writer.transport.abort()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    def start(self) -> LoopbackServer:
        """Serve from a daemon thread with its own event loop; returns once listening."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # e.g. the port is taken
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop_async())
                loop.close()

        self._thread = threading.Thread(target=run, name="w365tui-sandbox", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._thread = None
            self._loop = None

    async def serve_forever(self) -> None:
        await self.start_async()
        assert self._server is not None
        try:
            await self._server.serve_forever()
        finally:
            await self.stop_async()

    # -- one connection ---------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER)
        try:
            while True:
                try:
                    request, body = await self._read_request(conn, reader)
                except _TooLarge as refused:  # answered before the body is read any further, then closed
                    message = too_large_body(refused.path)
                    writer.write(conn.send(h11.Response(status_code=413, headers=[
                        ("content-type", "application/json"), ("content-length", str(len(message))),
                        ("connection", "close")], reason=b"Payload Too Large")))
                    writer.write(conn.send(h11.Data(data=message)))
                    await writer.drain()
                    await self._discard(reader, writer)
                    return
                if request is None:
                    return
                try:
                    status, headers, payload = await self._call(request, body, writer)
                except DropConnection:
                    writer.transport.abort()
                    return
                writer.write(conn.send(h11.Response(status_code=status, headers=headers,
                                                    reason=REASONS.get(status, "").encode())))
                if payload:
                    writer.write(conn.send(h11.Data(data=payload)))
                writer.write(conn.send(h11.EndOfMessage()))
                await writer.drain()
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            with contextlib.suppress(Exception):
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    message = f'{{"error":{{"code":"0x0","message":"Malformed HTTP request: {exc}"}}}}'.encode()
                    writer.write(conn.send(h11.Response(status_code=exc.error_status_hint, headers=[
                        ("content-type", "application/json"), ("content-length", str(len(message))),
                        ("connection", "close")])))
                    writer.write(conn.send(h11.Data(data=message)))
                    writer.write(conn.send(h11.EndOfMessage()))
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, h11.LocalProtocolError):
            pass
        except asyncio.CancelledError:
            writer.transport.abort()
        finally:
            self._connections.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    @staticmethod
    async def _discard(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seconds: float = 1.0) -> None:
        """Let the client read the refusal: closing with its unread body would reset the
        connection and lose the answer. What it still sends is read and dropped, for a moment."""
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        with contextlib.suppress(Exception):
            while loop.time() < deadline:
                if not await asyncio.wait_for(reader.read(1 << 20), deadline - loop.time()):
                    return

    @staticmethod
    async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> tuple[h11.Request | None, bytes]:
        request: h11.Request | None = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                if not data and conn.their_state in (h11.IDLE, h11.DONE, h11.MUST_CLOSE, h11.CLOSED):
                    return None, b""
                continue
            if isinstance(event, h11.Request):
                request = event
                length = dict(event.headers).get(b"content-length", b"0")
                if length.isdigit() and int(length) > MAX_BODY:
                    raise _TooLarge(event.target.decode("latin-1"))
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    raise _TooLarge(request.target.decode("latin-1") if request else "/")
            elif isinstance(event, h11.EndOfMessage):
                return request, bytes(body)
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return None, b""

    async def _call(self, request: h11.Request, body: bytes, writer: asyncio.StreamWriter) -> tuple[int, list, bytes]:
        target = request.target.decode("latin-1")
        raw_path, _, query = target.partition("?")
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": request.http_version.decode(),
            "method": request.method.decode("latin-1"),
            "scheme": "http",
            "path": raw_path,
            "raw_path": raw_path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "headers": [(k.lower(), v) for k, v in request.headers],
            "server": (self.host, self.port),
            "client": peer[:2],
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        result: dict[str, Any] = {"status": 500, "headers": [], "body": bytearray()}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                result["status"] = message["status"]
                result["headers"] = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                result["body"] += message.get("body", b"")

        await self.app(scope, receive, send)
        return result["status"], result["headers"], bytes(result["body"])
