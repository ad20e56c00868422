"""Groups: a query's best points gathered by the values of a payload key (`group_by`), at most
`group_size` per group, the `limit` groups whose best point ranks best, each optionally with
the point of another collection whose id is the group's value (`with_lookup`).

Qdrant's algorithm, kept because it decides which points a group gets: the query runs up to
5 times for `limit * group_size` candidates that have the key, leaving out the points already
seen and the groups already full; then up to 5 more times for the best groups that are not
full (a match on their values); it stops once the best `limit` groups are full or a run finds
nothing. Prefetch limits are multiplied by `group_size`. A group's value is a string or an
integer; a point with a list of them is in each group (once per distinct value), and a point
holding any value of another type (a float, a bool, null, an object, a nested list) is in none.
Groups and hits rank by score in the query's order (distance ascending, similarity, fusion
and discover scores descending, order_by by the ordered value in its direction; a random
sample or MMR has none); ties keep the order in which they were found.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vqdb.collection import lookup, query, strict
from vqdb.collection.collection import Collection
from vqdb.collection.reads import Selection, checked_count, retrieve
from vqdb.errors import BadInput, NotFound
from vqdb.filters.paths import parse_path, raw_values
from vqdb.floats import decimal_floats
from vqdb.segment.ids import PointId, point_id
from vqdb.segment.segment import Segment

GroupKey = str | int
Rank = Callable[["Candidate"], Any]  # smaller is better
_COLLECT_RUNS = _FILL_RUNS = 5  # Qdrant's budget of requests per stage
_U32, _U64, _I64 = 2**32, 2**64, 2**63
Json = dict[str, Any]


@dataclass
class Candidate:
    id: PointId
    score: float
    order_value: Any
    segment: Segment
    offset: int
    scrolled: bool  # order_by, sample or no query: shown as Qdrant shows scrolled records


@strict.checked("query_groups")
def query_groups(
    c: Collection, body: Mapping[str, Any], others: lookup.Others = None
) -> dict[str, Any]:
    """QueryGroupsRequest: a QueryRequest plus group_by, group_size (3), limit (10 groups) and
    with_lookup."""
    body = lookup.resolved(c, body, others)
    group_by = body.get("group_by")
    if not isinstance(group_by, str) or not group_by:
        raise BadInput("group_by must be a payload key")
    try:
        parse_path(group_by)
    except ValueError as e:
        raise BadInput(str(e)) from None
    size = checked_count(body.get("group_size"), 3, "group_size", minimum=1)
    wanted = checked_count(body.get("limit"), 10, "limit", minimum=1)
    base = {k: v for k, v in body.items() if k not in _GROUP_FIELDS}
    if base.get("prefetch") is not None:
        base["prefetch"] = _scaled(base["prefetch"], size)
    selection = Selection(body.get("with_payload", False), body.get("with_vector"), c)
    with c.lock.read():
        found = _grouped(c, base, group_by, size, wanted)
        groups: list[Json] = [{"hits": _shown(hits, selection), "id": key} for key, hits in found]
    if body.get("with_lookup") is not None:
        _look_up(groups, body["with_lookup"], others)
    return {"groups": groups}


@strict.checked("search_groups")
def search_groups(
    c: Collection, body: Mapping[str, Any], others: lookup.Others = None
) -> dict[str, Any]:
    """The legacy SearchGroupsRequest: `vector` (a list, or {name, vector}) instead of a
    query; group_size and limit required."""
    raw, using = body.get("vector"), ""
    if isinstance(raw, Mapping) and "name" in raw:
        using, raw = raw.get("name") or "", raw.get("vector")
    return query_groups(c, {**_legacy(body), "query": {"nearest": raw}, "using": using}, others)


@strict.checked("recommend_groups")
def recommend_groups(
    c: Collection, body: Mapping[str, Any], others: lookup.Others = None
) -> dict[str, Any]:
    """The legacy RecommendGroupsRequest: positive / negative / strategy at the top level."""
    spec = {k: body[k] for k in ("positive", "negative", "strategy") if body.get(k) is not None}
    moved = {k: body[k] for k in ("using", "lookup_from") if body.get(k) is not None}
    return query_groups(c, {**_legacy(body), **moved, "query": {"recommend": spec}}, others)


_GROUP_FIELDS = ("group_by", "group_size", "limit", "offset", "with_lookup", "lookup_from")
_LEGACY_FIELDS = ("filter", "params", "with_payload", "with_vector", "score_threshold")


def _legacy(body: Mapping[str, Any]) -> Json:
    for required in ("group_by", "group_size", "limit"):
        if body.get(required) is None:
            raise BadInput(f"missing field `{required}`")
    for count in ("group_size", "limit"):  # uint32s in Qdrant's legacy bodies
        checked_count(body[count], 1, count, minimum=1)
        if body[count] >= _U32:
            raise BadInput(f"{count} must be below 2^32, got {body[count]}")
    kept = (*_LEGACY_FIELDS, "group_by", "group_size", "limit", "with_lookup")
    return {k: body[k] for k in kept if body.get(k) is not None}


def _scaled(raw: Any, size: int) -> Any:
    """Prefetches with their limits (10 unless given) times `size`, at every depth."""
    if isinstance(raw, list):
        return [_scaled(p, size) for p in raw]
    if not isinstance(raw, Mapping):
        return raw
    out = {**raw, "limit": (raw.get("limit") or 10) * size}
    if raw.get("prefetch") is not None:
        out["prefetch"] = _scaled(raw["prefetch"], size)
    return out


def _grouped(
    c: Collection, base: Json, group_by: str, size: int, wanted: int
) -> list[tuple[GroupKey, list[Candidate]]]:
    """Qdrant's GroupByDriver: the requests to make, and what the groups became."""
    groups = _Groups(size, wanted, _rank(c, base))
    collect_left, fill_left, state = _COLLECT_RUNS, _FILL_RUNS, "collect"
    while True:
        if state == "collect" and collect_left == 0:
            state = "fill"
        if state == "fill" and fill_left == 0:
            break
        if state == "collect":
            collect_left -= 1
            must = _matching(group_by, list(groups.full), "except")
        else:
            fill_left -= 1
            must = _matching(group_by, groups.unfilled_best(), "any")
        found = _candidates(c, base, group_by, size * wanted, must, list(groups.ids))
        groups.add(found, group_by)
        enough = groups.filled_best() >= wanted
        if enough or (state == "fill" and not found):
            break
        if not found:
            state = "fill"
    return groups.distilled()


