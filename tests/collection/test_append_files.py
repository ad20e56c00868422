"""Append-only segment files (storage/appends.py): an appendable segment's ids and vectors, and
every segment's payload journal, are extended by each checkpoint with what came since, never
rewritten below what a generation names; and a write that fills the WAL checkpoints."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vqdb.collection import query, reads, storage
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import StorageError
from vqdb.segment import files
from vqdb.storage import appends

DIM = 16
BODY = {
    "vectors": {
        "": {"size": DIM, "distance": "Euclid"},
        "m": {"size": 4, "distance": "Dot", "multivector_config": {"comparator": "max_sim"}},
    },
    "sparse_vectors": {"s": {}},
}


def points(rng: np.random.Generator, ids: list[Any]) -> dict[str, Any]:
    """Points with every kind of vector (raw, unnormalised: Euclid keeps them as given) and a
    payload that says which write made them."""
    batch = []
    for pid in ids:
        rows = int(rng.integers(1, 4))
        indices = sorted(rng.choice(1000, size=int(rng.integers(1, 6)), replace=False).tolist())
        batch.append(
            {
                "id": pid,
                "vector": {
                    "": (rng.standard_normal(DIM) * 50).tolist(),
                    "m": rng.standard_normal((rows, 4)).tolist(),
                    "s": {"indices": indices, "values": rng.random(len(indices)).tolist()},
                },
                "payload": {"pid": str(pid), "draw": float(rng.random())},
            }
        )
    return {"points": batch}


def everything(c: Collection) -> list[dict[str, Any]]:
    found = reads.scroll(c, {"limit": 100_000, "with_payload": True, "with_vector": True})
    return sorted(found["points"], key=lambda p: str(p["id"]))


def segment_folder(c: Collection) -> Path:
    return storage.segment_dir(c, c.appendable)


def rows_files(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in folder.glob("*.rows")}


def checkpointed(db: Database, rng: np.random.Generator, ids: list[Any]) -> Collection:
    """Collection "a" holding points of `ids`, checkpointed: its files hold them."""
    c = db.create_collection("a", BODY)
    c.upsert(points(rng, ids))
    storage.checkpoint(c)
    return c


def reopens_as(path: Path, before: list[dict[str, Any]]) -> None:
    with Database(path) as db:
        assert everything(db.collection("a")) == before


def test_a_checkpoint_appends_only_what_came_since(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(0)
    appended: list[tuple[str, int, int]] = []  # file, rows before, rows written

    def spy(path: Path, rows_before: int, array: np.ndarray) -> int:
        appended.append((path.name, rows_before, array.shape[0]))
        return appends.append_rows(path, rows_before, array)

    monkeypatch.setattr(files, "append_rows", spy)
    with Database(tmp_path) as db:
        c = checkpointed(db, rng, list(range(300)))
        folder = segment_folder(c)
        first = rows_files(folder)
        originals = next(n for n in first if n.startswith("vector.0.originals.codes"))
        head = (folder / originals).read_bytes()
        assert first[originals] == 300 * DIM * 4
        c.upsert(points(rng, list(range(300, 400))))
        appended.clear()
        storage.checkpoint(c)
        assert (originals, 300, 100) in appended
        # no file written from its start (the uuids': none yet)
        assert all(before > 0 or n == 0 for _, before, n in appended)
        second = rows_files(folder)
        assert set(second) == set(first)  # the same files, extended
        assert second[originals] == 400 * DIM * 4
        assert (folder / originals).read_bytes()[: len(head)] == head
        assert all(second[name] >= size for name, size in first.items())
        before = everything(c)
    reopens_as(tmp_path, before)


def test_every_kind_of_change_survives_reopening(tmp_path: Path) -> None:
    """Deletes, moved points, vector updates, payload edits and uuid ids, each between
    checkpoints, come back from the files alone (the WAL emptied by the last checkpoint)."""
    rng = np.random.default_rng(1)
    uuids = [str(uuid.UUID(int=i + 1)) for i in range(40)]
    with Database(tmp_path) as db:
        c = db.create_collection("a", BODY)
        c.upsert(points(rng, [*range(100), *uuids]))
        storage.checkpoint(c)
        c.delete({"points": [3, 4, uuids[0]]})
        c.upsert(points(rng, [5, 6, uuids[1], 1000]))  # moved: new rows, the old ones dead
        c.update_vectors({"points": [{"id": 7, "vector": {"": rng.standard_normal(DIM).tolist()}}]})
        c.set_payload({"payload": {"edited": True}, "points": [8, uuids[2]]})
        c.delete_payload({"keys": ["draw"], "points": [9]})
        c.delete_vectors({"points": [10], "vector": ["m"]})
        storage.checkpoint(c)
        c.set_payload({"payload": {"edited": 2}, "points": [8]})
        c.clear_payload({"points": [11]})
        storage.checkpoint(c)
        assert c.wal is not None and c.wal.size == 0
        before = everything(c)
        q = rng.standard_normal(DIM).tolist()
        hits = query.query(c, {"query": q, "limit": 10, "with_payload": True})
    with Database(tmp_path) as db:
        c = db.collection("a")
        assert everything(c) == before
        assert query.query(c, {"query": q, "limit": 10, "with_payload": True}) == hits
        c.upsert(points(rng, [2000]))  # and it goes on appending after a reopen
        storage.checkpoint(c)
        after = everything(c)
    reopens_as(tmp_path, after)


def test_bytes_past_a_generation_are_ignored_and_written_over(tmp_path: Path) -> None:
    """What a crash mid-checkpoint leaves past a generation's rows (or a journal's bytes) is
    not read, and the next checkpoint writes its rows there."""
    rng = np.random.default_rng(2)
    with Database(tmp_path) as db:
        c = db.create_collection("a", BODY)
        c.upsert(points(rng, list(range(50))))
        c.set_payload({"payload": {"k": 1}, "points": [1]})
        storage.checkpoint(c)
        folder = segment_folder(c)
        before = everything(c)
    tails = [*folder.glob("*.rows"), *folder.glob("*.journal")]
    assert any(p.suffix == ".journal" for p in tails)
    for path in tails:
        with open(path, "ab") as f:
            f.write(b"\xff" * 1000)
    with Database(tmp_path) as db:
        c = db.collection("a")
        assert everything(c) == before
        c.upsert(points(rng, [50]))
        c.set_payload({"payload": {"k": 2}, "points": [2]})
        storage.checkpoint(c)
        after = everything(c)
    reopens_as(tmp_path, after)


def test_a_short_file_is_an_error_naming_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    with Database(tmp_path) as db:
        c = checkpointed(db, rng, list(range(20)))
        folder = segment_folder(c)
    originals = next(folder.glob("vector.0.originals.codes.*.rows"))
    with open(originals, "r+b") as f:
        f.truncate(100)
    with pytest.raises(StorageError, match=originals.name):
        Database(tmp_path).collection("a")


def test_a_vector_made_again_gets_a_file_of_its_own(tmp_path: Path) -> None:
    """A named vector deleted and made again between checkpoints is another store: its rows
    start a new file rather than extend the old one's."""
    rng = np.random.default_rng(4)
    with Database(tmp_path) as db:
        c = checkpointed(db, rng, list(range(30)))
        old = c.appendable.appended["m", "originals.codes"].file
        db.delete_vector("a", "m")
        db.create_vector("a", "m", {"dense": {"size": 4, "distance": "Dot"}})
        rows = [rng.standard_normal(4).tolist() for _ in range(30)]
        c.update_vectors({"points": [{"id": i, "vector": {"m": rows[i]}} for i in range(30)]})
        storage.checkpoint(c)
        new = c.appendable.appended["m", "originals.codes"]
        assert new.file != old and new.count == 30 and new.shape == (4 * 4,)
        assert not (segment_folder(c) / old).exists()  # no generation names it any more
        before = everything(c)
    reopens_as(tmp_path, before)


