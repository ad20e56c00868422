"""The client's group searches, order_by, random samples and lookup_from with qdrant-client's
arguments and models, against qdrant-client's own local mode where both answer alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm

import vqdb
from vqdb import models
from vqdb.errors import NotFound

N = 30


def fill(client: Any, indexed: bool) -> None:
    client.create_collection(
        "c",
        vectors_config={"": qm.VectorParams(size=3, distance=qm.Distance.COSINE)},
        sparse_vectors_config={"s": qm.SparseVectorParams()},
    )
    if indexed:  # qdrant-client's local mode has no indexes (and warns), vqdb needs them
        client.create_payload_index("c", "n", qm.PayloadSchemaType.INTEGER)
        client.create_payload_index("c", "when", qm.PayloadSchemaType.DATETIME)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N, 3)).astype(np.float32)
    client.upsert(
        "c",
        [
            qm.PointStruct(
                id=i,
                vector={"": x[i].tolist(), "s": qm.SparseVector(indices=[i % 4], values=[1.0])},
                payload={"n": i % 7, "g": f"g{i % 4}", "when": f"2024-02-{1 + i % 9:02d}"},
            )
            for i in range(N)
        ],
    )
    client.create_collection(
        "docs", vectors_config=qm.VectorParams(size=3, distance=qm.Distance.DOT)
    )
    client.upsert("docs", [qm.PointStruct(id=1, vector=[1.0, 0.0, 0.0], payload={"t": "one"})])


@pytest.fixture
def pair() -> Iterator[tuple[vqdb.Client, QdrantClient]]:
    ours, theirs = vqdb.Client(":memory:"), QdrantClient(":memory:")
    fill(ours, indexed=True)
    fill(theirs, indexed=False)
    yield ours, theirs
    ours.close()
    theirs.close()


def plain(points: Any) -> list[tuple[Any, ...]]:
    return [(p.id, round(p.score, 5), p.payload, p.order_value) for p in points]


def test_scroll_and_query_order_by_as_qdrant_client(pair: tuple[vqdb.Client, QdrantClient]) -> None:
    ours, theirs = pair
    got, offset = ours.scroll("c", order_by="n", limit=12)
    expected, _ = theirs.scroll("c", order_by="n", limit=12)
    assert [(r.id, r.order_value) for r in got] == [(r.id, r.order_value) for r in expected]
    assert offset is None and isinstance(got[0], models.Record)
    # descending, ties go by id descending in Qdrant's server (its local mode keeps them
    # ascending): the same values, each with the same points
    down = qm.OrderBy(key="n", direction=qm.Direction.DESC, start_from=4)
    got, _ = ours.scroll("c", order_by=down, limit=N)
    expected, _ = theirs.scroll("c", order_by=down, limit=N)
    assert [r.order_value for r in got] == [r.order_value for r in expected]
    assert sorted((r.order_value, r.id) for r in got) == sorted(
        (r.order_value, r.id) for r in expected
    )
    assert [r.id for r in got[:3]] == [25, 18, 11]
    dates = qm.OrderBy(key="when", start_from="2024-02-05T00:00:00Z")
    got, _ = ours.scroll("c", order_by=dates, limit=5)
    expected, _ = theirs.scroll("c", order_by=dates, limit=5)
    assert [(r.id, r.order_value) for r in got] == [(r.id, r.order_value) for r in expected]
    query = qm.OrderByQuery(order_by=qm.OrderBy(key="n"))
    got_points = ours.query_points("c", query=query, limit=5).points
    assert plain(got_points) == plain(theirs.query_points("c", query=query, limit=5).points)


def test_sample_and_groups(pair: tuple[vqdb.Client, QdrantClient]) -> None:
    ours, theirs = pair
    sample = ours.query_points("c", query=qm.SampleQuery(sample=qm.Sample.RANDOM), limit=N)
    assert sorted(p.id for p in sample.points) == list(range(N))
    assert {p.score for p in sample.points} == {1.0}
    q = [0.2, -0.4, 1.0]
    kwargs: dict[str, Any] = {"group_by": "g", "limit": 3, "group_size": 2, "with_payload": False}
    got = ours.query_points_groups("c", query=q, **kwargs)
    expected = theirs.query_points_groups("c", query=q, **kwargs)
    assert isinstance(got, models.GroupsResult)
    assert [(g.id, plain(g.hits)) for g in got.groups] == [
        (g.id, plain(g.hits)) for g in expected.groups
    ]
    legacy = ours.search_groups("c", q, "g", limit=3, group_size=2, with_payload=False)
    assert legacy == got
    named = ours.search_groups("c", ("", q), "g", limit=3, group_size=2, with_payload=False)
    assert named == got
    sparse = ours.search_groups(
        "c",
        {"name": "s", "vector": qm.SparseVector(indices=[2], values=[1.0])},
        "g",
        limit=2,
    )
    assert [g.id for g in sparse.groups] == ["g2"]  # only points with index 2 score
    reco = ours.recommend_groups("c", "g", positive=[0], limit=2, group_size=1)
    assert 0 not in [h.id for g in reco.groups for h in g.hits]


def test_lookups(pair: tuple[vqdb.Client, QdrantClient]) -> None:
    ours, _ = pair
    looked = ours.query_points(
        "c", query=1, lookup_from=qm.LookupLocation(collection="docs"), limit=3
    )
    direct = ours.query_points("c", query=[1.0, 0.0, 0.0], limit=3)
    assert looked.points == direct.points
    groups = ours.query_points_groups(
        "c",
        "n",
        query=[1.0, 0.0, 0.0],
        limit=7,
        group_size=1,
        with_lookup=qm.WithLookup(collection="docs", with_payload=True),
    )
    looked_up = {g.id: g.lookup for g in groups.groups}
    assert looked_up[1] is not None and looked_up[1].payload == {"t": "one"}
    assert looked_up[0] is None
    reco = ours.recommend_groups(
        "c", "n", positive=[1], lookup_from=qm.LookupLocation(collection="docs"), limit=7
    )
    assert reco == ours.recommend_groups("c", "n", positive=[[1.0, 0.0, 0.0]], limit=7)
    with pytest.raises(NotFound, match="Collection nowhere not found"):
        ours.query_points_groups("c", "n", query=[1.0, 0, 0], with_lookup="nowhere")