def _matching(group_by: str, keys: list[GroupKey], how: str) -> list[Json]:
    """Match conditions on the group key, one for integers and one for strings, as Qdrant's
    (both must hold when there are both)."""
    ints = [k for k in keys if isinstance(k, int)]
    strings = [k for k in keys if isinstance(k, str)]
    return [{"key": group_by, "match": {how: values}} for values in (ints, strings) if values]


def _candidates(
    c: Collection, base: Json, group_by: str, limit: int, must: list[Json], seen: list[PointId]
) -> list[Candidate]:
    """One run of the query for points that have the key (the caller holds the read lock)."""
    must_not: list[Json] = [{"is_empty": {"key": group_by}}]
    if seen:
        must_not.append({"has_id": seen})
    narrowed = {"must": [*([base["filter"]] if base.get("filter") else []), *must]}
    narrowed["must_not"] = must_not
    body = {**base, "filter": narrowed, "limit": limit, "offset": 0}
    body.update(with_payload=False, with_vector=False)
    request, hits = query.ranked(c, body)
    values = request.order_values
    return [
        Candidate(
            segment.ids.id_at(offset),
            score,
            None if values is None else values[i],
            segment,
            offset,
            values is not None,
        )
        for i, (score, _, segment, offset) in enumerate(hits)
    ]


def _rank(c: Collection, body: Mapping[str, Any]) -> Rank | None:
    """How to compare the points of the query's results, smaller first; None: no order."""
    q = body.get("query")
    if q is None:
        return lambda p: p.score  # by id: every score is 1
    if isinstance(q, Mapping):
        if "sample" in q or ("nearest" in q and q.get("mmr") is not None):
            return None
        if "order_by" in q:
            spec = q["order_by"]
            desc = (
                isinstance(spec, Mapping)
                and getattr(spec.get("direction"), "value", spec.get("direction")) == "desc"
            )
            return (lambda p: -p.order_value) if desc else (lambda p: p.order_value)
        strategy = (q.get("recommend") or {}).get("strategy") if "recommend" in q else None
        if not ("nearest" in q or "recommend" in q or set(q) == {"indices", "values"}) or (
            strategy not in (None, "average_vector")
        ):
            return lambda p: -p.score  # fusion, discover, context, best_score, sum_scores
    using = body.get("using") or ""
    ascending = c.config.has_vector(using) and c.config.distance(using).ascending
    return (lambda p: p.score) if ascending else (lambda p: -p.score)


