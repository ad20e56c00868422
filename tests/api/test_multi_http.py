"""Multivectors over HTTP (a real `vqdb serve`): Qdrant's shapes (multivector_config, matrices
in points, batches and queries), its status codes for bad input, and qdrant-client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from served import Server, fresh_collection, ids, ok, unique_name

MULTI = {"comparator": "max_sim"}


@pytest.fixture
def name(http: httpx.Client, request: pytest.FixtureRequest) -> Iterator[str]:
    """As Qdrant's own HTTP tests make theirs: an unnamed 4-d Dot multivector."""
    body = {"vectors": {"size": 4, "distance": "Dot", "multivector_config": MULTI}}
    points = [
        {"id": 1, "vector": [[1, 0, 0, 0], [0, 1, 0, 0]], "payload": {"k": 1}},
        {"id": 2, "vector": [[0, 0, 1, 0]], "payload": {"k": 2}},
        {"id": 3, "vector": [[0.5, 0.5, 0, 0], [0, 0, 0, 1], [1, 1, 1, 1]], "payload": {"k": 1}},
    ]
    yield from fresh_collection(http, unique_name("m", request), body, points)


def test_config_echo(http: httpx.Client, name: str) -> None:
    vectors = ok(http.get(f"/collections/{name}"))["config"]["params"]["vectors"]
    assert vectors == {"size": 4, "distance": "Dot", "multivector_config": MULTI}


def test_search_shapes(http: httpx.Client, name: str) -> None:
    q = [[1, 0, 0, 0], [0, 0, 0, 1]]  # MaxSim: 1 -> 1 + 0, 2 -> 0 + 0, 3 -> 1 + 1
    found = ok(http.post(f"/collections/{name}/points/query", json={"query": q}))
    assert ids(found) == [3, 1, 2]
    assert [p["score"] for p in found["points"]] == [2.0, 1.0, 0.0]
    nearest = {"query": {"nearest": q}, "limit": 2, "with_vector": True}
    found = ok(http.post(f"/collections/{name}/points/query", json=nearest))
    assert ids(found) == [3, 1]
    assert found["points"][1]["vector"] == [[1, 0, 0, 0], [0, 1, 0, 0]]
    flt = {"query": q, "filter": {"must": [{"key": "k", "match": {"value": 2}}]}}
    assert ids(ok(http.post(f"/collections/{name}/points/query", json=flt))) == [2]
    page = {"query": q, "offset": 1, "limit": 1, "score_threshold": 0.5}
    assert ids(ok(http.post(f"/collections/{name}/points/query", json=page))) == [1]
    by_id = ok(http.post(f"/collections/{name}/points/query", json={"query": 1}))
    assert ids(by_id) == [3, 2]  # 3: max(0.5, 1) + max(0.5, 1); the point itself left out
    batch = {"searches": [{"query": q, "limit": 1}, {"query": [[0, 0, 1, 0]], "limit": 1}]}
    results = ok(http.post(f"/collections/{name}/points/query/batch", json=batch))
    assert [ids(r) for r in results] == [[3], [2]]
    legacy = ok(http.post(f"/collections/{name}/points/search", json={"vector": [0, 0, 1, 0]}))
    assert ids(legacy)[0] in (2, 3) and legacy[0]["score"] == 1.0  # one vector: one row
    got = ok(http.post(f"/collections/{name}/points", json={"ids": [3], "with_vector": True}))
    assert got[0]["vector"] == [[0.5, 0.5, 0, 0], [0, 0, 0, 1], [1, 1, 1, 1]]


