"""Bad input fails with a ValueError that says what is wrong, and writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from client_data import DIM, vectors

import vqdb
from vqdb import models
from vqdb.errors import AlreadyExists, BadInput, NotFound


@pytest.fixture
def c(client: vqdb.Client) -> vqdb.Client:
    client.create_collection("c", vectors_config={"size": DIM, "distance": "Cosine"})
    client.create_collection("named", vectors_config={"a": {"size": DIM, "distance": "Dot"}})
    client.upsert("c", [{"id": 1, "vector": [1.0] * DIM}])
    return client


def good(i: int) -> dict[str, Any]:
    return {"id": i, "vector": vectors(1, seed=i)[0].tolist(), "payload": {"i": i}}


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"id": 99, "vector": [1.0] * (DIM - 1)}, "expected dim: 16, got 15"),
        ({"id": 99, "vector": [float("nan")] + [1.0] * (DIM - 1)}, "NaN"),
        ({"id": -1, "vector": [1.0] * DIM}, "bad point id -1"),
        ({"id": 1.5, "vector": [1.0] * DIM}, "bad point id 1.5"),
        ({"id": "not-a-uuid", "vector": [1.0] * DIM}, "bad point id 'not-a-uuid'"),
        ({"id": 99, "vector": {"nope": [1.0] * DIM}}, "one unnamed vector"),
        ({"id": 99, "vector": [1.0] * DIM, "payload": [1, 2]}, "payload must be an object"),
    ],
)
def test_bad_points_write_nothing(c: vqdb.Client, bad: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        c.upsert("c", [good(10), bad, good(11)])
    with pytest.raises(ValueError, match=message):
        c.upload_points("c", [good(12), bad])
    assert c.count("c").count == 1


def test_bad_uploads_write_nothing(c: vqdb.Client) -> None:
    x = vectors(50)
    x[40, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        c.upload_collection("c", x, ids=range(100, 150))
    with pytest.raises(ValueError, match="expected dim: 16, got 8"):
        c.upload_collection("c", vectors(5, dim=8))
    with pytest.raises(ValueError, match="same number of vectors"):
        c.upload_collection("named", {"a": vectors(5), "b": vectors(4)})
    with pytest.raises(ValueError, match="batch_size"):
        c.upload_collection("c", vectors(5), batch_size=0)
    assert c.count("c").count == 1


def test_unknown_collection_and_vector_names(c: vqdb.Client) -> None:
    for call in (
        lambda: c.get_collection("missing"),
        lambda: c.upsert("missing", [good(1)]),
        lambda: c.query_points("missing", [1.0] * DIM),
        lambda: c.count("missing"),
        lambda: c.scroll("missing"),
        lambda: c.update_collection("missing", hnsw_config={"m": 8}),
    ):
        with pytest.raises(NotFound, match="`missing`"):
            call()
    assert c.delete_collection("missing") is False
    # Qdrant answers an unknown vector name with 400 (bad input), not 404
    with pytest.raises(BadInput, match="Not existing vector name error: b"):
        c.query_points("named", [1.0] * DIM, using="b")
    with pytest.raises(BadInput, match="Not existing vector name error: 'b'"):
        c.upsert("named", [{"id": 1, "vector": {"b": [1.0] * DIM}}])
    # an unnamed vector is the vector "", which a collection of named ones (or none) lacks
    c.create_collection("none", vectors_config={})
    for name in ("named", "none"):
        with pytest.raises(BadInput, match="Not existing vector name error: points\\[0\\]"):
            c.upsert(name, [{"id": 1, "vector": [1.0] * DIM}])
    with pytest.raises(ValueError, match="say which one with 'using'"):
        c.query_points("named", [1.0] * DIM)
    with pytest.raises(AlreadyExists, match="already exists"):
        c.create_collection("c", vectors_config={"size": 2, "distance": "Dot"})


def test_bad_queries_and_filters(c: vqdb.Client) -> None:
    with pytest.raises(BadInput, match="expected dim: 16, got 3"):
        c.query_points("c", [1.0, 2.0, 3.0])
    with pytest.raises(BadInput, match="NaN"):
        c.query_points("c", np.full(DIM, np.nan))
    with pytest.raises(BadInput, match="one dense vector"):
        c.query_points("c", [[1.0] * DIM, [2.0] * DIM])
    with pytest.raises(ValueError):
        c.count("c", count_filter={"must": [{"key": "k", "match": {"nope": 1}}]})
    with pytest.raises(ValueError):
        c.scroll("c", scroll_filter={"bogus": []})
    with pytest.raises(ValueError, match="points must be a list of ids"):
        c.delete("c", points_selector=5)  # type: ignore[arg-type]
    deep = models.Prefetch(query=[1.0] * DIM)
    for _ in range(64):
        deep = models.Prefetch(query=[1.0] * DIM, prefetch=deep)
    with pytest.raises(ValueError, match="exceeds max depth 64"):
        c.query_points("c", [1.0] * DIM, prefetch=deep)
    with pytest.raises(ValueError, match="Collection nowhere not found"):
        c.query_points("c", 1, lookup_from=models.LookupLocation(collection="nowhere"))
    # no "" vector there, but Qdrant says so only once it finds the point (none has id 1)
    with pytest.raises(ValueError, match="No point with id 1 found"):
        c.query_points("c", 1, lookup_from=models.LookupLocation(collection="named"))
    with pytest.raises(ValueError, match="is a dense vector: query it with a list"):
        c.query_points("c", models.SparseVector(indices=[1], values=[1.0]))
    with pytest.raises(ValueError, match="sparse_vectors.text.modifier 'bm25' is not supported"):
        c.create_collection("s", sparse_vectors_config={"text": {"modifier": "bm25"}})
    with pytest.raises(ValueError, match="not supported by uploads"):
        c.upload_points("c", [good(3)], update_mode=models.UpdateMode.INSERT_ONLY)
    assert not c.collection_exists("s") and c.count("c").count == 1


def test_client_lifecycle(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="runs in process"):
        vqdb.Client(url="http://localhost:6333")
    with pytest.raises(ValueError, match="runs in process"):
        vqdb.Client("http://localhost:6333")
    with pytest.raises(TypeError, match="unexpected argument"):
        vqdb.Client(":memory:", bogus=1)
    client = vqdb.Client(path=tmp_path, timeout=5, prefer_grpc=True)  # connection options: ignored
    with pytest.raises(ValueError, match="already in use"):
        vqdb.Client(path=tmp_path)
    client.close()
    client.close()
    assert client.closed
    with pytest.raises(RuntimeError, match="closed"):
        client.get_collections()
    with vqdb.Client(path=tmp_path) as again:  # the folder is free again
        assert again.get_collections().collections == []
