"""Collection snapshots (Qdrant's): one file per snapshot, recoverable under any name.

    <storage>/snapshots/<collection>/<collection>-<YYYY-MM-DD-HH-MM-SS>-<random>.snapshot
    <storage>/snapshots/<collection>/<that name>.checksum      its sha256, in hex

A snapshot is a plain tar of the collection directory (manifest and segments) taken right after
a checkpoint, so it holds every acknowledged write and needs no WAL: it has none, and the
restored collection starts with an empty one. Its segment files are the original ones, so the
restored collection has the same segments, codes and graphs, and answers every search as the
original did when the snapshot was taken; nothing is rebuilt.

Recovery unpacks into a scratch directory beside `collections/`, opens it there (a broken
archive fails before anything is replaced), then swaps it in for the collection of that name.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from vqdb.collection import storage
from vqdb.collection.collection import Collection
from vqdb.errors import BadInput, NotFound
from vqdb.storage.files import fsync_dir, read_json, write_json

if TYPE_CHECKING:
    from vqdb.database import Database

SUFFIX = ".snapshot"
CHECKSUM = ".checksum"  # appended to the snapshot's file name, as Qdrant does


def create(db: Database, collection_name: str) -> dict[str, Any]:
    """Takes a snapshot of the collection; returns its SnapshotDescription."""
    collection = db.collection(collection_name)
    folder = _folder(db, collection.name)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")
    target = folder / f"{collection_name}-{stamp}-{secrets.token_hex(4)}{SUFFIX}"
    # the scratch directory is in the same folder, so the finished archive is renamed into
    # place, never copied: a snapshot file is complete or absent
    with tempfile.TemporaryDirectory(dir=folder, prefix=".") as scratch:
        pinned = Path(scratch) / "collection"
        _pin(collection, pinned)
        archive = Path(scratch) / "archive.tar"
        _write_archive(pinned, archive)
        with open(f"{target}{CHECKSUM}", "w", encoding="ascii") as f:
            f.write(_sha256(archive))
            f.flush()
            os.fsync(f.fileno())  # durable before the snapshot it describes appears
        os.replace(archive, target)
        fsync_dir(folder)
    return _describe(target)


def list_snapshots(db: Database, collection_name: str) -> list[dict[str, Any]]:
    """The collection's snapshots, oldest first."""
    folder = _folder(db, db.collection(collection_name).name)  # NotFound, as Qdrant answers
    found = []
    for path in folder.glob(f"*{SUFFIX}") if folder.exists() else ():
        try:
            found.append(_describe(path))
        except FileNotFoundError:  # deleted meanwhile
            continue
    return sorted(found, key=lambda d: (d["creation_time"], d["name"]))


def delete(db: Database, collection_name: str, snapshot_name: str) -> bool:
    path = path_of(db, collection_name, snapshot_name)
    path.unlink()
    Path(f"{path}{CHECKSUM}").unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


def path_of(db: Database, collection_name: str, snapshot_name: str) -> Path:
    """The snapshot's file (to download it); NotFound if there is no such snapshot."""
    folder = _folder(db, db.collection(collection_name).name)
    if not _plain_name(snapshot_name):
        raise BadInput(f"bad snapshot name {snapshot_name!r}")
    path = folder / snapshot_name
    if not snapshot_name.endswith(SUFFIX) or not path.is_file():
        raise NotFound(f"Snapshot {snapshot_name} of collection {collection_name} not found")
    return path


def recover(
    db: Database,
    collection_name: str,
    location: str | Path,
    *,
    checksum: str | None = None,
    api_key: str | None = None,
    only_under: Path | None = None,
) -> bool:
    """Restores the snapshot at `location` (a file path, a file:// URL, or an http(s) URL such
    as another server's snapshot download, fetched with `api_key`) as `collection_name`,
    replacing the collection of that name if there is one. With `checksum` (sha256 hex, as
    Qdrant's SnapshotRecover has it), a file that does not match is refused. With `only_under`,
    so is a local file outside that folder (a server does not read whatever path a client
    names)."""
    root = _root(db)
    if not _plain_name(collection_name):
        raise BadInput(f"bad collection name {collection_name!r}")
    scratch = Path(tempfile.mkdtemp(dir=root, prefix=".recover-"))
    try:
        if isinstance(location, str) and urlparse(location).scheme in ("http", "https"):
            source = _download(location, scratch / "download.snapshot", api_key)
        else:
            source = _local_file(location)
            if only_under is not None and not source.resolve().is_relative_to(only_under.resolve()):
                raise BadInput(
                    f"Snapshot file {source} is outside {only_under}: recover from there"
                )
        if checksum is not None and _sha256(source) != checksum.strip().lower():
            raise BadInput(f"Snapshot {location} does not match checksum {checksum}")
        staged = scratch / "collection"
        _unpack(source, staged)
        _rename(staged, collection_name, source)
        try:
            # opened once here only to prove the archive loads (opening again after the swap
            # costs a second load, which recovery can afford; a half-swapped state it cannot)
            probe = storage.open_collection(staged)
        except BadInput:
            raise
        except Exception as e:  # whatever fails to load: the archive is not a sound collection
            raise BadInput(f"Snapshot {location} cannot be opened: {type(e).__name__}: {e}") from e
        if probe.wal is not None:
            probe.wal.close()
        target = root / "collections" / collection_name
        with db._lock:  # no create_collection of this name between the delete and the start
            db.remove(collection_name)
            shutil.rmtree(target, ignore_errors=True)  # a leftover without a manifest
            os.replace(staged, target)
            fsync_dir(target.parent)
            db._start(storage.open_collection(target, db.read_path))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return True


