"""Full storage snapshots (Qdrant's /snapshots): every collection and every alias in one file.

    <storage>/snapshots/full-snapshot-<YYYY-MM-DD-HH-MM-SS>-<random>.snapshot
    <storage>/snapshots/<that name>.checksum      its sha256, in hex

The file is a plain tar, laid out as Qdrant lays it out: one collection snapshot per collection
(collection/snapshots.py's format, named as it would be in the collection's own folder) and

    config.json   {"collections_mapping": {"<collection>": "<its snapshot's file name>"},
                   "collections_aliases": {"<alias>": "<collection>"}}

The collections are snapshotted one after another, each consistent in itself (as in Qdrant:
there is no moment common to all). Their snapshots are taken in a scratch folder and left
nowhere else: Qdrant also leaves a copy in each collection's snapshot folder, which nobody
asked for and which doubles the space a full snapshot takes.

Qdrant's HTTP API has no route that recovers a full snapshot (its server recovers one at start,
given --storage-snapshot); vqdb has none either. Each collection snapshot inside can be
recovered on its own (extract it, then recover or upload it).
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vqdb.collection import snapshots
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadInput, NotFound

PREFIX = "full-snapshot"  # Qdrant's name for them
CONFIG = "config.json"


def create(db: Database) -> dict[str, Any]:
    """Snapshots every collection into one new file; returns its SnapshotDescription."""
    folder = snapshots.folder_of(db)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")
    target = folder / f"{PREFIX}-{stamp}-{snapshots.random_tag()}{snapshots.SUFFIX}"
    # the scratch folder is beside the target: the finished file is renamed into place
    with tempfile.TemporaryDirectory(dir=folder, prefix=".") as scratch:
        collections = Path(scratch) / "collections"
        collections.mkdir()
        taken: dict[str, Path] = {}
        for name in db.collection_names():
            try:
                collection = db.collection(name)
                if not isinstance(collection, Collection):  # its shards are snapshot each
                    raise BadInput(
                        f"collection {name} is distributed: take its snapshot "
                        "(POST /collections/{name}/snapshots) instead of the storage's"
                    )
                taken[name] = collections / snapshots.take(collection, collections)["name"]
            except (NotFound, BadInput):
                if db.exists(name):
                    raise
                continue  # deleted meanwhile: not part of the storage any more
        names = set(taken)
        config = {
            "collections_mapping": {name: path.name for name, path in taken.items()},
            "collections_aliases": {
                a["alias_name"]: a["collection_name"]
                for a in db.aliases()
                if a["collection_name"] in names
            },
        }
        archive = Path(scratch) / "archive.tar"
        _write(archive, taken.values(), config)
        return snapshots.publish(archive, target)


def list_snapshots(db: Database) -> list[dict[str, Any]]:
    """The full snapshots, oldest first."""
    return snapshots.describe_all(snapshots.folder_of(db))


def path_of(db: Database, snapshot_name: str) -> Path:
    """The full snapshot's file (to download it); NotFound if there is none of that name."""
    return snapshots.file_in(snapshots.folder_of(db), snapshot_name, "of the storage")


def delete(db: Database, snapshot_name: str) -> bool:
    return snapshots.remove(path_of(db, snapshot_name))


def _write(archive: Path, members: Iterable[Path], config: dict[str, Any]) -> None:
    """The collection snapshots as plain members (no owners, no links), then config.json."""
    with tarfile.open(archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in members:
            info = tarfile.TarInfo(path.name)
            info.size, info.mode, info.mtime = path.stat().st_size, 0o644, path.stat().st_mtime
            with open(path, "rb") as data:
                tar.addfile(info, data)
            path.unlink()  # archived: its space is free for the next one
        body = json.dumps(config, indent=2).encode()
        info = tarfile.TarInfo(CONFIG)
        info.size, info.mode, info.mtime = len(body), 0o644, time.time()
        tar.addfile(info, io.BytesIO(body))
    snapshots.sync_file(archive)
