"""The ASGI app: each row of operations.py becomes a route that checks the API key, parses the
body against its schema, runs the engine call (writes in a worker thread) and wraps the result
in Qdrant's envelope; errors get Qdrant's status codes and shape.

    {"result": ..., "status": "ok", "time": 0.0012}
    {"status": {"error": "Wrong input: Vector dimension error: expected dim: 4, got 3"}, ...}
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic_core import to_json
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from vqdb import build
from vqdb.collection import strict
from vqdb.collection.points import jsonable
from vqdb.database import Database
from vqdb.errors import (
    AlreadyExists,
    BadInput,
    BadRequest,
    Forbidden,
    NotFound,
    OutOfRange,
    RateLimited,
    is_storage_full,
)
from vqdb.server import dashboard, loops, openapi
from vqdb.server.access import Access, Denied
from vqdb.server.background import Jobs
from vqdb.server.body import HttpError, Schema, receive
from vqdb.server.coalescer import Coalescer
from vqdb.server.extensions import EXTENSIONS
from vqdb.server.operations import (
    ACCEPTED,
    COLLECTION,
    JSON_OBJECT,
    OPERATIONS,
    UPLOAD,
    Call,
    Operation,
)
from vqdb.server.responses import Responses
from vqdb.server.router import Api, Bare
from vqdb.server.settings import Settings
from vqdb.server.telemetry import Telemetry
from vqdb.validation import check_collection_name

log = logging.getLogger("vqdb.server")

# Qdrant 1.19's API: qdrant-client warns when its minor version is more than one away, and
# 1.19 is within one of both clients vqdb supports (1.18 and 1.20)
API_VERSION = "1.19.0"
NO_QUERY = QueryParams()


def create_app(
    db: Database, settings: Settings, *, close_on_shutdown: bool = False, writer: Bare | None = None
) -> Starlette:
    """close_on_shutdown: checkpoint and close the database when the server stops (uvicorn
    re-raises SIGTERM once it has shut down, so code after its run() may never run). writer:
    in a reader process (server/readers.py), where the operations that do not only read
    points go (server/forward.py); `db` is then a Follower."""
    access = Access(settings.service.api_key, settings.service.read_only_api_key)
    responses = Responses(reported=writer is not None)
    storage = None if db.path is None else settings.storage.storage_path
    jobs = Jobs()
    limit = settings.service.max_request_size_mb << 20
    readers = ThreadPoolExecutor(settings.service.max_workers or os.cpu_count() or 1, "vqdb-read")
    coalescer = Coalescer()
    served = [op for op in OPERATIONS if settings.service.staging or not op.staging]

    def endpoint(op: Operation) -> Bare:
        local = _endpoint(op, db, access, responses, limit, readers, coalescer)
        if writer is None:
            return local
        return Following(local, db, writer) if op.reads_points else writer

    routes: list[BaseRoute] = [
        Route(op.path, endpoint(op), methods=[op.method]) for op in [*served, *EXTENSIONS]
    ]
    routes += dashboard.routes()
    # Qdrant's title and app name (here and in /metrics, /telemetry): clients and dashboards
    # written for Qdrant check them; the version is the API's, what qdrant-client compares.
    # `commit` is vqdb's own.
    root = {
        "title": "qdrant - vector search engine",
        "version": API_VERSION,
        "commit": build.commit(),
    }
    document = json.dumps(openapi.document(served, API_VERSION)).encode()

    def service(name: str, answer: Callable[[], Response], public: bool = False) -> Route:
        path = f"/{name}" if name != "root" else "/"

        async def handle(request: Request) -> Response:
            start = time.perf_counter()
            try:
                if not public:
                    access.check(request, writes=False)
                response = answer()
            except Denied as e:
                response = _error(e.status, str(e), start)
            responses.observe(request.method, path, response.status_code, start)
            return response

        return Route(path, Endpoint(handle), methods=["GET"])  # answers all: a Bare endpoint

    routes += [
        service("root", lambda: _json(root), public=True),
        # /livez answers as /healthz does, word for word, as in Qdrant
        service("healthz", lambda: PlainTextResponse("healthz check passed"), public=True),
        service("livez", lambda: PlainTextResponse("healthz check passed"), public=True),
        service("readyz", lambda: PlainTextResponse("all shards are ready"), public=True),
        service(
            "openapi.json", lambda: Response(document, media_type="application/json"), public=True
        ),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return _error(status, str(getattr(exc, "detail", exc)), time.perf_counter())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(jobs.join)  # snapshots not waited for finish before the close
        readers.shutdown()
        if close_on_shutdown:
            await run_in_threadpool(db.close)
            log.info("storage closed")

    app = Api(routes, exception_handlers={HTTPException: http_error}, lifespan=lifespan)
    app.state.settings = settings  # what operations read for themselves (snapshot limits)
    app.state.responses = responses  # a reader's are reported to its writer (server/readers.py)
    app.state.jobs = jobs  # where operations start what a request does not wait for
    app.state.telemetry = Telemetry(
        db, responses, API_VERSION, storage, staging=settings.service.staging
    )
    return app


def _endpoint(
    op: Operation,
    db: Database,
    access: Access,
    responses: Responses,
    limit: int,
    readers: ThreadPoolExecutor,
    coalescer: Coalescer,
) -> Endpoint:
    schema = Schema(op.body) if op.body not in (None, JSON_OBJECT, UPLOAD) else None
    is_async = inspect.iscoroutinefunction(op.run)
    # inside a collection (its points, indexes, vectors): strict mode's max_timeout applies
    checks_timeout = "timeout" in op.params and op.path != COLLECTION

    async def read(run: Callable[[Any], Any], arg: Any) -> Any:
        if loops.queue_is_short():  # no hop to a thread and back (server/loops.py)
            return run(arg)
        # the pool's threads search; the loop parses the requests that wait
        return await asyncio.get_running_loop().run_in_executor(readers, run, arg)

    async def handle(request: Request) -> Response:
        start = time.perf_counter()
        collection = request.path_params.get("collection_name")
        try:
            access.check(request, writes=op.writes)
            # most requests have no query string: parsing an empty one costs ~10 us
            queried = bool(request.scope["query_string"])
            query = request.query_params if queried else NO_QUERY
            if queried:
                for name in op.params:
                    raw = query.get(name)
                    problem = None if raw is None else openapi.query_problem(name, raw)
                    if problem:
                        raise HttpError(400, problem)
            if collection is not None:  # Qdrant's rule; a new name's stricter one is the engine's
                check_collection_name(collection)
            body = None
            if op.body is JSON_OBJECT or schema is not None:
                body = await receive(request, limit, schema, op.vectors)
            call = Call(db, request.path_params, query, body, request)
            if queried and collection is not None and checks_timeout:
                _check_timeout(call)
            if is_async:
                result = await op.run(call)
            elif op.writes:  # may wait on fsync or a long apply: off the event loop
                result = await _write(op, call)
            elif op.together is not None and collection is not None:
                key = (op.name, collection, request.scope["query_string"])
                result = await coalescer.answer(key, call, op.run, op.together, read)
            else:
                result = await read(op.run, call)
            if result is ACCEPTED:  # started, not waited for (wait=false): Qdrant's 202
                response = _json({"status": "accepted", "time": time.perf_counter() - start}, 202)
            elif op.raw:
                response = result
            else:
                response = _json(
                    {"result": result, "status": "ok", "time": time.perf_counter() - start}
                )
        except Exception as e:  # every failure becomes Qdrant's error shape
            response = _failure(e, op, start)
        # by collection only for one that exists: made-up names would grow the table forever
        known = collection if collection is not None and db.exists(collection) else None
        responses.observe(request.method, op.path, response.status_code, start, known)
        return response

    return Endpoint(handle)


class Endpoint(Bare):
    """An operation's (or a health route's) handler as a plain ASGI app that `Api` calls
    straight: `handle` catches every failure itself, so Starlette's exception handlers and its
    wrappers of every message sent would do nothing for it."""

    __slots__ = ("handle",)

    def __init__(self, handle: Callable[[Request], Awaitable[Response]]) -> None:
        self.handle = handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)


class Following(Bare):
    """A read a reader process answers itself once its Follower has caught up with the
    writer. Where it cannot catch up (its files kept changing under it), or the collection's
    strict mode limits its read rate (one budget: the writer keeps it), the writer answers."""

    __slots__ = ("local", "db", "writer")

    def __init__(self, local: Bare, db: Database, writer: Bare) -> None:
        self.local, self.db, self.writer = local, db, writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self.db.catch_up()
            here = not _read_rate_limited(self.db, scope["path_params"].get("collection_name"))
        except Exception as e:  # the writer answers it; this is only logged
            log.warning(
                "reading %s here failed (%s: %s): the writer answers",
                scope["path"],
                type(e).__name__,
                e,
            )
            here = False
        await (self.local if here else self.writer)(scope, receive, send)


def _read_rate_limited(db: Database, name: str | None) -> bool:
    try:
        collection = None if name is None else db.collection(name)
    except NotFound:
        return False  # answered here: 404
    config = None if collection is None else strict.settings(collection)
    return bool(config and config.get("read_rate_limit"))


def _check_timeout(call: Call) -> None:
    """A `timeout` against the collection's strict mode max_timeout, for the operations inside
    a collection (its points, indexes, vectors), as Qdrant checks them."""
    raw = call.query.get("timeout")
    if raw is not None:
        strict.check_timeout(call.collection, int(raw))


async def _write(op: Operation, call: Call) -> Any:
    """Runs a write in a worker thread. With `wait=true&timeout=N` on a row that has a
    `timed_out` answer, that answer (status wait_timeout) comes back after N seconds, and the
    write goes on: it is waiting for the collection, which a longer write or a snapshot holds."""
    raw = call.query.get("timeout")
    if op.timed_out is None or not call.wait or raw is None:
        return await run_in_threadpool(op.run, call)
    task = asyncio.ensure_future(run_in_threadpool(op.run, call))
    try:
        return await asyncio.wait_for(asyncio.shield(task), int(raw))
    except asyncio.TimeoutError:
        task.add_done_callback(lambda done: _finished_late(op, done))
        return op.timed_out(call)


def _finished_late(op: Operation, task: asyncio.Future[Any]) -> None:
    """A write answered with wait_timeout has finished: its failure goes to the log alone."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("%s (answered wait_timeout) failed: %s", op.name, task.exception())


