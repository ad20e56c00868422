"""Multivectors through the collection layer: MaxSim search in appendable and optimized
segments (exact and HNSW), filters, offset, score_threshold, query by id, deletes and updates,
WAL replay, checkpoints, snapshots, and bad input that writes nothing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vqdb.collection import info, query, reads, snapshots, storage
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput

sys.path.insert(0, str(Path(__file__).parents[1]))
from multi_data import clustered, maxsim  # noqa: E402
from multi_data import queries as random_queries  # noqa: E402

N = 1200
DIM = 16
FILTER = {"must": [{"key": "k", "match": {"value": 1}}]}
MULTI = {"comparator": "max_sim"}


# segments seal after short write pauses (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("quick_optimizer")


def body(indexing_threshold: int, distance: str = "Cosine", **extra: Any) -> dict[str, Any]:
    return {
        "vectors": {
            "m": {"size": DIM, "distance": distance, "multivector_config": MULTI, **extra},
            "d": {"size": 4, "distance": "Dot"},
        },
        "optimizers_config": {"indexing_threshold": indexing_threshold},
        "hnsw_config": {"m": 16, "ef_construct": 64},
    }


def fill(c: Collection, model: dict[int, np.ndarray], n: int = N, first: int = 0) -> None:
    docs = clustered(n, dim=DIM, rows=(2, 10), seed=first)
    for start in range(0, n, 300):
        ids = list(range(first + start, first + min(n, start + 300)))
        mats = [docs[i - first] for i in ids]
        payloads = [{"k": i % 5} for i in ids]
        small = [[float(i), 0.0, 0.0, 1.0] for i in ids]
        if start % 600 == 0:  # the column form
            vectors = {"m": [m.tolist() for m in mats], "d": small}
            c.upsert({"batch": {"ids": ids, "vectors": vectors, "payloads": payloads}})
        else:  # the list form
            points = [
                {"id": i, "vector": {"m": m.tolist(), "d": s}, "payload": p}
                for i, m, s, p in zip(ids, mats, small, payloads)
            ]
            c.upsert({"points": points})
        model.update(zip(ids, mats))


def truth(model: dict[int, np.ndarray], q: np.ndarray, allowed: set[int] | None = None):
    from vqdb.index.multi_vectors import MultiVectors

    ids = [i for i in sorted(model) if allowed is None or i in allowed]
    scores = maxsim(q, MultiVectors.of([model[i] for i in ids], DIM), "Cosine")
    return dict(zip(ids, scores.tolist()))


def recall(found: list[int], expected: dict[int, float], k: int) -> float:
    best = sorted(expected, key=lambda i: -expected[i])[:k]
    return len(set(found) & set(best)) / k


def check(c: Collection, model: dict[int, np.ndarray], floor: float = 0.9) -> None:
    allowed = {i for i in model if i % 5 == 1}
    total = 0.0
    qs = random_queries(6, dim=DIM, seed=3)
    for q in qs:
        expected = truth(model, q)
        found = query.query(c, {"query": q.tolist(), "using": "m", "limit": 10})["points"]
        ids = [p["id"] for p in found]
        total += recall(ids, expected, 10)
        for p in found:  # scores are exact MaxSim (the originals)
            assert p["score"] == pytest.approx(expected[p["id"]], rel=1e-4, abs=1e-4)
        exact = query.query(
            c, {"query": q.tolist(), "using": "m", "limit": 10, "params": {"exact": True}}
        )["points"]
        assert recall([p["id"] for p in exact], expected, 10) == 1.0
        nearest = query.query(c, {"query": {"nearest": q.tolist()}, "using": "m", "limit": 10})
        assert [p["id"] for p in nearest["points"]] == ids
        page = query.query(c, {"query": q.tolist(), "using": "m", "limit": 5, "offset": 5})
        assert [p["id"] for p in page["points"]] == ids[5:10]
        t = found[4]["score"]
        above = query.query(
            c, {"query": q.tolist(), "using": "m", "limit": 50, "score_threshold": t}
        )["points"]
        assert above and all(p["score"] >= t for p in above)
        filtered = query.query(
            c, {"query": q.tolist(), "using": "m", "limit": 10, "filter": FILTER}
        )["points"]
        assert {p["id"] for p in filtered} <= allowed
        total += recall([p["id"] for p in filtered], truth(model, q, allowed), 10)
    assert total / (2 * len(qs)) >= floor


@pytest.mark.parametrize("indexed", [False, True], ids=["appendable", "optimized"])
def test_search_deletes_and_updates(db: Database, indexed: bool) -> None:
    c = db.create_collection("c", body(1 if indexed else 0))
    model: dict[int, np.ndarray] = {}
    fill(c, model)
    if indexed:
        assert c.optimizer.wait_idle(120)
        built = [s for s in c.segments if not s.appendable]
        assert built and sum(len(s.vectors["m"]) for s in built) == len(model)
    check(c, model)
    gone = list(range(0, N, 6))
    c.delete({"points": gone})
    for pid in gone:
        del model[pid]
    dropped = [pid for pid in range(1, 300, 4) if pid in model]
    c.delete_vectors({"points": dropped, "vector": ["m"]})
    for pid in dropped:
        del model[pid]
    updated = [pid for pid in range(5, N, 11) if pid in model]
    fresh = clustered(len(updated), dim=DIM, rows=(1, 4), seed=99)
    c.update_vectors(
        {"points": [{"id": i, "vector": {"m": fresh[j].tolist()}} for j, i in enumerate(updated)]}
    )
    model.update((i, fresh[j]) for j, i in enumerate(updated))
    check(c, model)
    has = {"must": [{"has_vector": "m"}]}
    assert reads.count(c, {"filter": has}) == {"count": len(model)}
    shown = reads.retrieve(c, {"ids": updated[:3], "with_vector": ["m"]})
    for p, j in zip(shown, range(3)):
        expected = fresh[j] / np.linalg.norm(fresh[j], axis=1, keepdims=True)  # Cosine rows
        np.testing.assert_allclose(np.array(p["vector"]["m"]), expected, rtol=1e-5, atol=1e-6)
    # query by point id: its stored multivector, the point itself left out
    pid = updated[0]
    by_id = query.query(c, {"query": pid, "using": "m", "limit": 5})["points"]
    assert pid not in [p["id"] for p in by_id]
    expected = truth({k: v for k, v in model.items() if k != pid}, model[pid])
    assert by_id[0]["score"] == pytest.approx(max(expected.values()), rel=1e-4)
    if indexed:
        assert c.optimizer.wait_idle(120)
        check(c, model)


def test_config_is_echoed_and_refused_quantizations_are_none() -> None:
    with Database(None) as db:
        plain = {"size": 4, "distance": "Dot", "multivector_config": MULTI}
        c = db.create_collection("u", {"vectors": plain})
        assert info.info(c)["config"]["params"]["vectors"] == plain
        with pytest.raises(ValueError, match="comparator"):
            db.create_collection("x", {"vectors": {**plain, "multivector_config": {}}})


@pytest.mark.parametrize(
    ("quantization", "floor"),
    [
        ({"scalar": {"type": "int8", "always_ram": True}}, 0.8),
        # one bit per dimension of 16-d rows walks a poor graph; rescoring still makes the
        # scores exact
        ({"binary": {"always_ram": True, "encoding": "two_bits"}}, 0.4),
        ({"product": {"compression": "x4"}}, 0.6),
    ],
)
def test_quantized_multivectors_rescore_by_the_originals(quantization: dict, floor: float) -> None:
    with Database(None) as db:
        c = db.create_collection("c", body(1, quantization_config=quantization))
        model: dict[int, np.ndarray] = {}
        fill(c, model, n=600)
        assert c.optimizer.wait_idle(120)
        assert any(not s.appendable for s in c.segments)
        params = {"quantization": {"rescore": True, "oversampling": 4.0}, "hnsw_ef": 128}
        total = 0.0
        for q in random_queries(4, dim=DIM, seed=5):
            expected = truth(model, q)
            found = query.query(
                c, {"query": q.tolist(), "using": "m", "limit": 10, "params": params}
            )["points"]
            for p in found:
                assert p["score"] == pytest.approx(expected[p["id"]], rel=1e-4, abs=1e-4)
            total += recall([p["id"] for p in found], expected, 10)
        assert total / 4 >= floor


def test_wal_replay_checkpoint_and_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(tmp_path / "storage")
    c = db.create_collection("c", body(1))
    model: dict[int, np.ndarray] = {}
    fill(c, model, n=600)
    assert c.optimizer.wait_idle(120)
    fill(c, model, n=40, first=5000)  # logged only: replayed from the WAL
    c.delete({"points": [1, 2, 3]})
    for pid in (1, 2, 3):
        del model[pid]
    qs = random_queries(4, dim=DIM, seed=8)

    def answers(coll: Collection) -> list[Any]:
        out = [query.query(coll, {"query": q.tolist(), "using": "m", "limit": 10}) for q in qs]
        page = reads.scroll(coll, {"limit": 2000, "with_vector": True})
        return [[(p["id"], p["score"]) for p in a["points"]] for a in out] + [page]

    assert c.optimizer.wait_idle(120)  # a build re-adds rows: compare what is settled
    before = answers(c)
    with monkeypatch.context() as m:  # no closing checkpoint: the reopen replays the WAL
        m.setattr(storage, "checkpoint", lambda collection: None)
        db.close()
    with Database(tmp_path / "storage") as again:
        assert answers(again.collection("c")) == before
    with Database(tmp_path / "storage") as again:  # after the checkpoint of that close
        assert answers(again.collection("c")) == before
        taken = snapshots.create(again, "c")
        file = snapshots.path_of(again, "c", taken["name"])
        assert snapshots.recover(again, "copy", file)
        assert answers(again.collection("copy")) == before
        check(again.collection("copy"), model, floor=0.85)


def test_bad_multivectors_write_nothing(db: Database) -> None:
    c = db.create_collection("c", body(0))
    good = [[1.0] * DIM, [0.5] * DIM]
    c.upsert({"points": [{"id": 1, "vector": {"m": good, "d": [1.0, 0, 0, 0]}}]})
    bad = [
        ([[1.0] * (DIM - 1)], "expected dim: 16, got 15"),
        ([[1.0] * DIM, [1.0] * 3], "same dimension, found vector with dimension 3"),
        ([[1.0] * DIM, []], "all vectors must be non-empty"),
        ([], "dense vector must not be empty"),
        ([1.0] * (DIM - 1), "expected dim: 16, got 15"),  # a plain vector: a multivector of one
        ([[float("nan")] * DIM], "NaN"),
    ]
    for vector, message in bad:
        for form in (
            {"points": [{"id": 2, "vector": {"m": good}}, {"id": 3, "vector": {"m": vector}}]},
            {"batch": {"ids": [2, 3], "vectors": {"m": [good, vector]}}},
        ):
            with pytest.raises(BadInput, match=message):
                c.upsert(form)
        with pytest.raises(BadInput, match=message):
            c.update_vectors({"points": [{"id": 1, "vector": {"m": vector}}]})
    with pytest.raises(BadInput, match="multivector"):  # a matrix for a plain vector
        c.upsert({"points": [{"id": 2, "vector": {"d": [[1.0, 0, 0, 0]]}}]})
    with pytest.raises(BadInput, match="expected dim"):
        query.query(c, {"query": [[1.0, 2.0]], "using": "m"})
    # recommend by the one stored point: it is never its own recommendation
    found = query.query(c, {"query": {"recommend": {"positive": [1]}}, "using": "m"})
    assert found["points"] == []
    assert reads.count(c, {}) == {"count": 1}
    shown = reads.retrieve(c, {"ids": [1], "with_vector": ["m"]})
    assert np.array(shown[0]["vector"]["m"]).shape == (2, DIM)
