"""uvicorn's server with one event loop per core: the main loop accepts connections and hands
each to the worker loop with the fewest, on a thread of its own, which serves it to the end.

A read runs on its own loop while few requests wait there (`queue_is_short()`), and in the
app's reader pool past that. Handing a search to a thread and its answer back wakes two
sleeping threads, ~0.1 ms per request on these machines, a fifth of the HTTP layer: a loop with
a short queue skips it, and the native search releases the GIL, so the loops overlap on the
cores. With a long queue, the pool keeps the loop free to parse the next request and to answer
health checks (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import sys
import threading
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from vqdb.server.protocol import HttpProtocol

log = logging.getLogger("vqdb.server")

_STARTUP_FAILURE = 3  # uvicorn's exit status when the app's startup fails
# requests on a worker loop (the caller's included) up to which it runs reads itself: a health
# check waits for at most this many searches, and up to 4 connections per core need no pool
# (with 2 loops, 8 connections gave ~1700 requests/s inline against ~1300-1600 through the
# pool; 32 connections through the pool kept /readyz at a median of 4-7 ms, inline 60-75 ms)
SHORT_QUEUE = 4
_SERVED: dict[asyncio.AbstractEventLoop, ServerState] = {}  # by worker loop


def queue_is_short() -> bool:
    """Whether the running loop is one of this module's worker loops and holds no more than
    SHORT_QUEUE requests, the caller's included (elsewhere, as under a test's client or plain
    uvicorn, one loop may serve every connection: never short)."""
    state = _SERVED.get(asyncio.get_running_loop())
    return state is not None and len(state.tasks) <= SHORT_QUEUE


def others_in_flight() -> bool:
    """Whether the running loop is one of this module's worker loops and holds requests other
    than the caller's (elsewhere: never, as under a test's client)."""
    state = _SERVED.get(asyncio.get_running_loop())
    return state is not None and len(state.tasks) > 1


class Server(uvicorn.Server):
    """Serves `config`'s app on `loops` worker loops (the lifespan, the signals and the
    once-a-second date header stay on the main loop, as in uvicorn)."""

    def __init__(self, config: uvicorn.Config, loops: int, readers: Any = None) -> None:
        """readers: a server/readers.py `Readers`, the processes the connections go to once
        they are up (None: every connection is served here)."""
        super().__init__(config)
        self.loop_count = max(1, loops)
        self.loops: list[WorkerLoop] = []
        self.listener: socket.socket | None = None  # once started
        self._main_loop: asyncio.AbstractEventLoop | None = None  # the accepting one, once started
        self.readers = readers

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(_STARTUP_FAILURE)
        self.loops = [
            WorkerLoop(f"vqdb-loop-{i}", self.config, self.lifespan.state)
            for i in range(self.loop_count)
        ]
        await self.on_tick(0)  # the date header, before the first connection
        self.open()
        self.servers = []
        self.started = True

    def open(self) -> None:
        """Starts taking connections (and the reader processes, if any: the connections
        taken here before one is up move to them between requests, see on_tick)."""
        listener = self.config.bind_socket()  # logs where it listens; exits if it cannot bind
        listener.listen(self.config.backlog)
        listener.setblocking(False)
        self.listener = listener
        self._main_loop = asyncio.get_running_loop()
        if self.readers is not None:
            self.readers.start(self.loops[0])
        asyncio.get_running_loop().add_reader(listener.fileno(), self._accept)

    async def _drained(self) -> None:
        while any(loop.busy() for loop in self.loops) and not self.force_exit:
            await asyncio.sleep(0.1)

    def _accept(self) -> None:
        assert self.listener is not None
        while True:
            try:
                connection, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # out of file descriptors: the client retries; we go on
                log.warning("accepting a connection failed: %s", e)
                return
            connection.setblocking(False)
            self.adopt(connection)

    def adopt(self, connection: socket.socket) -> None:
        if self.readers is None or not self.readers.adopt(connection):
            min(self.loops, key=WorkerLoop.load).adopt(connection)

    def _adopt_released(self, connection: socket.socket) -> None:
        """A connection a worker loop let go of (on its thread): adopted here, on this one."""
        connection.setblocking(False)
        assert self._main_loop is not None
        try:
            self._main_loop.call_soon_threadsafe(self.adopt, connection)
        except RuntimeError:  # that loop closed meanwhile: so is the server
            connection.close()

    async def on_tick(self, counter: int) -> bool:
        should_exit = await super().on_tick(counter)
        for loop in self.loops:  # a list swapped whole: the worker threads read it as it is
            loop.state.default_headers = self.server_state.default_headers
        if self.readers is not None and self.readers.serving and not should_exit:
            # connections taken before a reader process was up (or while none was) move to
            # them, each between two requests: a client's pool keeps its connections open
            for loop in self.loops:
                if loop.state.connections:
                    loop.call(loop.release_idle, self._adopt_released)
        return should_exit

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's graceful shutdown, loop by loop: stop accepting, let each connection finish
        its request, wait (up to `timeout_graceful_shutdown`), then close the storage."""
        log.info("Shutting down")
        if self.listener is not None:
            asyncio.get_running_loop().remove_reader(self.listener.fileno())
            self.listener.close()
        if self.readers is not None:  # their writes in flight still come here meanwhile
            self.readers.stop()
            await asyncio.to_thread(self.readers.wait, self.config.timeout_graceful_shutdown)
        for loop in self.loops:
            loop.call(loop.shut_connections)
        try:
            await asyncio.wait_for(self._drained(), self.config.timeout_graceful_shutdown)
        except asyncio.TimeoutError:
            log.error("Cancelling the requests still running: graceful shutdown timed out")
            for loop in self.loops:
                loop.call(loop.cancel_tasks)
        for loop in self.loops:
            loop.stop()
        if not self.force_exit:
            await self.lifespan.shutdown()


