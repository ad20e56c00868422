"""lookup_from: example ids read from another collection's vector (`using` by default), as
vectors given inline: checked against `using`, and nothing left out of the results."""

from __future__ import annotations

import numpy as np
import pytest

import vqdb
from vqdb.errors import BadInput, NotFound

N, DIM = 30, 6


def test_lookup_from_reads_examples_from_another_collection(client: vqdb.Client) -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(N, DIM)).astype(np.float32)
    other = rng.normal(size=(5, DIM)).astype(np.float32)
    client.create_collection("e", vectors_config={"size": DIM, "distance": "Euclid"})
    client.upload_collection("e", x, ids=range(N), wait=True)
    client.create_collection("o", vectors_config={"v": {"size": DIM, "distance": "Dot"}})
    client.upload_collection("o", {"v": other}, ids=range(5), wait=True)
    lookup = {"collection": "o", "vector": "v"}

    def nearest(v: np.ndarray, k: int) -> list[int]:
        return np.argsort(np.linalg.norm(x - v, axis=1), kind="stable")[:k].tolist()

    # the ids are the other collection's: point 1 here is not left out
    recommend = {"recommend": {"positive": [1]}}
    found = client.query_points("e", recommend, lookup_from=lookup, limit=10).points
    assert [int(p.id) for p in found] == nearest(other[1], 10)
    found = client.query_points("e", 2, lookup_from=lookup, limit=3).points
    assert [int(p.id) for p in found] == nearest(other[2], 3)
    target = {"discover": {"target": 3, "context": [{"positive": 0, "negative": 4}]}}
    found = client.query_points("e", target, lookup_from=lookup, limit=N).points
    assert len(found) == N
    # Qdrant's words for a lookup collection (validate_lookup_from_collection_exists)
    with pytest.raises(NotFound, match="^Collection nope not found$"):
        client.query_points("e", 1, lookup_from={"collection": "nope"})
    with pytest.raises(BadInput, match="Not existing vector name error"):
        client.query_points("e", 1, lookup_from={"collection": "o"})  # no vector "" there
    with pytest.raises(NotFound, match="No point with id 9"):
        client.query_points("e", 9, lookup_from=lookup)
    client.create_collection("short", vectors_config={"size": 2, "distance": "Dot"})
    client.upsert("short", [{"id": 1, "vector": [1.0, 0.0]}])
    with pytest.raises(BadInput, match="expected dim: 6, got 2"):
        client.query_points("e", 1, lookup_from={"collection": "short"})
