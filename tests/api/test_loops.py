"""server/loops.py: connections spread over the worker loops, requests on different loops run
at the same time, and a shutdown lets the request in flight finish before the app's own
shutdown runs. The app here is a small ASGI one that says which thread served it and can block
(as a native search does, with the GIL released) until another request releases it."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from vqdb.server import loops
from vqdb.server.loops import Server


class App:
    def __init__(self) -> None:
        self.released = threading.Event()
        self.events: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            self.events.append("lifespan shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return
        while (await receive()).get("more_body"):
            pass
        answer: dict[str, Any] = {
            "thread": threading.current_thread().name,
            "short": loops.queue_is_short(),
        }
        if scope["path"] == "/block":  # holds its loop, as a long native call would
            answer["released"] = self.released.wait(10)
            self.events.append("blocked request done")
        elif scope["path"] == "/release":
            self.released.set()
        body = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(params=[2])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[Server, App, threading.Thread]]:
    app = App()
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = Server(config, loops=request.param)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.01)
        assert thread.is_alive(), "the server did not start"
    yield server, app, thread
    app.released.set()
    server.should_exit = True
    thread.join(30)


def _connect(server: Server) -> http.client.HTTPConnection:
    assert server.listener is not None
    port = server.listener.getsockname()[1]
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def _get(connection: http.client.HTTPConnection, path: str) -> dict[str, Any]:
    connection.request("GET", path)
    response = connection.getresponse()
    assert response.status == 200
    answer: dict[str, Any] = json.loads(response.read())
    return answer


def test_connections_spread_over_the_loops(
    served: tuple[Server, App, threading.Thread],
) -> None:
    server, _, _ = served
    connections = [_connect(server) for _ in range(4)]
    threads = [_get(c, "/")["thread"] for c in connections]  # one connection opened at a time
    assert sorted(threads) == ["vqdb-loop-0", "vqdb-loop-0", "vqdb-loop-1", "vqdb-loop-1"]
    for c in connections:  # a connection stays on its loop
        assert {_get(c, "/")["thread"] for _ in range(3)} == {threads[connections.index(c)]}
        c.close()


def test_a_blocked_loop_leaves_the_other_serving(
    served: tuple[Server, App, threading.Thread],
) -> None:
    server, _, _ = served
    first, second = _connect(server), _connect(server)
    assert _get(first, "/")["thread"] != _get(second, "/")["thread"]
    answers: list[dict[str, Any]] = []
    blocked = threading.Thread(target=lambda: answers.append(_get(first, "/block")))
    blocked.start()
    _get(second, "/release")  # served while the first loop waits for it
    blocked.join(30)
    assert answers and answers[0]["released"] is True


def test_shutdown_finishes_the_request_in_flight_first(
    served: tuple[Server, App, threading.Thread],
) -> None:
    server, app, thread = served
    connection = _connect(server)
    answers: list[dict[str, Any]] = []
    blocked = threading.Thread(target=lambda: answers.append(_get(connection, "/block")))
    blocked.start()
    while not any(loop.state.tasks for loop in server.loops):
        blocked.join(0.01)
    server.should_exit = True
    app.released.set()
    blocked.join(30)
    thread.join(30)
    assert answers and answers[0]["released"] is True
    assert app.events == ["blocked request done", "lifespan shutdown"]
    assert not thread.is_alive()
    assert not any(loop.thread.is_alive() for loop in server.loops)


@pytest.mark.parametrize("served", [1], indirect=True)
def test_a_loop_hands_reads_over_once_its_queue_is_long(
    served: tuple[Server, App, threading.Thread],
) -> None:
    server, app, _ = served
    first, *others = [_connect(server) for _ in range(loops.SHORT_QUEUE + 2)]
    assert all(_get(c, "/")["short"] for c in [first, *others])  # one at a time: short
    blocked = threading.Thread(target=lambda: _get(first, "/block"))
    blocked.start()
    while not server.loops[0].state.tasks:
        blocked.join(0.01)
    for c in others:  # they queue behind the blocked request, all on the one loop
        c.request("GET", "/")
    app.released.set()
    blocked.join(30)
    short = [json.loads(c.getresponse().read())["short"] for c in others]
    assert short[0] is False  # the first of them saw SHORT_QUEUE + 1 requests on its loop
    assert _get(first, "/")["short"] is True  # all answered: short again


def test_outside_a_worker_loop_the_queue_is_never_short() -> None:
    async def ask() -> bool:
        return loops.queue_is_short()

    assert asyncio.run(ask()) is False


class Readers:
    """Reader processes as the server sees them (server/readers.py): none serving until the
    test says so, then every connection handed over is kept here, to be served by the test."""

    def __init__(self) -> None:
        self.serving = False
        self.taken: list[socket.socket] = []

    def start(self, loop: loops.WorkerLoop) -> None:
        pass

    def adopt(self, connection: socket.socket) -> bool:
        if self.serving:
            self.taken.append(connection)
        return self.serving

    def stop(self) -> None:
        pass

    def wait(self, timeout: float | None) -> None:
        pass


def test_connections_taken_before_a_reader_is_up_move_to_it_between_requests(
    tmp_path: Path,
) -> None:
    app, readers = App(), Readers()
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = Server(config, loops=2, readers=readers)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.01)
    try:
        idle, busy = _connect(server), _connect(server)
        assert _get(idle, "/")["thread"] != _get(busy, "/")["thread"]  # one on each loop
        unix = _unix_exchange(server, tmp_path / "writer.sock")  # a reader's, to the writer
        answers: list[dict[str, Any]] = []
        blocked = threading.Thread(target=lambda: answers.append(_get(busy, "/block")))
        blocked.start()
        while not all(loop.state.tasks for loop in server.loops[1:]):
            blocked.join(0.01)
        readers.serving = True
        deadline = time.monotonic() + 10
        while not readers.taken:  # the idle one, between two requests
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.3)  # a few more ticks: the one answering stays, as the unix one does
        assert len(readers.taken) == 1 and not answers
        app.released.set()
        blocked.join(30)
        assert answers[0]["released"] is True  # answered whole, then handed over
        while len(readers.taken) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        # the clients go on over the same connections, now the "reader's": nothing was lost
        for client, handed in ((idle, readers.taken[0]), (busy, readers.taken[1])):
            client.request("GET", "/next")
            handed.settimeout(10)
            assert handed.recv(1 << 16).startswith(b"GET /next HTTP/1.1\r\n")
            handed.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
            assert json.loads(client.getresponse().read()) == {}
        assert unix() == 200  # still served here
    finally:
        app.released.set()
        server.should_exit = True
        thread.join(30)
        for handed in readers.taken:
            handed.close()


def _unix_exchange(server: Server, path: Path) -> Any:
    """A keep-alive connection to the writer's unix socket (on loop 0); a call sends a request
    over it and gives the answer's status."""
    server.loops[0].listen(str(path))
    client = socket.socket(socket.AF_UNIX)
    client.connect(str(path))
    client.settimeout(10)

    def exchange() -> int:
        client.sendall(b"GET / HTTP/1.1\r\nhost: writer\r\n\r\n")
        head = client.recv(1 << 16)
        return int(head.split(b" ")[1])

    assert exchange() == 200
    return exchange
