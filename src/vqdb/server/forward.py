"""A reader process's way to the writer (server/readers.py): the requests a reader process does
not serve itself go, as they came, to the process that writes the storage, over its unix
socket, and the writer's answer comes back as it is. The writer checks them as it checks its
own connections' (API key, body, limits), so a reader process decides nothing for it.

Plain HTTP/1.1 on httptools' parser, with a few idle connections kept for the next request:
the requests that travel this way are writes and the odd collection read, not the searches.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any

import httptools
from starlette.types import Receive, Scope, Send

from vqdb.server.router import Bare

log = logging.getLogger("vqdb.server")

# what belongs to one hop of a connection, not to the request or answer it carries (the date
# is the reader protocol's own, added to every answer)
_HOP = {
    b"connection",
    b"keep-alive",
    b"transfer-encoding",
    b"te",
    b"trailer",
    b"upgrade",
    b"expect",
    b"proxy-connection",
}
_ANSWER_HOP = _HOP | {b"date"}  # a `connection: close` is passed on: the client's closes too
IDLE_SECONDS = 2.0  # an idle connection older than this may be one the writer is closing
_CHUNK = 1 << 16


class Writer(Bare):
    """The writer process at `path` (its unix socket), as an ASGI app that forwards. Plain
    sockets, not streams: a stream that fails to send drops what it had received, and the
    writer may answer and close before a request's body is all sent (a 413)."""

    __slots__ = ("path", "_idle")

    def __init__(self, path: str) -> None:
        self.path = path
        self._idle: list[tuple[float, socket.socket]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        try:
            connection = await self._connection(loop)
        except OSError as e:
            log.error("the writer process cannot be reached at %s: %s", self.path, e)
            await _answer(send, 503, b"the process that writes the storage is not answering")
            return
        started = False

        async def start(status: int, headers: list[tuple[bytes, bytes]]) -> None:
            nonlocal started
            started = True
            await send({"type": "http.response.start", "status": status, "headers": headers})

        # the answer is read while the request is sent: it may come before the body is sent
        head_only = scope["method"] == "HEAD"
        relay = asyncio.ensure_future(_relay_answer(loop, connection, head_only, start, send))
        cut: OSError | None = None
        try:
            await _send_request(loop, connection, scope, receive)
        except OSError as e:
            cut = e
        try:
            keep = await relay
        except (OSError, httptools.HttpParserError, EOFError) as e:
            connection.close()
            problem = cut or e
            log.error("forwarding %s %s failed: %s", scope["method"], scope["path"], problem)
            if not started:
                await _answer(send, 502, b"the process that writes the storage did not answer")
            return
        if keep and cut is None:
            now = time.monotonic()
            self._idle.append((now, connection))
            while now - self._idle[0][0] >= IDLE_SECONDS:  # those a burst left, oldest first
                self._idle.pop(0)[1].close()
        else:
            connection.close()

    async def _connection(self, loop: asyncio.AbstractEventLoop) -> socket.socket:
        now = time.monotonic()
        while self._idle:
            since, connection = self._idle.pop()
            if now - since < IDLE_SECONDS and _open(connection):
                return connection
            connection.close()
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.setblocking(False)
        try:
            await loop.sock_connect(connection, self.path)
        except OSError:
            connection.close()
            raise
        return connection


def _open(connection: socket.socket) -> bool:
    """Whether an idle connection is still open: the writer has neither closed it nor said
    anything on it."""
    try:
        connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True  # nothing to read: open, and quiet
    except OSError:
        return False
    return False  # closed (b""), or bytes nobody asked for


async def _send_request(
    loop: asyncio.AbstractEventLoop, connection: socket.socket, scope: Scope, receive: Receive
) -> None:
    target = scope.get("raw_path") or scope["path"].encode()
    if scope["query_string"]:
        target += b"?" + scope["query_string"]
    headers = [(k, v) for k, v in scope["headers"] if k not in _HOP]
    length = any(k == b"content-length" for k, _ in headers)
    chunked = not length and any(
        k == b"transfer-encoding" and b"chunked" in v.lower() for k, v in scope["headers"]
    )
    head = [scope["method"].encode(), b" ", target, b" HTTP/1.1\r\n"]
    for key, value in headers:
        head += [key, b": ", value, b"\r\n"]
    if chunked:
        head.append(b"transfer-encoding: chunked\r\n")
    head.append(b"\r\n")
    await loop.sock_sendall(connection, b"".join(head))
    more = length or chunked
    while more:
        message = await receive()
        if message["type"] != "http.request":  # the client left: so does this request
            raise ConnectionResetError("the client disconnected")
        body, more = message.get("body", b""), message.get("more_body", False)
        if chunked and body:
            await loop.sock_sendall(connection, b"%x\r\n%b\r\n" % (len(body), body))
        elif body:
            await loop.sock_sendall(connection, body)
    if chunked:
        await loop.sock_sendall(connection, b"0\r\n\r\n")


class _Answer:
    """httptools' callbacks for one answer."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.done = False
        self.body: list[bytes] = []

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name not in _ANSWER_HOP:
            self.headers.append((name, value))
        elif name == b"connection" and b"close" in value.lower():  # the rest was not read
            self.headers.append((b"connection", b"close"))

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True


async def _relay_answer(
    loop: asyncio.AbstractEventLoop,
    connection: socket.socket,
    head_only: bool,
    start: Any,
    send: Send,
) -> bool:
    """Sends the writer's answer on as it comes; whether its connection may be used again."""
    answer = _Answer()
    parser = httptools.HttpResponseParser(answer)
    started = False
    while not answer.done:
        data = await loop.sock_recv(connection, _CHUNK)
        if not data:
            raise EOFError("the writer closed the connection before its answer's end")
        parser.feed_data(data)
        if answer.head_done and not started:
            await start(parser.get_status_code(), answer.headers)
            started = True
            if head_only:
                answer.done = True
        chunks, answer.body = answer.body, []
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    return not head_only and parser.should_keep_alive()


async def _answer(send: Send, status: int, message: bytes) -> None:
    body = b'{"status":{"error":"%b"},"time":0.0}' % message
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