# ---- taking a snapshot ------------------------------------------------------------------------


def _pin(collection: Collection, into: Path) -> None:
    """Hard-links the files of a fresh checkpoint of the collection into `into`.

    Why links: every collection file but the WAL is written once under a temporary name and
    renamed into place (storage/files.py), never changed in place, so a link keeps exactly this
    checkpoint's bytes even after the optimizer swaps a segment in and the next checkpoint
    deletes the old files. Only the linking needs the write lock, a moment per file; the archive
    is then written with no lock held while searches and writes go on. Copying under the lock
    would stall writes for as long as the copy takes. Where a link is refused (say another
    filesystem), the file is copied, still under the lock.

    Only what the manifest names is taken: segments the optimizer is still building stay out,
    and the WAL is left behind (a checkpoint has just emptied it).
    """
    with collection.lock.write():
        if collection.closed or collection.path is None:
            raise BadInput(f"collection {collection.name} is closed")
        storage.checkpoint(collection)
        source = collection.path
        (into / "segments").mkdir(parents=True)
        _link(source / storage.MANIFEST, into / storage.MANIFEST)
        for segment in collection.segments:
            folder = storage.segment_dir(collection, segment)
            (into / "segments" / folder.name).mkdir()
            for path in folder.iterdir():
                if path.is_file() and not path.name.endswith(".tmp"):
                    _link(path, into / "segments" / folder.name / path.name)


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _write_archive(folder: Path, archive: Path) -> None:
    with open(archive, "wb") as f:
        with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(folder.rglob("*")):
                tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
        f.flush()
        os.fsync(f.fileno())


def _describe(path: Path) -> dict[str, Any]:
    """Qdrant's SnapshotDescription; the time is UTC without a zone, as Qdrant writes it."""
    stat = path.stat()
    created = datetime.fromtimestamp(stat.st_mtime, timezone.utc)
    stored = Path(f"{path}{CHECKSUM}")
    checksum = stored.read_text(encoding="ascii").strip() if stored.exists() else _sha256(path)
    return {
        "name": path.name,
        "creation_time": created.strftime("%Y-%m-%dT%H:%M:%S"),
        "size": stat.st_size,
        "checksum": checksum,
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# ---- recovering -------------------------------------------------------------------------------


def _download(url: str, into: Path, api_key: str | None) -> Path:
    request = urllib.request.Request(url, headers={"api-key": api_key} if api_key else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response, open(into, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise BadInput(f"cannot download the snapshot at {url}: {e}") from None
    return into


def _local_file(location: str | Path) -> Path:
    if isinstance(location, str) and "://" in location:
        url = urlparse(location)
        if url.scheme != "file" or url.netloc not in ("", "localhost"):
            raise BadInput(f"snapshot location {location} is not supported: use a file path")
        location = url2pathname(url.path)
    path = Path(location)
    if not path.is_file():
        raise BadInput(f"Snapshot file {path} does not exist")
    return path


def _unpack(archive: Path, into: Path) -> None:
    """Extracts files and directories only, each by hand under `into`: absolute names, `..`
    and links (the ways an archive writes outside its folder) are refused before anything is
    written."""
    try:
        with tarfile.open(archive, mode="r:") as tar:
            members = tar.getmembers()
            for member in members:
                parts = PurePosixPath(member.name).parts
                if member.name.startswith("/") or ".." in parts:
                    raise BadInput(f"Snapshot {archive}: unsafe path {member.name!r}")
                if not (member.isfile() or member.isdir()):
                    raise BadInput(f"Snapshot {archive}: {member.name!r} is not a plain file")
            into.mkdir()
            for member in members:
                target = into.joinpath(*PurePosixPath(member.name).parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                data = tar.extractfile(member)
                assert data is not None  # a regular file always has data
                with data, open(target, "wb") as out:
                    shutil.copyfileobj(data, out, 1 << 20)
    except (tarfile.TarError, EOFError) as e:
        raise BadInput(f"Snapshot {archive} is not a readable snapshot archive: {e}") from None


def _rename(folder: Path, name: str, source: Path) -> None:
    """Checks the unpacked manifest's format and writes the new collection name into it."""
    path = folder / storage.MANIFEST
    if not path.is_file():
        raise BadInput(f"Snapshot {source} holds no collection (no {storage.MANIFEST})")
    try:
        manifest = read_json(path)
    except ValueError as e:
        raise BadInput(f"Snapshot {source}: unreadable {storage.MANIFEST}: {e}") from None
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version != storage.FORMAT_VERSION:
        raise BadInput(
            f"Snapshot {source} has storage format {version}; this vqdb reads "
            f"{storage.FORMAT_VERSION}"
        )
    manifest["name"] = name
    write_json(path, manifest)


# ---- names and folders ------------------------------------------------------------------------


def folder_of(db: Database) -> Path:
    """Where snapshots are kept."""
    return _root(db) / "snapshots"


def _root(db: Database) -> Path:
    if db.path is None:
        raise BadInput(
            "snapshots need a storage folder: this database keeps everything in memory "
            "(open it with a path to use snapshots)"
        )
    return db.path


def _folder(db: Database, collection_name: str) -> Path:
    return folder_of(db) / collection_name


def _plain_name(name: Any) -> bool:
    """One path component that names no special directory (as collection names must be)."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= 255
        and not any(c in name for c in "/\\\0")
        and name not in (".", "..")
    )
