"""order_by (scroll and the Query API) and the random sample, over optimized and appendable
segments, as Qdrant orders: ties by point id, a point once per distinct value, values from
the range index only."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from vqdb.collection import query, reads
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput

pytestmark = pytest.mark.usefixtures("quick_optimizer")

U1, U2 = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
DIM = 100  # 40 points of it pass the indexing threshold (10 KB): an optimized segment


def vector(*head: float) -> list[float]:
    return [*head, *[0.0] * (DIM - len(head))]


def payload(i: int) -> dict[str, Any]:
    return {
        "n": i % 5,  # ties: 8 points per value
        "f": 10.0 - i / 4,
        "when": f"2024-01-{1 + i % 28:02d}T00:00:00Z",
        "k": "even" if i % 2 == 0 else "odd",
    }


@pytest.fixture
def c(db: Database) -> Collection:
    """40 points in optimized segments, then a few more in the appendable one, one deleted;
    with indexes on n (integer), f (float), when (datetime), k (keyword)."""
    c = db.create_collection(
        "c",
        {
            "vectors": {"size": DIM, "distance": "Dot"},
            "optimizers_config": {"indexing_threshold": 10},
        },
    )
    for field, schema in [("n", "integer"), ("f", "float"), ("when", "datetime")]:
        c.create_payload_index({"field_name": field, "field_schema": schema})
    c.create_payload_index({"field_name": "k", "field_schema": "keyword"})
    points = [{"id": i, "vector": vector(1.0, i / 40), "payload": payload(i)} for i in range(40)]
    c.upsert({"points": points})
    assert c.optimizer.wait_idle(60)
    extra = [
        {"id": U2, "vector": vector(1.0), "payload": {"n": 2, "f": 0.5}},
        {"id": U1, "vector": vector(1.0), "payload": {"n": [2, 2, 7], "f": "x"}},
        {"id": 100, "vector": vector(1.0), "payload": {"n": [2.5, True, 3], "f": 1}},
        {"id": 101, "vector": vector(1.0), "payload": {"other": 1}},
    ]
    c.upsert({"points": extra})
    c.delete({"points": [3]})
    kinds = {s.appendable for s in c.segments}
    assert kinds == {True, False}, "the fixture needs optimized and appendable segments"
    return c


def ids_values(found: dict[str, Any]) -> list[tuple[Any, Any]]:
    return [(p["id"], p["order_value"]) for p in found["points"]]


def test_scroll_ascending_ties_by_id_lists_and_types(c: Collection) -> None:
    found = reads.scroll(c, {"order_by": "n", "limit": 12, "with_payload": False})
    assert found["next_page_offset"] is None
    assert ids_values(found)[:12] == [
        *((i, 0) for i in (0, 5, 10, 15, 20, 25, 30, 35)),
        *((i, 1) for i in (1, 6, 11, 16)),
    ]
    twos = [
        pid for pid, v in ids_values(reads.scroll(c, {"order_by": "n", "limit": 100})) if v == 2
    ]
    # ints before UUIDs, as Qdrant's ids order; U1's [2, 2, 7] counts 2 once; 2.5 and True in an
    # integer index are not integers (point 100 orders by 3 only); 3 was deleted
    assert twos == [2, 7, 12, 17, 22, 27, 32, 37, U1, U2]
    everything = ids_values(reads.scroll(c, {"order_by": "n", "limit": 100}))
    assert (U1, 7) in everything and (100, 3) in everything and (100, 2) not in everything
    assert 101 not in [pid for pid, _ in everything] and 3 not in [pid for pid, _ in everything]
    assert len(everything) == 39 + 3 + 1  # live points with n, plus U1's second value


def test_scroll_descending_start_from_and_filter(c: Collection) -> None:
    body = {"order_by": {"key": "n", "direction": "desc", "start_from": 2}, "limit": 4}
    assert ids_values(reads.scroll(c, body)) == [(U2, 2), (U1, 2), (37, 2), (32, 2)]
    body["filter"] = {"must": [{"key": "k", "match": {"value": "even"}}]}
    assert ids_values(reads.scroll(c, body)) == [(32, 2), (22, 2), (12, 2), (2, 2)]
    up = {"order_by": {"key": "n", "start_from": 3.5}, "limit": 3}
    assert ids_values(reads.scroll(c, up)) == [(4, 4), (9, 4), (14, 4)]


def test_float_and_datetime_values(c: Collection) -> None:
    floats = ids_values(reads.scroll(c, {"order_by": {"key": "f", "direction": "desc"}}))
    assert floats[:3] == [(0, 10.0), (1, 9.75), (2, 9.5)]
    last = ids_values(reads.scroll(c, {"order_by": "f", "limit": 6}))
    # an integer in a float index orders as a float
    assert last == [(39, 0.25), (38, 0.5), (U2, 0.5), (37, 0.75), (36, 1.0), (100, 1.0)]
    assert isinstance(last[-1][1], float)
    dates = ids_values(reads.scroll(c, {"order_by": "when", "limit": 3}))
    jan1 = 1704067200 * 10**6
    assert dates == [(0, jan1), (28, jan1), (1, jan1 + 86400 * 10**6)]
    start = {"key": "when", "start_from": "2024-01-28"}  # a date alone is midnight UTC
    assert ids_values(reads.scroll(c, {"order_by": start})) == [(27, jan1 + 27 * 86400 * 10**6)]


def test_scroll_refusals(c: Collection) -> None:
    with pytest.raises(BadInput, match="Cannot use an `offset` when using `order_by`"):
        reads.scroll(c, {"order_by": "n", "offset": 1})
    for key in ("k", "nowhere"):
        with pytest.raises(BadInput, match=f"No range index for `order_by` key: `{key}`"):
            reads.scroll(c, {"order_by": key})
    c.create_payload_index(
        {"field_name": "f", "field_schema": {"type": "integer", "range": False, "lookup": True}}
    )
    with pytest.raises(BadInput, match="No range index"):
        reads.scroll(c, {"order_by": "f"})
    with pytest.raises(BadInput, match="direction"):
        reads.scroll(c, {"order_by": {"key": "n", "direction": "up"}})
    with pytest.raises(BadInput, match="start_from"):
        reads.scroll(c, {"order_by": {"key": "n", "start_from": "soon"}})


def test_order_by_query_root_and_rescoring(c: Collection) -> None:
    body = {"query": {"order_by": {"key": "n", "direction": "desc"}}, "limit": 5}
    root = query.query(c, body)["points"]
    assert [(p["id"], p["order_value"], p["score"], p["version"]) for p in root] == [
        (U1, 7, 1.0, 0),
        (39, 4, 1.0, 0),  # ties by id, descending too
        (34, 4, 1.0, 0),
        (29, 4, 1.0, 0),
        (24, 4, 1.0, 0),
    ]
    nested = query.query(c, {**body, "prefetch": {"limit": 1000}})["points"]
    assert nested == root
    paged = query.query(c, {**body, "offset": 2, "limit": 2})["points"]
    assert [p["id"] for p in paged] == [34, 29]
    # over a prefetch: only its candidates
    near = {"query": vector(0.0, 1.0), "limit": 3}  # the largest ids: 39, 38, 37
    over = query.query(c, {"prefetch": near, "query": {"order_by": "n"}})["points"]
    assert [(p["id"], p["order_value"]) for p in over] == [(37, 2), (38, 3), (39, 4)]
    with pytest.raises(BadInput, match="Can't use score_threshold with an order_by query"):
        query.query(c, {**body, "score_threshold": 0.5})
    with pytest.raises(BadInput, match="Can't use score_threshold with an order_by query"):
        query.query(c, {"prefetch": {**body, "score_threshold": 0.5}, "query": {"fusion": "rrf"}})


def test_random_sample(c: Collection) -> None:
    body = {"query": {"sample": "random"}, "limit": 50, "offset": 7}
    found = query.query(c, body)["points"]  # the offset means nothing to a random sample
    assert len(found) == 43 and len({p["id"] for p in found}) == 43
    assert {(p["score"], p["version"]) for p in found} == {(1.0, 0)}
    assert all("order_value" not in p for p in found)
    orders = {
        tuple(p["id"] for p in query.query(c, {**body, "limit": 10})["points"]) for _ in range(5)
    }
    assert len(orders) > 1
    only = {"must": [{"key": "k", "match": {"value": "odd"}}]}
    sampled = query.query(c, {**body, "filter": only, "limit": 100})["points"]
    assert sorted(p["id"] for p in sampled) == [i for i in range(1, 40, 2) if i != 3]
    over = {"prefetch": {"limit": 2}, "query": {"sample": "random"}, "offset": 1}
    seen = {query.query(c, over)["points"][0]["id"] for _ in range(60)}
    assert seen == {0, 1}  # the prefetch's points, one left after the offset


def test_no_query_scores_one(c: Collection) -> None:
    found = query.query(c, {"limit": 2})["points"]
    assert [(p["id"], p["score"], p["version"]) for p in found] == [(0, 1.0, 0), (1, 1.0, 0)]
