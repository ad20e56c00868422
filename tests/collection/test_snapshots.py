"""Collection snapshots: take, list, download path, delete, recover under any name."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vqdb.collection import query, reads, snapshots
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput, NotFound

DIM = 16
FILTER = {"must": [{"key": "k", "match": {"value": 3}}]}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "storage")
    yield database
    database.close()


def fill(db: Database, quantization: dict[str, Any], n: int = 600) -> tuple[Collection, Any]:
    body = {
        "vectors": {"size": DIM, "distance": "Cosine"},
        "optimizers_config": {"indexing_threshold": 1},  # 1 KB: index from 16 points on
        "quantization_config": quantization,
    }
    c = db.create_collection("c", body)
    c.create_payload_index({"field_name": "k", "field_schema": "integer"})
    x = np.random.default_rng(0).standard_normal((n, DIM)).astype(np.float32)
    for start in range(0, n, 100):
        ids = list(range(start, min(n, start + 100)))
        payloads = [{"k": i % 10, "name": f"p{i}"} for i in ids]
        c.upsert({"batch": {"ids": ids, "vectors": x[ids], "payloads": payloads}})
    return c, x


def answers(c: Collection, x: Any) -> list[Any]:
    """Several searches, graph and exact, with and without filters: ids, scores, payloads.
    ("version" is left out: segment versions are not persisted, a restart resets them too.)"""
    bodies: list[dict[str, Any]] = []
    for i in (1, 42, len(x) // 2, len(x) - 1):
        q = x[i].tolist()
        bodies.append({"query": q, "limit": 10, "with_payload": True})
        bodies.append({"query": q, "limit": 5, "filter": FILTER})
        bodies.append({"query": q, "limit": 5, "params": {"hnsw_ef": 16}})
        bodies.append({"query": q, "limit": 5, "params": {"quantization": {"rescore": False}}})
        bodies.append({"query": q, "limit": 5, "params": {"exact": True}})
    out = [
        [{k: v for k, v in p.items() if k != "version"} for p in query.query(c, b)["points"]]
        for b in bodies
    ]
    return [*out, reads.scroll(c, {"limit": 1000, "with_payload": True})]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tar_of(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("quantization", [{"scalar": {"type": "int8"}}, {"binary": {}}])
def test_recovered_collection_answers_as_at_snapshot_time(
    db: Database, tmp_path: Path, quantization: dict[str, Any]
) -> None:
    c, x = fill(db, quantization)
    assert c.optimizer.wait_idle(60)
    assert any(not s.appendable for s in c.segments)  # graphs were built
    # unflushed changes on top (below the indexing threshold: they stay appendable)
    c.delete({"points": [5, 6]})
    c.set_payload({"payload": {"late": True}, "points": [7]})
    c.upsert({"points": [{"id": 1000 + i, "vector": x[i].tolist()} for i in range(10)]})
    before = answers(c, x)
    segments = sorted(s.name for s in c.segments)

    taken = snapshots.create(db, "c")
    file = snapshots.path_of(db, "c", taken["name"])
    assert file.parent == tmp_path / "storage" / "snapshots" / "c"
    assert taken["name"].startswith("c-") and taken["name"].endswith(".snapshot")
    assert taken["size"] == file.stat().st_size and taken["checksum"] == sha256(file)
    assert len(taken["creation_time"]) == 19 and taken["creation_time"][10] == "T"

    c.delete({"filter": FILTER})  # later changes, which recovery must roll back
    c.upsert({"points": [{"id": 2000, "vector": x[0].tolist()}]})
    assert snapshots.list_snapshots(db, "c") == [taken]

    assert snapshots.recover(db, "copy", file)
    copy = db.collection("copy")
    assert copy.name == "copy" and sorted(s.name for s in copy.segments) == segments
    assert answers(copy, x) == before
    assert reads.count(db.collection("c"), {"filter": FILTER}) == {"count": 0}

    assert snapshots.recover(db, "c", file)  # replaces the live collection: a rollback
    assert db.collection("c") is not c and c.closed
    assert answers(db.collection("c"), x) == before
    assert db.collection_names() == ["c", "copy"]

    db.close()  # both come back after a restart, from their own directories
    with Database(tmp_path / "storage") as again:
        assert answers(again.collection("c"), x) == before
        assert answers(again.collection("copy"), x) == before
        assert again.collection("copy").optimizer.wait_idle(60)
        assert sorted(s.name for s in again.collection("copy").segments) == segments


def test_list_path_delete(db: Database) -> None:
    fill(db, {"binary": {}}, n=100)
    first = snapshots.create(db, "c")
    second = snapshots.create(db, "c")
    assert first["name"] != second["name"]
    assert snapshots.list_snapshots(db, "c") == sorted(
        [first, second], key=lambda d: (d["creation_time"], d["name"])
    )
    path = snapshots.path_of(db, "c", first["name"])
    assert snapshots.delete(db, "c", first["name"])
    assert not path.exists() and not Path(f"{path}.checksum").exists()
    assert snapshots.list_snapshots(db, "c") == [second]
    with pytest.raises(NotFound):
        snapshots.delete(db, "c", first["name"])
    with pytest.raises(NotFound):
        snapshots.path_of(db, "c", first["name"])
    with pytest.raises(NotFound):
        snapshots.path_of(db, "c", second["name"] + ".checksum")
    with pytest.raises(BadInput):
        snapshots.path_of(db, "c", "../c/" + second["name"])
    for call in (
        lambda: snapshots.create(db, "missing"),
        lambda: snapshots.list_snapshots(db, "missing"),
        lambda: snapshots.path_of(db, "missing", second["name"]),
    ):
        with pytest.raises(NotFound):
            call()
    # no stray scratch files next to the snapshots
    assert sorted(p.name for p in path.parent.iterdir()) == [
        second["name"],
        second["name"] + ".checksum",
    ]


def test_snapshot_while_the_optimizer_works(db: Database) -> None:
    c, x = fill(db, {"scalar": {"type": "int8"}})  # the optimizer is busy building now
    taken = snapshots.create(db, "c")
    file = snapshots.path_of(db, "c", taken["name"])
    snapshots.recover(db, "copy", file)
    copy = db.collection("copy")
    assert reads.count(copy, {}) == {"count": 600}
    assert copy.optimizer.wait_idle(60) and c.optimizer.wait_idle(60)
    assert answers(copy, x)[-1] == answers(c, x)[-1]


def test_file_url_checksum_and_another_storage(db: Database, tmp_path: Path) -> None:
    c, x = fill(db, {"binary": {}}, n=100)
    assert c.optimizer.wait_idle(60)
    taken = snapshots.create(db, "c")
    file = snapshots.path_of(db, "c", taken["name"])
    with Database(tmp_path / "other") as other:
        assert snapshots.recover(other, "moved", file.as_uri(), checksum=taken["checksum"])
        assert answers(other.collection("moved"), x) == answers(c, x)
        with pytest.raises(BadInput, match="checksum"):
            snapshots.recover(other, "moved", file, checksum="0" * 64)


def test_failed_recovery_leaves_collections_untouched(db: Database, tmp_path: Path) -> None:
    c, x = fill(db, {"scalar": {"type": "int8"}}, n=100)
    assert c.optimizer.wait_idle(60)
    before = answers(c, x)
    good = snapshots.path_of(db, "c", snapshots.create(db, "c")["name"])
    data = good.read_bytes()
    with tarfile.open(good) as tar:
        names = tar.getnames()
        stored = tar.extractfile("collection.json")
        assert stored is not None
        manifest = stored.read()
    segment_file = next(n for n in names if n.startswith("segments/") and n.endswith(".npy"))
    without_segment = {n: b"" for n in names if n != segment_file and "." in n.split("/")[-1]}
    without_segment["collection.json"] = manifest

    corrupt = tmp_path / "corrupt.snapshot"
    corrupt.write_bytes(np.random.default_rng(1).bytes(50_000))
    truncated = tmp_path / "truncated.snapshot"
    truncated.write_bytes(data[: len(data) // 2])
    symlink = tmp_path / "symlink.snapshot"
    with tarfile.open(symlink, "w") as tar:
        info = tarfile.TarInfo("collection.json")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    bad: dict[Any, str] = {
        tmp_path / "missing.snapshot": "does not exist",
        f"file://{tmp_path}/missing.snapshot": "does not exist",
        "http://127.0.0.1:9/c.snapshot": "cannot download",  # nothing listens on port 9
        "ftp://example.com/c.snapshot": "not supported",
        "s3://bucket/c.snapshot": "not supported",
        corrupt: "not a readable",
        truncated: "Snapshot",
        tar_of(tmp_path / "slip.snapshot", {"../evil": b"x"}): "unsafe",
        tar_of(tmp_path / "absolute.snapshot", {str(tmp_path / "evil"): b"x"}): "unsafe",
        symlink: "not a plain file",
        tar_of(tmp_path / "empty.snapshot", {"x": b"1"}): "no collection",
        tar_of(tmp_path / "future.snapshot", {"collection.json": b'{"format_version": 99}'}): (
            "format 99"
        ),
        tar_of(tmp_path / "broken.snapshot", without_segment): "cannot be opened",
    }
    for location, message in bad.items():
        for name in ("c", "new"):
            with pytest.raises(BadInput, match=message):
                snapshots.recover(db, name, location)
    assert db.collection("c") is c and not c.closed
    assert db.collection_names() == ["c"]
    assert answers(c, x) == before
    storage = tmp_path / "storage"
    assert not (tmp_path / "evil").exists() and not (storage / "evil").exists()
    assert sorted(p.name for p in storage.iterdir()) == [".lock", "collections", "snapshots"]
    with pytest.raises(BadInput):
        snapshots.recover(db, "../escape", good)


def test_in_memory_database_has_no_snapshots() -> None:
    with Database(None) as db:
        db.create_collection("c", {"vectors": {"size": DIM, "distance": "Dot"}})
        for call in (
            lambda: snapshots.create(db, "c"),
            lambda: snapshots.list_snapshots(db, "c"),
            lambda: snapshots.delete(db, "c", "x.snapshot"),
            lambda: snapshots.path_of(db, "c", "x.snapshot"),
            lambda: snapshots.recover(db, "c", "/nonexistent.snapshot"),
        ):
            with pytest.raises(BadInput, match="memory"):
                call()
