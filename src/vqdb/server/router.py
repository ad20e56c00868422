"""Routes found by the segments of their paths, and the operations served past Starlette's
layers.

Starlette tries every route's regex in turn, and a search route sits past forty others: that
scan took ~50 us of a ~0.4 ms request. `RouteTable` keeps the routes in a trie of path
segments (a literal segment, or a `{parameter}` that takes any non-empty one) and finds the
route a full scan would pick, the first whose path and method both match, in a few dict
lookups, and remembers what it found for each method and path (a search's route is found
once, not per request: the walk took ~5 us). What matches no route fully (405,
trailing-slash redirects, 404) is left to Starlette's own handling, and so are the routes a
trie cannot hold (mounts, `{name:path}`).

`Api` serves the routes whose endpoint is `Bare` straight from the table. Such an endpoint
answers every request itself, its failures included, so Starlette's two middleware layers, its
router and their wrappers of every message sent (~20-30 us a request, more with cold caches
under load) do nothing for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

Found = tuple[Route, dict[str, str]]  # a route and its path parameters
REMEMBERED = 4096  # (method, path)s whose route is kept; past that the memory starts afresh


class Bare:
    """An ASGI endpoint that answers every request itself, failures included."""

    __slots__ = ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class _Node:
    __slots__ = ("literals", "parameter", "routes")

    def __init__(self) -> None:
        self.literals: dict[str, _Node] = {}
        self.parameter: _Node | None = None
        # routes whose path ends here: (place in the route list, route, parameters by segment)
        self.routes: list[tuple[int, Route, tuple[tuple[int, str], ...]]] = []


class RouteTable:
    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self._root = _Node()
        self._others: list[tuple[int, BaseRoute]] = []  # mounts and multi-segment parameters
        for place, route in enumerate(routes):
            if isinstance(route, Route) and (segments := _segments(route)) is not None:
                self._add(place, route, segments)
            else:
                self._others.append((place, route))
        # (method, root path, path) -> what find gave: dict operations are atomic, so the
        # worker loops' threads share it without a lock
        self._found: dict[tuple[str, str, str], Found | None] = {}

    def _add(self, place: int, route: Route, segments: list[str]) -> None:
        node, parameters = self._root, []
        for i, segment in enumerate(segments):
            if segment.startswith("{"):
                parameters.append((i, segment[1:-1]))
                node.parameter = node.parameter or _Node()
                node = node.parameter
            else:
                node = node.literals.setdefault(segment, _Node())
        node.routes.append((place, route, tuple(parameters)))

    def find(self, scope: Scope) -> Found | None:
        """The route Starlette's scan picks for an HTTP request, with its path parameters,
        where one matches by path and method; None: leave the request to Starlette."""
        key = (scope["method"], scope.get("root_path", ""), scope["path"])
        try:
            found = self._found[key]
        except KeyError:  # (not `in` and then a lookup: another loop's thread may clear it)
            found = self._found[key] = self._find(scope)
            if len(self._found) > REMEMBERED:  # paths that name points or made-up collections
                self._found.clear()
        if found is None:
            return None
        return found[0], dict(found[1])  # the request's own: scope["path_params"] is mutable

    def _find(self, scope: Scope) -> Found | None:
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root + "/"):  # as Starlette matches: below the root path
            path = path[len(root) :]
        segments = path.split("/")[1:]
        method = scope["method"]
        best: tuple[int, Route, tuple[tuple[int, str], ...]] | None = None
        for candidate in _walk(self._root, segments, 0):
            methods = candidate[1].methods
            if (methods is None or method in methods) and (best is None or candidate < best):
                best = candidate
        if best is None:
            return None
        place, route, parameters = best
        if any(p < place and r.matches(scope)[0] is not Match.NONE for p, r in self._others):
            return None  # a mount before it may take the path: Starlette decides
        return route, {name: segments[i] for i, name in parameters}


def _walk(node: _Node, segments: list[str], i: int) -> list[tuple[int, Route, Any]]:
    """The routes whose path matches segments[i:] from this node."""
    if i == len(segments):
        return node.routes
    found: list[tuple[int, Route, Any]] = []
    literal = node.literals.get(segments[i])
    if literal is not None:
        found = _walk(literal, segments, i + 1)
    if node.parameter is not None and segments[i]:
        found = found + _walk(node.parameter, segments, i + 1)
    return found


def _segments(route: Route) -> list[str] | None:
    """A route's path segments, each a literal or a whole `{parameter}` of one segment; None
    where the trie cannot hold it."""
    segments = route.path.split("/")[1:]
    for segment in segments:
        if ("{" in segment or "}" in segment) and not (
            segment.startswith("{") and segment.endswith("}") and ":" not in segment
        ):
            return None
    return segments


class IndexedRouter(Router):
    """Starlette's router, finding its routes through a RouteTable."""

    def __init__(self, routes: Sequence[BaseRoute], **options: Any) -> None:
        super().__init__(list(routes), **options)
        self.table = RouteTable(self.routes)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.table.find(scope) if scope["type"] == "http" else None
        if found is None:
            await super().app(scope, receive, send)  # 405, redirects and 404: Starlette's way
            return
        route, parameters = found
        scope.setdefault("router", self)
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = {**scope.get("path_params", {}), **parameters}
        await route.handle(scope, receive, send)


class Api(Starlette):
    """Starlette over an IndexedRouter, serving `Bare` endpoints past its layers."""

    def __init__(self, routes: Sequence[BaseRoute], **options: Any) -> None:
        super().__init__(**options)
        router = IndexedRouter(routes, lifespan=options.get("lifespan"))
        self.router, self._table = router, router.table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = self._table.find(scope)
            if found is not None and isinstance(found[0].endpoint, Bare):
                route, parameters = found
                scope["app"] = self  # what Starlette sets: requests read app.state through it
                scope["path_params"] = parameters
                await route.endpoint(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
