"""Starlette's router with its routes indexed by the shape of their paths.

Starlette tries every route's regex in turn, and a search route sits past forty others: that
scan took ~50 us of a ~0.4 ms request. A route's path can only match a request path with as
many segments (no route here has a `{name:path}` parameter, which may span several) whose
last one is the route's last literal, if it has one. So the index keeps, per (segments, last
segment), the routes that may match, and a request tries only those, in the original order:
the same route wins as in a full scan, and a path or method that nothing serves falls back to
Starlette's own handling (405, trailing-slash redirects, 404).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

Shape = tuple[int, str | None]  # segments, the last one when literal (None: a parameter)


class IndexedRouter(Router):
    def __init__(self, routes: Sequence[BaseRoute], **options: object) -> None:
        super().__init__(list(routes), **options)  # type: ignore[arg-type]
        self._by_shape: dict[Shape, list[BaseRoute]] = {}
        anywhere: list[tuple[int, BaseRoute]] = []  # mounts and multi-segment parameters
        fixed: list[tuple[int, Shape, BaseRoute]] = []
        for i, route in enumerate(self.routes):
            shape = _route_shape(route)
            if shape is None:
                anywhere.append((i, route))
            else:
                fixed.append((i, shape, route))
        for shape in {s for _, s, _ in fixed} | {(s[0], None) for _, s, _ in fixed}:
            count, last = shape
            chosen = [
                (i, r) for i, s, r in fixed if s[0] == count and s[1] in (last, None)
            ] + anywhere
            self._by_shape[shape] = [r for _, r in sorted(chosen, key=lambda ir: ir[0])]

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().app(scope, receive, send)
            return
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root + "/"):  # as Starlette matches: below the root path
            path = path[len(root) :]
        segments = path.split("/")[1:]
        candidates = self._by_shape.get((len(segments), segments[-1])) or self._by_shape.get(
            (len(segments), None)
        )
        for route in candidates or ():
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope.setdefault("router", self)
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
        await super().app(scope, receive, send)  # 405, redirects and 404: Starlette's way


def _route_shape(route: BaseRoute) -> Shape | None:
    """(segments, last literal segment or None), or None where a route may span segments."""
    if not isinstance(route, Route) or ":path}" in route.path:
        return None
    segments = route.path.split("/")[1:]
    last = segments[-1]
    return len(segments), (None if "{" in last else last)
