"""Qdrant's prevent_unoptimized: new points past the indexing threshold of an appendable segment
are deferred (kept and written, left out of every read) until the optimizer has indexed them;
a write that waits returns once what it wrote is shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vqdb.collection import facets, info, query, reads, snapshots, telemetry
from vqdb.database import Database
from vqdb.errors import NotFound
from vqdb.follower import Follower

DIM = 16  # 64 bytes a vector: a threshold of 1 KB shows 16 points
SHOWN = 16


def body(threads: int | str = 0, **optimizers: Any) -> dict[str, Any]:
    return {
        "vectors": {"size": DIM, "distance": "Cosine"},
        "optimizers_config": {
            "indexing_threshold": 1,
            "prevent_unoptimized": True,
            "max_optimization_threads": threads,
            **optimizers,
        },
    }


def batch(start: int, n: int, seed: int = 0) -> dict[str, Any]:
    # clustered, not uniform: a few tight groups, so that near neighbours are ambiguous
    rng = np.random.default_rng(seed + start)
    centres = rng.standard_normal((4, DIM)).astype(np.float32) * 5
    x = centres[rng.integers(0, 4, n)] + rng.standard_normal((n, DIM)).astype(np.float32) * 0.1
    ids = list(range(start, start + n))
    payloads = [{"i": i, "k": i % 3} for i in ids]
    return {"batch": {"ids": ids, "vectors": x, "payloads": payloads}}


def shown(c: Any) -> set[int]:
    return {p["id"] for p in reads.scroll(c, {"limit": 10_000, "with_payload": False})["points"]}


def test_points_past_the_threshold_are_left_out_of_every_read(db: Database) -> None:
    c = db.create_collection("c", body())
    data = batch(0, 100)
    c.upsert(data, wait=False)
    first = set(range(SHOWN))  # appended in order: the first 16 offsets show
    assert shown(c) == first
    assert reads.count(c, {}) == {"count": SHOWN}
    assert {p["id"] for p in reads.retrieve(c, {"ids": list(range(100))})} == first
    flt = {"must": [{"key": "k", "match": {"value": 1}}]}
    assert reads.count(c, {"filter": flt})["count"] == len([i for i in first if i % 3 == 1])
    x = data["batch"]["vectors"]
    for request in ({}, {"filter": flt}, {"params": {"exact": True}}):
        found = query.query(c, {"query": x[50].tolist(), "limit": 100, **request})
        assert {p["id"] for p in found["points"]} <= first
    assert len(query.query(c, {"query": x[50].tolist(), "limit": 100})["points"]) == SHOWN
    with pytest.raises(NotFound):  # a deferred point is no example either
        query.query(c, {"query": {"recommend": {"positive": [50]}}, "limit": 3})
    c.create_payload_index({"field_name": "k", "field_schema": "integer"})
    c.create_payload_index({"field_name": "i", "field_schema": "integer"})
    counted = facets.facet(c, {"key": "k", "exact": True})["hits"]
    assert sum(hit["count"] for hit in counted) == SHOWN
    ordered = reads.scroll(c, {"limit": 100, "order_by": {"key": "i", "direction": "desc"}})
    assert [p["id"] for p in ordered["points"]] == sorted(first, reverse=True)

    shown_info = info.info(c)
    assert shown_info["points_count"] == 100  # as in Qdrant: deferred points count here
    assert shown_info["update_queue"]["deferred_points"] == 100 - SHOWN
    segment = telemetry.segment(c, c.appendable)["info"]
    assert segment["num_points"] == 100
    assert segment["num_deferred_points"] == 100 - SHOWN
    assert segment["deferred_internal_id"] == SHOWN


def test_writes_reach_deferred_points_and_show_once_indexed(db: Database) -> None:
    c = db.create_collection("c", body())
    c.upsert(batch(0, 100), wait=False)
    c.set_payload({"payload": {"tag": "late"}, "points": [50]}, wait=False)
    assert reads.retrieve(c, {"ids": [50]}) == []
    flt = {"must": [{"key": "i", "range": {"gte": 90}}]}
    c.delete({"filter": flt}, wait=False)  # a filter of a write matches deferred points
    below_two = {"must": [{"key": "i", "range": {"lt": 2}}]}
    c.set_payload({"payload": {"tag": "first"}, "filter": below_two})
    # an update of a shown point stays shown, with its new payload; of a deferred one, deferred
    again = batch(0, 1, seed=7)
    again["batch"]["payloads"] = [{"i": 0, "new": True}]
    c.upsert(again, wait=False)
    assert reads.retrieve(c, {"ids": [0]})[0]["payload"] == {"i": 0, "new": True}
    c.upsert(batch(60, 1, seed=7), wait=False)
    assert reads.retrieve(c, {"ids": [60]}) == []
    assert shown(c) == set(range(SHOWN))
    assert reads.retrieve(c, {"ids": [1]})[0]["payload"]["tag"] == "first"

    db.update_collection("c", {"optimizers_config": {"max_optimization_threads": "auto"}})
    assert c.optimizer.wait_idle(60)
    assert shown(c) == set(range(90))
    assert reads.retrieve(c, {"ids": [50]})[0]["payload"]["tag"] == "late"
    assert info.info(c)["update_queue"]["deferred_points"] == 0


def test_a_waiting_write_returns_once_its_points_are_shown(db: Database) -> None:
    c = db.create_collection("c", body(threads="auto"))
    for start in range(0, 200, 50):
        assert c.upsert(batch(start, 50))["status"] == "completed"
        assert shown(c) == set(range(start + 50))  # every point, at once
    assert c.set_payload({"payload": {"x": 1}, "points": [199]})["status"] == "completed"
    assert reads.retrieve(c, {"ids": [199]})[0]["payload"]["x"] == 1
    c.upsert(batch(200, 100), wait=False)
    # one that defers nothing itself still shows every write before it, as in Qdrant
    assert c.set_payload({"payload": {"x": 2}, "points": [0]})["status"] == "completed"
    assert shown(c) == set(range(300))


def test_a_waiting_write_the_optimizer_may_not_show_is_acknowledged(db: Database) -> None:
    c = db.create_collection("c", body())
    assert c.upsert(batch(0, SHOWN))["status"] == "completed"  # nothing deferred
    assert c.upsert(batch(SHOWN, 10))["status"] == "acknowledged"  # rather than waiting for ever
    assert info.info(c)["status"] == "yellow"  # work is due
    assert not c.optimizer.wait_idle(1)


def test_turning_it_off_shows_every_point(db: Database) -> None:
    c = db.create_collection("c", body())
    c.upsert(batch(0, 100), wait=False)
    db.update_collection("c", {"optimizers_config": {"prevent_unoptimized": False}})
    assert shown(c) == set(range(100))
    assert "deferred_points" not in info.info(c)["update_queue"]
    c.upsert(batch(100, 50), wait=False)
    assert len(shown(c)) == 150


def test_turning_it_on_defers_what_comes_next(db: Database) -> None:
    c = db.create_collection("c", body(prevent_unoptimized=False))
    c.upsert(batch(0, 100), wait=False)
    db.update_collection("c", {"optimizers_config": {"prevent_unoptimized": True}})
    c.upsert(batch(100, 50), wait=False)
    assert shown(c) == set(range(100))


def test_no_graph_nothing_deferred(db: Database) -> None:
    config = body(indexing_threshold=0)  # never indexed: nothing would ever show them
    c = db.create_collection("c", config)
    c.upsert(batch(0, 100), wait=False)
    assert len(shown(c)) == 100
    config = body()
    config["hnsw_config"] = {"m": 0}
    c = db.create_collection("d", config)
    c.upsert(batch(0, 100), wait=False)
    assert len(shown(c)) == 100


@pytest.mark.parametrize("checkpointed", [True, False])
def test_deferred_points_stay_deferred_after_a_restart(tmp_path: Path, checkpointed: bool) -> None:
    with Database(tmp_path) as db:
        c = db.create_collection("c", body())
        c.upsert(batch(0, 40), wait=False)
        if checkpointed:
            db.update_collection("c", {"optimizers_config": {"deleted_threshold": 0.3}})
        c.upsert(batch(0, 2, seed=5), wait=False)  # shown ones, updated: shown
        c.upsert(batch(40, 10), wait=False)  # in the WAL alone
        follower = Follower(tmp_path)
        assert shown(follower.collection("c")) == set(range(SHOWN))
    with Database(tmp_path) as db:
        c = db.collection("c")
        assert shown(c) == set(range(SHOWN))
        assert info.info(c)["points_count"] == 50
        db.update_collection("c", {"optimizers_config": {"max_optimization_threads": 1}})
        assert c.optimizer.wait_idle(60)
        assert shown(c) == set(range(50))


def test_a_snapshot_keeps_what_is_deferred(tmp_path: Path) -> None:
    with Database(tmp_path) as db:
        c = db.create_collection("c", body())
        c.upsert(batch(0, 40), wait=False)
        taken = snapshots.create(db, "c")
        assert snapshots.recover(db, "copy", snapshots.path_of(db, "c", taken["name"]))
        copy = db.collection("copy")
        assert shown(copy) == set(range(SHOWN))
        assert info.info(copy)["points_count"] == 40


def test_deferred_points_show_though_deletes_leave_fewer_than_the_threshold(
    db: Database,
) -> None:
    """Deferral goes by offset, sealing by live points: a segment whose deletes took it back
    under the threshold is still sealed and indexed while it defers any."""
    c = db.create_collection("c", body())
    c.upsert(batch(0, 10), wait=False)
    c.delete({"points": list(range(10))}, wait=False)
    c.upsert(batch(100, 10), wait=False)  # offsets 10-19: the last 4 are deferred
    assert shown(c) == set(range(100, 106))
    db.update_collection("c", {"optimizers_config": {"max_optimization_threads": "auto"}})
    assert c.optimizer.wait_idle(60)
    assert shown(c) == set(range(100, 110))
    assert c.set_payload({"points": [], "payload": {}})["status"] == "completed"


def test_a_follower_defers_what_the_writer_defers(tmp_path: Path) -> None:
    """A seal is a WAL record: a follower (and a replay) seals where the writer did, so a point
    written after it lands where it does in the writer, shown, not past the threshold of the
    sealed segment."""
    with Database(tmp_path) as db:
        c = db.create_collection("c", body())
        c.upsert(batch(0, 20), wait=False)
        follower = Follower(tmp_path)
        with c.lock.write():
            c.seal()  # as the optimizer does, with no checkpoint until its build is swapped in
        c.upsert(batch(100, 1), wait=False)
        assert shown(c) == set(range(SHOWN)) | {100}
        follower.catch_up()
        assert shown(follower.collection("c")) == shown(c)
        follower.close()
    with Database(tmp_path) as db:  # replayed from the WAL
        assert shown(db.collection("c")) == set(range(SHOWN)) | {100}
