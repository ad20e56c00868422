"""A follower of a storage folder (vqdb.follower): it sees every acknowledged write, through
WAL records, checkpoints, optimizer swaps, new and deleted collections and aliases, and writes
nothing itself."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vqdb.collection import optimizer as optimizer_module
from vqdb.collection import query, reads
from vqdb.database import Database
from vqdb.errors import BadInput, NotFound
from vqdb.follower import Follower
from vqdb.storage.wal import read_from

DIM = 16


def batch(start: int, n: int, seed: int = 0) -> dict[str, Any]:
    x = np.random.default_rng(seed + start).standard_normal((n, DIM)).astype(np.float32)
    ids = list(range(start, start + n))
    return {"batch": {"ids": ids, "vectors": x, "payloads": [{"i": i} for i in ids]}}


def ids_in(collection: Any) -> list[int]:
    page = reads.scroll(collection, {"limit": 100_000, "with_payload": False})
    return [p["id"] for p in page["points"]]


def body(indexing_threshold: int = 0) -> dict[str, Any]:
    config: dict[str, Any] = {"vectors": {"size": DIM, "distance": "Dot"}}
    if indexing_threshold:  # in KB: DIM floats are 64 bytes
        config["optimizers_config"] = {"indexing_threshold": indexing_threshold}
        config["quantization_config"] = {"scalar": {"type": "int8"}}
    return config


def test_a_follower_sees_writes_checkpoints_collections_and_aliases(tmp_path: Path) -> None:
    with Database(tmp_path) as db:
        c = db.create_collection("a", body())
        c.upsert(batch(0, 50))
        follower = Follower(tmp_path)
        assert ids_in(follower.collection("a")) == list(range(50))

        c.upsert(batch(50, 10))  # a WAL record after the follower's last look
        c.delete({"points": [0, 1]})
        c.set_payload({"payload": {"x": 1}, "points": [2]})
        follower.catch_up()
        there = follower.collection("a")
        assert ids_in(there) == list(range(2, 60))
        assert reads.retrieve(there, {"ids": [2]})[0]["payload"] == {"i": 2, "x": 1}

        db.update_collection("a", {"optimizers_config": {"indexing_threshold": 1}})  # a checkpoint
        c.create_payload_index({"field_name": "i", "field_schema": "integer"})
        c.upsert(batch(60, 5))
        follower.catch_up()
        assert follower.collection("a") is there  # the same object, its state swapped
        assert there.config.optimizers.indexing_threshold == 1
        assert "i" in there.payload_schema
        assert reads.count(there, {"filter": {"must": [{"key": "i", "range": {"gte": 60}}]}}) == {
            "count": 5
        }

        db.create_collection("b", body())
        db.update_aliases([{"create_alias": {"alias_name": "the-b", "collection_name": "b"}}])
        follower.catch_up()
        assert follower.collection_names() == ["a", "b"]
        assert follower.collection("the-b").name == "b"

        db.delete_collection("b")
        follower.catch_up()
        assert follower.collection_names() == ["a"]
        with pytest.raises(NotFound):
            follower.collection("the-b")
        follower.close()


def test_a_follower_writes_nothing(tmp_path: Path) -> None:
    with Database(tmp_path) as db:
        db.create_collection("a", body()).upsert(batch(0, 5))
        follower = Follower(tmp_path)
        with pytest.raises(BadInput, match="only read here"):
            follower.collection("a").upsert(batch(5, 5))
        with pytest.raises(BadInput, match="only read here"):
            follower.create_collection("b", body())
        with pytest.raises(BadInput, match="only read here"):
            follower.update_aliases([])
        follower.catch_up()
        assert ids_in(follower.collection("a")) == list(range(5))
        follower.close()


def test_a_record_being_appended_waits_for_its_end(tmp_path: Path) -> None:
    """A follower may read the WAL while the writer is halfway through a record: it applies
    the whole records before it and takes the rest on a later look."""
    with Database(tmp_path) as db:
        c = db.create_collection("a", body())
        follower = Follower(tmp_path)
        c.upsert(batch(0, 3))
        log = tmp_path / "collections" / "a" / "wal.log"
        whole = log.read_bytes()
        log.write_bytes(whole[:-5])  # as if the last bytes were still on their way
        (records, end) = read_from(log, 0)
        assert records == [] and end == 0
        follower.catch_up()
        assert ids_in(follower.collection("a")) == []
        log.write_bytes(whole)
        # the counts moved with the upsert, before these bytes were cut: look again as it would
        follower._seen = follower._followers["a"]._seen = None
        follower.catch_up()
        assert ids_in(follower.collection("a")) == [0, 1, 2]
        follower.close()


def test_what_was_acknowledged_is_seen_while_the_optimizer_rewrites_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer upserts batches (sealed, indexed and checkpointed by its optimizer as they
    come) while another thread follows: after each catch-up the follower holds every batch
    acknowledged before it began, and answers an exact search as the writer does."""
    monkeypatch.setattr(optimizer_module, "QUIET_SECONDS", 0.01)
    with Database(tmp_path, optimizer_threads=1) as db:
        c = db.create_collection("a", body(indexing_threshold=8))  # 128 vectors
        follower = Follower(tmp_path)
        acknowledged = [0]
        deleted = {i * 40 + 39 for i in range(30) if i % 7 == 3}
        failures: list[BaseException] = []
        done = threading.Event()

        def follow() -> None:
            try:
                while not done.is_set():
                    wanted = acknowledged[0]
                    follower.catch_up()
                    missing = (
                        set(range(wanted * 40)) - deleted - set(ids_in(follower.collection("a")))
                    )
                    assert not missing, (wanted, sorted(missing)[:5])
                    time.sleep(0.002)  # requests come apart: the writer gets the GIL too
            except BaseException as e:  # reported by the main thread
                failures.append(e)

        thread = threading.Thread(target=follow)
        thread.start()
        for i in range(30):
            c.upsert(batch(i * 40, 40))
            acknowledged[0] = i + 1
            if i % 7 == 3:
                c.delete({"points": [i * 40 + 39]})
                time.sleep(0.02)
        done.set()
        thread.join()
        assert not failures, failures[0]
        assert c.optimizer.wait_idle(60)
        follower.catch_up()
        there = follower.collection("a")
        assert ids_in(there) == ids_in(c)
        assert len(there.segments) > 1  # the optimizer indexed some while it was followed
        q = np.random.default_rng(7).standard_normal(DIM).tolist()
        exact = {"query": q, "limit": 10, "params": {"exact": True}}
        assert query.query(there, exact) == query.query(c, exact)
        follower.close()


