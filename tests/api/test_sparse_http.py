"""Sparse vectors over HTTP (a real `vqdb serve`): Qdrant's request and response shapes, its
status codes for bad input, and qdrant-client against the server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from served import Server, fresh_collection, ids, ok, unique_name

A = {"indices": [1, 7], "values": [0.5, 0.25]}
B = {"indices": [7, 9], "values": [1.0, 2.0]}


@pytest.fixture
def name(http: httpx.Client, request: pytest.FixtureRequest) -> Iterator[str]:
    """A collection as Qdrant's own HTTP tests make theirs: a dense vector and "sparse-text"."""
    body = {
        "vectors": {"image": {"size": 2, "distance": "Dot"}},
        "sparse_vectors": {"sparse-text": {}},
    }
    points = [
        {"id": 1, "vector": {"image": [1, 0], "sparse-text": A}, "payload": {"k": 1}},
        {"id": 2, "vector": {"sparse-text": B}, "payload": {"k": 2}},
        {"id": 3, "vector": {"image": [0, 1]}, "payload": {"k": 1}},
    ]
    yield from fresh_collection(http, unique_name("s", request), body, points)


def test_config_echo_and_update(http: httpx.Client, name: str) -> None:
    params = ok(http.get(f"/collections/{name}"))["config"]["params"]
    assert params["sparse_vectors"] == {"sparse-text": {}}
    diff = {"sparse_vectors": {"sparse-text": {"modifier": "idf", "index": {"on_disk": True}}}}
    ok(http.patch(f"/collections/{name}", json=diff))
    params = ok(http.get(f"/collections/{name}"))["config"]["params"]
    assert params["sparse_vectors"] == {
        "sparse-text": {"modifier": "idf", "index": {"on_disk": True}}
    }
    missing = http.patch(f"/collections/{name}", json={"sparse_vectors": {"nope": {}}})
    assert missing.status_code == 400 and "nope" in missing.text
    bad = http.put(f"/collections/{name}-bad", json={"sparse_vectors": {"s": {"modifier": "x"}}})
    assert bad.status_code == 400


def test_search_shapes(http: httpx.Client, name: str) -> None:
    q = {"indices": [7], "values": [1.0]}
    found = ok(
        http.post(f"/collections/{name}/points/query", json={"query": q, "using": "sparse-text"})
    )
    assert ids(found) == [2, 1] and [p["score"] for p in found["points"]] == [1.0, 0.25]
    nearest = {
        "query": {"nearest": q},
        "using": "sparse-text",
        "filter": {"must": [{"key": "k", "match": {"value": 1}}]},
    }
    assert ids(ok(http.post(f"/collections/{name}/points/query", json=nearest))) == [1]
    legacy = {"vector": {"name": "sparse-text", "vector": q}, "limit": 5, "with_vector": True}
    hits = ok(http.post(f"/collections/{name}/points/search", json=legacy))
    assert ids(hits) == [2, 1] and hits[1]["vector"] == {"image": [1.0, 0.0], "sparse-text": A}
    batch = {
        "searches": [
            {"query": q, "using": "sparse-text", "limit": 1},
            {"query": [1, 0], "using": "image"},
        ]
    }
    answers = ok(http.post(f"/collections/{name}/points/query/batch", json=batch))
    assert [ids(a) for a in answers] == [[2], [1, 3]]
    records = ok(
        http.post(f"/collections/{name}/points", json={"ids": [2, 3], "with_vector": True})
    )
    assert [r["vector"] for r in records] == [{"sparse-text": B}, {"image": [0.0, 1.0]}]
    by_id = {"query": 1, "using": "sparse-text"}  # point 1's sparse vector; 1 itself left out
    assert ids(ok(http.post(f"/collections/{name}/points/query", json=by_id))) == [2]
    has = {"filter": {"must": [{"has_vector": "sparse-text"}]}}
    assert ok(http.post(f"/collections/{name}/points/count", json=has)) == {"count": 2}


