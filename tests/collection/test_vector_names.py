"""Named vectors made and deleted on a live collection (Qdrant's create/delete_vector_name):
the points lose a deleted vector in every segment, a vector made again of the same name starts
empty (never the old data back, also not after a restart or an optimizer build), and
everything else the points hold stays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vqdb.collection import query, reads
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput

pytestmark = pytest.mark.usefixtures("quick_optimizer")

N = 300


def body(threshold: int) -> dict[str, Any]:
    return {
        "vectors": {"a": {"size": 8, "distance": "Cosine"}, "b": {"size": 4, "distance": "Dot"}},
        "sparse_vectors": {"s": {}},
        "optimizers_config": {"indexing_threshold": threshold},
    }


def fill(c: Collection, ids: range, dim_a: int = 8) -> None:
    rng = np.random.default_rng(ids.start)
    points = [
        {
            "id": i,
            "vector": {
                "a": rng.normal(size=dim_a).tolist(),
                "b": [float(i), 1.0, 0.0, 0.0],
                "s": {"indices": [i % 7], "values": [1.0]},
            },
            "payload": {"i": i},
        }
        for i in ids
    ]
    c.upsert({"points": points})


def shown(c: Collection) -> dict[int, dict[str, Any]]:
    page = reads.scroll(c, {"limit": 10 * N, "with_vector": True, "with_payload": True})
    return {p["id"]: p for p in page["points"]}


def optimized(db: Database, c: Collection) -> None:
    assert c.optimizer is not None and c.optimizer.wait_idle(60)
    assert any(not s.appendable for s in c.segments)


@pytest.mark.parametrize("threshold", [10, 100_000], ids=["optimized", "appendable"])
def test_delete_and_make_again(db: Database, threshold: int) -> None:
    c = db.create_collection("c", body(threshold))
    fill(c, range(N))
    if threshold == 10:
        optimized(db, c)
    assert db.delete_vector("c", "a")["status"] == "completed"
    assert c.config.names == ["b", "s"]
    points = shown(c)
    assert len(points) == N and all(set(p["vector"]) == {"b", "s"} for p in points.values())
    with pytest.raises(BadInput, match="Not existing vector name"):
        query.query(c, {"query": [0.0] * 8, "using": "a"})
    db.create_vector("c", "a", {"dense": {"size": 6, "distance": "Dot"}})
    assert c.config.vectors["a"].size == 6
    assert all("a" not in p["vector"] for p in shown(c).values())  # made again: empty
    assert query.query(c, {"query": [1.0] * 6, "using": "a"})["points"] == []
    fill(c, range(50), dim_a=6)
    points = shown(c)
    assert sorted(i for i, p in points.items() if "a" in p["vector"]) == list(range(50))
    assert all(len(p["vector"]["a"]) == 6 for i, p in points.items() if i < 50)
    assert all(p["payload"] == {"i": i} for i, p in points.items())
    found = query.query(c, {"query": [1.0] * 6, "using": "a", "limit": 100})["points"]
    assert {p["id"] for p in found} == set(range(50))
    assert query.query(c, {"query": [5.0, 1, 0, 0], "using": "b"})["points"][0]["id"] == N - 1


def test_restart_and_rebuild(tmp_path: Path) -> None:
    """The files of a segment written before a delete keep the deleted vector's data; neither
    a reopen nor a rebuild may bring it back under the new vector of that name."""
    db = Database(tmp_path / "storage")
    c = db.create_collection("c", body(10))
    fill(c, range(N))
    optimized(db, c)
    c.optimizer.stop()  # the optimized segments keep the deleted vectors' files until reopened
    db.delete_vector("c", "a")
    db.delete_vector("c", "s")
    db.create_vector("c", "a", {"dense": {"size": 6, "distance": "Dot"}})
    db.create_vector("c", "s", {"sparse": {"modifier": "idf"}})
    fill(c, range(10), dim_a=6)
    before = shown(c)
    db.close()
    db = Database(tmp_path / "storage")
    c = db.collection("c")
    assert shown(c) == before
    assert c.config.sparse_vectors["s"].idf
    optimized(db, c)
    c.optimizer.wait_idle(60)
    assert shown(c) == before
    db.close()
    db = Database(tmp_path / "storage")
    assert shown(db.collection("c")) == before
    db.close()


def test_rules(db: Database) -> None:
    c = db.create_collection("c", body(100_000))
    same = {"dense": {"size": 4, "distance": "Dot"}}
    assert db.create_vector("c", "b", same)["status"] == "completed"  # the same: no change
    with pytest.raises(BadInput, match="already exists with a different configuration"):
        db.create_vector("c", "b", {"dense": {"size": 5, "distance": "Dot"}})
    with pytest.raises(BadInput, match="already exists as a sparse vector"):
        db.create_vector("c", "s", same)
    with pytest.raises(BadInput, match="already exists as a dense vector"):
        db.create_vector("c", "b", {"sparse": {}})
    db.delete_vector("c", "nothing")  # as Qdrant: no such vector, no change
    assert c.config.names == ["a", "b", "s"]
    plain = db.create_collection("p", {"vectors": {"size": 4, "distance": "Dot"}})
    with pytest.raises(BadInput, match="one unnamed vector"):
        db.create_vector("p", "x", same)
    db.create_vector("p", "t", {"sparse": {}})  # sparse vectors sit beside the unnamed one
    assert plain.config.names == ["", "t"]
