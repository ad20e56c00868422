"""Facets and the distance matrix over HTTP (a real `vqdb serve`): Qdrant's routes, request and
response shapes, status codes, and qdrant-client against the server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from served import Server, fresh_collection, ok, unique_name

POINTS = [
    {"id": 1, "vector": [0.05, 0.61, 0.76, 0.74], "payload": {"city": "Berlin", "n": 1}},
    {"id": 2, "vector": [0.19, 0.81, 0.75, 0.11], "payload": {"city": ["Berlin", "London"]}},
    {"id": 3, "vector": [0.36, 0.55, 0.47, 0.94], "payload": {"city": ["Berlin", "Moscow"]}},
    {"id": 4, "vector": [0.18, 0.01, 0.85, 0.80], "payload": {"city": ["London", "Moscow"]}},
    {"id": 5, "vector": [0.24, 0.18, 0.22, 0.44], "payload": {"n": 1, "ok": True}},
    {"id": 6, "vector": {}, "payload": {"city": "Rome", "n": 2, "ok": False}},
]


@pytest.fixture
def name(http: httpx.Client, request: pytest.FixtureRequest) -> Iterator[str]:
    body = {"vectors": {"size": 4, "distance": "Dot"}, "sparse_vectors": {"sparse-text": {}}}
    yield from fresh_collection(http, unique_name("x", request), body, POINTS)


def index(http: httpx.Client, name: str, field: str, schema: str) -> None:
    body = {"field_name": field, "field_schema": schema}
    ok(http.put(f"/collections/{name}/index?wait=true", json=body))


def test_facet(http: httpx.Client, name: str) -> None:
    index(http, name, "city", "keyword")
    index(http, name, "n", "integer")
    index(http, name, "ok", "bool")
    found = ok(http.post(f"/collections/{name}/facet", json={"key": "city"}))
    assert found == {
        "hits": [
            {"value": "Berlin", "count": 3},
            {"value": "London", "count": 2},
            {"value": "Moscow", "count": 2},
            {"value": "Rome", "count": 1},
        ]
    }
    berlin = {"must": [{"key": "city", "match": {"value": "Berlin"}}]}
    body = {"key": "city", "filter": berlin, "limit": 2, "exact": True}
    found = ok(http.post(f"/collections/{name}/facet", json=body))
    assert found == {"hits": [{"value": "Berlin", "count": 3}, {"value": "London", "count": 1}]}
    found = ok(http.post(f"/collections/{name}/facet", json={"key": "n"}))
    assert found == {"hits": [{"value": 1, "count": 2}, {"value": 2, "count": 1}]}
    found = ok(http.post(f"/collections/{name}/facet", json={"key": "ok"}))
    assert found == {"hits": [{"value": False, "count": 1}, {"value": True, "count": 1}]}


def test_facet_errors(http: httpx.Client, name: str) -> None:
    r = http.post(f"/collections/{name}/facet", json={"key": "city"})
    assert r.status_code == 400, r.text
    assert "No appropriate index for faceting: `city`" in r.json()["status"]["error"]
    r = http.post(f"/collections/{name}/facet", json={"key": "city", "limit": 0})
    assert r.status_code == 422, r.text
    r = http.post(f"/collections/{name}/facet", json={"limit": 3})
    assert r.status_code in (400, 422), r.text
    r = http.post("/collections/no-such-one/facet", json={"key": "city"})
    assert r.status_code == 404, r.text


def test_matrix_pairs_and_offsets(http: httpx.Client, name: str) -> None:
    body = {"sample": 10, "limit": 2}
    pairs = ok(http.post(f"/collections/{name}/points/search/matrix/pairs", json=body))["pairs"]
    # point 6 has no vector; Dot: 1 and 3 are each other's best
    assert [p["a"] for p in pairs] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert pairs[0]["b"] == 3 and pairs[4] == {"a": 3, "b": 1, "score": pairs[0]["score"]}
    assert pairs[0]["score"] == pytest.approx(1.4063, abs=1e-6)
    found = ok(http.post(f"/collections/{name}/points/search/matrix/offsets", json=body))
    assert found["ids"] == [1, 2, 3, 4, 5]
    assert found["offsets_row"] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    cols = [found["ids"][c] for c in found["offsets_col"]]
    assert cols == [p["b"] for p in pairs] and found["scores"] == [p["score"] for p in pairs]
    filtered = {"filter": {"must": [{"has_id": [2, 4, 5]}]}, "limit": 5}
    found = ok(http.post(f"/collections/{name}/points/search/matrix/offsets", json=filtered))
    assert found["ids"] == [2, 4, 5] and found["offsets_row"] == [0, 0, 1, 1, 2, 2]
    sparse = {"using": "sparse-text"}  # no point has one
    found = ok(http.post(f"/collections/{name}/points/search/matrix/pairs", json=sparse))
    assert found == {"pairs": []}


def test_matrix_errors(http: httpx.Client, name: str) -> None:
    base = f"/collections/{name}/points/search/matrix"
    r = http.post(f"{base}/pairs", json={"using": "wrong_vector_name"})
    assert r.status_code == 400 and "wrong_vector_name" in r.text, r.text
    # in range for a usize but not for the API: 422; not a usize at all: serde's 400
    for body, status in [({"sample": 1}, 422), ({"limit": 0}, 422), ({"sample": -3}, 400)]:
        for kind in ("pairs", "offsets"):
            r = http.post(f"{base}/{kind}", json=body)
            assert r.status_code == status, (body, r.text)


def test_openapi_lists_the_routes(http: httpx.Client) -> None:
    paths = ok_json(http.get("/openapi.json"))["paths"]
    assert paths["/collections/{collection_name}/facet"]["post"]["operationId"] == "facet"
    matrix = "/collections/{collection_name}/points/search/matrix/"
    assert paths[matrix + "pairs"]["post"]["operationId"] == "search_matrix_pairs"
    assert paths[matrix + "offsets"]["post"]["operationId"] == "search_matrix_offsets"


def ok_json(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def test_qdrant_client_against_the_server(server: Server) -> None:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(url=server.url, timeout=60)
    name = "x-qdrant-client"
    client.delete_collection(name)
    multi = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
    client.create_collection(
        name,
        vectors_config={
            "m": models.VectorParams(size=3, distance=models.Distance.DOT, multivector_config=multi)
        },
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=1),
    )
    rng = np.random.default_rng(1)
    mats = {i: rng.standard_normal((int(rng.integers(1, 4)), 3)) for i in range(60)}
    client.upsert(
        name,
        [
            models.PointStruct(id=i, vector={"m": m.tolist()}, payload={"g": i % 4})
            for i, m in mats.items()
        ],
        wait=True,
    )
    client.create_payload_index(name, "g", models.PayloadSchemaType.INTEGER, wait=True)
    facet = client.facet(name, "g", limit=3, exact=True)
    assert [(h.value, h.count) for h in facet.hits] == [(0, 15), (1, 15), (2, 15)]
    g1 = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value=1))])
    m = client.search_matrix_offsets(name, query_filter=g1, limit=2, sample=100, using="m")
    assert m.ids == [i for i in mats if i % 4 == 1]
    f32 = {i: mat.astype(np.float32) for i, mat in mats.items()}
    for r, c, s in zip(m.offsets_row, m.offsets_col, m.scores):
        a, b = m.ids[r], m.ids[c]
        others = [i for i in m.ids if i != a]
        truth = sorted(((f32[a] @ f32[i].T).max(axis=1).sum() for i in others), reverse=True)
        assert s == pytest.approx((f32[a] @ f32[b].T).max(axis=1).sum(), rel=1e-5)
        assert s >= truth[1] - 1e-5  # among the two best
    pairs = client.search_matrix_pairs(name, limit=1, sample=5, using="m").pairs
    assert len(pairs) == 5 and all(p.a != p.b for p in pairs)
    client.delete_collection(name)
