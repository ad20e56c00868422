"""Over HTTP: lookup_from on the query, query batch and legacy recommend routes (the server
hands the engine its collections by name), and a query without a query scoring 1."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def pair(http: httpx.Client, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    name = f"lk-{zlib.crc32(request.node.name.encode())}"
    other = f"{name}-other"
    for n, vectors in (
        (name, {"size": 2, "distance": "Dot"}),
        (other, {"v": {"size": 2, "distance": "Dot"}}),
    ):
        http.delete(f"/collections/{n}")
        assert http.put(f"/collections/{n}", json={"vectors": vectors}).status_code == 200
    points = [{"id": i, "vector": [float(i), 1.0]} for i in range(1, 5)]
    http.put(f"/collections/{name}/points?wait=true", json={"points": points})
    others = [{"id": 1, "vector": {"v": [1.0, 0.0]}}, {"id": 2, "vector": {"v": [-1.0, 0.0]}}]
    http.put(f"/collections/{other}/points?wait=true", json={"points": others})
    yield name, other
    for n in (name, other):
        http.delete(f"/collections/{n}")


def test_lookup_from(http: httpx.Client, pair: tuple[str, str]) -> None:
    name, other = pair
    lookup = {"collection": other, "vector": "v"}
    body = {"query": {"recommend": {"positive": [1]}}, "lookup_from": lookup, "limit": 10}
    r = http.post(f"/collections/{name}/points/query", json=body)
    assert r.status_code == 200, r.text
    # [1, 0] from the other collection: highest x first, and id 1 here is not left out
    assert [p["id"] for p in r.json()["result"]["points"]] == [4, 3, 2, 1]
    r = http.post(f"/collections/{name}/points/query/batch", json={"searches": [body]})
    assert [p["id"] for p in r.json()["result"][0]["points"]] == [4, 3, 2, 1]
    legacy = {"positive": [2], "lookup_from": lookup, "limit": 10}
    r = http.post(f"/collections/{name}/points/recommend", json=legacy)
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()["result"]] == [1, 2, 3, 4]
    missing = {**body, "lookup_from": {"collection": "nope"}}
    r = http.post(f"/collections/{name}/points/query", json=missing)
    assert r.status_code == 404 and "Not found: Collection nope not found" in r.text


def test_query_without_a_query_scores_one(http: httpx.Client, pair: tuple[str, str]) -> None:
    name, _ = pair
    r = http.post(f"/collections/{name}/points/query", json={"limit": 2, "offset": 1})
    assert [(p["id"], p["score"]) for p in r.json()["result"]["points"]] == [(2, 1.0), (3, 1.0)]
