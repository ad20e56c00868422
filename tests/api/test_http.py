"""The HTTP contract itself: envelope, status codes and messages, API keys, metrics, settings,
snapshot files, aliases; response bodies checked against Qdrant's spec where it is at hand."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import spec
from served import Server

from vqdb.server import settings


@pytest.fixture
def collection(http: httpx.Client, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"h-{request.node.originalname}-{zlib.crc32(request.node.name.encode())}"
    http.delete(f"/collections/{name}")
    body = {"vectors": {"size": 4, "distance": "Dot"}}
    assert http.put(f"/collections/{name}", json=body).status_code == 200
    points = [{"id": i, "vector": [i, 1, 0, 0], "payload": {"k": i % 2}} for i in range(10)]
    put = http.put(f"/collections/{name}/points?wait=true", json={"points": points})
    assert put.json()["result"]["status"] == "completed"
    yield name
    http.delete(f"/collections/{name}")


def error(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"status", "time"}
    return str(body["status"]["error"])


def test_envelope_and_root(http: httpx.Client, collection: str) -> None:
    root = http.get("/").json()
    assert root["version"].startswith("1.19.")  # within one minor of qdrant-client 1.18 and 1.20
    body = http.post(f"/collections/{collection}/points/count", json={}).json()
    assert body["status"] == "ok" and body["result"] == {"count": 10}
    assert isinstance(body["time"], float)
    for probe in ("/healthz", "/livez", "/readyz"):
        assert http.get(probe).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        (
            "PUT",
            "/points",
            '{"points": [{"id": 1, "vector": [1, 2, 3]}]}',
            400,
            "Wrong input: Vector dimension error: expected dim: 4, got 3",
        ),
        (
            "PUT",
            "/points",
            '{"points": [{"id": 1, "vector": [1, 2',
            400,
            "Format error in JSON body",
        ),
        ("PUT", "/points", "[]", 400, "Format error in JSON body"),
        ("PUT", "/points", '{"points": [{"id": -1, "vector": [1, 2, 3, 4]}]}', 400, ""),
        ("PUT", "/points", '{"points": [{"id": 1, "vector": [1, NaN, 3, 4]}]}', 400, ""),
        (
            "POST",
            "/points/query",
            '{"query": [1, 2, 3, 4], "limit": 0}',
            422,
            "Validation error in JSON body",
        ),
        ("POST", "/points/query", '{"query": [1, 2, 3, 4], "using": "nope"}', 400, "nope"),
        ("POST", "/points/search", '{"vector": "x"}', 400, ""),
        # the legacy bodies reach the engine unchecked: a list as `using` was a 500
        ("POST", "/points/search", '{"vector": [1, 2, 3, 4], "using": ["x"]}', 400, "using"),
        ("POST", "/points/recommend", '{"positive": [1], "using": {"a": 1}}', 400, "using"),
        ("POST", "/points/scroll", '{"filter": {"must": [{"key": 1}]}}', 400, ""),
        ("GET", "/points/12345", None, 404, "No point with id 12345"),
        # documented query parameters are checked, not guessed at (schemathesis: ST201)
        ("POST", "/points/count?timeout=-1", "{}", 400, "Query deserialize error: timeout="),
        ("POST", "/points/delete?wait=0.5", '{"points": [1]}', 400, "wait='0.5' is not true"),
        ("POST", "/points/count?consistency=some", "{}", 400, "consistency="),
        ("PUT", "", '{"vectors": {"size": 4, "distance": "Dot"}}', 409, "already exists"),
        # unknown fields are ignored, as Qdrant ignores them, except in a filter
        ("POST", "/points/count", '{"filter": {"must": [], "should_not": []}}', 400, "should_not"),
    ],
)
def test_errors(
    http: httpx.Client,
    collection: str,
    method: str,
    path: str,
    body: str | None,
    status: int,
    message: str,
) -> None:
    response = http.request(method, f"/collections/{collection}{path}", content=body)
    assert response.status_code == status, response.text
    assert message in error(response)


def test_unknown_fields_are_ignored(http: httpx.Client, collection: str) -> None:
    """As Qdrant's server ignores them (serde's default), at any depth but in filters."""
    count = http.post(f"/collections/{collection}/points/count", json={"exact": True, "x": 1})
    assert count.json()["result"] == {"count": 10}
    query = {"query": [1, 0, 0, 0], "params": {"hnsw_ef": 8, "future": 1}, "later": [1]}
    assert http.post(f"/collections/{collection}/points/query", json=query).status_code == 200


def test_valid_query_parameters_pass(http: httpx.Client, collection: str) -> None:
    count = f"/collections/{collection}/points/count?consistency=quorum&timeout=5&other=x"
    assert http.post(count, json={}).json()["result"] == {"count": 10}
    assert http.post(f"{count.split('?')[0]}?consistency=2", json={}).status_code == 200


def test_infinite_scores_are_null(http: httpx.Client, collection: str) -> None:
    """Vectors near float32's limit overflow a Dot score to inf. JSON has no Infinity (Python's
    json writes it, strict parsers refuse it); Qdrant writes null, and so does vqdb."""
    huge = [3e38, 3e38, 0, 0]
    put = http.put(
        f"/collections/{collection}/points?wait=true", json={"points": [{"id": 99, "vector": huge}]}
    )
    assert put.status_code == 200
    response = http.post(
        f"/collections/{collection}/points/query", json={"query": huge, "limit": 2}
    )

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    body = json.loads(response.text, parse_constant=refuse)
    assert [p["score"] for p in body["result"]["points"]] == [None, None]


def test_missing_things_are_404(http: httpx.Client) -> None:
    response = http.post("/collections/nope/points/query", json={"query": [1, 2, 3, 4]})
    assert response.status_code == 404
    assert error(response) == "Not found: Collection `nope` doesn't exist!"
    assert http.get("/collections/nope").status_code == 404
    assert http.get("/no/such/path").status_code == 404
    assert http.get("/collections/nope/exists").json()["result"] == {"exists": False}


def test_point_by_uuid_and_number(http: httpx.Client, collection: str) -> None:
    uuid = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"
    points = {"points": [{"id": uuid, "vector": [1, 2, 3, 4]}]}
    http.put(f"/collections/{collection}/points?wait=true", json=points)
    assert http.get(f"/collections/{collection}/points/{uuid}").json()["result"]["id"] == uuid
    one = http.get(f"/collections/{collection}/points/3").json()["result"]
    assert one == {"id": 3, "payload": {"k": 1}, "vector": [3.0, 1.0, 0.0, 0.0]}
    assert http.get(f"/collections/{collection}/points/not-a-uuid").status_code == 400


def test_aliases(http: httpx.Client, collection: str) -> None:
    def change(*actions: dict[str, Any]) -> httpx.Response:
        return http.post("/collections/aliases", json={"actions": list(actions)})

    assert change({"create_alias": {"collection_name": collection, "alias_name": "al"}}).json()[
        "result"
    ]
    count = http.post("/collections/al/points/count", json={}).json()["result"]["count"]
    assert count == 10
    renamed = change({"rename_alias": {"old_alias_name": "al", "new_alias_name": "al2"}})
    assert renamed.status_code == 200
    listed = http.get(f"/collections/{collection}/aliases").json()["result"]["aliases"]
    assert listed == [{"alias_name": "al2", "collection_name": collection}]
    clash = change({"create_alias": {"collection_name": collection, "alias_name": collection}})
    assert clash.status_code == 409
    missing = change({"delete_alias": {"alias_name": "al"}})
    assert missing.status_code == 404
    # all or nothing: the second action fails, so the first is not applied either
    both = change(
        {"delete_alias": {"alias_name": "al2"}},
        {"create_alias": {"collection_name": "nope", "alias_name": "x"}},
    )
    assert both.status_code == 404
    assert http.get("/aliases").json()["result"]["aliases"] == listed
    http.delete(f"/collections/{collection}")
    assert http.get("/aliases").json()["result"]["aliases"] == []


def test_snapshot_download_and_upload(http: httpx.Client, collection: str) -> None:
    snapshot = http.post(f"/collections/{collection}/snapshots?wait=true").json()["result"]
    file = http.get(f"/collections/{collection}/snapshots/{snapshot['name']}")
    assert file.status_code == 200 and len(file.content) == snapshot["size"]
    http.post(f"/collections/{collection}/points/delete?wait=true", json={"points": [1, 2]})
    uploaded = http.post(
        f"/collections/{collection}/snapshots/upload?checksum={snapshot['checksum']}",
        files={"snapshot": ("s.snapshot", file.content)},
    )
    assert uploaded.status_code == 200, uploaded.text
    count = http.post(f"/collections/{collection}/points/count", json={}).json()["result"]
    assert count == {"count": 10}
    bad = http.post(
        f"/collections/{collection}/snapshots/upload",
        files={"snapshot": ("s.snapshot", b"not a tar")},
    )
    assert bad.status_code == 400
    # a server reads local snapshot files only from its own snapshots folder
    outside = http.put(
        f"/collections/{collection}/snapshots/recover", json={"location": "file:///etc/passwd"}
    )
    assert outside.status_code == 403
    assert error(outside).startswith("Forbidden: Snapshot file path must be inside the snapshots")
    assert http.get(f"/collections/{collection}/snapshots/nope.snapshot").status_code == 404


def test_metrics(http: httpx.Client, collection: str) -> None:
    http.post(f"/collections/{collection}/points/query", json={"query": [1, 0, 0, 0]})
    text = http.get("/metrics").text
    labels = 'method="POST",endpoint="/collections/{collection_name}/points/query",status="200"'
    assert f"rest_responses_total{{{labels}}}" in text
    assert f"rest_responses_duration_seconds_count{{{labels}}}" in text
    assert "collections_total" in text and "collections_vector_total" in text


def test_openapi_describes_the_bodies(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    query = document["paths"]["/collections/{collection_name}/points/query"]["post"]
    ref = query["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/QueryRequest"
    assert "Filter" in document["components"]["schemas"]
    assert query["requestBody"]["required"] is True  # no body is a 400
    download = document["paths"]["/collections/{collection_name}/snapshots/{snapshot_name}"]
    assert set(download["get"]["responses"]) == {"200", "4XX"}  # its own 200, the shared 4XX


# ---- API keys ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(start_server: Callable[..., Server]) -> Server:
    return start_server(
        {"VQDB__SERVICE__API_KEY": "full-key", "VQDB__SERVICE__READ_ONLY_API_KEY": "read-key"}
    )


def test_api_keys(guarded: Server) -> None:
    url = guarded.url
    create = f"{url}/collections/k"
    body = {"vectors": {"size": 2, "distance": "Dot"}}
    assert httpx.put(create, json=body).status_code == 401
    assert httpx.put(create, json=body, headers={"api-key": "wrong"}).status_code == 401
    assert httpx.put(create, json=body, headers={"api-key": "read-key"}).status_code == 403
    bearer = {"Authorization": "Bearer full-key"}
    assert httpx.put(create, json=body, headers=bearer).status_code == 200
    reader = {"api-key": "read-key"}
    assert httpx.post(f"{create}/points/count", json={}, headers=reader).status_code == 200
    assert httpx.get(f"{url}/collections", headers=reader).status_code == 200
    assert httpx.delete(create, headers=reader).status_code == 403
    assert httpx.get(f"{url}/metrics").status_code == 401
    assert httpx.get(f"{url}/healthz").status_code == 200  # probes stay open


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_qdrant_client_with_api_key(guarded: Server) -> None:
    from qdrant_client import QdrantClient
    from qdrant_client.http.exceptions import UnexpectedResponse

    client = QdrantClient(url=guarded.url, api_key="full-key", https=False)
    assert client.collection_exists("k") or client.get_collections() is not None
    reader = QdrantClient(url=guarded.url, api_key="read-key", https=False)
    with pytest.raises(UnexpectedResponse) as denied:
        reader.create_collection("k2", vectors_config={"size": 2, "distance": "Dot"})
    assert denied.value.status_code == 403


# ---- settings ---------------------------------------------------------------------------------


def test_settings_layers(tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    file.write_text("log_level: debug\nservice:\n  http_port: 7000\n  api_key: from-file\n")
    loaded = settings.load(
        file,
        {"VQDB__SERVICE__API_KEY": "from-env", "VQDB__STORAGE__ASYNC_SCORER": "true"},
        {"service.http_port": 7100, "service.host": None},
    )
    assert loaded.log_level == "DEBUG"
    assert loaded.service.api_key == "from-env"
    assert loaded.service.http_port == 7100
    assert loaded.service.host == "127.0.0.1"
    assert loaded.storage.async_scorer is True
    with pytest.raises(ValueError, match="service.htp_port"):
        settings.load(None, {"VQDB__SERVICE__HTP_PORT": "1"})
    with pytest.raises(ValueError, match="http_port"):
        settings.load(None, {}, {"service.http_port": 70000})
    readers = {"service.reader_processes": "auto"}
    assert settings.load(None, {}, readers).service.reader_processes == "auto"
    assert (
        settings.load(None, {"VQDB__SERVICE__READER_PROCESSES": "3"}).service.reader_processes == 3
    )
    with pytest.raises(ValueError, match="reader_processes"):
        settings.load(None, {}, {"service.reader_processes": "many"})


def test_bad_settings_stop_the_command(tmp_path: Path) -> None:
    from vqdb.cli import main

    (tmp_path / "bad.yaml").write_text("service: [1, 2]\n")
    assert main(["serve", "--config", str(tmp_path / "bad.yaml")]) == 2


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    import vqdb
    from vqdb.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"vqdb {vqdb.__version__}"
    assert vqdb.__version__ == version("vqdb")  # the package's own, not a stale copy


# ---- responses against Qdrant's spec -----------------------------------------------------------


def test_responses_match_the_spec(http: httpx.Client, collection: str) -> None:
    described = spec.load()
    calls = [
        ("get", "/collections", None),
        ("get", "/collections/{collection_name}", None),
        ("get", "/collections/{collection_name}/exists", None),
        ("post", "/collections/{collection_name}/points", {"ids": [1, 2], "with_vector": True}),
        ("post", "/collections/{collection_name}/points/scroll", {"limit": 3}),
        ("post", "/collections/{collection_name}/points/count", {}),
        ("post", "/collections/{collection_name}/points/query", {"query": [1, 0, 0, 0]}),
        (
            "post",
            "/collections/{collection_name}/points/query/batch",
            {"searches": [{"query": [1, 0, 0, 0], "with_payload": True}]},
        ),
        (
            "put",
            "/collections/{collection_name}/points",
            {"points": [{"id": 99, "vector": [1, 1, 1, 1]}]},
        ),
        ("post", "/collections/{collection_name}/snapshots", None),
        ("get", "/collections/{collection_name}/snapshots", None),
        ("get", "/aliases", None),
    ]
    for method, template, body in calls:
        response = http.request(method, template.format(collection_name=collection), json=body)
        assert response.status_code == 200, response.text
        found = spec.problems(described, method, template, response.json())
        assert not found, f"{method} {template}: {found[:3]}"


def test_async_scorer_setting_reaches_the_segments(start_server: Callable[..., Server]) -> None:
    server = start_server({"VQDB__STORAGE__ASYNC_SCORER": "true"})
    with httpx.Client(base_url=server.url, timeout=60) as http:
        body = {
            "vectors": {"size": 8, "distance": "Cosine", "on_disk": True},
            "quantization_config": {"binary": {"always_ram": True}},
            "optimizers_config": {"indexing_threshold": 1},
        }
        assert http.put("/collections/d", json=body).status_code == 200
        rows = np.random.default_rng(0).standard_normal((300, 8)).tolist()
        points = [{"id": i, "vector": v} for i, v in enumerate(rows)]
        http.put("/collections/d/points?wait=true", json={"points": points})
        deadline = time.monotonic() + 60
        while http.get("/collections/d").json()["result"]["status"] != "green":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        hits = http.post("/collections/d/points/query", json={"query": rows[0], "limit": 3})
        assert hits.json()["result"]["points"][0]["id"] == 0
        telemetry = http.get("/telemetry?details_level=4").json()["result"]
    shard = telemetry["collections"]["collections"][0]["shards"][0]["local"]
    assert shard["async_scorer"] is True
    segments = [s["info"]["vector_data"] for s in shard["segments"]]
    paths = {v["read_path"] for vectors in segments for v in vectors.values()}
    assert paths & {"mmap+io_uring", "mmap+pread"}, paths


def test_sigterm_checkpoints_unsynced_writes(start_server: Callable[..., Server]) -> None:
    """wait=false writes are in the WAL but not fsynced; a SIGTERM still checkpoints them,
    and the storage reopens with every point."""
    server = start_server()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        http.put("/collections/t", json={"vectors": {"size": 2, "distance": "Dot"}})
        for i in range(20):
            points = {"points": [{"id": i, "vector": [i, 1]}]}
            assert http.put("/collections/t/points?wait=false", json=points).status_code == 200
    server.stop()
    wal = server.storage / "collections" / "t" / "wal.log"
    assert wal.stat().st_size <= 64  # checkpointed: nothing left to replay
    import vqdb

    with vqdb.Client(path=server.storage) as client:
        assert client.count("t").count == 20


def test_legacy_batch_endpoints(http: httpx.Client, collection: str) -> None:
    searches = {"searches": [{"vector": [1, 0, 0, 0], "limit": 2}, {"vector": [0, 1, 0, 0]}]}
    found = http.post(f"/collections/{collection}/points/search/batch", json=searches)
    assert [[p["id"] for p in hits] for hits in found.json()["result"]][0] == [9, 8]
    liked = {"searches": [{"positive": [9], "limit": 1}]}
    found = http.post(f"/collections/{collection}/points/recommend/batch", json=liked)
    assert found.json()["result"][0][0]["id"] == 8
    bad = http.post(f"/collections/{collection}/points/search/batch", json={"searches": [1]})
    assert bad.status_code == 400


def test_deferred_points(http: httpx.Client) -> None:
    """prevent_unoptimized: points past the indexing threshold show once indexed."""
    name = "h-deferred"
    http.delete(f"/collections/{name}")
    optimizers = {"indexing_threshold": 1, "prevent_unoptimized": True}
    body = {"vectors": {"size": 16, "distance": "Cosine"}, "optimizers_config": optimizers}
    body["optimizers_config"]["max_optimization_threads"] = 0
    assert http.put(f"/collections/{name}", json=body).status_code == 200
    x = np.random.default_rng(0).standard_normal((40, 16)).tolist()
    points = [{"id": i, "vector": v} for i, v in enumerate(x)]
    assert http.put(f"/collections/{name}/points", json={"points": points}).status_code == 200

    def shown() -> int:
        scrolled = http.post(f"/collections/{name}/points/scroll", json={"limit": 100})
        return len(scrolled.json()["result"]["points"])

    assert shown() == 16  # 1 KB of 64-byte vectors
    got = http.get(f"/collections/{name}").json()["result"]
    assert got["points_count"] == 40 and got["update_queue"]["deferred_points"] == 24
    telemetry = http.get("/telemetry", params={"details_level": 10}).json()["result"]
    (mine,) = [c for c in telemetry["collections"]["collections"] if c["id"] == name]
    segments = [s["info"] for s in mine["shards"][0]["local"]["segments"]]
    assert sum(s["num_points"] - s["num_deferred_points"] for s in segments) == 16
    late = {"points": [{"id": 99, "vector": x[0]}]}
    put = http.put(f"/collections/{name}/points?wait=true", json=late)
    assert put.json()["result"]["status"] == "acknowledged"  # the optimizer may not run

    patch = {"optimizers_config": {"max_optimization_threads": "auto"}}
    assert http.patch(f"/collections/{name}", json=patch).status_code == 200
    put = http.put(f"/collections/{name}/points?wait=true", json={"points": points[:1]})
    assert put.json()["result"]["status"] == "completed"
    assert shown() == 41
    http.delete(f"/collections/{name}")
