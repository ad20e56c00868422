"""Payload indexes: schemas echoed back, add / remove / re-add, text tokens, and the evaluator
reading only the payloads the indexes leave undecided."""

from __future__ import annotations

import enum
import json
import uuid
from typing import Any
from unittest import mock

import numpy as np
import pytest
from filter_fakes import FakePoints
from hypothesis import given, settings
from hypothesis import strategies as st

from vqdb.filters import Filter, build_index, parse_filter
from vqdb.filters import index as index_module
from vqdb.filters.index import FieldIndex, IntegerIndex, MapIndex, SortedIndex


def _filter(obj: dict[str, Any]) -> Filter:
    f = parse_filter(obj)
    assert f is not None
    return f


class _Type(str, enum.Enum):  # what model_dump() leaves for PayloadSchemaType
    KEYWORD = "keyword"


@pytest.mark.parametrize(
    ("schema", "echo"),
    [
        ("keyword", {"data_type": "keyword"}),
        (_Type.KEYWORD, {"data_type": "keyword"}),
        ("datetime", {"data_type": "datetime"}),
        (
            {"type": "keyword", "is_tenant": True, "on_disk": None},
            {"data_type": "keyword", "params": {"type": "keyword", "is_tenant": True}},
        ),
        (
            {"type": _Type.KEYWORD},
            {"data_type": "keyword", "params": {"type": "keyword"}},
        ),
        (
            {"type": "text", "tokenizer": "word", "lowercase": True},
            {
                "data_type": "text",
                "params": {"type": "text", "tokenizer": "word", "lowercase": True},
            },
        ),
    ],
)
def test_schema_echo(schema: Any, echo: dict[str, Any]) -> None:
    index = build_index(schema, "k")
    assert index.schema == echo
    assert index.info() == {**echo, "points": 0}


@pytest.mark.parametrize(
    ("schema", "key", "message"),
    [
        ("vector", "k", "unknown payload schema type 'vector'"),
        ({"is_tenant": True}, "k", "unknown payload schema type None"),
        ("keyword", "a..b", "bad key"),
    ],
)
def test_schema_errors(schema: Any, key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_index(schema, key)


def test_count_and_remove() -> None:
    index = build_index("keyword", "k")
    index.add(0, {"k": ["a", "b"]})
    index.add(1, {"k": 5})  # not a keyword: not counted
    index.add(2, None)
    index.add(3, {"k": "a"})
    assert index.count() == 2
    index.add(3, {"k": "z"})  # re-adding replaces
    assert index.mask(
        _filter({"must": {"key": "k", "match": {"value": "a"}}}).must[0], 5
    ).tolist() == [True, False, False, False, False]  # noqa: E501
    index.remove(0)
    index.remove(0)  # twice is harmless
    index.remove(42)
    assert index.count() == 1


def test_sorted_index_rebuilds_after_writes() -> None:
    index = build_index("float", "x")
    condition = _filter({"must": {"key": "x", "range": {"gte": 1}}}).must[0]
    index.add(0, {"x": 2})
    assert index.mask(condition, 3).tolist() == [True, False, False]
    index.add(1, {"x": [0.5, 1.0]})
    index.remove(0)
    assert index.mask(condition, 3).tolist() == [False, True, False]


def test_index_declines_what_it_cannot_answer() -> None:
    cases = {
        "keyword": {"key": "k", "match": {"value": 1}},
        "integer": {"key": "k", "match": {"value": True}},
        "bool": {"key": "k", "match": {"except": ["a"]}},
        "float": {"key": "k", "match": {"value": 1}},
        "datetime": {"key": "k", "range": {"gte": 1}},
        "uuid": {"key": "k", "match": {"value": "not-a-uuid"}},
        "text": {"key": "k", "match": {"value": "a"}},
    }
    for schema, condition in cases.items():
        assert build_index(schema, "k").mask(_filter({"must": condition}).must[0], 4) is None


# -- add / remove / re-add: the index answers like one built fresh from the final payloads.

small = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(0, 3),
    st.sampled_from([0.5, 2.0, "a", "b", "ab", "a b", "b a", "2023-01-02", str(uuid.UUID(int=7))]),
)
payload = st.one_of(st.none(), st.fixed_dictionaries({}, optional={"k": small | st.lists(small)}))
QUERIES = [
    {"match": {"value": "a"}},
    {"match": {"value": 1}},
    {"match": {"value": True}},
    {"match": {"any": ["a", "b"]}},
    {"match": {"any": [0, 3]}},
    {"match": {"except": ["a"]}},
    {"match": {"except": [1, 2]}},
    {"match": {"prefix": "a"}},
    {"range": {"gt": 0.5, "lte": 3}},
    {"range": {"lt": "2023-01-03"}},
    {"match": {"text": "a"}},
    {"match": {"text": "b a"}},
    {"match": {"text_any": "ab b"}},
    {"match": {"phrase": "a b"}},
]


