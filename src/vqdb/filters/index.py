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
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from vqdb.errors import coded, invalid
from vqdb.filters.conditions import (
    Condition,
    DatetimeRange,
    Interval,
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
from vqdb.filters.vocabulary import Vocabulary

Payload = Mapping[str, Any] | None
Ordering = tuple[npt.NDArray[Any], npt.NDArray[np.int64]]  # values (sorted), their offsets
Arrays = dict[str, npt.NDArray[Any]]
# what an index is saved as and made again from: JSON-able facts, and arrays
State = tuple[dict[str, Any], Arrays]


def offsets_mask(offsets: Iterable[int] | npt.NDArray[np.int64], size: int) -> Mask:
    out = np.zeros(size, dtype=np.bool_)
    if isinstance(offsets, np.ndarray):
        idx = offsets.astype(np.int64, copy=False)
    else:
        idx = np.fromiter(offsets, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= size):  # two passes rather than a copy
        idx = idx[(idx >= 0) & (idx < size)]
    out[idx] = True
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

    def settle(self) -> None:
        """After a bulk of adds (an index built over a segment's payloads): compact what they
        left (a no-op where there is nothing to)."""

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

    def state(self) -> State:
        """Everything it holds, merged into arrays, for `restore` to take up again (from the
        memory-mapped files of an optimized segment: segment/files.py)."""
        raise NotImplementedError

    def restore(self, facts: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]]) -> None:
        """Holds what `state` gave, arrays as they are (read-only maps are never written: a
        merge makes new arrays). The index is empty before."""
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        return {**self.schema, "points": self.count()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key!r}, {self.schema}, points={self.count()})"


