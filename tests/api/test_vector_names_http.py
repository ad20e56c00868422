"""Qdrant 1.19's named-vector routes: PUT / DELETE /collections/{c}/vectors/{name}."""

from __future__ import annotations

import httpx
from served import ok


def test_create_and_delete(http: httpx.Client) -> None:
    http.delete("/collections/vn")
    ok(http.put("/collections/vn", json={"vectors": {"a": {"size": 2, "distance": "Dot"}}}))
    points = {"points": [{"id": 1, "vector": {"a": [1, 0]}, "payload": {"k": 1}}]}
    ok(http.put("/collections/vn/points?wait=true", json=points))
    made = ok(
        http.put(
            "/collections/vn/vectors/b?wait=true", json={"dense": {"size": 3, "distance": "Cosine"}}
        )
    )
    assert made["status"] == "completed"
    ok(http.put("/collections/vn/vectors/s", json={"sparse": {"modifier": "idf"}}))
    params = ok(http.get("/collections/vn"))["config"]["params"]
    assert params["vectors"]["b"] == {"size": 3, "distance": "Cosine"}
    assert params["sparse_vectors"] == {"s": {"modifier": "idf"}}
    update = {"points": [{"id": 1, "vector": {"b": [0, 0, 1]}}]}
    ok(http.put("/collections/vn/points/vectors?wait=true", json=update))
    ok(http.delete("/collections/vn/vectors/a?wait=true"))
    point = ok(http.get("/collections/vn/points/1"))
    assert point["vector"] == {"b": [0.0, 0.0, 1.0]} and point["payload"] == {"k": 1}
    for size in (0, 65537):  # the validator's refusals
        r = http.put("/collections/vn/vectors/c", json={"dense": {"size": size, "distance": "Dot"}})
        assert r.status_code == 422 and "dense.size" in r.text, r.text
    r = http.put("/collections/vn/vectors/b", json={"dense": {"size": 4, "distance": "Dot"}})
    assert r.status_code == 400 and "different configuration" in r.text
    assert http.put("/collections/nope/vectors/b", json={"sparse": {}}).status_code == 404
    ok(http.delete("/collections/vn"))
