"""Collection snapshots: take, list, download path, delete, recover under any name."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from snapshot_files import plant_foreign_segment, snapshot_files, tree
from web import Answer, Site

from vqdb.collection import query, reads, snapshots, storage
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput, NotFound

DIM = 16
FILTER = {"must": [{"key": "k", "match": {"value": 3}}]}
STORAGE_FILES = [".changes", ".lock", "collections", "snapshots"]  # what a storage folder holds


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


def tar_of(path: Path, members: dict[str, bytes], *, listed: bool = True) -> Path:
    """A tar of `members` (name -> bytes), with the checksum list a snapshot carries when
    `listed` (an attacker can write a correct one as easily as the server)."""
    if listed:
        files = {
            name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in members.items()
        }
        body = json.dumps({"format_version": 1, "files": files}).encode()
        members = {**members, snapshots.CHECKSUMS: body}
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
    without_segment = {
        n: b""
        for n in names
        if n not in (segment_file, snapshots.CHECKSUMS) and "." in n.split("/")[-1]
    }
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
        tar_of(tmp_path / "stray.snapshot", {"x": b"1"}): "unexpected member",
        tar_of(tmp_path / "empty.snapshot", {}): "no collection",
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
    assert sorted(p.name for p in storage.iterdir()) == STORAGE_FILES
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


# ---- crafted snapshots ------------------------------------------------------------------------


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


def crafted_tar(
    path: Path,
    members: dict[str, bytes],
    *,
    listing: dict[str, bytes] | None = None,
    extra: tuple[tuple[tarfile.TarInfo, bytes], ...] = (),
) -> Path:
    """A snapshot-shaped tar: `members`, a checksum list of `listing` (default: of `members`,
    correct), then `extra` headers (links, devices, a second copy of a name)."""
    files = {
        name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in (members if listing is None else listing).items()
    }
    body = json.dumps({"format_version": 1, "files": files}).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in {**members, snapshots.CHECKSUMS: body}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info, data in extra:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return path


def flip_a_bit(snapshot: Path, into: Path) -> Path:
    """A copy of the snapshot with one bit flipped in the data of one segment's .npy file."""
    data = bytearray(snapshot.read_bytes())
    with tarfile.open(snapshot) as tar:
        member = next(
            m
            for m in tar.getmembers()
            if m.name.startswith("segments/") and m.name.endswith(".npy") and m.size > 200
        )
    data[member.offset_data + member.size - 10] ^= 0x10  # in the rows, past the .npy header
    into.write_bytes(bytes(data))
    return into


