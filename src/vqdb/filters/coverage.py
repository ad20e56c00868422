"""Which payload indexes a filter needs, and how big it is, by Qdrant's rules (its
unindexed_field.rs and Filter's condition counts): the conditions an index kind answers, the
first key a filter uses without such an index, a filter's condition count and its largest
condition. Strict mode refuses requests by these; a schema is an index as created ("keyword",
or {"type": "integer", "lookup": false, ...})."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from vqdb.filters.conditions import (
    DatetimeRange,
    Filter,
    HasId,
    IsEmpty,
    IsNull,
    MatchAny,
    MatchExcept,
    MatchPrefix,
    MatchText,
    MatchValue,
    Nested,
    Range,
    ValuesCount,
)
from vqdb.filters.geo import Geo


def conditions_of(f: Filter) -> Iterator[Any]:
    """Qdrant's Filter::iter_conditions: must, must_not, should, min_should."""
    yield from f.must
    yield from f.must_not
    yield from f.should or ()
    if f.min_should is not None:
        yield from f.min_should.conditions


def conditions_count(f: Filter) -> int:
    """Qdrant's total_conditions_count: leaves, counting those of nested filters."""
    return sum(
        conditions_count(c.filter if isinstance(c, Nested) else c)
        if isinstance(c, (Filter, Nested))
        else 1
        for c in conditions_of(f)
    )


def max_condition_size(f: Filter) -> int:
    """Qdrant's max_condition_input_size: the longest `any` / `except` / `has_id` list."""
    return max((_condition_size(c) for c in conditions_of(f)), default=0)


def _condition_size(c: Any) -> int:
    if isinstance(c, (MatchAny, MatchExcept)):
        return len(c.values)
    if isinstance(c, HasId):
        return len(c.ids)
    if isinstance(c, Filter):
        return max_condition_size(c)
    if isinstance(c, Nested):
        return max_condition_size(c.filter)
    return 0


ALL_KINDS = [
    "int_match",
    "int_range",
    "keyword_match",
    "keyword_prefix",
    "float_range",
    "text",
    "text_phrase",
    "bool_match",
    "uuid_match",
    "uuid_range",
    "datetime_range",
    "geo",
]
_KIND_NAMES = {
    "int_match": "integer",
    "int_range": "integer",
    "keyword_match": "keyword",
    "keyword_prefix": "keyword (with prefix: true)",
    "float_range": "float",
    "text": "text",
    "text_phrase": "text (with phrase_matching: true)",
    "bool_match": "bool",
    "uuid_match": "uuid",
    "uuid_range": "uuid",
    "datetime_range": "datetime",
    "geo": "geo",
}


def kind_names(kinds: Sequence[str]) -> str:
    return ", ".join(sorted({_KIND_NAMES[k] for k in kinds}))


def unindexed_key(schema: Mapping[str, Any], f: Filter) -> tuple[str, list[str]] | None:
    """The first key `f` filters on without an index that serves its condition, with the index
    kinds that would (Qdrant's one_unindexed_key); None when every key has one."""
    return next(unindexed_keys(schema, f, None), None)


def unindexed_keys(
    schema: Mapping[str, Any], f: Filter, prefix: str | None
) -> Iterator[tuple[str, list[str]]]:
    for c in conditions_of(f):
        if isinstance(c, Filter):
            yield from unindexed_keys(schema, c, prefix)
            continue
        if isinstance(c, Nested):
            yield from unindexed_keys(schema, c.filter, _joined(prefix, array_key(c.key)))
            continue
        key = getattr(c, "key", None)
        needed = needed_kinds(c)
        if key is None or not needed:
            continue
        full = _joined(prefix, key)
        if needs_index(schema, full, needed):
            yield full, needed


def _joined(prefix: str | None, key: str) -> str:
    return key if prefix is None else f"{prefix}.{key}"


def array_key(key: str) -> str:
    return key if key.endswith("[]") else key + "[]"


def needed_kinds(c: Any) -> list[str]:
    """The index kinds that can answer a condition (any one of them will do)."""
    if isinstance(c, MatchValue):
        if isinstance(c.value, bool):
            return ["bool_match"]
        if isinstance(c.value, int):
            return ["int_match"]
        return (["uuid_match"] if _is_uuid(c.value) else []) + ["keyword_match"]
    if isinstance(c, (MatchAny, MatchExcept)):
        if not c.values:
            return []
        if c.kind is int:
            return ["int_match"]
        uuids = all(_is_uuid(str(v)) for v in c.values)
        return (["uuid_match"] if uuids else []) + ["keyword_match"]
    if isinstance(c, MatchText):
        return ["text_phrase"] if c.mode == "phrase" else ["text"]
    if isinstance(c, MatchPrefix):
        return ["keyword_prefix"]
    if isinstance(c, Range):
        return ["float_range", "int_range"]
    if isinstance(c, DatetimeRange):
        return ["datetime_range"]
    if isinstance(c, Geo):
        return ["geo"]
    if isinstance(c, (ValuesCount, IsEmpty, IsNull)):
        return list(ALL_KINDS)
    return []  # has_id, has_vector, slice: answered without payload


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def needs_index(schema: Mapping[str, Any], key: str, needed: Sequence[str]) -> bool:
    given = schema.get(key)
    return given is None or not set(needed) & capabilities(given)


def schema_kind(given: Any) -> tuple[str, Mapping[str, Any]]:
    if isinstance(given, str):
        return given, {}
    if isinstance(given, Mapping):
        return str(given.get("type")), given
    return "", {}


def capabilities(given: Any) -> set[str]:
    """The conditions a payload index (its schema as created) answers."""
    kind, params = schema_kind(given)
    if kind == "keyword":
        return {"keyword_match", "keyword_prefix"} if params.get("prefix") else {"keyword_match"}
    if kind == "integer":
        lookup = {"int_match"} if params.get("lookup", True) is not False else set()
        return lookup | ({"int_range"} if params.get("range", True) is not False else set())
    if kind == "text":
        return {"text", "text_phrase"} if params.get("phrase_matching") else {"text"}
    return {
        "uuid": {"uuid_match", "uuid_range"},
        "bool": {"bool_match"},
        "float": {"float_range"},
        "geo": {"geo"},
        "datetime": {"datetime_range"},
    }.get(kind, set())
