"""Searching a collection: the Query API (`query_points`), the legacy search and recommend, and
how results from several segments become one ranked page.

Each segment answers `offset + limit` candidates (its graph or a plain scan, see
Segment.search); the merge keeps the best across segments, drops those past `score_threshold`,
skips `offset`, and shows `limit` points. Scores are what Qdrant shows: similarities for
Cosine and Dot (higher first), distances for Euclid and Manhattan (lower first). A sparse
query (`{"indices", "values"}` with `using` a sparse vector) is the same pipeline: each
segment's inverted index answers exact dot products, with IDF weights applied first when the
vector asks for them (idf.py).

Examples given by id (a query by id, recommend's positives and negatives, discover's target and
pairs) are the stored vectors of those points, which are then left out of the results. With
`lookup_from` they are the vectors of points of another collection instead (lookup.py, resolved
before the tree runs), and nothing is left out, as in Qdrant.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

from vqdb import bm25
from vqdb.collection import examples, formula, fusion, idf, lookup, order, strict
from vqdb.collection.collection import Collection, checked_filter
from vqdb.collection.points import multi_rows
from vqdb.collection.ranked import Hit, Ranked, candidates
from vqdb.collection.reads import Selection, checked_count, first_by_id, scroll
from vqdb.distance import Distance
from vqdb.errors import BadInput, NotFound, coded, invalid
from vqdb.filters import Filter
from vqdb.floats import decimal_floats
from vqdb.index.multi_vectors import MultiVectors, is_flat
from vqdb.index.sparse_vectors import SparseVector, SparseVectors
from vqdb.index.stores import OneVector, VectorBatch
from vqdb.index.vector_index import plain_query
from vqdb.native import _core
from vqdb.params import QuantizationSearchParams, SearchParams, from_mapping
from vqdb.segment.ids import PointId, point_id
from vqdb.segment.segment import Segment
from vqdb.validation import MAPPING

T = TypeVar("T")
R = TypeVar("R")  # what a request is answered

Vector = npt.NDArray[np.float32]
_STRATEGIES = ("average_vector", "best_score", "sum_scores")


@dataclass
class Request:
    using: str
    limit: int
    offset: int
    params: SearchParams
    query_filter: Filter | None
    score_threshold: float | None
    selection: Selection | None  # None for a prefetch, which shows nothing
    exclude: list[PointId] = field(default_factory=list)  # example points never returned
    idf_corpus: Filter | None = None  # the points whose statistics IDF uses (None: all)
    # the candidates a rescoring stage may return (offsets per segment position); None: any
    among: dict[int, npt.NDArray[np.int64]] | None = None
    # a scrolled stage's points (order_by, sample, none): Qdrant shows them as records that
    # score 1 at version 0, each with the value order_by ordered it by (None: none)
    order_values: list[order.OrderValue | None] | None = None
    # a rescoring stage run as one oversampled search: its prefetch's limit (see _rescoring)
    rescored: int | None = None


MAX_PREFETCH_DEPTH = 64  # Qdrant's


@strict.checked("query")
def query(c: Collection, body: Mapping[str, Any], others: lookup.Others = None) -> dict[str, Any]:
    """QueryRequest: nearest by vector or point id, recommend, or a fusion, over the whole
    collection or over what its prefetches found (a tree: each prefetch a query of its own, with
    its own prefetches; see _stage); no query: points by id. `others` finds the collections
    that `lookup_from` names (lookup.py)."""
    body = lookup.resolved(c, body, others)
    if body.get("query") is None and not body.get("prefetch") and not body.get("score_threshold"):
        request = _request(c, body, default_payload=False, by_vector=False)
        shown = _pick(body, "filter", "with_payload", "with_vector")  # points in id order
        page = scroll(c, {**shown, "limit": request.offset + request.limit})
        points = page["points"][request.offset :]
        return {"points": [{**p, "version": 0, "score": 1.0} for p in points]}
    with c.lock.read():
        request, hits = ranked(c, body)
        return {"points": _page(hits, request)}


def ranked(c: Collection, body: Mapping[str, Any]) -> tuple[Request, Sequence[Hit]]:
    """A QueryRequest's points, best first, `offset + limit` of them, and the request they
    answer (the caller holds the read lock; lookups are resolved)."""
    q = body.get("query")
    prefetches = _prefetches(body, depth=1)
    request = _request(c, body, default_payload=False, by_vector=_by_vector(q))
    if q is None:
        if prefetches:
            raise BadInput(
                "Bad request: A query is needed to merge the prefetches. Can't have prefetches "
                "without defining a query."
            )
        if body.get("score_threshold") is not None:
            raise BadInput(
                "Bad request: A query is needed to use the score_threshold. Can't have "
                "score_threshold without defining a query."
            )
        hits = _in_id_order(c, request)
        request.order_values = [None] * len(hits)
        return request, hits
    if _rescoring(c, request, q, prefetches):
        return request, _hits(c, request, _vector(c, _plain_vector(q), request.using))
    fused = _fused_leaves(c, request, q, prefetches, depth=1)
    if fused is not None:
        return request, fused
    sources = [_prefetched(c, p, request.query_filter) for p in prefetches]
    return request, _stage(c, request, q, sources if prefetches else None)


def _by_vector(q: Any) -> bool:
    """Whether the query scores by a vector (and so needs `using`): not a fusion, a formula, an
    order_by or a sample."""
    return q is not None and not (isinstance(q, MAPPING) and not _UNSCORED.isdisjoint(q))


_UNSCORED = {"fusion", "rrf", "formula", "order_by", "sample"}


def _prefetches(body: Mapping[str, Any], depth: int) -> list[Mapping[str, Any]]:
    raw = body.get("prefetch")
    if raw is None:
        return []
    found = [raw] if isinstance(raw, MAPPING) else raw
    if not isinstance(found, list) or not all(isinstance(p, MAPPING) for p in found):
        raise BadInput("'prefetch' must be a prefetch object or a list of them")
    if found and depth > MAX_PREFETCH_DEPTH:
        raise BadInput(
            f"Bad request: prefetches depth {depth} exceeds max depth {MAX_PREFETCH_DEPTH}"
        )
    return found


def _prefetched(
    c: Collection, body: Mapping[str, Any], outer: Filter | None, depth: int = 1
) -> Sequence[Hit]:
    """One prefetch's ranked points (the caller holds the read lock). The filters of the
    request and of the prefetches above apply to it as well, as in Qdrant."""
    q = body.get("query")
    inner = _prefetches(body, depth + 1)
    # a prefetch pages nothing: no offset, and its limit is 10 when not set (or 0)
    request = _request(
        c, body, False, _by_vector(q), limit=body.get("limit") or 10, offset=0, shown=False
    )
    request.query_filter = _both(outer, request.query_filter)
    if q is None:
        if inner:
            raise BadInput("Bad request: cannot have prefetches without a query")
        return _in_id_order(c, request)
    if _rescoring(c, request, q, inner):
        return _hits(c, request, _vector(c, _plain_vector(q), request.using))
    fused = _fused_leaves(c, request, q, inner, depth + 1)
    if fused is not None:
        return fused
    sources = [_prefetched(c, p, request.query_filter, depth + 1) for p in inner]
    return _stage(c, request, q, sources if inner else None)


def _fused_leaves(
    c: Collection, request: Request, q: Any, prefetches: list[Mapping[str, Any]], depth: int
) -> Ranked | None:
    """An RRF of prefetches that are each one search over the collection (a vector query with
    no prefetches, or the oversampled search _rescoring makes of one) in one native call: the
    searches, their merges over segments and the fusion (`_core.fused_rrf`). None for any
    other shape (a DBSF, a deeper tree, a bad request), which the stages below then run, and
    explain, one by one."""
    if not isinstance(q, MAPPING) or request.using or not prefetches:
        return None
    try:
        spec = fusion.of_query(q, len(prefetches))
    except ValueError:
        return None
    if spec.kind != "rrf":
        return None
    searches = []
    for body in prefetches:  # every one checked before any is planned: no work thrown away
        search = _prefetch_search(c, body, request.query_filter, depth)
        if search is None:
            return None
        searches.append(search)
    leaves = [
        _leaf(c, inner, _batch_of_one(c, inner, _vector_input(c, vector, inner)))
        for inner, vector in searches
    ]
    scores, keys = _core.fused_rrf(
        leaves,
        float(spec.k),
        list(spec.weights_of(len(leaves))),
        request.score_threshold,
        request.offset + request.limit,
    )
    return Ranked(scores, keys, c.segments)


def _prefetch_search(
    c: Collection, body: Mapping[str, Any], outer: Filter | None, depth: int
) -> tuple[Request, Any] | None:
    """A prefetch's request and query vector, where it is one search over the collection
    (parsed and checked as _prefetched does); None otherwise."""
    q = body.get("query")
    if not _by_vector(q):
        return None
    inner = _prefetches(body, depth + 1)
    request = _request(c, body, False, True, limit=body.get("limit") or 10, offset=0, shown=False)
    request.query_filter = _both(outer, request.query_filter)
    if inner and not _rescoring(c, request, q, inner):
        return None
    if isinstance(q, MAPPING):
        if "nearest" in q:
            if q.get("mmr") is not None:
                return None
            q = q["nearest"]
        elif set(q) != {"indices", "values"}:  # recommend, discover...: not one search
            return None
    return request, q


def _rescoring(
    c: Collection, request: Request, q: Any, prefetches: list[Mapping[str, Any]]
) -> bool:
    """Whether `q` over `prefetches` is an oversampled search, and if so sets `request` to
    run it as one. Qdrant's pattern for quantized collections, a nearest query over a single
    prefetch of the same dense vector (same `using`, no filter or threshold of its own) that
    walks the codes for `limit` candidates, rescored by the originals, is what the native
    search does with oversampling: so it runs as one call per segment instead of two stages
    through Python. The walk takes the prefetch's params and its `limit` candidates per
    segment (a superset of the prefetch's over the whole collection)."""
    if len(prefetches) != 1:
        return False
    prefetch = prefetches[0]
    if {k for k, v in prefetch.items() if v is not None} - _PLAIN_PREFETCH:
        return False
    config = c.config.vectors.get(request.using)
    vector = _plain_vector(q)
    if config is None or config.multivector or vector is None:
        return False
    if (prefetch.get("using") or "") != request.using:
        return False
    if not _same_vector(vector, _plain_vector(prefetch.get("query"))):
        return False
    limit = prefetch.get("limit") or 10
    if (
        not isinstance(limit, int)
        or isinstance(limit, bool)
        or limit < request.offset + request.limit
    ):
        return False
    try:
        params = from_mapping(SearchParams, _search_params(prefetch.get("params")), "params")
    except (TypeError, ValueError):
        return False  # the prefetch's own parse says why
    if params.quantization.oversampling is not None:
        return False
    request.params, request.rescored = params, limit
    return True


_PLAIN_PREFETCH = {"query", "using", "limit", "params"}


def _plain_vector(q: Any) -> Any:
    """The dense vector a nearest query gives as a list or an array; None for any other."""
    if isinstance(q, MAPPING):
        if set(q) != {"nearest"} and not (set(q) == {"nearest", "mmr"} and q["mmr"] is None):
            return None
        q = q["nearest"]
    if isinstance(q, np.ndarray):
        return q if q.ndim == 1 else None
    if isinstance(q, list) and q and all(isinstance(x, (int, float)) for x in q[:1]):
        return q
    return None


def _same_vector(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    return bool(a == b)


def _both(a: Filter | None, b: Filter | None) -> Filter | None:
    return b if a is None else a if b is None else Filter(must=(a, b))


def _stage(
    c: Collection, request: Request, q: Any, sources: list[Sequence[Hit]] | None
) -> Sequence[Hit]:
    """The points `q` ranks, best first: over the collection, or, given the results of
    prefetches (`sources`), a fusion of them or those of their points `q` scores best."""
    kinds = q.keys() if isinstance(q, MAPPING) else ()  # () for a vector or a point id
    if "fusion" in kinds or "rrf" in kinds:
        if request.using:
            raise BadInput("Bad request: Fusion queries cannot be combined with the 'using' field.")
        if sources is None:
            raise BadInput("Bad request: a fusion query needs prefetches to fuse")
        return _fused(c, q, sources, request)
    if "formula" in kinds:
        if sources is None:
            raise BadInput("Bad request: a formula query rescores prefetches: give some")
        return _formula(c, request, q, sources)
    if sources is not None:
        request.among = candidates([Ranked.of(h, c.segments) for h in sources])
    if "order_by" in kinds or "sample" in kinds:
        return _scrolled(c, request, q)
    if "recommend" in kinds:
        return _recommended(c, request, q["recommend"] or {})
    if "discover" in kinds or "context" in kinds:
        return _discovered(c, request, q)
    if "relevance_feedback" in kinds:
        return _with_feedback(c, request, q["relevance_feedback"])
    if "nearest" in kinds:
        if q.get("mmr") is not None:
            return _mmr(c, request, _vector_input(c, q["nearest"], request), q["mmr"])
        q = q["nearest"]
    elif isinstance(q, MAPPING) and set(kinds) != {"indices", "values"} and not bm25.is_document(q):
        raise BadInput(f"query {', '.join(sorted(kinds))} is not supported by vqdb yet")
    return _hits(c, request, _vector_input(c, q, request))


def _formula(
    c: Collection, request: Request, q: Mapping[str, Any], sources: list[Sequence[Hit]]
) -> Sequence[Hit]:
    """The prefetches' points rescored by a formula (formula.py), best first."""
    expression = formula.compile_formula(q["formula"], q.get("defaults"), c.appendable.indexes)
    scores = [{(s, offset): score for score, s, _, offset in hits} for hits in sources]
    where = {(s, offset): segment for hits in sources for _, s, segment, offset in hits}
    hits: list[Hit] = []
    for (s, offset), segment in where.items():
        point = formula.Point(
            segment.ids.id_at(offset),
            segment.payload(offset),
            [n for n, store in segment.vectors.items() if offset in store],
            [found.get((s, offset)) for found in scores],
        )
        hits.append((formula.score(expression, point), s, segment, offset))
    hits.sort(key=lambda h: (-h[0], h[1], h[3]))
    return _cut(hits, request)


def _cut(hits: Sequence[Hit], request: Request) -> Sequence[Hit]:
    """Ranked hits (higher scores first) at or above the score threshold, `offset + limit` of
    them."""
    if request.score_threshold is not None:
        if isinstance(hits, Ranked):
            hits = hits[: int(np.count_nonzero(hits.scores >= request.score_threshold))]
        else:
            hits = [h for h in hits if h[0] >= request.score_threshold]
    return hits[: request.offset + request.limit]


def _fused(
    c: Collection, q: Mapping[str, Any], sources: Sequence[Sequence[Hit]], request: Request
) -> Sequence[Hit]:
    lists = [Ranked.of(hits, c.segments) for hits in sources]
    try:
        spec = fusion.of_query(q, len(lists))
    except ValueError as e:
        raise BadInput(f"Bad request: {e}") from None
    fused_keys, fused_scores = fusion.fused(
        spec, [r.keys for r in lists], [r.scores for r in lists]
    )
    return _cut(Ranked(fused_scores, fused_keys, c.segments), request)


def _in_id_order(c: Collection, request: Request) -> Sequence[Hit]:
    """A query without a query: the first `offset + limit` matching points by id, scored 1
    (Qdrant scrolls for them)."""
    found = first_by_id(c, request.query_filter, request.offset + request.limit)
    return [(1.0, s, segment, offset) for s, segment, offset in found]


def _scrolled(c: Collection, request: Request, q: Mapping[str, Any]) -> Sequence[Hit]:
    """order_by and sample (order.py), over the allowed points or the prefetches' candidates.
    Qdrant scrolls for both: every point scores 1, so a score_threshold means nothing (refused
    with order_by, ignored with sample), and a sample without prefetches ignores `offset`."""
    masks = [_allowed(s, segment, request) for s, segment in enumerate(c.segments)]
    if "order_by" in q:
        if request.score_threshold is not None:
            raise BadInput("Bad request: Can't use score_threshold with an order_by query.")
        spec = order.parse(q["order_by"])
        found = order.ordered(c, spec, masks, request.offset + request.limit)
    else:
        if q["sample"] != "random":
            raise BadInput(f"unknown sample {q['sample']!r}: expected random")
        if request.among is None:
            request.offset = 0
        found = order.sampled(c, masks, request.offset + request.limit)
    request.order_values = [value for value, _, _ in found]
    return [(1.0, s, c.segments[s], offset) for _, s, offset in found]


@strict.checked("query_batch")
def query_batch(
    c: Collection, body: Mapping[str, Any], others: lookup.Others = None
) -> list[dict[str, Any]]:
    searches = _searches(body)
    together = _together(c, searches, "query")
    return [
        {"points": found} if found is not None else query(c, one, others)
        for one, found in zip(searches, together)
    ]


def query_each(
    c: Collection, bodies: list[Mapping[str, Any]], others: lookup.Others = None
) -> list[dict[str, Any] | Exception]:
    """Independent QueryRequests (a server's concurrent requests, gathered) answered at once,
    each with its own answer or failure, as `query` gives it (see _answered)."""
    return _answered(c, bodies, "query", lambda body: query(c, body, others), _points)


def search_each(
    c: Collection, bodies: list[Mapping[str, Any]], others: lookup.Others = None
) -> list[list[dict[str, Any]] | Exception]:
    """Independent legacy SearchRequests answered at once, as query_each answers queries."""
    return _answered(c, bodies, "vector", lambda body: search(c, body), _page_itself)


def _answered(
    c: Collection,
    bodies: list[Mapping[str, Any]],
    key: str,
    alone: Callable[[Mapping[str, Any]], R],
    shown: Callable[[list[dict[str, Any]]], R],
) -> list[R | Exception]:
    """Each body's answer, as alone(body) gives it, or its failure. The plain nearest searches
    that share all but the vector (`key`) are one native call, as a batch groups them, shown
    by `shown`, but on the caller's thread only: the other cores serve the other requests in
    flight. Under strict mode each request is checked and charged as sent: one by one."""
    together: list[list[dict[str, Any]] | None] = [None] * len(bodies)
    if strict.settings(c) is None:
        together = _together(c, bodies, key, threads=1, whole=False)
    answers: list[R | Exception] = []
    for body, found in zip(bodies, together):
        if found is not None:
            answers.append(shown(found))
            continue
        try:
            answers.append(alone(body))
        except Exception as e:  # this request's own failure, answered to it alone
            answers.append(e)
    return answers


def _points(page: list[dict[str, Any]]) -> dict[str, Any]:
    return {"points": page}


def _page_itself(page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return page


@strict.checked("search_batch")
def search_batch(c: Collection, body: Mapping[str, Any]) -> list[list[dict[str, Any]]]:
    searches = _searches(body)
    together = _together(c, searches, "vector")
    return [
        found if found is not None else search(c, one) for one, found in zip(searches, together)
    ]


def _together(
    c: Collection,
    searches: list[Mapping[str, Any]],
    key: str,
    threads: int = 0,
    whole: bool = True,
) -> list[list[dict[str, Any]] | None]:
    """The pages of a batch's plain nearest searches (a dense vector as `key`, nothing but a
    filter, params, paging and selection besides) that share all but the vector, each group
    answered by one native call over all its queries and segments, which runs the queries in
    parallel on `threads` threads (0: every core). None where a search runs on its own.
    A bad search refuses the `whole` batch; else its group's searches are left to run alone."""
    groups: dict[str, list[int]] = {}
    for i, one in enumerate(searches):
        shared = {k: v for k, v in one.items() if v is not None and k != key}
        vector = _plain_vector(one.get(key))
        config = c.config.vectors.get(shared.get("using") or "")
        if vector is None or config is None or config.multivector or set(shared) - _SHARED:
            continue
        groups.setdefault(json.dumps(shared, sort_keys=True, default=str), []).append(i)
    found: list[list[dict[str, Any]] | None] = [None] * len(searches)
    for members in groups.values():
        if len(members) < 2:
            continue
        try:
            pages = _group_pages(c, [searches[i] for i in members], key, threads)
        except Exception:
            if whole:
                raise
            continue
        for i, page in zip(members, pages):
            found[i] = page
    return found


def _group_pages(
    c: Collection, searches: list[Mapping[str, Any]], key: str, threads: int
) -> list[list[dict[str, Any]]]:
    request = _request(c, searches[0], default_payload=False)
    raw = [_plain_vector(one[key]) for one in searches]
    with c.lock.read():
        found = _searched(c, request, _stacked(c, raw, request.using), threads)
        return _pages(found, request)


def _stacked(c: Collection, raw: list[Any], using: str) -> Vector:
    """A batch's dense query vectors as one matrix: JSON lists read natively (numpy's nested
    list conversion took ~18 us per 768-d query, the native read ~2.5); anything else through
    _vector, one by one, so the error names what _vector names for a single query."""
    size = c.config.vectors[using].size
    plain = [plain_query(v, size) for v in raw]
    if any(row is None for row in plain):
        return np.stack([np.asarray(_vector(c, v, using)) for v in raw])
    return np.stack(cast(list[Vector], plain))


_SHARED = {"using", "filter", "params", "limit", "offset", "with_payload", "with_vector"}
_SHARED |= {"score_threshold"}


@strict.checked("recommend_batch")
def recommend_batch(
    c: Collection, body: Mapping[str, Any], others: lookup.Others = None
) -> list[list[dict[str, Any]]]:
    return _each(c, body, lambda c, one: recommend(c, one, others))


def _each(c: Collection, body: Mapping[str, Any], run: Callable[[Collection, Any], T]) -> list[T]:
    """A batch body, {"searches": [request, ...]}: one answer per request."""
    return [run(c, s) for s in _searches(body)]


def _searches(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    searches = body.get("searches")
    if not isinstance(searches, list) or not all(isinstance(s, Mapping) for s in searches):
        raise BadInput("'searches' must be a list of request objects")
    return searches


@strict.checked("search")
def search(c: Collection, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The legacy SearchRequest: {"vector": [...] | {"name", "vector"}, ...}."""
    raw = body.get("vector")
    using = body.get("using") or ""
    if isinstance(raw, Mapping):
        using, raw = raw.get("name", ""), raw.get("vector")
    request = _request(c, {**body, "using": using}, default_payload=False)
    with c.lock.read():
        return _search(c, request, _vector(c, raw, using))


@strict.checked("recommend")
def recommend(
    c: Collection, body: Mapping[str, Any], others: lookup.Others = None
) -> list[dict[str, Any]]:
    """The legacy RecommendRequest: positive / negative / strategy at the top level."""
    body = lookup.resolved(c, body, others)
    request = _request(c, body, default_payload=False)
    spec = _pick(body, "positive", "negative", "strategy")
    with c.lock.read():
        return _page(_recommended(c, request, spec), request)


# ---- building blocks -------------------------------------------------------------------------


def _request(
    c: Collection,
    body: Mapping[str, Any],
    default_payload: bool,
    by_vector: bool = True,
    limit: Any = None,
    offset: Any = None,
    shown: bool = True,
) -> Request:
    """by_vector: whether the request searches a vector (a query without one pages by id, and
    needs no `using`); `limit` and `offset`: the body's own, unless given; `shown`: whether
    its points are shown (a prefetch's are not: it has no with_payload or with_vector)."""
    using = body.get("using") or ""
    if not isinstance(using, str):  # the legacy bodies are not checked against a schema
        raise BadInput(f"'using' must be a vector name, got {using!r}")
    if by_vector and not c.config.has_vector(using):
        if using == "":
            raise BadInput("this collection has named vectors: say which one with 'using'")
        raise BadInput(f"Wrong input: Not existing vector name error: {using}")
    raw_params = body.get("params")
    params = _DEFAULT_PARAMS if raw_params is None else _parsed_params(raw_params)
    threshold = body.get("score_threshold")
    if threshold is not None and not isinstance(threshold, (int, float)):
        raise BadInput("score_threshold must be a number")
    return Request(
        idf_corpus=None if raw_params is None else _idf_corpus(c, raw_params, using),
        using=using,
        limit=checked_count(body.get("limit") if limit is None else limit, 10, "limit", 1),
        offset=checked_count(body.get("offset") if offset is None else offset, 0, "offset", 0),
        params=params,
        query_filter=checked_filter(body.get("filter")),
        # float32, as Qdrant's: a score shown as 0.1 passes a threshold of 0.1
        score_threshold=None if threshold is None else float(np.float32(threshold)),
        selection=(
            Selection(body.get("with_payload", default_payload), body.get("with_vector"), c)
            if shown
            else None
        ),
    )


_DEFAULT_PARAMS = SearchParams()


def _parsed_params(raw: Any) -> SearchParams:
    try:
        params: SearchParams = from_mapping(SearchParams, _search_params(raw), "search params")
        return params
    except (TypeError, ValueError) as e:
        raise BadInput(str(e)) from None


def _idf_corpus(c: Collection, params: Any, using: str) -> Filter | None:
    """Qdrant's `params.idf`: "global" (the default) or {"corpus": filter}; only for a sparse
    vector whose modifier is idf (elsewhere it would be silently meaningless)."""
    scope = params.get("idf") if isinstance(params, MAPPING) else None
    if scope is None:
        return None
    config = c.config.sparse_vectors.get(using)
    if config is None or not config.idf:
        raise BadInput(
            f"Wrong input: params.idf applies to sparse vectors with the idf modifier, and "
            f"{using!r} is not one"
        )
    if scope == "global":
        return None
    if not isinstance(scope, Mapping) or set(scope) != {"corpus"}:
        raise BadInput('params.idf must be "global" or {"corpus": <filter>}')
    return checked_filter(scope["corpus"], "params.idf.corpus")


def _search_params(raw: Any) -> Any:
    """Qdrant's SearchParams as the engine's: the options vqdb needs no part of (`indexed_only`,
    `acorn`) and unknown ones are dropped, as Qdrant ignores unknown fields."""
    if not isinstance(raw, MAPPING):
        return raw
    kept = {k: v for k, v in raw.items() if k in _SEARCH_FIELDS and v is not None}
    if isinstance(kept.get("quantization"), Mapping):
        kept["quantization"] = {
            k: v
            for k, v in kept["quantization"].items()
            if k in _QUANTIZATION_FIELDS and v is not None
        }
    return kept


_SEARCH_FIELDS = set(SearchParams.__dataclass_fields__)
_QUANTIZATION_FIELDS = set(QuantizationSearchParams.__dataclass_fields__)


def _vector_input(c: Collection, raw: Any, request: Request) -> OneVector:
    """A vector, or the stored vector of a point id (which is then left out of the results)."""
    if isinstance(raw, (int, str)) and not isinstance(raw, bool):
        pid = point_id(raw)
        request.exclude.append(pid)
        return _stored_vector(c, pid, request.using)
    return _vector(c, raw, request.using)


def _stored_vector(c: Collection, pid: PointId, using: str) -> OneVector:
    for segment in c.segments:
        offset = segment.find(pid)
        if offset >= 0:
            found = segment.point_vectors(offset, [using])
            if using not in found:
                raise BadInput(f"point {pid} has no vector {using!r}")
            return found[using]
    raise NotFound(f"No point with id {pid} found")


def _vector(c: Collection, raw: Any, using: str) -> OneVector:
    if using in c.config.sparse_vectors:
        if bm25.is_document(raw):
            raw = bm25.sparse(raw, query=True, where="query")
        if not isinstance(raw, MAPPING):
            raise BadInput(
                f"{using!r} is a sparse vector: query it with {{'indices': [...], 'values': [...]}}"
            )
        try:
            return SparseVector.parse(raw, "query")
        except ValueError as e:
            raise BadInput(f"Wrong input: {e}") from None
    if isinstance(raw, MAPPING):
        if bm25.is_document(raw):
            raise BadInput(
                f"{using or 'the vector'!r} is a dense vector: a document needs an inference "
                "service to become one, which vqdb does not have (its BM25 makes sparse vectors)"
            )
        raise BadInput(f"{using or 'the vector'!r} is a dense vector: query it with a list")
    dim = c.config.vectors[using].size
    if c.config.vectors[using].multivector:
        if is_flat(raw):  # one vector: a one-row multivector
            raw = [raw]
        matrix: Vector = multi_rows([raw], using, dim, "query")[0]
        return matrix
    vector = plain_query(raw, dim)  # a list of numbers, as JSON gives it
    if vector is not None:
        return vector
    try:
        vector = np.asarray(raw, dtype=np.float32)
    except (TypeError, ValueError):
        raise BadInput("the query must be a list of numbers or a point id") from None
    if vector.ndim != 1:
        raise BadInput("the query must be one dense vector (multi-vectors are not supported)")
    if vector.shape[0] != dim:
        raise BadInput(
            f"Wrong input: Vector dimension error: expected dim: {dim}, got {vector.shape[0]}"
        )
    if not np.isfinite(vector).all():
        raise BadInput("the query vector must not hold NaN or infinity")
    return vector


def _search(c: Collection, request: Request, vector: OneVector) -> list[dict[str, Any]]:
    return _page(_hits(c, request, vector), request)


def _hits(c: Collection, request: Request, vector: OneVector) -> Sequence[Hit]:
    """Nearest points to one vector over every segment, best first, `offset + limit` of them
    (the caller holds the read lock)."""
    return _searched(c, request, _batch_of_one(c, request, vector))[0]


def _batch_of_one(c: Collection, request: Request, vector: OneVector) -> VectorBatch:
    """One query vector as the search takes a batch, IDF weights applied to a sparse one."""
    if isinstance(vector, SparseVector):
        return idf.weighted(c, request.using, vector, request.idf_corpus)
    if vector.ndim == 2:  # a multivector
        return MultiVectors.of([vector], vector.shape[1])
    return vector[None, :]


def _searched(
    c: Collection, request: Request, queries: VectorBatch, threads: int = 0
) -> list[Ranked]:
    """Each query's nearest points over every segment, best first, `offset + limit` of them,
    the caller holding the read lock: one native call for all the queries and segments (a
    leaf), where a batch runs on `threads` threads (0: every core). A rescoring stage scores
    its candidates alone, exactly."""
    scores, keys, ends = _core.ranked(_leaf(c, request, queries), threads)
    return Ranked.split(scores, keys, ends, c.segments)


def _leaf(c: Collection, request: Request, queries: VectorBatch) -> _core.Leaf:
    """Queries over every segment as a native leaf (cpp/query/leaf.h): each segment's search
    planned by Segment.add_to (as Segment.search plans it), to be run, and merged, in one
    call."""
    wanted = request.offset + request.limit
    leaf: _core.Leaf
    if isinstance(queries, SparseVectors):
        leaf = _core.Leaf.sparse(
            queries.indptr, queries.indices, queries.values, request.score_threshold, wanted
        )
    else:
        distance = c.config.distance(request.using)
        groups = None
        if isinstance(queries, MultiVectors):
            groups = queries.offsets - queries.offsets[0]
            queries = queries.rows[: int(groups[-1])]
        leaf = _core.Leaf.dense(
            queries,
            groups,
            distance.shown,
            distance.ascending,
            request.score_threshold,
            wanted,
        )
    if request.among is not None:  # a rescoring stage: the prefetches' candidates alone
        for s, among in request.among.items():
            segment = c.segments[s]
            if request.query_filter is not None or request.exclude:
                keep = segment.mask(request.query_filter)
                keep[segment.offsets_of(request.exclude)] = False
                among = among[keep[among]]
            segment.add_rescoring_to(leaf, s, request.using, among, wanted)
        return leaf
    threshold = 0  # read from the config only when a filter asks (see Segment.search)
    for s, segment in enumerate(c.segments):
        if not segment.size:  # the appendable segment a fresh optimization leaves
            continue
        allowed = _allowed(s, segment, request)
        if allowed is not None:
            if not allowed.any():
                continue
            threshold = threshold or c.config.full_scan_threshold_vectors(request.using)
        segment.add_to(
            leaf, s, request.using, wanted, request.params, allowed, threshold, request.rescored
        )
    return leaf


def _allowed(s: int, segment: Segment, request: Request) -> npt.NDArray[np.bool_] | None:
    """The offsets of the segment at position `s` the request may return; None: all."""
    if request.query_filter is None and not request.exclude and request.among is None:
        return None if segment.deferred is None else segment.visible
    allowed = segment.mask(request.query_filter)
    allowed[segment.offsets_of(request.exclude)] = False
    if request.among is not None:
        chosen = np.zeros(segment.size, dtype=np.bool_)
        chosen[request.among.get(s, np.zeros(0, dtype=np.int64))] = True
        allowed &= chosen
    return allowed


def _recommended(c: Collection, request: Request, spec: Mapping[str, Any]) -> Sequence[Hit]:
    """The points recommended by examples, best first (the caller holds the read lock)."""
    strategy = spec.get("strategy") or "average_vector"
    if strategy not in _STRATEGIES:
        raise BadInput(f"unknown recommend strategy {strategy!r} (expected {_STRATEGIES})")
    if not spec.get("positive") and not spec.get("negative"):  # Qdrant's validator: 422
        raise invalid(
            "internal.query.recommend.positives, negatives",
            coded("At least one positive or negative vector/id must be provided"),
        )
    positive = [_vector_input(c, v, request) for v in spec.get("positive") or []]
    negative = [_vector_input(c, v, request) for v in spec.get("negative") or []]
    if strategy == "average_vector":
        if not positive:
            raise BadInput("Positive vectors should not be empty with `average` strategy")
        return _hits(c, request, _average(positive, negative))
    score = (examples.best_score if strategy == "best_score" else examples.sum_scores)(
        len(positive)
    )
    return _by_examples(c, request, [*positive, *negative], score)


def _discovered(c: Collection, request: Request, q: Mapping[str, Any]) -> Sequence[Hit]:
    """`discover` (a target and context pairs) and `context` (pairs alone), see examples.py."""
    try:
        if "context" in q and set(q) == {"context"}:
            pairs = examples.pairs(q["context"], "context")
            target = None
        else:
            spec = q["discover"]
            if not isinstance(spec, Mapping) or "target" not in spec:
                raise ValueError("discover needs a 'target' and 'context' pairs")
            pairs = examples.pairs(spec.get("context"), "discover.context")
            target = spec["target"]
    except ValueError as e:
        raise BadInput(str(e)) from None
    flat = [v for pair in pairs for v in pair]
    if target is None:
        if not pairs:
            raise BadInput("context needs at least one pair of examples")
        vectors = [_vector_input(c, v, request) for v in flat]
        return _by_examples(c, request, vectors, examples.context)
    if not pairs:  # a target alone: the nearest points, scored as a discover query
        vector = _vector_input(c, target, request)
        return _by_examples(c, request, [vector], examples.discover)
    vectors = [_vector_input(c, v, request) for v in (target, *flat)]
    return _by_examples(c, request, vectors, examples.discover)


def _average(positive: list[OneVector], negative: list[OneVector]) -> OneVector:
    """Qdrant's average_vector query: 2 * mean(positive) - mean(negative) for dense and sparse
    vectors (sparse ones over the union of their terms); for multivectors, the positive rows
    and the negated negative rows, all in one multivector."""
    if isinstance(positive[0], SparseVector):
        sparse = [v for v in (*positive, *negative) if isinstance(v, SparseVector)]
        terms = np.unique(np.concatenate([v.indices for v in sparse]))

        def centroid(vectors: list[OneVector]) -> npt.NDArray[np.float32]:
            total = np.zeros(terms.shape[0], dtype=np.float32)
            for v in vectors:
                assert isinstance(v, SparseVector)
                total[np.searchsorted(terms, v.indices)] += v.values
            out: npt.NDArray[np.float32] = total / np.float32(len(vectors))
            return out

        values = 2 * centroid(positive) - centroid(negative) if negative else centroid(positive)
        return SparseVector(terms.astype(np.uint32), values.astype(np.float32))
    dense = [np.asarray(v, dtype=np.float32) for v in positive]
    other = [np.asarray(v, dtype=np.float32) for v in negative]
    if dense[0].ndim == 2:  # multivectors
        return np.concatenate([*dense, *(-o for o in other)])
    mean: Vector = np.mean(dense, axis=0, dtype=np.float32)
    if other:
        mean = mean + (mean - np.mean(other, axis=0, dtype=np.float32))
    return mean


def _with_feedback(c: Collection, request: Request, spec: Any) -> Sequence[Hit]:
    """Qdrant's relevance_feedback query: {target, feedback: [{example, score}], strategy:
    {naive: {a, b, c}}} (examples.py)."""
    if not isinstance(spec, Mapping) or "target" not in spec:
        raise BadInput("relevance_feedback needs a 'target', 'feedback' and a 'strategy'")
    feedback = spec.get("feedback") or []
    if not feedback:
        raise invalid("internal.query.relevance_feedback", "feedback elements must be non-empty")
    naive = (spec.get("strategy") or {}).get("naive")
    if not isinstance(naive, Mapping) or not all(k in naive for k in "abc"):
        raise BadInput("relevance_feedback.strategy must be {'naive': {'a', 'b', 'c'}}")
    if naive["b"] < 0:  # a negative power of a score difference: Qdrant's validator refuses it
        raise invalid(
            "internal.query.relevance_feedback.strategy.naive.b",
            f"value {float(naive['b'])} invalid, must be 0.0 or larger",
        )
    for item in feedback:
        if not isinstance(item, Mapping) or "example" not in item or "score" not in item:
            raise BadInput("a feedback item is {'example': ..., 'score': ...}")
    vectors = [
        _vector_input(c, v, request) for v in (spec["target"], *(f["example"] for f in feedback))
    ]
    scores = [float(f["score"]) for f in feedback]
    score = examples.naive_feedback(scores, float(naive["a"]), float(naive["b"]), float(naive["c"]))
    return _by_examples(c, request, vectors, score)


def _by_examples(
    c: Collection,
    request: Request,
    vectors: Sequence[OneVector],
    score: Callable[[examples.Sims], examples.Scores],
) -> Sequence[Hit]:
    """Every allowed point scored by its similarities to `vectors` (an exact scan of the
    originals, one native call per segment), best first."""
    distance = c.config.distance(request.using)
    batch = _batch(c, request.using, vectors)
    n = len(vectors)
    positions: list[int] = []
    found: list[npt.NDArray[np.int64]] = []
    found_scores: list[npt.NDArray[np.float32]] = []
    missing = 0.0 if request.using in c.config.sparse_vectors else np.nan
    for s, segment in enumerate(c.segments):
        allowed = _allowed(s, segment, request)
        mask = segment.vector_mask(request.using)
        if allowed is not None:
            mask &= allowed
        offsets = np.flatnonzero(mask)
        if not offsets.shape[0]:
            continue
        index = segment.vectors[request.using]
        ids, scores = index.search(batch, offsets.shape[0], {"exact": True}, allowed_ids=mask)
        # a sparse vector sharing no term with an example scores 0 against it (Qdrant scores
        # every point; the inverted index returns only those sharing a term)
        sims = np.full((n, segment.size), missing, dtype=np.float32)
        for row in range(n):
            valid = ids[row] >= 0
            sims[row, ids[row][valid]] = distance.to_engine(scores[row][valid])
        positions.append(s)
        found.append(offsets[None, :])
        found_scores.append(score(sims[:, offsets]).astype(np.float32)[None, :])
    wanted = request.offset + request.limit
    return Ranked.merged(
        positions, found, found_scores, 1, c.segments, False, request.score_threshold, wanted
    )[0]


def _batch(c: Collection, using: str, vectors: Sequence[OneVector]) -> VectorBatch:
    """Query vectors of one name as the store's search takes them."""
    if using in c.config.sparse_vectors:
        sparse = [v for v in vectors if isinstance(v, SparseVector)]
        return SparseVectors.concat([v.batch() for v in sparse])
    dense = [np.asarray(v, dtype=np.float32) for v in vectors]
    if c.config.vectors[using].multivector:
        return MultiVectors.of(dense, c.config.vectors[using].size)
    return np.stack(dense)


def _mmr(
    c: Collection, request: Request, vector: OneVector, mmr: Mapping[str, Any]
) -> Sequence[Hit]:
    """Nearest points, re-ranked for diversity (Qdrant's MMR): `candidates_limit` nearest
    (default: the request's limit), then chosen one by one; each keeps its nearest score."""
    diversity = mmr.get("diversity")
    diversity = 0.5 if diversity is None else diversity
    if not isinstance(diversity, (int, float)) or not 0 <= diversity <= 1:
        raise BadInput(f"mmr.diversity must be a number in [0, 1], got {diversity!r}")
    wanted = request.offset + request.limit
    limit = mmr.get("candidates_limit") or wanted
    candidates = _hits(c, replace(request, offset=0, limit=int(limit)), vector)
    if len(candidates) < 2:
        return candidates[:wanted]
    shown = [h[2].point_vectors(h[3], [request.using])[request.using] for h in candidates]
    batch = _batch(c, request.using, [vector, *shown])
    sims = _similarities(c, request.using, batch)
    chosen = examples.maximal_marginal_relevance(sims[0, 1:], sims[1:, 1:], diversity, wanted)
    return [candidates[i] for i in chosen]


def _similarities(c: Collection, using: str, batch: VectorBatch) -> examples.Sims:
    """All pairwise similarities of a few vectors (higher is more similar): engine scores, as
    Qdrant's MMR compares them (Cosine over unit vectors, Euclid negated and squared, MaxSim for
    multivectors)."""
    distance = c.config.distance(using)
    if isinstance(batch, MultiVectors):
        bounds = batch.offsets - batch.offsets[0]
        # every row against every row, then per row of a the best of b's rows, summed over a
        dots = _pairwise(batch.rows[: int(bounds[-1])], distance)
        n = len(batch)
        maxsim: examples.Sims = np.empty((n, n), dtype=np.float32)
        for j in range(n):
            best = dots[:, bounds[j] : bounds[j + 1]].max(axis=1)
            maxsim[:, j] = np.add.reduceat(best, bounds[:-1])
        return maxsim
    if isinstance(batch, SparseVectors):  # a few vectors: dense over the terms they hold
        terms, column = np.unique(batch.indices, return_inverse=True)
        x = np.zeros((len(batch), terms.shape[0]), dtype=np.float32)
        rows = np.repeat(np.arange(len(batch)), np.diff(batch.indptr))
        x[rows, column] = batch.values
        products: examples.Sims = (x @ x.T).astype(np.float32)
        return products
    return _pairwise(np.asarray(batch, dtype=np.float32), distance)


def _pairwise(x: npt.NDArray[np.float32], distance: Distance) -> examples.Sims:
    """Engine scores of every row against every row (Cosine over unit rows: the query as
    given, the stored ones unit already; Euclid negated and squared, as Qdrant's)."""
    if distance == Distance.COSINE:
        x = _unit(x)
    if distance in (Distance.COSINE, Distance.DOT):
        sims: examples.Sims = x @ x.T
    elif distance == Distance.EUCLID:
        sims = -((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
    else:
        sims = -np.abs(x[:, None, :] - x[None, :, :]).sum(axis=2)
    return sims.astype(np.float32)


def _unit(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit: npt.NDArray[np.float32] = (x / np.where(norms > 0, norms, 1)).astype(np.float32)
    return unit


def _page(hits: Sequence[Hit], request: Request) -> list[dict[str, Any]]:
    """The ranked hits past `offset`, `limit` of them, shown as ScoredPoints."""
    if request.order_values is not None:
        page = hits[request.offset : request.offset + request.limit]
        values = request.order_values[request.offset : request.offset + request.limit]
        selection = _selection(request)
        return [
            selection.show(segment, offset, scrolled(value))
            for (_, _, segment, offset), value in zip(page, values)
        ]
    return _pages([hits], request)[0]


def _pages(ranked: Sequence[Sequence[Hit]], request: Request) -> list[list[dict[str, Any]]]:
    """_page of each query's hits, their scores by their shortest decimals (f32, as Qdrant
    shows them) in one native pass for the whole batch."""
    shown = [hits[request.offset : request.offset + request.limit] for hits in ranked]
    found = _scores(shown[0]) if len(shown) == 1 else np.concatenate([_scores(p) for p in shown])
    scores = iter(decimal_floats(found).tolist())
    selection = _selection(request)
    return [selection.show_scored(page, scores) for page in shown]


def _selection(request: Request) -> Selection:
    if request.selection is None:
        raise AssertionError("a prefetch's points are never shown")
    return request.selection


def _scores(hits: Sequence[Hit]) -> npt.NDArray[np.float32]:
    if isinstance(hits, Ranked):
        return hits.scores
    return np.array([h[0] for h in hits], dtype=np.float32)


def scrolled(value: order.OrderValue | None) -> dict[str, Any]:
    """What Qdrant shows of a scrolled point besides its id, payload and vector."""
    return {"version": 0, "score": 1.0, **({} if value is None else {"order_value": value})}


def _pick(body: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: body[k] for k in keys if body.get(k) is not None}