def test_crafted_snapshots_touch_nothing_outside_the_storage(db: Database, tmp_path: Path) -> None:
    """The attacks of the hardening probe, each refused with BadInput before anything outside
    the storage is read, written or deleted: a manifest naming a segment folder by an absolute
    path or by `..` (with a correct checksum list: anyone can write one), archive members with
    absolute or `..` names, symbolic and hard links, devices, fifos, a name twice, and files
    that do not match the checksum list (a flipped bit, one too many, one missing)."""
    c, x = fill(db, {"scalar": {"type": "int8"}}, n=100)
    assert c.optimizer.wait_idle(60)
    before = answers(c, x)
    good = snapshots.path_of(db, "c", snapshots.create(db, "c")["name"])
    files = snapshot_files(good)
    manifest = json.loads(files["collection.json"])
    segment = manifest["segments"][0]["name"]
    own = {n: d for n, d in files.items() if n.startswith(f"segments/{segment}/")}
    sentinel = tmp_path / "sentinel"
    foreign = plant_foreign_segment(sentinel, own)
    secret = sentinel / "secret.txt"
    untouched = tree(sentinel)
    inside = f"segments/{segment}"  # a folder of the archive

    def manifest_with(**segment_fields: Any) -> dict[str, bytes]:
        changed = json.loads(files["collection.json"])
        changed["segments"][0].update(segment_fields)
        return {**files, "collection.json": json.dumps(changed).encode()}

    elsewhere = "../../../../sentinel/foreign"  # from <storage>/.recover-*/collection/segments
    some_file = next(iter(own))
    flipped = bytearray(files[some_file])
    flipped[-1] ^= 1
    bad: dict[str, tuple[Path, str]] = {
        "absolute segment": (
            crafted_tar(tmp_path / "1", manifest_with(name=str(foreign))),
            "segment name",
        ),
        "`..` segment": (
            crafted_tar(tmp_path / "2", manifest_with(name=elsewhere)),
            "segment name",
        ),
        "`..` generation": (
            crafted_tar(tmp_path / "3", manifest_with(generation="1/../../x")),
            "generation",
        ),
        "`..` member": (
            crafted_tar(tmp_path / "4", {**files, "segments/../../../sentinel/x": b"x"}),
            "unsafe path",
        ),
        "absolute member": (
            crafted_tar(tmp_path / "5", {**files, str(sentinel / "secret.txt"): b"mine"}),
            "unsafe path",
        ),
        "symlink member": (
            crafted_tar(
                tmp_path / "6",
                files,
                extra=((special(f"{inside}/x", tarfile.SYMTYPE, str(foreign)), b""),),
            ),
            "not a plain file",
        ),
        "hardlink member": (
            crafted_tar(
                tmp_path / "7",
                files,
                extra=(
                    (
                        special(f"{inside}/y", tarfile.LNKTYPE, str(secret)),
                        b"",
                    ),
                ),
            ),
            "not a plain file",
        ),
        "fifo member": (
            crafted_tar(
                tmp_path / "8",
                files,
                extra=((special(f"{inside}/f", tarfile.FIFOTYPE), b""),),
            ),
            "not a plain file",
        ),
        "device member": (
            crafted_tar(
                tmp_path / "9",
                files,
                extra=((special(f"{inside}/d", tarfile.CHRTYPE), b""),),
            ),
            "not a plain file",
        ),
        "a name twice": (
            crafted_tar(
                tmp_path / "10",
                files,
                extra=((tarfile.TarInfo(some_file), files[some_file]),),
            ),
            "twice",
        ),
        "flipped bit": (flip_a_bit(good, tmp_path / "11"), "damaged"),
        "flipped bit, same size": (
            crafted_tar(tmp_path / "12", {**files, some_file: bytes(flipped)}, listing=files),
            "damaged",
        ),
        "unlisted file": (
            crafted_tar(tmp_path / "13", {**files, f"{inside}/extra.npy": b"x"}, listing=files),
            "not in its checksum list",
        ),
        "listed, missing file": (
            crafted_tar(
                tmp_path / "14",
                {n: d for n, d in files.items() if n != some_file},
                listing=files,
            ),
            "not in the archive",
        ),
        "size mismatch": (
            crafted_tar(
                tmp_path / "15", {**files, some_file: files[some_file] + b"\0"}, listing=files
            ),
            "damaged",
        ),
    }
    for case, (location, message) in bad.items():
        for name in ("c", "new"):
            with pytest.raises(BadInput, match=message):
                snapshots.recover(db, name, location)
        assert tree(sentinel) == untouched, case
    assert db.collection("c") is c and db.collection_names() == ["c"]
    assert answers(c, x) == before
    storage = tmp_path / "storage"
    assert sorted(p.name for p in storage.iterdir()) == STORAGE_FILES
    # the same files with a correct manifest and list are a sound snapshot
    assert snapshots.recover(db, "new", crafted_tar(tmp_path / "fine", files))
    assert answers(db.collection("new"), x) == before


def test_a_manifest_on_disk_naming_folders_outside_is_refused(db: Database, tmp_path: Path) -> None:
    """storage.py checks the manifest itself: a damaged one on disk is refused on open, not
    only one that came in a snapshot."""
    c, _ = fill(db, {"binary": {}}, n=50)
    assert c.optimizer.wait_idle(60)
    path = c.path
    assert path is not None
    db.close()
    manifest = json.loads((path / "collection.json").read_text())
    segment = manifest["segments"][0]["name"]
    sentinel = tmp_path / "sentinel"
    shutil.copytree(path / "segments" / segment, sentinel / "foreign")
    untouched = tree(sentinel)
    for name in (str(sentinel / "foreign"), "../../../sentinel/foreign", "..", "", 7, None):
        manifest["segments"][0]["name"] = name
        (path / "collection.json").write_text(json.dumps(manifest))
        with pytest.raises(BadInput, match="segment name"):
            storage.open_collection(path)
    manifest["segments"][0]["name"] = segment
    manifest["segments"][0]["generation"] = "../x"
    (path / "collection.json").write_text(json.dumps(manifest))
    with pytest.raises(BadInput, match="generation"):
        storage.open_collection(path)
    assert tree(sentinel) == untouched


def test_snapshots_without_a_checksum_list(db: Database, tmp_path: Path) -> None:
    """Snapshots taken before the checksum list existed: recovered only with the sha256 of the
    whole file (the .checksum file beside it), which then verifies everything in it."""
    c, x = fill(db, {"binary": {}}, n=100)
    assert c.optimizer.wait_idle(60)
    good = snapshots.path_of(db, "c", snapshots.create(db, "c")["name"])
    old = tar_of(tmp_path / "old.snapshot", snapshot_files(good), listed=False)
    with pytest.raises(BadInput, match="no checksum list"):
        snapshots.recover(db, "old", old)
    with pytest.raises(BadInput, match="checksum mismatch"):
        snapshots.recover(db, "old", old, checksum=sha256(good))
    assert db.collection_names() == ["c"]
    assert snapshots.recover(db, "old", old, checksum=sha256(old))
    assert answers(db.collection("old"), x) == answers(c, x)


