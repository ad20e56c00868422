"""float16 and uint8 vectors over HTTP (a real `vqdb serve`): Qdrant's own uint8 multivector
tests (tests/openapi/test_multi_vector_uint8.py: stored integers, truncation), float16 rounding,
the config echo, the sparse refusal, and qdrant-client with models.Datatype."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from served import Server, ok

MULTI = {"comparator": "max_sim"}


@pytest.fixture(params=[False, True], ids=["ram", "on_disk"])
def uint8_multi(http: httpx.Client, request: pytest.FixtureRequest) -> Iterator[str]:
    """Qdrant's multivector_uint8_collection_setup."""
    name = f"u8-{zlib.crc32(request.node.name.encode())}"
    http.delete(f"/collections/{name}")
    vector = {
        "size": 4,
        "distance": "Dot",
        "on_disk": request.param,
        "datatype": "uint8",
        "multivector_config": MULTI,
    }
    ok(http.put(f"/collections/{name}", json={"vectors": {"my-multivec": vector}}))
    assert ok(http.get(f"/collections/{name}"))["config"]["params"]["vectors"] == {
        "my-multivec": vector
    }
    yield name
    http.delete(f"/collections/{name}")


def test_multi_vector_uint8_persisted(http: httpx.Client, uint8_multi: str) -> None:
    name = uint8_multi
    points = [
        {"id": 1, "vector": {"my-multivec": [[1.05, 1.61, 1.76, 1.74], [2.05, 2.61, 2.76, 2.74],
                                              [3.05, 3.61, 3.76, 3.74]]}},
        {"id": 2, "vector": {"my-multivec": [[3.19, 3.81, 3.75, 3.11], [2.19, 2.81, 2.75, 2.11],
                                              [1.19, 1.81, 1.75, 1.11]]}},
        {"id": 3, "vector": {"my-multivec": [[2.36, 2.55, 2.47, 2.94], [1.36, 1.55, 1.47, 1.94],
                                              [3.36, 3.55, 3.47, 3.94]]}},
    ]  # fmt: skip
    ok(http.put(f"/collections/{name}/points?wait=true", json={"points": points}))
    scrolled = ok(
        http.post(f"/collections/{name}/points/scroll", json={"limit": 10, "with_vector": True})
    )
    assert len(scrolled["points"]) == 3
    first = scrolled["points"][0]
    assert first["id"] == 1
    assert first["vector"]["my-multivec"] == [[1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3]]
    point = ok(http.get(f"/collections/{name}/points/2"))
    assert point["vector"]["my-multivec"] == [[3, 3, 3, 3], [2, 2, 2, 2], [1, 1, 1, 1]]
    # scores are MaxSim over the stored integers, the query truncated the same way
    q = {"query": [[1.9, 0, 0, 0.5]], "using": "my-multivec", "with_vector": False}
    found = ok(http.post(f"/collections/{name}/points/query", json=q))["points"]
    assert [(p["id"], p["score"]) for p in found] == [(1, 3.0), (2, 3.0), (3, 3.0)]
    ok(http.post(f"/collections/{name}/points/delete?wait=true", json={"points": [2]}))
    assert http.get(f"/collections/{name}/points/2").status_code == 404


def test_multi_vector_uint8_truncation(http: httpx.Client, uint8_multi: str) -> None:
    name = uint8_multi
    point = {"id": 1, "vector": {"my-multivec": [[256.19, 1.81, 2.75, 3.11]]}}
    ok(http.put(f"/collections/{name}/points?wait=true", json={"points": [point]}))
    shown = ok(http.get(f"/collections/{name}/points/1"))
    assert shown["vector"]["my-multivec"] == [[255, 1, 2, 3]]


def test_float16_dense_rounds(http: httpx.Client) -> None:
    name = "f16-dense"
    http.delete(f"/collections/{name}")
    vector = {"size": 3, "distance": "Euclid", "datatype": "float16"}
    ok(http.put(f"/collections/{name}", json={"vectors": vector}))
    points = [{"id": 1, "vector": [0.1, 1000.3, -2.5]}, {"id": 2, "vector": [0.0, 0.0, 0.0]}]
    ok(http.put(f"/collections/{name}/points?wait=true", json={"points": points}))
    shown = ok(http.get(f"/collections/{name}/points/1"))["vector"]
    # float16's nearest values (0.1 is 0.0999755859375)
    expected = np.array([0.1, 1000.3, -2.5], np.float16).astype(np.float32)
    np.testing.assert_array_equal(np.array(shown, np.float32), expected)
    assert shown[1:] == [1000.5, -2.5]
    found = ok(http.post(f"/collections/{name}/points/query", json={"query": [0.1, 1000.3, -2.5]}))
    assert [p["id"] for p in found["points"]] == [1, 2]
    assert found["points"][0]["score"] == 0.0  # the query is rounded as the vector was
    http.delete(f"/collections/{name}")


def test_sparse_narrow_datatypes_are_refused(http: httpx.Client) -> None:
    for datatype in ("float16", "uint8"):
        body = {"sparse_vectors": {"s": {"index": {"datatype": datatype}}}}
        r = http.put("/collections/sparse-dt", json=body)
        assert r.status_code == 400, r.text
        assert f"datatype '{datatype}' is not supported" in r.json()["status"]["error"]
    assert http.get("/collections/sparse-dt").status_code == 404


def test_qdrant_client_datatypes(server: Server) -> None:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(url=server.url, timeout=60)
    name = "dt-qdrant-client"
    client.delete_collection(name)
    client.create_collection(
        name,
        vectors_config={
            "half": models.VectorParams(
                size=16, distance=models.Distance.COSINE, datatype=models.Datatype.FLOAT16
            ),
            "byte": models.VectorParams(
                size=16,
                distance=models.Distance.EUCLID,
                datatype=models.Datatype.UINT8,
                on_disk=True,
            ),
        },
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=1),
    )
    rng = np.random.default_rng(0)
    half = rng.standard_normal((300, 16)).astype(np.float32)
    byte = rng.integers(0, 256, (300, 16)).astype(np.float32)
    client.upsert(
        name,
        [
            models.PointStruct(id=i, vector={"half": half[i].tolist(), "byte": byte[i].tolist()})
            for i in range(300)
        ],
        wait=True,
    )
    params = client.get_collection(name).config.params.vectors
    assert params["half"].datatype == models.Datatype.FLOAT16
    assert params["byte"].datatype == models.Datatype.UINT8
    unit = half / np.linalg.norm(half, axis=1, keepdims=True)
    stored_half = unit.astype(np.float16).astype(np.float32)
    shown = client.retrieve(name, [7], with_vectors=True)[0].vector
    np.testing.assert_array_equal(np.array(shown["half"], np.float32), stored_half[7])
    assert shown["byte"] == byte[7].tolist()
    q = rng.integers(0, 256, 16).astype(np.float32)
    exact = np.sqrt(((byte.astype(np.float64) - q) ** 2).sum(1))
    found = client.query_points(name, query=q.tolist(), using="byte", limit=5).points
    assert [p.score for p in found] == pytest.approx(np.sort(exact)[:5], rel=1e-5)
    qh = rng.standard_normal(16).astype(np.float32)
    qs = (qh / np.linalg.norm(qh)).astype(np.float16).astype(np.float64)
    cos = stored_half.astype(np.float64) @ qs
    found = client.query_points(name, query=qh.tolist(), using="half", limit=5).points
    assert [p.id for p in found] == np.argsort(-cos)[:5].tolist()
    assert [p.score for p in found] == pytest.approx(np.sort(cos)[::-1][:5], rel=1e-5)
    client.delete_collection(name)
