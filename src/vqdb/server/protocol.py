"""HTTP/1.1 for the worker loops (server/loops.py), on httptools' parser (llhttp), with the
behaviour of uvicorn's own httptools protocol: keep-alive and its timeout, pipelined requests
answered in order, bodies streamed with back-pressure (reading pauses past 64 KB that the app
has not taken), `Expect: 100-continue`, chunked responses where the app gives no length,
HEAD, 400 for what llhttp cannot parse, 500 for an app that fails before it answers, and a
graceful shutdown that lets the request in flight finish.

Why not uvicorn's: a search request is a few hundred microseconds of CPU, most of it Python
under one GIL, and uvicorn's protocol added a cycle object, an Event and a copy of the body per
request, two regular expressions per response header, the head and the body written apart,
and a keep-alive timer armed and cancelled per request. Here: a body that is all there when
the app asks for it is handed over without waiting, a small answer leaves in one write, the
app's headers are checked once as a block for what could split an answer (CR, LF, NUL), one
idle timer per connection. Protocol work per request in process: 13.6 us with uvicorn's,
10.3 with this (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import asyncio
import http
import logging
import os
import socket
import urllib.parse
from collections import deque
from typing import Any

import httptools
from starlette.types import ASGIApp, Message
from uvicorn.server import ServerState

log = logging.getLogger("uvicorn.error")
access_log = logging.getLogger("uvicorn.access")

HIGH_WATER = 1 << 16  # body bytes held for the app before reading pauses (uvicorn's mark)
_STATUS = {
    code: b"HTTP/1.1 %d %s\r\n" % (code, http.HTTPStatus(code).phrase.encode())
    for code in range(100, 600)
    if code in http.HTTPStatus._value2member_map_
}
_NO_BODY = (204, 304)


def _status_line(status: int) -> bytes:
    return _STATUS.get(status) or b"HTTP/1.1 %d \r\n" % status


class HttpProtocol(asyncio.Protocol):
    """One connection. Its requests run one at a time, in order, each as a task in
    `state.tasks` (what loops.py counts to decide where reads run)."""

    def __init__(
        self,
        config: Any,  # uvicorn.Config
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.app: ASGIApp = config.loaded_app
        self.loop = _loop
        self.state = server_state
        self.app_state = app_state
        self.root_path: str = config.root_path
        self.keep_alive_seconds: float = config.timeout_keep_alive
        self.limit_concurrency: int | None = config.limit_concurrency
        self.access_log = bool(config.access_log) and access_log.hasHandlers()
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.server: tuple[str, int] | None = None
        self.client: tuple[str, int] | None = None
        self.current: Exchange | None = None  # the one being answered
        self.pipeline: deque[Exchange] = deque()  # read, waiting their turn
        self.reading: Exchange | None = None  # the one whose head or body is being parsed
        self.read_paused = False
        self.write_paused = False
        self.writable: asyncio.Future[None] | None = None
        self.idle_timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.idle_since: float | None = None  # when the last answer left, if none is due
        self.encoded_for: list[tuple[bytes, bytes]] | None = None
        self.encoded = b""
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.expects_continue = False
        self.in_head = False  # between a request's first byte and the end of its headers

    # ---- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        self.state.connections.add(self)  # type: ignore[arg-type]  # typed for uvicorn's own
        self.server = _address(transport.get_extra_info("sockname"))
        self.client = _address(transport.get_extra_info("peername"))
        self.idle_since = self.loop.time()
        self.idle_timer = self.loop.call_later(self.keep_alive_seconds, self._idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.state.connections.discard(self)
        self._stop_idle_timer()
        for exchange in (self.current, *self.pipeline):
            if exchange is not None:
                exchange.disconnected = True
                exchange.wake()
        self.pipeline.clear()
        self.resume_writing()

    def data_received(self, data: bytes) -> None:
        self.idle_since = None
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # no protocol to switch to (as uvicorn without websockets): the request is answered
            # as HTTP/1.1, and the connection closed after, since llhttp reads no more of it
            if self.reading is not None:
                self.reading.keep_alive = False
        except httptools.HttpParserError:
            log.warning("Invalid HTTP request received.")
            self._refuse(b"Invalid HTTP request received.")

    def eof_received(self) -> bool | None:
        return None  # close once our side is written

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        self.writable = None

    # ---- httptools' callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.in_head = True
        self.url = b""
        self.headers = []
        self.expects_continue = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        value = value.rstrip(b" \t")  # llhttp keeps trailing whitespace; RFC 9110 drops it
        if name == b"expect" and value.lower() == b"100-continue":
            self.expects_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.in_head = False
        parser = self.parser
        version = parser.get_http_version()
        url = self.url
        if url[:1] == b"/" and b"#" not in url:  # origin form, as clients send it
            raw_path, _, query = url.partition(b"?")
        else:
            parsed = httptools.parse_url(url)
            raw_path, query = parsed.path, parsed.query or b""
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": version,
            "method": parser.get_method().decode("ascii"),
            "scheme": "http",
            "path": self.root_path + path,
            "raw_path": self.root_path.encode("ascii") + raw_path,
            "query_string": query,
            "root_path": self.root_path,
            "headers": self.headers,
            "server": self.server,
            "client": self.client,
            "state": self.app_state.copy(),
        }
        exchange = Exchange(self, scope, version != "1.0" and parser.should_keep_alive())
        exchange.expects_continue = self.expects_continue
        self.reading = exchange
        if self.current is None:
            self._start(exchange)
        else:  # pipelined: answered once the ones before it are
            self.pipeline.append(exchange)
            self._pause_reading()

    def on_body(self, body: bytes) -> None:
        exchange = self.reading
        if exchange is None or exchange.finished:
            return
        exchange.chunks.append(body)
        exchange.held += len(body)
        if exchange.held > HIGH_WATER:
            self._pause_reading()
        exchange.wake()

    def on_message_complete(self) -> None:
        exchange = self.reading
        if exchange is None or exchange.finished:
            return
        exchange.complete = True
        exchange.wake()

    # ---- the connection's turns ---------------------------------------------------------------

    def _start(self, exchange: Exchange) -> None:
        self.current = exchange
        busy = self.limit_concurrency is not None and (
            len(self.state.connections) >= self.limit_concurrency
            or len(self.state.tasks) >= self.limit_concurrency
        )
        task = self.loop.create_task(exchange.run(_unavailable if busy else self.app))
        self.state.tasks.add(task)
        task.add_done_callback(self.state.tasks.discard)

    def answered(self, exchange: Exchange) -> None:
        """The exchange's last byte is written: the next one's turn, or wait for one."""
        self.state.total_requests += 1
        if self.current is exchange:
            self.current = None
        if self.closed or self.transport is None or self.transport.is_closing():
            return
        if not exchange.keep_alive:
            self.transport.close()
            return
        self._resume_reading()
        if self.pipeline:
            self._start(self.pipeline.popleft())
        elif not self.in_head:  # idle from now, unless the next request is on its way
            self.idle_since = self.loop.time()

    def release(self) -> socket.socket | None:
        """Lets go of a TCP connection between two requests, for another process to serve
        (server/readers.py): its socket, a copy of it; None where a request is being read or
        answered, or an answer is not all sent. What the client sends next is still in the
        socket, unread here (reading paused before the check is ended)."""
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            return None
        if self.current is not None or self.pipeline or self.in_head:
            return None
        if transport.get_write_buffer_size():  # two writers would interleave
            return None
        raw = transport.get_extra_info("socket")
        if raw is None or raw.family not in (socket.AF_INET, socket.AF_INET6):
            return None  # a reader process's own connection to the writer stays
        copy = socket.socket(fileno=os.dup(raw.fileno()))
        transport.pause_reading()
        self._stop_idle_timer()
        transport.close()  # closes this copy only: the connection lives on in `copy`
        return copy

    def shutdown(self) -> None:
        """The server is stopping: close now if idle, else after the answer in flight."""
        if self.current is None:
            if self.transport is not None:
                self.transport.close()
            return
        self.current.keep_alive = False
        self.pipeline.clear()

    def defaults(self) -> bytes:
        """The server's own headers (the date), encoded once per change (once a second)."""
        current = self.state.default_headers
        if current is not self.encoded_for:
            self.encoded_for = current
            self.encoded = b"".join(b"%s: %s\r\n" % pair for pair in current)
        return self.encoded

    def write(self, data: bytes) -> None:
        # uvloop's write holds the GIL through the send (~60 us on these VMs: the kernel wakes
        # the client inside it); sending with os.write and the GIL released was measured and
        # not kept: at 8 connections it cost ~7% (each release is a GIL handoff, and the
        # writer then waits for the other loop's Python) on these CPU-bound 2 cores
        transport = self.transport
        if not self.closed and transport is not None and not transport.is_closing():
            transport.write(data)

    async def drained(self) -> None:
        if self.write_paused and not self.closed:
            if self.writable is None:
                self.writable = self.loop.create_future()
            await self.writable

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.read_paused and self.transport is not None:
            self.read_paused = False
            self.transport.resume_reading()

    def _idle(self) -> None:
        """Closes the connection once it has been idle `timeout_keep_alive` seconds. One
        timer per connection, re-armed as it fires, rather than one armed and cancelled per
        request."""
        self.idle_timer = None
        if self.closed:
            return
        wait = self.keep_alive_seconds
        if self.idle_since is not None and self.current is None:
            wait = self.idle_since + self.keep_alive_seconds - self.loop.time()
            if wait <= 0:
                self.close()
                return
        self.idle_timer = self.loop.call_later(wait, self._idle)

    def _stop_idle_timer(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None

    def _refuse(self, message: bytes) -> None:
        """400 and close, for bytes that are not HTTP (uvicorn's answer, word for word)."""
        head = b"content-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n" % len(message)
        self.write(_STATUS[400] + self.defaults() + head + b"connection: close\r\n\r\n" + message)
        self.close()


class Exchange:
    """One request and its answer: the ASGI receive and send of one app call."""

    __slots__ = (
        "chunked",
        "chunks",
        "complete",
        "connection",
        "delivered",
        "disconnected",
        "expects_continue",
        "finished",
        "head",
        "held",
        "keep_alive",
        "left",
        "scope",
        "started",
        "waiter",
    )

    def __init__(self, connection: HttpProtocol, scope: dict[str, Any], keep_alive: bool) -> None:
        self.connection = connection
        self.scope = scope
        self.keep_alive = keep_alive
        self.expects_continue = False
        self.chunks: list[bytes] = []
        self.held = 0  # body bytes read and not yet taken by the app
        self.complete = False  # the whole body is read
        self.delivered = False  # the whole body is handed to the app
        self.disconnected = False
        self.waiter: asyncio.Event | None = None  # for receive() calls waiting on the body
        self.started = False
        self.finished = False
        self.head: bytes | None = None  # the response's head, until its first body part
        self.chunked = False
        self.left = -1  # body bytes the response still owes (-1: no content-length)

    def wake(self) -> None:
        if self.waiter is not None:
            self.waiter.set()

    async def run(self, app: ASGIApp) -> None:
        try:
            await app(self.scope, self.receive, self.send)
        except BaseException as e:
            log.error("Exception in ASGI application\n", exc_info=e)
            if not self.started:
                await self._fail()
            else:
                self.connection.close()
            if not isinstance(e, Exception):
                raise
        else:
            if not self.started and not self.disconnected:
                log.error("ASGI callable returned without starting response.")
                await self._fail()
            elif not self.finished and not self.disconnected:
                log.error("ASGI callable returned without completing response.")
                self.connection.close()
        finally:
            if not self.finished:  # its turn is over all the same
                self.finished = True
                self.connection.current = None

    async def receive(self) -> Message:
        connection = self.connection
        if self.expects_continue and not self.started:
            self.expects_continue = False
            connection.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        # past the whole body, what is left to hear is the disconnect (or the answer's end)
        while not (self.disconnected or self.finished) and (
            self.delivered or not (self.chunks or self.complete)
        ):
            connection._resume_reading()
            if self.waiter is None:  # made only when needed: most bodies are there at once
                self.waiter = asyncio.Event()
            await self.waiter.wait()
            self.waiter.clear()
        if self.disconnected or self.finished:
            return {"type": "http.disconnect"}
        body = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        self.chunks = []
        self.held = 0
        if self.complete:
            self.delivered = True
        else:
            connection._resume_reading()
        return {"type": "http.request", "body": body, "more_body": not self.complete}

    async def send(self, message: Message) -> None:
        connection = self.connection
        if connection.write_paused:
            await connection.drained()
        if self.disconnected:
            return
        kind = message["type"]
        if not self.started:
            if kind != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', got '{kind}'")
            self.head = self._head(message["status"], message.get("headers", ()))
            self.started = True
            self.expects_continue = False
            return
        if self.finished or kind != "http.response.body":
            raise RuntimeError(f"Unexpected ASGI message '{kind}'")
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if self.scope["method"] == "HEAD":
            body = b""
            self.left = -1
        elif self.chunked:
            body = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + (
                b"" if more else b"0\r\n\r\n"
            )
        elif self.left >= 0:
            self.left -= len(body)
            if self.left < 0:
                raise RuntimeError("Response content longer than Content-Length")
        if self.head is not None:  # one write for a small answer: one wake-up of the client
            if len(body) <= HIGH_WATER:
                body = self.head + body
            else:
                connection.write(self.head)
            self.head = None
        if body:
            connection.write(body)
        if not more:
            if self.left > 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.finished = True
            self.wake()  # a receive() waiting for the disconnect hears it now
            connection.answered(self)

    def _head(self, status: int, headers: Any) -> bytes:
        connection = self.connection
        if connection.access_log:
            access_log.info(
                '%s - "%s %s HTTP/%s" %d',
                "{}:{}".format(*connection.client) if connection.client else "-",
                self.scope["method"],
                _path_with_query(self.scope),
                self.scope["http_version"],
                status,
            )
        lines = []
        closes = False
        for name, value in headers:
            name = name.lower()
            if name == b"content-length" and self.left < 0 and not self.chunked:
                self.left = int(value)
            elif name == b"transfer-encoding" and value.lower() == b"chunked":
                self.chunked, self.left = True, -1
            elif name == b"connection" and b"close" in [
                token.strip() for token in value.lower().split(b",")
            ]:
                self.keep_alive = False
                closes = True
            lines.append(b"%s: %s\r\n" % (name, value))
        given = b"".join(lines)
        # one CR and one LF per line, no NUL: no header of the app's can end early and start
        # another, or a body (checked on the whole block at once, not header by header)
        if given.count(b"\r") != len(lines) or given.count(b"\n") != len(lines) or b"\0" in given:
            raise RuntimeError("Invalid HTTP header value.")
        lines = [_status_line(status), connection.defaults(), given]
        if not self.keep_alive and not closes:
            lines.append(b"connection: close\r\n")
        if (
            self.left < 0
            and not self.chunked
            and self.scope["method"] != "HEAD"
            and status not in _NO_BODY
        ):
            self.chunked = True
            lines.append(b"transfer-encoding: chunked\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)

    async def _fail(self) -> None:
        await _closing(self.send, 500, b"Internal Server Error")


async def _unavailable(scope: Any, receive: Any, send: Any) -> None:
    """503 past `limit_concurrency`, as uvicorn answers."""
    await _closing(send, 503, b"Service Unavailable")


async def _closing(send: Any, status: int, text: bytes) -> None:
    """A plain-text answer of the server's own, after which the connection closes."""
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"%d" % len(text)),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text})


def _address(info: Any) -> tuple[str, int] | None:
    if isinstance(info, (tuple, list)) and len(info) >= 2:
        return (str(info[0]), int(info[1]))
    return None


def _path_with_query(scope: dict[str, Any]) -> str:
    path = urllib.parse.quote(scope["root_path"] + scope["path"])
    query = scope["query_string"].decode("ascii")
    return f"{path}?{query}" if query else path
