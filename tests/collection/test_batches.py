"""Batches of searches: the plain nearest ones that share all but their vector are answered by
one native call per segment (query._together); every answer must be what the request alone
gives, in the batch's order, whatever else the batch holds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vqdb.collection import query
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput

pytestmark = pytest.mark.usefixtures("quick_optimizer")

N, DIM = 600, 24


@pytest.fixture(params=[None, {"binary": {"always_ram": True}}, {"scalar": {"type": "int8"}}])
def clustered(db: Database, request: pytest.FixtureRequest) -> Collection:
    """Tight clusters of raw (unnormalised) vectors; half of them sealed into an indexed
    segment, the rest still appendable, so answers merge two segments."""
    body: dict[str, Any] = {
        "vectors": {"size": DIM, "distance": "Euclid", "quantization_config": request.param},
        "optimizers_config": {"indexing_threshold": 10},
    }
    c = db.create_collection("c", body)
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((6, DIM)) * 20
    x = centres[rng.integers(0, 6, N)] + rng.standard_normal((N, DIM)) * 0.5
    points = [{"id": i, "vector": x[i].tolist(), "payload": {"k": i % 3}} for i in range(N)]
    c.upsert({"points": points[: N // 2]})
    assert c.optimizer.wait_idle(60)
    c.optimizer.stop()  # the rest stays appendable
    c.upsert({"points": points[N // 2 :]})
    return c


def test_a_batch_answers_what_each_request_answers(clustered: Collection) -> None:
    rng = np.random.default_rng(4)
    vectors = rng.standard_normal((12, DIM)) * 20
    keep = {"must": [{"key": "k", "match": {"value": 1}}]}
    searches: list[dict[str, Any]] = []
    for i, v in enumerate(vectors):
        one: dict[str, Any] = {"query": v.tolist(), "limit": 7, "with_payload": True}
        if i % 3 == 1:
            one["filter"] = keep
        if i % 4 == 2:
            one.update(offset=2, params={"hnsw_ef": 32})
        searches.append(one)
    searches.append({"query": 5, "limit": 3})  # by id: on its own
    searches.append({"query": {"nearest": vectors[0].tolist()}, "limit": 7, "with_payload": True})
    found = query.query_batch(clustered, {"searches": searches})
    assert found == [query.query(clustered, one) for one in searches]
    legacy = [{"vector": s["query"], "limit": 4, "filter": s.get("filter")} for s in searches[:6]]
    assert query.search_batch(clustered, {"searches": legacy}) == [
        query.search(clustered, one) for one in legacy
    ]


def test_a_bad_request_in_a_batch_is_refused(clustered: Collection) -> None:
    good = {"query": [0.0] * DIM, "limit": 3}
    with pytest.raises(BadInput, match="dimension"):
        query.query_batch(clustered, {"searches": [good, {**good, "query": [0.0] * 3}]})
