"""Qdrant's two kinds of refusal over HTTP: a body that does not deserialize is 400 ("Format
error" / "Wrong input"), a well-formed value its validator refuses is 422 "Validation error in
<part>: [<place>: <message>]", checked before the request reaches the collection."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from served import fresh_collection, ok, unique_name


@pytest.fixture
def name(http: httpx.Client, request: pytest.FixtureRequest) -> Iterator[str]:
    body = {"vectors": {"a": {"size": 2, "distance": "Dot"}}}
    points = [{"id": 1, "vector": {"a": [1, 0]}, "payload": {"city": "Oslo"}}]
    yield from fresh_collection(http, unique_name("v", request), body, points)


def refusal(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    message: str = response.json()["status"]["error"]
    return message


def test_query_parameter_under_its_minimum(http: httpx.Client) -> None:
    body = {"vectors": {"size": 2, "distance": "Dot"}}
    message = refusal(http.put("/collections/v-timeout?timeout=0", json=body), 422)
    assert message == (
        "Validation error in query parameters: [timeout: value 0 invalid, must be 1 or larger]"
    )
    assert "Query deserialize error" in refusal(
        http.put("/collections/v-timeout?timeout=-1", json=body), 400
    )


@pytest.mark.parametrize("field", ["shard_number", "replication_factor"])
def test_unsigned_fields(http: httpx.Client, field: str) -> None:
    """0 is a validator's refusal; -1 cannot be an unsigned integer at all (serde's)."""
    body = {"vectors": {"size": 2, "distance": "Dot"}}
    assert field in refusal(http.put("/collections/v-uint", json={**body, field: 0}), 422)
    assert "Format error" in refusal(http.put("/collections/v-uint", json={**body, field: -1}), 400)
    assert http.get("/collections/v-uint").status_code == 404


def test_sizes_and_memory_placements(http: httpx.Client) -> None:
    big = {"vectors": {"size": 65537, "distance": "Dot"}}
    assert refusal(http.put("/collections/v-cfg", json=big), 422) == (
        "Validation error in JSON body: [vectors.size: value 65537 invalid, must be from 1 to "
        "65536]"
    )
    pinned = {"vectors": {"size": 2, "distance": "Dot", "memory": "pinned"}}
    assert "`pinned` memory placement" in refusal(http.put("/collections/v-cfg", json=pinned), 422)
    payload = {"vectors": {"size": 2, "distance": "Dot"}, "payload": {"memory": "pinned"}}
    assert "payload storage" in refusal(http.put("/collections/v-cfg", json=payload), 422)
    turbo = {"sparse_vectors": {"s": {"index": {"datatype": "turbo4"}}}}
    assert "sparse vectors do not support" in refusal(
        http.put("/collections/v-cfg", json=turbo), 422
    )
    assert http.get("/collections/v-cfg").status_code == 404


def test_points(http: httpx.Client, name: str) -> None:
    base = f"/collections/{name}/points"
    empty = {"points": [{"id": 1, "vector": {}}]}
    assert refusal(http.put(f"{base}/vectors", json=empty), 422) == (
        "Validation error in JSON body: [points[0].vector: must specify vectors to update for "
        "point]"
    )
    dense = {"points": [{"id": 2, "vector": {"a": []}}]}
    assert "[points[0].vector.?: dense vector must not be empty]" in refusal(
        http.put(base, json=dense), 422
    )
    # validated before the names are checked against the collection, as Qdrant does
    sparse = {"indices": [0, 1], "values": [0.0]}
    unknown = {"points": [{"id": 2, "vector": {"nope": sparse}}]}
    assert "must be the same length as indices" in refusal(http.put(base, json=unknown), 422)
    assert ok(http.post(f"{base}/count", json={})) == {"count": 1}


def test_filter_condition_without_a_condition(http: httpx.Client, name: str) -> None:
    body = {"query": [1, 0], "using": "a", "filter": {"must": [{"key": "city"}]}}
    message = refusal(http.post(f"/collections/{name}/points/query", json=body), 422)
    assert message == (
        "Validation error in JSON body: [filter.must[0]: At least one field condition must be "
        "specified]"
    )
    upsert = {
        "points": [{"id": 3, "vector": {"a": [0, 1]}}],
        "update_filter": {"must": {"key": "city"}},
    }
    assert "[update_filter.must: At least one" in refusal(
        http.put(f"/collections/{name}/points", json=upsert), 422
    )


def test_serde_aliases_and_warnings(http: httpx.Client) -> None:
    """`quantization` for quantization_config and `optimizer_config` for optimizers_config, as
    Qdrant's serde reads them; `inline_storage` without quantization is a warning."""
    http.delete("/collections/v-alias")
    body = {
        "vectors": {
            "a": {"size": 2, "distance": "Dot", "quantization": {"scalar": {"type": "int8"}}},
            "b": {"size": 2, "distance": "Dot", "hnsw_config": {"inline_storage": True}},
        },
        "quantization": {"scalar": {"type": "int8", "quantile": 0.5}},
        "optimizer_config": {"indexing_threshold": 7},
    }
    ok(http.put("/collections/v-alias", json=body))
    info = ok(http.get("/collections/v-alias"))
    config = info["config"]
    assert config["quantization_config"] == {"scalar": {"type": "int8", "quantile": 0.5}}
    assert config["params"]["vectors"]["a"]["quantization_config"] == {"scalar": {"type": "int8"}}
    assert config["optimizer_config"]["indexing_threshold"] == 7
    assert "warnings" not in info  # b is quantized by the collection's config
    ok(http.patch("/collections/v-alias", json={"quantization_config": "Disabled"}))
    warnings = ok(http.get("/collections/v-alias"))["warnings"]
    assert warnings == [
        {
            "message": "The `hnsw_config.inline_storage` option for vector 'b' requires "
            "quantization to be enabled. This option will be ignored."
        }
    ]
    ok(http.delete("/collections/v-alias"))


def test_range_errors_name_qdrants_struct(http: httpx.Client, name: str) -> None:
    """Qdrant's request structs flatten an inner one, which its validator names."""
    query = f"/collections/{name}/points/query"
    assert refusal(http.post(query, json={"query": [1, 0], "using": "a", "limit": 0}), 422) == (
        "Validation error in JSON body: [internal.limit: value 0 invalid, must be 1 or larger]"
    )
    batch = {"searches": [{"query": [1, 0], "using": "a"}, {"query": [1, 0], "limit": 0}]}
    assert refusal(http.post(query + "/batch", json=batch), 422) == (
        "Validation error in JSON body: [searches[1].internal.limit: value 0 invalid, must be 1 "
        "or larger]"
    )


def test_slice_total_is_non_zero(http: httpx.Client, name: str) -> None:
    """`total` is a NonZeroU32 in Qdrant: 0 does not deserialize (400); an index past the
    total is the validator's (422)."""
    scroll = f"/collections/{name}/points/scroll"
    zero = {"filter": {"must": [{"slice": {"total": 0, "index": 0}}]}}
    assert "Format error" in refusal(http.post(scroll, json=zero), 400)
    past = {"filter": {"must": [{"slice": {"total": 4, "index": 4}}]}}
    refusal(http.post(scroll, json=past), 422)
