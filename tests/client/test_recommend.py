"""Queries by examples as Qdrant scores them, for every store kind: recommend's average_vector,
best_score (sigmoid of the best positive, or minus that of the best negative) and sum_scores
over engine similarities; discover and context; sparse and multivector examples."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import vqdb
from vqdb.errors import BadInput

N, DIM = 40, 6
Matrix = npt.NDArray[np.float32]


def sigmoid(x: Matrix) -> Matrix:
    return np.asarray(0.5 * (x / (1.0 + np.abs(x)) + 1.0), dtype=np.float32)


def best_score(sims_pos: Matrix, sims_neg: Matrix) -> Matrix:
    best_pos = sims_pos.max(axis=0) if len(sims_pos) else np.full(sims_neg.shape[1], -np.inf)
    best_neg = sims_neg.max(axis=0) if len(sims_neg) else np.full(sims_pos.shape[1], -np.inf)
    wins = best_pos > best_neg
    best = sigmoid(np.where(wins, best_pos, best_neg))
    return np.where(wins, best, -best)


def ranked(scores: Matrix, skip: set[int], k: int = 5) -> list[tuple[int, float]]:
    order = [int(i) for i in np.argsort(-scores, kind="stable") if int(i) not in skip]
    return [(i, float(scores[i])) for i in order[:k]]


def shown(found: Any) -> list[tuple[int, float]]:
    return [(int(p.id), float(p.score)) for p in found.points]


def recommend(positive: list[Any], negative: list[Any], strategy: str) -> dict[str, Any]:
    return {"recommend": {"positive": positive, "negative": negative, "strategy": strategy}}


def assert_close(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    assert [i for i, _ in got] == [i for i, _ in want]
    assert np.allclose([s for _, s in got], [s for _, s in want], rtol=1e-4, atol=1e-5)


@pytest.fixture
def dense(client: vqdb.Client) -> tuple[vqdb.Client, Matrix]:
    x = np.random.default_rng(1).normal(size=(N, DIM)).astype(np.float32)
    client.create_collection("e", vectors_config={"size": DIM, "distance": "Euclid"})
    client.upload_collection("e", x, ids=range(N), wait=True)
    return client, x


def test_best_score_and_sum_scores_use_engine_similarities(
    dense: tuple[vqdb.Client, Matrix],
) -> None:
    client, x = dense
    sims = -((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)  # Euclid: -squared distance
    pos, neg = [1, 2], [3]
    found = client.query_points("e", recommend(pos, neg, "best_score"), limit=5)
    assert_close(shown(found), ranked(best_score(sims[pos], sims[neg]), {1, 2, 3}))
    found = client.query_points("e", recommend([], neg, "best_score"), limit=5)
    assert_close(shown(found), ranked(best_score(sims[[]], sims[neg]), {3}))
    found = client.query_points("e", recommend(pos, neg, "sum_scores"), limit=5)
    total = sims[pos].sum(axis=0) - sims[neg].sum(axis=0)
    assert_close(shown(found), ranked(total, {1, 2, 3}))


def test_sparse_recommend(client: vqdb.Client) -> None:
    rng = np.random.default_rng(2)
    rows = [np.sort(rng.choice(30, size=4, replace=False)) for _ in range(N)]
    weights = rng.random((N, 4)).astype(np.float32)
    client.create_collection("s", vectors_config={}, sparse_vectors_config={"w": {}})
    points = [
        {"id": i, "vector": {"w": {"indices": r.tolist(), "values": v.tolist()}}}
        for i, (r, v) in enumerate(zip(rows, weights))
    ]
    client.upsert("s", points)
    full = np.zeros((N, 30), dtype=np.float32)
    for i, (r, v) in enumerate(zip(rows, weights)):
        full[i, r] = v
    sims = full @ full.T  # no shared term: 0, and the point still scores
    pos, neg = [1, 2], [3]
    found = client.query_points("s", recommend(pos, neg, "best_score"), using="w", limit=5)
    assert_close(shown(found), ranked(best_score(sims[pos], sims[neg]), {1, 2, 3}))
    found = client.query_points("s", recommend(pos, neg, "sum_scores"), using="w", limit=5)
    assert_close(shown(found), ranked(sims[pos].sum(0) - sims[neg].sum(0), {1, 2, 3}))
    # average_vector: 2 * mean(positive) - mean(negative) over the union of the terms; only
    # points sharing a term with it are found, as in a sparse search
    query = 2 * full[pos].mean(axis=0) - full[neg].mean(axis=0)
    found = client.query_points("s", recommend(pos, neg, "average_vector"), using="w", limit=5)
    scores = full @ query
    want = [(i, s) for i, s in ranked(scores, {1, 2, 3}, N) if (full[i] * query != 0).any()][:5]
    assert_close(shown(found), want)


def test_multivector_recommend(client: vqdb.Client) -> None:
    rng = np.random.default_rng(3)
    docs = [rng.normal(size=(int(rng.integers(1, 4)), DIM)).astype(np.float32) for _ in range(N)]
    config = {"size": DIM, "distance": "Dot", "multivector_config": {"comparator": "max_sim"}}
    client.create_collection("m", vectors_config={"mv": config})
    client.upsert("m", [{"id": i, "vector": {"mv": d.tolist()}} for i, d in enumerate(docs)])

    def maxsim(query: Matrix) -> Matrix:
        return np.array([(query @ d.T).max(axis=1).sum() for d in docs], dtype=np.float32)

    pos, neg = [1, 2], [3]
    # average_vector: the positives' rows and the negative's rows negated, as one query
    query = np.concatenate([docs[1], docs[2], -docs[3]])
    params = {"exact": True}
    found = client.query_points(
        "m", recommend(pos, neg, "average_vector"), using="mv", limit=5, search_params=params
    )
    assert_close(shown(found), ranked(maxsim(query), {1, 2, 3}))
    sims = np.stack([maxsim(docs[i]) for i in pos + neg])
    found = client.query_points("m", recommend(pos, neg, "best_score"), using="mv", limit=5)
    assert_close(shown(found), ranked(best_score(sims[:2], sims[2:]), {1, 2, 3}))


def test_discover_and_context(dense: tuple[vqdb.Client, Matrix]) -> None:
    client, x = dense
    sims = -((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
    pairs = [(4, 5), (6, 7)]
    context = [{"positive": p, "negative": n} for p, n in pairs]
    skip = {4, 5, 6, 7}
    rank = sum(np.sign(sims[p] - sims[n]) for p, n in pairs)
    want = ranked(rank + sigmoid(sims[3]), skip | {3})
    found = client.query_points("e", {"discover": {"target": 3, "context": context}}, limit=5)
    assert_close(shown(found), want)
    found = client.query_points("e", {"discover": {"target": 3, "context": []}}, limit=5)
    assert_close(shown(found), ranked(sigmoid(sims[3]), {3}))

    losses = [np.minimum(sims[p] - sims[n] - np.finfo(np.float32).eps, 0.0) for p, n in pairs]
    score = sum(loss / (1 + np.abs(loss)) for loss in losses)  # a fast_sigmoid per pair
    found = client.query_points("e", {"context": context}, limit=N)
    got = dict(shown(found))
    assert set(got) == set(range(N)) - skip
    assert np.allclose([got[i] for i in sorted(got)], [score[i] for i in sorted(got)], atol=1e-5)
    assert [s for _, s in shown(found)] == sorted(got.values(), reverse=True)
    with pytest.raises(BadInput, match="at least one pair"):
        client.query_points("e", {"context": []})
    with pytest.raises(BadInput, match="a context pair is"):
        client.query_points("e", {"context": {"positive": 1}})


def test_sparse_discover(client: vqdb.Client) -> None:
    client.create_collection("s", vectors_config={}, sparse_vectors_config={"w": {}})
    rows = {1: ([0, 1], [1.0, 1.0]), 2: ([1], [2.0]), 3: ([2], [1.0]), 4: ([5], [1.0])}
    client.upsert(
        "s",
        [{"id": i, "vector": {"w": {"indices": t, "values": v}}} for i, (t, v) in rows.items()],
    )
    # target 1; point 4 shares no term with any example: all its similarities are 0
    query = {"discover": {"target": 1, "context": {"positive": 2, "negative": 3}}}
    found = shown(client.query_points("s", query, using="w", limit=5))
    assert [i for i, _ in found] == [4]
    assert np.isclose(found[0][1], 0.0 + 0.5)  # no rank, sigmoid(0)
