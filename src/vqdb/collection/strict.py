"""Qdrant's strict mode: a collection's `strict_mode_config`, when `enabled`, refuses requests
beyond its limits before they run, with Qdrant's rules and wording (Qdrant's
lib/collection/src/operations/verification/), and meters reads and writes by its rate limits.

Reads are checked by a decorator on the engine's entry points (`@strict.checked("query")`), so
both doors (the HTTP rows and vqdb.Client) pass through it; a call made from inside another
checked one (query_batch running each query, a query paging through scroll) is not checked again.
Writes are checked by `check_write`, called by Collection._write on the parsed operation. Refusals
are BadRequest (400, "Bad request: <error>. Help: <solution>", as Qdrant's StrictMode error maps
to it); exhausted rate limits are RateLimited (429 with Retry-After).

The bodies of reads are looked at as the request gives them (their filters parsed here once
more) only when strict mode is on: that keeps the checks out of the query pipeline, which other
work changes, at a cost paid only by the collections that asked for the checks.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from vqdb.collection import rate_limits
from vqdb.errors import BadRequest
from vqdb.filters import Filter, parse_filter
from vqdb.filters.conditions import Nested
from vqdb.filters.coverage import (
    array_key,
    conditions_count,
    conditions_of,
    kind_names,
    max_condition_size,
    needs_index,
    schema_kind,
    unindexed_key,
    unindexed_keys,
)
from vqdb.index.multi_vectors import MultiVectors
from vqdb.index.sparse_vectors import SparseVectors

if TYPE_CHECKING:
    from vqdb.collection.collection import Collection
    from vqdb.collection.points import Points

F = TypeVar("F", bound=Callable[..., Any])
Settings = Mapping[str, Any]

DEFAULT_LIMIT = 10  # a query's, a prefetch's and a group request's, when not given
DEFAULT_GROUP_SIZE = 3


def settings(c: Collection) -> Settings | None:
    """The collection's strict mode config when it is enabled, else None."""
    config = c.config.body.get("strict_mode_config")
    return config if config and config.get("enabled") else None


def refusal(error: str, solution: str) -> BadRequest:
    return BadRequest(f"{error}. Help: {solution}")


def _number(value: Any) -> str:
    """A number as Rust's Display writes it (2.0 as 2)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_limit(value: Any, limit: Any, name: str) -> None:
    if value is None or limit is None or value <= limit:
        return
    raise refusal(
        f'Limit exceeded {_number(value)} > {_number(limit)} for "{name}"',
        f'Reduce the "{name}" parameter to or below {_number(limit)}.',
    )


def check_timeout(c: Collection, timeout: int) -> None:
    """A request's `timeout` (seconds) against max_timeout."""
    config = settings(c)
    if config is not None:
        check_limit(timeout, config.get("max_timeout"), "timeout")


# ---- reads --------------------------------------------------------------------------------------

_inside = contextvars.ContextVar("strict_inside", default=False)


def checked(kind: str) -> Callable[[F], F]:
    """Decorates an engine read `f(c, body, ...)`: strict mode checks `body` as a request of
    `kind` (a key of READS) and charges its read rate limit before `f` runs."""
    rule = READS[kind]

    def wrap(f: F) -> F:
        @functools.wraps(f)
        def run(c: Collection, body: Any, *args: Any, **kwargs: Any) -> Any:
            config = settings(c)
            if config is None or _inside.get():  # nothing to charge, or charged already
                return f(c, body, *args, **kwargs)
            cost = rule(c, config, body if isinstance(body, Mapping) else {})
            rate_limits.charge(c, config, "read", cost)
            token = _inside.set(True)
            try:
                return f(c, body, *args, **kwargs)
            finally:
                _inside.reset(token)

        return run  # type: ignore[return-value]

    return wrap


def _filter(body: Mapping[str, Any], key: str = "filter") -> Filter | None:
    raw = body.get(key)
    if raw is None or not isinstance(raw, Mapping):
        return None  # the request's own parse will refuse it
    try:
        return parse_filter(raw, key)
    except ValueError:
        return None


