"""A distributed collection as the server and the embedded client see it: the methods a route
calls on a Collection (upsert, delete, ..., batch), plus `read(run, body, others)` for the
read functions a route would have called with a Collection (query.query, reads.scroll, ...).

Writes are checked here first (a batch is parsed once, as a single node would, so errors are
the same), then split by shard: points by their id's hash (or their shard key), selectors by
their ids, filters and index changes to every shard. Reads go to one replica of each shard with
the request widened where merging needs it (offset 0 and `offset + limit` points), and come
back merged (merge.py). Point ids in a query (nearest by id, recommend, discover, context) are
resolved to vectors here, once, because the point lives in one shard only: lookup.py does it
as for a `lookup_from` naming this collection, which also leaves those points out.
"""

from __future__ import annotations

import copy
import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vqdb.cluster import merge, placement, routing
from vqdb.cluster.backlog import Backlog
from vqdb.cluster.shards import Replica, Shard, Shards
from vqdb.collection import facets, groups, lookup, query, reads
from vqdb.collection.collection import Collection
from vqdb.collection.config import CollectionConfig
from vqdb.collection.points import parse_points, parse_vectors, take, write_condition
from vqdb.errors import BadInput, NotFound
from vqdb.segment.ids import point_id
from vqdb.storage.files import read_json, write_json

log = logging.getLogger("vqdb.cluster")
Json = dict[str, Any]
META = "cluster.json"