def _failure(e: Exception, op: Operation, start: float) -> Response:
    if isinstance(e, HttpError) and e.status == 413:  # the rest of the body is not read
        return _error(413, str(e), start, headers={"connection": "close"})
    if isinstance(e, (HttpError, Denied)):
        return _error(e.status, str(e), start)
    if isinstance(e, HTTPException):  # Starlette's, e.g. a malformed multipart form
        return _error(e.status_code, str(e.detail), start)
    if isinstance(e, NotFound):
        return _error(404, f"Not found: {e}", start)
    if isinstance(e, RateLimited):
        wait = None if e.retry_after is None else {"retry-after": str(math.ceil(e.retry_after))}
        return _error(429, f"Rate limiting exceeded: {e}", start, headers=wait)
    if isinstance(e, Forbidden):
        return _error(403, f"Forbidden: {e}", start)
    if isinstance(e, AlreadyExists):
        return _error(409, str(e), start)
    if isinstance(e, OutOfRange):
        return _error(422, str(e), start)
    if isinstance(e, BadRequest):
        return _error(400, f"Bad request: {e}", start)
    if isinstance(e, BadInput):
        return _error(400, _wrong_input(str(e)), start)
    if isinstance(e, ValueError):  # input the engine refused without naming it BadInput
        log.warning("%s: %s: %s", op.name, type(e).__name__, e)
        return _error(400, _wrong_input(str(e)), start)
    if is_storage_full(e):  # nothing was applied; the same request succeeds once space is back
        log.error("%s: %s", op.name, e)
        return _error(507, e.strerror or str(e), start)
    log.exception("%s failed", op.name)
    return _error(500, f"Service internal error: {type(e).__name__}: {e}", start)


def _wrong_input(message: str) -> str:
    """Qdrant's 400 wording: "Wrong input: ..." unless the engine chose "Bad request: ..."."""
    kept = message.startswith(("Wrong input", "Bad request: "))
    return message if kept else f"Wrong input: {message}"


def _error(
    status: int, message: str, start: float, headers: dict[str, str] | None = None
) -> Response:
    return _json(
        {"status": {"error": message}, "time": time.perf_counter() - start}, status, headers
    )


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # pydantic-core's encoder: a fifth of json.dumps's time for a page of points; an infinite
    # or NaN number (a score beyond float32) is null, as Qdrant (serde_json) writes it
    body = to_json(value, fallback=jsonable, inf_nan_mode="null")
    if headers:
        return Response(body, status_code=status, headers=headers, media_type="application/json")
    return Json(body, status)


class Json(Response):
    """A JSON answer with no headers of its own: the two it has are made directly, where
    Starlette's constructor checks for a charset and headers the caller did not give."""

    media_type = "application/json"

    def __init__(self, body: bytes, status_code: int = 200) -> None:
        self.body = body
        self.status_code = status_code
        self.background = None
        self.raw_headers = [
            (b"content-length", b"%d" % len(body)),
            (b"content-type", b"application/json"),
        ]
