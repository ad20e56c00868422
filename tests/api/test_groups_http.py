"""Groups, order_by, lookup_from and the random sample over HTTP (a real `vqdb serve`): Qdrant's
routes, shapes (checked against its spec) and errors, and qdrant-client against the server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import spec
from served import Server, fresh_collection, ok, unique_name


@pytest.fixture
def names(http: httpx.Client, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """Chunks of documents (doc d's chunk j: vector (1, d + j/10), ids 10d + j), a price index;
    and a collection of the documents themselves, id d."""
    body = {"vectors": {"size": 2, "distance": "Euclid"}}
    points = [
        {"id": 10 * d + j, "vector": [1.0, d + j / 10], "payload": {"doc": d, "price": 10 - d}}
        for d in range(5)
        for j in range(3)
    ]
    docs = unique_name("docs", request)
    lookup = [{"id": d, "vector": [0.0, 1.0], "payload": {"title": f"d{d}"}} for d in range(5)]
    for _ in fresh_collection(http, docs, {"vectors": {"size": 2, "distance": "Dot"}}, lookup):
        for name in fresh_collection(http, unique_name("chunks", request), body, points):
            index = {"field_name": "price", "field_schema": "integer"}
            ok(http.put(f"/collections/{name}/index?wait=true", json=index))
            yield name, docs


def post(http: httpx.Client, name: str, route: str, body: dict[str, Any]) -> httpx.Response:
    return http.post(f"/collections/{name}/points/{route}", json=body)


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["status"]["error"]


def test_groups_routes(http: httpx.Client, names: tuple[str, str]) -> None:
    name, docs = names
    body = {"group_by": "doc", "group_size": 2, "limit": 2, "with_lookup": docs}
    found = ok(post(http, name, "query/groups", {**body, "query": [1.0, 2.0]}))
    assert [(g["id"], [h["id"] for h in g["hits"]]) for g in found["groups"]] == [
        (2, [20, 21]),
        (1, [12, 11]),
    ]
    assert found["groups"][0]["lookup"] == {"id": 2, "payload": {"title": "d2"}}
    described = spec.load()
    route = "/collections/{collection_name}/points/query/groups"
    assert (
        spec.problems(described, "post", route, {"result": found, "status": "ok", "time": 0.1})
        == []
    )
    legacy = ok(post(http, name, "search/groups", {**body, "vector": [1.0, 2.0]}))
    assert legacy == found
    reco = ok(post(http, name, "recommend/groups", {**body, "positive": [20]}))
    assert [g["id"] for g in reco["groups"]] == [2, 1]
    assert 20 not in [h["id"] for h in reco["groups"][0]["hits"]]
    missing = post(http, name, "query/groups", {**body, "with_lookup": "nowhere", "query": [1, 2]})
    assert error(missing) == (404, "Not found: Collection nowhere not found")
    assert (
        post(http, name, "search/groups", {"vector": [1, 2], "group_by": "doc"}).status_code == 400
    )


def test_order_by_and_sample(http: httpx.Client, names: tuple[str, str]) -> None:
    name, _ = names
    scroll = http.post(f"/collections/{name}/points/scroll", json={"order_by": "price", "limit": 4})
    page = ok(scroll)
    assert [(p["id"], p["order_value"]) for p in page["points"]] == [
        (40, 6),
        (41, 6),
        (42, 6),
        (30, 7),
    ]
    assert page["next_page_offset"] is None
    by_query = ok(post(http, name, "query", {"query": {"order_by": "price"}, "limit": 4}))
    assert [(p["id"], p["score"], p["order_value"]) for p in by_query["points"]] == [
        (40, 1.0, 6),
        (41, 1.0, 6),
        (42, 1.0, 6),
        (30, 1.0, 7),
    ]
    refused = http.post(f"/collections/{name}/points/scroll", json={"order_by": "doc"})
    assert refused.status_code == 400
    assert refused.json()["status"]["error"].startswith(
        "Wrong input: No range index for `order_by` key: `doc`."
    )
    threshold = {"query": {"order_by": "price"}, "score_threshold": 1}
    assert error(post(http, name, "query", threshold)) == (
        400,
        "Bad request: Can't use score_threshold with an order_by query.",
    )
    sample = ok(post(http, name, "query", {"query": {"sample": "random"}, "limit": 15}))
    assert sorted(p["id"] for p in sample["points"]) == sorted(
        10 * d + j for d in range(5) for j in range(3)
    )


def test_lookup_from(http: httpx.Client, names: tuple[str, str]) -> None:
    name, docs = names
    body = {"query": 3, "lookup_from": {"collection": docs}, "limit": 2}
    found = ok(post(http, name, "query", body))  # docs' 3 is (0, 1): nearest (1, 1), (1, 1.1)
    assert [p["id"] for p in found["points"]] == [10, 11]
    assert error(post(http, name, "query", {**body, "query": 9})) == (
        404,
        "Not found: No point with id 9 found",
    )
    gone = {**body, "lookup_from": {"collection": "nowhere"}, "query": [1.0, 0.0]}
    assert error(post(http, name, "query", gone)) == (
        404,
        "Not found: Collection nowhere not found",
    )
    batch = {"searches": [gone]}
    assert post(http, name, "query/batch", batch).status_code == 404


def test_qdrant_client_against_the_server(server: Server, names: tuple[str, str]) -> None:
    from qdrant_client import QdrantClient, models

    name, docs = names
    client = QdrantClient(url=server.url, timeout=60)
    found = client.query_points_groups(
        name, "doc", query=[1.0, 2.0], group_size=1, limit=3, with_lookup=docs
    )
    assert [(g.id, g.hits[0].id, g.lookup.id if g.lookup else None) for g in found.groups] == [
        (2, 20, 2),
        (1, 12, 1),
        (3, 30, 3),
    ]
    records, offset = client.scroll(
        name, order_by=models.OrderBy(key="price", direction=models.Direction.DESC), limit=2
    )
    assert [(r.id, r.order_value) for r in records] == [(2, 10), (1, 10)] and offset is None
    looked = client.query_points(
        name, query=3, lookup_from=models.LookupLocation(collection=docs), limit=1
    )
    assert [p.id for p in looked.points] == [10]