class Layered(FieldIndex):
    """An index in two layers: arrays of what it held at its last merge, and the points
    written since, in `_held` (offset -> what the point holds) over them. A point written or
    removed since is marked dead in the arrays. `_merge` makes new arrays of both (when
    `merge_due`, or at `settle`); `_merged` records which offsets they hold."""

    def __init__(self, key: str, data_type: str, params: Mapping[str, Any] | None) -> None:
        super().__init__(key, data_type, params)
        self._held: dict[int, Any] = {}
        self._dead = np.zeros(0, dtype=np.bool_)  # offsets whose entries in the arrays are stale
        self._in_base = np.zeros(0, dtype=np.bool_)  # offsets the arrays hold
        self._count: int | None = None
        self._any_dead = False

    def remove(self, offset: int) -> None:
        if offset < len(self._in_base) and self._in_base[offset] and not self._dead[offset]:
            self._dead[offset] = True
            self._any_dead = True
            self._changed()
        held = self._held.pop(offset, None)
        if held is not None:
            self._let_go(offset, held)
            self._changed()

    def count(self) -> int:
        if self._count is None:
            self._count = int(np.count_nonzero(self._in_base & ~self._dead)) + len(self._held)
        return self._count

    def settle(self) -> None:
        if self._held:
            self._merge()

    def state(self) -> State:
        if self._held or self._any_dead:
            self._merge()
        return self._state()

    def _state(self) -> State:
        raise NotImplementedError

    def _hold(self, offset: int, held: Any, merged: int) -> None:
        """Holds a point written since the arrays (of `merged` entries), merging when due."""
        self._held[offset] = held
        self._changed()
        if merge_due(len(self._held), merged):
            self._merge()

    def _merged(self, offsets: npt.NDArray[np.int64]) -> None:
        """The new arrays hold `offsets`; nothing is held since."""
        size = int(offsets.max()) + 1 if len(offsets) else 0
        self._in_base = np.zeros(size, dtype=np.bool_)
        self._in_base[offsets] = True
        self._dead = np.zeros(size, dtype=np.bool_)
        self._any_dead = False
        self._held = {}
        self._changed()

    def _live(self, offsets: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Those of `offsets` (in the arrays) not marked dead: the same array where none is."""
        return offsets[~self._dead[offsets]] if self._any_dead else offsets

    def _merge(self) -> None:
        raise NotImplementedError

    def _let_go(self, offset: int, held: Any) -> None:
        """What else a point held since refers to (a MapIndex's postings)."""

    def _changed(self) -> None:
        self._count = None


class MapIndex(Layered):
    """Exact values -> offsets (keyword, integer lookups, bool, uuid).

    Each distinct value has a code (`Vocabulary`). The (code, offset) pairs are kept in arrays
    sorted by code (`_base`: a value's points are one slice), ~12 bytes a pair; the points
    written since are held (offset -> codes) with sets of them by code (`_postings`). Sets for
    every point took ~400 bytes a point, and a reader process of the storage builds every
    index again for itself (vqdb.follower)."""

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
        self._values = Vocabulary(value_type)
        self._base = Postings.empty()
        self._postings: dict[int, set[int]] = {}  # code -> offsets held since the base
        self._other: set[int] = set()  # non-null values of another type: every except matches
        self._columns: tuple[Vocabulary, npt.NDArray[np.int64], npt.NDArray[np.int64]] | None
        self._columns = None

    def values_of(self, payload: Payload) -> list[Any] | None:
        return [v for v in values_at(payload, self.key) if self._accepts(v)]

    def add(self, offset: int, payload: Payload) -> None:
        self.remove(offset)
        mine: set[int] = set()
        for v in values_at(payload, self.key):
            if self._accepts(v):
                mine.add(self._values.add(v))
            elif v is not None:
                self._other.add(offset)
        if mine:
            for code in mine:
                self._postings.setdefault(code, set()).add(offset)
            self._hold(offset, frozenset(mine), len(self._base.offsets))

    def remove(self, offset: int) -> None:
        self._other.discard(offset)
        super().remove(offset)

    def _let_go(self, offset: int, held: frozenset[int]) -> None:
        for code in held:
            posting = self._postings[code]
            posting.discard(offset)
            if not posting:
                del self._postings[code]

    def postings(self) -> tuple[Vocabulary, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Every (value, offset) pair held, as columns: the distinct values, and for each pair
        its value's position in them and its offset (a point once per distinct value). Rebuilt
        lazily after writes, so counting over a mask is numpy, not a loop over values."""
        if self._columns is None:
            base = self._base
            live = ~self._dead[base.offsets]
            new_codes, new_offsets = self._pairs_since()
            self._columns = (
                self._values,
                np.concatenate([base.codes[live], new_codes]),
                np.concatenate([base.offsets[live], new_offsets]),
            )
        return self._columns

    def _takes(self, kind: type, values: Iterable[object]) -> bool:
        return kind is self._value_type and all(self._accepts(v) for v in values)

    def mask(self, condition: Condition, size: int) -> Mask | None:
        c = condition
        if isinstance(c, MatchValue) and self._accepts(c.value):
            return self._mask_of(self._known([c.value]), size)
        if isinstance(c, MatchAny) and self._takes(c.kind, c.values):
            return self._mask_of(self._known(c.values), size)
        if isinstance(c, MatchExcept) and self._takes(c.kind, c.values):
            kept = np.ones(len(self._values), dtype=np.bool_)
            kept[self._known(c.values)] = False
            out = self._mask_of(np.flatnonzero(kept), size)
            out[[o for o in self._other if o < size]] = True
            return out
        if isinstance(c, MatchPrefix) and self.schema["data_type"] == "keyword":
            return self._mask_of(self._values.prefixed(c.prefix), size)
        return None

    # ---- inside ---------------------------------------------------------------------------

    def _known(self, values: Iterable[Hashable]) -> list[int]:
        return [code for code in map(self._values.find, values) if code is not None]

    def _mask_of(self, codes: list[int] | npt.NDArray[np.int64], size: int) -> Mask:
        """The offsets below `size` holding any of `codes`: the base's slices of a few codes,
        or one pass over its pairs for many (an except, a prefix)."""
        base = self._base
        if len(codes) <= _SLICED:
            runs = [base.of_code(c) for c in codes]
            found = np.concatenate(runs) if runs else base.offsets[:0]
            found = self._live(found)
            since = [o for code in codes for o in self._postings.get(int(code), ())]
        else:
            wanted = np.zeros(len(self._values), dtype=np.bool_)
            wanted[codes] = True
            found = base.offsets[wanted[base.codes] & ~self._dead[base.offsets]]
            since = [o for code, held in self._postings.items() if wanted[code] for o in held]
        out = offsets_mask(found, size)
        out[[o for o in since if o < size]] = True
        return out

    def _pairs_since(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        held = self._held
        sizes = np.fromiter(map(len, held.values()), np.int64, len(held))
        codes = np.fromiter(
            itertools.chain.from_iterable(held.values()), np.int64, int(sizes.sum())
        )
        offsets = np.repeat(np.fromiter(held, np.int64, len(held)), sizes)
        return codes, offsets

    def settle(self) -> None:
        super().settle()
        self._sort_values()

    def _merge(self) -> None:
        """One base of every pair held; nothing since."""
        codes, offsets = self.postings()[1:]
        self._base = Postings.of(codes, offsets, len(self._values))
        self._postings = {}
        self._merged(offsets)

    def _sort_values(self) -> None:
        """Sorts the values seen since in among the others (nothing held: merged before), at
        `settle` and to save; not at each merge, so that a bulk of new values is sorted once."""
        base = self._base
        renumbered = self._values.merge(base.codes)
        if renumbered is not None:
            self._base = Postings.of(renumbered[base.codes], base.offsets, len(self._values))
            self._changed()

    def _state(self) -> State:
        self._sort_values()
        base, other = self._base, np.array(sorted(self._other), dtype=np.int64)
        arrays = {"codes": base.codes, "offsets": base.offsets, "starts": base.starts}
        return {}, {**arrays, **self._values.state(), "other": other}

    def restore(self, facts: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]]) -> None:
        codes = arrays["codes"]
        if "values" in facts:  # written before values were arrays: a list, coded in order
            self._values, renumbered = Vocabulary.of(self._value_type, facts["values"])
            codes = renumbered[codes]
            self._base = Postings.of(codes, arrays["offsets"], len(self._values))
        else:
            self._values.restore(arrays)
            self._base = Postings(codes, arrays["offsets"], arrays["starts"])
        self._other = set(arrays["other"].tolist())
        self._merged(self._base.offsets)

    def _changed(self) -> None:
        super()._changed()
        self._columns = None


MERGE_AT = 4096  # points written since an index's arrays before merging (or a quarter of them)
_SLICED = 64  # codes looked up one slice each; more: one pass over every pair


def merge_due(since: int, merged: int) -> bool:
    """Whether an index's points written since its arrays are to be merged into them."""
    return since > max(MERGE_AT, merged // 4)


class Postings(NamedTuple):
    """(code, offset) pairs, each once, sorted by code and then offset: code c's offsets are
    offsets[starts[c]:starts[c + 1]], ascending."""

    codes: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int64]
    starts: npt.NDArray[np.int64]

    @classmethod
    def empty(cls) -> Postings:
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none, np.zeros(1, dtype=np.int64))

    @classmethod
    def of(cls, codes: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64], n: int) -> Postings:
        """Of distinct pairs in any order, for codes below n."""
        order = np.lexsort((offsets, codes))
        codes, offsets = codes[order], offsets[order]
        return cls(codes, offsets, np.searchsorted(codes, np.arange(n + 1)).astype(np.int64))

    def of_code(self, code: int) -> npt.NDArray[np.int64]:
        if code + 1 >= len(self.starts):
            return self.offsets[:0]
        return self.offsets[self.starts[code] : self.starts[code + 1]]


class SortedIndex(Layered):
    """Numbers in arrays sorted by value (a range is one slice, found by binary search); the
    points written since held (offset -> values) and sorted lazily for a query."""

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
        self._base: Ordering = (np.zeros(0, dtype), np.zeros(0, np.int64))
        self._since: Ordering | None = None  # what is held, sorted, once asked for
        self._ordered: Ordering | None = None

    def values_of(self, payload: Payload) -> list[Any] | None:
        return [v for v in values_at(payload, self.key) if self._extract(v) is not None]

    def add(self, offset: int, payload: Payload) -> None:
        self.remove(offset)
        found = [self._extract(v) for v in values_at(payload, self.key)]
        kept = [x for x in found if x is not None]
        if kept:
            self._hold(offset, kept, len(self._base[0]))

    def mask(self, condition: Condition, size: int) -> Mask | None:
        if not isinstance(condition, self._answers):
            return None
        base_values, base_offsets = self._base
        found = base_offsets[_within(base_values, condition.bounds)]
        out = offsets_mask(self._live(found), size)
        since_values, since_offsets = self._sorted_since()
        out |= offsets_mask(since_offsets[_within(since_values, condition.bounds)], size)
        return out

    def ordering(self) -> Ordering | None:
        if self._ordered is None:
            base_values, base_offsets = self._base
            live = ~self._dead[base_offsets]
            since_values, since_offsets = self._sorted_since()
            values = np.concatenate([base_values[live], since_values])
            offsets = np.concatenate([base_offsets[live], since_offsets])
            order = np.argsort(values, kind="stable")
            self._ordered = values[order], offsets[order]
        return self._ordered

    def _sorted_since(self) -> Ordering:
        if self._since is None:
            held = self._held
            n = sum(len(xs) for xs in held.values())
            values = np.fromiter(itertools.chain.from_iterable(held.values()), self._dtype, n)
            offsets = np.repeat(
                np.fromiter(held.keys(), np.int64, len(held)),
                np.fromiter((len(xs) for xs in held.values()), np.int64, len(held)),
            )
            order = np.argsort(values, kind="stable")
            self._since = values[order], offsets[order]
        return self._since

    def _merge(self) -> None:
        self._base = self.ordering()  # type: ignore[assignment]
        self._merged(self._base[1])

    def _state(self) -> State:
        return {}, {"values": self._base[0], "offsets": self._base[1]}

    def restore(self, facts: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]]) -> None:
        self._base = arrays["values"], arrays["offsets"]
        self._merged(self._base[1])

    def _changed(self) -> None:
        super()._changed()
        self._since = self._ordered = None


