"""The filter AST: immutable conditions, each able to test one payload.

`test` is the scan path and the definition of what a condition means; payload indexes must
answer exactly the same (text conditions excepted, see MatchText). Matching is type-strict,
as in Qdrant: 1 never equals "1" or True, and 1.0 is a float, not the integer 1. A condition
on a field holding an array holds when any element does.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic_core import to_json

from vqdb.filters.datetimes import parse_datetime
from vqdb.filters.geo import Geo
from vqdb.filters.paths import raw_values, values_at

if TYPE_CHECKING:
    from vqdb.filters.points import Points

Payload = Mapping[str, Any] | None
PointId = int | str  # ids are non-negative ints or canonical (lowercase, hyphenated) UUIDs
Mask = npt.NDArray[np.bool_]
Value = str | int | bool
MAX_NEEDLES = 16  # values of a MatchAny looked for in a stored payload's text


def is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def as_float(v: float) -> float:
    """Numbers compare as float64, as Qdrant does; ints too large for a float become +-inf."""
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def number_of(v: object) -> float | None:
    """The float a value ranges as, or None for non-numbers and NaN (never in any range)."""
    if not is_number(v):
        return None
    x = as_float(v)  # type: ignore[arg-type]
    return None if math.isnan(x) else x


def same_value(stored: object, wanted: Value) -> bool:
    """Type-strict equality (bool is an int subclass in Python, but not in JSON)."""
    if isinstance(wanted, bool):
        return isinstance(stored, bool) and stored == wanted
    if isinstance(wanted, int):
        return is_int(stored) and stored == wanted
    return isinstance(stored, str) and stored == wanted


@dataclass(frozen=True, slots=True)
class Interval:
    """lt / gt / gte / lte bounds; absent bounds do not constrain."""

    lt: float | None = None
    gt: float | None = None
    gte: float | None = None
    lte: float | None = None

    def contains(self, x: float) -> bool:
        return (
            (self.lt is None or x < self.lt)
            and (self.gt is None or x > self.gt)
            and (self.gte is None or x >= self.gte)
            and (self.lte is None or x <= self.lte)
        )


@dataclass(frozen=True, slots=True)
class MatchValue:
    key: str
    value: Value

    def test(self, payload: Payload) -> bool:
        return any(same_value(v, self.value) for v in values_at(payload, self.key))

    def needles(self) -> tuple[bytes, ...]:
        """JSON texts one of which a payload's compact JSON holds wherever `test` holds."""
        return (to_json(self.value),)


@dataclass(frozen=True, slots=True)
class MatchAny:
    """Some value is in `values` (all str or all int; `kind` says which)."""

    key: str
    values: frozenset[str | int]
    kind: type[str] | type[int]

    def accepts(self, v: object) -> bool:
        return isinstance(v, str) if self.kind is str else is_int(v)

    def test(self, payload: Payload) -> bool:
        return any(self.accepts(v) and v in self.values for v in values_at(payload, self.key))

    def needles(self) -> tuple[bytes, ...]:
        """As MatchValue's; none (no test by text) for more values than are worth a search."""
        return tuple(map(to_json, self.values)) if len(self.values) <= MAX_NEEDLES else ()


@dataclass(frozen=True, slots=True)
class MatchExcept:
    """Some value is not in `values`. Qdrant's rule, per value: null never counts, a value of
    another type (or an object, or a nested array) always counts. So a missing field, null
    and [] do not match; ["a", "b"] matches except ["a"]. Use must_not + any for "none of"."""

    key: str
    values: frozenset[str | int]
    kind: type[str] | type[int]

    def counts(self, v: object) -> bool:
        if v is None:
            return False
        accepted = isinstance(v, str) if self.kind is str else is_int(v)
        return not accepted or v not in self.values

    def test(self, payload: Payload) -> bool:
        return any(self.counts(v) for v in values_at(payload, self.key))


@dataclass(frozen=True, slots=True)
class MatchText:
    """Full-text match. Without a text index Qdrant matches substrings (case-sensitive):
    text and phrase = the whole query is a substring, text_any = one whitespace-separated
    word of the query is. A text index matches tokens instead (see TextIndex)."""

    key: str
    text: str
    mode: Literal["text", "text_any", "phrase"]

    def test(self, payload: Payload) -> bool:
        words = self.text.split() if self.mode == "text_any" else [self.text]
        return any(
            isinstance(v, str) and any(w in v for w in words) for v in values_at(payload, self.key)
        )


@dataclass(frozen=True, slots=True)
class MatchPrefix:
    key: str
    prefix: str

    def test(self, payload: Payload) -> bool:
        return any(
            isinstance(v, str) and v.startswith(self.prefix) for v in values_at(payload, self.key)
        )


@dataclass(frozen=True, slots=True)
class Range:
    """Numeric range; ints and floats compare as float64, other values are ignored."""

    key: str
    bounds: Interval

    def test(self, payload: Payload) -> bool:
        for v in values_at(payload, self.key):
            x = number_of(v)
            if x is not None and self.bounds.contains(x):
                return True
        return False


