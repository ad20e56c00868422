"""Multivectors through the embedded client, written as qdrant-client code is."""

from __future__ import annotations

import numpy as np
import pytest

import vqdb
from vqdb import models


def _max_sim(size: int, distance: models.Distance) -> models.VectorParams:
    """A multivector of `size`-d rows, compared by MaxSim."""
    return models.VectorParams(
        size=size,
        distance=distance,
        multivector_config=models.MultiVectorConfig(
            comparator=models.MultiVectorComparator.MAX_SIM
        ),
    )


def test_multivector_workflow(client: vqdb.Client) -> None:
    client.create_collection(
        "colbert",
        vectors_config=_max_sim(8, models.Distance.DOT),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=1),
        quantization_config=models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8)
        ),
    )
    rng = np.random.default_rng(1)
    mats = [rng.standard_normal((int(rng.integers(1, 6)), 8)) for _ in range(300)]
    points = [
        models.PointStruct(id=i, vector=m.tolist(), payload={"odd": i % 2})
        for i, m in enumerate(mats)
    ]
    client.upload_points("colbert", points, wait=True)
    assert client._collection("colbert").optimizer.wait_idle(60)
    params = client.get_collection("colbert").config.params.vectors
    assert params.multivector_config == models.MultiVectorConfig(
        comparator=models.MultiVectorComparator.MAX_SIM
    )
    q = rng.standard_normal((4, 8))
    exact = np.array([(q @ m.T).max(axis=1).sum() for m in mats])
    rescored = models.SearchParams(
        quantization=models.QuantizationSearchParams(rescore=True, oversampling=30.0)
    )
    found = client.query_points("colbert", query=q.tolist(), limit=10, search_params=rescored)
    assert [p.id for p in found.points] == np.argsort(-exact)[:10].tolist()
    assert [p.score for p in found.points] == pytest.approx(np.sort(exact)[::-1][:10], rel=1e-4)
    odd = models.Filter(must=[models.FieldCondition(key="odd", match=models.MatchValue(value=1))])
    filtered = client.query_points(
        "colbert", query=q.tolist(), limit=5, query_filter=odd, search_params=rescored
    )
    assert all(p.id % 2 == 1 for p in filtered.points)
    shown = client.retrieve("colbert", [3], with_vectors=True)[0].vector
    np.testing.assert_allclose(shown, mats[3], rtol=1e-6)
    client.update_vectors(
        "colbert", [models.PointVectors(id=3, vector=[[9.0] * 8, [1.0] * 8])], wait=True
    )
    assert client.retrieve("colbert", [3], with_vectors=True)[0].vector == [[9.0] * 8, [1.0] * 8]
    with pytest.raises(Exception, match="expected dim: 8, got 2"):
        client.upsert("colbert", [models.PointStruct(id=1000, vector=[[1.0, 2.0]])])
    assert client.count("colbert").count == 300


def test_one_vector_queries_a_multivector_as_one_row_as_list_or_array(
    client: vqdb.Client,
) -> None:
    """A flat query is a one-row multivector, given as a list or as a numpy array (the array
    was refused before: the server now hands the engine arrays for the vectors it reads)."""
    client.create_collection("rows", vectors_config=_max_sim(4, models.Distance.COSINE))
    rng = np.random.default_rng(4)
    client.upsert(
        "rows",
        points=[
            models.PointStruct(id=i, vector=rng.standard_normal((3, 4)).tolist()) for i in range(40)
        ],
    )
    q = rng.standard_normal(4)
    as_list = client.query_points("rows", query=q.tolist(), limit=5).points
    as_array = client.query_points("rows", query=q.astype(np.float32), limit=5).points
    as_row = client.query_points("rows", query=[q.tolist()], limit=5).points
    assert [p.id for p in as_list] == [p.id for p in as_array] == [p.id for p in as_row]