class ShardedCollection:
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

    # ---- reads ---------------------------------------------------------------------------

    def read(self, run: Callable[..., Any], body: Any, others: lookup.Others = None) -> Any:
        """What `run(collection, body[, others])` answers on a single node, from the shards."""
        method = _READS.get(run)
        if method is None:
            raise BadInput(
                f"Bad request: {getattr(run, '__name__', run)} is not supported on a "
                "distributed collection yet"
            )
        return method(self, body, others)

    def _fan(self, name: str, body: Mapping[str, Any]) -> list[Any]:
        shards = self._targets(routing.shard_keys(body.get("shard_key")), writing=False)
        clean = {k: v for k, v in body.items() if k != "shard_key"}
        answers = self.shards.read(shards, "read", name, clean)
        if self.custom:  # points show the key of the shard they live in, as Qdrant's do
            for shard, answer in zip(shards, answers):
                for point in _points_of(answer):
                    point["shard_key"] = shard.key
        return answers

    def _resolved(self, body: Mapping[str, Any], others: lookup.Others) -> Mapping[str, Any]:
        """Point ids in the query as vectors (the points live in one shard each)."""

        def find(name: str) -> Any:
            if name == self.name:
                return self
            if others is None:
                raise NotFound(name)
            return others(name)

        return lookup.resolved(self, _looked_up(body, self.name), find)  # type: ignore[arg-type]

    def vectors_of(self, ids: list[Any], name: str) -> dict[Any, Any]:
        """Each id's vector `name` as query JSON (lookup.py's lookup_from of this collection)."""
        found = {
            p["id"]: p
            for p in self._retrieve(
                {"ids": ids, "with_vector": [name], "with_payload": False}, None
            )
        }
        if found and not self.config.has_vector(name):
            raise BadInput(f"Wrong input: Not existing vector name error: {name}")
        missing = [pid for pid in ids if pid not in found]
        if missing:
            raise NotFound(f"No point with id {missing[0]} found")
        out = {}
        for pid in ids:
            vector = found[pid].get("vector") or {}
            vector = vector.get(name) if isinstance(vector, Mapping) and name else vector
            if vector is None:
                raise NotFound(f'Vector with name "{name}" for point not found')
            out[pid] = vector
        return out

    def _retrieve(self, body: Mapping[str, Any], others: lookup.Others) -> list[Json]:
        raw = body.get("ids")
        if not isinstance(raw, list):
            raise BadInput("'ids' must be a list of point ids")
        ids = [point_id(v, f"ids[{i}]") for i, v in enumerate(raw)]
        found: dict[Any, Json] = {}
        for answer in self._fan("retrieve", body):
            for record in answer:
                found[record["id"]] = record
        return [found[pid] for pid in dict.fromkeys(ids) if pid in found]

    def _count(self, body: Any, others: lookup.Others) -> Json:
        body = body or {}
        return {"count": sum(a["count"] for a in self._fan("count", body))}

    def _scroll(self, body: Mapping[str, Any], others: lookup.Others) -> Json:
        limit = reads.checked_count(body.get("limit"), 10, "limit", minimum=1)
        order_by = body.get("order_by")
        if order_by is not None:
            pages = self._fan("scroll", body)
            points = merge.ordered([p["points"] for p in pages], _descending_order(order_by))
            return {"points": points[:limit], "next_page_offset": None}
        pages = self._fan("scroll", {**body, "limit": limit})
        points = merge.by_id([p["points"] for p in pages])
        nexts = [p["next_page_offset"] for p in pages if p["next_page_offset"] is not None]
        candidates = [p["id"] for p in points[limit:]] + nexts
        following = min(candidates, key=merge.id_key) if candidates else None
        return {"points": points[:limit], "next_page_offset": following}

    def _facet(self, body: Mapping[str, Any], others: lookup.Others) -> Json:
        limit = reads.checked_count(body.get("limit"), facets.DEFAULT_LIMIT, "limit", minimum=1)
        answers = self._fan("facet", {**body, "limit": _EVERY})  # every value: the sums are exact
        return merge.facet_hits(answers, limit)

    def _query(self, body: Mapping[str, Any], others: lookup.Others) -> Json:
        body = self._resolved(body, others)
        offset, limit = _page(body)
        if _fuses(body):
            return {"points": self._fused(body, body["query"], offset, limit)}
        answers = self._fan("query", _widened(body))
        return self._merged(body, [a["points"] for a in answers])

    def _merged(self, body: Mapping[str, Any], lists: list[list[Json]]) -> Json:
        """The shards' points for a query (each its best `offset + limit`) as one page."""
        q = body.get("query")
        offset, limit = _page(body)
        if q is None and not body.get("prefetch") and not body.get("score_threshold"):
            points = merge.by_id(lists)
        elif isinstance(q, Mapping) and "order_by" in q:
            points = merge.ordered(lists, _descending_order(q["order_by"]))
        elif isinstance(q, Mapping) and "sample" in q:
            points = [p for found in lists for p in found]
        else:
            points = merge.scored(lists, self._descending(body))
        return {"points": points[offset : offset + limit]}

    def _fused(
        self, body: Mapping[str, Any], q: Mapping[str, Any], offset: int, limit: int
    ) -> list[Json]:
        """A fusion of prefetches, as Qdrant fuses them: each prefetch merged over the shards
        first, then fused here."""
        from vqdb.collection import fusion

        raw = body["prefetch"]
        prefetches = [raw] if isinstance(raw, Mapping) else list(raw)
        shown = {k: body[k] for k in ("with_payload", "with_vector") if k in body}
        lists: list[list[tuple[Any, float]]] = []
        points: dict[Any, Json] = {}
        for p in prefetches:
            one = {**p, **shown}
            if body.get("filter") is not None:
                one["filter"] = (
                    {"must": [body["filter"], p["filter"]]} if p.get("filter") else body["filter"]
                )
            if "shard_key" in body:
                one["shard_key"] = body["shard_key"]
            one.setdefault("limit", 10)
            found = self._query(one, None)["points"]
            lists.append([(merge.id_key(x["id"]), x["score"]) for x in found])
            for x in found:
                points.setdefault(merge.id_key(x["id"]), x)
        try:
            if q.get("fusion") == "dbsf":
                ranked = fusion.dbsf(lists)
            elif q.get("fusion") == "rrf":
                ranked = fusion.rrf(lists)
            else:
                spec = q["rrf"]
                k = spec.get("k")
                ranked = fusion.rrf(
                    lists, fusion.DEFAULT_RRF_K if k is None else k, spec.get("weights")
                )
        except ValueError as e:
            raise BadInput(f"Bad request: {e}") from None
        threshold = body.get("score_threshold")
        out = [
            {**points[key], "score": float(score)}
            for key, score in ranked
            if threshold is None or score >= threshold
        ]
        return out[offset : offset + limit]

    def _descending(self, body: Mapping[str, Any]) -> bool:
        """Whether the query's scores rank higher first: all but the distances of a search by
        one vector (nearest, or recommend's average_vector) of a Euclid or Manhattan vector."""
        q = body.get("query", body.get("vector"))
        using = body.get("using") or ""
        if isinstance(body.get("vector"), Mapping) and "name" in body["vector"]:
            using = body["vector"]["name"]
        if q is None and "positive" in body:  # the legacy recommend
            q = {"recommend": body}
        spec = q.get("recommend") if isinstance(q, Mapping) else None
        averaged = isinstance(spec, Mapping) and spec.get("strategy") in (None, "average_vector")
        nearest = averaged or not isinstance(q, Mapping) or "nearest" in q or "indices" in q
        if not nearest or not self.config.has_vector(using):
            return True
        return not self.config.distance(using).ascending

    def _query_batch(self, body: Mapping[str, Any], others: lookup.Others) -> list[Json]:
        """One call per shard for the whole batch, when its queries go to the same shards and
        none fuses prefetches (those are merged before they are fused: one by one)."""
        searches = [self._resolved(one, others) for one in _searches(body)]
        keys = {repr(one.get("shard_key")) for one in searches}
        if len(keys) > 1 or any(_fuses(one) for one in searches):
            return [self._query(one, None) for one in searches]
        if not searches:
            return []
        batch = {"searches": [_widened(one) for one in searches]}
        if searches[0].get("shard_key") is not None:
            batch["shard_key"] = searches[0]["shard_key"]
        answers = self._fan("query_batch", batch)
        return [
            self._merged(one, [answer[i]["points"] for answer in answers])
            for i, one in enumerate(searches)
        ]

    def _search(self, body: Mapping[str, Any], others: lookup.Others) -> list[Json]:
        limit = reads.checked_count(body.get("limit"), 10, "limit", minimum=0)
        offset = reads.checked_count(body.get("offset"), 0, "offset", minimum=0)
        answers = self._fan("search", {**body, "limit": offset + limit, "offset": 0})
        return merge.scored(answers, self._descending(body))[offset : offset + limit]

    def _search_batch(self, body: Mapping[str, Any], others: lookup.Others) -> list[list[Json]]:
        return [self._search(one, others) for one in _searches(body)]

    def _recommend(self, body: Mapping[str, Any], others: lookup.Others) -> list[Json]:
        body = self._resolved(body, others)
        limit = reads.checked_count(body.get("limit"), 10, "limit", minimum=0)
        offset = reads.checked_count(body.get("offset"), 0, "offset", minimum=0)
        answers = self._fan("recommend", {**body, "limit": offset + limit, "offset": 0})
        return merge.scored(answers, self._descending(body))[offset : offset + limit]

    def _recommend_batch(self, body: Mapping[str, Any], others: lookup.Others) -> list[list[Json]]:
        return [self._recommend(one, others) for one in _searches(body)]

    def _query_groups(self, body: Mapping[str, Any], others: lookup.Others) -> Json:
        """Groups in two rounds: every shard's best groups pick the groups (one of them holds
        each chosen group's best point); then every shard answers for exactly those groups, so
        each group has its best `group_size` points of all shards."""
        body = self._resolved(body, others)
        size = reads.checked_count(body.get("group_size"), 3, "group_size", minimum=1)
        wanted = reads.checked_count(body.get("limit"), 10, "limit", minimum=1)
        plain = {k: v for k, v in body.items() if k != "with_lookup"}
        descending = self._descending(body)
        chosen = merge.groups(self._fan("query_groups", plain), wanted, size, descending)
        keys = [g["id"] for g in chosen]
        if keys:
            only = {"key": body["group_by"], "match": {"any": keys}}
            narrowed = {
                **plain,
                "filter": {"must": [f for f in (body.get("filter"), only) if f]},
                "limit": len(keys),
            }
            chosen = merge.groups(self._fan("query_groups", narrowed), wanted, size, descending)
        if body.get("with_lookup") is not None:
            _look_up(chosen, body["with_lookup"], others, self)
        return {"groups": chosen}

    def _search_groups(self, body: Mapping[str, Any], others: lookup.Others) -> Json:
        raw, using = body.get("vector"), ""
        if isinstance(raw, Mapping) and "name" in raw:
            using, raw = raw.get("name") or "", raw.get("vector")
        rest = {k: v for k, v in body.items() if k != "vector"}
        return self._query_groups({**rest, "query": {"nearest": raw}, "using": using}, others)

    def _recommend_groups(self, body: Mapping[str, Any], others: lookup.Others) -> Json:
        spec = {k: body[k] for k in ("positive", "negative", "strategy") if body.get(k) is not None}
        rest = {k: v for k, v in body.items() if k not in spec}
        return self._query_groups({**rest, "query": {"recommend": spec}}, others)

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


