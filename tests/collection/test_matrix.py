"""The distance matrix through the collection layer: random samples of the points that match
the filter and have the vector, each one's nearest among the sample (never itself) over
optimized and appendable segments with deletes, checked against numpy; Qdrant's shapes,
defaults and errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vqdb.collection import matrix
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput, BadRequest
from vqdb.params import SearchParams

pytestmark = pytest.mark.usefixtures("quick_optimizer")

DIM = 6


def build(db: Database) -> tuple[Collection, dict[int, dict[str, Any]]]:
    """Points with "e" (Euclid) and "c" (Cosine) vectors, some without "c", a sparse "s";
    optimized segments, an appendable one, deletes in both."""
    body = {
        "vectors": {
            "e": {"size": DIM, "distance": "Euclid"},
            "c": {"size": DIM, "distance": "Cosine"},
        },
        "sparse_vectors": {"s": {}},
        "optimizers_config": {"indexing_threshold": 1},
    }
    c = db.create_collection("m", body)
    rng = np.random.default_rng(3)
    model: dict[int, dict[str, Any]] = {}

    def upsert(ids: range) -> None:
        points = []
        for i in ids:
            vector: dict[str, Any] = {"e": rng.normal(size=DIM).astype(np.float32)}
            if i % 4:
                vector["c"] = rng.normal(size=DIM).astype(np.float32)
            terms = sorted({int(t) for t in rng.integers(0, 20, size=3)})
            vector["s"] = {"indices": terms, "values": rng.random(len(terms)).tolist()}
            model[i] = {"vector": vector, "payload": {"g": i % 3}}
            as_json = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in vector.items()}
            points.append({"id": i, "vector": as_json, "payload": {"g": i % 3}})
        c.upsert({"points": points}, wait=True)

    upsert(range(300))
    assert c.optimizer is not None and c.optimizer.wait_idle(60)
    assert any(not s.appendable for s in c.segments)
    upsert(range(300, 340))
    upsert(range(290, 295))  # moved to the appendable segment
    gone = list(range(0, 340, 10))
    c.delete({"points": gone}, wait=True)
    for i in gone:
        del model[i]
    assert sum(1 for s in c.segments if s.count) >= 2
    return c, model


def scores(model: dict[int, dict[str, Any]], using: str, a: int, others: list[int]) -> np.ndarray:
    q = model[a]["vector"][using].astype(np.float64)
    rows = np.array([model[b]["vector"][using] for b in others], dtype=np.float64)
    if using == "e":
        return np.sqrt(((rows - q) ** 2).sum(axis=1))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows @ (q / np.linalg.norm(q))


def check(m: dict[str, Any], model: dict[int, dict[str, Any]], using: str, limit: int) -> None:
    ids = m["ids"]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    rows, cols, got = m["offsets_row"], m["offsets_col"], m["scores"]
    assert rows == sorted(rows) and len(rows) == len(cols) == len(got)
    for r in range(len(ids)):
        mine = [i for i, row in enumerate(rows) if row == r]
        neighbours = [cols[i] for i in mine]
        assert r not in neighbours and len(set(neighbours)) == len(neighbours)
        assert len(neighbours) == min(limit, len(ids) - 1)
        others = [b for j, b in enumerate(ids) if j != r]
        truth = scores(model, using, ids[r], others)
        best = np.sort(truth) if using == "e" else -np.sort(-truth)
        shown = [got[i] for i in mine]
        assert np.allclose(shown, best[: len(shown)], atol=1e-5)
        exact = scores(model, using, ids[r], [ids[j] for j in neighbours])
        assert np.allclose(shown, exact, atol=1e-5)


@pytest.mark.parametrize("using", ["e", "c"])
def test_the_whole_sample_is_every_point(db: Database, using: str) -> None:
    c, model = build(db)
    eligible = sorted(i for i, p in model.items() if using in p["vector"])
    m = matrix.offsets(c, {"sample": 1000, "limit": 4, "using": using})
    assert m["ids"] == eligible
    check(m, model, using, 4)


def test_random_samples_with_a_filter(db: Database) -> None:
    c, model = build(db)
    body = {"sample": 25, "limit": 3, "using": "c"}
    body["filter"] = {"must": [{"key": "g", "match": {"value": 1}}]}
    eligible = {i for i, p in model.items() if "c" in p["vector"] and p["payload"]["g"] == 1}
    seen: set[int] = set()
    for _ in range(5):
        m = matrix.offsets(c, body)
        assert len(m["ids"]) == 25 and set(m["ids"]) <= eligible
        check(m, model, "c", 3)
        seen |= set(m["ids"])
    assert len(seen) > 25  # random, not the same points every time


def test_pairs_are_the_offsets_by_id(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    c, _ = build(db)
    body = {"sample": 12, "limit": 2, "using": "e"}
    monkeypatch.setattr(np.random, "default_rng", lambda: np.random.Generator(np.random.PCG64(5)))
    m = matrix.offsets(c, body)
    p = matrix.pairs(c, body)["pairs"]
    assert p == [
        {"a": m["ids"][r], "b": m["ids"][col], "score": s}
        for r, col, s in zip(m["offsets_row"], m["offsets_col"], m["scores"])
    ]


def test_one_native_search_per_segment(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    c, model = build(db)
    calls: list[tuple[int, bool]] = []
    for segment in c.segments:
        search = segment.search

        def counted(name, queries, limit, params: SearchParams, allowed, threshold, s=search):
            calls.append((len(queries), params.exact))
            return s(name, queries, limit, params, allowed, threshold)

        monkeypatch.setattr(segment, "search", counted)
    m = matrix.offsets(c, {"sample": 1000, "limit": 2, "using": "e"})
    holding = sum(1 for s in c.segments if s.count)
    assert calls == [(len(m["ids"]), True)] * holding


def test_sparse_vectors(db: Database) -> None:
    c, model = build(db)
    m = matrix.offsets(c, {"sample": 1000, "limit": 3, "using": "s"})
    assert m["ids"] == sorted(model)
    dense = {}
    for i, p in model.items():
        row = np.zeros(20)
        row[p["vector"]["s"]["indices"]] = p["vector"]["s"]["values"]
        dense[i] = row
    for r, col, s in zip(m["offsets_row"], m["offsets_col"], m["scores"]):
        assert r != col
        assert s == pytest.approx(dense[m["ids"][r]] @ dense[m["ids"][col]], abs=1e-5)


def test_small_and_empty(db: Database) -> None:
    c, model = build(db)
    empty = {"offsets_row": [], "offsets_col": [], "scores": [], "ids": []}
    one = {"must": [{"has_id": [1]}]}
    assert matrix.offsets(c, {"filter": one, "using": "e"}) == empty
    assert matrix.pairs(c, {"filter": one, "using": "e"}) == {"pairs": []}
    two = {"must": [{"has_id": [1, 2, 10]}]}  # 10 is deleted
    m = matrix.offsets(c, {"filter": two, "using": "e"})
    assert m["ids"] == [1, 2] and m["offsets_row"] == [0, 1] and m["offsets_col"] == [1, 0]
    assert m["scores"][0] == m["scores"][1]
    defaults = matrix.offsets(c, {"using": "e"})  # sample 10, limit 3
    assert len(defaults["ids"]) == 10 and len(defaults["scores"]) == 30
    # Qdrant answers a zero sample or limit (below its API's bounds) before the vector name
    assert matrix.offsets(c, {"sample": 0, "using": "nope"}) == empty
    assert matrix.offsets(c, {"limit": 0, "using": "nope"}) == empty


def test_errors(db: Database) -> None:
    c, _ = build(db)
    with pytest.raises(BadInput, match="Not existing vector name error: nope"):
        matrix.pairs(c, {"using": "nope"})
    with pytest.raises(BadInput, match="Not existing vector name error: "):
        matrix.pairs(c, {})  # the collection has named vectors only
    for body in [{"sample": -1}, {"limit": "3"}, {"using": 3}, {"filter": {"must": [{"x": 1}]}}]:
        with pytest.raises(BadInput):
            matrix.pairs(c, {"using": "e", **body})


def test_strict_mode_checks_the_matrix(db: Database) -> None:
    c, _ = build(db)
    db.update_collection("m", {"strict_mode_config": {"enabled": True, "max_query_limit": 15}})
    for run in (matrix.pairs, matrix.offsets):
        with pytest.raises(BadRequest, match='Limit exceeded 20 > 15 for "limit"'):
            run(c, {"sample": 10, "limit": 2, "using": "e"})
    assert len(matrix.offsets(c, {"sample": 5, "limit": 3, "using": "e"})["ids"]) == 5