def test_writes_and_bad_input(http: httpx.Client, name: str) -> None:
    base = f"/collections/{name}/points"
    batch = {
        "batch": {
            "ids": [4, 5],
            "vectors": {"sparse-text": [{"indices": [9, 3], "values": [1.0, 1.0]}, A]},
        }
    }
    ok(http.put(f"{base}?wait=true", json=batch))
    stored = ok(http.post(base, json={"ids": [4], "with_vector": ["sparse-text"]}))
    assert stored[0]["vector"] == {"sparse-text": {"indices": [3, 9], "values": [1.0, 1.0]}}
    ok(
        http.put(
            f"{base}/vectors?wait=true", json={"points": [{"id": 3, "vector": {"sparse-text": B}}]}
        )
    )
    ok(
        http.post(
            f"{base}/vectors/delete?wait=true", json={"points": [1], "vector": ["sparse-text"]}
        )
    )
    q = {"query": {"indices": [7, 9], "values": [1.0, 1.0]}, "using": "sparse-text", "limit": 10}
    assert ids(ok(http.post(f"{base}/query", json=q))) == [2, 3, 4, 5]
    bad_vectors = [  # Qdrant's validator refuses the first two (422), serde the last (400)
        (
            {"indices": [1, 2], "values": [1.0]},
            422,
            "values: Validation error: must be the same length",
        ),
        ({"indices": [2, 2], "values": [1.0, 1.0]}, 422, "indices: Validation error: must be uniq"),
        ({"indices": [-1], "values": [1.0]}, 400, "indices"),
    ]
    for vector, status, message in bad_vectors:
        for body in (
            {
                "points": [
                    {"id": 6, "vector": {"sparse-text": A}},
                    {"id": 7, "vector": {"sparse-text": vector}},
                ]
            },
            {"batch": {"ids": [6, 7], "vectors": {"sparse-text": [A, vector]}}},
        ):
            response = http.put(f"{base}?wait=true", json=body)
            assert response.status_code == status and message in response.text, response.text
        response = http.put(
            f"{base}/vectors", json={"points": [{"id": 2, "vector": {"sparse-text": vector}}]}
        )
        assert response.status_code == status and message in response.text, response.text
    unknown = http.put(base, json={"points": [{"id": 6, "vector": {"nope": A}}]})
    assert unknown.status_code == 400 and "nope" in unknown.text
    unknown = http.post(f"{base}/query", json={"query": A, "using": "nope"})
    assert unknown.status_code == 400
    assert ok(http.post(f"{base}/count", json={})) == {"count": 5}  # nothing lost, nothing added
    assert ids(ok(http.post(f"{base}/query", json=q))) == [2, 3, 4, 5]


def test_qdrant_client_against_the_server(server: Server) -> None:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(url=server.url, timeout=60)
    name = "s-qdrant-client"
    if client.collection_exists(name):
        client.delete_collection(name)
    client.create_collection(
        name,
        vectors_config={},
        sparse_vectors_config={"text": models.SparseVectorParams(modifier=models.Modifier.IDF)},
    )
    rng = np.random.default_rng(0)
    points = []
    for i in range(50):
        terms = sorted(rng.choice(30, size=4, replace=False).tolist())
        vector = models.SparseVector(indices=terms, values=[1.0] * 4)
        points.append(models.PointStruct(id=i, vector={"text": vector}))
    client.upsert(name, points)
    info = client.get_collection(name)
    assert info.points_count == 50
    assert info.config.params.sparse_vectors["text"].modifier == models.Modifier.IDF
    term = points[0].vector["text"].indices[0]
    holders = [p.id for p in points if term in p.vector["text"].indices]
    found = client.query_points(
        name, models.SparseVector(indices=[term], values=[1.0]), using="text", limit=100
    ).points
    assert sorted(p.id for p in found) == sorted(holders)
    expected = np.log((50 - len(holders) + 0.5) / (len(holders) + 0.5) + 1)
    assert all(abs(p.score - expected) < 1e-5 for p in found)
    record = client.retrieve(name, [0], with_vectors=True)[0]
    assert record.vector["text"] == points[0].vector["text"]
    client.delete_collection(name)
    client.close()
