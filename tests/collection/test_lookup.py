"""lookup_from: point ids of a query resolved to vectors of another collection (or of the
queried one under another vector name), at the root and in prefetches, with Qdrant's errors."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from vqdb.collection import query
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput, NotFound

U = str(uuid.UUID(int=7))


@pytest.fixture
def both(db: Database) -> tuple[Database, Collection, Collection]:
    c = db.create_collection(
        "c", {"vectors": {"v": {"size": 3, "distance": "Dot"}}, "sparse_vectors": {"s": {}}}
    )
    points = [
        {
            "id": i,
            "vector": {"v": [1.0, i, -i], "s": {"indices": [i % 3], "values": [1.0 + i]}},
            "payload": {"i": i},
        }
        for i in range(10)
    ]
    c.upsert({"points": points})
    other = db.create_collection(
        "other",
        {"vectors": {"w": {"size": 3, "distance": "Dot"}, "v": {"size": 3, "distance": "Dot"}}},
    )
    other.upsert(
        {
            "points": [
                {"id": 1, "vector": {"w": [0.0, 1.0, 0.0], "v": [0.0, 0.0, 1.0]}},
                {"id": U, "vector": {"w": [0.0, 0.0, 1.0]}},
                {"id": 3, "vector": {"v": [1.0, 0.0, 0.0]}},
            ]
        }
    )
    db.create_collection("sparse", {"sparse_vectors": {"s": {}}}).upsert(
        {"points": [{"id": 5, "vector": {"s": {"indices": [1], "values": [2.0]}}}]}
    )
    return db, c, other


def ids(found: dict[str, Any]) -> list[Any]:
    return [p["id"] for p in found["points"]]


def test_vectors_come_from_the_other_collection(
    both: tuple[Database, Collection, Collection],
) -> None:
    db, c, _ = both
    others = db.collection
    by_id = query.query(
        c,
        {
            "query": {"recommend": {"positive": [1], "negative": [U]}},
            "using": "v",
            "lookup_from": {"collection": "other", "vector": "w"},
            "limit": 10,
        },
        others,
    )
    by_vector = query.query(
        c,
        {
            "query": {"recommend": {"positive": [[0.0, 1.0, 0.0]], "negative": [[0, 0, 1.0]]}},
            "using": "v",
            "limit": 10,
        },
    )
    assert by_id == by_vector
    assert 1 in ids(by_id)  # ids of another collection are not left out
    # the vector name defaults to `using`; nearest by id; in a prefetch
    nearest = {"query": 1, "using": "v", "lookup_from": {"collection": "other"}, "limit": 3}
    assert ids(query.query(c, nearest, others)) == [0, 1, 2]  # nearest [0, 0, 1]: -i
    nested = {"prefetch": nearest, "query": {"fusion": "rrf"}}
    assert ids(query.query(c, nested, others)) == [0, 1, 2]
    sparse = {"query": 5, "using": "s", "lookup_from": {"collection": "sparse"}, "limit": 2}
    assert ids(query.query(c, sparse, others)) == [7, 4]  # index 1, values 8 and 5


def test_the_same_collection_leaves_its_ids_out(
    both: tuple[Database, Collection, Collection],
) -> None:
    db, c, _ = both
    body = {"query": 9, "using": "v", "lookup_from": {"collection": "c"}, "limit": 3}
    assert ids(query.query(c, body, db.collection)) == [8, 7, 6]
    legacy = {"positive": [9], "using": "v", "lookup_from": {"collection": "other"}, "limit": 2}
    with pytest.raises(NotFound, match="No point with id 9 found"):
        query.recommend(c, legacy, db.collection)
    legacy["positive"] = [3]
    assert [p["id"] for p in query.recommend(c, legacy, db.collection)] == [0, 1]


def test_errors(both: tuple[Database, Collection, Collection]) -> None:
    db, c, _ = both
    others = db.collection
    base = {"using": "v", "limit": 3}
    missing = {"collection": "nowhere", "vector": "w"}
    with pytest.raises(NotFound, match="^Collection nowhere not found$"):
        query.query(c, {**base, "query": [1.0, 0, 0], "lookup_from": missing}, others)
    with pytest.raises(NotFound, match="^Collection nowhere not found$"):
        query.query(
            c, {"prefetch": {**base, "lookup_from": missing}, "query": {"fusion": "rrf"}}, others
        )
    reco = {"recommend": {"positive": [1], "negative": [U, 4]}}
    with pytest.raises(NotFound, match="^No point with id 4 found$"):
        query.query(
            c,
            {**base, "query": reco, "lookup_from": {"collection": "other", "vector": "w"}},
            others,
        )
    with pytest.raises(BadInput, match="Not existing vector name error: nope"):
        query.query(
            c,
            {**base, "query": 1, "lookup_from": {"collection": "other", "vector": "nope"}},
            others,
        )
    # an unknown vector name shows only once a point is found (Qdrant reads its vectors)
    nope = {"collection": "other", "vector": "nope"}
    with pytest.raises(NotFound, match="^No point with id 4 found$"):
        query.query(c, {**base, "query": 4, "lookup_from": nope}, others)
    with pytest.raises(NotFound, match='Vector with name "v" for point not found'):
        query.query(c, {**base, "query": U, "lookup_from": {"collection": "other"}}, others)
    with pytest.raises(NotFound, match="Collection other not found"):
        query.query(c, {**base, "query": 1, "lookup_from": {"collection": "other"}})  # no others
