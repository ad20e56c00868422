"""Shard snapshots (vqdb's one shard, 0), partial snapshot manifests and full storage snapshots,
in the engine: where their files go, what they hold, and what recovering them refuses."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vqdb import full_snapshots
from vqdb.collection import reads, snapshots
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput, BadRequest, Forbidden, NotFound

BODY = {"vectors": {"size": 2, "distance": "Dot"}}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "storage")
    for name, n in (("a", 5), ("b", 3)):
        c = database.create_collection(name, BODY)
        c.upsert({"points": [{"id": i, "vector": [i, 1]} for i in range(n)]}, wait=True)
    yield database
    database.close()


def count(db: Database, name: str) -> int:
    return int(reads.count(db.collection(name), {})["count"])


def test_shard_snapshots_have_a_folder_of_their_own(db: Database) -> None:
    taken = snapshots.create(db, "a", shard=0)
    assert taken["name"].startswith("a-shard-0-")
    path = snapshots.path_of(db, "a", taken["name"], shard=0)
    assert path.parent == snapshots.folder_of(db) / "a" / "shards" / "0"
    assert snapshots.list_snapshots(db, "a", shard=0) == [taken]
    assert snapshots.list_snapshots(db, "a") == []
    with pytest.raises(NotFound):  # not a collection snapshot
        snapshots.path_of(db, "a", taken["name"])
    for shard in (1, 2**31):
        with pytest.raises(NotFound, match=f"shard {shard} not found"):
            snapshots.create(db, "a", shard=shard)
        with pytest.raises(NotFound):
            snapshots.list_snapshots(db, "a", shard=shard)
    assert snapshots.delete(db, "a", taken["name"], shard=0)
    assert snapshots.list_snapshots(db, "a", shard=0) == []


def test_long_collection_names_still_fit_in_shard_snapshot_names(db: Database) -> None:
    long = "é" * 127  # 254 bytes
    db.create_collection(long, BODY)
    taken = snapshots.create(db, long, shard=0)
    assert len(f"{taken['name']}{snapshots.CHECKSUM}".encode()) <= 255


def test_shard_recovery(db: Database, tmp_path: Path) -> None:
    taken = snapshots.create(db, "a", shard=0)
    db.collection("a").delete({"points": [0, 1]}, wait=True)
    assert snapshots.recover_shard(db, "a", 0, taken["name"], checksum=taken["checksum"])
    assert count(db, "a") == 5
    with pytest.raises(BadInput, match="checksum mismatch"):
        snapshots.recover_shard(db, "a", 0, taken["name"], checksum="0" * 64)
    file = snapshots.path_of(db, "a", taken["name"], shard=0)
    # a file path or a file:// URL is never a shard snapshot's location, even the right one
    for location in (file.as_uri(), "ftp://host/a.snapshot"):
        with pytest.raises(BadInput, match="scheme are not supported"):
            snapshots.recover_shard(db, "a", 0, location)
    for location in (str(file), "../../a/" + taken["name"], "missing.snapshot"):
        with pytest.raises((BadInput, NotFound)):
            snapshots.recover_shard(db, "a", 0, location)
    with pytest.raises(NotFound):
        snapshots.recover_shard(db, "missing", 0, taken["name"])
    with pytest.raises(NotFound, match="shard 3"):
        snapshots.recover_shard(db, "a", 3, taken["name"])
    # another collection's shard snapshot replaces this one's data, as it was taken
    copy = tmp_path / "upload.snapshot"
    copy.write_bytes(file.read_bytes())
    assert snapshots.recover_shard(db, "b", 0, copy)
    assert count(db, "b") == 5


def test_local_locations_of_collection_recovery(db: Database, tmp_path: Path) -> None:
    folder = snapshots.folder_of(db)
    with pytest.raises(BadRequest, match="must be absolute or on localhost"):
        snapshots.recover(db, "x", "file://host/a.snapshot", only_under=folder)
    with pytest.raises(BadRequest, match='Snapshot file "/nowhere.snapshot" does not exist'):
        snapshots.recover(db, "x", "file:///nowhere.snapshot", only_under=folder)
    outside = tmp_path / "outside.snapshot"
    outside.write_bytes(b"x")
    with pytest.raises(Forbidden, match="inside the snapshots directory"):
        snapshots.recover(db, "x", outside.as_uri(), only_under=folder)
    # a link in the folder is followed before the check, and what was checked is what is read
    folder.mkdir(exist_ok=True)
    (folder / "link.snapshot").symlink_to(outside)
    with pytest.raises(Forbidden):
        snapshots.recover(db, "x", (folder / "link.snapshot").as_uri(), only_under=folder)
    assert not db.exists("x")


def test_partial_manifest(db: Database) -> None:
    c = db.collection("a")
    before = snapshots.partial_manifest(db, "a", 0)
    assert before and all(m["segment_id"] == name for name, m in before.items())
    c.upsert({"points": [{"id": 9, "vector": [9, 9]}]}, wait=True)
    after = snapshots.partial_manifest(db, "a", 0)
    assert after != before
    newest = max(v for m in after.values() for v in m["file_versions"].values())
    assert newest == max(s.version for s in c.segments) > 0
    with pytest.raises(NotFound):
        snapshots.partial_manifest(db, "a", 1)


def test_a_shard_snapshot_taken_to_be_sent(db: Database) -> None:
    path = snapshots.take_to_send(db, "a", 0)
    assert path.parent.name.startswith(".send-")
    assert snapshots.list_snapshots(db, "a", shard=0) == []  # not listed while it exists
    with tarfile.open(path) as tar:
        assert "collection.json" in tar.getnames()


def test_full_snapshot(db: Database, tmp_path: Path) -> None:
    db.update_aliases([{"create_alias": {"collection_name": "b", "alias_name": "bee"}}])
    taken = full_snapshots.create(db)
    assert taken["name"].startswith("full-snapshot-")
    assert full_snapshots.list_snapshots(db) == [taken]
    path = full_snapshots.path_of(db, taken["name"])
    assert path.parent == snapshots.folder_of(db)
    with tarfile.open(path) as tar:
        tar.extractall(tmp_path / "full", filter="data")
    config = json.loads((tmp_path / "full" / "config.json").read_text())
    assert config["collections_aliases"] == {"bee": "b"}
    assert sorted(config["collections_mapping"]) == ["a", "b"]
    for name, file in config["collections_mapping"].items():
        snapshots.recover(db, f"{name}-again", tmp_path / "full" / file)
        assert count(db, f"{name}-again") == count(db, name)
    # nothing else was left behind: no collection snapshots, no scratch folders
    left = sorted(p.name for p in snapshots.folder_of(db).rglob("*") if p.is_file())
    assert left == sorted([taken["name"], f"{taken['name']}.checksum"])
    assert not list(snapshots.folder_of(db).glob(".*"))
    for name in ("..", "a", "../storage/aliases.json", f"{taken['name']}.checksum"):
        with pytest.raises((BadInput, NotFound)):
            full_snapshots.path_of(db, name)
    assert full_snapshots.delete(db, taken["name"])
    assert full_snapshots.list_snapshots(db) == []
    with pytest.raises(NotFound):
        full_snapshots.delete(db, taken["name"])


def test_scratch_folders_a_crash_left_are_removed_at_open(tmp_path: Path) -> None:
    with Database(tmp_path / "s") as db:
        db.create_collection("a", BODY)
        snapshots.take_to_send(db, "a", 0)
        folder = snapshots.folder_of(db)
        (folder / ".tmp-full").mkdir()
    with Database(tmp_path / "s") as db:
        assert not list(folder.glob(".*"))
        assert not list((folder / "a" / "shards" / "0").iterdir())


def test_a_collection_deleted_during_a_full_snapshot_is_left_out(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    take = snapshots.take

    def deleting(collection: Collection, folder: Path, shard: int | None = None) -> Any:
        if collection.name == "a":
            db.delete_collection("a")
            raise BadInput("collection a is closed")  # what _pin says of a closed one
        return take(collection, folder, shard)

    monkeypatch.setattr(snapshots, "take", deleting)
    taken = full_snapshots.create(db)
    with tarfile.open(full_snapshots.path_of(db, taken["name"])) as tar:
        config = json.loads(tar.extractfile("config.json").read())  # type: ignore[union-attr]
    assert list(config["collections_mapping"]) == ["b"]

    def failing(collection: Collection, folder: Path, shard: int | None = None) -> Any:
        raise BadInput(f"collection {collection.name} is closed")

    monkeypatch.setattr(snapshots, "take", failing)
    with pytest.raises(BadInput, match="b is closed"):  # b is still there: a real failure
        full_snapshots.create(db)
    assert full_snapshots.list_snapshots(db) == [taken]  # nothing half-made left
    assert not list(snapshots.folder_of(db).glob(".*"))
