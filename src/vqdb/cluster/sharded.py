"""A distributed collection as the server and the embedded client see it: the methods a route
calls on a Collection (upsert, delete, ..., batch), plus `read(run, body, others)` for the
read functions a route would have called with a Collection (query.query, reads.scroll, ...:
reads.py), its config, shard keys, info and cluster info.

Writes are checked here first (a batch is parsed once, as a single node would, so errors are
the same), then split by shard: points by their id's hash (or their shard key), selectors by
their ids, filters and index changes to every shard (shards.py sends them to every replica).
"""

from __future__ import annotations

import copy
import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vqdb.cluster import placement, routing
from vqdb.cluster.backlog import Backlog
from vqdb.cluster.reads import ShardedReads
from vqdb.cluster.shards import Replica, Shard, Shards
from vqdb.collection.collection import Collection
from vqdb.collection.config import CollectionConfig
from vqdb.collection.points import parse_points, parse_vectors, take, write_condition
from vqdb.errors import BadInput, NotFound
from vqdb.segment.ids import point_id
from vqdb.storage.files import read_json, write_json

log = logging.getLogger("vqdb.cluster")
Json = dict[str, Any]
META = "cluster.json"


class ShardedCollection(ShardedReads):
    """`folder`: where the collection's metadata is kept (the server's storage); `replicas_root`:
    where each replica keeps its own folder, `<root>/<shard>/<replica>`, on its node."""

    def __init__(self, name: str, meta: Json, folder: Path, options: Json) -> None:
        self.name = name
        self.meta = meta
        self.folder = folder
        self.config = CollectionConfig.from_json(meta["config"])
        self.custom = bool(meta.get("custom"))
        self.options = options  # what every replica opens its collection with (replica.py)
        shards = [
            Shard(
                s["id"],
                s.get("key"),
                [
                    Replica(r, node, str(Path(meta["replicas_root"]) / str(s["id"]) / str(r)))
                    for r, node in enumerate(s["nodes"])
                ],
            )
            for s in meta["shards"]
        ]
        params = self.config.params
        backlog = Backlog(folder / "missed")
        self.shards = Shards(shards, self._spawn, params.write_consistency_factor, backlog)
        for shard in shards:
            for replica in shard.replicas:
                replica.handle = self._spawn(shard, replica)
        self._wait_ready(shards)

    # ---- lifecycle -----------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        name: str,
        config: CollectionConfig,
        folder: Path,
        options: Json,
        custom: bool = False,
    ) -> ShardedCollection:
        """custom: sharding_method "custom" (no shards until shard keys make them), which a
        local collection's config refuses, so it is kept here rather than in the config."""
        params = config.params
        nodes = placement.alive_nodes()
        spread = placement.spread(
            0 if custom else params.shard_number, params.replication_factor, nodes
        )
        meta = {
            "name": name,
            "config": config.to_json(),
            "custom": custom,
            "replicas_root": str((folder / "replicas").resolve()),
            "shards": [{"id": s, "key": None, "nodes": n} for s, n in enumerate(spread)],
        }
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / META, meta)
        return cls(name, meta, folder, options)

    @classmethod
    def open(cls, folder: Path, options: Json) -> ShardedCollection:
        meta = read_json(folder / META)
        return cls(meta["name"], meta, folder, options)

    def _spawn(self, shard: Shard, replica: Replica) -> Any:
        return placement.spawn(
            self.name,
            shard.id,
            replica.index,
            replica.node,
            self.meta["config"],
            replica.folder,
            self.options,
        )

    def _wait_ready(self, shards: Sequence[Shard]) -> None:
        from vqdb.cluster import ray_module

        ray = ray_module()
        ray.get([r.handle.ready.remote() for s in shards for r in s.replicas])

    def _save(self) -> None:
        self.meta["config"] = self.config.to_json()
        write_json(self.folder / META, self.meta)

    def close(self, remove: bool = False) -> None:
        """Stops watching the replicas; `remove`: closes them, deletes their storage and ends
        their actors (the collection is deleted)."""
        self.shards.close()
        if remove:
            self._end(self.shards.shards)
            shutil.rmtree(self.folder, ignore_errors=True)

    def _end(self, shards: Sequence[Shard]) -> None:
        from vqdb.cluster import ray_module

        ray = ray_module()
        for shard in shards:
            for replica in shard.replicas:
                try:
                    ray.get(replica.handle.close.remote(True), timeout=60)
                except Exception as e:  # a dead one: its folder goes with the root below
                    log.warning("replica %s: %s", replica.folder, e)
                ray.kill(replica.handle, no_restart=True)
                shutil.rmtree(replica.folder, ignore_errors=True)

    # ---- config --------------------------------------------------------------------------

    def change_config(self, config: CollectionConfig) -> None:
        """A new config (update_collection, named vectors made or deleted) on every replica."""
        parts = {s.id: ("update_config", (config.to_json(),)) for s in self.shards.shards}
        self.shards.write(parts)
        self.config = config
        self._save()

    # ---- shard keys (sharding_method: custom) -----------------------------------------------

    def create_shard_key(self, body: Mapping[str, Any]) -> bool:
        if not self.custom:
            raise BadInput("Bad request: Shard key is only supported with custom sharding")
        key = body.get("shard_key")
        routing.shard_keys(key)
        if any(s.key == key for s in self.shards.shards):
            raise BadInput(f"Bad request: Shard key {key} already exists")
        count = body.get("shards_number") or self.config.params.shard_number
        factor = body.get("replication_factor") or self.config.params.replication_factor
        first = max((s.id for s in self.shards.shards), default=-1) + 1
        nodes = placement.alive_nodes()
        made = []
        for i, spread in enumerate(placement.spread(count, factor, nodes, first)):
            entry = {"id": first + i, "key": key, "nodes": spread}
            root = Path(self.meta["replicas_root"]) / str(entry["id"])
            shard = Shard(
                first + i, key, [Replica(r, n, str(root / str(r))) for r, n in enumerate(spread)]
            )
            for replica in shard.replicas:
                replica.handle = self._spawn(shard, replica)
            made.append(shard)
            self.meta["shards"].append(entry)
        self._wait_ready(made)
        self.shards.shards.extend(made)
        self._save()
        return True

    def delete_shard_key(self, body: Mapping[str, Any]) -> bool:
        key = body.get("shard_key")
        gone = [s for s in self.shards.shards if s.key == key]
        if not gone:
            raise NotFound(f"Shard key {key} not found")
        self.shards.shards = [s for s in self.shards.shards if s.key != key]
        self.meta["shards"] = [s for s in self.meta["shards"] if s["key"] != key]
        self._save()
        self._end(gone)
        return True

    def _targets(self, keys: list[routing.ShardKey] | None, writing: bool) -> list[Shard]:
        """The shards a request's shard_key names (every one when it names none)."""
        shards = self.shards.shards
        if keys is None:
            if writing and self.custom:
                raise BadInput("Bad request: Shard key not specified")
            return shards
        found = [s for s in shards if s.key in keys]
        missing = [k for k in keys if not any(s.key == k for s in shards)]
        if missing:
            raise NotFound(f"Shard key {missing[0]} not found")
        return found

    # ---- writes --------------------------------------------------------------------------

    def upsert(self, body: Mapping[str, Any], *, wait: bool = True) -> Json:
        points = parse_points(body, self.config)
        condition = write_condition(body)
        return self._by_points("upsert_points", points, condition, body, wait)

    def upsert_points(self, points: Any, *, wait: bool = True) -> Json:
        return self._by_points("upsert_points", points, None, {}, wait)

    def update_vectors(self, body: Mapping[str, Any], *, wait: bool = True) -> Json:
        points = parse_vectors(body, self.config)
        condition = write_condition(body)
        return self._by_points("update_vectors", points, condition, body, wait)

    def _by_points(
        self, method: str, points: Any, condition: Any, body: Mapping[str, Any], wait: bool
    ) -> Json:
        shards = self._targets(routing.shard_keys(body.get("shard_key")), writing=True)
        if len(routing.shard_keys(body.get("shard_key")) or []) > 1:
            shards = [s for s in shards if s.key == shards[0].key]  # Qdrant: the first key
        where = routing.split(points.ids, [s.id for s in shards])
        if not where:  # nothing to write: one shard still answers (and checks) it
            where = {shards[0].id: np.arange(0, dtype=np.int64)}
        parts = {
            sid: (method, (take(points, positions), condition, wait))
            for sid, positions in where.items()
        }
        return _combined(self.shards.write(parts), wait)

    def delete(self, body: Mapping[str, Any], *, wait: bool = True) -> Json:
        return self._by_selector("delete", body, wait)

    def set_payload(self, body: Mapping[str, Any], *, wait: bool = True) -> Json:
        return self._by_selector("set_payload", body, wait)

    def overwrite_payload(self, body: Mapping[str, Any], *, wait: bool = True) -> Json:
        return self._by_selector("overwrite_payload", body, wait)

    def delete_payload(self, body: Mapping[str, Any], *, wait: bool = True) -> Json:
        return self._by_selector("delete_payload", body, wait)

    def clear_payload(self, body: Mapping[str, Any], *, wait: bool = True) -> Json:
        return self._by_selector("clear_payload", body, wait)

    def delete_vectors(self, body: Mapping[str, Any], *, wait: bool = True) -> Json:
        return self._by_selector("delete_vectors", body, wait)

    def _by_selector(self, method: str, body: Mapping[str, Any], wait: bool) -> Json:
        """A write that names its points by id (each shard gets its own ids) or by filter
        (every shard)."""
        if not isinstance(body, Mapping):
            raise BadInput("expected an object with 'points' or 'filter'")
        shards = self._targets(routing.shard_keys(body.get("shard_key")), writing=False)
        clean = {k: v for k, v in body.items() if k != "shard_key"}
        raw = clean.get("points")
        if isinstance(raw, list) and not (self.custom and body.get("shard_key") is None):
            ids = [point_id(v, f"points[{i}]") for i, v in enumerate(raw)]
            where: dict[int, Any] = {}
            for key in dict.fromkeys(s.key for s in shards):  # ids hash among a key's shards
                of_key = [s.id for s in shards if s.key == key]
                where.update(routing.split(ids, of_key) if ids else {})
            parts = {
                sid: ("write", (method, {**clean, "points": [raw[i] for i in pos]}, wait))
                for sid, pos in where.items()
            }
            if not parts and shards:  # no ids: one shard still checks the body
                parts = {shards[0].id: ("write", (method, clean, wait))}
        else:  # a filter, or ids of unknown shard keys: every shard looks for them
            parts = {s.id: ("write", (method, clean, wait)) for s in shards}
        return _combined(self.shards.write(parts) if parts else [], wait)

    def create_payload_index(self, body: Mapping[str, Any], *, wait: bool = True) -> Json:
        return self._everywhere(("write", ("create_payload_index", body, wait)), wait)

    def delete_payload_index(self, field: str, *, wait: bool = True) -> Json:
        return self._everywhere(("delete_payload_index", (field, wait)), wait)

    def delay(self, body: Mapping[str, Any], *, wait: bool = True) -> Json:
        return self._everywhere(("write", ("delay", body, wait)), wait)

    def _everywhere(self, call: tuple[str, tuple[Any, ...]], wait: bool) -> Json:
        return _combined(self.shards.write({s.id: call for s in self.shards.shards}), wait)

    def batch(self, operations: Sequence[Mapping[str, Any]], *, wait: bool = True) -> list[Json]:
        """UpdateOperations, each routed in order (strict mode's check-all-first pass is each
        shard's own)."""
        results = []
        for i, item in enumerate(operations):
            if not isinstance(item, Mapping) or len(item) != 1:
                raise BadInput(f"operations[{i}]: expected one operation, e.g. {{'upsert': ...}}")
            ((kind, body),) = item.items()
            if kind not in _BATCH:
                raise BadInput(f"operations[{i}]: unknown operation {kind!r}")
            if kind == "delete_payload_index":
                results.append(self.delete_payload_index(body.get("field_name"), wait=wait))
            else:
                results.append(getattr(self, kind)(body, wait=wait))
        return results

    # ---- what the collection is --------------------------------------------------------------

    def info(self) -> Json:
        """CollectionInfo summed over one replica of each shard."""
        answers = self.shards.read(self.shards.shards, "info")
        if not answers:
            answers = [
                {
                    "status": "green",
                    "optimizer_status": "ok",
                    "indexed_vectors_count": 0,
                    "points_count": 0,
                    "segments_count": 0,
                    "payload_schema": {},
                    "update_queue": {"length": 0},
                }
            ]
        out = copy.deepcopy(answers[0])
        for key in ("indexed_vectors_count", "points_count", "segments_count"):
            out[key] = sum(a[key] for a in answers)
        out["update_queue"] = {"length": sum(a["update_queue"]["length"] for a in answers)}
        worst = {"green": 0, "yellow": 1, "grey": 2, "red": 3}
        out["status"] = max((a["status"] for a in answers), key=lambda s: worst.get(s, 0))
        schema: Json = {}
        for a in answers:
            for key, entry in a["payload_schema"].items():
                if key in schema:
                    schema[key]["points"] += entry.get("points", 0)
                else:
                    schema[key] = dict(entry)
        out["payload_schema"] = schema
        out["config"] = self.config.to_api()
        if self.custom:
            out["config"]["params"]["sharding_method"] = "custom"
        shown: Json = out
        return shown

    @property
    def points_count(self) -> int:
        return int(self.info()["points_count"])

    def shard_keys(self) -> Json:
        if not self.custom:
            return {"shard_keys": None}
        keys = list(dict.fromkeys(s.key for s in self.shards.shards))
        return {"shard_keys": [{"key": key} for key in keys]}

    def cluster_info(self) -> Json:
        """Qdrant's CollectionClusterInfo: this server holds no shard itself; every replica
        is a remote shard on the peer (Ray node) its actor was placed on."""
        remote = []
        for shard in self.shards.shards:
            for replica in shard.replicas:
                entry: Json = {
                    "shard_id": shard.id,
                    "peer_id": _peer(replica.node),
                    "state": replica.state,
                }
                if shard.key is not None:
                    entry["shard_key"] = shard.key
                remote.append(entry)
        return {
            "peer_id": 0,
            "shard_count": len(self.shards.shards),
            "local_shards": [],
            "remote_shards": remote,
            "shard_transfers": [],
        }


def _peer(node: str | None) -> int:
    """A Ray node id (hex) as a Qdrant peer id (a u64)."""
    return 0 if node is None else int(node[:15], 16)


def _combined(answers: list[Json], wait: bool) -> Json:
    seqs = [int(a["operation_id"]) for a in answers if a.get("operation_id") is not None]
    return {
        "operation_id": max(seqs) if seqs else None,
        "status": "completed" if wait else "acknowledged",
    }


_BATCH = {
    "upsert",
    "delete",
    "set_payload",
    "overwrite_payload",
    "delete_payload",
    "clear_payload",
    "update_vectors",
    "delete_vectors",
    "create_payload_index",
    "delete_payload_index",
}

__all__ = ["Collection", "ShardedCollection"]
