"""Formula queries: each expression kind against the same arithmetic done here, Qdrant's
rules for missing values, nulls, arrays and defaults, and rescoring a collection's prefetch."""

from __future__ import annotations

import math
from typing import Any

import pytest

from vqdb.collection import query
from vqdb.collection.formula import Point, compile_formula, score
from vqdb.database import Database
from vqdb.errors import BadInput
from vqdb.filters import build_index

PAYLOAD = {
    "price": 4.0,
    "one": [2.5],
    "many": [1, 2],
    "none": None,
    "when": "2024-01-02T03:04:05Z",
    "at": {"lon": 13.4, "lat": 52.5},
    "city": "Berlin",
}
POINT = Point(id=7, payload=PAYLOAD, vectors=[""], scores=[0.5, None])


def value(expression: Any, defaults: dict[str, Any] | None = None) -> float:
    return score(compile_formula(expression, defaults), POINT)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"sum": ["$score", {"mult": ["price", 0.5]}]}, 0.5 + 2.0),
        ({"mult": [0, {"div": {"left": 1, "right": 0}}]}, 0.0),  # stops at the zero
        ({"div": {"left": 0, "right": 0}}, 0.0),
        ({"div": {"left": 1, "right": 0, "by_zero_default": 9}}, 9.0),
        ({"div": {"left": "price", "right": {"sum": [1, {"abs": {"neg": "price"}}]}}}, 0.8),
        ({"pow": {"base": "one", "exponent": 2}}, 6.25),
        ({"sqrt": "price"}, 2.0),
        ({"ln": {"exp": 3}}, 3.0),
        ({"log10": 1000}, 3.0),
        ("$score[1]", 0.0),  # not found by that prefetch
        ({"key": "city", "match": {"value": "Berlin"}}, 1.0),
        ({"key": "city", "match": {"any": []}}, 0.0),
        ({"has_id": [7]}, 1.0),
        ({"datetime": "2024-01-02T03:04:05Z"}, 1704164645.0),
        ({"datetime_key": "when"}, 1704164645.0),
        ({"lin_decay": {"x": "price", "target": 2, "scale": 4, "midpoint": 0.5}}, 0.75),
        ({"exp_decay": {"x": "price", "target": 2, "scale": 2}}, 0.5),
        ({"gauss_decay": {"x": 4, "target": 2, "scale": 2}}, 0.5),
    ],
)
def test_expressions(expression: Any, expected: float) -> None:
    assert value(expression) == pytest.approx(expected)


def test_geo_distance() -> None:
    berlin_to_paris = {"geo_distance": {"origin": {"lon": 2.35, "lat": 48.86}, "to": "at"}}
    assert value(berlin_to_paris) == pytest.approx(876_000, rel=0.01)


def test_missing_values_and_defaults() -> None:
    assert value("absent", {"absent": 1.5}) == 1.5
    assert value("$score[1]", {"$score[1]": 2}) == 2.0
    for bad, message in (
        ("absent", "No value found in a payload nor defaults"),
        ("many", "Value is not a number"),
        ("none", "Value is not a number"),  # a null is a value, read from the payload
        ("city", "Value is not a number"),
        ({"sqrt": {"neg": "price"}}, "math domain error|non-finite"),
        ({"pow": {"base": 10, "exponent": 400}}, "non-finite|overflow|range"),
    ):
        with pytest.raises(BadInput, match=message):
            value(bad)
    for bad in ("$scores", {"lin_decay": {"x": 1, "midpoint": 2}}, {"div": {"left": 1}}, [1]):
        with pytest.raises(BadInput):
            compile_formula(bad, None)


def test_null_with_a_default_as_qdrant_reads_it() -> None:
    """Qdrant reads a variable from the key's payload index where it has one, else from the
    payload: there a null is a value (not a number), in an index it is no value, so the default
    applies; an index of another type holds none of the key's values either."""
    with pytest.raises(BadInput, match="Value is not a number"):
        value({"sum": ["none", 1]}, {"none": 3})
    for schema in ("float", "integer", "keyword"):
        indexes = {"none": build_index(schema, "none"), "price": build_index(schema, "price")}
        expression = compile_formula({"sum": ["none", 1]}, {"none": 3}, indexes)
        assert score(expression, POINT) == 4.0
        price = compile_formula("price", {"price": 1}, indexes)
        assert score(price, POINT) == (4.0 if schema == "float" else 1.0)  # 4.0 is not an int
    text = {"none": build_index("text", "none")}  # gives no values back: the payload is read
    with pytest.raises(BadInput, match="Value is not a number"):
        score(compile_formula("none", {"none": 3}, text), POINT)
    geo = {"at": build_index("geo", "at"), "city": build_index("geo", "city")}
    to = {"geo_distance": {"origin": {"lon": 13.4, "lat": 52.5}, "to": "city"}}
    assert score(compile_formula(to, {"city": {"lon": 13.4, "lat": 52.5}}, geo), POINT) == 0.0


def test_rescoring_a_prefetch(db: Database) -> None:
    c = db.create_collection("c", {"vectors": {"size": 2, "distance": "Dot"}})
    points = [
        {"id": i, "vector": [1.0, i / 10], "payload": {"boost": i % 3} if i % 4 else {}}
        for i in range(20)
    ]
    c.upsert({"points": points})
    body: dict[str, Any] = {
        "prefetch": {"query": [1.0, 1.0], "limit": 20},
        "query": {"formula": {"sum": ["$score", "boost"]}, "defaults": {"boost": 10}},
        "limit": 5,
    }
    found = query.query(c, body)["points"]
    expected = {
        p["id"]: 1.0 + p["id"] / 10 + (p["payload"]["boost"] if p["payload"] else 10)
        for p in points
    }
    best = sorted(expected, key=lambda i: -expected[i])[:5]
    assert [p["id"] for p in found] == best
    assert [p["score"] for p in found] == pytest.approx([expected[i] for i in best])
    cut = query.query(c, {**body, "score_threshold": expected[best[2]]})["points"]
    assert [p["id"] for p in cut] == best[:3]
    with pytest.raises(BadInput, match="rescores prefetches"):
        query.query(c, {"query": {"formula": 1}})
    assert math.isfinite(found[0]["score"])