@pytest.mark.parametrize("merge_at", [index_module.MERGE_AT, 1])
@pytest.mark.parametrize("sliced", [index_module._SLICED, 0])
@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["keyword", "integer", "float", "bool", "datetime", "uuid", "text"]),
    st.lists(
        st.tuples(
            st.integers(0, 5),
            payload | st.just("remove") | st.just("settle") | st.just("restore"),
        ),
        max_size=25,
    ),
)
def test_writes_then_fresh(
    merge_at: int, sliced: int, schema: str, ops: list[tuple[int, Any]]
) -> None:
    """Also across `settle` and merges (an exact-value index then holds its pairs in arrays,
    and what comes after over them; merge_at 1: nearly every write merges; sliced 0: the
    arrays are read in one pass, not a slice per value), and saved and restored (`restore`),
    as a segment's files do."""
    with (
        mock.patch.object(index_module, "MERGE_AT", merge_at),
        mock.patch.object(index_module, "_SLICED", sliced),
    ):
        _writes_then_fresh(schema, ops)


def _writes_then_fresh(schema: str, ops: list[tuple[int, Any]]) -> None:
    index = build_index(schema, "k")
    final: dict[int, Any] = {}
    for offset, op in ops:
        if op == "settle":
            index.settle()
        elif op == "restore":
            index = restored(index, schema)
        elif op == "remove":
            index.remove(offset)
            final.pop(offset, None)
        else:
            index.add(offset, op)
            final[offset] = op
    fresh = build_index(schema, "k")
    for offset, p in final.items():
        fresh.add(offset, p)
    assert index.count() == fresh.count()
    for query in QUERIES:
        condition = _filter({"must": {"key": "k", **query}}).must[0]
        got, want = index.mask(condition, 6), fresh.mask(condition, 6)
        assert (got is None) == (want is None)
        if got is not None and want is not None:
            assert got.tolist() == want.tolist(), query
    lookup = index.lookup if isinstance(index, IntegerIndex) else index
    if isinstance(lookup, MapIndex):  # what facets count
        assert isinstance(fresh, MapIndex | IntegerIndex)
        other = fresh.lookup if isinstance(fresh, IntegerIndex) else fresh
        assert other is not None and _pairs(lookup) == _pairs(other)
    if isinstance(index, IntegerIndex | SortedIndex):  # what order_by walks
        got_order, want_order = index.ordering(), fresh.ordering()
        assert got_order is not None and want_order is not None
        assert sorted(zip(*map(np.ndarray.tolist, got_order))) == sorted(
            zip(*map(np.ndarray.tolist, want_order))
        )


def test_a_text_index_settled_then_written_answers_as_one_built_fresh() -> None:
    docs = ["quick brown fox", ["lazy dog", "brown fox"], "fox brown", "dog", "quick fox", "!!"]
    index = build_index("text", "k")
    for offset, doc in enumerate(docs):
        index.add(offset, {"k": doc})
    index.settle()  # the arrays hold them all
    final = dict(enumerate(docs))
    index.remove(0)  # marked dead in the arrays
    del final[0]
    index.add(1, {"k": "brown fox jumps"})  # dead there, held since
    final[1] = "brown fox jumps"
    index.add(6, {"k": ["a brown fox", "quick"]})  # new, held since
    final[6] = ["a brown fox", "quick"]
    fresh = build_index("text", "k")
    for offset, doc in final.items():
        fresh.add(offset, {"k": doc})
    for settled in (False, True):
        assert index.count() == fresh.count() == 6  # "!!" counts: a string, if no token
        for match in (
            {"text": "brown fox"},
            {"text": "quick"},
            {"text_any": "dog jumps"},
            {"phrase": "brown fox"},
            {"phrase": "fox brown"},
            {"phrase": "lazy dog"},  # point 1's old text: in the arrays, dead
            {"phrase": "fox jumps"},  # its new one
            {"text": "missing fox"},
        ):
            condition = _filter({"must": {"key": "k", "match": match}}).must[0]
            got, want = index.mask(condition, 8), fresh.mask(condition, 8)
            assert got is not None and want is not None
            assert got.tolist() == want.tolist(), (match, settled)
        index.settle()  # arrays merged with what was held


def restored(index: FieldIndex, schema: str) -> FieldIndex:
    """The index made again from its state, as from its files: facts through JSON, arrays
    read-only (as memory maps are: a write into one would raise)."""
    facts, arrays = index.state()
    frozen = {part: array.copy() for part, array in arrays.items()}
    for array in frozen.values():
        array.setflags(write=False)
    again = build_index(schema, "k")
    again.restore(json.loads(json.dumps(facts)), frozen)
    return again


