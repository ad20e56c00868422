"""Filter -> bool mask over a segment's offsets, indexes first, payload scans last.

A filter is an AND of parts: each must condition, each must_not condition (negated), the
should group and the min_should group. Parts run cheapest first, each narrowing the set of
offsets still undecided (`todo`), so a scan only visits points the cheap parts let through: a
must over an indexed 1% condition and an unindexed one scans 1% of the payloads. Inside
should / must_not / min_should the same narrowing skips points already decided.

Cost: 0 = answered by an index, has_id, has_vector or slice (numpy); 1 = payload scan; 2 = nested
(a scan running a filter per array element). A sub-filter costs its dearest condition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from vqdb.filters.conditions import (
    FIELD_CONDITIONS,
    Condition,
    Filter,
    HasId,
    HasVector,
    Mask,
    MatchAny,
    MatchValue,
    MinShould,
    Nested,
    Slice,
)
from vqdb.filters.index import offsets_mask
from vqdb.filters.points import Points
from vqdb.filters.slices import slice_mask

Part = tuple[str, Any]  # ("must" | "must_not", Condition) | ("should", tuple) | ("min", MinShould)


def evaluate(f: Filter, points: Points) -> Mask:
    evaluator = _Evaluator(points)
    # a payload read is kept for the next scan only where there is one: a payload on disk is
    # parsed per read, and thousands kept alive would each be traced by the garbage collector
    evaluator.keep_payloads = evaluator.scans(f) > 1
    return evaluator.filter(f, np.ones(points.size, dtype=np.bool_))


class _Evaluator:
    """One mask computation: caches index answers and payloads it has read."""

    def __init__(self, points: Points) -> None:
        self.points = points
        self.size = points.size
        self.payloads: dict[int, Mapping[str, Any] | None] = {}
        self.keep_payloads = True
        self.indexed: dict[int, Mask | None] = {}  # by id(condition)

    def filter(self, f: Filter, todo: Mask) -> Mask:
        for kind, part in sorted(_parts(f), key=self._part_cost):
            if not todo.any():
                break
            if kind == "must":
                todo = self.condition(part, todo)
            elif kind == "must_not":
                todo = todo & ~self.condition(part, todo)
            elif kind == "should":
                todo = self.any_of(part, todo)
            else:
                todo = self.at_least(part, todo)
        return todo

    def any_of(self, conditions: Sequence[Condition], todo: Mask) -> Mask:
        hit = np.zeros(self.size, dtype=np.bool_)
        rest = todo
        for c in sorted(conditions, key=self.cost):
            if not rest.any():
                break
            found = self.condition(c, rest)
            hit |= found
            rest = rest & ~found
        return hit

    def at_least(self, group: MinShould, todo: Mask) -> Mask:
        hits = np.zeros(self.size, dtype=np.int64)
        k = group.min_count
        ordered = sorted(group.conditions, key=self.cost)
        for i, c in enumerate(ordered):
            # Skip points that already have k hits or can no longer reach k.
            open_ = todo & (hits < k) & (hits + (len(ordered) - i) >= k)
            if open_.any():
                hits += self.condition(c, open_)
        return todo & (hits >= k)

    def condition(self, c: Condition, todo: Mask) -> Mask:
        """The offsets in `todo` where `c` holds."""
        known = self._indexed(c)
        if known is not None:
            return known & todo
        if isinstance(c, Filter):
            return self.filter(c, todo)
        if isinstance(c, HasId | HasVector | Slice):  # always answered by _vectorised
            raise AssertionError(c)
        out = np.zeros(self.size, dtype=np.bool_)
        needles = () if self.keep_payloads else _needles(c)
        if needles:  # a stored payload without any of them is not parsed
            read = self.points.payload
            for offset in np.flatnonzero(todo).tolist():
                payload = read(offset, needles)
                if payload is not None:  # none holds no value: the match cannot hold
                    out[offset] = c.test(payload)
            return out
        for offset in np.flatnonzero(todo).tolist():
            out[offset] = c.test(self._payload(offset))
        return out

    def _payload(self, offset: int) -> Mapping[str, Any] | None:
        if not self.keep_payloads:
            return self.points.payload(offset)
        if offset not in self.payloads:
            self.payloads[offset] = self.points.payload(offset)
        return self.payloads[offset]

    def _indexed(self, c: Condition) -> Mask | None:
        key = id(c)
        if key not in self.indexed:
            self.indexed[key] = self._vectorised(c)
        return self.indexed[key]

    def _vectorised(self, c: Condition) -> Mask | None:
        if isinstance(c, HasId):
            return offsets_mask(self.points.offsets_of(sorted(c.ids, key=str)), self.size)
        if isinstance(c, Slice):
            return slice_mask(c.total, c.index, self.points.id_columns(), self.size)
        if isinstance(c, HasVector):
            found = np.asarray(self.points.vector_mask(c.name), dtype=np.bool_)
            return found[: self.size] if found.shape[0] >= self.size else _grown(found, self.size)
        if isinstance(c, FIELD_CONDITIONS):
            index = self.points.indexes.get(c.key)
            if index is not None:
                return index.mask(c, self.size)
        return None

    def cost(self, c: Condition) -> int:
        if self._indexed(c) is not None:
            return 0
        if isinstance(c, Filter):
            return max(map(self._part_cost, _parts(c)), default=0)
        return 2 if isinstance(c, Nested) else 1

    def scans(self, c: Condition) -> int:
        """How many conditions in `c` no index answers (each may scan payloads)."""
        if isinstance(c, Filter):
            chosen = c.min_should.conditions if c.min_should is not None else ()
            return sum(map(self.scans, (*c.must, *c.must_not, *(c.should or ()), *chosen)))
        return 0 if self._indexed(c) is not None else 1

    def _part_cost(self, part: Part) -> int:
        kind, body = part
        if kind in ("must", "must_not"):
            return self.cost(body)
        conditions = body if kind == "should" else body.conditions
        return max(map(self.cost, conditions), default=0)


def _parts(f: Filter) -> list[Part]:
    parts: list[Part] = [("must", c) for c in f.must]
    parts += [("must_not", c) for c in f.must_not]
    if f.should is not None:
        parts.append(("should", f.should))
    if f.min_should is not None:
        parts.append(("min", f.min_should))
    return parts


def _needles(c: Condition) -> tuple[bytes, ...]:
    """JSON texts one of which a payload holds wherever `c` does (none: no such texts)."""
    return c.needles() if isinstance(c, MatchValue | MatchAny) else ()


def _grown(found: Mask, size: int) -> Mask:
    out = np.zeros(size, dtype=np.bool_)
    out[: found.shape[0]] = found
    return out
