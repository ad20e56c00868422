"""Strict mode (a collection's `strict_mode_config` with `enabled`): each limit refuses what is
beyond it with Qdrant's wording, and nothing while strict mode is off. These go through the
engine's entry points, which both doors (HTTP and vqdb.Client) call."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vqdb.collection import query, rate_limits, reads, strict
from vqdb.collection.collection import Collection
from vqdb.database import Database
from vqdb.errors import BadRequest, RateLimited
from vqdb.filters import coverage, parse_filter

N = 10


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "storage")
    yield database
    database.close()  # stops the collections' optimizer threads


def make(db: Database, strict_mode: dict[str, Any] | None = None, **body: Any) -> Collection:
    c = db.create_collection("c", {"vectors": {"size": 4, "distance": "Dot"}, **body})
    points = [
        {"id": i, "vector": [1.0, 0.5, 0.0, float(i)], "payload": {"city": "Berlin", "n": i}}
        for i in range(1, N + 1)
    ]
    c.upsert({"points": points})
    if strict_mode is not None:
        db.update_collection("c", {"strict_mode_config": {"enabled": True, **strict_mode}})
    return c


def city(value: Any = "Berlin") -> dict[str, Any]:
    return {"must": [{"key": "city", "match": {"value": value}}]}


def refused(f: Any, *args: Any) -> str:
    with pytest.raises(BadRequest) as e:
        f(*args)
    return str(e.value)


def test_nothing_is_enforced_while_disabled(db: Database) -> None:
    c = make(db, {"max_query_limit": 1})
    db.update_collection("c", {"strict_mode_config": {"enabled": False}})
    assert len(query.query(c, {"query": [1, 0, 0, 0], "limit": 5})["points"]) == 5


def test_query_limit(db: Database) -> None:
    c = make(db, {"max_query_limit": 4})
    query.query(c, {"query": [1, 0, 0, 0], "limit": 4})
    message = refused(query.query, c, {"query": [1, 0, 0, 0], "limit": 5})
    assert (
        message
        == 'Limit exceeded 5 > 4 for "limit". Help: Reduce the "limit" parameter to or below 4.'
    )
    # the default limit (10) counts, and so does a prefetch's
    refused(query.query, c, {"query": [1, 0, 0, 0]})
    body = {"prefetch": {"query": [1, 0, 0, 0], "limit": 9}, "query": [1, 0, 0, 0], "limit": 2}
    assert "9 > 4" in refused(query.query, c, body)
    refused(query.search, c, {"vector": [1, 0, 0, 0], "limit": 5})
    refused(query.recommend, c, {"positive": [1], "limit": 5})
    refused(reads.scroll, c, {"limit": 5})
    reads.scroll(c, {})  # scroll has no limit unless given


def test_query_limit_of_groups_and_matrix_requests(db: Database) -> None:
    c = make(db, {"max_query_limit": 15})
    config = strict.settings(c)
    assert config is not None
    body = {"query": [1, 0, 0, 0], "limit": 10, "group_by": "n", "group_size": 3}
    with pytest.raises(BadRequest, match='Limit exceeded 30 > 15 for "limit"'):
        strict.READS["query_groups"](c, config, body)
    with pytest.raises(BadRequest, match='Limit exceeded 20 > 15 for "limit"'):
        strict.READS["matrix"](c, config, {"sample": 10, "limit": 2})


def test_search_params(db: Database) -> None:
    c = make(db, {"search_max_hnsw_ef": 4, "search_max_oversampling": 1.5})
    assert 'Limit exceeded 5 > 4 for "hnsw_ef"' in refused(
        query.query, c, {"query": [1, 0, 0, 0], "params": {"hnsw_ef": 5}}
    )
    over = {"query": [1, 0, 0, 0], "params": {"quantization": {"oversampling": 2.0}}}
    assert 'Limit exceeded 2 > 1.5 for "oversampling"' in refused(query.query, c, over)
    query.query(c, {"query": [1, 0, 0, 0], "params": {"hnsw_ef": 4}})


def test_exact_search(db: Database) -> None:
    c = make(db, {"search_allow_exact": False})
    body = {"query": [1, 0, 0, 0], "params": {"exact": True}}
    assert refused(query.query, c, body) == "Exact search disabled!. Help: Set exact=false."
    query.query(c, {"query": [1, 0, 0, 0], "params": {"exact": False}})
    refused(reads.count, c, {})  # Qdrant counts exactly unless told not to
    assert reads.count(c, {"exact": False}) == {"count": N}


def test_unindexed_read_filters(db: Database) -> None:
    c = make(db, {"unindexed_filtering_retrieve": False})
    message = refused(query.query, c, {"query": [1, 0, 0, 0], "filter": city()})
    assert message == (
        'Index required but not found for "city" of one of the following types: [keyword]. '
        "Help: Create an index for this key or use a different filter."
    )
    refused(reads.scroll, c, {"filter": city()})
    refused(reads.count, c, {"filter": city(), "exact": False})
    c.create_payload_index({"field_name": "city", "field_schema": "keyword"})
    assert reads.count(c, {"filter": city(), "exact": False}) == {"count": N}
    # filters on a write are unindexed_filtering_update's business
    c.set_payload({"payload": {"x": 1}, "filter": {"must": [{"key": "n", "match": {"value": 1}}]}})


def test_unindexed_write_filters(db: Database) -> None:
    c = make(db, {"unindexed_filtering_update": False})
    assert 'not found for "city"' in refused(c.delete, {"filter": city()})
    assert reads.count(c, {}) == {"count": N}
    refused(c.set_payload, {"payload": {"x": 1}, "filter": city()})
    c.delete({"points": [1]})  # ids need no index
    c.create_payload_index({"field_name": "city", "field_schema": "keyword"})
    c.delete({"filter": city()})
    assert reads.count(c, {}) == {"count": 0}


def unindexed(schema: dict[str, Any], raw: dict[str, Any]) -> tuple[str, list[str]] | None:
    parsed = parse_filter(raw)
    assert parsed is not None
    return coverage.unindexed_key(schema, parsed)


def key_and_names(schema: dict[str, Any], condition: dict[str, Any]) -> tuple[str, str] | None:
    found = unindexed(schema, {"must": [condition]})
    return None if found is None else (found[0], coverage.kind_names(found[1]))


def test_which_index_serves_which_condition() -> None:
    match = {"key": "k", "match": {"value": 1}}
    assert key_and_names({}, match) == ("k", "integer")
    assert key_and_names({"k": "integer"}, match) is None
    assert key_and_names({"k": {"type": "integer", "lookup": False}}, match) == ("k", "integer")
    assert (
        key_and_names({"k": {"type": "integer", "lookup": False}}, {"key": "k", "range": {"gt": 1}})
        is None
    )
    assert key_and_names({"k": "float"}, {"key": "k", "range": {"gt": 1}}) is None
    assert key_and_names({}, {"key": "k", "range": {"gt": 1}}) == ("k", "float, integer")
    assert key_and_names({}, {"key": "k", "match": {"value": True}}) == ("k", "bool")
    uid = "550e8400-e29b-41d4-a716-446655440000"
    assert key_and_names({}, {"key": "k", "match": {"value": uid}}) == ("k", "keyword, uuid")
    assert key_and_names({"k": "uuid"}, {"key": "k", "match": {"any": [uid]}}) is None
    assert key_and_names({"k": "uuid"}, {"key": "k", "match": {"any": ["a"]}}) == ("k", "keyword")
    assert key_and_names({}, {"key": "k", "match": {"any": []}}) is None  # matches nothing anyway
    prefix = {"key": "k", "match": {"prefix": "ab"}}
    assert key_and_names({"k": "keyword"}, prefix) == ("k", "keyword (with prefix: true)")
    assert key_and_names({"k": {"type": "keyword", "prefix": True}}, prefix) is None
    phrase = {"key": "k", "match": {"phrase": "a b"}}
    assert key_and_names({"k": "text"}, {"key": "k", "match": {"text": "a"}}) is None
    assert key_and_names({"k": "text"}, phrase) == ("k", "text (with phrase_matching: true)")
    assert key_and_names({"k": {"type": "text", "phrase_matching": True}}, phrase) is None
    assert (
        key_and_names(
            {"k": "geo"}, {"key": "k", "geo_radius": {"center": {"lon": 0, "lat": 0}, "radius": 1}}
        )
        is None
    )
    assert key_and_names({}, {"key": "k", "range": {"gt": "2024-01-01T00:00:00Z"}}) == (
        "k",
        "datetime",
    )
    # values_count, is_empty and is_null are answered by any index on the key
    assert key_and_names({"k": "geo"}, {"is_empty": {"key": "k"}}) is None
    assert key_and_names({}, {"key": "k", "values_count": {"gt": 1}}) is not None
    assert key_and_names({}, {"has_id": [1]}) is None


def test_nested_and_inner_filters_are_looked_into() -> None:
    nested = {
        "nested": {
            "key": "country.cities",
            "filter": {
                "must": [
                    {"key": "population", "range": {"gte": 8.0}},
                    {"key": "sightseeing", "values_count": {"lt": 3}},
                ]
            },
        }
    }
    schema: dict[str, Any] = {"country.cities[].population": "float"}
    found = unindexed(schema, {"must": [nested]})
    assert found is not None and found[0] == "country.cities[].sightseeing"
    schema["country.cities[].sightseeing"] = "integer"
    assert unindexed(schema, {"must": [nested]}) is None
    inner = {"should": [{"must_not": [{"key": "deep", "match": {"value": "x"}}]}]}
    assert unindexed({}, inner) == ("deep", ["keyword_match"])


def test_filter_size_limits(db: Database) -> None:
    c = make(db, {"filter_max_conditions": 3, "condition_max_size": 2})
    three = {"must": [{"key": "n", "match": {"value": i}} for i in range(3)]}
    reads.scroll(c, {"filter": three})
    four = {"must": [*three["must"], {"nested": {"key": "a", "filter": three}}]}
    message = refused(reads.scroll, c, {"filter": four})
    assert message.startswith("Filter condition limit reached (6 > 3). Help: Reduce the amount")
    big = {"should": [{"key": "n", "match": {"any": [1, 2, 3]}}]}
    assert "Condition size limit reached (3 > 2)" in refused(reads.scroll, c, {"filter": big})
    assert "(3 > 2)" in refused(reads.scroll, c, {"filter": {"must": [{"has_id": [1, 2, 3]}]}})
    # writes count too
    assert "(3 > 2)" in refused(c.delete, {"filter": big})


def test_search_batch_size(db: Database) -> None:
    c = make(db, {"search_max_batchsize": 2})
    one = {"query": [1, 0, 0, 0], "limit": 1}
    query.query_batch(c, {"searches": [one, one]})
    message = refused(query.query_batch, c, {"searches": [one, one, one]})
    assert message.startswith('Limit exceeded 3 > 2 for "search batch size"')
    refused(query.search_batch, c, {"searches": [{"vector": [1, 0, 0, 0], "limit": 1}] * 3})


def test_batch_items_are_checked(db: Database) -> None:
    c = make(db, {"max_query_limit": 3})
    ok, big = {"query": [1, 0, 0, 0], "limit": 3}, {"query": [1, 0, 0, 0], "limit": 4}
    assert "4 > 3" in refused(query.query_batch, c, {"searches": [ok, big]})


def test_full_scan_needs_a_graph(db: Database) -> None:
    c = make(db, {"search_allow_exact": False})
    query.query(c, {"query": [1, 0, 0, 0]})
    db.update_collection("c", {"hnsw_config": {"m": 0}})
    message = refused(query.query, c, {"query": 2})
    assert message == (
        "Request is forbidden because global vector indexing is disabled (hnsw_config.m = 0). "
        "Help: Use tenant-specific filter, enable global vector indexing or enable strict mode "
        "`search_allow_exact` option"
    )
    # a fusion scans nothing by itself; its prefetches are what is checked
    fused = {"prefetch": [{"query": [1, 0, 0, 0]}], "query": {"fusion": "rrf"}}
    assert "forbidden" in refused(query.query, c, fused)
    # a tenant filter is enough with a payload graph, not without one
    c.create_payload_index(
        {"field_name": "city", "field_schema": {"type": "keyword", "is_tenant": True}}
    )
    tenant = {"query": [1, 0, 0, 0], "filter": city()}
    db.update_collection("c", {"hnsw_config": {"payload_m": 0}})
    assert "(hnsw_config.m = 0 and hnsw_config.payload_m = 0)" in refused(query.query, c, tenant)
    db.update_collection("c", {"hnsw_config": {"payload_m": 16}})
    query.query(c, tenant)


def test_full_scan_names_the_vector_and_spares_rescoring(db: Database) -> None:
    c = db.create_collection(
        "c",
        {
            "vectors": {"flat": {"size": 2, "distance": "Dot", "hnsw_config": {"m": 0}}},
            "sparse_vectors": {"s": {}},
            "strict_mode_config": {"enabled": True, "search_allow_exact": False},
        },
    )
    c.upsert(
        {"points": [{"id": 1, "vector": {"flat": [1, 0], "s": {"indices": [1], "values": [1]}}}]}
    )
    assert "forbidden on 'flat'" in refused(query.query, c, {"query": [1, 0], "using": "flat"})
    query.query(c, {"query": {"indices": [1], "values": [1.0]}, "using": "s"})
    sparse = {"indices": [1], "values": [1.0]}
    rescore = {"prefetch": {"query": sparse, "using": "s"}, "query": [1, 0], "using": "flat"}
    assert len(query.query(c, rescore)["points"]) == 1


def test_formula_needs_numeric_indexes(db: Database) -> None:
    c = make(db, {"unindexed_filtering_retrieve": False})
    formula = {
        "prefetch": {"query": [1, 0, 0, 0]},
        "query": {"formula": {"sum": ["$score", {"mult": [2, "price"]}]}},
    }
    message = refused(query.query, c, formula)
    assert message == (
        'Index required but not found for "price" of one of the following types: '
        "[float, integer]. Help: Create an index for this key or use a different formula "
        "expression."
    )
    config = strict.settings(c)
    assert config is not None
    c.create_payload_index({"field_name": "price", "field_schema": "float"})
    strict.check_formula(c, config, formula["query"])
    geo = {"formula": {"geo_distance": {"origin": {"lon": 0, "lat": 0}, "to": "loc"}}}
    with pytest.raises(BadRequest, match='"loc" of one of the following types: \\[geo\\]'):
        strict.check_formula(c, config, geo)
    condition = {"formula": {"sum": [{"key": "city", "match": {"any": []}}, "$score[0]"]}}
    strict.check_formula(c, config, condition)


def test_group_by_needs_an_index_that_matches(db: Database) -> None:
    c = make(db, {"unindexed_filtering_retrieve": False})
    config = strict.settings(c)
    assert config is not None
    with pytest.raises(BadRequest) as e:
        strict.check_group_by(c, config, "doc")
    assert str(e.value) == (
        'Index required but not found for "doc". Help: Create an index supporting `match` for '
        "this key."
    )
    c.create_payload_index({"field_name": "doc", "field_schema": "geo"})
    with pytest.raises(BadRequest, match='Index of type "Geo" found for "doc"'):
        strict.check_group_by(c, config, "doc")
    c.create_payload_index({"field_name": "doc", "field_schema": "keyword"})
    strict.check_group_by(c, config, "doc")


def test_upsert_batch_size(db: Database) -> None:
    c = make(db, {"upsert_max_batchsize": 2})
    c.upsert({"points": [{"id": i, "vector": [1, 0, 0, 0]} for i in range(2)]})
    message = refused(c.upsert, {"batch": {"ids": [1, 2, 3], "vectors": [[1, 0, 0, 0]] * 3}})
    assert message.startswith('Limit exceeded 3 > 2 for "upsert limit"')
    vectors = {"points": [{"id": i, "vector": [1, 0, 0, 0]} for i in (1, 2, 3)]}
    assert '"update limit"' in refused(c.update_vectors, vectors)
    batch = [{"upsert": {"points": [{"id": i, "vector": [1, 0, 0, 0]} for i in range(3)]}}]
    refused(c.batch, batch)


def test_collection_size_limits(db: Database) -> None:
    c = make(db, {"max_points_count": N + 2})
    c.upsert({"points": [{"id": i, "vector": [1, 0, 0, 0]} for i in range(N + 1, N + 3)]})
    message = refused(c.upsert, {"points": [{"id": 99, "vector": [1, 0, 0, 0]}]})
    assert message == f"Max points count limit of {N + 2} reached!"
    c.delete({"points": [99, N + 1]})
    c.upsert({"points": [{"id": 99, "vector": [1, 0, 0, 0]}]})

    db.delete_collection("c")
    c = make(db, {"max_collection_vector_size_bytes": 16 * (N + 1)})  # 16 bytes a point
    assert strict.vector_bytes(c) == 16 * N
    for _ in range(3):  # overwrites take no room
        c.upsert({"points": [{"id": 1, "vector": [1, 0, 0, 0]}]})
    c.upsert({"points": [{"id": 50, "vector": [1, 0, 0, 0]}]})
    message = refused(c.upsert, {"points": [{"id": 51, "vector": [1, 0, 0, 0]}]})
    assert message == "Max vector storage size limit of 0.00016784668MB reached!"

    db.delete_collection("c")
    c = make(db, {"max_collection_payload_size_bytes": 10})
    message = refused(c.set_payload, {"payload": {"a": 1}, "points": [1]})
    assert message.startswith("Max payload storage size limit of ")
    refused(c.overwrite_payload, {"payload": {"a": 1}, "points": [1]})
    c.delete_payload({"keys": ["city"], "points": [1]})  # what frees room is not refused


def test_multivector_and_sparse_lengths(db: Database) -> None:
    c = db.create_collection(
        "c",
        {
            "vectors": {
                "m": {"size": 2, "distance": "Dot", "multivector_config": {"comparator": "max_sim"}}
            },
            "sparse_vectors": {"s": {}},
            "strict_mode_config": {
                "enabled": True,
                "multivector_config": {"m": {"max_vectors": 2}},
                "sparse_config": {"s": {"max_length": 2}},
            },
        },
    )
    c.upsert({"points": [{"id": 1, "vector": {"m": [[1, 0], [0, 1]]}}]})
    message = refused(c.upsert, {"points": [{"id": 2, "vector": {"m": [[1, 0]] * 3}}]})
    assert message == "Multivector 'm' has a limit of 2 vectors, but 3 were provided!"
    batch = {"batch": {"ids": [2, 3], "vectors": {"m": [[[1, 0]] * 3, [[1, 0]] * 4]}}}
    assert "but 3 were provided!" in refused(c.upsert, batch)  # the first one over
    refused(c.update_vectors, {"points": [{"id": 1, "vector": {"m": [[1, 0]] * 3}}]})
    sparse = {"id": 3, "vector": {"s": {"indices": [1, 2, 3], "values": [1, 1, 1]}}}
    message = refused(c.upsert, {"points": [sparse]})
    assert message == "Sparse vector 's' has a limit of 2 indices, but 3 were provided!"


def test_payload_index_count(db: Database) -> None:
    c = make(db, {"max_payload_index_count": 1})
    c.create_payload_index({"field_name": "city", "field_schema": "keyword"})
    message = refused(c.create_payload_index, {"field_name": "n", "field_schema": "integer"})
    assert message == (
        "Collection already has the maximum number of payload indices (1). Help: Please delete "
        "an existing index before creating a new one."
    )


def test_timeout(db: Database) -> None:
    c = make(db, {"max_timeout": 2})
    strict.check_timeout(c, 2)
    with pytest.raises(BadRequest, match='Limit exceeded 3 > 2 for "timeout"'):
        strict.check_timeout(c, 3)


def test_read_rate_limit(db: Database) -> None:
    c = make(db, {"read_rate_limit": 4})
    with pytest.raises(RateLimited, match="larger than rate limiter capacity") as e:
        reads.retrieve(c, {"ids": [1, 2, 3, 4, 5]})
    assert e.value.retry_after is None
    reads.retrieve(c, {"ids": [1, 2, 3, 4]})
    with pytest.raises(RateLimited) as e:
        reads.retrieve(c, {"ids": [1]})
    # 4 tokens a minute: one comes back in 15 s (less the time this test took)
    assert re.match(
        r"Read rate limit exceeded: Operation requires 1 tokens but only 0\.\d were available\. "
        r"Retry after 1[0-5]s$",
        str(e.value),
    )
    assert e.value.retry_after is not None and 10 < e.value.retry_after <= 15
    # a new config starts full buckets
    db.update_collection("c", {"strict_mode_config": {"read_rate_limit": 4}})
    three = {"must": [{"key": "n", "match": {"value": i}} for i in range(3)]}
    reads.scroll(c, {"filter": three})  # 1 + one per condition: all 4 tokens
    with pytest.raises(RateLimited, match="requires 1 tokens"):
        reads.scroll(c, {})


def test_read_costs(db: Database) -> None:
    c = make(db)
    db.update_collection("c", {"strict_mode_config": {"enabled": True}})
    config = strict.settings(c)
    assert config is not None
    rule = strict.READS
    assert rule["query"](c, config, {"query": [1, 0, 0, 0]}) == 1
    assert rule["query"](c, config, {"query": [[1, 0, 0, 0]] * 3}) == 3
    assert rule["query"](c, config, {"query": 2}) == 3  # lookup, vector, exclusion
    recommend = {"query": {"recommend": {"positive": [1, [1, 0, 0, 0]], "negative": [2]}}}
    assert rule["query"](c, config, recommend) == 7
    assert (
        rule["query"](c, config, {"query": {"indices": list(range(65)), "values": [1] * 65}}) == 2
    )
    assert rule["scroll"](c, config, {"filter": city()}) == 2
    assert rule["query"](c, config, {"filter": city()}) == 2  # no query: a scroll
    fused = {"prefetch": [{"query": [1, 0, 0, 0]}] * 2, "query": {"fusion": "rrf"}}
    assert rule["query"](c, config, fused) == 2
    assert rule["retrieve"](c, config, {"ids": [1, 2, 3]}) == 3


def test_write_rate_limit(db: Database) -> None:
    c = make(db, {"write_rate_limit": 10})
    with pytest.raises(RateLimited, match="Write rate limit exceeded, request larger"):
        c.upsert({"points": [{"id": i, "vector": [1, 0, 0, 0]} for i in range(11)]})
    c.upsert({"points": [{"id": i, "vector": [1, 0, 0, 0]} for i in range(4)]})
    # an unindexed condition is taken to select half the points (Qdrant's estimate)
    assert rate_limits.estimated_count(c, parse_filter(city())) == (N + 1) // 2  # type: ignore[arg-type]
    c.set_payload({"payload": {"x": 1}, "filter": city()})
    with pytest.raises(RateLimited, match=r"Operation requires 5 tokens but only 1\.\d were"):
        c.set_payload({"payload": {"x": 1}, "filter": city()})


def test_estimated_count_uses_indexes(db: Database) -> None:
    c = make(db)
    c.create_payload_index({"field_name": "n", "field_schema": "integer"})
    small = parse_filter({"must": [{"key": "n", "range": {"lte": 2}}]})
    assert small is not None and rate_limits.estimated_count(c, small) == 2
    negated = parse_filter({"must_not": [{"key": "n", "range": {"lte": 2}}]})
    assert negated is not None and rate_limits.estimated_count(c, negated) == N - 2
    c.create_payload_index({"field_name": "city", "field_schema": "text"})  # serves no `value`
    berlin = parse_filter(city())
    assert berlin is not None and rate_limits.estimated_count(c, berlin) == N // 2


def test_embedded_client_enforces_it(tmp_path: Path) -> None:
    import vqdb

    client = vqdb.Client(path=str(tmp_path / "client"))
    client.create_collection(
        "c",
        vectors_config={"size": 2, "distance": "Dot"},
        strict_mode_config={"enabled": True, "max_query_limit": 1, "upsert_max_batchsize": 1},
    )
    client.upsert("c", [{"id": 1, "vector": [1.0, 0.0]}])
    with pytest.raises(BadRequest, match="upsert limit"):
        client.upsert("c", [{"id": 2, "vector": [1.0, 0.0]}, {"id": 3, "vector": [0.0, 1.0]}])
    with pytest.raises(BadRequest, match='"limit"'):
        client.query_points("c", query=[1.0, 0.0], limit=2)
    client.update_collection("c", strict_mode_config={"search_allow_exact": False})
    with pytest.raises(BadRequest, match="Exact search disabled"):
        client.count("c")  # exact by default, as in qdrant-client
    assert client.count("c", exact=False).count == 1
    client.close()


def test_a_batch_is_checked_whole_before_any_of_it_is_applied(db: Database) -> None:
    c = make(db, {"unindexed_filtering_update": False, "max_points_count": N + 1})
    new = {"upsert": {"points": [{"id": 100, "vector": [1, 0, 0, 0]}]}}
    bad = {"delete": {"filter": city()}}
    assert 'not found for "city"' in refused(c.batch, [new, bad])
    assert reads.count(c, {}) == {"count": N}
    # each operation is checked against the collection as it was before the batch (Qdrant's)
    other = {"upsert": {"points": [{"id": 101, "vector": [1, 0, 0, 0]}]}}
    c.batch([new, other])
    assert reads.count(c, {}) == {"count": N + 2}


def test_a_batch_is_charged_once(db: Database) -> None:
    c = make(db, {"write_rate_limit": 3})
    one = {"upsert": {"points": [{"id": 1, "vector": [1, 0, 0, 0]}]}}
    c.batch([one, one])
    c.upsert(one["upsert"])
    with pytest.raises(RateLimited):
        c.upsert(one["upsert"])
