"""vqdb's own routes over HTTP: the advisor, applying its advice (a read-only key may not),
what a vector costs, the dashboard's files; and none of them in Qdrant's /openapi.json."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from served import Server, fresh_collection, ok, unique_name

from vqdb import cli


def points(n: int = 1200, dim: int = 16) -> list[dict]:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, dim))
    x = centres[rng.integers(0, 20, n)] + 0.5 * rng.standard_normal((n, dim))
    return [{"id": i, "vector": v.tolist(), "payload": {"i": i}} for i, v in enumerate(x)]


BODY = {
    "vectors": {"size": 16, "distance": "Cosine"},
    "optimizers_config": {"indexing_threshold": 1},  # index (and quantize) even this few
}


@pytest.fixture
def collection(http: httpx.Client, request: pytest.FixtureRequest) -> Iterator[str]:
    yield from fresh_collection(http, unique_name("advise", request), BODY, points())


def test_advise_then_apply(http: httpx.Client, collection: str) -> None:
    path = f"/vqdb/collections/{collection}"
    found = ok(http.post(f"{path}/advise", json={"target_recall": 0.9}, timeout=120))
    assert found["candidates"] and found["table"].startswith("| |")
    rec = found["recommendation"]
    assert rec["met"] and rec["estimated_recall"] >= 0.9
    assert set(rec["search_params"]) == {"quantization"}
    ok(http.post(f"{path}/advice/apply", json=rec))
    shown = ok(http.get(f"/collections/{collection}"))["config"]["quantization_config"]
    assert shown == rec["quantization_config"]
    deadline = time.monotonic() + 60
    while not (state := ok(http.get(path)))["rebuild"]["done"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert state["rebuild"]["fraction"] == 1.0
    parts = state["memory"]["vectors"][""]["bytes_per_vector"]
    assert parts["codes"]["ram"] > 0 and parts["graph"]["ram"] > 0
    payloads = state["memory"]["payloads"]["bytes_per_point"]  # on_disk_payload, the default
    assert payloads["disk"] > 0 and payloads["ram"] < payloads["disk"]
    # the recommended params search the applied collection as Qdrant's SearchParams
    query = {"query": points(1)[0]["vector"], "limit": 3, "params": rec["search_params"]}
    assert len(ok(http.post(f"/collections/{collection}/points/query", json=query))["points"]) == 3


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"target_recall": 1.5}, 422, "target_recall: must be between 0 and 1, got 1.5"),
        ({"target_recall": "high"}, 422, "target_recall"),
        ({"objective": "cheap"}, 422, "objective"),
        ({"limit": 1000}, 422, "limit"),
        ({"recall": 0.9}, 400, "unknown advise option(s): recall"),
        ({"vector_name": "other"}, 404, "no dense vector 'other'"),
    ],
)
def test_bad_advise_requests(
    http: httpx.Client, collection: str, body: dict, status: int, words: str
) -> None:
    response = http.post(f"/vqdb/collections/{collection}/advise", json=body)
    assert response.status_code == status, response.text
    assert words in response.json()["status"]["error"]


def test_empty_and_one_dimension_collections(
    http: httpx.Client, request: pytest.FixtureRequest
) -> None:
    name = unique_name("advise-empty", request)
    for size, count, words in [(8, 0, "no vectors to advise on"), (1, 300, "1 dimension")]:
        http.delete(f"/collections/{name}")
        ok(http.put(f"/collections/{name}", json={"vectors": {"size": size, "distance": "Dot"}}))
        if count:
            pts = [{"id": i, "vector": [float(i)] * size} for i in range(count)]
            ok(http.put(f"/collections/{name}/points?wait=true", json={"points": pts}))
        response = http.post(f"/vqdb/collections/{name}/advise", json={})
        assert response.status_code == 400, response.text
        assert words in response.json()["status"]["error"]
    http.delete(f"/collections/{name}")
    missing = http.post("/vqdb/collections/no-such-collection/advise", json={})
    assert missing.status_code == 404
    bad_apply = http.post(f"/vqdb/collections/{name}/advice/apply", json={"x": 1})
    assert bad_apply.status_code in (400, 404)


def test_a_read_only_key_sees_but_cannot_apply(start_server: Callable[..., Server]) -> None:
    server = start_server(
        {"VQDB__SERVICE__API_KEY": "full", "VQDB__SERVICE__READ_ONLY_API_KEY": "read"}
    )
    full = {"api-key": "full"}
    with httpx.Client(base_url=server.url, timeout=120) as http:
        ok(http.put("/collections/c", json=BODY, headers=full))
        ok(http.put("/collections/c/points?wait=true", json={"points": points()}, headers=full))
        assert http.get("/vqdb/collections/c").status_code == 401
        read = {"api-key": "read"}
        ok(http.get("/vqdb/collections/c", headers=read))
        found = ok(http.post("/vqdb/collections/c/advise", json={}, headers=read))
        rec = found["recommendation"]
        refused = http.post("/vqdb/collections/c/advice/apply", json=rec, headers=read)
        assert refused.status_code == 403
        assert "read-only" in refused.json()["status"]["error"]
        ok(http.post("/vqdb/collections/c/advice/apply", json=rec, headers=full))
        assert http.get("/dashboard/", headers={}).status_code == 200  # the page itself is open


def test_dashboard_files(http: httpx.Client) -> None:
    page = http.get("/dashboard", follow_redirects=True)
    assert page.status_code == 200 and "<title>vqdb dashboard</title>" in page.text
    for name in ("app.js", "style.css", "chart.min.js"):
        assert http.get(f"/dashboard/{name}").status_code == 200
    assert "Chart.js v3" in http.get("/dashboard/chart.min.js").text[:200]
    assert http.get("/dashboard/nothing.js").status_code == 404


def test_vqdb_routes_stay_out_of_qdrants_openapi(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/vqdb", "/dashboard"))]


def test_the_command_line_against_a_server(
    server: Server, collection: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "advice.json"
    argv = ["advise", "--url", server.url, "--collection", collection, "--target-recall", "0.9"]
    assert cli.main([*argv, "--apply", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| method |" in printed and "applied: the collection is rebuilding" in printed
    rec = json.loads(out.read_text())["recommendation"]
    with httpx.Client(base_url=server.url) as http:
        shown = ok(http.get(f"/collections/{collection}"))["config"]["quantization_config"]
    assert shown == rec["quantization_config"]
    assert cli.main(["advise", "--url", server.url, "--collection", "missing"]) == 2
    assert "HTTP 404" in capsys.readouterr().err
