"""parse_filter: accepted shapes, the AST they give, and one error per kind of bad input."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from vqdb.errors import OutOfRange
from vqdb.filters import parse_filter
from vqdb.filters.conditions import (
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
    Range,
    ValuesCount,
)

UUID = "550e8400-e29b-41d4-a716-446655440000"


@pytest.mark.parametrize("obj", [None, {}, {"must": None}, {"must": [], "must_not": []}])
def test_match_all_is_none(obj: dict[str, Any] | None) -> None:
    assert parse_filter(obj) is None


def test_single_condition_or_list() -> None:
    one = parse_filter({"must": {"key": "a", "match": {"value": "x"}}})
    many = parse_filter({"must": [{"key": "a", "match": {"value": "x"}}]})
    assert one == many == Filter(must=(MatchValue("a", "x"),))


def test_empty_should_is_kept() -> None:
    assert parse_filter({"should": []}) == Filter(should=())


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"key": "a", "match": {"value": True}}, MatchValue("a", True)),
        ({"key": "a", "match": {"value": 3}}, MatchValue("a", 3)),
        ({"key": "a", "match": {"any": ["x", "y"]}}, MatchAny("a", frozenset({"x", "y"}), str)),
        ({"key": "a", "match": {"any": [1, 2]}}, MatchAny("a", frozenset({1, 2}), int)),
        ({"key": "a", "match": {"any": []}}, MatchAny("a", frozenset(), str)),
        ({"key": "a", "match": {"except": [1]}}, MatchExcept("a", frozenset({1}), int)),
        ({"key": "a", "match": {"except_": ["x"]}}, MatchExcept("a", frozenset({"x"}), str)),
        ({"key": "a", "match": {"text": "hi"}}, MatchText("a", "hi", "text")),
        ({"key": "a", "match": {"text_any": "hi yo"}}, MatchText("a", "hi yo", "text_any")),
        ({"key": "a", "match": {"phrase": "hi yo"}}, MatchText("a", "hi yo", "phrase")),
        ({"key": "a", "match": {"prefix": "h"}}, MatchPrefix("a", "h")),
        ({"key": "a", "range": {"gte": 1, "lt": 2.5}}, Range("a", Interval(lt=2.5, gte=1.0))),
        ({"key": "a", "range": {}}, Range("a", Interval())),
        (
            {"key": "t", "range": {"gt": "1970-01-01T00:00:01Z", "lte": "1970-01-02"}},
            DatetimeRange("t", Interval(gt=1_000_000, lte=86_400_000_000)),
        ),
        (
            {"key": "t", "range": {"lt": dt.datetime(1970, 1, 1, 1, tzinfo=dt.timezone.utc)}},
            DatetimeRange("t", Interval(lt=3_600_000_000)),
        ),
        ({"key": "a", "values_count": {"gt": 1}}, ValuesCount("a", Interval(gt=1))),
        ({"key": "a", "is_empty": True}, IsEmpty("a")),
        ({"key": "a", "is_empty": False}, Filter(must_not=(IsEmpty("a"),))),
        ({"key": "a", "is_null": True}, IsNull("a")),
        ({"is_empty": {"key": "a.b"}}, IsEmpty("a.b")),
        ({"is_null": {"key": "a"}}, IsNull("a")),
        ({"has_id": [1, UUID.upper()]}, HasId(frozenset({1, UUID}))),
        ({"has_id": [UUID.replace("-", "")]}, HasId(frozenset({UUID}))),
        ({"has_vector": "image"}, HasVector("image")),
        (
            {"nested": {"key": "d", "filter": {"must": {"key": "x", "match": {"value": 1}}}}},
            Nested("d", Filter(must=(MatchValue("x", 1),))),
        ),
        ({"must": [{"has_vector": ""}]}, Filter(must=(HasVector(""),))),
        ({}, Filter()),
    ],
)
def test_conditions(condition: dict[str, Any], expected: object) -> None:
    assert parse_filter({"must": [condition]}) == Filter(must=(expected,))  # type: ignore[arg-type]


def test_min_should() -> None:
    parsed = parse_filter(
        {"min_should": {"conditions": [{"has_vector": "a"}, {"has_vector": "b"}], "min_count": 1}}
    )
    assert parsed == Filter(min_should=MinShould((HasVector("a"), HasVector("b")), 1))


def test_pydantic_model_dump_shape() -> None:
    """model_dump() writes every field, unset ones as None."""
    dumped = {
        "should": None,
        "min_should": None,
        "must": [
            {
                "key": "city",
                "match": {"value": "London"},
                "range": None,
                "geo_bounding_box": None,
                "geo_radius": None,
                "geo_polygon": None,
                "values_count": None,
                "is_empty": None,
                "is_null": None,
            },
            {"key": "n", "range": {"lt": None, "gt": None, "gte": 1.0, "lte": None}},
            {"is_empty": {"key": "tags"}},
            {"should": None, "min_should": None, "must": None, "must_not": [{"has_id": [3]}]},
        ],
        "must_not": None,
    }
    assert parse_filter(dumped) == Filter(
        must=(
            MatchValue("city", "London"),
            Range("n", Interval(gte=1.0)),
            IsEmpty("tags"),
            Filter(must_not=(HasId(frozenset({3})),)),
        )
    )


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([1], "bad filter: a filter must be an object"),
        ({"foo": []}, "bad filter: unknown filter keys ['foo']"),
        ({"must": [{"foo": 1}]}, "must[0]: unknown condition keys ['foo']"),
        ({"must": [1]}, "must[0]: a condition must be an object"),
        ({"must": "a"}, "must: expected a condition or a list"),
        (
            {"must": [{}, {"key": "a", "range": {"gte": "abc"}}]},
            "must[1].range: 'gte' must be a number, got 'abc'",
        ),  # noqa: E501
        (
            {"must": {"key": "a", "range": {"gte": True}}},
            "must.range: 'gte' must be a number, got True",
        ),  # noqa: E501
        (
            {"must": {"key": "a", "range": {"gte": "2023-01-01", "lt": 5}}},
            "'lt' must be an RFC 3339 datetime, got 5",
        ),  # noqa: E501
        (
            {"must": {"key": "a", "range": {"gte": 1, "eq": 2}}},
            "must.range: unknown range keys ['eq']",
        ),  # noqa: E501
        ({"must": {"key": "a", "range": {"gte": float("nan")}}}, "'gte' must be a number"),
        (
            {"must": {"key": "a", "values_count": {"gt": -1}}},
            "must.values_count: 'gt' must be a non-negative integer",
        ),  # noqa: E501
        (
            {"must": {"key": "a", "values_count": {"gt": 1.5}}},
            "'gt' must be a non-negative integer",
        ),
        (
            {"should": {"key": "a", "geo_radius": {"center": {}, "radius": 1}}},
            "should.geo_radius.center: expected {'lon': ..., 'lat': ...}",
        ),
        (
            {"should": {"geo_bounding_box": {}}},
            "should: unknown condition keys ['geo_bounding_box']",
        ),
        ({"must": {"key": "a", "match": {"value": 1}, "range": {}}}, "takes exactly one of"),
        (
            {"must": {"key": "a", "match": {"value": 1}, "foo": 2}},
            "must: unknown condition keys ['foo']",
        ),  # noqa: E501
        ({"must": {"key": 5, "match": {"value": 1}}}, "must.key: must be a key path, got 5"),
        ({"must": {"key": "a[", "match": {"value": 1}}}, "must.key: bad key 'a['"),
        (
            {"must": {"key": "a", "match": {"value": 1.5}}},
            "must.match.value: must be a string, integer or boolean",
        ),  # noqa: E501
        (
            {"must": {"key": "a", "match": {"value": None}}},
            "must.match: match takes exactly one key",
        ),  # noqa: E501
        ({"must": {"key": "a", "match": {"value": 1, "any": [1]}}}, "match takes exactly one key"),
        ({"must": {"key": "a", "match": {"regex": "x"}}}, "must.match: unknown match kind 'regex'"),
        (
            {"must": {"key": "a", "match": {"any": [1, "x"]}}},
            "must.match.any: must be a list of strings or of integers (not mixed)",
        ),  # noqa: E501
        ({"must": {"key": "a", "match": {"any": [True]}}}, "must.match.any: must be a list"),
        ({"must": {"key": "a", "match": {"except": "x"}}}, "must.match.except: must be a list"),
        ({"must": {"key": "a", "match": {"text": 3}}}, "must.match.text: must be a string"),
        ({"must": {"key": "a", "match": "x"}}, "must.match: match must be an object"),
        ({"must": {"key": "a", "is_empty": "yes"}}, "must.is_empty: must be true or false"),
        ({"must": {"is_empty": "a"}}, "must.is_empty: a payload field must be an object"),
        ({"must": {"is_null": {"key": "a", "x": 1}}}, "must.is_null: expected {'key': ...}"),
        ({"must": {"has_id": [-1]}}, "must.has_id[0]: must be a non-negative integer or a UUID"),
        (
            {"must": {"has_id": [1, "nope"]}},
            "must.has_id[1]: must be a non-negative integer or a UUID, got 'nope'",
        ),  # noqa: E501
        ({"must": {"has_id": [True]}}, "must.has_id[0]"),
        ({"must": {"has_id": 3}}, "must.has_id: must be a list of point ids"),
        ({"must": {"has_vector": 3}}, "must.has_vector: must be a vector name"),
        ({"must": {"has_vector": "a", "has_id": [1]}}, "must: unknown condition keys"),
        (
            {"must": {"nested": {"key": "a"}}},
            "must.nested: nested takes exactly 'key' and 'filter'",
        ),  # noqa: E501
        (
            {"must": {"nested": {"key": "a", "filter": {"must": [{"has_id": [1]}]}}}},
            "must.nested.filter.must[0]: has_id is not supported inside a nested filter",
        ),  # noqa: E501
        (
            {
                "must": {
                    "nested": {
                        "key": "a",
                        "filter": {"must": [{"key": "b", "match": {"value": [1]}}]},
                    }
                }
            },
            "must.nested.filter.must[0].match.value",
        ),  # noqa: E501
        (
            {"min_should": {"conditions": []}},
            "min_should: min_should takes exactly 'conditions' and 'min_count'",
        ),  # noqa: E501
        (
            {"min_should": {"conditions": [], "min_count": 0}},
            "min_should: 'min_count' must be an integer >= 1",
        ),  # noqa: E501
        (
            {"min_should": {"conditions": [{"x": 1}], "min_count": 1}},
            "min_should.conditions[0]: unknown condition keys ['x']",
        ),  # noqa: E501
        (
            {"must": [{"must": [{"should": [{"key": "a", "match": {"any": {}}}]}]}]},
            "must[0].must[0].should[0].match.any",
        ),  # noqa: E501
    ],
)
def test_errors_name_the_place(obj: Any, message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_filter(obj)
    assert message in str(error.value)
    assert str(error.value).startswith("bad filter: ")


def test_a_key_without_a_condition_is_a_validation_error() -> None:
    """Qdrant's validator refuses it (422), naming the place from the request's root."""
    with pytest.raises(OutOfRange) as error:
        parse_filter({"must": [{"key": "a"}]}, "filter")
    assert str(error.value) == (
        "Validation error in JSON body: [filter.must[0]: At least one field condition must be "
        "specified]"
    )