def test_names_are_limited_in_bytes(db: Database) -> None:
    """Collection and snapshot names become file names: at most 255 bytes of UTF-8 each (a
    snapshot name's own 246, the server adds `.checksum`); past that BadInput, never an
    OSError. A snapshot of a collection whose name is long starts with a cut of the name."""
    body = {"vectors": {"size": DIM, "distance": "Dot"}}
    for name in ("n" * 255, "é" * 127):  # 255 and 254 bytes
        c = db.create_collection(name, body)
        c.upsert({"points": [{"id": 1, "vector": [1.0] * DIM}]})
        taken = snapshots.create(db, name)
        assert len(taken["name"].encode()) + len(snapshots.CHECKSUM) <= 255
        assert taken["name"].startswith(name[:100])
        file = snapshots.path_of(db, name, taken["name"])
        assert [d["name"] for d in snapshots.list_snapshots(db, name)] == [taken["name"]]
        assert snapshots.recover(db, name, file)
    for name in ("n" * 256, "é" * 128, "\ud800"):
        with pytest.raises(BadInput, match="255 bytes"):
            db.create_collection(name, body)
        with pytest.raises(BadInput, match="255 bytes"):
            snapshots.recover(db, name, file)
    for snapshot in ("s" * 247, "s" * 400 + ".snapshot", "é" * 200 + ".snapshot"):
        with pytest.raises(BadInput, match="246 bytes"):
            snapshots.path_of(db, "n" * 255, snapshot)
        with pytest.raises(BadInput, match="246 bytes"):
            snapshots.delete(db, "n" * 255, snapshot)


# ---- downloads --------------------------------------------------------------------------------


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site()
    yield served
    served.close()


def test_download_limits(db: Database, tmp_path: Path, site: Site) -> None:
    """Recovering from a URL: the size limit counts the bytes received (a server may not say
    how many it sends, or lie), the deadline covers the whole download, and the schemes and
    hosts allowed are checked for the URL and every redirect, before it is asked for anything."""
    c, x = fill(db, {"binary": {}}, n=100)
    assert c.optimizer.wait_idle(60)
    good = snapshots.path_of(db, "c", snapshots.create(db, "c")["name"]).read_bytes()
    site.at("/good", Answer(body=good))
    site.at("/unsized", Answer(body=good, length=False))
    site.at("/slow", Answer(body=good[:400], trickle=0.02))
    site.at("/to-localhost", Answer(302, headers={"Location": site.url("/good", "localhost")}))
    site.at("/to-file", Answer(302, headers={"Location": "file:///etc/passwd"}))
    site.at("/loop", Answer(302, headers={"Location": "/loop"}))
    small = snapshots.Downloads(max_bytes=len(good) - 1)
    only_here = snapshots.Downloads(hosts=("127.0.0.1",))
    refused = {
        ("/good", small): "larger than the download limit",
        ("/unsized", small): "larger than the download limit",
        ("/slow", snapshots.Downloads(timeout=0.5)): "did not arrive within 0.5 s",
        ("/to-localhost", only_here): "the host localhost is not allowed",
        ("/to-file", snapshots.Downloads()): "the scheme file is not allowed",
        ("/loop", snapshots.Downloads()): "more than 5 redirects",
        ("/good", snapshots.Downloads(schemes=("https",))): "the scheme http is not allowed",
    }
    for (path, policy), message in refused.items():
        start = time.monotonic()
        with pytest.raises(BadInput, match=message):
            snapshots.recover(db, "copy", site.url(path), downloads=policy)
        assert time.monotonic() - start < 10
    # asked for once (the size limit), never through the redirect to a host not allowed
    assert [h["host"] for h in site.headers_at("/good")] == [f"127.0.0.1:{site.port}"]
    assert db.collection_names() == ["c"]
    with pytest.raises(BadInput, match="host localhost is not allowed"):
        snapshots.recover(db, "copy", site.url("/good", "localhost"), downloads=only_here)
    assert snapshots.recover(db, "copy", site.url("/good"), downloads=only_here)
    exact = snapshots.Downloads(max_bytes=len(good), hosts=("*.localhost", "localhost"))
    assert snapshots.recover(db, "copy", site.url("/unsized", "localhost"), downloads=exact)
    assert answers(db.collection("copy"), x) == answers(c, x)
