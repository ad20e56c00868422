"""vqdb.Client.facet / search_matrix_pairs / search_matrix_offsets: qdrant-client 1.18's
signatures and models, either model family or dicts as arguments, and its argument checks."""

from __future__ import annotations

import inspect
import uuid

import numpy as np
import pytest
from pydantic import ValidationError
from qdrant_client import QdrantClient
from qdrant_client import models as qm

import vqdb
from vqdb import models

N = 200


@pytest.fixture
def filled(client: vqdb.Client) -> vqdb.Client:
    client.create_collection(
        "c",
        vectors_config={"v": qm.VectorParams(size=3, distance=qm.Distance.EUCLID)},
        optimizers_config=qm.OptimizersConfigDiff(indexing_threshold=1),
    )
    rng = np.random.default_rng(2)
    points = [
        qm.PointStruct(
            id=i if i % 2 else str(uuid.UUID(int=i)),
            vector={"v": rng.normal(size=3).tolist()},
            payload={"k": ["a", "b", "c"][i % 3], "tags": ["x", "y"][: i % 3], "ok": i % 2 == 0},
        )
        for i in range(N)
    ]
    client.upsert("c", points[:150])
    client.upsert("c", points[150:])
    client.delete("c", qm.PointIdsList(points=[1, 3, 5]))
    for key, schema in [("k", "keyword"), ("tags", "keyword"), ("ok", "bool")]:
        client.create_payload_index("c", key, field_schema=schema)
    return client


@pytest.mark.parametrize("method", ["facet", "search_matrix_pairs", "search_matrix_offsets"])
def test_signatures_are_qdrant_clients(method: str) -> None:
    theirs = inspect.signature(getattr(QdrantClient, method)).parameters
    ours = inspect.signature(getattr(vqdb.Client, method)).parameters
    named = [p for p in theirs if theirs[p].kind != inspect.Parameter.VAR_KEYWORD]
    assert list(ours) == named
    assert all(ours[p].default == theirs[p].default for p in named)


def test_facet(filled: vqdb.Client) -> None:
    found = filled.facet("c", "tags")
    assert isinstance(found, models.FacetResponse)
    live = [i for i in range(N) if i not in (1, 3, 5)]
    x = sum(1 for i in live if i % 3 >= 1)
    y = sum(1 for i in live if i % 3 == 2)
    assert [(h.value, h.count) for h in found.hits] == [("x", x), ("y", y)]
    for family in (models, qm):
        flt = family.Filter(
            must=[family.FieldCondition(key="ok", match=family.MatchValue(value=True))]
        )
        got = filled.facet("c", "k", facet_filter=flt, limit=2, exact=True)
        evens = [i for i in live if i % 2 == 0]
        want = sorted(
            ((v, sum(1 for i in evens if ["a", "b", "c"][i % 3] == v)) for v in "abc"),
            key=lambda h: (-h[1], h[0]),
        )[:2]
        assert [(h.value, h.count) for h in got.hits] == want
    as_dict = {"must": [{"key": "ok", "match": {"value": True}}]}
    assert filled.facet("c", "k", facet_filter=as_dict, limit=2) == got
    assert qm.FacetResponse.model_validate(got.model_dump()) is not None
    with pytest.raises(ValidationError):
        filled.facet("c", "k", limit=0)
    with pytest.raises(ValueError, match="No appropriate index for faceting"):
        filled.facet("c", "missing")


def test_matrix(filled: vqdb.Client) -> None:
    offsets = filled.search_matrix_offsets("c", limit=2, sample=1000, using="v")
    assert isinstance(offsets, models.SearchMatrixOffsetsResponse)
    assert len(offsets.ids) == N - 3 and len(offsets.scores) == 2 * (N - 3)
    numbers = [i for i in offsets.ids if isinstance(i, int)]
    assert offsets.ids[: len(numbers)] == sorted(numbers)  # numbers first, then UUIDs
    vectors = {
        p.id: np.array(p.vector["v"])
        for p in filled.retrieve("c", offsets.ids, with_vectors=True, with_payload=False)
    }
    for r, c, s in zip(offsets.offsets_row, offsets.offsets_col, offsets.scores):
        a, b = offsets.ids[r], offsets.ids[c]
        assert a != b and s == pytest.approx(np.linalg.norm(vectors[a] - vectors[b]), abs=1e-5)
    flt = qm.Filter(must=[qm.FieldCondition(key="ok", match=qm.MatchValue(value=False))])
    pairs = filled.search_matrix_pairs("c", query_filter=flt, limit=1, sample=10, using="v")
    assert isinstance(pairs, models.SearchMatrixPairsResponse) and len(pairs.pairs) == 10
    assert all(isinstance(p.a, int) and isinstance(p.b, int) for p in pairs.pairs)  # odd ids
    assert qm.SearchMatrixPairsResponse.model_validate(pairs.model_dump()) is not None
    with pytest.raises(ValidationError):
        filled.search_matrix_pairs("c", sample=1, using="v")
    with pytest.raises(ValidationError):
        filled.search_matrix_offsets("c", limit=0, using="v")
    with pytest.raises(ValueError, match="Not existing vector name"):
        filled.search_matrix_pairs("c")