def _within(values: npt.NDArray[Any], b: Interval) -> slice:
    """The slice of sorted `values` inside the bounds."""
    lo, hi = 0, len(values)
    if b.gte is not None:
        lo = max(lo, int(np.searchsorted(values, b.gte, "left")))
    if b.gt is not None:
        lo = max(lo, int(np.searchsorted(values, b.gt, "right")))
    if b.lte is not None:
        hi = min(hi, int(np.searchsorted(values, b.lte, "right")))
    if b.lt is not None:
        hi = min(hi, int(np.searchsorted(values, b.lt, "left")))
    return slice(lo, max(lo, hi))


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
            vocabulary, codes, offsets = self._lookup.postings()
            as_i64, fits = vocabulary.integers()
            wanted = fits[codes]
            values, offsets = as_i64[codes[wanted]], offsets[wanted]
            order = np.argsort(values, kind="stable")
            self._ordered = values[order], offsets[order]
        return self._ordered

    def count(self) -> int:
        return self._lookup.count()

    def settle(self) -> None:
        self._lookup.settle()
        self._range.settle()

    def state(self) -> State:
        (lookup, lookup_arrays), (_, range_arrays) = self._lookup.state(), self._range.state()
        arrays = {f"lookup.{k}": a for k, a in lookup_arrays.items()}
        return lookup, {**arrays, **{f"range.{k}": a for k, a in range_arrays.items()}}

    def restore(self, facts: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]]) -> None:
        for part, prefix in ((self._lookup, "lookup."), (self._range, "range.")):
            mine = {k[len(prefix) :]: a for k, a in arrays.items() if k.startswith(prefix)}
            part.restore(facts, mine)

    @property
    def lookup(self) -> MapIndex | None:
        """The exact-value part, or None when the schema turns `lookup` off (Qdrant then has
        no map index for the key: no facets on it)."""
        return None if self.schema.get("params", {}).get("lookup") is False else self._lookup

    def mask(self, condition: Condition, size: int) -> Mask | None:
        found = self._lookup.mask(condition, size)
        return found if found is not None else self._range.mask(condition, size)


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


