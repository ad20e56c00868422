"""Queries scored by several examples (recommend's best_score / sum_scores / average_vector,
discover, context) and MMR, checked against the formulas of Qdrant's code computed here with
numpy over every point, on dense, sparse and multivectors, across segments."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vqdb.collection import query
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput, OutOfRange

pytestmark = pytest.mark.usefixtures("quick_optimizer")

N, DIM = 300, 8


@pytest.fixture
def c(db: Database) -> Collection:
    body = {
        "vectors": {
            "d": {"size": DIM, "distance": "Euclid"},
            "m": {"size": 4, "distance": "Dot", "multivector_config": {"comparator": "max_sim"}},
        },
        "sparse_vectors": {"s": {}},
        "optimizers_config": {"indexing_threshold": 1},
    }
    collection = db.create_collection("c", body)
    rng = np.random.default_rng(7)
    points = [
        {
            "id": i,
            "vector": {
                "d": rng.standard_normal(DIM).tolist(),
                "m": rng.standard_normal((1 + i % 3, 4)).tolist(),
                "s": {"indices": [i % 11, 11 + i % 5], "values": [1.0, 0.5 + i % 3]},
            },
        }
        for i in range(N)
    ]
    collection.upsert({"points": points[:200]})
    assert collection.optimizer.wait_idle(60)
    collection.upsert({"points": points[200:]})  # and an appendable segment beside
    return collection


def vectors(c: Collection, name: str) -> dict[int, Any]:
    from vqdb.collection import reads

    got = reads.scroll(c, {"limit": 10 * N, "with_vector": [name]})["points"]
    return {p["id"]: p["vector"][name] for p in got}


def dense_sims(c: Collection, example: list[float], squared: bool = True) -> dict[int, float]:
    """Similarities to the stored "d" vectors: by default Qdrant's raw Euclid score, what its
    example objectives compare (the negated squared distance); else the negated distance."""
    stored = vectors(c, "d")
    d2 = {i: float(np.sum((np.array(v) - example) ** 2)) for i, v in stored.items()}
    return {i: -x if squared else -float(np.sqrt(x)) for i, x in d2.items()}


def top(scores: dict[int, float], k: int) -> list[int]:
    return [i for i, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))][:k]


def ids(found: dict[str, Any]) -> list[int]:
    return [p["id"] for p in found["points"]]


def sigmoid(x: float) -> float:
    return x / (1 + abs(x))


def test_discover_and_context(c: Collection) -> None:
    rng = np.random.default_rng(1)
    target, p1, n1, p2, n2 = (rng.standard_normal(DIM).tolist() for _ in range(5))
    t, a, b, x, y = (dense_sims(c, v) for v in (target, p1, n1, p2, n2))
    discover = {
        i: (np.sign(a[i] - b[i]) + np.sign(x[i] - y[i])) + 0.5 * (sigmoid(t[i]) + 1) for i in t
    }
    context = {
        i: sum(
            sigmoid(min(p - n - np.finfo(np.float32).eps, 0))
            for p, n in ((a[i], b[i]), (x[i], y[i]))
        )
        for i in t
    }
    pairs = [{"positive": p1, "negative": n1}, {"positive": p2, "negative": n2}]
    body = {"using": "d", "limit": 20}
    found = query.query(c, {**body, "query": {"discover": {"target": target, "context": pairs}}})
    assert ids(found) == top(discover, 20)
    assert [p["score"] for p in found["points"]] == pytest.approx(
        [discover[i] for i in top(discover, 20)], abs=1e-5
    )
    found = query.query(c, {**body, "query": {"context": pairs}})
    assert ids(found) == top(context, 20)
    assert all(p["score"] <= 0 for p in found["points"])
    alone = query.query(c, {**body, "query": {"discover": {"target": target, "context": None}}})
    assert ids(alone) == ids(query.query(c, {**body, "query": target}))
    by_id = query.query(c, {**body, "query": {"context": {"positive": 3, "negative": 4}}})
    assert 3 not in ids(by_id) and 4 not in ids(by_id)


def test_recommend_strategies_on_sparse_and_multivectors(c: Collection) -> None:
    for using in ("s", "m"):
        for strategy in ("best_score", "sum_scores", "average_vector"):
            spec = {"positive": [1, 2], "negative": [3], "strategy": strategy}
            found = query.query(c, {"query": {"recommend": spec}, "using": using, "limit": 5})
            assert len(found["points"]) == 5 and not {1, 2, 3} & set(ids(found))
    # a multivector's average_vector: positive rows and negated negative rows in one query
    m = vectors(c, "m")
    spec = {"positive": [1], "negative": [2]}
    joined = np.concatenate([np.array(m[1]), -np.array(m[2])]).tolist()
    got = query.query(c, {"query": {"recommend": spec}, "using": "m", "limit": 7})
    expected = query.query(c, {"query": joined, "using": "m", "limit": 9})
    assert ids(got) == [i for i in ids(expected) if i not in (1, 2)][:7]


def test_mmr(c: Collection) -> None:
    q = np.random.default_rng(2).standard_normal(DIM).tolist()
    stored = {i: np.array(v) for i, v in vectors(c, "d").items()}
    relevance = dense_sims(c, q, squared=False)
    squared = dense_sims(c, q)  # what MMR weighs: Qdrant's raw (engine) Euclid scores
    candidates = top(relevance, 30)
    lam = 0.4  # diversity 0.6
    chosen = [candidates[0]]
    while len(chosen) < 10:

        def value(i: int) -> float:
            closest = max(-float(np.sum((stored[i] - stored[j]) ** 2)) for j in chosen)
            return lam * squared[i] - (1 - lam) * closest

        chosen.append(max((i for i in candidates if i not in chosen), key=value))
    body = {
        "query": {"nearest": q, "mmr": {"diversity": 0.6, "candidates_limit": 30}},
        "using": "d",
    }
    found = query.query(c, {**body, "limit": 10})
    assert ids(found) == chosen
    assert [p["score"] for p in found["points"]] == pytest.approx(
        [-relevance[i] for i in chosen], rel=1e-5
    )
    sparse = {
        "query": {"nearest": {"indices": [1, 12], "values": [1.0, 1.0]}, "mmr": {}},
        "using": "s",
    }
    assert len(query.query(c, {**sparse, "limit": 5})["points"]) == 5


def test_refusals(c: Collection) -> None:
    with pytest.raises(OutOfRange, match="At least one positive or negative"):
        query.query(c, {"query": {"recommend": {"positive": []}}, "using": "d"})
    with pytest.raises(BadInput, match="Positive vectors should not be empty"):
        query.query(c, {"query": {"recommend": {"negative": [1]}}, "using": "d"})
    two = [{"query": [0.0] * DIM, "using": "d"}] * 2
    with pytest.raises(BadInput, match="cannot be combined with the 'using' field"):
        query.query(c, {"prefetch": two, "query": {"fusion": "rrf"}, "using": "d"})
    with pytest.raises(BadInput, match="a context pair is"):
        query.query(c, {"query": {"context": [{"positive": 1}]}, "using": "d"})


def test_relevance_feedback(c: Collection) -> None:
    rng = np.random.default_rng(5)
    target, e1, e2 = (rng.standard_normal(DIM).tolist() for _ in range(3))
    t, s1, s2 = (dense_sims(c, v) for v in (target, e1, e2))
    a, b, k = 0.5, 1.5, 2.0
    feedback = [
        {"example": e1, "score": 0.9},
        {"example": e2, "score": 0.2},
        {"example": 5, "score": 0.9},
    ]
    s5 = dense_sims(c, vectors(c, "d")[5])
    weight = k * (0.9 - 0.2) ** b  # pairs (e1 over e2) and (point 5 over e2); e1 and 5 tie
    expected = {
        i: a * t[i] + weight * (s1[i] - s2[i]) + weight * (s5[i] - s2[i]) for i in t if i != 5
    }
    spec = {"target": target, "feedback": feedback, "strategy": {"naive": {"a": a, "b": b, "c": k}}}
    found = query.query(c, {"query": {"relevance_feedback": spec}, "using": "d", "limit": 10})
    assert ids(found) == top(expected, 10)
    assert [p["score"] for p in found["points"]] == pytest.approx(
        [expected[i] for i in top(expected, 10)], rel=1e-4
    )
    with pytest.raises(OutOfRange, match="feedback elements must be non-empty"):
        query.query(c, {"query": {"relevance_feedback": {**spec, "feedback": []}}, "using": "d"})
    negative_b = {**spec, "strategy": {"naive": {"a": a, "b": -1, "c": k}}}
    with pytest.raises(OutOfRange, match="must be 0.0 or larger"):
        query.query(c, {"query": {"relevance_feedback": negative_b}, "using": "d"})


def test_mmr_on_multivectors_and_queries_without_using(c: Collection) -> None:
    """MaxSim between candidates (every row of one against its best row of the other)."""
    m = {i: np.array(v) for i, v in vectors(c, "m").items()}
    q = np.random.default_rng(9).standard_normal((2, 4))

    def maxsim(a: np.ndarray, b: np.ndarray) -> float:
        return float((a @ b.T).max(axis=1).sum())

    relevance = {i: maxsim(q, v) for i, v in m.items()}
    candidates = top(relevance, 20)
    chosen = [candidates[0]]
    while len(chosen) < 6:
        chosen.append(
            max(
                (i for i in candidates if i not in chosen),
                key=lambda i: 0.5 * relevance[i] - 0.5 * max(maxsim(m[i], m[j]) for j in chosen),
            )
        )
    body = {"query": {"nearest": q.tolist(), "mmr": {"candidates_limit": 20}}, "using": "m"}
    assert ids(query.query(c, {**body, "limit": 6})) == chosen
    # formula and fusion queries score no vector themselves: no `using` needed
    prefetch = {"query": [0.0] * DIM, "using": "d", "limit": 5}
    formula = {"prefetch": prefetch, "query": {"formula": {"mult": ["$score", 2]}}}
    assert len(query.query(c, formula)["points"]) == 5


def test_mmr_with_euclid_rows(db: Database) -> None:
    """MaxSim over Euclid rows compares negated squared row distances (engine scores)."""
    body = {
        "vectors": {
            "size": 2,
            "distance": "Euclid",
            "multivector_config": {"comparator": "max_sim"},
        }
    }
    c = db.create_collection("e", body)
    rng = np.random.default_rng(4)
    c.upsert(
        {"points": [{"id": i, "vector": rng.standard_normal((2, 2)).tolist()} for i in range(40)]}
    )
    mmr = {"query": {"nearest": [[0.0, 0.0]], "mmr": {"diversity": 0.9}}, "limit": 5}
    assert len(query.query(c, mmr)["points"]) == 5
