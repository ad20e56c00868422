"""Snapshots of a distributed collection: a shard's is its replica's own (the snapshot a single
node takes of a collection, written by the replica's actor into the shard's snapshot folder);
the collection's gathers one snapshot of every shard and the collection's layout into one
archive:

    cluster.json                 the shards, their keys and the collection's config
    shards/<id>/<name>.snapshot  each shard's snapshot, with its own per-file checksums

Replicas write into the server's snapshot folder, so it must be reachable at the same path
from every node (one machine, or a shared filesystem): see the README.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vqdb.collection import snapshots
from vqdb.errors import NotFound

if TYPE_CHECKING:
    from vqdb.cluster.sharded import ShardedCollection


def take(sharded: ShardedCollection, folder: Path, shard: int | None) -> dict[str, Any]:
    """A new snapshot file in `folder` (the collection's or the shard's snapshot folder)."""
    if shard is not None:
        return _of_shard(sharded, shard, folder)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")
    name = f"{sharded.name}-{stamp}-{snapshots.random_tag()}{snapshots.SUFFIX}"
    with tempfile.TemporaryDirectory(dir=folder, prefix=".") as scratch:
        parts = Path(scratch) / "parts"
        for s in sharded.shards.shards:
            (parts / "shards" / str(s.id)).mkdir(parents=True)
            _of_shard(sharded, s.id, parts / "shards" / str(s.id))
        (parts / "cluster.json").write_text(json.dumps(sharded.meta), encoding="utf-8")
        archive = Path(scratch) / "archive.tar"
        with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(parts.rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    tar.add(path, path.relative_to(parts).as_posix(), recursive=False)
        snapshots.sync_file(archive)
        return snapshots.publish(archive, folder / name)


def _of_shard(sharded: ShardedCollection, shard: int, folder: Path) -> dict[str, Any]:
    found = [s for s in sharded.shards.shards if s.id == shard]
    if not found:
        raise NotFound(f"shard {shard} not found")
    answer: dict[str, Any] = sharded.shards.read(found, "snapshot", str(folder), shard)[0]
    return answer


def shard_ids(sharded: ShardedCollection) -> list[int]:
    return [s.id for s in sharded.shards.shards]
