"""How a distributed collection answers reads: one Active replica per shard answers the read
function a single node would run (query.query, reads.scroll, ...), with the request widened
where merging needs it (offset 0 and `offset + limit` points), and the answers are merged
(merge.py) into the one a single node gives. Point ids in a query (nearest by id, recommend,
discover, context) are resolved to vectors first, once, because each point lives in one shard:
lookup.py does it as for a `lookup_from` naming this collection, which also leaves those points
out, as on one node.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb import engine
from vqdb.cluster import merge, routing
from vqdb.cluster.shards import Shard, Shards
from vqdb.collection import facets, groups, lookup, matrix, query, reads
from vqdb.collection.config import CollectionConfig
from vqdb.errors import BadInput, NotFound
from vqdb.segment.ids import point_id

Json = dict[str, Any]


class ShardedReads:
    """The reads of ShardedCollection (sharded.py), which has these attributes."""

    name: str
    config: CollectionConfig
    custom: bool
    shards: Shards

    def _targets(self, keys: list[routing.ShardKey] | None, writing: bool) -> list[Shard]:
        raise NotImplementedError

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
        keys: list[npt.NDArray[np.int64]] = []
        scores: list[npt.NDArray[np.float32]] = []
        points: dict[Any, int] = {}  # a point's key: its position among the points seen
        shown_points: list[Json] = []
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
            positions = []
            for x in found:
                key = merge.id_key(x["id"])
                if key not in points:
                    points[key] = len(shown_points)
                    shown_points.append(x)
                positions.append(points[key])
            keys.append(np.array(positions, np.int64))
            scores.append(np.array([x["score"] for x in found], np.float32))
        try:
            fused = fusion.fused(fusion.of_query(q, len(keys)), keys, scores)
        except ValueError as e:
            raise BadInput(f"Bad request: {e}") from None
        threshold = body.get("score_threshold")
        out = [
            {**shown_points[key], "score": score}
            for key, score in zip(fused[0].tolist(), fused[1].tolist())
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
        return self._scored("search", body)

    def _scored(self, read: str, body: Mapping[str, Any]) -> list[Json]:
        """A legacy search or recommend: every shard's first offset + limit, merged."""
        limit = reads.checked_count(body.get("limit"), 10, "limit", minimum=0)
        offset = reads.checked_count(body.get("offset"), 0, "offset", minimum=0)
        answers = self._fan(read, {**body, "limit": offset + limit, "offset": 0})
        return merge.scored(answers, self._descending(body))[offset : offset + limit]

    def _search_batch(self, body: Mapping[str, Any], others: lookup.Others) -> list[list[Json]]:
        return [self._search(one, others) for one in _searches(body)]

    def _recommend(self, body: Mapping[str, Any], others: lookup.Others) -> list[Json]:
        return self._scored("recommend", self._resolved(body, others))

    def _recommend_batch(self, body: Mapping[str, Any], others: lookup.Others) -> list[list[Json]]:
        return [self._recommend(one, others) for one in _searches(body)]

    def _matrix(self, body: Mapping[str, Any]) -> tuple[list[Any], list[int], list[int], list[Any]]:
        """The distance matrix of a random sample (matrix.py's, over the shards): each shard
        gives its share of the sample, drawn in proportion to its matching points; then each
        shard scores every sampled vector against its own sampled points (exact), and each
        row keeps its best `limit` of all shards, itself left out. Returns ids (in id order),
        rows, cols and scores, rows one after another."""
        sample = reads.checked_count(body.get("sample"), 10, "sample", minimum=0)
        limit = reads.checked_count(body.get("limit"), 3, "limit", minimum=0)
        using = body.get("using") or ""
        if sample == 0 or limit == 0:
            return [], [], [], []
        if not isinstance(using, str) or not self.config.has_vector(using):
            raise BadInput(f"Wrong input: Not existing vector name error: {using}")
        shards = self._targets(routing.shard_keys(body.get("shard_key")), writing=False)
        having = {"must": [f for f in (body.get("filter"), {"has_vector": using}) if f]}
        counts = [a["count"] for a in self.shards.read(shards, "read", "count", {"filter": having})]
        if sum(counts) < 2:
            return [], [], [], []
        shares = np.random.default_rng().multivariate_hypergeometric(
            np.array(counts), min(sample, sum(counts))
        )
        drawn = [(s, int(k)) for s, k in zip(shards, shares.tolist()) if k]
        picks = self.shards.read(
            [s for s, _ in drawn],
            "read",
            "query",
            {
                "query": {"sample": "random"},
                "filter": having,
                "limit": max(k for _, k in drawn),
                "with_vector": True,
                "with_payload": False,
            },
        )
        points = merge.by_id([found["points"][:k] for (_, k), found in zip(drawn, picks)])
        ids = [p["id"] for p in points]
        position = {merge.id_key(pid): i for i, pid in enumerate(ids)}
        vectors = [_vector_of(p, using) for p in points]
        answers = []
        for (shard, k), found in zip(drawn, picks):
            own = [p["id"] for p in found["points"][:k]]
            batch = {
                "searches": [
                    {
                        "query": v,
                        "using": using,
                        "limit": limit + 1,
                        "params": {"exact": True},
                        "filter": {"must": [{"has_id": own}]},
                    }
                    for v in vectors
                ]
            }
            answers.append(self.shards.read([shard], "read", "query_batch", batch)[0])
        descending = not (using in self.config.vectors and self.config.distance(using).ascending)
        rows, cols, scores = [], [], []
        for row in range(len(ids)):
            best = merge.scored([a[row]["points"] for a in answers], descending)
            best = [p for p in best if position[merge.id_key(p["id"])] != row][:limit]
            for p in best:
                rows.append(row)
                cols.append(position[merge.id_key(p["id"])])
                scores.append(p["score"])
        return ids, rows, cols, scores

    def _pairs(self, body: Mapping[str, Any], others: lookup.Others) -> Json:
        ids, rows, cols, scores = self._matrix(body)
        return {
            "pairs": [
                {"a": ids[a], "b": ids[b], "score": score}
                for a, b, score in zip(rows, cols, scores)
            ]
        }

    def _offsets(self, body: Mapping[str, Any], others: lookup.Others) -> Json:
        ids, rows, cols, scores = self._matrix(body)
        return {"offsets_row": rows, "offsets_col": cols, "scores": scores, "ids": ids}

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


