"""The ASGI app: each row of operations.py becomes a route that checks the API key, parses the
body against its schema, runs the engine call (writes in a worker thread) and wraps the result
in Qdrant's envelope; errors get Qdrant's status codes and shape.

    {"result": ..., "status": "ok", "time": 0.0012}
    {"status": {"error": "Wrong input: Vector dimension error: expected dim: 4, got 3"}, ...}
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from vqdb.collection.points import jsonable
from vqdb.database import Database
from vqdb.errors import AlreadyExists, BadInput, NotFound, OutOfRange, is_storage_full
from vqdb.server import openapi
from vqdb.server.access import Access, Denied
from vqdb.server.metrics import Metrics
from vqdb.server.operations import JSON_OBJECT, OPERATIONS, UPLOAD, Call, Operation
from vqdb.server.settings import Settings
from vqdb.validation import check_collection_name

log = logging.getLogger("vqdb.server")

# Qdrant 1.19's API: qdrant-client warns when its minor version is more than one away, and
# 1.19 is within one of both clients vqdb supports (1.18 and 1.20)
API_VERSION = "1.19.0"

# pydantic error types that mean "out of range" (Qdrant's 422), not "malformed" (400)
_RANGE_ERRORS = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "too_short",
    "too_long",
    "string_too_short",
    "string_too_long",
    "multiple_of",
}


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def create_app(db: Database, settings: Settings, *, close_on_shutdown: bool = False) -> Starlette:
    """close_on_shutdown: checkpoint and close the database when the server stops (uvicorn
    re-raises SIGTERM once it has shut down, so code after its run() may never run)."""
    access = Access(settings.service.api_key, settings.service.read_only_api_key)
    metrics = Metrics(db)
    limit = settings.service.max_request_size_mb << 20
    routes = [
        Route(op.path, _endpoint(op, db, access, metrics, limit), methods=[op.method])
        for op in OPERATIONS
    ]
    document = json.dumps(openapi.document(OPERATIONS, API_VERSION)).encode()

    def service(name: str, answer: Callable[[], Response], public: bool = False) -> Route:
        async def handle(request: Request) -> Response:
            start = time.perf_counter()
            try:
                if not public:
                    access.check(request.headers, writes=False)
                response = answer()
            except Denied as e:
                response = _error(e.status, str(e), start)
            metrics.observe(request.method, name, response.status_code, start)
            return response

        return Route(f"/{name}" if name != "root" else "/", handle, methods=["GET"])

    routes += [
        service(
            "root",
            lambda: _json({"title": "vqdb - vector search engine", "version": API_VERSION}),
            public=True,
        ),
        service("healthz", lambda: PlainTextResponse("healthz check passed"), public=True),
        service("livez", lambda: PlainTextResponse("livez check passed"), public=True),
        service("readyz", lambda: PlainTextResponse("all shards are ready"), public=True),
        service(
            "openapi.json", lambda: Response(document, media_type="application/json"), public=True
        ),
        service(
            "metrics", lambda: PlainTextResponse(metrics.text(), media_type=Metrics.CONTENT_TYPE)
        ),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return _error(status, str(getattr(exc, "detail", exc)), time.perf_counter())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if close_on_shutdown:
            await run_in_threadpool(db.close)
            log.info("storage closed")

    app = Starlette(
        routes=routes, exception_handlers={HTTPException: http_error}, lifespan=lifespan
    )
    app.state.settings = settings  # what operations read for themselves (snapshot limits)
    return app


def _endpoint(
    op: Operation, db: Database, access: Access, metrics: Metrics, limit: int
) -> Callable[[Request], Awaitable[Response]]:
    adapter = TypeAdapter(op.body) if op.body not in (None, JSON_OBJECT, UPLOAD) else None
    is_async = inspect.iscoroutinefunction(op.run)

    async def handle(request: Request) -> Response:
        start = time.perf_counter()
        try:
            access.check(request.headers, writes=op.writes)
            for name in op.params:
                raw = request.query_params.get(name)
                problem = None if raw is None else openapi.query_problem(name, raw)
                if problem:
                    raise HttpError(400, problem)
            collection = request.path_params.get("collection_name")
            if collection is not None:  # Qdrant's rule; a new name's stricter one is the engine's
                check_collection_name(collection)
            body = None
            if op.body is JSON_OBJECT or adapter is not None:
                body = _parse(await _read(request, limit), adapter)
            call = Call(db, request.path_params, request.query_params, body, request)
            if is_async:
                result = await op.run(call)
            elif op.writes:  # may wait on fsync or a long apply: off the event loop
                result = await run_in_threadpool(op.run, call)
            else:
                # reads run on the event loop: a thread hop costs ~0.1 ms, a tenth of a
                # search, and measured no faster under 4 or 16 concurrent clients (the GIL-held
                # Python around the native search is what limits them)
                result = op.run(call)
            response = (
                result
                if op.raw
                else _json({"result": result, "status": "ok", "time": time.perf_counter() - start})
            )
        except Exception as e:  # every failure becomes Qdrant's error shape
            response = _failure(e, op, start)
        metrics.observe(request.method, op.path, response.status_code, start)
        return response

    return handle


async def _read(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HttpError(413, f"Payload too large: the limit is {limit >> 20} MB")
    return await request.body()


def _parse(raw: bytes, adapter: TypeAdapter[Any] | None) -> Any:
    """The body as JSON checked against the operation's schema, with the fields a client left
    out (or set to null) absent, so the engine applies Qdrant's defaults. Unknown fields are
    dropped, as Qdrant's server ignores them, except in filters and payload selectors, whose
    models refuse them as Qdrant does."""
    if adapter is None:
        try:
            value = json.loads(raw)
        except ValueError as e:
            raise HttpError(400, f"Format error in JSON body: {e}") from None
        if not isinstance(value, dict):
            raise HttpError(400, "Format error in JSON body: expected a JSON object")
        return value
    try:
        parsed = adapter.validate_json(raw)
    except ValidationError as e:
        raise _invalid(e) from None
    return adapter.dump_python(
        parsed, mode="json", by_alias=True, exclude_unset=True, exclude_none=True
    )


def _invalid(e: ValidationError) -> HttpError:
    errors = e.errors(include_url=False, include_input=False)
    problems = ", ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in errors[:5]
    )
    if all(err["type"] in _RANGE_ERRORS for err in errors):  # well-formed, out of range
        return HttpError(422, f"Validation error in JSON body: [{problems}]")
    return HttpError(400, f"Format error in JSON body: {problems}")


def _failure(e: Exception, op: Operation, start: float) -> Response:
    if isinstance(e, (HttpError, Denied)):
        return _error(e.status, str(e), start)
    if isinstance(e, HTTPException):  # Starlette's, e.g. a malformed multipart form
        return _error(e.status_code, str(e.detail), start)
    if isinstance(e, NotFound):
        return _error(404, f"Not found: {e}", start)
    if isinstance(e, AlreadyExists):
        return _error(409, str(e), start)
    if isinstance(e, OutOfRange):
        return _error(422, str(e), start)
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
    return message if message.startswith("Wrong input") else f"Wrong input: {message}"


def _error(status: int, message: str, start: float) -> Response:
    return _json({"status": {"error": message}, "time": time.perf_counter() - start}, status)


def _json(value: Any, status: int = 200) -> Response:
    try:
        body = json.dumps(value, separators=(",", ":"), default=jsonable, allow_nan=False)
    except ValueError:  # a score beyond float32 (vectors near 1e38): JSON has no Infinity
        body = json.dumps(_finite(value), separators=(",", ":"), default=jsonable, allow_nan=False)
    return Response(body, status_code=status, media_type="application/json")


def _finite(value: Any) -> Any:
    """value with every infinite or NaN number as null, as Qdrant (serde_json) writes them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (np.generic, np.ndarray)):
        return _finite(jsonable(value))
    return value
