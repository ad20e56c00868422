"""Shown payloads are the caller's own: `_core.json_copy` rebuilds every dict and list of a JSON
value, and a read shows stored payloads through it (writes replace stored payloads, never change
them, so only what a read hands out could alias the store)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vqdb import _core
from vqdb.collection import query, reads
from vqdb.collection.collection import Collection
from vqdb.database import Database

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=30,
)


def containers(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value, *(c for v in value.values() for c in containers(v))]
    if isinstance(value, list):
        return [value, *(c for v in value for c in containers(v))]
    return []


@given(json_values)
def test_json_copy_equals_and_shares_no_container(value: Any) -> None:
    copied = _core.json_copy(value)
    assert copied == value
    assert type(copied) is type(value)
    mine = {id(c) for c in containers(value)}
    assert not mine & {id(c) for c in containers(copied)}


def test_json_copy_refuses_what_no_payload_nests_to() -> None:
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match="nested too deep"):
        _core.json_copy(deep)


@pytest.fixture
def collection() -> Iterator[Collection]:
    db = Database(None)
    c = db.create_collection("c", {"vectors": {"size": 2, "distance": "Dot"}})
    stored = {"tags": ["a"], "nested": {"x": [{"y": 1}]}}
    c.upsert({"points": [{"id": 1, "vector": [1.0, 0.0], "payload": stored}]})
    yield c
    db.close()  # stops the collection's optimizer thread


@pytest.mark.parametrize(
    "read",
    [
        lambda c: query.query(c, {"query": [1.0, 0.0], "with_payload": True})["points"][0],
        lambda c: reads.retrieve(c, {"ids": [1]})[0],
        lambda c: reads.scroll(c, {})["points"][0],
        lambda c: query.query(c, {"query": [1.0, 0.0], "with_payload": True, "with_vector": True})[
            "points"
        ][0],
    ],
    ids=["query", "retrieve", "scroll", "query with vectors"],
)
def test_a_read_hands_out_copies(collection: Collection, read: Any) -> None:
    shown = read(collection)["payload"]
    shown["tags"].append("changed")
    shown["nested"]["x"][0]["y"] = 2
    assert reads.retrieve(collection, {"ids": [1]})[0]["payload"] == {
        "tags": ["a"],
        "nested": {"x": [{"y": 1}]},
    }
