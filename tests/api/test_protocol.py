"""vqdb's HTTP/1.1 protocol (server/protocol.py) over real sockets, on the worker loops of
server/loops.py: keep-alive, pipelining, chunked and streamed bodies with back-pressure,
100-continue, HEAD, HTTP/1.0, bad requests, failing apps, the idle timeout and shutdown."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn

from vqdb.server.loops import Server

App = Callable[..., Any]


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers `METHOD path?query <body length> <body>` once the whole body is read."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/slow":
        await asyncio.sleep(0.3)
    answer = b"%s %s?%s %d " % (
        scope["method"].encode(),
        scope["path"].encode(),
        scope["query_string"],
        len(body),
    )
    answer += body[:32]
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(answer))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture
def serve() -> Iterator[Callable[..., int]]:
    """serve(app, **config) -> the port of a running loops.Server."""
    servers: list[tuple[Server, threading.Thread]] = []

    def start(app: App, **config: Any) -> int:
        options = {"port": 0, "log_level": "warning", "lifespan": "off", **config}
        server = Server(uvicorn.Config(app, **options), loops=1)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            thread.join(0.01)
            assert thread.is_alive(), "the server did not start"
        servers.append((server, thread))
        assert server.listener is not None
        return int(server.listener.getsockname()[1])

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(30)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def read_answer(sock: socket.socket, buffer: bytearray) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """One response from the socket: status line, headers, body (by length or chunks)."""
    while b"\r\n\r\n" not in buffer:
        _fill(sock, buffer)
    end = buffer.index(b"\r\n\r\n")
    head = bytes(buffer[:end]).split(b"\r\n")
    del buffer[: end + 4]
    headers = dict(line.lower().split(b": ", 1) for line in head[1:])
    if head[0].split()[1] in (b"100", b"204", b"304"):
        return head[0], headers, b""
    if headers.get(b"transfer-encoding") == b"chunked":
        body = bytearray()
        while True:
            while b"\r\n" not in buffer:
                _fill(sock, buffer)
            line_end = buffer.index(b"\r\n")
            size = int(buffer[:line_end], 16)
            while len(buffer) < line_end + 2 + size + 2:
                _fill(sock, buffer)
            body += bytes(buffer[line_end + 2 : line_end + 2 + size])
            del buffer[: line_end + 2 + size + 2]
            if size == 0:
                return head[0], headers, bytes(body)
    length = int(headers.get(b"content-length", b"0"))
    while len(buffer) < length:
        _fill(sock, buffer)
    body = bytes(buffer[:length])
    del buffer[:length]
    return head[0], headers, body


def _fill(sock: socket.socket, buffer: bytearray) -> None:
    data = sock.recv(1 << 16)
    if not data:
        raise ConnectionError("closed")
    buffer += data


def closed(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def post(path: bytes, body: bytes, extra: bytes = b"") -> bytes:
    return b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n%s\r\n%s" % (
        path,
        len(body),
        extra,
        body,
    )


def test_keep_alive_answers_each_request_on_one_connection(serve: Callable[..., int]) -> None:
    port = serve(echo)
    with connect(port) as sock:
        buffer = bytearray()
        for i in range(3):
            sock.sendall(post(b"/a?i=%d" % i, b"x" * i))
            status, headers, body = read_answer(sock, buffer)
            assert status == b"HTTP/1.1 200 OK"
            assert body == b"POST /a?i=%d %d " % (i, i) + b"x" * i
            assert b"date" in headers  # the server's default headers


def test_pipelined_requests_are_answered_in_order(serve: Callable[..., int]) -> None:
    port = serve(echo)
    with connect(port) as sock:
        # the first is slow: the others wait for it, and come back after it, in order
        requests = [post(b"/slow", b"a"), post(b"/b", b"bb"), post(b"/c?q=1", b"ccc")]
        sock.sendall(b"".join(requests))
        buffer = bytearray()
        bodies = [read_answer(sock, buffer)[2] for _ in requests]
    assert bodies == [b"POST /slow? 1 a", b"POST /b? 2 bb", b"POST /c?q=1 3 ccc"]


def test_a_chunked_request_body_is_read_whole(serve: Callable[..., int]) -> None:
    port = serve(echo)
    with connect(port) as sock:
        sock.sendall(b"POST /up HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n")
        for part in (b"hello ", b"chunked ", b"world"):
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            time.sleep(0.01)
        sock.sendall(b"0\r\n\r\n")
        _, _, body = read_answer(sock, bytearray())
    assert body == b"POST /up? 19 hello chunked world"


def test_100_continue_is_sent_when_the_app_asks_for_the_body(serve: Callable[..., int]) -> None:
    port = serve(echo)
    with connect(port) as sock:
        sock.sendall(
            b"POST /e HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\nexpect: 100-continue\r\n\r\n"
        )
        buffer = bytearray()
        status, _, _ = read_answer(sock, buffer)
        assert status == b"HTTP/1.1 100 Continue"
        sock.sendall(b"body")
        status, _, body = read_answer(sock, buffer)
    assert status == b"HTTP/1.1 200 OK" and body == b"POST /e? 4 body"


def test_a_big_body_streams_to_the_app_with_reading_paused_between(
    serve: Callable[..., int],
) -> None:
    """8 MB to an app that takes it slowly: it arrives whole and in order, in parts, and the
    server never holds much of it unread (reading pauses past its high-water mark)."""
    parts: list[int] = []

    async def slow_reader(scope: dict[str, Any], receive: Any, send: Any) -> None:
        crc = 0
        while True:
            message = await receive()
            body = message.get("body", b"")
            parts.append(len(body))
            crc = zlib.crc32(body, crc)
            await asyncio.sleep(0.001)
            if not message.get("more_body"):
                break
        answer = b"%d %d" % (sum(parts), crc)
        headers = [(b"content-length", b"%d" % len(answer))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    port = serve(slow_reader)
    payload = bytes(range(256)) * (8 << 12)  # 8 MB
    with connect(port) as sock:
        sock.sendall(post(b"/big", payload))
        _, _, body = read_answer(sock, bytearray())
    assert body == b"%d %d" % (len(payload), zlib.crc32(payload))
    assert len(parts) > 8 and max(parts) <= 1 << 20


def test_a_response_without_length_is_chunked_and_head_has_no_body(
    serve: Callable[..., int],
) -> None:
    async def stream(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    port = serve(stream)
    with connect(port) as sock:
        buffer = bytearray()
        sock.sendall(b"GET /s HTTP/1.1\r\nhost: x\r\n\r\n")
        _, headers, body = read_answer(sock, buffer)
        assert headers[b"transfer-encoding"] == b"chunked" and body == b"one two three"
        sock.sendall(b"HEAD /s HTTP/1.1\r\nhost: x\r\n\r\n")
        status, headers, _ = read_answer(sock, buffer)
        assert status == b"HTTP/1.1 200 OK" and b"transfer-encoding" not in headers
        sock.sendall(b"GET /s HTTP/1.1\r\nhost: x\r\n\r\n")  # the HEAD left nothing behind
        assert read_answer(sock, buffer)[2] == b"one two three"


def test_a_big_answer_to_a_slow_reader_arrives_whole_and_in_order(
    serve: Callable[..., int],
) -> None:
    """16 MB in 8 KB parts to a client that waits before it reads: the socket fills, and the
    parts the socket did not take wait in the transport, in order, before any later one."""
    part = bytes(range(256)) * 32

    async def big(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(2048):
            numbered = i.to_bytes(4, "big") + part[4:]
            await send({"type": "http.response.body", "body": numbered, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    port = serve(big)
    with connect(port) as sock:
        sock.sendall(b"GET /big HTTP/1.1\r\nhost: x\r\n\r\n")
        time.sleep(0.5)
        _, _, body = read_answer(sock, bytearray())
    assert len(body) == 2048 * len(part)
    numbers = [int.from_bytes(body[i : i + 4], "big") for i in range(0, len(body), len(part))]
    assert numbers == list(range(2048))
    assert all(body[i + 4 : i + len(part)] == part[4:] for i in range(0, len(body), len(part)))


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /a HTTP/1.0\r\n\r\n",
        b"GET /a HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        # an upgrade nothing serves: answered as HTTP/1.1, then closed
        b"GET /a HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: h2c\r\n\r\n",
    ],
)
def test_connections_that_ask_to_close_are_closed_after_the_answer(
    serve: Callable[..., int], request_bytes: bytes
) -> None:
    port = serve(echo)
    with connect(port) as sock:
        sock.sendall(request_bytes)
        status, headers, body = read_answer(sock, bytearray())
        assert status.endswith(b"200 OK") and body.startswith(b"GET /a? 0")
        assert headers[b"connection"] == b"close"
        assert closed(sock)


def test_bytes_that_are_not_http_get_400_and_a_close(serve: Callable[..., int]) -> None:
    port = serve(echo)
    with connect(port) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        status, _, body = read_answer(sock, bytearray())
        assert status == b"HTTP/1.1 400 Bad Request"
        assert body == b"Invalid HTTP request received."
        assert closed(sock)


async def failing(scope: dict[str, Any], receive: Any, send: Any) -> None:
    path = scope["path"]
    if path == "/raise":
        raise ValueError("a bug")
    if path == "/silent":
        return
    if path == "/split":
        headers = [(b"x-bad", b"a\r\nset-cookie: injected")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
    if path == "/short":
        headers = [(b"content-length", b"10")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"abc"})


@pytest.mark.parametrize("path", [b"/raise", b"/silent", b"/split"])
def test_an_app_that_fails_before_it_answers_gives_500(
    serve: Callable[..., int], path: bytes
) -> None:
    port = serve(failing)
    with connect(port) as sock:
        sock.sendall(b"GET %s HTTP/1.1\r\nhost: x\r\n\r\n" % path)
        status, headers, body = read_answer(sock, bytearray())
        assert status == b"HTTP/1.1 500 Internal Server Error"
        assert body == b"Internal Server Error" and b"x-bad" not in headers
        assert closed(sock)


def test_past_limit_concurrency_requests_get_503(serve: Callable[..., int]) -> None:
    port = serve(echo, limit_concurrency=2)
    with connect(port) as first:
        first.sendall(post(b"/a", b""))
        assert read_answer(first, bytearray())[0] == b"HTTP/1.1 200 OK"
        with connect(port) as second:  # two connections open: at the limit
            second.sendall(post(b"/a", b""))
            status, _, body = read_answer(second, bytearray())
            assert status == b"HTTP/1.1 503 Service Unavailable"
            assert body == b"Service Unavailable" and closed(second)


def test_an_app_that_breaks_its_content_length_loses_the_connection(
    serve: Callable[..., int],
) -> None:
    port = serve(failing)
    with connect(port) as sock:
        sock.sendall(b"GET /short HTTP/1.1\r\nhost: x\r\n\r\n")
        buffer = bytearray()
        with pytest.raises(ConnectionError):
            read_answer(sock, buffer)  # 3 of the 10 bytes promised, then the close


def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(
    serve: Callable[..., int],
) -> None:
    port = serve(echo, timeout_keep_alive=0.2)
    with connect(port) as sock:
        sock.sendall(post(b"/a", b""))
        read_answer(sock, bytearray())
        start = time.monotonic()
        assert closed(sock)
        assert time.monotonic() - start < 4


def test_the_keep_alive_timeout_cuts_no_request_on_its_way(serve: Callable[..., int]) -> None:
    """A request whose head, then body, come slower than the idle timeout is answered."""
    port = serve(echo, timeout_keep_alive=0.2)
    with connect(port) as sock:
        buffer = bytearray()
        sock.sendall(post(b"/a", b""))
        read_answer(sock, buffer)
        sock.sendall(b"POST /b HTTP/1.1\r\nhost: x\r\n")
        time.sleep(0.15)
        sock.sendall(b"content-length: 2\r\n\r\n")
        time.sleep(0.5)
        sock.sendall(b"ok")
        assert read_answer(sock, buffer)[2] == b"POST /b? 2 ok"


def test_shutdown_lets_the_request_in_flight_finish(serve: Callable[..., int]) -> None:
    servers: list[Server] = []
    original = Server.__init__

    def remember(self: Server, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        servers.append(self)

    Server.__init__ = remember  # type: ignore[method-assign]
    try:
        port = serve(echo)
    finally:
        Server.__init__ = original  # type: ignore[method-assign]
    with connect(port) as busy, connect(port) as idle:
        idle.sendall(post(b"/a", b""))
        read_answer(idle, bytearray())
        busy.sendall(post(b"/slow", b"last"))
        time.sleep(0.1)
        servers[0].should_exit = True
        _, headers, body = read_answer(busy, bytearray())
        assert body == b"POST /slow? 4 last" and headers[b"connection"] == b"close"
        assert closed(busy) and closed(idle)
