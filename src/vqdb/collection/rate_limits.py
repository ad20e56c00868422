"""Strict mode's read and write rate limits (`read_rate_limit`, `write_rate_limit`: tokens a
minute): Qdrant's token buckets, one of each per collection, and Qdrant's costs, the similarity
comparisons a search makes per point and the points a write touches."""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from vqdb.errors import RateLimited
from vqdb.filters import Filter
from vqdb.filters.conditions import HasId, Nested
from vqdb.filters.coverage import needed_kinds, needs_index

if TYPE_CHECKING:
    from vqdb.collection.collection import Collection

SPARSE_DIMS_COST_UNIT = 64  # a sparse query costs one read token per 64 of its dimensions


# ---- costs ----------------------------------------------------------------------------------


def vector_cost(c: Collection, body: Mapping[str, Any]) -> int:
    """How many similarity comparisons per point a request's vectors make (Qdrant's
    search_cost): 1 per dense vector, its rows for a multivector, a unit per 64 dimensions of
    a sparse one; a point id costs its lookup, its stored vector, and the condition that leaves
    it out of the results."""
    using = body.get("using")
    using = using if isinstance(using, str) else ""
    found = [*_one(body.get("query")), *_one(body.get("vector")), *_one(body.get("target"))]
    found += [*_many(body.get("positive")), *_many(body.get("negative"))]
    found += _pairs(body.get("context"))
    cost = 0
    for vector in found:
        if isinstance(vector, (int, str)):
            cost += 2 + _stored_cost(c, vector, using)
        else:
            cost += _cost_of(vector)
    return cost


def _one(raw: Any) -> list[Any]:
    """The vectors and point ids of one VectorInput or query object."""
    if raw is None or isinstance(raw, bool):
        return []
    if isinstance(raw, (int, str, list)):
        return [raw]
    if not isinstance(raw, Mapping):
        return []
    if "indices" in raw:
        return [raw]
    found = [*_one(raw.get("vector")), *_one(raw.get("nearest")), *_one(raw.get("target"))]
    for key in ("recommend", "discover"):
        inner = raw.get(key)
        if isinstance(inner, Mapping):
            found += _many(inner.get("positive")) + _many(inner.get("negative"))
            found += _one(inner.get("target")) + _pairs(inner.get("context"))
    return found + _pairs(raw.get("context"))


def _many(raw: Any) -> list[Any]:
    return [v for item in raw for v in _one(item)] if isinstance(raw, list) else []


def _pairs(raw: Any) -> list[Any]:
    pairs = [raw] if isinstance(raw, Mapping) else raw if isinstance(raw, list) else []
    found: list[Any] = []
    for pair in pairs:
        if isinstance(pair, Mapping):
            found += _one(pair.get("positive")) + _one(pair.get("negative"))
    return found


def _cost_of(vector: Any) -> int:
    if isinstance(vector, Mapping):
        indices = vector.get("indices")
        n = len(indices) if isinstance(indices, list) else 0
        return -(-n // SPARSE_DIMS_COST_UNIT)
    if isinstance(vector, list) and vector and isinstance(vector[0], list):
        return len(vector)
    return 1


def _stored_cost(c: Collection, pid: int | str, using: str) -> int:
    for segment in c.segments:
        offset = segment.find(pid)
        if offset >= 0:
            stored = segment.point_vectors(offset, [using]).get(using)
            if stored is None:
                return 0
            if hasattr(stored, "indices"):
                return -(-len(stored.indices) // SPARSE_DIMS_COST_UNIT)
            shape = np.shape(stored)
            return int(shape[0]) if len(shape) == 2 else 1
    return 0


def estimated_count(c: Collection, f: Filter) -> int:
    """How many points a filter selects, as Qdrant estimates it for a write's rate cost: what
    payload indexes answer is counted, any other condition is taken to select half."""
    total = c.points_count
    if total == 0:
        return 0
    return int(_estimate(c, f, total))


def _estimate(c: Collection, f: Filter, total: int) -> float:
    parts: list[float] = [_estimate_condition(c, x, total) for x in f.must]
    parts += [total - _estimate_condition(c, x, total) for x in f.must_not]
    should = [_estimate_condition(c, x, total) for x in f.should or ()]
    if should:
        parts.append(total * (1 - math.prod(1 - s / total for s in should)))
    if f.min_should is not None:
        parts.append(total / 2)
    if not parts:
        return total
    return total * math.prod(p / total for p in parts)


def _estimate_condition(c: Collection, x: Any, total: int) -> float:
    if isinstance(x, Filter):
        return _estimate(c, x, total)
    if isinstance(x, HasId):
        return min(len(x.ids), total)
    key = getattr(x, "key", None)
    if isinstance(x, Nested) or key is None:
        return total // 2
    if needs_index(c.payload_schema, key, needed_kinds(x)):  # no index answers it
        return total // 2
    matched = Filter(must=(x,))
    return sum(int(np.count_nonzero(s.mask(matched))) for s in c.segments)


# ---- the buckets ----------------------------------------------------------------------------


class Bucket:
    """Qdrant's RateLimiter: a token bucket of `per_minute` tokens, full at first, refilled at
    per_minute / 60 a second."""

    def __init__(self, per_minute: int, kind: str) -> None:
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60.0
        self.tokens = self.capacity
        self.last = time.monotonic()
        self.kind = kind  # "Read" or "Write"

    def take(self, cost: int) -> None:
        if cost > self.capacity:
            raise RateLimited(
                f"{self.kind} rate limit exceeded, request larger than rate limiter capacity, "
                "please try to split your request"
            )
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + self.per_second * (now - self.last))
        self.last = now
        if self.tokens >= cost:
            self.tokens -= cost
            return
        wait = (cost - self.tokens) / self.per_second
        raise RateLimited(
            f"{self.kind} rate limit exceeded: Operation requires {cost} tokens but only "
            f"{self.tokens:.1f} were available. Retry after {math.ceil(wait)}s",
            retry_after=wait,
        )


_buckets: weakref.WeakKeyDictionary[Collection, tuple[Any, dict[str, Bucket]]] = (
    weakref.WeakKeyDictionary()
)
_buckets_lock = threading.Lock()


def charge(c: Collection, config: Mapping[str, Any], kind: str, cost: int) -> None:
    """Takes `cost` tokens from the collection's read or write bucket, if it has one. A new
    config starts new, full buckets: Qdrant renews them when strict mode is updated, and here
    any update of the collection does."""
    per_minute = config.get(f"{kind}_rate_limit")
    if per_minute is None:
        return
    with _buckets_lock:
        held = _buckets.get(c)
        if held is None or held[0] is not c.config:
            held = (c.config, {})
            _buckets[c] = held
        bucket = held[1].get(kind)
        if bucket is None or bucket.capacity != per_minute:
            bucket = held[1][kind] = Bucket(per_minute, kind.capitalize())
        bucket.take(cost)
