"""What each condition means, on hand-written payloads, checked three ways: Filter.matches,
Filter.mask by payload scan, and Filter.mask with an index of every type on every key (an
index must never change a result; text indexes have their own table in the index tests)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from filter_fakes import FakePoints

from vqdb.filters import parse_filter

Payload = dict[str, Any] | None
INDEX_TYPES = ["keyword", "integer", "float", "bool", "datetime", "uuid"]
UUID = "550e8400-e29b-41d4-a716-446655440000"

TABLE: list[tuple[str, dict[str, Any], list[tuple[Payload, bool]]]] = [
    (
        "match keyword",
        {"key": "c", "match": {"value": "red"}},
        [
            ({"c": "red"}, True),
            ({"c": "Red"}, False),
            ({"c": ["blue", "red"]}, True),
            ({"c": []}, False),
            ({}, False),
            (None, False),
            ({"c": None}, False),
            ({"c": [["red"]]}, False),
            ({"c": {"x": "red"}}, False),
            ({"c": " red"}, False),
        ],
    ),
    (
        "match integer",
        {"key": "n", "match": {"value": 1}},
        [
            ({"n": 1}, True),
            ({"n": 1.0}, False),
            ({"n": True}, False),
            ({"n": "1"}, False),
            ({"n": [0, 1]}, True),
            ({"n": [0, 2]}, False),
        ],
    ),
    (
        "match bool",
        {"key": "b", "match": {"value": True}},
        [
            ({"b": True}, True),
            ({"b": 1}, False),
            ({"b": [False, True]}, True),
            ({"b": "true"}, False),
            ({"b": False}, False),
        ],
    ),
    (
        "match uuid string",
        {"key": "u", "match": {"value": UUID}},
        [
            ({"u": UUID}, True),
            ({"u": UUID.upper()}, False),
            ({"u": [UUID, "x"]}, True),
        ],
    ),
    (
        "any strings",
        {"key": "k", "match": {"any": ["a", "b"]}},
        [
            ({"k": "a"}, True),
            ({"k": ["c", "b"]}, True),
            ({"k": "c"}, False),
            ({"k": 1}, False),
            ({}, False),
        ],
    ),
    (
        "any integers",
        {"key": "k", "match": {"any": [1, 2]}},
        [
            ({"k": 2}, True),
            ({"k": True}, False),
            ({"k": 2.0}, False),
            ({"k": "2"}, False),
        ],
    ),
    ("any empty", {"key": "k", "match": {"any": []}}, [({"k": "a"}, False), ({}, False)]),
    (
        "except strings",
        {"key": "k", "match": {"except": ["a", "b"]}},
        [
            ({"k": "c"}, True),
            ({"k": "a"}, False),
            ({"k": ["a", "c"]}, True),
            ({"k": ["a", "b"]}, False),
            ({}, False),
            ({"k": None}, False),
            ({"k": []}, False),
            ({"k": 1}, True),
            ({"k": True}, True),
            ({"k": {"x": 1}}, True),
            ({"k": [None]}, False),
            ({"k": [None, "z"]}, True),
            ({"k": [["a"]]}, True),
            (None, False),
        ],
    ),
    (
        "except integers",
        {"key": "k", "match": {"except": [1]}},
        [
            ({"k": 1}, False),
            ({"k": 2}, True),
            ({"k": 1.0}, True),
            ({"k": "1"}, True),
            ({"k": [1, 1]}, False),
        ],
    ),
    (
        "range",
        {"key": "x", "range": {"gte": 1, "lt": 3}},
        [
            ({"x": 1}, True),
            ({"x": 3}, False),
            ({"x": 2.5}, True),
            ({"x": [0, 5]}, False),
            ({"x": [0, 2]}, True),
            ({"x": "2"}, False),
            ({"x": True}, False),
            ({}, False),
            ({"x": 10**400}, False),
            ({"x": float("nan")}, False),
            ({"x": -(10**400)}, False),
        ],
    ),
    (
        "range open",
        {"key": "x", "range": {"gt": 0}},
        [
            ({"x": 0.5}, True),
            ({"x": 0}, False),
            ({"x": 10**400}, True),
            ({"x": float("inf")}, True),
        ],
    ),
    (
        "range empty",
        {"key": "x", "range": {}},
        [
            ({"x": 0}, True),
            ({"x": "0"}, False),
            ({"x": float("nan")}, False),
        ],
    ),
    (
        "datetime range",
        {"key": "t", "range": {"gte": "2023-02-08T10:00:00Z", "lt": "2023-02-08T12:00:00+01:00"}},
        [
            ({"t": "2023-02-08T10:49:00Z"}, True),
            ({"t": "2023-02-08 10:49:00"}, True),
            ({"t": "2023-02-08T10:49"}, True),
            ({"t": "2023-02-08T11:30:00+01:00"}, True),
            ({"t": "2023-02-08T11:30:00Z"}, False),
            ({"t": "2023-02-08T10:30:00-01:00"}, False),
            ({"t": "2023-02-08"}, False),
            ({"t": ["nope", "2023-02-08T10:30:00.5Z"]}, True),
            ({"t": "2023-02-08T10:00:00.000000Z"}, True),
            ({"t": "2023-02-08T09:59:59.999999Z"}, False),
            ({"t": 5}, False),
            ({"t": "2023-02-30T10:30:00Z"}, False),
        ],
    ),
    (
        "datetime date bound",
        {"key": "t", "range": {"lte": "2023-02-08"}},
        [
            ({"t": "2023-02-08T00:00:00Z"}, True),
            ({"t": "2023-02-08T00:00:01Z"}, False),
            ({"t": "2023-02-08T00:30:00+01:00"}, True),
        ],
    ),
    (
        "values_count gte 2",
        {"key": "v", "values_count": {"gte": 2}},
        [
            ({"v": [1, 2]}, True),
            ({"v": [1]}, False),
            ({"v": 1}, False),
            ({"v": "ab"}, False),
            ({}, False),
            ({"v": [None, None]}, True),
        ],
    ),
    (
        "values_count lt 1",
        {"key": "v", "values_count": {"lt": 1}},
        [
            ({}, True),
            (None, True),
            ({"v": None}, True),
            ({"v": []}, True),
            ({"v": [None]}, False),
            ({"v": 0}, False),
        ],
    ),
    (
        # each value the path reaches counts on its own, as in Qdrant: no sum over elements
        "values_count through []",
        {"key": "a[].b", "values_count": {"gte": 2}},
        [
            ({"a": [{"b": [1, 2]}, {"b": 3}]}, True),
            ({"a": [{"b": 1}, {"b": 2}, {"b": 3}]}, False),
            ({"a": [{"b": [1]}, {"c": 3}]}, False),
        ],
    ),
    (
        "values_count lte 1 through []",
        {"key": "a[].b", "values_count": {"lte": 1}},
        [
            ({"a": [{"b": 1}, {"b": 2}, {"b": 3}]}, True),
            ({"a": [{"b": [1, 2]}, {"b": [1, 2, 3]}]}, False),
            ({"a": [{"b": [None, None]}, {"b": None}]}, True),
        ],
    ),
    (
        "is_empty",
        {"is_empty": {"key": "e"}},
        [
            ({}, True),
            (None, True),
            ({"e": None}, True),
            ({"e": []}, True),
            ({"e": [None]}, False),
            ({"e": 0}, False),
            ({"e": ""}, False),
            ({"e": {}}, False),
            ({"e": False}, False),
        ],
    ),
    (
        "is_empty through []",
        {"is_empty": {"key": "a[].b"}},
        [
            ({"a": [{"b": None}, {"b": []}]}, True),
            ({"a": [{"b": 1}, {"b": []}]}, False),
            ({"a": []}, True),
        ],
    ),
    (
        "is_null",
        {"is_null": {"key": "e"}},
        [
            ({"e": None}, True),
            ({}, False),
            ({"e": [None]}, False),
            ({"e": []}, False),
            ({"e": 0}, False),
            (None, False),
        ],
    ),
    ("is_empty false", {"key": "e", "is_empty": False}, [({}, False), ({"e": 1}, True)]),
    ("is_null false", {"key": "e", "is_null": False}, [({"e": None}, False), ({}, True)]),
    (
        "text (no index: substring)",
        {"key": "s", "match": {"text": "ello w"}},
        [
            ({"s": "Hello world"}, True),
            ({"s": "hello World"}, False),
            ({"s": ["x", "Hello wo"]}, True),
            ({"s": 5}, False),
        ],
    ),
    (
        "text_any",
        {"key": "s", "match": {"text_any": "xyz world"}},
        [
            ({"s": "Hello world"}, True),
            ({"s": "Hello"}, False),
        ],
    ),
    (
        "phrase",
        {"key": "s", "match": {"phrase": "lo wo"}},
        [
            ({"s": "Hello world"}, True),
            ({"s": "Hello  world"}, False),
        ],
    ),
    (
        "prefix",
        {"key": "s", "match": {"prefix": "He"}},
        [
            ({"s": "Hello"}, True),
            ({"s": "hello"}, False),
            ({"s": ["a", "Hex"]}, True),
            ({"s": 5}, False),
        ],
    ),
    (
        "dotted key",
        {"key": "o.c", "match": {"value": "red"}},
        [
            ({"o": {"c": "red"}}, True),
            ({"o": [{"c": "red"}]}, False),
            ({"o.c": "red"}, False),
        ],
    ),
    (
        "projected key",
        {"key": "o[].c", "match": {"value": "red"}},
        [
            ({"o": [{"c": "blue"}, {"c": "red"}]}, True),
            ({"o": {"c": "red"}}, False),
        ],
    ),
    (
        "nested",
        {
            "nested": {
                "key": "d",
                "filter": {
                    "must": [
                        {"key": "x", "match": {"value": 1}},
                        {"key": "y", "match": {"value": "a"}},
                    ]
                },
            }
        },
        [
            ({"d": [{"x": 1, "y": "b"}, {"x": 2, "y": "a"}]}, False),
            ({"d": [{"x": 1, "y": "a"}]}, True),
            ({"d": {"x": 1, "y": "a"}}, False),
            ({"d": [1, {"x": [0, 1], "y": "a"}]}, True),
            ({}, False),
        ],
    ),
    (
        "flat conditions across elements",
        {
            "must": [
                {"key": "d[].x", "match": {"value": 1}},
                {"key": "d[].y", "match": {"value": "a"}},
            ]
        },
        [
            ({"d": [{"x": 1, "y": "b"}, {"x": 2, "y": "a"}]}, True),
        ],
    ),
    (
        "nested must_not",
        {"nested": {"key": "d", "filter": {"must_not": {"key": "x", "match": {"value": 1}}}}},
        [
            ({"d": [{"x": 1}, {"x": 2}]}, True),
            ({"d": [{"x": 1}]}, False),
            ({"d": []}, False),
        ],
    ),
    (
        "nested in nested",
        {
            "nested": {
                "key": "d",
                "filter": {
                    "must": {
                        "nested": {"key": "e", "filter": {"must": {"key": "z", "range": {"gt": 0}}}}
                    }
                },
            }
        },
        [
            ({"d": [{"e": [{"z": 0}]}, {"e": [{"z": 1}]}]}, True),
            ({"d": [{"e": [{"z": 0}]}]}, False),
        ],
    ),
    ("empty should matches nothing", {"should": []}, [({}, False), ({"a": 1}, False)]),
    ("empty sub-filter matches all", {}, [({}, True), (None, True)]),
    (
        "should",
        {"should": [{"key": "a", "match": {"value": 1}}, {"key": "b", "match": {"value": 1}}]},
        [
            ({"b": 1}, True),
            ({"a": 1, "b": 2}, True),
            ({}, False),
        ],
    ),
    (
        "must_not",
        {"must_not": [{"key": "a", "match": {"value": 1}}, {"key": "b", "match": {"value": 1}}]},
        [
            ({"a": 1}, False),
            ({"a": 2}, True),
            ({}, True),
            ({"a": 2, "b": 1}, False),
        ],
    ),
    (
        "min_should",
        {
            "min_should": {
                "min_count": 2,
                "conditions": [
                    {"key": "a", "match": {"value": 1}},
                    {"key": "b", "match": {"value": 1}},
                    {"key": "c", "match": {"value": 1}},
                ],
            }
        },
        [
            ({"a": 1, "b": 1}, True),
            ({"a": 1}, False),
            ({"a": 1, "b": 1, "c": 1}, True),
            ({"c": 1, "b": 2}, False),
        ],
    ),
    (
        "all clauses",
        {
            "must": {"key": "a", "range": {"gte": 0}},
            "should": [{"key": "b", "match": {"value": "x"}}, {"is_null": {"key": "b"}}],
            "must_not": {"key": "c", "match": {"any": [1, 2]}},
            "min_should": {"min_count": 1, "conditions": [{"key": "d", "values_count": {"gt": 1}}]},
        },
        [
            ({"a": 0, "b": "x", "d": [1, 2]}, True),
            ({"a": 0, "b": None, "d": [1, 2], "c": 3}, True),
            ({"a": 0, "b": "x", "d": [1, 2], "c": [3, 2]}, False),
            ({"a": 0, "b": "x", "d": 1}, False),
            ({"a": -1, "b": "x", "d": [1, 2]}, False),
            ({"a": 0, "b": "y", "d": [1, 2]}, False),
        ],
    ),
]


def _keys(payloads: list[Payload]) -> set[str]:
    keys = {k for p in payloads if p for k in p}
    return keys | {"o.c", "o[].c", "a[].b", "d[].x", "d[].y"}


@pytest.mark.parametrize(("name", "condition", "rows"), TABLE, ids=[row[0] for row in TABLE])
def test_semantics(name: str, condition: dict[str, Any], rows: list[tuple[Payload, bool]]) -> None:
    f = parse_filter({"must": [condition]})
    assert f is not None
    payloads = [p for p, _ in rows]
    expected = np.array([e for _, e in rows], dtype=np.bool_)
    assert [f.matches(p) for p in payloads] == expected.tolist()
    assert f.mask(FakePoints(payloads)).tolist() == expected.tolist()
    for index_type in INDEX_TYPES:
        points = FakePoints(payloads, {k: index_type for k in _keys(payloads)})
        assert f.mask(points).tolist() == expected.tolist(), index_type


def test_has_id_and_has_vector() -> None:
    ids: list[int | str] = [0, 7, UUID, "6ba7b810-9dad-11d1-80b4-00c04fd430c8"]
    vectors = [{"", "img"}, {"img"}, set(), {""}]
    points = FakePoints([{}] * 4, ids=ids, vectors=vectors)

    def mask(obj: dict[str, Any]) -> list[bool]:
        f = parse_filter(obj)
        assert f is not None
        return f.mask(points).tolist()  # type: ignore[no-any-return]

    assert mask({"must": {"has_id": [7, UUID.upper(), 99]}}) == [False, True, True, False]
    assert mask({"must_not": {"has_id": [0]}}) == [False, True, True, True]
    assert mask({"must": {"has_vector": "img"}}) == [True, True, False, False]
    assert mask({"must": {"has_vector": ""}}) == [True, False, False, True]
    assert mask({"should": [{"has_id": [0]}, {"has_vector": ""}]}) == [True, False, False, True]
    f = parse_filter({"must": {"has_id": [UUID.upper()]}, "should": {"has_vector": "img"}})
    assert f is not None
    assert f.matches({}, point_id=UUID, vectors={"img"})
    assert not f.matches({}, point_id=UUID)
    assert not f.matches({}, point_id=7, vectors={"img"})


def test_empty_segment() -> None:
    f = parse_filter({"must": [{"key": "a", "match": {"value": 1}}, {"has_id": [1]}]})
    assert f is not None
    for indexes in ({}, {"a": "integer"}):
        mask = f.mask(FakePoints([], indexes))
        assert mask.shape == (0,)
        assert mask.dtype == np.bool_