def _vector_of(point: Json, using: str) -> Any:
    """A shown point's vector `using`, as query JSON."""
    vector = point["vector"]
    if isinstance(vector, Mapping) and "indices" not in vector:
        return vector[using]
    return vector


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


def _look_up(groups_: list[Json], raw: Any, others: lookup.Others, me: ShardedReads) -> None:
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
    found = engine.read(reads.retrieve, other, body)
    records = {merge.id_key(r["id"]): r for r in found}
    for group in groups_:
        record = records.get(merge.id_key(group["id"]))
        if record is not None:
            group["lookup"] = record


_EVERY = 1 << 31  # a facet limit that is no limit: each shard counts every value
_READS: dict[Any, Callable[[ShardedReads, Any, lookup.Others], Any]] = {
    query.query: ShardedReads._query,
    query.query_batch: ShardedReads._query_batch,
    query.search: ShardedReads._search,
    query.search_batch: ShardedReads._search_batch,
    query.recommend: ShardedReads._recommend,
    query.recommend_batch: ShardedReads._recommend_batch,
    groups.query_groups: ShardedReads._query_groups,
    groups.search_groups: ShardedReads._search_groups,
    groups.recommend_groups: ShardedReads._recommend_groups,
    reads.retrieve: ShardedReads._retrieve,
    reads.scroll: ShardedReads._scroll,
    reads.count: ShardedReads._count,
    facets.facet: ShardedReads._facet,
    matrix.pairs: ShardedReads._pairs,
    matrix.offsets: ShardedReads._offsets,
}
