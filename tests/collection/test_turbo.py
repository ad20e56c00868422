"""TurboQuant through the collection layer: `turbo` quantization at every bit size (search,
oversampling and rescore, live switching and removal, multivectors, reopening and snapshots)
and the `turbo4` datatype of the originals (what retrieval returns, scores of the stored
values, partial updates that leave the other vectors' bytes alone)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vqdb.collection import info, query, reads, snapshots
from vqdb.collection.collection import Collection
from vqdb.database import Database

DIM = 48
N = 600

pytestmark = pytest.mark.usefixtures("quick_optimizer")


def rows(n: int, seed: int, dim: int = DIM) -> np.ndarray:
    """Embedding-like rows: a shared direction plus unequal spreads per dimension."""
    rng = np.random.default_rng(seed)
    shared = np.random.default_rng(99).standard_normal(dim)
    spread = np.random.default_rng(98).uniform(0.2, 2.0, dim)
    return (rng.standard_normal((n, dim)) * spread + shared).astype(np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "storage")
    yield database
    database.close()


def fill(c: Collection, x: np.ndarray, first: int = 0) -> None:
    for start in range(0, len(x), 200):
        points = [
            {"id": first + i, "vector": x[i].tolist()}
            for i in range(start, min(len(x), start + 200))
        ]
        c.upsert({"points": points})


def exact_top(x: np.ndarray, q: np.ndarray, k: int = 10) -> list[int]:
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    return [int(i) for i in np.argsort(-(unit @ (q / np.linalg.norm(q))))[:k]]


@pytest.mark.parametrize("bits", ["bits1", "bits1_5", "bits2", "bits4"])
def test_search_rescore_and_echo(db: Database, bits: str) -> None:
    config = {"turbo": {"bits": bits, "always_ram": True}}
    c = db.create_collection(
        "c",
        {
            "vectors": {"size": DIM, "distance": "Cosine", "on_disk": True},
            "quantization_config": config,
            "optimizers_config": {"indexing_threshold": 1},
        },
    )
    assert info.info(c)["config"]["quantization_config"] == config
    x = rows(N, 1)
    fill(c, x)
    assert c.optimizer.wait_idle(120)
    queries = rows(10, 2)
    hits = 0
    for q in queries:
        request = {"query": q.tolist(), "limit": 10}
        params = {"quantization": {"rescore": True, "oversampling": 4.0}, "hnsw_ef": 128}
        found = query.query(c, {**request, "params": params})["points"]
        exact = query.query(c, {**request, "params": {"exact": True}})["points"]
        scores = {p["id"]: p["score"] for p in exact}
        for p in found:  # rescored: the originals' scores
            if p["id"] in scores:
                assert p["score"] == pytest.approx(scores[p["id"]], rel=1e-5)
        hits += len({p["id"] for p in found} & set(exact_top(x, q)))
        unscored = query.query(
            c, {**request, "params": {"quantization": {"rescore": False, "ignore": False}}}
        )["points"]
        assert len(unscored) == 10
    assert hits / (10 * len(queries)) >= 0.8  # 48-d random rows: one bit measured 0.88


def test_switching_between_quantizations(db: Database) -> None:
    c = db.create_collection(
        "c",
        {
            "vectors": {"size": DIM, "distance": "Dot"},
            "quantization_config": {"binary": {}},
            "optimizers_config": {"indexing_threshold": 1},
        },
    )
    x = rows(N, 3)
    fill(c, x)
    assert c.optimizer.wait_idle(120)
    for change in ({"turbo": {"bits": "bits2"}}, {"turbo": {}}, {"scalar": {"type": "int8"}}):
        db.update_collection("c", {"quantization_config": change})
        found = query.query(c, {"query": x[11].tolist(), "limit": 1})  # answers meanwhile
        assert found["points"][0]["id"] == int(np.argmax(x @ x[11]))
        assert c.optimizer.wait_idle(120)
        assert info.info(c)["config"]["quantization_config"] == change
    db.update_collection("c", {"quantization_config": "Disabled"})
    assert c.optimizer.wait_idle(120)
    assert info.info(c)["config"].get("quantization_config") is None
    assert reads.count(c, {}) == {"count": N}


def test_multivectors_with_turbo(db: Database) -> None:
    c = db.create_collection(
        "c",
        {
            "vectors": {
                "size": 16,
                "distance": "Dot",
                "multivector_config": {"comparator": "max_sim"},
                "quantization_config": {"turbo": {"bits": "bits4"}},
            },
            "optimizers_config": {"indexing_threshold": 1},
        },
    )
    x = rows(3 * 200, 4, dim=16)
    points = [{"id": i, "vector": x[3 * i : 3 * i + 1 + i % 3].tolist()} for i in range(200)]
    c.upsert({"points": points})
    assert c.optimizer.wait_idle(120)
    q = x[30:32]
    assert len(query.query(c, {"query": q.tolist(), "limit": 5})["points"]) == 5  # no rescore
    rescored = {"quantization": {"rescore": True, "oversampling": 2.0}}
    found = query.query(c, {"query": q.tolist(), "limit": 5, "params": rescored})["points"]
    exact = query.query(c, {"query": q.tolist(), "limit": 5, "params": {"exact": True}})["points"]
    assert found[0]["id"] == exact[0]["id"]


def test_reopen_and_snapshot(tmp_path: Path) -> None:
    db = Database(tmp_path / "storage")
    body: dict[str, Any] = {
        "vectors": {
            "q": {"size": DIM, "distance": "Cosine", "quantization_config": {"turbo": {}}},
            "t": {"size": DIM, "distance": "Euclid", "datatype": "turbo4", "on_disk": True},
        },
        "optimizers_config": {"indexing_threshold": 1},
    }
    c = db.create_collection("c", body)
    x, y = rows(400, 5), rows(400, 6)
    c.upsert(
        {
            "points": [
                {"id": i, "vector": {"q": x[i].tolist(), "t": y[i].tolist()}} for i in range(400)
            ]
        }
    )
    assert c.optimizer.wait_idle(120)
    c.upsert({"points": [{"id": 5000, "vector": {"q": x[0].tolist(), "t": y[0].tolist()}}]})

    def answers(coll: Collection) -> list[Any]:
        got = [
            query.query(coll, {"query": v[7].tolist(), "using": n, "limit": 10})
            for n, v in (("q", x), ("t", y))
        ]
        return [got, reads.scroll(coll, {"limit": 1000, "with_vector": True})]

    before = answers(c)
    db.close()
    with Database(tmp_path / "storage") as again:
        assert answers(again.collection("c")) == before
        taken = snapshots.create(again, "c")
        assert snapshots.recover(again, "copy", snapshots.path_of(again, "c", taken["name"]))
        assert answers(again.collection("copy")) == before


@pytest.mark.parametrize("distance", ["Cosine", "Dot", "Euclid", "Manhattan"])
def test_turbo4_datatype(db: Database, distance: str) -> None:
    c = db.create_collection(
        "c",
        {
            "vectors": {
                "a": {"size": DIM, "distance": distance, "datatype": "turbo4"},
                "b": {"size": DIM, "distance": distance, "datatype": "turbo4"},
            },
            "optimizers_config": {"indexing_threshold": 1},
        },
    )
    assert info.info(c)["config"]["params"]["vectors"]["a"]["datatype"] == "turbo4"
    x, y = rows(300, 7), rows(300, 8)
    c.upsert(
        {
            "points": [
                {"id": i, "vector": {"a": x[i].tolist(), "b": y[i].tolist()}} for i in range(300)
            ]
        }
    )
    assert c.optimizer.wait_idle(120)
    got = reads.retrieve(c, {"ids": [4], "with_vector": True})[0]["vector"]
    back = np.array(got["a"], np.float32)
    assert cosine(back, x[4]) > 0.99
    if distance != "Cosine":
        assert 0.9 < np.linalg.norm(back) / np.linalg.norm(x[4]) < 1.1
    # the nearest to a stored vector is itself
    found = query.query(c, {"query": x[4].tolist(), "using": "a", "limit": 1})["points"]
    assert found[0]["id"] == 4
    # replacing one vector leaves the other's stored values as they were: the point is stored
    # again, and a decoded turbo4 row encodes to the same codes (its scale to float32 rounding)
    before = reads.retrieve(c, {"ids": [9], "with_vector": True})[0]["vector"]
    c.update_vectors({"points": [{"id": 9, "vector": {"a": y[0].tolist()}}]})
    after = reads.retrieve(c, {"ids": [9], "with_vector": True})[0]["vector"]
    assert after["b"] == pytest.approx(before["b"], rel=1e-5, abs=1e-6)
    assert cosine(np.array(after["a"]), y[0]) > 0.99


def test_refusals(db: Database) -> None:
    for body in (
        {"vectors": {"size": 1, "distance": "Dot"}, "quantization_config": {"turbo": {}}},
        {"vectors": {"size": 1, "distance": "Dot", "datatype": "turbo4"}},
        {
            "vectors": {"size": 4, "distance": "Dot"},
            "quantization_config": {"turbo": {"bits": "bits3"}},
        },
    ):
        with pytest.raises(ValueError):
            db.create_collection("bad", body)