def _pairs(index: MapIndex) -> set[tuple[Any, int]]:
    values, codes, offsets = index.postings()
    return {(values[c], o) for c, o in zip(codes.tolist(), offsets.tolist())}


# -- text index: tokens, not substrings.

TEXTS = [
    {"s": "The quick brown fox"},
    {"s": "quick-brown FOX jumps"},
    {"s": ["lazy dog", "brown fox"]},
    {"s": "brownfox"},
    {"s": 5},
    {},
]


@pytest.mark.parametrize(
    ("match", "params", "expected"),
    [
        ({"text": "Brown fox"}, None, [True, True, True, False, False, False]),
        ({"text": "fox brown"}, None, [True, True, True, False, False, False]),
        ({"text": "dog fox"}, None, [False, False, True, False, False, False]),  # across strings
        ({"text": "own"}, None, [False] * 6),  # no substrings
        ({"text": "!!"}, None, [False] * 6),  # no tokens, no match
        ({"text_any": "dog jumps"}, None, [False, True, True, False, False, False]),
        ({"phrase": "brown fox"}, None, [True, True, True, False, False, False]),
        ({"phrase": "fox brown"}, None, [False] * 6),
        ({"phrase": "dog brown"}, None, [False] * 6),  # a phrase stays within one string
        ({"text": "FOX"}, {"lowercase": False}, [False, True, False, False, False, False]),
        (
            {"text": "quick-brown"},
            {"tokenizer": "whitespace"},
            [False, True, False, False, False, False],
        ),  # noqa: E501
        ({"text": "the fox"}, {"min_token_len": 4}, [False, False, False, False, False, False]),
        ({"text": "a fox"}, {"min_token_len": 2}, [True, True, True, False, False, False]),
    ],
)
def test_text_index(
    match: dict[str, str], params: dict[str, Any] | None, expected: list[bool]
) -> None:  # noqa: E501
    schema = {"type": "text", **params} if params else "text"
    points = FakePoints(TEXTS, {"s": schema})
    assert _filter({"must": {"key": "s", "match": match}}).mask(points).tolist() == expected
    points.indexes["s"].settle()  # the same from the arrays
    assert _filter({"must": {"key": "s", "match": match}}).mask(points).tolist() == expected
    assert points.reads == []


def test_text_without_index_is_substring() -> None:
    f = _filter({"must": {"key": "s", "match": {"text": "own"}}})
    assert f.mask(FakePoints(TEXTS)).tolist() == [True, True, True, True, False, False]


# -- evaluation order: scans visit only what indexes leave undecided.

N = 1000
ROWS = [{"tag": "rare" if i % 100 == 0 else "common", "n": i, "s": f"row {i}"} for i in range(N)]


def test_must_scans_only_the_indexed_survivors() -> None:
    points = FakePoints(ROWS, {"tag": "keyword"})
    f = _filter(
        {"must": [{"key": "s", "match": {"text": "0"}}, {"key": "tag", "match": {"value": "rare"}}]}
    )
    assert np.flatnonzero(f.mask(points)).tolist() == list(range(0, N, 100))
    assert sorted(points.reads) == list(range(0, N, 100))


def test_must_not_and_should_skip_decided_points() -> None:
    points = FakePoints(ROWS, {"tag": "keyword", "n": "integer"})
    f = _filter(
        {
            "must": {"key": "n", "range": {"lt": 300}},
            "must_not": [{"key": "tag", "match": {"value": "common"}}],
            "should": [{"key": "s", "match": {"text": "row"}}, {"has_id": [0]}],
        }
    )
    assert np.flatnonzero(f.mask(points)).tolist() == [0, 100, 200]
    assert sorted(points.reads) == [100, 200]  # 0 was decided by has_id, cheaper than a scan


def test_min_should_stops_counting_when_decided() -> None:
    points = FakePoints(ROWS[:10], {"n": "integer"})
    f = _filter(
        {
            "min_should": {
                "min_count": 2,
                "conditions": [
                    {"key": "s", "match": {"text": "row"}},
                    {"key": "n", "range": {"lt": 3}},
                    {"key": "n", "range": {"gte": 8}},
                ],
            }
        }
    )
    assert np.flatnonzero(f.mask(points)).tolist() == [0, 1, 2, 8, 9]
    assert sorted(points.reads) == [0, 1, 2, 8, 9]  # the others can no longer reach 2


def test_each_payload_read_once_per_mask() -> None:
    points = FakePoints(ROWS[:50])
    f = _filter(
        {
            "should": [
                {"key": "s", "match": {"text": "1"}},
                {"must": [{"key": "n", "range": {"gte": 0}}, {"key": "s", "match": {"text": "x"}}]},
            ]
        }
    )
    f.mask(points)
    assert len(points.reads) == len(set(points.reads)) == 50
