"""The indexed router picks the route Starlette's full scan picks, for every route vqdb serves,
and leaves what no route serves (405, 404, redirects) to Starlette; Api serves Bare endpoints
past Starlette's middleware."""

from __future__ import annotations

import re
import warnings

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from vqdb.server.extensions import EXTENSIONS
from vqdb.server.operations import OPERATIONS
from vqdb.server.router import Api, Bare, IndexedRouter

with warnings.catch_warnings():  # Starlette's TestClient asks for httpx2 over httpx
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PATHS = [(op.method, op.path) for op in [*OPERATIONS, *EXTENSIONS]]


def _routes() -> list[BaseRoute]:
    def answer(i: int):  # type: ignore[no-untyped-def]
        async def endpoint(request: Request) -> PlainTextResponse:
            return PlainTextResponse(f"{i} {sorted(request.path_params.items())}")

        return endpoint

    return [Route(path, answer(i), methods=[method]) for i, (method, path) in enumerate(PATHS)]


def _clients() -> tuple[TestClient, TestClient]:
    plain = Starlette()
    plain.router = Router(_routes())
    indexed = Starlette()
    indexed.router = IndexedRouter(_routes())
    return TestClient(plain), TestClient(indexed)


def _requests() -> list[tuple[str, str]]:
    """Every route's path with its parameters filled in (names that are also literals of other
    routes included: `aliases`, `delete`, `query`), under each method."""
    out = []
    for _, path in PATHS:
        for value in ("x", "aliases", "delete", "query", "7"):
            concrete = re.sub(r"\{[^}]+\}", value, path)
            for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
                out.append((method, concrete))
    return sorted(set(out))


def test_the_same_route_as_a_full_scan() -> None:
    plain, indexed = _clients()
    requests = _requests()
    assert len(requests) > 500
    for method, path in requests:
        expected, got = plain.request(method, path), indexed.request(method, path)
        assert (got.status_code, got.text) == (expected.status_code, expected.text), (
            method,
            path,
        )


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/nowhere"),
        ("POST", "/collections/x/points/query/"),  # a trailing slash: redirected
        ("GET", "/collections/x/points/query"),  # a POST route: 405
        ("GET", "/collections/x/points/query/batch/more"),
        ("GET", "/"),
    ],
)
def test_what_no_route_serves(method: str, path: str) -> None:
    plain, indexed = _clients()
    expected = plain.request(method, path, follow_redirects=False)
    got = indexed.request(method, path, follow_redirects=False)
    assert got.status_code == expected.status_code
    assert got.headers.get("location") == expected.headers.get("location")
    assert got.text == expected.text


def test_below_a_root_path() -> None:
    app = Starlette()
    app.router = IndexedRouter(_routes())
    client = TestClient(app, root_path="/api")
    plain = Starlette()
    plain.router = Router(_routes())
    expected = TestClient(plain, root_path="/api")
    for path in ("/api/collections/x/points/query", "/api/collections/x"):
        assert client.post(path).text == expected.post(path).text


def test_the_first_of_overlapping_routes_wins() -> None:
    def named(name: str):  # type: ignore[no-untyped-def]
        async def endpoint(request: Request) -> PlainTextResponse:
            return PlainTextResponse(name)

        return endpoint

    routes = [
        Route("/a/{x}/c", named("param first"), methods=["POST"]),
        Route("/a/b/c", named("literal"), methods=["POST"]),
        Route("/a/b/{y}", named("param last"), methods=["POST"]),
        Route("/a/b/d", named("literal after"), methods=["POST"]),
    ]
    app = Starlette()
    app.router = IndexedRouter(routes)
    client = TestClient(app)
    assert client.post("/a/b/c").text == "param first"
    assert client.post("/a/b/d").text == "param last"
    assert client.post("/a/z/c").text == "param first"


def test_bare_endpoints_are_served_past_the_middleware() -> None:
    """A Bare endpoint gets the request straight, with its path parameters and the app in the
    scope; any other route still goes through Starlette's middleware."""
    seen: list[str] = []

    class Marker:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(scope["path"])
            await self.app(scope, receive, send)

    class Echo(Bare):
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            assert scope["app"] is app
            text = f"bare {sorted(scope['path_params'].items())}"
            await PlainTextResponse(text)(scope, receive, send)

    async def plain(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"plain {sorted(request.path_params.items())}")

    routes = [Route("/a/{x}", Echo(), methods=["POST"]), Route("/b/{y}", plain, methods=["GET"])]
    app = Api(routes, middleware=[Middleware(Marker)])
    client = TestClient(app)
    assert client.post("/a/7").text == "bare [('x', '7')]"
    assert client.get("/b/8").text == "plain [('y', '8')]"
    assert client.get("/a/7").status_code == 405  # no full match: Starlette's answer
    assert seen == ["/b/8", "/a/7"]


def test_a_route_found_again_is_found_alike() -> None:
    """What find gave is remembered by method and path: the same route again, with path
    parameters of the request's own, and no more than REMEMBERED paths kept."""
    from vqdb.server import router as router_module

    table = router_module.RouteTable(_routes())

    def scope(method: str, path: str) -> Scope:
        return {"type": "http", "method": method, "path": path, "root_path": ""}

    path = "/collections/x/points/query"
    first = table.find(scope("POST", path))
    assert first is not None and first[1] == {"collection_name": "x"}
    first[1]["collection_name"] = "changed by a handler"
    again = table.find(scope("POST", path))
    assert again is not None and again[0] is first[0] and again[1] == {"collection_name": "x"}
    assert table.find(scope("PATCH", path)) is None  # by method too: 405 is Starlette's
    for i in range(router_module.REMEMBERED + 10):
        found = table.find(scope("GET", f"/collections/c{i}"))
        assert found is not None and found[1] == {"collection_name": f"c{i}"}
    assert len(table._found) <= router_module.REMEMBERED