def test_a_failed_checkpoint_leaves_what_the_last_one_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(5)
    with Database(tmp_path) as db:
        c = checkpointed(db, rng, list(range(40)))
        c.upsert(points(rng, list(range(40, 80))))
        c.set_payload({"payload": {"late": 1}, "points": [0]})

        def refuse(collection: Collection, generation: int) -> None:
            raise OSError(28, "No space left on device")

        with monkeypatch.context() as patch:
            patch.setattr(storage, "_write_manifest", refuse)
            with pytest.raises(OSError):
                storage.checkpoint(c)
        before = everything(c)
    with Database(tmp_path) as db:  # the last generation and the WAL
        assert everything(db.collection("a")) == before
        storage.checkpoint(db.collection("a"))
    reopens_as(tmp_path, before)


def test_a_journal_mostly_written_over_starts_again(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    with Database(tmp_path) as db:
        c = checkpointed(db, rng, list(range(10)))
        folder = segment_folder(c)
        first = {p.name for p in folder.glob("*.journal")}
        for i in range(1100):  # each checkpoint appends the one payload again
            c.set_payload({"payload": {"n": i}, "points": [1]})
            storage.checkpoint(c)
        journals = list(folder.glob("*.journal"))
        assert len(journals) == 1 and journals[0].name not in first
        lines = journals[0].read_bytes().count(b"\n")
        assert lines < 1100
        before = everything(c)
    reopens_as(tmp_path, before)


def test_a_full_wal_checkpoints(tmp_path: Path) -> None:
    """wal_capacity_mb of writes checkpoint: the WAL empties and a restart replays only what
    came after."""
    rng = np.random.default_rng(7)
    body = {"vectors": {"size": 256, "distance": "Cosine"}, "wal_config": {"wal_capacity_mb": 1}}
    with Database(tmp_path) as db:
        c = db.create_collection("a", body)
        generation = c.generation
        assert c.wal is not None
        for start in range(0, 3000, 250):  # 250 x 256 x 4 B = 256 KB a write
            vectors = rng.standard_normal((250, 256)).astype(np.float32)
            ids = list(range(start, start + 250))
            c.upsert({"points": [{"id": i, "vector": v.tolist()} for i, v in zip(ids, vectors)]})
            assert c.wal.size < 2 << 20
        assert c.generation >= generation + 2
        before = everything(c)
    reopens_as(tmp_path, before)


def test_meta_names_how_much_of_each_file_a_generation_holds(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    with Database(tmp_path) as db:
        c = checkpointed(db, rng, list(range(25)))
        folder, generation = segment_folder(c), c.generation
    meta = json.loads((folder / f"meta.{generation}.json").read_text())
    dense = meta["rows"]["vectors"][""]["originals.codes"]
    assert dense["count"] == 25 and dense["shape"] == [DIM * 4] and dense["dtype"] == "|u1"
    rows = appends.read_rows(folder / dense["file"], dense["dtype"], dense["shape"], 25)
    assert rows.shape == (25, DIM * 4)
    assert meta["rows"]["ids"]["nums"]["count"] == 25


def test_a_flush_writes_its_bulk_without_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """storage.flush (what a write that fills the WAL calls) writes the new rows with no lock
    held; the checkpoint under the lock then has none of them left to write."""
    rng = np.random.default_rng(9)
    with Database(tmp_path) as db:
        c = checkpointed(db, rng, list(range(300)))
        c.upsert(points(rng, list(range(300, 500))))
        c.upsert(points(rng, list(range(1000, 1010))))
        writes: list[tuple[str, int, bool]] = []  # file, rows, whether the lock was held

        def spy(path: Path, rows_before: int, array: np.ndarray) -> int:
            writes.append((path.name, array.shape[0], c.lock._writer))
            return appends.append_rows(path, rows_before, array)

        monkeypatch.setattr(files, "append_rows", spy)
        storage.flush(c)
        originals = c.appendable.appended["", "originals.codes"].file
        assert (originals, 210, False) in writes
        assert not [w for w in writes if w[2] and w[1]]  # nothing left for the locked part
        assert c.wal is not None and c.wal.size == 0
        before = everything(c)
    reopens_as(tmp_path, before)


def test_rows_written_ahead_meet_a_checkpoint_meanwhile(tmp_path: Path) -> None:
    """Between the copy and the count (the lock let go), a checkpoint may write the same rows
    and more, or start another file: the count never goes back, nor onto another file."""
    rng = np.random.default_rng(10)
    with Database(tmp_path) as db:
        c = checkpointed(db, rng, list(range(100)))
        c.upsert(points(rng, list(range(100, 150))))
        segment, folder = c.appendable, segment_folder(c)
        ahead = files.rows_ahead(segment, copy=True)
        c.upsert(points(rng, list(range(150, 170))))
        db.delete_vector("a", "m")  # m's rows go to a new file at the next checkpoint
        multi = {"size": 4, "distance": "Dot", "multivector_config": {"comparator": "max_sim"}}
        db.create_vector("a", "m", {"dense": multi})
        storage.checkpoint(c)
        counts = {key: w.count for key, w in segment.appended.items()}
        done = files.write_ahead(folder, ahead)
        assert done
        files.advance(segment, done)
        assert {key: w.count for key, w in segment.appended.items()} == counts
        c.upsert(points(rng, [500]))
        storage.checkpoint(c)
        before = everything(c)
    reopens_as(tmp_path, before)


def test_rows_written_ahead_count_once_advanced(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    with Database(tmp_path) as db:
        c = checkpointed(db, rng, list(range(40)))
        c.upsert(points(rng, list(range(40, 90))))
        segment = c.appendable
        done = files.write_ahead(segment_folder(c), files.rows_ahead(segment, copy=True))
        files.advance(segment, done)
        assert segment.appended["", "originals.codes"].count == 90
        storage.checkpoint(c)
        before = everything(c)
    reopens_as(tmp_path, before)


def test_folders_no_manifest_names_are_deleted_off_the_lock(tmp_path: Path) -> None:
    """After a checkpoint a stray segment folder is renamed and deleted by a thread (not under
    the write lock); one an exit left half deleted goes at the next open."""
    with Database(tmp_path) as db:
        c = db.create_collection("a", BODY)
        assert c.path is not None
        stray = c.path / "segments" / "0123456789abcdef"
        (stray / "sub").mkdir(parents=True)
        (stray / "sub" / "rows").write_bytes(b"x" * 1000)
        storage.checkpoint(c)
        assert not stray.exists()
        deadline = time.monotonic() + 30
        while any(c.path.glob("segments/deleting-*")):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        left = c.path / "segments" / "deleting-fedcba9876543210"
        left.mkdir()
    with Database(tmp_path) as db:
        assert not left.exists()
        assert db.collection("a").points_count == 0


@pytest.mark.parametrize(
    "change",
    [
        {"file": "../../outside.rows"},
        {"file": "/tmp/outside.rows"},
        {"file": "meta.1.json"},
        {"dtype": "O"},
        {"count": -1},
        {"shape": [-4]},
        {"count": "25"},
    ],
)
def test_metadata_naming_a_file_elsewhere_is_refused(tmp_path: Path, change: dict) -> None:
    """A segment's metadata may come from an uploaded snapshot: a file outside its folder, or
    not one of its append-only files, or rows of Python objects, are refused, not read."""
    with Database(tmp_path) as db:
        c = checkpointed(db, np.random.default_rng(12), list(range(5)))
        folder, generation = segment_folder(c), c.generation
    meta_path = folder / f"meta.{generation}.json"
    meta = json.loads(meta_path.read_text())
    meta["rows"]["vectors"][""]["originals.codes"].update(change)
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(StorageError, match="bad append-only file metadata"):
        Database(tmp_path).collection("a")


def test_a_journal_of_other_lines_is_refused(tmp_path: Path) -> None:
    with Database(tmp_path) as db:
        c = checkpointed(db, np.random.default_rng(13), list(range(5)))
        folder, generation = segment_folder(c), c.generation
    written = json.loads((folder / f"payloads.{generation}.json").read_text())
    journal = folder / written["journal"]["file"]
    bad = b'["x",{"a":1}]\n'
    journal.write_bytes(bad)
    written["journal"]["count"] = len(bad)
    (folder / f"payloads.{generation}.json").write_text(json.dumps(written))
    with pytest.raises(StorageError, match="not offsets and payloads"):
        Database(tmp_path).collection("a")
