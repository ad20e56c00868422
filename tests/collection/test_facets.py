"""Facet counts through the collection layer: every index kind that answers Match, arrays,
filters, deletes and payload changes over optimized and appendable segments, checked against
counts made from a plain dict of payloads; Qdrant's order and its errors."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from vqdb.collection import facets
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput, BadRequest

pytestmark = pytest.mark.usefixtures("quick_optimizer")

UUIDS = [str(uuid.UUID(int=i * 7919 + 1)) for i in range(6)]


def collection(db: Database, threshold: int = 1) -> Collection:
    body = {
        "vectors": {"size": 2, "distance": "Dot"},
        "optimizers_config": {"indexing_threshold": threshold},
    }
    return db.create_collection("f", body)


def payload(rng: np.random.Generator, i: int) -> dict[str, Any]:
    """Scalars, arrays (with repeats), nulls and values of the wrong type for the index."""
    cities = ["Berlin", "London", "Moscow", "Paris", "Rome"]
    p: dict[str, Any] = {
        "city": [str(c) for c in rng.choice(cities, size=int(rng.integers(0, 4)))],
        "n": int(rng.integers(0, 5)),
        "u": UUIDS[int(rng.integers(0, len(UUIDS)))],
        "b": bool(rng.integers(0, 2)),
        "even": i % 2 == 0,
    }
    if i % 5 == 0:
        p["city"] = "Berlin"  # a plain string, not an array
    if i % 7 == 0:
        p["n"] = [1, 1, 3]  # a repeated value counts once
    if i % 11 == 0:
        p["n"] = "three"  # not an integer: not counted
    if i % 13 == 0:
        del p["b"]
    return p


def expected(payloads: dict[int, dict[str, Any]], key: str, keep: Callable[[Any], bool]):
    counts: Counter[Any] = Counter()
    for p in payloads.values():
        if not keep(p):
            continue
        found = p.get(key)
        values = found if isinstance(found, list) else [found]
        for v in {v for v in values if _takes(key, v)}:
            counts[v] += 1
    return sorted(counts.items(), key=lambda hit: (-hit[1], hit[0]))


def _takes(key: str, v: Any) -> bool:
    if key == "n":
        return isinstance(v, int) and not isinstance(v, bool)
    if key == "b":
        return isinstance(v, bool)
    return isinstance(v, str)


def hits(c: Collection, **body: Any) -> list[tuple[Any, int]]:
    return [(h["value"], h["count"]) for h in facets.facet(c, body)["hits"]]


def build(db: Database) -> tuple[Collection, dict[int, dict[str, Any]]]:
    """Optimized segments, then an appendable one, with deletes and payload changes in both."""
    c = collection(db)
    for key, schema in [("city", "keyword"), ("n", "integer"), ("u", "uuid"), ("b", "bool")]:
        c.create_payload_index({"field_name": key, "field_schema": schema}, wait=True)
    rng = np.random.default_rng(7)
    model: dict[int, dict[str, Any]] = {}

    def upsert(ids: range) -> None:
        points = []
        for i in ids:
            model[i] = payload(rng, i)
            points.append({"id": i, "vector": [float(i), 1.0], "payload": model[i]})
        c.upsert({"points": points}, wait=True)

    upsert(range(400))
    assert c.optimizer is not None and c.optimizer.wait_idle(60)
    assert any(not s.appendable for s in c.segments)
    upsert(range(400, 480))
    gone = list(range(0, 480, 9))
    c.delete({"points": gone}, wait=True)
    for i in gone:
        del model[i]
    c.set_payload({"payload": {"city": ["Oslo", "Oslo"]}, "points": [1, 2, 401]}, wait=True)
    for i in (1, 2, 401):
        model[i]["city"] = ["Oslo", "Oslo"]
    upsert(range(395, 405))  # ids moving between segments
    assert any(s.appendable and s.count for s in c.segments)
    return c, model


@pytest.mark.parametrize("exact", [False, True])
def test_counts_match_the_payloads(db: Database, exact: bool) -> None:
    c, model = build(db)
    for key in ("city", "n", "u", "b"):
        want = expected(model, key, lambda p: True)
        assert hits(c, key=key, exact=exact, limit=100) == want, key
        assert hits(c, key=key, exact=exact) == want[:10]
        assert hits(c, key=key, exact=exact, limit=2) == want[:2]
    even = {"must": [{"key": "even", "match": {"value": True}}]}
    assert hits(c, key="city", filter=even, limit=100, exact=exact) == expected(
        model, "city", lambda p: p["even"]
    )
    london = {"must": [{"key": "city", "match": {"value": "London"}}]}
    got = hits(c, key="city", filter=london, limit=100, exact=exact)
    assert got == expected(model, "city", lambda p: "London" in _list(p.get("city")))
    assert got[0] == ("London", dict(got)["London"])
    nothing = {"must": [{"key": "city", "match": {"value": "Atlantis"}}]}
    assert hits(c, key="city", filter=nothing, exact=exact) == []


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def test_order_is_count_then_value(db: Database) -> None:
    c = collection(db, threshold=100_000)
    c.create_payload_index({"field_name": "k", "field_schema": "keyword"}, wait=True)
    c.create_payload_index({"field_name": "b", "field_schema": "bool"}, wait=True)
    c.create_payload_index({"field_name": "n", "field_schema": "integer"}, wait=True)
    values = [("b", True, -5), ("a", False, 10), ("c", True, 2), ("a", False, -5), ("é", 1, 0)]
    points = [
        {"id": i, "vector": [1.0, 0.0], "payload": {"k": k, "b": b, "n": n}}
        for i, (k, b, n) in enumerate(values)
    ]
    c.upsert({"points": points}, wait=True)
    assert hits(c, key="k") == [("a", 2), ("b", 1), ("c", 1), ("é", 1)]
    assert hits(c, key="b") == [(False, 2), (True, 2)]  # the 1 is not a bool
    assert hits(c, key="n") == [(-5, 2), (0, 1), (2, 1), (10, 1)]


def test_uuids_are_one_value_however_written(db: Database) -> None:
    c = collection(db, threshold=100_000)
    c.create_payload_index({"field_name": "u", "field_schema": "uuid"}, wait=True)
    u = "A64A8051-3EE7-4881-8BC6-691D25C70D54"
    given = [u, u.lower(), [u, u.lower()], u.replace("-", ""), "not a uuid", UUIDS[0]]
    points = [{"id": i, "vector": [1.0, 0.0], "payload": {"u": v}} for i, v in enumerate(given)]
    c.upsert({"points": points}, wait=True)
    assert hits(c, key="u") == [(u.lower(), 4), (UUIDS[0], 1)]


def test_an_index_that_answers_match_is_required(db: Database) -> None:
    c = collection(db, threshold=100_000)
    c.upsert({"points": [{"id": 1, "vector": [1.0, 0.0], "payload": {"x": 1.5}}]}, wait=True)
    for schema in ["float", "text", {"type": "integer", "lookup": False, "range": True}]:
        c.create_payload_index({"field_name": "x", "field_schema": schema}, wait=True)
        for exact in (False, True):
            with pytest.raises(BadInput, match="No appropriate index for faceting: `x`"):
                facets.facet(c, {"key": "x", "exact": exact})
        c.delete_payload_index("x", wait=True)
    with pytest.raises(BadInput, match="No appropriate index for faceting: `missing`"):
        facets.facet(c, {"key": "missing"})
    c.create_payload_index({"field_name": "x", "field_schema": "integer"}, wait=True)
    assert hits(c, key="x") == []  # 1.5 is not an integer


def test_an_empty_collection(db: Database) -> None:
    """Qdrant's approximate facet skips segments without points before it looks for the index;
    the exact one asks every segment for it."""
    c = collection(db, threshold=100_000)
    assert hits(c, key="nothing") == []
    with pytest.raises(BadInput, match="No appropriate index"):
        facets.facet(c, {"key": "nothing", "exact": True})


def test_bad_bodies(db: Database) -> None:
    c = collection(db, threshold=100_000)
    c.create_payload_index({"field_name": "k", "field_schema": "keyword"}, wait=True)
    for body in [{}, {"key": 3}, {"key": "k", "limit": 0}, {"key": "k", "exact": "yes"}]:
        with pytest.raises(BadInput):
            facets.facet(c, body)
    with pytest.raises(BadInput):
        facets.facet(c, {"key": "k", "filter": {"must": [{"nonsense": 1}]}})


def test_counts_come_from_the_postings_not_the_payloads(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, model = build(db)
    for segment in c.segments:
        monkeypatch.setattr(segment, "payload", _no_payload_reads)
    assert hits(c, key="city", limit=100) == expected(model, "city", lambda p: True)


def _no_payload_reads(offset: int) -> None:
    raise AssertionError("a facet read a payload")


def test_strict_mode_checks_facets(db: Database) -> None:
    c = collection(db, threshold=100_000)
    c.create_payload_index({"field_name": "k", "field_schema": "keyword"}, wait=True)
    db.update_collection("f", {"strict_mode_config": {"enabled": True, "max_query_limit": 4}})
    with pytest.raises(BadRequest, match='Limit exceeded 5 > 4 for "limit"'):
        facets.facet(c, {"key": "k", "limit": 5})
    assert facets.facet(c, {"key": "k"}) == {"hits": []}  # Qdrant checks a given limit only
    db.update_collection("f", {"strict_mode_config": {"search_allow_exact": False}})
    with pytest.raises(BadRequest, match="exact"):
        facets.facet(c, {"key": "k", "exact": True})
    assert facets.facet(c, {"key": "k", "exact": False}) == {"hits": []}