def test_only_the_collections_that_changed_are_looked_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write to one collection costs a follower a look at that one; a collection made,
    deleted, made again under its name or aliased, a look at them all."""
    from vqdb.collection.follower import CollectionFollower

    looked: list[str] = []
    look = CollectionFollower._look

    def spy(self: CollectionFollower) -> Any:
        looked.append(self.path.name)
        return look(self)

    monkeypatch.setattr(CollectionFollower, "_look", spy)
    with Database(tmp_path) as db:
        for name in "abc":
            db.create_collection(name, body()).upsert(batch(0, 3))
        follower = Follower(tmp_path)
        looked.clear()
        db.collection("b").upsert(batch(3, 2))
        follower.catch_up()
        assert looked == ["b"] and ids_in(follower.collection("b")) == list(range(5))
        looked.clear()
        db.delete_collection("c")
        db.create_collection("c", body()).upsert(batch(10, 1))  # another folder, same name
        db.update_aliases([{"create_alias": {"collection_name": "a", "alias_name": "x"}}])
        follower.catch_up()
        assert sorted(looked) == ["a", "b", "c"]
        assert ids_in(follower.collection("c")) == [10] and ids_in(follower.collection("x")) == [
            0,
            1,
            2,
        ]
        looked.clear()
        db.collection("c").upsert(batch(11, 1))  # counted in the new folder's file
        follower.catch_up()
        assert looked == ["c"] and ids_in(follower.collection("c")) == [10, 11]
        follower.catch_up()
        assert looked == ["c"]  # nothing changed since: no look
        follower.close()


def test_a_checkpoint_takes_no_segment_from_the_files_again(tmp_path: Path) -> None:
    """A follower that had read up to a checkpoint, or lags it by what the checkpoint emptied
    from the WAL (kept as wal.log.prev until the next one), goes on with its own segments: the
    appendable one is not loaded again. One that missed two checkpoints loads what changed."""
    from vqdb.collection import storage

    with Database(tmp_path) as db:
        c = db.create_collection("a", body())
        c.upsert(batch(0, 50))
        follower = Follower(tmp_path)
        there = follower.collection("a")
        held = there.appendable
        c.upsert(batch(50, 10))  # not yet read by the follower
        c.delete({"points": [3]})
        storage.checkpoint(c)  # the WAL is emptied: its records are kept beside it
        c.upsert(batch(60, 5))
        follower.catch_up()
        assert there.appendable is held  # caught up through the kept records
        assert ids_in(there) == ids_in(c) == [i for i in range(65) if i != 3]
        assert reads.retrieve(there, {"ids": [64]})[0]["payload"] == {"i": 64}

        storage.checkpoint(c)  # read up to it: nothing to take, nothing loaded
        follower.catch_up()
        assert there.appendable is held

        c.upsert(batch(65, 5))
        storage.checkpoint(c)
        c.upsert(batch(70, 5))
        storage.checkpoint(c)  # two checkpoints unread: the records between are gone
        follower.catch_up()
        assert there.appendable is not held
        assert ids_in(there) == ids_in(c)
        c.set_payload({"payload": {"x": 1}, "points": [71]})
        follower.catch_up()
        assert reads.retrieve(there, {"ids": [71]})[0]["payload"] == {"i": 71, "x": 1}
        follower.close()