class WorkerLoop:
    """An event loop on a thread of its own, serving the connections handed to it with
    vqdb's HTTP/1.1 protocol (server/protocol.py)."""

    def __init__(self, name: str, config: uvicorn.Config, app_state: dict[str, Any]) -> None:
        self.loop = _new_loop()
        self.state = ServerState()
        # handed over by the accepting thread, taken by this one: each counter has one writer
        self.handed = self.taken = 0
        self.unix_servers: list[asyncio.AbstractServer] = []
        self._protocol = functools.partial(
            HttpProtocol,
            config=config,
            server_state=self.state,
            app_state=app_state,
            _loop=self.loop,
        )
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        _SERVED[self.loop] = self.state
        self.thread.start()

    def load(self) -> int:
        """Connections open here, or on their way."""
        return len(self.state.connections) + self.handed - self.taken

    def adopt(self, connection: socket.socket) -> None:
        self.handed += 1
        self.call(self._serve, connection)

    def call(self, function: Any, *args: Any) -> None:
        self.loop.call_soon_threadsafe(function, *args)

    def listen(self, path: str) -> None:
        """Serves the connections to a unix socket at `path` too (the reader processes')."""
        opening = self.loop.create_unix_server(self._protocol, path)
        # kept: a server object nobody holds is collected, and its socket closed with it
        self.unix_servers.append(asyncio.run_coroutine_threadsafe(opening, self.loop).result())

    def _serve(self, connection: socket.socket) -> None:
        task = self.loop.create_task(self.loop.connect_accepted_socket(self._protocol, connection))
        task.add_done_callback(functools.partial(self._served, connection))

    def _served(self, connection: socket.socket, task: asyncio.Task[Any]) -> None:
        self.taken += 1
        if task.cancelled() or task.exception() is not None:  # the client left at once
            connection.close()

    def busy(self) -> bool:
        return bool(self.state.connections or self.state.tasks)

    def release_idle(self, give: Any) -> None:
        """Lets go of the TCP connections between two requests, each to `give` (on this
        loop's thread: see HttpProtocol.release)."""
        for connection in list(self.state.connections):
            released = connection.release()  # type: ignore[union-attr]  # ours, not uvicorn's
            if released is not None:
                give(released)

    def shut_connections(self) -> None:
        for connection in list(self.state.connections):
            connection.shutdown()

    def cancel_tasks(self) -> None:
        for task in self.state.tasks:
            task.cancel(msg="graceful shutdown timed out")

    def stop(self) -> None:
        for server in self.unix_servers:
            self.call(server.close)
        self.call(self.loop.stop)
        self.thread.join()
        del _SERVED[self.loop]
        self.loop.close()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # Windows: asyncio's own loop
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop
