"""Reader processes: more than one interpreter serving the searches of one storage folder.

A request's Python holds its interpreter's GIL, so one process answers at most one request's
Python at a time, whatever the cores (docs/ARCHITECTURE.md). With `service.reader_processes`
set, the server process (the writer: the only one that writes the folder) starts that many
`python -m vqdb.server.readers` processes and, once each says it is ready, hands them the
connections it accepts (the socket itself, over a unix socket pair: SCM_RIGHTS), in turn.

A reader process serves its connections with the same app over a `Follower` of the folder
(vqdb.follower): the reads of points (search, query, scroll, retrieve, count, facets, groups,
matrices) it answers itself, once caught up with every write acknowledged before the request
came; everything else (writes, collection and cluster operations, snapshots, telemetry) it
forwards to the writer over the writer's unix socket (server/forward.py), as do reads it
cannot catch up for and reads of a collection whose strict mode limits its read rate (one
budget, which one process keeps). A reader process ends when the writer's end of its socket
pair closes: at the writer's shutdown, or when the writer dies. One that ends otherwise is
replaced (at once, or RESTART_SECONDS later if it did not last that long).

Over the same socket pair a reader says when it is ready, and reports the responses it served
every REPORT_SECONDS, so that the writer's /telemetry and /metrics count every request: lines
of JSON, `{"ready": true}` then `{"responses": [[route, status, seconds, collection], ...]}`.
A report is sent even when empty: it says the reader's loop runs. One not heard from for
SILENT_SECONDS (stopped, hung, or its loop held by a long request) is handed no connection
until it is heard again; without that, it would take a share of every new connection, and
answer none, until its socket pair filled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvicorn

import vqdb
from vqdb.server.loops import Server, WorkerLoop
from vqdb.server.responses import Responses

log = logging.getLogger("vqdb.server")
REPORT_SECONDS = 0.5
RESTART_SECONDS = 10  # a reader that ends sooner after its start is started again this late
# a reader that could not take a connection (its socket pair full: it is stuck) is handed
# none for this long, so the writer's idle connections do not bounce back and forth each tick
REFUSED_SECONDS = 1.0
SILENT_SECONDS = 2.0  # four reports missed
_TICK_SECONDS = 0.1  # uvicorn's main loop calls on_tick this often


class _Reader:
    def __init__(self, process: subprocess.Popen[bytes], channel: socket.socket) -> None:
        self.process = process
        self.channel = channel
        self.ready = False
        self.heard = b""  # the start of a line not whole yet
        self.started = time.monotonic()
        self.last_heard = self.started
        self.silent = False  # passed over for its silence (logged once)
        self.refused = -REFUSED_SECONDS  # when it last could not take a connection

    def taking(self, now: float) -> bool:
        if not self.ready or now - self.refused < REFUSED_SECONDS:
            return False
        if now - self.last_heard < SILENT_SECONDS:
            return True
        if not self.silent:
            self.silent = True
            log.warning(
                "reader process %d has said nothing for %.1f s: it is handed no connection "
                "until it does",
                self.process.pid,
                now - self.last_heard,
            )
        return False


class Readers:
    """The writer's side: starts the processes, hands them connections, and counts the
    responses they report in `responses` (the writer's)."""

    def __init__(self, count: int, settings_json: str, responses: Responses) -> None:
        self.count = count
        self.settings_json = settings_json
        self.responses = responses
        self._folder = Path(tempfile.mkdtemp(prefix="vqdb-writer-"))  # only this user's
        self.socket_path = str(self._folder / "writer.sock")
        self._readers: list[_Reader] = []
        self._next = 0
        self._stopping = False

    def start(self, loop: WorkerLoop) -> None:
        """Opens the writer's unix socket on `loop` and starts the processes; each is handed
        connections once it is ready."""
        loop.listen(self.socket_path)
        for slot in range(self.count):
            self._spawn(slot)

    def _spawn(self, slot: int) -> None:
        if self._stopping:
            return
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        command = [sys.executable, "-m", "vqdb.server.readers", "--channel"]
        command += [str(theirs.fileno()), "--writer", self.socket_path]
        process = subprocess.Popen(command, pass_fds=[theirs.fileno()], env=self._env())
        theirs.close()
        mine.setblocking(False)
        reader = _Reader(process, mine)
        if slot < len(self._readers):
            self._readers[slot] = reader
        else:
            self._readers.append(reader)
        asyncio.get_running_loop().add_reader(mine.fileno(), self._heard, reader)

    def _env(self) -> dict[str, str]:
        """This process's environment, with its settings, and the folder this vqdb was
        imported from first on the path: a reader runs the same code as its writer."""
        here = str(Path(vqdb.__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
        return {**os.environ, "PYTHONPATH": path, "VQDB_READER_SETTINGS": self.settings_json}

    def _heard(self, reader: _Reader) -> None:
        try:
            said = reader.channel.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError:
            said = b""
        if not said:  # it exited: its connections went with it; new ones go to the others
            loop = asyncio.get_running_loop()
            loop.remove_reader(reader.channel.fileno())
            reader.channel.close()
            reader.ready = False
            if self._stopping:
                return
            # another in its place, at once, unless it did not last (then in a while)
            lasted = time.monotonic() - reader.started >= RESTART_SECONDS
            delay = 0 if lasted else RESTART_SECONDS
            log.error(
                "reader process %d ended (%s); another starts in %d s",
                reader.process.pid,
                reader.process.poll(),
                delay,
            )
            loop.call_later(delay, self._spawn, self._readers.index(reader))
            return
        reader.last_heard = time.monotonic()
        if reader.silent:
            reader.silent = False
            log.warning("reader process %d is heard again", reader.process.pid)
        *lines, reader.heard = (reader.heard + said).split(b"\n")
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                log.warning("reader process %d said %r: not understood", reader.process.pid, line)
                continue
            if message.get("ready"):
                reader.ready = True
                log.info("reader process %d is serving", reader.process.pid)
            for route, status, seconds, collection in message.get("responses", ()):
                self.responses.add((route, status, seconds, collection))

    @property
    def serving(self) -> bool:
        """Whether any of the processes takes connections now."""
        now = time.monotonic()
        return any(reader.taking(now) for reader in self._readers)

    def adopt(self, connection: socket.socket) -> bool:
        """Hands the connection to the next process that takes connections; False if none
        took it."""
        now = time.monotonic()
        for _ in range(len(self._readers)):
            reader = self._readers[self._next % len(self._readers)]
            self._next += 1
            if not reader.taking(now):
                continue
            try:
                socket.send_fds(reader.channel, [b"c"], [connection.fileno()])
            except OSError:  # full (it is stuck) or gone: another takes it
                reader.refused = now
                continue
            connection.close()  # the process has its own copy now
            return True
        return False

    def stop(self) -> None:
        """Closes their socket pairs (on the loop that watches them): they finish their
        requests and exit."""
        self._stopping = True
        loop = asyncio.get_running_loop()
        for reader in self._readers:
            reader.ready = False
            if reader.channel.fileno() >= 0:
                loop.remove_reader(reader.channel.fileno())
                reader.channel.close()

    def wait(self, timeout: float | None) -> None:
        """Waits for them to exit (killing those that take longer than `timeout`)."""
        for reader in self._readers:
            try:
                reader.process.wait(timeout)
            except subprocess.TimeoutExpired:
                reader.process.kill()
                reader.process.wait()
        shutil.rmtree(self._folder, ignore_errors=True)


class ReaderServer(Server):
    """A reader process's server: one worker loop, fed by the writer through `channel`, to
    which it reports the responses its app observed in `responses`. Between requests it
    catches `db` up every REPORT_SECONDS too: the first read after a burst of writes finds
    little left to apply, and the files of segments the writer replaced are let go (a map
    keeps a deleted file's space). A catch-up runs beside the loop, not in its tick: one that
    takes long (a big swap to load) does not hold up the reports that say the loop runs."""

    def __init__(
        self, config: uvicorn.Config, channel: socket.socket, responses: Responses, db: Any
    ) -> None:
        super().__init__(config, loops=1)
        self.channel = channel
        self.responses = responses
        self.db = db
        self._catching_up: asyncio.Future[None] | None = None

    def open(self) -> None:
        self.channel.setblocking(False)
        asyncio.get_running_loop().add_reader(self.channel.fileno(), self._receive)
        self.channel.send(b'{"ready": true}\n')

    async def on_tick(self, counter: int) -> bool:
        if counter % round(REPORT_SECONDS / _TICK_SECONDS) == 0:
            await self._report()
            if self._catching_up is None or self._catching_up.done():
                self._catching_up = asyncio.ensure_future(self._catch_up())
        return await super().on_tick(counter)

    async def _catch_up(self) -> None:
        try:  # off this loop: it takes the connections the writer hands over
            await asyncio.to_thread(self.db.catch_up)
        except Exception as e:  # the next read tries again, or goes to the writer
            log.warning("catching up with the writer failed: %s: %s", type(e).__name__, e)

    async def _report(self) -> None:
        observed = self.responses.unreported()
        if self.channel.fileno() >= 0:
            line = json.dumps({"responses": observed}, separators=(",", ":")) + "\n"
            with contextlib.suppress(OSError):  # the writer is gone, and its telemetry
                await asyncio.get_running_loop().sock_sendall(self.channel, line.encode())

    def _receive(self) -> None:
        try:
            message, fds, _, _ = socket.recv_fds(self.channel, 64, 64)
        except BlockingIOError:
            return
        except OSError:
            message, fds = b"", []
        for fd in fds:
            connection = socket.socket(fileno=fd)
            connection.setblocking(False)
            self.loops[0].adopt(connection)
        if not message:  # the writer closed its end: finish, as on SIGTERM
            asyncio.get_running_loop().remove_reader(self.channel.fileno())
            self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._catching_up is not None:  # done before the app closes the follower
            await self._catching_up
        await super().shutdown(sockets)
        await self._report()
        self.channel.close()


def main(argv: list[str] | None = None) -> None:
    from vqdb.follower import Follower
    from vqdb.server.app import create_app
    from vqdb.server.forward import Writer
    from vqdb.server.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m vqdb.server.readers")
    parser.add_argument("--channel", type=int, required=True)
    parser.add_argument("--writer", required=True)
    args = parser.parse_args(argv)
    settings = Settings.model_validate_json(os.environ["VQDB_READER_SETTINGS"])
    level = {"TRACE": "DEBUG", "WARN": "WARNING"}.get(settings.log_level, settings.log_level)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    channel = socket.socket(fileno=args.channel)
    db = Follower(settings.storage.storage_path, async_scorer=settings.storage.async_scorer)
    app: Any = create_app(db, settings, close_on_shutdown=True, writer=Writer(args.writer))
    config = uvicorn.Config(
        app,
        log_level=level.lower(),
        access_log=level == "DEBUG",
        lifespan="on",
        proxy_headers=False,
        server_header=False,
    )
    ReaderServer(config, channel, app.state.responses, db).run()


if __name__ == "__main__":
    main()
