"""The REST responses served, by "METHOD /route/{pattern}" and status, and again by collection
(Qdrant's `requests.rest` telemetry, which /metrics renders): durations per key, kept under
one lock because the event loop and the write threads both answer. A response is only queued
as it leaves, and folded into the durations when they are read or the queue is long: folding
at once took ~6 us of a search request's ~65 us in the HTTP layer. A reader process's
(server/readers.py) are only kept to be reported to the writer, whose telemetry counts them."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Any

from vqdb.durations import Durations

Key = tuple[str, int]  # ("PUT /collections/{collection_name}/points", 200)
# one response: "METHOD route", status, seconds, its collection or None
Observed = tuple[str, int, float, str | None]
FOLD_AT = 256  # responses queued before the one that finds so many folds them (~0.1 ms)


class Responses:
    """`reported`: keep each response only until `unreported()` takes it (a reader process's:
    its writer keeps the statistics, and serves /telemetry and /metrics)."""

    def __init__(self, *, reported: bool = False) -> None:
        self._lock = threading.Lock()
        self._all: defaultdict[Key, Durations] = defaultdict(Durations)
        self._by_collection: defaultdict[tuple[str, Key], Durations] = defaultdict(Durations)
        self._unreported: list[Observed] | None = [] if reported else None
        # (response, when it left): appended without the lock (a deque's append is atomic)
        self._queued: deque[tuple[Observed, float]] = deque()

    def observe(
        self, method: str, route: str, status: int, start: float, collection: str | None = None
    ) -> None:
        self.add((f"{method} {route}", status, time.perf_counter() - start, collection))

    def add(self, observed: Observed) -> None:
        if self._unreported is not None:
            with self._lock:
                self._unreported.append(observed)
            return
        self._queued.append((observed, time.time()))
        if len(self._queued) >= FOLD_AT:
            self._fold()

    def _fold(self) -> None:
        with self._lock:
            queued = self._queued
            taken = [queued.popleft() for _ in range(len(queued))]  # more may come meanwhile
            if not taken:
                return
            times: defaultdict[tuple[str | None, Key], list[float]] = defaultdict(list)
            last: dict[tuple[str | None, Key], float] = {}
            for (route, status, seconds, collection), at in taken:
                key = (route, status)
                times[None, key].append(seconds)
                last[None, key] = at
                if collection is not None:
                    times[collection, key].append(seconds)
                    last[collection, key] = at
            for (collection, key), taken_times in times.items():
                durations = (
                    self._all[key] if collection is None else self._by_collection[collection, key]
                )
                durations.add_many(taken_times, last[collection, key])

    def unreported(self) -> list[Observed]:
        """The responses observed since the last call (a reader's, for its writer)."""
        with self._lock:
            taken, self._unreported = self._unreported or [], []
        return taken

    def rows(self, per_collection: bool) -> list[tuple[str | None, str, int, Durations]]:
        """(collection or None, "METHOD route", status, a copy of its durations), sorted."""
        self._fold()
        with self._lock:
            if per_collection:
                return [(c, k, s, d.copy()) for (c, (k, s)), d in self._by_collection.items()]
            return [(None, k, s, d.copy()) for (k, s), d in self._all.items()]

    def telemetry(self, detailed: bool, per_collection: bool) -> dict[str, Any]:
        """WebApiTelemetry: `responses`, and `per_collection_responses` when asked for and not
        empty (Qdrant leaves an empty map out)."""
        responses: dict[str, dict[str, Any]] = {}
        for _, key, status, durations in sorted(self.rows(False), key=_order):
            responses.setdefault(key, {})[str(status)] = durations.statistics(detailed)
        out: dict[str, Any] = {"responses": responses}
        if per_collection:
            by_collection: dict[str, dict[str, dict[str, Any]]] = {}
            for collection, key, status, durations in sorted(self.rows(True), key=_order):
                assert collection is not None
                statistics = durations.statistics(detailed)
                by_collection.setdefault(collection, {}).setdefault(key, {})[str(status)] = (
                    statistics
                )
            if by_collection:
                out["per_collection_responses"] = by_collection
        return out


def _order(row: tuple[str | None, str, int, Durations]) -> tuple[str, str, int]:
    return (row[0] or "", row[1], row[2])
