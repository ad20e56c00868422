"""Random payloads x random filters: the mask with an index on every key, the mask by payload
scan and a tiny reference evaluator written here from the documented semantics all agree."""

from __future__ import annotations

import math
from typing import Any

from filter_fakes import FakePoints
from hypothesis import given, settings
from hypothesis import strategies as st

from vqdb.filters import parse_filter

KEYS = ["a", "b", "c"]
STRINGS = ["x", "y", "550e8400-e29b-41d4-a716-446655440000", "2023-02-08T10:00:00Z", "2023-02-09"]
DATES = ["2023-02-08T09:00:00Z", "2023-02-08T10:00:00+01:00", "2023-02-08 12:00:00"]
INDEX_TYPES = ["keyword", "integer", "float", "bool", "datetime", "uuid"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 3),
    st.sampled_from([0.0, 1.0, 1.5, -0.5, math.inf]),
    st.sampled_from(STRINGS + DATES),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3))
objects = st.fixed_dictionaries({}, optional={k: values for k in KEYS})
documents = st.fixed_dictionaries(
    {},
    optional={
        **{k: values for k in KEYS},
        "o": st.one_of(objects, values),
        "arr": st.one_of(st.lists(objects, max_size=3), objects, values),
    },
)
payloads = st.one_of(documents, documents, documents, st.none())

field_keys = st.sampled_from([*KEYS, "o.a", "arr[].b"])
bound_names = st.sets(st.sampled_from(["lt", "gt", "gte", "lte"]), min_size=1, max_size=2)


@st.composite
def bounds(draw: st.DrawFn, value: st.SearchStrategy[Any]) -> dict[str, Any]:
    return {name: draw(value) for name in draw(bound_names)}


