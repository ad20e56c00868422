"""Groups (query, and the legacy search and recommend): Qdrant's grouping of a query's best
points by a payload key, its keys (strings and integers, lists opened), its ranking of groups
and hits, and with_lookup."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from vqdb.collection import groups
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput, NotFound

pytestmark = pytest.mark.usefixtures("quick_optimizer")

DIM = 64  # 160 points of it pass the indexing threshold (10 KB): optimized segments


def vector(x: float, y: float = 0.0) -> list[float]:
    return [x, y, *[0.0] * (DIM - 2)]


def uid(i: int) -> str:
    return str(uuid.UUID(int=i))


@pytest.fixture
def c(db: Database) -> Collection:
    """Documents of 5 chunks: chunk j of doc d has vector (1, d/100 + j/1000) (Euclid: doc 0,
    chunk 0 is (1, 0)); doc 7's chunks have UUID ids. Optimized segments, then an appendable
    one with points next to (1, 0) whose values are lists, or not group keys."""
    c = db.create_collection(
        "c",
        {
            "vectors": {"size": DIM, "distance": "Euclid"},
            "optimizers_config": {"indexing_threshold": 10},
        },
    )
    points = [
        {
            "id": uid(d * 5 + j) if d == 7 else d * 5 + j,
            "vector": vector(1.0, d / 100 + j / 1000),
            "payload": {"doc": d, "tag": f"t{d % 3}"},
        }
        for d in range(32)
        for j in range(5)
    ]
    c.upsert({"points": points})
    assert c.optimizer.wait_idle(60)
    later = [
        {"id": 1000, "vector": vector(1.0, 0.0001), "payload": {"doc": [0, 1, "x", 1]}},
        {"id": 1001, "vector": vector(1.0, 0.0001), "payload": {"doc": [0, 2.5]}},
        {"id": 1002, "vector": vector(1.0, 0.0001), "payload": {"doc": None}},
        {"id": 1003, "vector": vector(1.0, 0.0001), "payload": {"doc": {"a": 1}}},
        {"id": 1004, "vector": vector(1.0, 0.0001), "payload": {"doc": [[0]]}},
        {"id": 1005, "vector": vector(1.0, 0.0001), "payload": {"doc": True}},
        {"id": 1006, "vector": vector(1.0, 0.0001), "payload": {"doc": []}},
        {"id": 1007, "vector": vector(1.0, 0.0001), "payload": {}},
    ]
    c.upsert({"points": later})
    assert {s.appendable for s in c.segments} == {True, False}
    return c


def shape(found: dict[str, Any]) -> list[tuple[Any, list[Any]]]:
    return [(g["id"], [h["id"] for h in g["hits"]]) for g in found["groups"]]


def test_groups_rank_by_their_best_point(c: Collection) -> None:
    body = {"query": vector(1.0), "group_by": "doc", "group_size": 3, "limit": 4}
    found = groups.query_groups(c, body)
    # 1000 holds 0, 1 and "x" (1 twice counts once); 1001 (2.5) and 1002..1007 are in no
    # group; the groups rank by their best (smallest) distance, ties in the order found
    assert shape(found) == [(0, [0, 1000, 1]), (1, [1000, 5, 6]), ("x", [1000]), (2, [10, 11, 12])]
    assert found["groups"][0]["hits"][0] == {"id": 0, "version": 1, "score": 0.0}
    assert found["groups"][1]["hits"][0]["score"] == pytest.approx(0.0001)
    with_doc = groups.query_groups(c, {**body, "with_payload": ["doc"], "with_vector": True})
    hit = with_doc["groups"][3]["hits"][0]
    assert hit["payload"] == {"doc": 2} and hit["vector"] == pytest.approx(vector(1.0, 0.02))
    uuids = groups.query_groups(c, {**body, "query": vector(1.0, 0.07), "limit": 1})
    assert shape(uuids) == [(7, [uid(35), uid(36), uid(37)])]


def test_full_groups_make_room_for_others(c: Collection) -> None:
    """Each run leaves out the points seen and the full groups, as Qdrant's driver does, so
    groups past the first run's candidates fill up."""
    body = {"query": vector(1.0), "group_by": "doc", "group_size": 5, "limit": 6}
    found = groups.query_groups(c, body)
    assert [g["id"] for g in found["groups"]] == [0, 1, "x", 2, 3, 4]
    assert shape(found)[5] == (4, [20, 21, 22, 23, 24])
    tags = groups.query_groups(c, {**body, "group_by": "tag", "limit": 10, "group_size": 2})
    assert shape(tags) == [("t0", [0, 1]), ("t1", [5, 6]), ("t2", [10, 11])]


def test_points_without_keys_starve_the_runs(c: Collection) -> None:
    """Qdrant's driver leaves out only the points it grouped: candidates whose values are no
    keys (1001, 1003..1005) come back in every run, so fewer groups than `limit` may be found
    though more exist (here doc 2's)."""
    body = {"query": vector(1.0), "group_by": "doc", "group_size": 1, "limit": 4}
    assert shape(groups.query_groups(c, body)) == [(0, [0]), (1, [1000]), ("x", [1000])]