def _page(body: Mapping[str, Any]) -> tuple[int, int]:
    offset = reads.checked_count(body.get("offset"), 0, "offset", minimum=0)
    return offset, reads.checked_count(body.get("limit"), 10, "limit", minimum=0)


def _widened(body: Mapping[str, Any]) -> Json:
    """What each shard answers for a page: its own best `offset + limit` points."""
    offset, limit = _page(body)
    return {**body, "limit": offset + limit, "offset": 0}


def _fuses(body: Mapping[str, Any]) -> bool:
    q = body.get("query")
    return isinstance(q, Mapping) and ("fusion" in q or "rrf" in q) and bool(body.get("prefetch"))


def _points_of(answer: Any) -> list[Json]:
    """The points in a shard's answer to a read (query, query_batch, scroll, retrieve, search,
    groups)."""
    if isinstance(answer, list) and answer and isinstance(answer[0], Mapping):
        if "points" in answer[0]:  # a batch's answers
            return [p for one in answer for p in one["points"]]
        return answer
    if isinstance(answer, list):
        return []
    if "groups" in answer:
        return [hit for group in answer["groups"] for hit in group["hits"]]
    return list(answer.get("points", []))


def _peer(node: str | None) -> int:
    """A Ray node id (hex) as a Qdrant peer id (a u64)."""
    return 0 if node is None else int(node[:15], 16)


