"""The Query API's tree: prefetches feeding a rescoring query or a fusion (RRF, DBSF), with the
filters of the levels above applied below, as Qdrant evaluates it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vqdb.collection import fusion, query
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput

pytestmark = pytest.mark.usefixtures("quick_optimizer")

N, DIM = 400, 16


def test_rrf_and_dbsf_by_hand() -> None:
    x, y, z, w = 10, 11, 12, 13
    a, a_scores = np.array([x, y, z]), np.array([0.9, 0.5, 0.1], np.float32)
    b, b_scores = np.array([y, w]), np.array([3.0, 1.0], np.float32)

    def fused(keys: Any, scores: Any) -> dict[int, float]:
        return dict(zip(keys.tolist(), scores.tolist()))

    assert fused(*fusion.rrf([a, b])) == pytest.approx(
        {x: 1 / 2, y: 1 / 3 + 1 / 2, z: 1 / 4, w: 1 / 3}
    )
    assert fusion.rrf([a, b])[0].tolist() == [y, x, w, z]
    weighted = fused(*fusion.rrf([a, b], k=5, weights=[2.0, 0.0]))
    assert weighted == pytest.approx({x: 1 / 4.5, y: 1 / 5, z: 1 / 5.5, w: 0.0})
    # ties keep the order in which the points were first seen, not the keys' order
    assert fusion.rrf([np.array([13, 12]), np.array([12, 13])])[0].tolist() == [13, 12]
    with pytest.raises(ValueError, match="Number of weights"):
        fusion.rrf([a, b], weights=[1.0])
    scores = a_scores.astype(np.float64)
    low, high = scores.mean() - 3 * scores.std(ddof=1), scores.mean() + 3 * scores.std(ddof=1)
    expected = {k: (s - low) / (high - low) for k, s in zip(a.tolist(), scores)}
    spread = 6 * np.std([3.0, 1.0], ddof=1)  # b: mean 2, so 3 and 1 sit 1 above and below it
    expected[y] += 0.5 + 1.0 / spread
    expected[w] = 0.5 - 1.0 / spread
    assert fused(*fusion.dbsf([a, b], [a_scores, b_scores])) == pytest.approx(expected, rel=1e-6)
    only = fusion.dbsf([np.array([7])], [np.array([7.0], np.float32)])
    assert fused(*only) == {7: 0.5}


@pytest.fixture
def hybrid(db: Database) -> Collection:
    """Dense (binary quantized, so prefetch + rescoring matters) and sparse vectors."""
    body = {
        "vectors": {
            "d": {
                "size": DIM,
                "distance": "Cosine",
                "quantization_config": {"binary": {"always_ram": True}},
            }
        },
        "sparse_vectors": {"s": {}},
        "optimizers_config": {"indexing_threshold": 10},
    }
    c = db.create_collection("c", body)
    rng = np.random.default_rng(1)
    dense = rng.standard_normal((N, DIM))
    points = [
        {
            "id": i,
            "vector": {
                "d": dense[i].tolist(),
                "s": {"indices": [i % 13, 20 + i % 7], "values": [1.0, float(i % 5)]},
            },
            "payload": {"k": i % 4},
        }
        for i in range(N)
    ]
    c.upsert({"points": points})
    assert c.optimizer.wait_idle(60)
    return c


def ranked(found: dict[str, Any]) -> list[tuple[Any, float]]:
    return [(p["id"], p["score"]) for p in found["points"]]


def same(got: list[tuple[Any, float]], expected: list[tuple[Any, float]]) -> None:
    assert [i for i, _ in got] == [i for i, _ in expected]
    assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=1e-5)


def fuse(how: str, lists: list[list[tuple[Any, float]]], *args: Any) -> list[tuple[Any, float]]:
    """fusion.py over lists of (integer id, score) as query answers them."""
    keys = [np.array([pid for pid, _ in found], np.int64) for found in lists]
    scores = [np.array([score for _, score in found], np.float32) for found in lists]
    fused = fusion.dbsf(keys, scores) if how == "dbsf" else fusion.rrf(keys, *args)
    return list(zip(fused[0].tolist(), fused[1].tolist()))


def exact_body(q: list[float]) -> dict[str, Any]:
    return {"query": q, "using": "d", "limit": 10, "params": {"exact": True}}


def test_prefetch_then_rescore_equals_an_exact_search(hybrid: Collection) -> None:
    q = np.random.default_rng(2).standard_normal(DIM).tolist()
    exact = query.query(hybrid, exact_body(q))
    binary = {"query": q, "using": "d", "limit": 100}  # candidates from the binary codes
    nested = {"prefetch": binary, "query": q, "using": "d", "limit": 10}
    candidates = [p["id"] for p in query.query(hybrid, binary)["points"]]
    among = {"must": {"has_id": candidates}}
    rescored = query.query(hybrid, {**exact_body(q), "filter": among})
    same(ranked(query.query(hybrid, nested)), ranked(rescored))
    everything = {"prefetch": {"limit": 1000}, "query": q, "using": "d", "limit": 10}
    same(ranked(query.query(hybrid, everything)), ranked(exact))


def test_hybrid_fusion(hybrid: Collection) -> None:
    q = np.random.default_rng(3).standard_normal(DIM).tolist()
    sparse = {"indices": [3, 22], "values": [1.0, 0.5]}
    keep = {"must": [{"key": "k", "match": {"any": [1, 2]}}]}
    dense_part = {"query": q, "using": "d", "limit": 30}
    sparse_part = {"query": sparse, "using": "s", "limit": 30}
    lists = [
        ranked(query.query(hybrid, {**part, "filter": keep})) for part in (dense_part, sparse_part)
    ]
    for kind, expected in (("rrf", fuse("rrf", lists)), ("dbsf", fuse("dbsf", lists))):
        body = {
            "prefetch": [dense_part, sparse_part],
            "query": {"fusion": kind},
            "filter": keep,  # applies to every prefetch
            "limit": 15,
        }
        got = ranked(query.query(hybrid, body))
        same(got, expected[:15])
    weighted = {
        "prefetch": [dense_part, sparse_part],
        "query": {"rrf": {"k": 10, "weights": [1, 3]}},
    }
    got = ranked(query.query(hybrid, {**weighted, "filter": keep, "limit": 5}))
    same(got, fuse("rrf", lists, 10, [1, 3])[:5])
    threshold = got[2][1]
    cut = query.query(
        hybrid, {**weighted, "filter": keep, "limit": 5, "score_threshold": threshold}
    )
    same(ranked(cut), got[:3])


def test_nested_prefetches_and_their_filters(hybrid: Collection) -> None:
    q = np.random.default_rng(4).standard_normal(DIM).tolist()
    inner = {
        "query": q,
        "using": "d",
        "limit": 50,
        "filter": {"must": {"key": "k", "match": {"value": 1}}},
    }
    middle = {
        "prefetch": inner,
        "query": {"indices": [1, 2, 3, 4], "values": [1.0] * 4},
        "using": "s",
        "limit": 20,
    }
    body = {"prefetch": middle, "query": q, "using": "d", "limit": 5}
    found = query.query(hybrid, body)["points"]
    assert found and all(p["id"] % 4 == 1 for p in found)
    page = query.query(hybrid, {**body, "offset": 2, "limit": 3})["points"]
    assert [p["id"] for p in page] == [p["id"] for p in found][2:5]


def test_refusals(hybrid: Collection) -> None:
    with pytest.raises(BadInput, match="A query is needed to merge the prefetches"):
        query.query(hybrid, {"prefetch": {"query": [0.0] * DIM, "using": "d"}})
    with pytest.raises(BadInput, match="fusion query needs prefetches"):
        query.query(hybrid, {"query": {"fusion": "rrf"}})
    deep: dict[str, Any] = {"query": [1.0] * DIM, "using": "d"}
    for _ in range(70):
        deep = {"prefetch": deep, "query": [1.0] * DIM, "using": "d"}
    with pytest.raises(BadInput, match="exceeds max depth 64"):
        query.query(hybrid, deep)
    two = [{"query": [1.0] * DIM, "using": "d"}] * 2
    with pytest.raises(BadInput, match="Number of weights in RRF"):
        query.query(hybrid, {"prefetch": two, "query": {"rrf": {"weights": [1]}}})
    for k in (0, -1, 2.5, "a", [1], True):  # the engine's own check: the client sends dicts
        with pytest.raises(BadInput, match="rrf k must be an integer of at least 1"):
            query.query(hybrid, {"prefetch": two, "query": {"rrf": {"k": k}}})
    for weights in (["a", 1], [[1], 2], [None, 1], 5, "ab"):
        with pytest.raises(BadInput, match="rrf weights must be a list of numbers"):
            query.query(hybrid, {"prefetch": two, "query": {"rrf": {"weights": weights}}})
    fused = query.query(hybrid, {"prefetch": two, "query": {"rrf": {"k": np.int64(3)}}})
    assert fused["points"]


@pytest.mark.parametrize("distance", ["Cosine", "Euclid", "Dot"])
def test_rescoring_a_prefetch_as_one_oversampled_search(db: Database, distance: str) -> None:
    """A nearest query over a prefetch of the same vector runs as one oversampled search
    (query._rescoring); it must answer what the two stages answer. Hard data: tight clusters of
    raw, unnormalised vectors, where binary codes rank poorly and rescoring decides."""
    body = {
        "vectors": {
            "size": DIM,
            "distance": distance,
            "quantization_config": {"binary": {"always_ram": True}},
        },
        "optimizers_config": {"indexing_threshold": 10},
        "hnsw_config": {"full_scan_threshold": 10},  # a filter keeps the graph walk
    }
    c = db.create_collection("clustered", body)
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((5, DIM)) * 10
    x = centres[rng.integers(0, 5, N)] + rng.standard_normal((N, DIM)) * 0.3
    c.upsert(
        {"points": [{"id": i, "vector": x[i].tolist(), "payload": {"k": i}} for i in range(N)]}
    )
    assert c.optimizer.wait_idle(60)
    everyone = {"must": [{"key": "k", "range": {"gte": 0}}]}  # keeps the two stages apart
    for q in (x[3] + 0.01, centres[1], rng.standard_normal(DIM) * 10):
        for params in ({"quantization": {"rescore": False}}, None, {"hnsw_ef": 16}):
            prefetch = {"query": q.tolist(), "limit": 30, "params": params}
            one = {"prefetch": prefetch, "query": q.tolist(), "limit": 10, "offset": 2}
            two = {**one, "prefetch": {**prefetch, "filter": everyone}}
            assert query._rescoring(c, query._request(c, one, False), q.tolist(), [prefetch])
            same(ranked(query.query(c, one)), ranked(query.query(c, two)))
    # a prefetch of fewer points than the page, another vector, or a filter: two stages
    r = query._request(c, {"limit": 10}, False)
    assert not query._rescoring(c, r, q.tolist(), [{"query": q.tolist(), "limit": 5}])
    assert not query._rescoring(c, r, q.tolist(), [{"query": (q + 1).tolist(), "limit": 50}])
    assert not query._rescoring(c, r, q.tolist(), [{"query": q.tolist(), "filter": everyone}])