class GeoIndex(Layered):
    """Each offset's geo points as columns, a shape testing them all in one pass; the points
    written since held (offset -> points), as columns once asked for."""

    def __init__(self, key: str, params: Mapping[str, Any] | None) -> None:
        super().__init__(key, "geo", params)
        self._base: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] = _no_geo()
        self._since: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None = None

    def values_of(self, payload: Payload) -> list[Any] | None:
        return [v for v in values_at(payload, self.key) if geo_points([v])]

    def add(self, offset: int, payload: Payload) -> None:
        self.remove(offset)
        points = geo_points(values_at(payload, self.key))
        if points:
            self._hold(offset, points, len(self._base[1]))

    def mask(self, condition: Condition, size: int) -> Mask | None:
        if not isinstance(condition, Geo):
            return None
        out = np.zeros(size, dtype=np.bool_)
        for (lonlat, owners), live in ((self._base, True), (self._held_columns(), False)):
            inside = condition.shape.contains(lonlat[:, 0], lonlat[:, 1])
            if live:
                inside &= ~self._dead[owners]
            out |= offsets_mask(owners[inside], size)
        return out

    def _held_columns(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        if self._since is None:  # rebuilt after writes, on the next geo query
            held = self._held
            self._since = (
                np.array([p for ps in held.values() for p in ps], dtype=np.float64).reshape(-1, 2),
                np.array([o for o, ps in held.items() for _ in ps], dtype=np.int64),
            )
        return self._since

    def _merge(self) -> None:
        (lonlat, owners), (more, theirs) = self._base, self._held_columns()
        live = ~self._dead[owners]
        self._base = np.concatenate([lonlat[live], more]), np.concatenate([owners[live], theirs])
        self._merged(self._base[1])

    def _state(self) -> State:
        return {}, {"lonlat": self._base[0], "owners": self._base[1]}

    def restore(self, facts: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]]) -> None:
        self._base = arrays["lonlat"], arrays["owners"]
        self._merged(self._base[1])

    def _changed(self) -> None:
        super()._changed()
        self._since = None


def _no_geo() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    return np.zeros((0, 2), dtype=np.float64), np.zeros(0, dtype=np.int64)


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