def leaf(key: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    strs, ints = st.sampled_from(STRINGS[:3]), st.integers(-2, 3)
    lists = st.lists(strs, max_size=2) | st.lists(ints, max_size=2)

    def field(kind: str, spec: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
        return st.builds(lambda k, v: {"key": k, kind: v}, key, spec)

    return st.one_of(
        field("match", st.builds(lambda v: {"value": v}, strs | ints | st.booleans())),
        field("match", st.builds(lambda v: {"any": v}, lists)),
        field("match", st.builds(lambda v: {"except": v}, lists)),
        field("range", bounds(st.sampled_from([-1, 0, 0.5, 1, 2.5]))),
        field("range", bounds(st.sampled_from(DATES))),
        field("values_count", bounds(st.integers(0, 3))),
        st.builds(lambda k: {"is_empty": {"key": k}}, key),
        st.builds(lambda k: {"is_null": {"key": k}}, key),
    )


def filters(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    conditions = leaf(field_keys) | st.builds(lambda i: {"has_id": i}, st.lists(st.integers(0, 9)))
    conditions |= st.builds(lambda n: {"has_vector": n}, st.sampled_from(["", "img"]))
    if depth > 0:
        conditions |= filters(depth - 1)
        conditions |= st.builds(
            lambda k, f: {"nested": {"key": k, "filter": f}},
            st.sampled_from(["arr", "o"]),
            st.builds(lambda c: {"must": c}, st.lists(leaf(st.sampled_from(KEYS)), max_size=2))
            | st.just({"should": []}),
        )
    clause = st.lists(conditions, min_size=1, max_size=2)
    min_should = st.builds(
        lambda c, k: {"conditions": c, "min_count": k},
        st.lists(conditions, min_size=1, max_size=3),
        st.integers(1, 2),
    )
    clauses = {"must": clause, "should": clause, "must_not": clause, "min_should": min_should}
    # Mostly one clause (a filter with several rarely has both matching and failing points).
    single = [st.builds(lambda c, name=name: {name: c}, s) for name, s in clauses.items()]
    return st.one_of(*single, st.fixed_dictionaries({}, optional=clauses))


# The reference: written from the semantics, sharing no code with vqdb.filters.
def _raw(payload: Any, key: str) -> list[Any]:
    if key.endswith("[].b"):
        array = (payload or {}).get(key[:-4])
        items = array if isinstance(array, list) else []
        return [e["b"] for e in items if isinstance(e, dict) and "b" in e]
    node = payload
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return []
        node = node[part]
    return [node]


def _flat(payload: Any, key: str) -> list[Any]:
    return [x for v in _raw(payload, key) for x in (v if isinstance(v, list) else [v])]


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _within(x: Any, spec: dict[str, Any], convert: Any) -> bool:
    ops = {"lt": x.__lt__, "gt": x.__gt__, "gte": x.__ge__, "lte": x.__le__}
    return all(ops[name](convert(bound)) for name, bound in spec.items())


def _instant(s: Any) -> Any:
    from datetime import datetime, timezone

    if not isinstance(s, str):
        return None
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _field(c: dict[str, Any], payload: Any) -> bool:
    key, flat = c["key"], _flat(payload, c["key"])
    if "match" in c:
        m = c["match"]
        if "value" in m:
            return any(_same(v, m["value"]) for v in flat)
        if "any" in m:
            return any(_same(v, x) for v in flat for x in m["any"])
        return any(v is not None and not any(_same(v, x) for x in m["except"]) for v in flat)
    if "values_count" in c:
        # Qdrant's check_count_from, value by value; nothing reached counts 0
        counts = [len(v) if isinstance(v, list) else int(v is not None) for v in _raw(payload, key)]
        return any(_within(n, c["values_count"], int) for n in counts or [0])
    spec = c["range"]
    if isinstance(next(iter(spec.values())), str):
        instants = [_instant(v) for v in flat]
        return any(t is not None and _within(t, spec, _instant) for t in instants)
    numbers = [v for v in flat if type(v) in (int, float) and v == v]
    return any(_within(float(v), spec, float) for v in numbers)


def _holds(c: dict[str, Any], payload: Any, point: tuple[int, set[str]]) -> bool:
    if "key" in c:
        return _field(c, payload)
    if "is_empty" in c:
        return all(v is None or v == [] for v in _raw(payload, c["is_empty"]["key"]))
    if "is_null" in c:
        return any(v is None for v in _raw(payload, c["is_null"]["key"]))
    if "has_id" in c:
        return point[0] in c["has_id"]
    if "has_vector" in c:
        return c["has_vector"] in point[1]
    if "nested" in c:
        array = (payload or {}).get(c["nested"]["key"])
        items = array if isinstance(array, list) else []
        f = c["nested"]["filter"]
        return any(isinstance(e, dict) and reference(f, e, point) for e in items)
    return reference(c, payload, point)


def reference(f: dict[str, Any], payload: Any, point: tuple[int, set[str]]) -> bool:
    ok = all(_holds(c, payload, point) for c in f.get("must", []))
    ok &= not any(_holds(c, payload, point) for c in f.get("must_not", []))
    if "should" in f:
        ok &= any(_holds(c, payload, point) for c in f["should"])
    if "min_should" in f:
        hits = sum(_holds(c, payload, point) for c in f["min_should"]["conditions"])
        ok &= hits >= f["min_should"]["min_count"]
    return ok


@settings(max_examples=300, deadline=None)
@given(
    st.lists(payloads, min_size=6, max_size=24),
    filters(depth=2),
    st.fixed_dictionaries({k: st.sampled_from(INDEX_TYPES) for k in [*KEYS, "o.a", "arr[].b"]}),
    st.data(),
)
def test_index_scan_and_reference_agree(
    docs: list[Any], obj: dict[str, Any], index_types: dict[str, str], data: st.DataObject
) -> None:
    vectors = [data.draw(st.sets(st.sampled_from(["", "img"]))) for _ in docs]
    parsed = parse_filter(obj)
    expected = [reference(obj, p, (i, vectors[i])) for i, p in enumerate(docs)]
    if parsed is None:
        assert all(expected)
        return
    scanned = parsed.mask(FakePoints(docs, vectors=vectors)).tolist()
    indexed = parsed.mask(FakePoints(docs, index_types, vectors=vectors)).tolist()
    matched = [parsed.matches(p, i, vectors[i]) for i, p in enumerate(docs)]
    assert scanned == expected
    assert indexed == expected
    assert matched == expected