@dataclass(frozen=True, slots=True)
class DatetimeRange:
    """Range over instants (bounds in microseconds); values that are not datetime strings
    are ignored."""

    key: str
    bounds: Interval

    def test(self, payload: Payload) -> bool:
        for v in values_at(payload, self.key):
            t = parse_datetime(v) if isinstance(v, str) else None
            if t is not None and self.bounds.contains(t):
                return True
        return False


@dataclass(frozen=True, slots=True)
class ValuesCount:
    """How many values the field holds: an array counts its elements, null counts 0, any other
    value 1. Each value the path reaches is counted on its own, and one in bounds is enough
    (Qdrant's check_count_from per value: `a[].b` over [{"b": 1}, {"b": 2}] is two values of
    count 1, not one of 2). A missing field counts 0, as in Qdrant 1.19 (issue 9586; earlier
    versions never matched it)."""

    key: str
    bounds: Interval

    def test(self, payload: Payload) -> bool:
        values = raw_values(payload, self.key)
        if not values:
            return self.bounds.contains(0)
        return any(self.bounds.contains(_count_of(v)) for v in values)


def _count_of(value: object) -> int:
    return len(value) if isinstance(value, list) else int(value is not None)


@dataclass(frozen=True, slots=True)
class IsEmpty:
    """The field is missing, null or [] (every value the path reaches is)."""

    key: str

    def test(self, payload: Payload) -> bool:
        return all(v is None or v == [] for v in raw_values(payload, self.key))


@dataclass(frozen=True, slots=True)
class IsNull:
    """The field is present and null ([null] is an array, not null)."""

    key: str

    def test(self, payload: Payload) -> bool:
        return any(v is None for v in raw_values(payload, self.key))


@dataclass(frozen=True, slots=True)
class HasId:
    ids: frozenset[PointId]


@dataclass(frozen=True, slots=True)
class HasVector:
    name: str


@dataclass(frozen=True, slots=True)
class Slice:
    """The points whose id hashes to `index` modulo `total` (see slices.py)."""

    total: int
    index: int

    def holds_for(self, point_id: PointId) -> bool:
        from vqdb.filters.slices import slice_mask

        num = isinstance(point_id, int)
        columns = (
            np.array([point_id] if num else [], dtype=np.uint64),
            np.zeros(int(num), dtype=np.int64),
            np.array([] if num else [uuid.UUID(str(point_id)).bytes], dtype="S16"),
            np.zeros(int(not num), dtype=np.int64),
        )
        return bool(slice_mask(self.total, self.index, columns, 1)[0])


@dataclass(frozen=True, slots=True)
class Nested:
    """`filter` holds for one object element of the array at `key`, its keys relative to it.
    As in Qdrant the path is read as `key[]`: a lone object at `key` is not an array."""

    key: str
    filter: Filter

    def test(self, payload: Payload) -> bool:
        elements = raw_values(payload, self.key if self.key.endswith("[]") else self.key + "[]")
        return any(isinstance(e, Mapping) and self.filter.matches(e) for e in elements)


@dataclass(frozen=True, slots=True)
class MinShould:
    conditions: tuple[Condition, ...]
    min_count: int


FieldCondition = (
    MatchValue | MatchAny | MatchExcept | MatchText | MatchPrefix | Range | DatetimeRange | Geo
)
FIELD_CONDITIONS = (
    MatchValue,
    MatchAny,
    MatchExcept,
    MatchText,
    MatchPrefix,
    Range,
    DatetimeRange,
    Geo,
)


@dataclass(frozen=True, slots=True)
class Filter:
    """must = all of, should = at least one of, must_not = none of, min_should = at least
    min_count of. `should=None` means no should clause; an empty should list matches nothing
    (Qdrant: "any of no conditions" is false), while empty must / must_not match everything."""

    must: tuple[Condition, ...] = ()
    should: tuple[Condition, ...] | None = None
    must_not: tuple[Condition, ...] = ()
    min_should: MinShould | None = None

    def matches(
        self,
        payload: Payload,
        point_id: PointId | None = None,
        vectors: Collection[str] = (),
    ) -> bool:
        """Tests one point by its payload (and, for has_id / has_vector, its id in canonical
        form and the names of the vectors it has)."""

        def holds(c: Condition) -> bool:
            if isinstance(c, Filter):
                return c.matches(payload, point_id, vectors)
            if isinstance(c, HasId):
                return point_id in c.ids
            if isinstance(c, HasVector):
                return c.name in vectors
            if isinstance(c, Slice):
                return point_id is not None and c.holds_for(point_id)
            return c.test(payload)

        if not all(holds(c) for c in self.must):
            return False
        if self.should is not None and not any(holds(c) for c in self.should):
            return False
        if any(holds(c) for c in self.must_not):
            return False
        if self.min_should is not None:
            hits = sum(holds(c) for c in self.min_should.conditions)
            return hits >= self.min_should.min_count
        return True

    def mask(self, points: Points) -> Mask:
        """Which offsets of `points` match, as a bool array of length points.size."""
        from vqdb.filters.evaluate import evaluate

        return evaluate(self, points)


# Defined after Filter so that the alias can name it without a string forward reference.
Condition = (
    FieldCondition | ValuesCount | IsEmpty | IsNull | HasId | HasVector | Slice | Nested | Filter
)
