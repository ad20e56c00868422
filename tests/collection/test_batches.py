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


def _answered_alone(c: Collection, body: dict[str, Any]) -> Any:
    try:
        return query.query(c, body)
    except Exception as e:
        return (type(e), str(e))


def _as_compared(answer: Any) -> Any:
    return (type(answer), str(answer)) if isinstance(answer, Exception) else answer


def test_requests_answered_at_once_answer_what_each_answers_alone(
    clustered: Collection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """query_each (the server's concurrent requests, gathered): groups of plain searches, the
    searches that run alone, and the failures, each answered to its own request."""
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((10, DIM)) * 20
    keep = {"must": [{"key": "k", "match": {"value": 2}}]}
    bodies: list[dict[str, Any]] = []
    for i, v in enumerate(vectors):
        one: dict[str, Any] = {"query": v.tolist(), "limit": 5 + i % 2}
        if i % 3 == 0:
            one["filter"] = keep
        if i % 5 == 4:
            one.update(with_payload=True, score_threshold=-400.0)
        bodies.append(one)
    bodies.insert(3, {"query": [0.0] * 3, "limit": 5})  # a wrong dimension, amid a group
    bodies.insert(6, {"query": vectors[1].tolist(), "using": "nope", "limit": 5})
    bodies.append({"query": 7, "limit": 4})  # by id
    bodies.append({"query": {"nearest": vectors[2].tolist()}, "limit": 6, "offset": 2})
    bodies.append({"prefetch": {"query": vectors[3].tolist(), "limit": 20}, "query": 11})
    native_calls = _counted(monkeypatch, query, "_searched")
    alone = [_answered_alone(clustered, b) for b in bodies]
    calls_alone = native_calls[0]
    answers = query.query_each(clustered, bodies)
    assert [_as_compared(a) for a in answers] == alone
    assert sum(isinstance(a, BadInput) for a in answers) == 2
    # groups of plain searches: {0, 6}, {1, 5, 7} and {2, 8} with the bad vector, whose group
    # then runs alone: 1 + 2 calls fewer
    assert native_calls[0] - calls_alone == calls_alone - 3
    good = [i for i, b in enumerate(bodies) if b["query"] != [0.0] * 3]
    before = native_calls[0]
    again = query.query_each(clustered, [bodies[i] for i in good])
    assert [_as_compared(a) for a in again] == [alone[i] for i in good]
    assert native_calls[0] - before == calls_alone - 4


def _counted(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    calls = [0]
    original = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_under_strict_mode_each_request_is_checked_as_sent(
    db: Database, clustered: Collection
) -> None:
    strict = {"enabled": True, "max_query_limit": 5, "search_max_batchsize": 1}
    db.update_collection("c", {"strict_mode_config": strict})
    vector = [1.0] * DIM
    bodies = [{"query": vector, "limit": 5}, {"query": vector, "limit": 6}]
    bodies.append({"query": vector, "limit": 5})
    answers = query.query_each(clustered, bodies)
    assert [_as_compared(a) for a in answers] == [_answered_alone(clustered, b) for b in bodies]
    assert "limit" in str(answers[1]) and not isinstance(answers[0], Exception)


def test_legacy_searches_answered_at_once_answer_what_each_answers_alone(
    clustered: Collection,
) -> None:
    rng = np.random.default_rng(6)
    bodies: list[dict[str, Any]] = [
        {"vector": v.tolist(), "limit": 4 + i % 2, "with_payload": i % 3 == 0}
        for i, v in enumerate(rng.standard_normal((9, DIM)) * 20)
    ]
    bodies.insert(4, {"vector": [0.0] * 5, "limit": 4, "with_payload": True})
    bodies.append({"vector": {"name": "", "vector": bodies[0]["vector"]}, "limit": 4})
    alone = []
    for b in bodies:
        try:
            alone.append(query.search(clustered, b))
        except BadInput as e:
            alone.append((BadInput, str(e)))
    answers = query.search_each(clustered, bodies)
    assert [_as_compared(a) for a in answers] == alone
    assert isinstance(answers[4], BadInput)
