"""Payload indexes: per-key structures that answer field conditions as numpy masks.

An index answers a condition only when it can do so exactly as the payload scan would
(`mask` returns None otherwise and the filter scans), so adding an index never changes a
result, text conditions excepted (tokens instead of substrings, see text.py). For that
reason the range part of an integer or float index holds every number at the key, ints and
floats alike, and the exact-value indexes remember which points hold values of other types,
since those match every `except`.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Hashable, Iterable, Mapping
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb.errors import coded, invalid
from vqdb.filters.conditions import (
    Condition,
    DatetimeRange,
    Mask,
    MatchAny,
    MatchExcept,
    MatchPrefix,
    MatchValue,
    Range,
    is_int,
    number_of,
)
from vqdb.filters.datetimes import parse_datetime
from vqdb.filters.geo import Geo, geo_points
from vqdb.filters.paths import parse_path, values_at

Payload = Mapping[str, Any] | None
Ordering = tuple[npt.NDArray[Any], npt.NDArray[np.int64]]  # values (sorted), their offsets


def offsets_mask(offsets: Iterable[int] | npt.NDArray[np.int64], size: int) -> Mask:
    out = np.zeros(size, dtype=np.bool_)
    if isinstance(offsets, np.ndarray):
        idx = offsets.astype(np.int64, copy=False)
    else:
        idx = np.fromiter(offsets, dtype=np.int64)
    out[idx[(idx >= 0) & (idx < size)]] = True
    return out


class FieldIndex:
    """The index of one key path. `schema` is what payload_schema echoes back (PayloadIndexInfo
    without `points`, which is `count()`); `mask` answers a condition on `key`, or None."""

    def __init__(self, key: str, data_type: str, params: Mapping[str, Any] | None) -> None:
        self.key = key
        self.schema: dict[str, Any] = {"data_type": data_type}
        if params is not None:
            self.schema["params"] = dict(params)

    def add(self, offset: int, payload: Payload) -> None:
        """Indexes the point at `offset`, replacing whatever it had."""
        raise NotImplementedError

    def remove(self, offset: int) -> None:
        raise NotImplementedError

    def count(self) -> int:
        """Points holding at least one value this index takes."""
        raise NotImplementedError

    def values_of(self, payload: Payload) -> list[Any] | None:
        """The values at `key` that this index would hold for `payload`, where a formula reads
        its variables (Qdrant reads them from a key's index, where it has one, so a null or a
        value of another type is no value there); None: this index gives none back, and the
        payload is read instead (a text index)."""
        return None

    def mask(self, condition: Condition, size: int) -> Mask | None:
        raise NotImplementedError

    def ordering(self) -> Ordering | None:
        """The (value, offset) pairs `order_by` sorts, by value, or None where this index holds
        no ranges (Qdrant orders only by an integer, float or datetime index)."""
        return None

    def info(self) -> dict[str, Any]:
        return {**self.schema, "points": self.count()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key!r}, {self.schema}, points={self.count()})"


class MapIndex(FieldIndex):
    """Exact values -> offsets (keyword, integer lookups, bool, uuid)."""

    def __init__(
        self,
        key: str,
        data_type: str,
        params: Mapping[str, Any] | None,
        value_type: type,
        accepts: Callable[[object], bool],
    ) -> None:
        super().__init__(key, data_type, params)
        self._value_type = value_type
        self._accepts = accepts
        self._postings: dict[Hashable, set[int]] = {}
        self._held: dict[int, frozenset[Hashable]] = {}
        self._other: set[int] = set()  # non-null values of another type: every except matches
        self._columns: tuple[list[Hashable], npt.NDArray[np.int64], npt.NDArray[np.int64]] | None
        self._columns = None

    def values_of(self, payload: Payload) -> list[Any] | None:
        return [v for v in values_at(payload, self.key) if self._accepts(v)]

    def add(self, offset: int, payload: Payload) -> None:
        self.remove(offset)
        mine: set[Hashable] = set()
        for v in values_at(payload, self.key):
            if self._accepts(v):
                mine.add(v)
            elif v is not None:
                self._other.add(offset)
        if mine:
            self._held[offset] = frozenset(mine)
            self._columns = None
            for v in mine:
                self._postings.setdefault(v, set()).add(offset)

    def remove(self, offset: int) -> None:
        self._other.discard(offset)
        if offset in self._held:
            self._columns = None
        for v in self._held.pop(offset, ()):
            posting = self._postings[v]
            posting.discard(offset)
            if not posting:
                del self._postings[v]

    def count(self) -> int:
        return len(self._held)

    def held(self) -> Mapping[int, frozenset[Hashable]]:
        """Each indexed offset's distinct values."""
        return self._held

    def postings(self) -> tuple[list[Hashable], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Every (value, offset) pair held, as columns: the distinct values, and for each pair
        its value's position in them and its offset (a point once per distinct value). Rebuilt
        lazily after writes, so counting over a mask is numpy, not a loop over values."""
        if self._columns is None:
            values = list(self._postings)
            sizes = np.fromiter(map(len, self._postings.values()), np.int64, len(values))
            total = int(sizes.sum())
            offsets = np.fromiter(
                itertools.chain.from_iterable(self._postings.values()), np.int64, total
            )
            codes = np.repeat(np.arange(len(values), dtype=np.int64), sizes)
            self._columns = values, codes, offsets
        return self._columns

    def _takes(self, kind: type, values: Iterable[object]) -> bool:
        return kind is self._value_type and all(self._accepts(v) for v in values)

    def mask(self, condition: Condition, size: int) -> Mask | None:
        c = condition
        if isinstance(c, MatchValue) and self._accepts(c.value):
            return offsets_mask(self._postings.get(c.value, ()), size)
        if isinstance(c, MatchAny) and self._takes(c.kind, c.values):
            found = (self._postings.get(v, ()) for v in c.values)
            return offsets_mask(itertools.chain.from_iterable(found), size)
        if isinstance(c, MatchExcept) and self._takes(c.kind, c.values):
            kept = (p for v, p in self._postings.items() if v not in c.values)
            return offsets_mask(itertools.chain(self._other, *kept), size)
        if isinstance(c, MatchPrefix) and self.schema["data_type"] == "keyword":
            kept = (p for v, p in self._postings.items() if str(v).startswith(c.prefix))
            return offsets_mask(itertools.chain.from_iterable(kept), size)
        return None


class SortedIndex(FieldIndex):
    """Values in one sorted array (rebuilt lazily after writes): ranges by binary search."""

    def __init__(
        self,
        key: str,
        data_type: str,
        params: Mapping[str, Any] | None,
        extract: Callable[[object], float | None],
        dtype: type[np.float64] | type[np.int64],
        answers: type[Range] | type[DatetimeRange],
    ) -> None:
        super().__init__(key, data_type, params)
        self._extract, self._dtype, self._answers = extract, dtype, answers
        self._held: dict[int, list[float]] = {}
        self._sorted: tuple[npt.NDArray[Any], npt.NDArray[np.int64]] | None = None

    def values_of(self, payload: Payload) -> list[Any] | None:
        return [v for v in values_at(payload, self.key) if self._extract(v) is not None]

    def add(self, offset: int, payload: Payload) -> None:
        self.remove(offset)
        found = [self._extract(v) for v in values_at(payload, self.key)]
        kept = [x for x in found if x is not None]
        if kept:
            self._held[offset] = kept
            self._sorted = None

    def remove(self, offset: int) -> None:
        if self._held.pop(offset, None) is not None:
            self._sorted = None

    def count(self) -> int:
        return len(self._held)

    def _arrays(self) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
        if self._sorted is None:
            held = self._held
            n = sum(len(xs) for xs in held.values())
            values = np.fromiter(itertools.chain.from_iterable(held.values()), self._dtype, n)
            offsets = np.repeat(
                np.fromiter(held.keys(), np.int64, len(held)),
                np.fromiter((len(xs) for xs in held.values()), np.int64, len(held)),
            )
            order = np.argsort(values, kind="stable")
            self._sorted = values[order], offsets[order]
        return self._sorted

    def mask(self, condition: Condition, size: int) -> Mask | None:
        if not isinstance(condition, self._answers):
            return None
        values, offsets = self._arrays()
        b = condition.bounds
        lo, hi = 0, len(values)
        if b.gte is not None:
            lo = max(lo, int(np.searchsorted(values, b.gte, "left")))
        if b.gt is not None:
            lo = max(lo, int(np.searchsorted(values, b.gt, "right")))
        if b.lte is not None:
            hi = min(hi, int(np.searchsorted(values, b.lte, "right")))
        if b.lt is not None:
            hi = min(hi, int(np.searchsorted(values, b.lt, "left")))
        return offsets_mask(offsets[lo : max(lo, hi)], size)

    def ordering(self) -> Ordering | None:
        return self._arrays()


class IntegerIndex(FieldIndex):
    """Qdrant's integer index answers both exact matches and ranges: one of each inside."""

    def __init__(self, key: str, params: Mapping[str, Any] | None) -> None:
        super().__init__(key, "integer", params)
        self._lookup = MapIndex(key, "integer", params, int, is_int)
        self._range = SortedIndex(key, "integer", params, number_of, np.float64, Range)
        self._ordered: Ordering | None = None

    def values_of(self, payload: Payload) -> list[Any] | None:
        return self._lookup.values_of(payload)  # the integers alone

    def add(self, offset: int, payload: Payload) -> None:
        self._lookup.add(offset, payload)
        self._range.add(offset, payload)
        self._ordered = None

    def remove(self, offset: int) -> None:
        self._lookup.remove(offset)
        self._range.remove(offset)
        self._ordered = None

    def ordering(self) -> Ordering | None:
        """The integers alone, as int64 (the range part holds floats too, as float64); none
        without the range capability, as in Qdrant. Rebuilt lazily after writes."""
        if (self.schema.get("params") or {}).get("range") is False:
            return None
        if self._ordered is None:
            pairs = [
                (v, offset)
                for offset, values in self._lookup.held().items()
                for v in values
                if _I64_MIN <= v <= _I64_MAX  # type: ignore[operator]
            ]
            values = np.array([v for v, _ in pairs], dtype=np.int64)
            offsets = np.array([o for _, o in pairs], dtype=np.int64)
            order = np.argsort(values, kind="stable")
            self._ordered = values[order], offsets[order]
        return self._ordered

    def count(self) -> int:
        return self._lookup.count()

    @property
    def lookup(self) -> MapIndex | None:
        """The exact-value part, or None when the schema turns `lookup` off (Qdrant then has
        no map index for the key: no facets on it)."""
        return None if self.schema.get("params", {}).get("lookup") is False else self._lookup

    def mask(self, condition: Condition, size: int) -> Mask | None:
        found = self._lookup.mask(condition, size)
        return found if found is not None else self._range.mask(condition, size)


_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1  # Qdrant's integers


def _is_uuid(v: object) -> bool:
    try:
        return isinstance(v, str) and bool(uuid.UUID(v))
    except ValueError:
        return False


def _datetime_of(v: object) -> float | None:
    return parse_datetime(v) if isinstance(v, str) else None


def _plain(v: Any) -> Any:
    """Enum members (what model_dump() leaves) to their JSON values."""
    return v.value if isinstance(v, Enum) else v


class GeoIndex(FieldIndex):
    """The geo points of each offset, as columns: a shape tests all of them in one pass."""

    def __init__(self, key: str, params: Mapping[str, Any] | None) -> None:
        super().__init__(key, "geo", params)
        self._points: dict[int, list[tuple[float, float]]] = {}
        self._columns: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None = None

    def values_of(self, payload: Payload) -> list[Any] | None:
        return [v for v in values_at(payload, self.key) if geo_points([v])]

    def add(self, offset: int, payload: Payload) -> None:
        self.remove(offset)
        points = geo_points(values_at(payload, self.key))
        if points:
            self._points[offset] = points
            self._columns = None

    def remove(self, offset: int) -> None:
        if self._points.pop(offset, None) is not None:
            self._columns = None

    def count(self) -> int:
        return len(self._points)

    def mask(self, condition: Condition, size: int) -> Mask | None:
        if not isinstance(condition, Geo):
            return None
        if self._columns is None:  # rebuilt after writes, on the next geo query
            self._columns = (
                np.array([p for ps in self._points.values() for p in ps]).reshape(-1, 2),
                np.array([o for o, ps in self._points.items() for _ in ps], dtype=np.int64),
            )
        lonlat, owners = self._columns
        inside = condition.shape.contains(lonlat[:, 0], lonlat[:, 1])
        return offsets_mask(owners[inside], size)


def build_index(schema: str | Mapping[str, Any], key: str) -> FieldIndex:
    """An empty index for `key` from a PayloadSchemaType name or a PayloadSchemaParams dict
    (extra params are kept for echoing; unset ones, None, are dropped)."""
    from vqdb.filters.text import TextIndex

    params: dict[str, Any] | None = None
    if isinstance(schema, Mapping):
        params = {k: _plain(v) for k, v in schema.items() if v is not None}
        data_type = params.get("type")
    else:
        data_type = _plain(schema)
    parse_path(key)
    if data_type == "geo":
        return GeoIndex(key, params)
    if data_type == "keyword":
        return MapIndex(key, "keyword", params, str, lambda v: isinstance(v, str))
    if data_type == "uuid":
        return MapIndex(key, "uuid", params, str, _is_uuid)
    if data_type == "bool":
        return MapIndex(key, "bool", params, bool, lambda v: isinstance(v, bool))
    if data_type == "integer":
        if params and params.get("lookup") is False and params.get("range") is False:
            problem = "the 'lookup' and 'range' capabilities can't be both disabled"
            raise invalid("field_schema.lookup", coded(problem))
        return IntegerIndex(key, params)
    if data_type == "float":
        return SortedIndex(key, "float", params, number_of, np.float64, Range)
    if data_type == "datetime":
        return SortedIndex(key, "datetime", params, _datetime_of, np.int64, DatetimeRange)
    if data_type == "text":
        return TextIndex(key, params)
    raise ValueError(
        f"unknown payload schema type {data_type!r}: expected keyword, integer, float, "
        "bool, datetime, uuid or text"
    )