def _descending_order(order_by: Any) -> bool:
    return isinstance(order_by, Mapping) and order_by.get("direction") == "desc"


def _searches(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    searches = body.get("searches")
    if not isinstance(searches, list) or not all(isinstance(s, Mapping) for s in searches):
        raise BadInput("'searches' must be a list of request objects")
    return searches


def _looked_up(body: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The body with `lookup_from` this collection at every level that names points by id and
    looks up nowhere else (lookup.py then resolves them all)."""
    out = dict(body)
    if out.get("lookup_from") is None and _names_points(out):
        out["lookup_from"] = {"collection": name, "vector": out.get("using") or ""}
    raw = out.get("prefetch")
    if isinstance(raw, Mapping):
        out["prefetch"] = _looked_up(raw, name)
    elif isinstance(raw, list):
        out["prefetch"] = [_looked_up(p, name) if isinstance(p, Mapping) else p for p in raw]
    return out


def _names_points(body: Mapping[str, Any]) -> bool:
    """Whether the query names a point by id anywhere (looked at without walking a vector's
    numbers: a vector is a list, and ids stand alone or in example lists)."""

    def is_id(v: Any) -> bool:
        return isinstance(v, (int, str)) and not isinstance(v, bool)

    def any_id(v: Any, examples: bool = False) -> bool:
        if is_id(v):
            return True
        if isinstance(v, Mapping):
            return any(
                any_id(x, k in ("positive", "negative")) for k, x in v.items() if k in _EXAMPLE_KEYS
            )
        if isinstance(v, list) and examples:  # ids or vectors (lists: not walked)
            return any(is_id(x) for x in v)
        if isinstance(v, list) and v and isinstance(v[0], Mapping):  # context pairs
            return any(isinstance(x, Mapping) and any_id(x) for x in v)
        return False  # a vector

    return any_id(body.get("query")) or any(
        isinstance(body.get(k), list) and any(is_id(x) for x in body[k])
        for k in ("positive", "negative")
    )


_EXAMPLE_KEYS = {"nearest", "recommend", "positive", "negative", "discover", "target", "context"}


def _look_up(groups_: list[Json], raw: Any, others: lookup.Others, me: ShardedCollection) -> None:
    """groups' with_lookup, against a local or a distributed collection."""
    spec = {"collection": raw} if isinstance(raw, str) else raw
    name = spec.get("collection") if isinstance(spec, Mapping) else None
    if not isinstance(name, str):
        raise BadInput("with_lookup must be a collection name or {collection, ...}")
    try:
        other: Any = me if name == me.name else (others(name) if others else None)
    except NotFound:
        other = None
    if other is None:
        raise NotFound(f"Collection {name} not found")
    ids = {}
    for group in groups_:
        try:
            ids[merge.id_key(group["id"])] = point_id(group["id"])
        except ValueError:
            continue
    with_payload = spec.get("with_payload")
    body = {
        "ids": list(dict.fromkeys(ids.values())),
        "with_payload": True if with_payload is None else with_payload,
        "with_vector": spec.get("with_vectors", spec.get("with_vector", False)),
    }
    found = (
        other.read(reads.retrieve, body)
        if isinstance(other, ShardedCollection)
        else (reads.retrieve(other, body))
    )
    records = {merge.id_key(r["id"]): r for r in found}
    for group in groups_:
        record = records.get(merge.id_key(group["id"]))
        if record is not None:
            group["lookup"] = record


def _combined(answers: list[Json], wait: bool) -> Json:
    seqs = [int(a["operation_id"]) for a in answers if a.get("operation_id") is not None]
    return {
        "operation_id": max(seqs) if seqs else None,
        "status": "completed" if wait else "acknowledged",
    }


_EVERY = 1 << 31
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
_READS: dict[Any, Callable[[ShardedCollection, Any, lookup.Others], Any]] = {
    query.query: ShardedCollection._query,
    query.query_batch: ShardedCollection._query_batch,
    query.search: ShardedCollection._search,
    query.search_batch: ShardedCollection._search_batch,
    query.recommend: ShardedCollection._recommend,
    query.recommend_batch: ShardedCollection._recommend_batch,
    groups.query_groups: ShardedCollection._query_groups,
    groups.search_groups: ShardedCollection._search_groups,
    groups.recommend_groups: ShardedCollection._recommend_groups,
    reads.retrieve: ShardedCollection._retrieve,
    reads.scroll: ShardedCollection._scroll,
    reads.count: ShardedCollection._count,
    facets.facet: ShardedCollection._facet,
}

__all__ = ["Collection", "ShardedCollection"]