def _request(
    c: Collection,
    config: Settings,
    body: Mapping[str, Any],
    limit: int | None,
    query_filter: Filter | None,
    exact: bool | None = None,
) -> int:
    """Qdrant's StrictModeVerification::check_strict_mode for one request, less its own custom
    checks: limit, filter, exact, search params. Returns the filter's read cost."""
    check_limit(limit, config.get("max_query_limit"), "limit")
    check_read_filter(c, config, query_filter)
    check_exact(config, exact)
    params = body.get("params")
    check_search_params(config, params)
    scope = params.get("idf") if isinstance(params, Mapping) else None
    if isinstance(scope, Mapping):  # an IDF corpus is a filter the request reads by
        check_read_filter(c, config, _filter(scope, "corpus"))
    return conditions_count(query_filter) if query_filter is not None else 0


def check_exact(config: Settings, exact: Any) -> None:
    if config.get("search_allow_exact") is False and exact is True:
        raise refusal("Exact search disabled!", "Set exact=false.")


def check_search_params(config: Settings, params: Any) -> None:
    if not isinstance(params, Mapping):
        return
    quantization = params.get("quantization")
    if isinstance(quantization, Mapping):
        check_limit(
            quantization.get("oversampling"), config.get("search_max_oversampling"), "oversampling"
        )
    check_limit(params.get("hnsw_ef"), config.get("search_max_hnsw_ef"), "hnsw_ef")
    check_exact(config, params.get("exact"))


def check_read_filter(c: Collection, config: Settings, query_filter: Filter | None) -> None:
    _check_filter(c, config, query_filter, config.get("unindexed_filtering_retrieve"))


def check_write_filter(c: Collection, config: Settings, query_filter: Filter | None) -> None:
    _check_filter(c, config, query_filter, config.get("unindexed_filtering_update"))


def _check_filter(
    c: Collection, config: Settings, query_filter: Filter | None, unindexed: Any
) -> None:
    if query_filter is None:
        return
    if unindexed is False:
        missing = unindexed_key(c.payload_schema, query_filter)
        if missing is not None:
            key, kinds = missing
            raise refusal(
                f'Index required but not found for "{key}" of one of the following types: '
                f"[{kind_names(kinds)}]",
                "Create an index for this key or use a different filter.",
            )
    most = config.get("filter_max_conditions")
    if most is not None:
        count = conditions_count(query_filter)
        if count > most:
            raise refusal(
                f"Filter condition limit reached ({count} > {most})",
                "Reduce the amount of conditions of your filter.",
            )
    largest = config.get("condition_max_size")
    if largest is not None:
        size = max_condition_size(query_filter)
        if size > largest:
            raise refusal(
                f"Condition size limit reached ({size} > {largest})",
                "Reduce the size of your condition.",
            )


def _query_limit(body: Mapping[str, Any]) -> int:
    limit = body.get("limit")
    return limit if isinstance(limit, int) else DEFAULT_LIMIT


def _check_query(c: Collection, config: Settings, body: Mapping[str, Any], top: bool = True) -> int:
    """QueryRequest: its prefetches (each a request of its own), the full scan rule (for a
    prefetch's query, and for the request's own when it has no prefetch: a rescoring of what
    prefetches found scans no more than that), a formula's keys, then the request's own limit,
    filter and params. Returns its read cost."""
    cost = 0
    prefetches = _prefetch_list(body)
    for prefetch in prefetches:
        cost += _check_query(c, config, prefetch, top=False)
    q = body.get("query")
    if q is not None:
        if not (top and prefetches):
            check_full_scan(c, config, body)
        check_formula(c, config, q)
    query_filter = _filter(body)
    cost += _request(c, config, body, _query_limit(body), query_filter)
    if not prefetches and not _scores_by_vector(q):  # points read in order: a scroll
        cost += 1
    return cost + rate_limits.vector_cost(c, body)


