"""The collection layer end to end: writes, reads, the optimizer, restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vqdb.collection import info, query, reads
from vqdb.database import Database
from vqdb.errors import AlreadyExists, BadInput, NotFound

DIM = 16


def body(**extra: Any) -> dict[str, Any]:
    return {
        "vectors": {"size": DIM, "distance": "Cosine"},
        "optimizers_config": {"indexing_threshold": 1},  # 1 KB: index from 16 points on
        **extra,
    }


def vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def exact_top(x: np.ndarray, ids: list[int], q: np.ndarray, k: int) -> list[int]:
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    order = np.argsort(-(unit @ (q / np.linalg.norm(q))), kind="stable")
    return [ids[i] for i in order[:k]]


def fill(db: Database, n: int = 600, **extra: Any) -> tuple[Any, np.ndarray]:
    c = db.create_collection("c", body(**extra))
    x = vectors(n)
    for start in range(0, n, 100):
        ids = list(range(start, start + 100))
        payloads = [{"k": i % 10, "name": f"p{i}"} for i in ids]
        c.upsert({"batch": {"ids": ids, "vectors": x[start : start + 100], "payloads": payloads}})
    return c, x


def test_search_filter_scroll_count_through_optimization(db: Database) -> None:
    c, x = fill(db, quantization_config={"scalar": {"type": "int8"}})
    assert c.optimizer.wait_idle(60)
    assert info.info(c)["status"] == "green"
    assert not any(s.appendable and s.count for s in c.segments)
    q = x[3]
    found = query.query(c, {"query": q.tolist(), "limit": 5, "params": {"exact": True}})
    assert [p["id"] for p in found["points"]] == exact_top(x, list(range(600)), q, 5)
    flt = {"must": [{"key": "k", "match": {"value": 3}}]}
    found = query.query(c, {"query": q.tolist(), "limit": 5, "filter": flt, "with_payload": True})
    assert all(p["payload"]["k"] == 3 for p in found["points"]) and len(found["points"]) == 5
    assert reads.count(c, {"filter": flt}) == {"count": 60}
    page = reads.scroll(c, {"limit": 4, "offset": 10, "with_payload": ["name"]})
    assert [p["id"] for p in page["points"]] == [10, 11, 12, 13]
    assert page["points"][0]["payload"] == {"name": "p10"} and page["next_page_offset"] == 14


def test_writes_land_everywhere(db: Database) -> None:
    c, x = fill(db)
    c.optimizer.wait_idle(60)
    c.delete({"points": [1, 2]})
    c.delete({"filter": {"must": [{"key": "k", "match": {"value": 9}}]}})
    c.set_payload({"payload": {"extra": True}, "points": [3]})
    c.delete_payload({"keys": ["name"], "points": [3]})
    c.upsert({"points": [{"id": 4, "vector": x[0].tolist(), "payload": {"moved": 1}}]})
    c.update_vectors({"points": [{"id": 5, "vector": x[0].tolist()}]})
    assert reads.count(c, {}) == {"count": 600 - 2 - 60}
    got = {p["id"]: p for p in reads.retrieve(c, {"ids": [1, 3, 4, 5], "with_vector": True})}
    assert set(got) == {3, 4, 5}
    assert got[3]["payload"] == {"k": 3, "extra": True}
    assert got[4]["payload"] == {"moved": 1} and got[5]["payload"] == {"k": 5, "name": "p5"}
    unit = x[0] / np.linalg.norm(x[0])
    np.testing.assert_allclose(got[5]["vector"], unit, rtol=1e-5, atol=1e-6)
    top = query.query(c, {"query": x[0].tolist(), "limit": 3, "params": {"exact": True}})
    assert {p["id"] for p in top["points"]} == {0, 4, 5}
    with pytest.raises(NotFound):
        c.update_vectors({"points": [{"id": 1, "vector": x[0].tolist()}]})


def test_restart_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    path = tmp_path / "storage"
    with Database(path) as db:
        c, x = fill(db, quantization_config={"binary": {}})
        c.optimizer.wait_idle(60)
        c.delete({"points": [7]})
        c.set_payload({"payload": {"late": 1}, "points": [8]})
        before = query.query(c, {"query": x[9].tolist(), "limit": 10})
    with Database(path) as db:
        c = db.collection("c")
        assert reads.count(c, {}) == {"count": 599}
        assert reads.retrieve(c, {"ids": [8]})[0]["payload"]["late"] == 1
        after = query.query(c, {"query": x[9].tolist(), "limit": 10})
        assert [p["id"] for p in after["points"]] == [p["id"] for p in before["points"]]


def test_quantization_switch_on_a_live_collection(db: Database) -> None:
    c, x = fill(db, quantization_config={"scalar": {"type": "int8"}})
    c.optimizer.wait_idle(60)
    for change in ({"binary": {}}, {"product": {"compression": "x4"}}, "Disabled"):
        db.update_collection("c", {"quantization_config": change})
        found = query.query(c, {"query": x[11].tolist(), "limit": 1})  # answers meanwhile
        assert found["points"][0]["id"] == 11
        assert c.optimizer.wait_idle(60)
        assert reads.count(c, {}) == {"count": 600}
    assert info.info(c)["config"].get("quantization_config") is None


def test_bad_input_writes_nothing(db: Database) -> None:
    c, x = fill(db, n=100)
    bad: list[dict[str, Any]] = [
        {"points": [{"id": 1000, "vector": [0.0] * (DIM - 1)}]},
        {"points": [{"id": 1000, "vector": [float("nan")] * DIM}]},
        {"points": [{"id": -1, "vector": [0.0] * DIM}]},
        {"points": [{"id": "not-a-uuid", "vector": [0.0] * DIM}]},
        {"points": [{"id": 1000, "vector": {"other": [0.0] * DIM}}]},
    ]
    for b in bad:
        with pytest.raises(ValueError):
            c.upsert(b)
    with pytest.raises(BadInput, match="filter"):
        reads.count(c, {"filter": {"must": [{"key": "k", "range": {"gte": "abc"}}]}})
    with pytest.raises(BadInput, match="dimension"):
        query.query(c, {"query": [1.0, 2.0]})
    with pytest.raises(AlreadyExists):
        db.create_collection("c", body())
    with pytest.raises(NotFound):
        db.collection("missing")
    assert reads.count(c, {}) == {"count": 100}


def test_query_without_a_vector_pages_by_id(db: Database) -> None:
    c, _ = fill(db, n=100)
    found = query.query(c, {"limit": 2, "offset": 3})
    assert [p["id"] for p in found["points"]] == [3, 4]


def test_conditional_writes(db: Database) -> None:
    """update_mode and update_filter, as Qdrant: an existing point is replaced only if it
    matches the filter (new ids are inserted), insert_only never replaces, update_only never
    inserts; what a condition holds back is not written, in the segments or to the WAL."""
    c, x = fill(db, n=200)  # payload k = id % 10, across optimized and appendable segments

    def point(pid: int, version: int) -> dict[str, Any]:
        return {"id": pid, "vector": x[0].tolist(), "payload": {"k": 10 + version}}

    def k_of(pid: int) -> Any:
        found = reads.retrieve(c, {"ids": [pid]})
        return found[0]["payload"]["k"] if found else None

    only_k3 = {"must": [{"key": "k", "match": {"value": 3}}]}
    c.upsert({"points": [point(3, 1), point(4, 1), point(500, 1)], "update_filter": only_k3})
    assert (k_of(3), k_of(4), k_of(500)) == (11, 4, 11)
    c.upsert({"points": [point(5, 2), point(501, 2)], "update_mode": "insert_only"})
    assert (k_of(5), k_of(501)) == (5, 12)
    c.upsert({"points": [point(6, 3), point(502, 3)], "update_mode": "update_only"})
    assert (k_of(6), k_of(502)) == (13, None)
    before = reads.count(c, {})
    done = c.upsert({"points": [point(7, 4)], "update_mode": "insert_only"})  # nothing to do
    assert done["status"] == "completed" and reads.count(c, {}) == before and k_of(7) == 7
    moved = {"points": [{"id": 8, "vector": x[1].tolist()}], "update_filter": only_k3}
    c.update_vectors(moved)  # 8 has k 8: not updated
    got = reads.retrieve(c, {"ids": [8], "with_vector": True})[0]["vector"]
    assert np.allclose(got, x[8] / np.linalg.norm(x[8]), atol=1e-6)
    with pytest.raises(BadInput, match="update_mode 'merge'"):
        c.upsert({"points": [point(9, 5)], "update_mode": "merge"})
    with pytest.raises(BadInput, match="update_filter"):
        c.upsert({"points": [point(9, 5)], "update_filter": {"must": 3}})
    if db.path is not None:  # the WAL replays what was let through, and nothing else
        db.close()
        reopened = Database(db.path)
        c = reopened.collection("c")
        assert (k_of(3), k_of(4), k_of(5), k_of(6), k_of(500), k_of(502)) == (
            11,
            4,
            5,
            13,
            11,
            None,
        )
        reopened.close()


def test_update_vectors_merges_one_point_given_twice(db: Database) -> None:
    """Qdrant #3376: one point twice in an update, a different named vector each time."""
    c = db.create_collection(
        "n", {"vectors": {"a": {"size": 2, "distance": "Dot"}, "b": {"size": 3, "distance": "Dot"}}}
    )
    c.upsert({"points": [{"id": 1, "vector": {"a": [1, 0], "b": [1, 0, 0]}}]})
    c.update_vectors(
        {"points": [{"id": 1, "vector": {"a": [0, 2]}}, {"id": 1, "vector": {"b": [0, 0, 3]}}]}
    )
    shown = reads.retrieve(c, {"ids": [1], "with_vector": True})[0]["vector"]
    assert shown == {"a": [0.0, 2.0], "b": [0.0, 0.0, 3.0]}
    with pytest.raises(BadInput, match=r"points\[0\].vector: must specify vectors to update"):
        c.update_vectors({"points": [{"id": 1, "vector": {}}]})
