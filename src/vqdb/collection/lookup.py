"""`lookup_from`: a query's point ids name points of another collection, whose vectors
(`lookup_from.vector`, else the query's `using`) are the query's examples.

As in Qdrant, the referenced vectors are resolved before the query runs: every level of the
tree (the request, each prefetch) that has a `lookup_from` gets its ids replaced by the
vectors, and the rest of the engine sees plain vectors. Those ids are not left out of the
results, since they are other points; unless the lookup collection is the queried one, whose
referenced ids the request's filter then leaves out at every level, as Qdrant's does. Errors
are Qdrant's: a missing lookup collection is 404 "Collection x not found" (even with no ids to
resolve), a missing vector name 400 (once some point is found), a missing point 404 "No point
with id x found".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vqdb.collection.collection import Collection
from vqdb.errors import BadInput, NotFound
from vqdb.index.sparse_vectors import SparseVector
from vqdb.segment.ids import PointId, point_id
from vqdb.validation import MAPPING

Others = Callable[[str], Collection] | None  # a collection by name or alias, or NotFound
Json = dict[str, Any]


def resolved(c: Collection, body: Mapping[str, Any], others: Others) -> Mapping[str, Any]:
    """The body with the ids of every level that has a `lookup_from` replaced by vectors (the
    body itself when none has one)."""
    if not _has_lookup(body):
        return body
    same: list[PointId] = []
    out = _level(c, body, others, same)
    if same:
        out["filter"] = _without(out.get("filter"), same)
    return out


def _has_lookup(body: Mapping[str, Any]) -> bool:
    if body.get("lookup_from") is not None:
        return True
    return body.get("prefetch") is not None and any(_has_lookup(p) for p in _prefetches(body))


def _prefetches(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = body.get("prefetch")
    found = [raw] if isinstance(raw, MAPPING) else raw if isinstance(raw, list) else []
    return [p for p in found if isinstance(p, MAPPING)]


def _level(c: Collection, body: Mapping[str, Any], others: Others, same: list[PointId]) -> Json:
    """One level with its own ids resolved, then its prefetches' (Qdrant's order)."""
    out = _own(c, body, others, same)
    raw = body.get("prefetch")
    if isinstance(raw, Mapping):
        out["prefetch"] = _level(c, raw, others, same)
    elif isinstance(raw, list):
        out["prefetch"] = [_level(c, p, others, same) if isinstance(p, Mapping) else p for p in raw]
    return out


def _own(c: Collection, body: Mapping[str, Any], others: Others, same: list[PointId]) -> Json:
    out = dict(body)
    location = out.pop("lookup_from", None)
    if location is None:
        return out
    if not isinstance(location, Mapping) or not isinstance(location.get("collection"), str):
        raise BadInput("lookup_from must be {collection, vector}")
    name = location["collection"]
    other = _collection(others, name)
    vector = location.get("vector") or body.get("using") or ""
    ids: list[PointId] = []
    swap = _swapper(ids)
    if "query" in out:  # the Query API
        out["query"] = _query(out["query"], swap)
    for key in ("positive", "negative"):  # the legacy recommend
        if isinstance(out.get(key), list):
            out[key] = [swap(v) for v in out[key]]
    if not ids:
        return out
    if other is c:
        same.extend(ids)
    vectors = _vectors(other, ids, vector)
    for key in ("query", "positive", "negative"):
        if key in out:
            out[key] = _filled(out[key], vectors)
    return out


def _collection(others: Others, name: str) -> Collection:
    try:
        if others is None:
            raise NotFound(name)
        return others(name)
    except NotFound:
        raise NotFound(f"Collection {name} not found") from None


class _Ref:
    """A placeholder for the vector of a referenced id, filled in once all are fetched."""

    def __init__(self, pid: PointId) -> None:
        self.pid = pid


def _swapper(ids: list[PointId]) -> Callable[[Any], Any]:
    def swap(value: Any) -> Any:
        if isinstance(value, (int, str)) and not isinstance(value, bool):
            pid = point_id(value)
            ids.append(pid)
            return _Ref(pid)
        return value

    return swap


def _query(q: Any, swap: Callable[[Any], Any]) -> Any:
    """The query with its point ids (nearest, recommend, discover, context) as _Refs."""
    if not isinstance(q, Mapping):
        return swap(q)
    out = dict(q)
    if "nearest" in q:
        out["nearest"] = swap(q["nearest"])
    if isinstance(q.get("recommend"), Mapping):
        spec = dict(q["recommend"])
        for key in ("positive", "negative"):
            if isinstance(spec.get(key), list):
                spec[key] = [swap(v) for v in spec[key]]
        out["recommend"] = spec
    if isinstance(q.get("discover"), Mapping):
        spec = dict(q["discover"])
        if "target" in spec:
            spec["target"] = swap(spec["target"])
        spec["context"] = _pairs(spec.get("context"), swap)
        out["discover"] = spec
    if "context" in q:
        out["context"] = _pairs(q["context"], swap)
    return out


def _pairs(raw: Any, swap: Callable[[Any], Any]) -> Any:
    if isinstance(raw, Mapping):
        return {k: swap(v) if k in ("positive", "negative") else v for k, v in raw.items()}
    if isinstance(raw, list):
        return [_pairs(p, swap) for p in raw]
    return raw


def _vectors(other: Collection, ids: list[PointId], name: str) -> dict[PointId, Any]:
    """Each id's vector `name` in the other collection, as query JSON. Qdrant's order of
    errors: an unknown vector name only once some point is found (reading its vectors fails),
    then the first missing point, then a point without that vector. A distributed collection
    (vqdb.cluster) finds them in its shards itself."""
    if not isinstance(other, Collection):
        return dict(other.vectors_of(ids, name))
    with other.lock.read():
        where = {}
        for pid in ids:
            for segment in other.segments:
                offset = segment.find(pid)
                if offset >= 0:
                    where[pid] = (segment, offset)
                    break
        if where and not other.config.has_vector(name):
            raise BadInput(f"Wrong input: Not existing vector name error: {name}")
        missing = [pid for pid in ids if pid not in where]
        if missing:
            raise NotFound(f"No point with id {missing[0]} found")
        found: dict[PointId, Any] = {}
        for pid, (segment, offset) in where.items():
            vectors = segment.point_vectors(offset, [name])
            if name not in vectors:
                raise NotFound(f'Vector with name "{name}" for point not found')
            found[pid] = _json(vectors[name])
    return found


def _json(vector: Any) -> Any:
    if isinstance(vector, SparseVector):
        return {"indices": vector.indices.tolist(), "values": vector.values.tolist()}
    return vector.tolist()


def _filled(value: Any, vectors: dict[PointId, Any]) -> Any:
    """`value` with every _Ref replaced by its vector."""
    if isinstance(value, _Ref):
        return vectors[value.pid]
    if isinstance(value, Mapping):
        return {k: _filled(v, vectors) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, vectors) for v in value]
    return value


def _without(query_filter: Any, ids: list[PointId]) -> Json:
    """The filter, and none of `ids`."""
    out: Json = {"must_not": [{"has_id": ids}]}
    if query_filter is not None:
        out["must"] = [query_filter]
    return out
