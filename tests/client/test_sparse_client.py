"""Sparse vectors through the embedded client, written as qdrant-client code is."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest

import vqdb
from vqdb import models


def test_sparse_workflow(client: vqdb.Client) -> None:
    client.create_collection(
        "docs",
        vectors_config={"dense": models.VectorParams(size=3, distance=models.Distance.COSINE)},
        sparse_vectors_config={"text": models.SparseVectorParams(modifier=models.Modifier.IDF)},
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=1),
    )
    rng = np.random.default_rng(0)
    vocabulary = 40
    points, terms = [], {}
    for i in range(300):
        chosen = sorted(rng.choice(vocabulary, size=5, replace=False).tolist())
        terms[i] = chosen
        vector = {"text": models.SparseVector(indices=chosen, values=[1.0] * 5)}
        if i % 2:
            vector["dense"] = rng.standard_normal(3).tolist()
        points.append(models.PointStruct(id=i, vector=vector, payload={"odd": i % 2}))
    client.upload_points("docs", points, wait=True)
    assert client._collection("docs").optimizer.wait_idle(60)
    info = client.get_collection("docs")
    assert info.points_count == 300
    assert info.config.params.sparse_vectors == {
        "text": models.SparseVectorParams(modifier=models.Modifier.IDF)
    }

    def idf(term: int) -> float:
        n = sum(term in t for t in terms.values())
        return float(np.log((len(terms) - n + 0.5) / (n + 0.5) + 1))

    q = models.SparseVector(indices=[3, 11], values=[1.0, 2.0])
    hits = client.query_points("docs", q, using="text", limit=500).points
    expected = {
        i: (3 in t) * idf(3) + 2 * (11 in t) * idf(11) for i, t in terms.items() if {3, 11} & set(t)
    }
    assert {h.id for h in hits} == set(expected)
    assert all(abs(h.score - expected[h.id]) < 1e-4 for h in hits)
    odd = models.Filter(must=[models.FieldCondition(key="odd", match=models.MatchValue(value=1))])
    batch = client.query_batch_points(
        "docs",
        [
            models.QueryRequest(query=models.NearestQuery(nearest=q), using="text", filter=odd),
            models.QueryRequest(query=[1.0, 0.0, 0.0], using="dense", limit=3),
        ],
    )
    assert {h.id for h in batch[0].points} <= {i for i in expected if i % 2}
    assert len(batch[1].points) == 3

    client.update_vectors(
        "docs",
        [
            models.PointVectors(
                id=0, vector={"text": models.SparseVector(indices=[39, 2], values=[5.0, 1.0])}
            )
        ],
    )
    client.delete_vectors("docs", ["text"], [1])
    record = client.retrieve("docs", [0, 1], with_vectors=True)
    assert record[0].vector == {"text": models.SparseVector(indices=[2, 39], values=[1.0, 5.0])}
    assert set(record[1].vector) == {"dense"}
    has_text = models.Filter(must=[models.HasVectorCondition(has_vector="text")])
    assert client.count("docs", has_text).count == 299
    client.update_collection(
        "docs",
        sparse_vectors_config={"text": models.SparseVectorParams(modifier=models.Modifier.NONE)},
    )
    top = client.query_points("docs", models.SparseVector(indices=[39], values=[1.0]), using="text")
    assert top.points[0].id == 0 and top.points[0].score == 5.0


def test_prefetch_models_become_the_json_of_their_dicts() -> None:
    """Prefetches keep their query vectors as given (not dumped float by float), and say what
    their dicts say, nested, from vqdb's models and from qdrant-client's."""
    from qdrant_client import models as qm

    from vqdb.client.convert import prefetch_input, query_request

    as_dict = {
        "prefetch": [
            {"query": [0.5, 1.0, 2.0], "using": "dense", "limit": 7},
            {
                "query": {"indices": [3], "values": [1.5]},
                "using": "text",
                "params": {"exact": True},
            },
        ],
        "query": {"nearest": [1.0, 0.0, 0.0]},
        "using": "dense",
        "limit": 5,
        "filter": {"must": [{"key": "odd", "match": {"value": 1}}]},
    }
    for m in (models, qm):
        inner = [
            m.Prefetch(query=[0.5, 1.0, 2.0], using="dense", limit=7),
            m.Prefetch(
                query=m.SparseVector(indices=[3], values=[1.5]),
                using="text",
                params=m.SearchParams(exact=True),
            ),
        ]
        odd = m.Filter(must=[m.FieldCondition(key="odd", match=m.MatchValue(value=1))])
        outer = m.Prefetch(
            prefetch=inner, query=m.NearestQuery(nearest=[1.0, 0.0, 0.0]), using="dense", limit=5
        )
        assert prefetch_input(outer) == {k: v for k, v in as_dict.items() if k != "filter"}
        request = m.QueryRequest(**{**outer.model_dump(exclude_unset=True), "filter": odd})
        assert query_request(request) == as_dict
        assert prefetch_input(inner[0])["query"] is inner[0].query  # not a copy


def _queries(m: Any) -> list[Any]:
    """A query model of every kind the client converts field by field, from module `m`."""
    some = str(uuid.UUID(int=5))
    return [
        m.FusionQuery(fusion=m.Fusion.DBSF),
        m.RrfQuery(rrf=m.Rrf(k=3, weights=[1.0, 2.0])),
        m.NearestQuery(nearest=[0.5, 1.0, 2]),
        m.NearestQuery(nearest=[0.5, 1.0], mmr=m.Mmr(diversity=0.3)),
        m.NearestQuery(nearest=m.SparseVector(indices=[1, 2], values=[0.5, 1.0])),
        m.NearestQuery(nearest=some),
        m.NearestQuery(nearest=[[1.0, 2.0], [3.0, 4.0]]),
        m.RecommendQuery(
            recommend=m.RecommendInput(
                positive=[1, [1.0, 2.0]], negative=[some], strategy=m.RecommendStrategy.BEST_SCORE
            )
        ),
        m.RecommendQuery(recommend=m.RecommendInput(positive=[3, uuid.UUID(int=9)])),
        m.DiscoverQuery(
            discover=m.DiscoverInput(target=3, context=[m.ContextPair(positive=1, negative=2)])
        ),
        m.ContextQuery(context=[m.ContextPair(positive=[1.0], negative=[2.0])]),
        m.SampleQuery(sample=m.Sample.RANDOM),
        m.SparseVector(indices=[7, 3], values=[1, 0.5]),
    ]


@pytest.mark.parametrize("family", ["vqdb", "qdrant_client"])
def test_query_models_convert_as_their_json(family: str) -> None:
    """The client's field-by-field conversion of query models gives what pydantic's JSON dump
    does (vectors kept as the lists they are)."""
    from qdrant_client import models as qm

    from vqdb.client.convert import plain, query_input

    for query in _queries(models if family == "vqdb" else qm):
        assert query_input(query) == plain(query), type(query).__name__
    nearest = models.NearestQuery(nearest=[0.25, 0.5])
    assert query_input(nearest)["nearest"] is nearest.nearest  # not walked, not copied