def _prefetch_list(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = body.get("prefetch")
    found = [raw] if isinstance(raw, Mapping) else raw if isinstance(raw, list) else []
    return [p for p in found if isinstance(p, Mapping)]


def _query(c: Collection, config: Settings, body: Mapping[str, Any]) -> int:
    return _check_query(c, config, body)


def _query_groups(c: Collection, config: Settings, body: Mapping[str, Any]) -> int:
    """QueryGroupsRequest: the limit is groups times their size; `group_by` needs an index
    that can match. Its prefetches are not checked (as in Qdrant)."""
    q = body.get("query")
    if q is not None:
        if not _prefetch_list(body):
            check_full_scan(c, config, body)
        check_formula(c, config, q)
    check_group_by(c, config, body.get("group_by"))
    query_filter = _filter(body)
    limit = _query_limit(body) * _group_size(body)
    return _request(c, config, body, limit, query_filter) + rate_limits.vector_cost(c, body)


def _group_size(body: Mapping[str, Any]) -> int:
    size = body.get("group_size")
    return size if isinstance(size, int) else DEFAULT_GROUP_SIZE


def _search_groups(c: Collection, config: Settings, body: Mapping[str, Any]) -> int:
    """The legacy search and recommend groups requests."""
    check_group_by(c, config, body.get("group_by"))
    limit = _query_limit(body) * _group_size(body)
    return _request(c, config, body, limit, _filter(body)) + rate_limits.vector_cost(c, body)


def _search(c: Collection, config: Settings, body: Mapping[str, Any]) -> int:
    """The legacy search, recommend and discover requests."""
    query_filter = _filter(body)
    return _request(c, config, body, _query_limit(body), query_filter) + rate_limits.vector_cost(
        c, body
    )


def _scroll(c: Collection, config: Settings, body: Mapping[str, Any]) -> int:
    limit = body.get("limit")
    return 1 + _request(c, config, body, limit if isinstance(limit, int) else None, _filter(body))


def _count(c: Collection, config: Settings, body: Mapping[str, Any]) -> int:
    exact = body.get("exact", True)  # Qdrant counts exactly by default
    return 1 + _request(c, config, body, None, _filter(body), exact=exact)


def _facet(c: Collection, config: Settings, body: Mapping[str, Any]) -> int:
    limit = body.get("limit")
    limit = limit if isinstance(limit, int) else None
    return 1 + _request(c, config, body, limit, _filter(body), exact=body.get("exact"))


def _matrix(c: Collection, config: Settings, body: Mapping[str, Any]) -> int:
    limit, sample = body.get("limit"), body.get("sample")
    given = [v for v in (limit, sample) if isinstance(v, int)]
    product = math.prod(given) if given else None
    return 1 + _request(c, config, body, product, _filter(body))


def _retrieve(c: Collection, config: Settings, body: Mapping[str, Any]) -> int:
    ids = body.get("ids")
    return len(ids) if isinstance(ids, list) else 1


def _batch(each: Callable[[Collection, Settings, Mapping[str, Any]], int]) -> Any:
    def rule(c: Collection, config: Settings, body: Mapping[str, Any]) -> int:
        searches = body.get("searches")
        searches = searches if isinstance(searches, list) else []
        check_limit(len(searches), config.get("search_max_batchsize"), "search batch size")
        return sum(each(c, config, s) for s in searches if isinstance(s, Mapping))

    return rule


READS: dict[str, Callable[[Collection, Settings, Mapping[str, Any]], int]] = {
    "query": _query,
    "query_batch": _batch(_query),
    "query_groups": _query_groups,
    "search": _search,
    "search_batch": _batch(_search),
    "search_groups": _search_groups,
    "recommend": _search,
    "recommend_batch": _batch(_search),
    "recommend_groups": _search_groups,
    "discover": _search,
    "discover_batch": _batch(_search),
    "scroll": _scroll,
    "count": _count,
    "facet": _facet,
    "matrix": _matrix,
    "retrieve": _retrieve,
}


def check_group_by(c: Collection, config: Settings, group_by: Any) -> None:
    """Grouping needs an index on the key that can `match` (Qdrant's check_grouping_field)."""
    if config.get("unindexed_filtering_retrieve") is not False or not isinstance(group_by, str):
        return
    schema = c.payload_schema.get(group_by)
    solution = "Create an index supporting `match` for this key."
    if schema is None:
        raise refusal(f'Index required but not found for "{group_by}"', solution)
    kind, params = schema_kind(schema)
    matches = kind in ("keyword", "uuid", "bool") or (
        kind == "integer" and (isinstance(schema, str) or params.get("lookup") is True)
    )
    if not matches:
        raise refusal(f'Index of type "{kind.capitalize()}" found for "{group_by}"', solution)


def check_full_scan(c: Collection, config: Settings, body: Mapping[str, Any]) -> None:
    """With search_allow_exact false, a vector query on a vector without an HNSW graph (m = 0)
    is refused, unless a filter on a tenant index narrows it to a payload-built graph."""
    if config.get("search_allow_exact") is not False or not _scores_by_vector(body.get("query")):
        return
    using = body.get("using") or ""
    vector = c.config.vectors.get(using) if isinstance(using, str) else None
    if vector is None or vector.hnsw.m > 0:  # sparse vectors have their own index
        return
    payload_m = vector.hnsw.payload_m if vector.hnsw.payload_m is not None else vector.hnsw.m
    label = "" if using == "" else f" on '{using}'"
    if not _tenant_filter(c, _filter(body)):
        raise refusal(
            f"Request is forbidden{label} because global vector indexing is disabled "
            "(hnsw_config.m = 0)",
            "Use tenant-specific filter, enable global vector indexing or enable strict mode "
            "`search_allow_exact` option",
        )
    if payload_m == 0:
        raise refusal(
            f"Request is forbidden{label} because vector indexing is disabled "
            "(hnsw_config.m = 0 and hnsw_config.payload_m = 0)",
            "Enable vector indexing, use a prefetch query with indexed vectors or enable strict "
            "mode `search_allow_exact` option",
        )


_NOT_BY_VECTOR = ("fusion", "rrf", "order_by", "formula", "sample")


def _scores_by_vector(q: Any) -> bool:
    """Whether a query is Qdrant's Query::Vector (nearest, recommend, discover, context)."""
    if q is None:
        return False
    return not (isinstance(q, Mapping) and any(k in q for k in _NOT_BY_VECTOR))


def _tenant_filter(c: Collection, query_filter: Filter | None) -> bool:
    if query_filter is None:
        return False
    for condition in conditions_of(query_filter):
        key = _targeted_key(condition)
        schema = c.payload_schema.get(key) if key is not None else None
        if isinstance(schema, Mapping) and schema.get("is_tenant") is True:
            return True
    return False


def _targeted_key(condition: Any) -> str | None:
    if isinstance(condition, Nested):
        return array_key(condition.key)
    if isinstance(condition, Filter):
        for inner in conditions_of(condition):
            key = _targeted_key(inner)
            if key is not None:
                return key
        return None
    return getattr(condition, "key", None)


def check_formula(c: Collection, config: Settings, q: Any) -> None:
    """A formula's payload variables need a numeric index (Qdrant's unindexed expression
    keys)."""
    if config.get("unindexed_filtering_retrieve") is not False or not isinstance(q, Mapping):
        return
    if "formula" not in q:
        return
    missing = next(_formula_unindexed(c.payload_schema, q["formula"]), None)
    if missing is not None:
        key, kinds = missing
        raise refusal(
            f'Index required but not found for "{key}" of one of the following types: '
            f"[{kind_names(kinds)}]",
            "Create an index for this key or use a different formula expression.",
        )


_ONE_ARGUMENT = ("neg", "sqrt", "exp", "log10", "ln", "abs")
_DECAYS = ("exp_decay", "gauss_decay", "lin_decay")
_CONDITION_KEYS = frozenset(
    ("key", "is_empty", "is_null", "has_id", "has_vector", "nested", "must", "should", "must_not")
)


def _formula_unindexed(schema: Mapping[str, Any], expr: Any) -> Iterator[tuple[str, list[str]]]:
    if isinstance(expr, str):
        if expr == "$score" or expr.startswith("$score["):
            return
        needed = ["int_match", "int_range", "float_range"]
        if needs_index(schema, expr, needed):
            yield expr, needed
        return
    if not isinstance(expr, Mapping):
        return
    if any(k in expr for k in _CONDITION_KEYS):
        parsed = _filter({"filter": {"must": [expr]}})
        if parsed is not None:
            yield from unindexed_keys(schema, parsed, None)
        return
    for op in ("mult", "sum"):
        if isinstance(expr.get(op), list):
            for item in expr[op]:
                yield from _formula_unindexed(schema, item)
    for op in _ONE_ARGUMENT:
        if op in expr:
            yield from _formula_unindexed(schema, expr[op])
    parts = {"div": ("left", "right"), "pow": ("base", "exponent")}
    for op in (*parts, *_DECAYS):
        inner = expr.get(op)
        if isinstance(inner, Mapping):
            for name in parts.get(op, ("x", "target")):
                if name in inner:
                    yield from _formula_unindexed(schema, inner[name])
    geo = expr.get("geo_distance")
    to = geo.get("to") if isinstance(geo, Mapping) else None
    if isinstance(to, str) and needs_index(schema, to, ["geo"]):
        yield to, ["geo"]
    key = expr.get("datetime_key")
    if isinstance(key, str) and needs_index(schema, key, ["datetime_range"]):
        yield key, ["datetime_range"]


# ---- writes -----------------------------------------------------------------------------------


_pass: contextvars.ContextVar[str | None] = contextvars.ContextVar("strict_pass", default=None)


@contextlib.contextmanager
def batch_pass(which: str) -> Iterator[None]:
    """A batch's two passes over its writes, as Qdrant checks every operation of a batch before
    applying the first: "check" checks each (not applied, not charged), "apply" applies each,
    charged to the rate limit and not checked again."""
    token = _pass.set(which)
    try:
        yield
    finally:
        _pass.reset(token)


def checking_only() -> bool:
    """Whether a write is in a batch's first pass (checked, not applied)."""
    return _pass.get() == "check"


def check_write(c: Collection, op: Mapping[str, Any]) -> None:
    """A parsed write (Collection._write's operation, before its filter is resolved) against
    the collection's strict mode, then charged to its write rate limit."""
    config = settings(c)
    if config is None:
        return
    cost = _write_cost(c, config, op)
    if not checking_only():
        rate_limits.charge(c, config, "write", cost)


def _write_cost(c: Collection, config: Settings, op: Mapping[str, Any]) -> int:
    """Checks a write (unless a batch's first pass checked it) and returns its rate cost: its
    points, or the points its filter selects (estimated), at least 1."""
    if _pass.get() != "apply":
        _check_write(c, config, op)
    selector = op.get("selector") or {}
    if "points" in op:
        return max(1, len(op["points"]))
    if "ids" in selector:
        return max(1, len(selector["ids"]))
    if selector.get("filter") is not None:
        return max(1, rate_limits.estimated_count(c, selector["filter"]))
    return 1


def _check_write(c: Collection, config: Settings, op: Mapping[str, Any]) -> None:
    kind = op["op"]
    if kind in ("upsert", "update_vectors"):
        points: Points = op["points"]
        name = "upsert limit" if kind == "upsert" else "update limit"
        check_limit(len(points), config.get("upsert_max_batchsize"), name)
        check_size(c, config)
        check_vector_lengths(config, points)
        return
    if kind == "create_index":
        most = config.get("max_payload_index_count")
        if most is not None and len(c.payload_schema) >= most:
            raise refusal(
                f"Collection already has the maximum number of payload indices ({most})",
                "Please delete an existing index before creating a new one.",
            )
        return
    check_write_filter(c, config, (op.get("selector") or {}).get("filter"))
    payload_limit = config.get("max_collection_payload_size_bytes")
    if kind in ("set_payload", "overwrite_payload") and payload_limit is not None:
        _check_payload_size(c, payload_limit)


def check_size(c: Collection, config: Settings) -> None:
    """The collection's size limits (vectors, payloads, points): a write is refused once the
    collection has reached one (Qdrant's check_collection_size_limit)."""
    vectors = config.get("max_collection_vector_size_bytes")
    if vectors is not None and vector_bytes(c) >= vectors:
        raise BadRequest(f"Max vector storage size limit of {_megabytes(vectors)}MB reached!")
    payloads = config.get("max_collection_payload_size_bytes")
    if payloads is not None:
        _check_payload_size(c, payloads)
    points = config.get("max_points_count")
    if points is not None and c.points_count >= points:
        raise BadRequest(f"Max points count limit of {points} reached!")


def _check_payload_size(c: Collection, limit: int) -> None:
    if payload_bytes(c) >= limit:
        raise BadRequest(f"Max payload storage size limit of {_megabytes(limit)}MB reached!")


def _megabytes(n: int) -> str:
    """n bytes in MB as Rust prints an f32 (shortest digits that read back)."""
    mb = float(np.float32(n) / np.float32(1024 * 1024))
    return _number(float(np.format_float_positional(np.float32(mb), unique=True, trim="-")))


def vector_bytes(c: Collection) -> int:
    """The live points' stored vectors: dense ones by their size and datatype, a multivector's
    rows each, a sparse one's entries at 8 bytes (index and value). Multi and sparse rows are
    read to be counted: a cost paid only by collections with this limit."""
    total = 0
    for segment in c.segments:
        for name, store in segment.vectors.items():
            live = np.flatnonzero(segment.vector_mask(name) & segment.alive)
            dense = c.config.vectors.get(name)
            if not live.shape[0]:
                continue
            if dense is not None and not dense.multivector:
                total += live.shape[0] * dense.vector_bytes
                continue
            stored = store.vectors(live)
            if isinstance(stored, SparseVectors):
                total += int(stored.indices.shape[0]) * 8
            elif isinstance(stored, MultiVectors) and dense is not None:
                total += int(stored.rows.shape[0]) * dense.vector_bytes
    return total


def payload_bytes(c: Collection) -> int:
    """The live payloads as compact JSON (estimated from a sample in big segments, as
    /telemetry reports them)."""
    from vqdb.collection import telemetry  # it imports the collection, which imports this

    return sum(telemetry.payload_bytes(s) for s in c.segments)


def check_vector_lengths(config: Settings, points: Points) -> None:
    """multivector_config.<name>.max_vectors and sparse_config.<name>.max_length."""
    multi = _per_name(config.get("multivector_config"), "max_vectors")
    sparse = _per_name(config.get("sparse_config"), "max_length")
    for name, (_, values) in points.vectors.items():
        if isinstance(values, MultiVectors) and name in multi:
            n = _first_over(np.diff(values.offsets), multi[name])
            if n is not None:
                raise BadRequest(
                    f"Multivector '{name}' has a limit of {multi[name]} vectors, but {n} were "
                    "provided!"
                )
        if isinstance(values, SparseVectors) and name in sparse:
            n = _first_over(np.diff(values.indptr), sparse[name])
            if n is not None:
                raise BadRequest(
                    f"Sparse vector '{name}' has a limit of {sparse[name]} indices, but {n} were "
                    "provided!"
                )


def _first_over(lengths: Any, limit: int) -> int | None:
    """The first length over the limit (the one Qdrant names), if any."""
    over = np.flatnonzero(lengths > limit)
    return int(lengths[over[0]]) if over.shape[0] else None


def _per_name(section: Any, field: str) -> dict[str, int]:
    if not isinstance(section, Mapping):
        return {}
    return {
        name: limits[field]
        for name, limits in section.items()
        if isinstance(limits, Mapping) and isinstance(limits.get(field), int)
    }