class _Groups:
    """Qdrant's GroupsAggregator."""

    def __init__(self, size: int, wanted: int, rank: Rank | None) -> None:
        self.size, self.wanted, self.rank = size, wanted, rank
        self.hits: dict[GroupKey, dict[PointId, Candidate]] = {}
        self.best: dict[GroupKey, Candidate] = {}
        self.full: dict[GroupKey, None] = {}
        self.ids: dict[PointId, None] = {}

    def add(self, found: list[Candidate], group_by: str) -> None:
        for point in found:
            for key in _keys(point.segment.payload(point.offset), group_by):
                group = self.hits.setdefault(key, {})
                if point.id not in group:
                    group[point.id] = point
                    self.ids[point.id] = None
                if len(group) == self.size:
                    self.full[key] = None
                best = self.best.get(key)
                if best is None or (self.rank and self.rank(point) < self.rank(best)):
                    self.best[key] = point

    def best_keys(self) -> list[GroupKey]:
        keys = list(self.best)  # stable: ties keep the order in which groups were found
        if self.rank is not None:
            rank = self.rank
            keys.sort(key=lambda k: rank(self.best[k]))
        return keys[: self.wanted]

    def unfilled_best(self) -> list[GroupKey]:
        return [k for k in self.best_keys() if k not in self.full]

    def filled_best(self) -> int:
        return sum(1 for k in self.best_keys() if k in self.full)

    def distilled(self) -> list[tuple[GroupKey, list[Candidate]]]:
        out = []
        for key in self.best_keys():
            hits = list(self.hits[key].values())
            if self.rank is not None:
                hits.sort(key=self.rank)
            out.append((key, hits[: self.size]))
        return out


def _keys(payload: Mapping[str, Any] | None, group_by: str) -> list[GroupKey]:
    """The distinct group values of a payload (lists opened one level), in the order given;
    none when any value is not a string or an integer."""
    values: list[Any] = []
    for value in raw_values(payload, group_by):
        values.extend(value if isinstance(value, list) else [value])
    keys: dict[GroupKey, None] = {}
    for v in values:
        if isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)):
            if isinstance(v, int) and not -_I64 <= v < _U64:
                return []
            keys[v] = None
        else:
            return []
    return list(keys)


def _shown(hits: list[Candidate], selection: Selection) -> list[Json]:
    scores = decimal_floats([h.score for h in hits]).tolist()  # f32 scores, as Qdrant's
    return [
        selection.show(
            h.segment,
            h.offset,
            query.scrolled(h.order_value)
            if h.scrolled
            else {"version": h.segment.version, "score": score},
        )
        for h, score in zip(hits, scores)
    ]


def _look_up(groups: list[Json], raw: Any, others: lookup.Others) -> None:
    """Each group's point in the `with_lookup` collection whose id is the group's value (a
    value that is no point id looks up nothing)."""
    spec = {"collection": raw} if isinstance(raw, str) else raw
    name = spec.get("collection") if isinstance(spec, Mapping) else None
    if not isinstance(name, str):
        raise BadInput("with_lookup must be a collection name or {collection, ...}")
    try:
        if others is None:
            raise NotFound(name)
        other = others(name)
    except NotFound:
        raise NotFound(f"Collection {name} not found") from None
    ids: dict[GroupKey, PointId] = {}
    for group in groups:
        try:
            ids[group["id"]] = point_id(group["id"])
        except ValueError:
            continue
    with_vector = spec.get("with_vectors", spec.get("with_vector", False))
    body = {"ids": list(dict.fromkeys(ids.values())), "with_payload": spec.get("with_payload")}
    body["with_vector"] = with_vector
    if body["with_payload"] is None:
        body["with_payload"] = True
    records = {record["id"]: record for record in retrieve(other, body)}
    for group in groups:
        found = records.get(ids.get(group["id"], -1))
        if found is not None:
            group["lookup"] = found