def test_keys_paths_and_missing_keys(c: Collection) -> None:
    body = {"query": vector(1.0), "group_size": 2, "limit": 3}
    assert groups.query_groups(c, {**body, "group_by": "nowhere"}) == {"groups": []}
    # "doc[]" reaches into lists only (so not point 0's doc), and opens one more level: [[0]]
    assert shape(groups.query_groups(c, {**body, "group_by": "doc[]"})) == [
        (0, [1000, 1004]),
        (1, [1000]),
        ("x", [1000]),
    ]
    with pytest.raises(BadInput):
        groups.query_groups(c, {**body, "group_by": "doc["})
    with pytest.raises(BadInput, match="group_size"):
        groups.query_groups(c, {**body, "group_by": "doc", "group_size": 0})


def test_order_by_and_similarity_orders(c: Collection) -> None:
    c.create_payload_index({"field_name": "doc", "field_schema": "integer"})
    body = {"query": {"order_by": {"key": "doc", "direction": "desc"}}, "group_by": "tag"}
    found = groups.query_groups(c, {**body, "group_size": 2, "limit": 2})
    # best value per group: t1 has doc 31, t0 doc 30; within a group by value, ties by id
    assert shape(found) == [("t1", [159, 158]), ("t0", [154, 153])]
    assert found["groups"][0]["hits"][0] == {
        "id": 159,
        "version": 0,
        "score": 1.0,
        "order_value": 31,
    }
    far = {"query": vector(-1.0, 1.0), "group_by": "tag", "group_size": 1, "limit": 3}
    assert shape(groups.query_groups(c, far)) == [("t1", [159]), ("t0", [154]), ("t2", [149])]


def test_prefetch_limits_scale_with_group_size(c: Collection) -> None:
    prefetch = {"query": vector(1.0), "limit": 2}  # 2 * group_size candidates reach the fusion
    body = {"prefetch": prefetch, "query": {"fusion": "rrf"}, "group_by": "doc"}
    found = groups.query_groups(c, {**body, "group_size": 3, "limit": 10})
    # the first run fuses the 6 nearest with the key: 0, 1000 and four that are no group's
    # (fusion scores of different runs do not compare: doc 2's hits come in run order)
    assert shape(found)[:3] == [(0, [0, 1000, 1]), (1, [1000, 5, 6]), ("x", [1000])]


def test_legacy_search_and_recommend(c: Collection) -> None:
    base = {"group_by": "doc", "group_size": 2, "limit": 2, "with_payload": True}
    found = groups.search_groups(c, {**base, "vector": vector(1.0, 0.05)})
    assert shape(found) == [(5, [25, 26]), (4, [24, 23])]
    named = groups.search_groups(c, {**base, "vector": {"name": "", "vector": vector(1.0, 0.05)}})
    assert named == found
    reco = groups.recommend_groups(c, {**base, "positive": [25]})
    assert shape(reco) == [(5, [26, 27]), (4, [24, 23])]  # 25 itself left out
    with pytest.raises(BadInput, match="missing field `group_size`"):
        groups.search_groups(c, {"vector": vector(1.0), "group_by": "doc", "limit": 1})
    with pytest.raises(BadInput, match="below 2\\^32"):
        groups.search_groups(c, {**base, "vector": vector(1.0), "limit": 2**32})


def test_with_lookup(db: Database, c: Collection) -> None:
    docs = db.create_collection("docs", {"vectors": {"size": 2, "distance": "Dot"}})
    docs.upsert(
        {
            "points": [
                {"id": d, "vector": [1.0, float(d)], "payload": {"title": f"doc {d}"}}
                for d in (0, 2)
            ]
        }
    )
    body = {"query": vector(1.0), "group_by": "doc", "group_size": 3, "limit": 4}
    found = groups.query_groups(c, {**body, "with_lookup": "docs"}, db.collection)
    lookups = [g.get("lookup") for g in found["groups"]]
    # doc 1 has no point there, and "x" is no point id
    assert lookups == [
        {"id": 0, "payload": {"title": "doc 0"}},
        None,
        None,
        {"id": 2, "payload": {"title": "doc 2"}},
    ]
    spec = {"collection": "docs", "with_payload": False, "with_vector": True}
    found = groups.query_groups(c, {**body, "with_lookup": spec}, db.collection)
    assert found["groups"][0]["lookup"] == {"id": 0, "vector": [1.0, 0.0]}
    with pytest.raises(NotFound, match="^Collection nowhere not found$"):
        groups.query_groups(c, {**body, "with_lookup": "nowhere"}, db.collection)
    with pytest.raises(NotFound, match="^Collection nowhere not found$"):
        groups.query_groups(c, {**body, "lookup_from": {"collection": "nowhere"}}, db.collection)