def test_writes_and_bad_input(http: httpx.Client, name: str) -> None:
    base = f"/collections/{name}/points"
    batch = {"batch": {"ids": [4, 5], "vectors": [[[0, 0, 0, 2]], [[3, 0, 0, 0], [0, 3, 0, 0]]]}}
    ok(http.put(f"{base}?wait=true", json=batch))
    update = {"points": [{"id": 2, "vector": [[0, 0, 0, 5], [1, 0, 0, 0]]}]}
    ok(http.put(f"{base}/vectors?wait=true", json=update))
    q = {"query": [[0, 0, 0, 1]], "limit": 1}
    assert ids(ok(http.post(f"{base}/query", json=q))) == [2]
    bad = [  # Qdrant's answers: its validator's (422) before the collection's checks (400)
        ([[1, 0, 0]], 400, "Vector dimension error: expected dim: 4, got 3"),
        ([[1, 0, 0, 0], [1, 0]], 422, "[points[0].vector.data: all vectors must have the same "),
        ([[1, 0, 0, 0], []], 422, "[points[0].vector.data: all vectors must be non-empty]"),
        ([], 422, "[points[0].vector: dense vector must not be empty]"),
    ]
    for vector, status, message in bad:
        r = http.put(f"{base}?wait=true", json={"points": [{"id": 9, "vector": vector}]})
        assert r.status_code == status and message in r.text, r.text
        r = http.put(f"{base}/vectors?wait=true", json={"points": [{"id": 1, "vector": vector}]})
        assert r.status_code == status and message in r.text, r.text
    # Qdrant's older API: a plain vector is a multivector of one
    ok(http.put(f"{base}?wait=true", json={"points": [{"id": 9, "vector": [0, 0, 1, 0]}]}))
    assert ok(http.get(f"{base}/9"))["vector"] == [[0, 0, 1, 0]]
    ok(http.post(f"{base}/delete?wait=true", json={"points": [9]}))
    r = http.post(f"{base}/query", json={"query": [[1, 0]]})
    assert r.status_code == 400 and "expected dim" in r.text
    ok(http.post(f"{base}/vectors/delete?wait=true", json={"points": [4], "vector": [""]}))
    assert ok(http.post(f"/collections/{name}/points/count", json={})) == {"count": 5}
    has = {"filter": {"must": [{"has_vector": ""}]}}
    assert ok(http.post(f"/collections/{name}/points/count", json=has)) == {"count": 4}
    got = ok(http.post(base, json={"ids": [1, 4], "with_vector": True}))
    assert got[0]["vector"] == [[1, 0, 0, 0], [0, 1, 0, 0]]
    assert got[1].get("vector") in (None, {})


def test_a_matrix_for_a_plain_vector_is_refused(http: httpx.Client) -> None:
    http.delete("/collections/m-plain")
    body = {"vectors": {"size": 2, "distance": "Dot"}}
    ok(http.put("/collections/m-plain", json=body))
    r = http.put("/collections/m-plain/points", json={"points": [{"id": 1, "vector": [[1, 2]]}]})
    assert r.status_code == 400 and "multivector" in r.text, r.text
    http.delete("/collections/m-plain")


def test_qdrant_client_against_the_server(server: Server) -> None:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(url=server.url, timeout=60)
    name = "m-qdrant-client"
    client.delete_collection(name)
    client.create_collection(
        name,
        vectors_config={
            "colbert": models.VectorParams(
                size=8,
                distance=models.Distance.COSINE,
                multivector_config=models.MultiVectorConfig(
                    comparator=models.MultiVectorComparator.MAX_SIM
                ),
            )
        },
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=1),
    )
    rng = np.random.default_rng(0)
    mats = [rng.standard_normal((int(rng.integers(1, 6)), 8)) for _ in range(200)]
    client.upsert(
        name,
        [models.PointStruct(id=i, vector={"colbert": m.tolist()}) for i, m in enumerate(mats)],
        wait=True,
    )
    params = client.get_collection(name).config.params.vectors["colbert"]
    assert params.multivector_config.comparator == models.MultiVectorComparator.MAX_SIM
    q = rng.standard_normal((3, 8))
    unit = [m / np.linalg.norm(m, axis=1, keepdims=True) for m in mats]
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    exact = np.array([(qn @ m.T).max(axis=1).sum() for m in unit])
    found = client.query_points(
        name,
        query=q.tolist(),
        using="colbert",
        limit=5,
        search_params=models.SearchParams(exact=True),
    ).points
    assert [p.id for p in found] == np.argsort(-exact)[:5].tolist()
    assert [p.score for p in found] == pytest.approx(np.sort(exact)[::-1][:5], rel=1e-4)
    shown = client.retrieve(name, [7], with_vectors=True)[0].vector["colbert"]
    np.testing.assert_allclose(shown, unit[7], rtol=1e-5, atol=1e-6)
    client.delete_collection(name)
