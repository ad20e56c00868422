"""A collection on disk, and how it comes back after a restart or a crash.

    <collection>/collection.json   manifest: format version, config, segments and the
                                   generation of each, the last operation they contain
    <collection>/wal.log           operations acknowledged since that checkpoint
    <collection>/wal.log.prev      those the checkpoint emptied from it, for followers
    <collection>/segments/<name>/  one directory per segment (segment/files.py)

A checkpoint writes every changed segment as a new generation, then the manifest (one atomic
rename makes them current), then empties the WAL, then deletes what the old manifest used.
Besides the optimizer's swaps and config changes, a write that leaves the WAL past
`wal_config.wal_capacity_mb` checkpoints (`flush`, its bulk written without the lock): each
checkpoint then writes at most about that much that is new (segments' append-only files take
only what came since), so neither the write lock's hold nor a restart's replay grows with an
upload's size.
Opening reads the manifest, loads its segments (memory-mapping on-disk originals), and replays
the WAL records after the manifest's last operation. Segment directories the manifest does not
name (a crash mid-optimization) are deleted.

The manifest names the folders opening reads from and checkpoints write into and delete from,
so it is checked before anything is opened (a snapshot's manifest is whatever its uploader
wrote, and a damaged one on disk is no better): every segment name is one plain file name
(`plain_name`: no `/`, no `..`, not absolute, at most 255 bytes with the optimizer's `building-`
prefix), every generation a non-negative integer. A manifest that fails is refused (BadInput
naming it) before any segment is touched.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn, TypeGuard

from vqdb.collection import records
from vqdb.collection.collection import Collection, points_from_record
from vqdb.collection.config import CollectionConfig
from vqdb.errors import BadInput
from vqdb.segment import files
from vqdb.segment.segment import Segment
from vqdb.storage.files import read_json, write_json
from vqdb.storage.rows import ReadPath
from vqdb.storage.wal import Wal

# 2: an optimized segment's payloads may be in a records file; 3: append-only files shared by
# generations (an appendable segment's vectors and ids, payload journals: segment/files.py)
FORMAT_VERSION = 3
READABLE_FORMATS = (1, 2, 3)
MANIFEST = "collection.json"
BUILDING = "building-"  # prefix of a segment directory the optimizer has not swapped in yet
DELETING = "deleting-"  # and of one no manifest names any more, being deleted
NAME_MAX = 255  # bytes in one file-name component (Linux, and most filesystems)
NAME_RULE = f"a collection name is one file name: at most {NAME_MAX} bytes of UTF-8, no / \\ or NUL"
log = logging.getLogger("vqdb")


def plain_name(name: object, *, room: int = 0) -> TypeGuard[str]:
    """Whether `name` is one plain file name: a str that names no special directory, holds no
    separator or NUL, and fits in NAME_MAX - `room` bytes of UTF-8 (room: what is added to it
    in a file name, such as a suffix)."""
    if not isinstance(name, str) or name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        return False
    try:
        return len(name.encode("utf-8")) <= NAME_MAX - room
    except UnicodeEncodeError:  # a lone surrogate: no file can have that name
        return False


def segment_dir(collection: Collection, segment: Segment) -> Path:
    assert collection.path is not None
    return collection.path / "segments" / segment.name


def create(
    path: Path | None, name: str, config: CollectionConfig, read_path: ReadPath = "mmap"
) -> Collection:
    collection = Collection(name, config, path)
    collection.read_path = read_path
    if path is not None:
        try:
            (path / "segments").mkdir(parents=True, exist_ok=False)
            collection.wal = Wal(path / "wal.log")
            collection.flush = lambda: flush(collection)
            checkpoint(collection)
        except BaseException:  # a full disk, say: no half-made collection stays behind
            if collection.wal is not None:
                collection.wal.close()
            shutil.rmtree(path, ignore_errors=True)
            raise
    return collection


def open_collection(path: Path, read_path: ReadPath = "mmap") -> Collection:
    """The collection as it was last acknowledged: its manifest's segments and its WAL's
    records after them. The opener owns the folder from now on (strays deleted, the WAL's torn
    tail cut)."""
    collection, manifest = load_collection(path, read_path)
    _remove_strays(path, {entry["name"] for entry in manifest["segments"]}, opening=True)
    for segment in collection.segments:  # files a crash mid-checkpoint left
        if segment.on_disk_files:
            files.remove_unlisted(segment_dir(collection, segment), files.listed_files(segment))
    collection.wal = Wal(path / "wal.log", next_seq=collection.applied_seq + 1)
    collection.flush = lambda: flush(collection)
    replayed = replay(collection, collection.wal.replay(after=collection.applied_seq))
    if replayed:
        log.info("collection %s: replayed %d WAL records", collection.name, replayed)
    return collection


def load_collection(
    path: Path,
    read_path: ReadPath = "mmap",
    *,
    reuse: Mapping[str, Segment] | None = None,
    reused_as_of: tuple[int, CollectionConfig, dict[str, Any]] | None = None,
    shared: bool = False,
) -> tuple[Collection, dict[str, Any]]:
    """The collection as its manifest names it, without its WAL, and the manifest; no file is
    changed, so a process following the folder's writer may call it (collection/follower.py).
    `reuse`: segments loaded before, by name, taken as they are where the manifest names the
    same generation of them with the same vectors and they are unchanged since (not dirty);
    or, whatever their generation, where `reused_as_of` (the applied_seq, config and
    payload_schema they were read with and every write after applied to) is the manifest's:
    they are then what the writer held when it wrote the manifest. `shared`: see
    segment/files.py's `load`."""
    manifest = read_json(path / MANIFEST)
    check_manifest(manifest, path / MANIFEST)
    config = CollectionConfig.from_json(manifest["config"])
    current = reused_as_of == (manifest["applied_seq"], config, manifest["payload_schema"])
    collection = Collection(manifest["name"], config, path)
    collection.read_path = read_path
    collection.payload_schema = dict(manifest["payload_schema"])
    collection.generation = manifest["generation"]
    on_disk = config.on_disk
    segments = []
    for entry in manifest["segments"]:
        kept = entry.get("vectors")  # absent in manifests before named-vector deletes
        segment = (reuse or {}).get(entry["name"])
        fits = segment is not None and (
            current or (not segment.dirty and segment.generation == entry["generation"])
        )
        if segment is None or not fits or (kept is not None and list(segment.vectors) != kept):
            segment = files.load(
                path / "segments" / entry["name"],
                entry["name"],
                entry["generation"],
                on_disk=on_disk,
                read_path=read_path,
                vectors_kept=kept,
                shared=shared,
                payload_schema=collection.payload_schema,
                payloads_cached=config.payloads_cached,
            )
        elif current:  # what that generation holds
            segment.dirty = False
        segment.generation = entry["generation"]
        segment.version = entry.get("version", 0)
        segments.append(segment)
    appendable = next((s for s in segments if s.name == manifest["appendable"]), None)
    collection.segments = segments
    if appendable is None:
        collection.appendable = collection._new_appendable()
    else:
        collection.appendable = appendable
    collection.applied_seq = manifest["applied_seq"]
    return collection, manifest


