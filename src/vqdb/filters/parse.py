"""Qdrant filter JSON (plain dicts and lists) to the immutable AST of conditions.py.

Every error is a ValueError "bad filter: <where>: <what>", where <where> is the place in the
request (`must[1].range`). Keys whose value is None count as absent, so the full key set that
pydantic's model_dump() writes parses like the JSON the server receives.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NoReturn

from vqdb.errors import coded, invalid
from vqdb.filters.conditions import (
    Condition,
    DatetimeRange,
    Filter,
    HasId,
    HasVector,
    Interval,
    IsEmpty,
    IsNull,
    MatchAny,
    MatchExcept,
    MatchPrefix,
    MatchText,
    MatchValue,
    MinShould,
    Nested,
    PointId,
    Range,
    Slice,
    ValuesCount,
    is_int,
    is_number,
)
from vqdb.filters.datetimes import to_micros
from vqdb.filters.geo import Geo, parse_shape
from vqdb.filters.paths import parse_path

_CLAUSES = ("must", "should", "must_not", "min_should")
_GEO_KINDS = ("geo_bounding_box", "geo_radius", "geo_polygon")
_FIELD_KINDS = ("match", "range", "values_count", "is_empty", "is_null", *_GEO_KINDS)
_BOUNDS = ("lt", "gt", "gte", "lte")
_TEXT_MODES: dict[str, Literal["text", "text_any", "phrase"]] = {
    "text": "text",
    "text_any": "text_any",
    "phrase": "phrase",
}


def parse_filter(obj: Mapping[str, Any] | None, root: str = "") -> Filter | None:
    """The filter, or None when it matches everything (None or {}). `root`: its place in the
    request (`filter`), for the messages."""
    if obj is None:
        return None
    parsed = _filter(obj, root, nested=False)
    return None if parsed == Filter() else parsed


def _fail(where: str, message: str) -> NoReturn:
    raise ValueError(f"bad filter: {where}: {message}" if where else f"bad filter: {message}")


def _join(where: str, step: str) -> str:
    return f"{where}.{step}" if where else step


def _present(obj: object, where: str, what: str) -> dict[str, Any]:
    if not isinstance(obj, Mapping):
        _fail(where, f"{what} must be an object, got {obj!r}")
    return {k: v for k, v in obj.items() if v is not None}


def _filter(obj: object, where: str, nested: bool) -> Filter:
    fields = _present(obj, where, "a filter")
    unknown = sorted(set(fields) - set(_CLAUSES))
    if unknown:
        _fail(where, f"unknown filter keys {unknown}")
    min_should = None
    if "min_should" in fields:
        here = _join(where, "min_should")
        spec = _present(fields["min_should"], here, "min_should")
        if set(spec) != {"conditions", "min_count"}:
            _fail(here, "min_should takes exactly 'conditions' and 'min_count'")
        count = spec["min_count"]
        if not is_int(count) or count < 1:
            _fail(here, f"'min_count' must be an integer >= 1, got {count!r}")
        conditions = _clause(spec["conditions"], _join(here, "conditions"), nested)
        min_should = MinShould(conditions, count)
    return Filter(
        must=_clause(fields.get("must", ()), _join(where, "must"), nested),
        should=_clause(fields["should"], _join(where, "should"), nested)
        if "should" in fields
        else None,
        must_not=_clause(fields.get("must_not", ()), _join(where, "must_not"), nested),
        min_should=min_should,
    )


def _clause(obj: object, where: str, nested: bool) -> tuple[Condition, ...]:
    if isinstance(obj, Mapping):  # one condition instead of a list
        return (_condition(obj, where, nested),)
    if isinstance(obj, Sequence) and not isinstance(obj, str):
        return tuple(_condition(c, f"{where}[{i}]", nested) for i, c in enumerate(obj))
    _fail(where, f"expected a condition or a list of conditions, got {obj!r}")


def _condition(obj: object, where: str, nested: bool) -> Condition:
    fields = _present(obj, where, "a condition")
    if "key" in fields:
        return _field_condition(fields, where)
    for name in ("is_empty", "is_null", "has_id", "has_vector", "slice", "nested"):
        if name not in fields:
            continue
        if len(fields) > 1:
            _fail(where, f"unknown condition keys {sorted(set(fields) - {name})}")
        if nested and name in ("has_id", "has_vector"):
            _fail(where, f"{name} is not supported inside a nested filter")
        here, value = _join(where, name), fields[name]
        if name == "is_empty":
            return IsEmpty(_key_of(value, here))
        if name == "is_null":
            return IsNull(_key_of(value, here))
        if name == "has_id":
            return HasId(_ids(value, here))
        if name == "has_vector":
            return HasVector(_string(value, here, "a vector name"))
        if name == "slice":
            return _slice(value, here)
        return _nested(value, here)
    if set(fields) <= set(_CLAUSES):
        return _filter(fields, where, nested)
    _fail(where, f"unknown condition keys {sorted(set(fields) - set(_CLAUSES))}")


def _slice(value: Any, where: str) -> Slice:
    fields = _present(value, where, "a slice")
    if set(fields) != {"total", "index"}:
        _fail(where, "a slice takes exactly 'total' and 'index'")
    total, index = fields["total"], fields["index"]
    if not is_int(total) or not 1 <= total < 2**32:
        _fail(_join(where, "total"), f"expected an integer from 1 to 2^32 - 1, got {total!r}")
    if not is_int(index) or not 0 <= index < 2**32:
        _fail(_join(where, "index"), f"expected an integer from 0 to 2^32 - 1, got {index!r}")
    if index >= total:  # well-formed: Qdrant's validator refuses it (422)
        raise invalid(where, coded("Slice index must be less than the total number of slices"))
    return Slice(total, index)


def _field_condition(fields: dict[str, Any], where: str) -> Condition:
    key = _key(fields["key"], _join(where, "key"))
    unknown = sorted(set(fields) - {"key", *_FIELD_KINDS})
    if unknown:
        _fail(where, f"unknown condition keys {unknown}")
    kinds = [k for k in _FIELD_KINDS if k in fields]
    if not kinds:  # well-formed JSON that Qdrant's validator refuses (422)
        raise invalid(where, "At least one field condition must be specified")
    if len(kinds) != 1:
        _fail(where, f"a field condition takes exactly one of {list(_FIELD_KINDS)}, got {kinds}")
    kind = kinds[0]
    here = _join(where, kind)
    value = fields[kind]
    if kind == "match":
        return _match(key, value, here)
    if kind == "range":
        return _range(key, value, here)
    if kind == "values_count":
        return ValuesCount(key, _bounds(value, here, _count, "a non-negative integer"))
    if kind in _GEO_KINDS:
        try:
            return Geo(key, parse_shape(kind, value, here))
        except ValueError as e:
            _fail("", str(e))
    if not isinstance(value, bool):
        _fail(here, f"must be true or false, got {value!r}")
    leaf = IsEmpty(key) if kind == "is_empty" else IsNull(key)
    return leaf if value else Filter(must_not=(leaf,))


def _match(key: str, obj: object, where: str) -> Condition:
    fields = _present(obj, where, "match")
    if "except_" in fields:  # pydantic's field name for the "except" alias
        fields["except"] = fields.pop("except_")
    if len(fields) != 1:
        _fail(where, f"match takes exactly one key, got {sorted(fields)}")
    ((name, value),) = fields.items()
    here = _join(where, name)
    if name == "value":
        if not isinstance(value, str | int):  # bool is an int
            _fail(here, f"must be a string, integer or boolean, got {value!r}")
        return MatchValue(key, value)
    if name in ("any", "except"):
        values, kind = _any_list(value, here)
        return MatchAny(key, values, kind) if name == "any" else MatchExcept(key, values, kind)
    text = _string(value, here, "a string")
    if name == "prefix":
        return MatchPrefix(key, text)
    if name in _TEXT_MODES:
        return MatchText(key, text, _TEXT_MODES[name])
    _fail(where, f"unknown match kind {name!r}")


def _any_list(obj: object, where: str) -> tuple[frozenset[str | int], type[str] | type[int]]:
    if not isinstance(obj, Sequence) or isinstance(obj, str):
        _fail(where, f"must be a list of strings or of integers, got {obj!r}")
    if all(isinstance(v, str) for v in obj):
        return frozenset(obj), str
    if all(is_int(v) for v in obj):
        return frozenset(obj), int
    _fail(where, f"must be a list of strings or of integers (not mixed), got {list(obj)!r}")


def _range(key: str, obj: object, where: str) -> Condition:
    fields = _present(obj, where, "range")
    # A bound that reads as a datetime makes it a DatetimeRange (Qdrant's RangeInterface).
    if any(not isinstance(v, int | float) and to_micros(v) is not None for v in fields.values()):
        return DatetimeRange(key, _bounds(fields, where, to_micros, "an RFC 3339 datetime"))
    return Range(key, _bounds(fields, where, _number, "a number"))


def _number(v: object) -> float | None:
    return float(v) if is_number(v) and not math.isnan(v) else None  # type: ignore[arg-type]


def _count(v: object) -> int | None:
    return v if is_int(v) and v >= 0 else None  # type: ignore[return-value,operator]


def _bounds(obj: object, where: str, convert: Any, expected: str) -> Interval:
    fields = _present(obj, where, "a range")
    unknown = sorted(set(fields) - set(_BOUNDS))
    if unknown:
        _fail(where, f"unknown range keys {unknown}")
    bounds: dict[str, float] = {}
    for name, raw in fields.items():
        value = convert(raw)
        if value is None:
            _fail(where, f"{name!r} must be {expected}, got {raw!r}")
        bounds[name] = value
    return Interval(**bounds)


def _ids(obj: object, where: str) -> frozenset[PointId]:
    if not isinstance(obj, Sequence) or isinstance(obj, str):
        _fail(where, f"must be a list of point ids, got {obj!r}")
    return frozenset(_point_id(v, f"{where}[{i}]") for i, v in enumerate(obj))


def _point_id(v: object, where: str) -> PointId:
    if is_int(v) and v >= 0:  # type: ignore[operator]
        return v  # type: ignore[return-value]
    try:
        if isinstance(v, uuid.UUID):
            return str(v)
        if isinstance(v, str):
            return str(uuid.UUID(v))
    except ValueError:
        pass
    _fail(where, f"must be a non-negative integer or a UUID, got {v!r}")


def _nested(obj: object, where: str) -> Nested:
    fields = _present(obj, where, "nested")
    if set(fields) != {"key", "filter"}:
        _fail(where, f"nested takes exactly 'key' and 'filter', got {sorted(fields)}")
    key = _key(fields["key"], _join(where, "key"))
    return Nested(key, _filter(fields["filter"], _join(where, "filter"), nested=True))


def _key_of(obj: object, where: str) -> str:
    fields = _present(obj, where, "a payload field")
    if set(fields) != {"key"}:
        _fail(where, f"expected {{'key': ...}}, got keys {sorted(fields)}")
    return _key(fields["key"], _join(where, "key"))


def _key(obj: object, where: str) -> str:
    key = _string(obj, where, "a key path")
    try:
        parse_path(key)
    except ValueError as e:
        _fail(where, str(e))
    return key


def _string(obj: object, where: str, what: str) -> str:
    if not isinstance(obj, str):
        _fail(where, f"must be {what}, got {obj!r}")
    return obj
