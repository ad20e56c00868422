"""Strict mode over HTTP: Qdrant's status codes and wording (400 "Bad request: ... Help: ...",
429 "Rate limiting exceeded: ..." with Retry-After), the `timeout` query parameter, and writes
refused before anything is applied."""

from __future__ import annotations

from typing import Any

import httpx
from served import ok


def _collection(http: httpx.Client, name: str, strict_mode: dict[str, Any]) -> str:
    http.delete(f"/collections/{name}")
    ok(http.put(f"/collections/{name}", json={"vectors": {"size": 2, "distance": "Dot"}}))
    points = [{"id": i, "vector": [1, i], "payload": {"city": "Berlin"}} for i in range(1, 5)]
    ok(http.put(f"/collections/{name}/points?wait=true", json={"points": points}))
    patch = {"strict_mode_config": {"enabled": True, **strict_mode}}
    ok(http.patch(f"/collections/{name}", json=patch))
    return name


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    message: str = response.json()["status"]["error"]
    return message


def test_limits_are_bad_requests(http: httpx.Client) -> None:
    name = _collection(http, "strict-limits", {"max_query_limit": 2, "max_timeout": 2})
    found = ok(http.post(f"/collections/{name}/points/query", json={"query": [1, 0], "limit": 2}))
    assert len(found["points"]) == 2
    r = http.post(f"/collections/{name}/points/query", json={"query": [1, 0], "limit": 3})
    assert _error(r, 400) == (
        'Bad request: Limit exceeded 3 > 2 for "limit". Help: Reduce the "limit" parameter to or '
        "below 2."
    )
    body = {"query": [1, 0], "limit": 1}
    ok(http.post(f"/collections/{name}/points/query?timeout=2", json=body))
    r = http.post(f"/collections/{name}/points/query?timeout=3", json=body)
    assert 'Limit exceeded 3 > 2 for "timeout"' in _error(r, 400)
    r = http.put(f"/collections/{name}/points?wait=true&timeout=3", json={"points": []})
    assert '"timeout"' in _error(r, 400)


def test_unindexed_filter_on_a_write_applies_nothing(http: httpx.Client) -> None:
    name = _collection(http, "strict-writes", {"unindexed_filtering_update": False})
    selector = {"filter": {"must": [{"key": "city", "match": {"value": "Berlin"}}]}}
    r = http.post(f"/collections/{name}/points/delete?wait=true", json=selector)
    assert _error(r, 400).startswith('Bad request: Index required but not found for "city"')
    assert ok(http.post(f"/collections/{name}/points/count", json={}))["count"] == 4
    index = {"field_name": "city", "field_schema": "keyword"}
    ok(http.put(f"/collections/{name}/index?wait=true", json=index))
    ok(http.post(f"/collections/{name}/points/delete?wait=true", json=selector))
    assert ok(http.post(f"/collections/{name}/points/count", json={}))["count"] == 0


def test_rate_limits_are_429_with_retry_after(http: httpx.Client) -> None:
    name = _collection(http, "strict-rates", {"read_rate_limit": 1, "write_rate_limit": 2})
    ok(http.post(f"/collections/{name}/points/scroll", json={}))
    r = http.post(f"/collections/{name}/points/scroll", json={})
    assert _error(r, 429).startswith(
        "Rate limiting exceeded: Read rate limit exceeded: Operation requires 1 tokens"
    )
    assert 55 < int(r.headers["retry-after"]) <= 60
    r = http.post(f"/collections/{name}/points", json={"ids": [1, 2]})
    assert "request larger than rate limiter capacity" in _error(r, 429)
    assert "retry-after" not in r.headers  # it would never pass
    upsert = {"points": [{"id": i, "vector": [1, 0]} for i in range(3)]}
    assert "Write rate limit" in _error(http.put(f"/collections/{name}/points", json=upsert), 429)
    ok(http.get(f"/collections/{name}"))  # the collection's info is not metered
    ok(http.patch(f"/collections/{name}", json={"strict_mode_config": {"enabled": False}}))
    ok(http.post(f"/collections/{name}/points/scroll", json={}))
    ok(http.put(f"/collections/{name}/points?wait=true", json=upsert))