def replay(collection: Collection, logged: Iterable[tuple[int, bytes]]) -> int:
    """Applies WAL records (seq, payload) to the collection; returns how many."""
    replayed = 0
    for seq, payload in logged:
        op = records.decode(payload)
        if "points" in op:
            op["points"] = points_from_record(op["points"])
        try:
            collection.apply(op, seq)
        except ValueError as e:  # checked before it was logged: the state has diverged
            log.warning("collection %s: skipping WAL record %d: %s", collection.name, seq, e)
        replayed += 1
    return replayed


def check_manifest(manifest: Any, where: Path | str) -> None:
    """Refuses (BadInput naming `where`) a manifest of another format version, or one whose
    names or generations could make a path outside the collection's folder."""
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version not in READABLE_FORMATS:
        raise BadInput(f"{where}: storage format {version} is not {FORMAT_VERSION}; cannot open it")

    def refuse(problem: str) -> NoReturn:
        raise BadInput(f"{where}: {problem}; cannot open it")

    if not plain_name(manifest.get("name")):
        refuse(f"bad collection name {manifest.get('name')!r}")
    for key in ("generation", "applied_seq"):
        if not _count(manifest.get(key)):
            refuse(f"{key} {manifest.get(key)!r} is not a non-negative integer")
    if not isinstance(manifest.get("config"), dict):
        refuse("no config object")
    if not isinstance(manifest.get("payload_schema"), dict):
        refuse("no payload_schema object")
    segments = manifest.get("segments")
    if not isinstance(segments, list):
        refuse("no segments list")
    seen: set[str] = set()
    for entry in segments:
        if not isinstance(entry, dict):
            refuse(f"segment entry {entry!r} is not an object")
        name = entry.get("name")
        if not plain_name(name, room=len(BUILDING)):
            refuse(f"segment name {name!r} is not a plain folder name")
        if name in seen:
            refuse(f"segment {name!r} is listed twice")
        seen.add(name)
        if not _count(entry.get("generation")):
            refuse(f"segment {name}: generation {entry.get('generation')!r} is not valid")
        if not _count(entry.get("version", 0)):
            refuse(f"segment {name}: version {entry.get('version')!r} is not valid")
        kept = entry.get("vectors", [])
        if not isinstance(kept, list) or not all(isinstance(v, str) for v in kept):
            refuse(f"segment {name}: vectors {kept!r} is not a list of names")
    if not isinstance(manifest.get("appendable"), str):
        refuse(f"appendable {manifest.get('appendable')!r} is not a segment name")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def checkpoint(collection: Collection) -> None:
    """Makes the current state durable and empties the WAL (the caller holds the write lock,
    or is the only one using the collection)."""
    if collection.path is None or collection.wal is None:
        return
    generation = collection.generation + 1
    written: list[tuple[Segment, int | None, bool]] = []  # and what they were before
    try:
        for segment in collection.segments:
            if segment.generation is not None and not segment.dirty:
                continue
            written.append((segment, segment.generation, segment.on_disk_files))
            full = segment.appendable or not segment.on_disk_files
            files.save(
                segment,
                segment_dir(collection, segment),
                generation,
                full=full,
                payloads_cached=collection.config.payloads_cached,
            )
            segment.on_disk_files = True
            segment.generation = generation
        _write_manifest(collection, generation)
    except BaseException:
        # the old manifest and the WAL still hold everything: forget this generation, so no
        # segment claims files the manifest never named, and free the space they took (unless
        # the manifest was renamed into place before the failure: then it names them)
        if _stored_generation(collection.path) != generation:
            for segment, old, on_disk_files in written:
                files.remove_generation(segment_dir(collection, segment), generation)
                segment.generation, segment.on_disk_files = old, on_disk_files
                segment.dirty = True
        raise
    collection.wal.clear()
    collection.generation = generation
    collection.changed()
    for segment, old, _ in written:
        if old is not None:
            indexes = set(segment.index_files.values())
            files.remove_generation(segment_dir(collection, segment), old, indexes)
        files.remove_unlisted(segment_dir(collection, segment), files.listed_files(segment))
    _remove_strays(collection.path, {s.name for s in collection.segments})


