"""TurboQuant over HTTP (a real `vqdb serve`): the config echo, a search, and the 4xx answers
to bad input (an unknown bit size, turbo on a 1-d vector, NaN in a vector)."""

from __future__ import annotations

import httpx
from served import ok


def test_turbo_echo_search_and_bad_input(http: httpx.Client) -> None:
    name = "turbo-http"
    http.delete(f"/collections/{name}")
    quantization = {"turbo": {"bits": "bits1_5", "always_ram": True}}
    body = {"vectors": {"size": 8, "distance": "Dot"}, "quantization_config": quantization}
    ok(http.put(f"/collections/{name}", json=body))
    assert ok(http.get(f"/collections/{name}"))["config"]["quantization_config"] == quantization
    points = [{"id": i, "vector": [float((i * j) % 7) - 3 for j in range(8)]} for i in range(20)]
    ok(http.put(f"/collections/{name}/points", params={"wait": "true"}, json={"points": points}))
    found = ok(http.post(f"/collections/{name}/points/query", json={"query": points[3]["vector"]}))
    assert len(found["points"]) == 10

    bad_bits = {
        "vectors": {"size": 8, "distance": "Dot"},
        "quantization_config": {"turbo": {"bits": "bits3"}},
    }
    answer = http.put("/collections/turbo-bad", json=bad_bits)
    assert answer.status_code == 400 and "bits" in answer.text
    one_d = {"vectors": {"size": 1, "distance": "Dot"}, "quantization_config": {"turbo": {}}}
    answer = http.put("/collections/turbo-bad", json=one_d)
    assert answer.status_code == 400 and "2 dimensions" in answer.text
    answer = http.put(
        "/collections/turbo-bad",
        json={"vectors": {"size": 1, "distance": "Dot", "datatype": "turbo4"}},
    )
    assert answer.status_code == 400
    nan = b'{"points": [{"id": 99, "vector": [NaN, 0, 0, 0, 0, 0, 0, 0]}]}'  # as Python sends it
    answer = http.put(
        f"/collections/{name}/points",
        params={"wait": "true"},
        content=nan,
        headers={"content-type": "application/json"},
    )
    assert 400 <= answer.status_code < 500
    http.delete(f"/collections/{name}")