def flush(collection: Collection) -> None:
    """A checkpoint whose bulk is written with no lock held (the caller holds none): the new
    rows of the segment taking points are copied under the write lock (~40 ms for 32 MB while
    an upload and a build run; appending may move them; a sealed segment's are read in place),
    written without it while searches and writes go on, and the checkpoint, under the lock
    again, writes only what came meanwhile and the rest."""
    ahead = []
    with collection.lock.write():
        if collection.closed:
            return
        for segment in collection.segments:
            if segment.appendable and segment.dirty:
                rows = files.rows_ahead(segment, copy=segment is collection.appendable)
                ahead.append((segment, segment_dir(collection, segment), rows))
    written = [(segment, files.write_ahead(folder, rows)) for segment, folder, rows in ahead]
    with collection.lock.write():
        if collection.closed:
            return
        for segment, done in written:
            files.advance(segment, done)
        checkpoint(collection)


def _write_manifest(collection: Collection, generation: int) -> None:
    assert collection.path is not None
    manifest = {
        "format_version": FORMAT_VERSION,
        "name": collection.name,
        "config": collection.config.to_json(),
        "payload_schema": collection.payload_schema,
        "segments": [
            {
                "name": s.name,
                "generation": s.generation,
                "version": s.version,
                "vectors": list(s.vectors),
            }
            for s in collection.segments
        ],
        "appendable": collection.appendable.name,
        "applied_seq": collection.applied_seq,
        "generation": generation,
    }
    write_json(collection.path / MANIFEST, manifest)


def _stored_generation(path: Path) -> int | None:
    try:
        return int(read_json(path / MANIFEST)["generation"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remove_strays(path: Path, keep: set[str], *, opening: bool = False) -> None:
    """Deletes segment directories no manifest names. Opening: every one, those being built
    ("building-*") too (a crash interrupted them), at once. After a checkpoint (under the
    write lock): not those being built; the others are renamed ("deleting-*") and deleted by a
    thread of their own (a 400 MB segment's folder took ~100 ms to delete, which held the
    lock at every swap); one left by an exit is deleted at the next open."""
    root = path / "segments"
    if not root.exists():
        return
    for directory in root.iterdir():
        name = directory.name
        if name in keep or (not opening and name.startswith((BUILDING, DELETING))):
            continue
        if opening:
            shutil.rmtree(directory, ignore_errors=True)
            continue
        trash = directory.with_name(DELETING + name)
        try:
            os.replace(directory, trash)
        except OSError:
            shutil.rmtree(directory, ignore_errors=True)
            continue
        threading.Thread(
            target=shutil.rmtree,
            args=(trash,),
            kwargs={"ignore_errors": True},
            name="vqdb-delete-segment",
            daemon=True,
        ).start()
