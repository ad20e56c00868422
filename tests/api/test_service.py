"""Qdrant's service endpoints in Qdrant's shapes: GET / with the build's commit, the probes,
/telemetry at each details level (checked against Qdrant's spec, formats included), /metrics
with Qdrant's names and labels, /issues, a standalone node's /cluster, the update queue, and
writes that answer `wait_timeout` when `timeout` passes before they are applied."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import spec
from served import Server

from vqdb import build
from vqdb.collection import telemetry as collection_telemetry
from vqdb.database import Database
from vqdb.server import create_app, settings

UPSERT = "PUT /collections/{collection_name}/points"


@pytest.fixture
def collection(http: httpx.Client, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"s-{request.node.originalname}-{zlib.crc32(request.node.name.encode())}"
    http.delete(f"/collections/{name}")
    body = {"vectors": {"size": 4, "distance": "Dot"}}
    assert http.put(f"/collections/{name}", json=body).status_code == 200
    points = [{"id": i, "vector": [i, 1, 0, 0], "payload": {"k": i}} for i in range(10)]
    assert http.put(f"/collections/{name}/points?wait=true", json={"points": points}).is_success
    yield name
    http.delete(f"/collections/{name}")


def test_root_names_version_and_commit(http: httpx.Client) -> None:
    root = http.get("/").json()
    assert set(root) == {"title", "version", "commit"}
    assert root["title"] == "qdrant - vector search engine"
    assert root["commit"] == build.commit()  # the server runs from this same checkout
    checkout = Path(build.__file__).resolve().parents[2]
    if (checkout / ".git").exists():  # a source checkout (an editable install)
        assert re.fullmatch("[0-9a-f]{40}", root["commit"])


def test_responses_name_no_server(http: httpx.Client) -> None:
    assert "server" not in http.get("/").headers  # Qdrant's name none; uvicorn's would
    assert "date" in http.get("/healthz").headers


def test_livez_answers_as_healthz(http: httpx.Client) -> None:
    assert http.get("/livez").text == http.get("/healthz").text == "healthz check passed"


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4, 10])
def test_telemetry_levels(http: httpx.Client, collection: str, level: int) -> None:
    described = spec.load()
    response = http.get(f"/telemetry?details_level={level}")
    assert response.status_code == 200
    found = spec.problems(described, "get", "/telemetry", response.json())
    assert not found, found[:3]
    result = response.json()["result"]
    upserts = result["requests"]["rest"]["responses"][UPSERT]["200"]
    assert upserts["count"] > 0 and "avg_duration_micros" in upserts
    collections = result["collections"]
    if level == 0:
        assert set(result) == {"id", "app", "collections", "cluster", "requests", "quota"}
        assert set(collections) == {"number_of_collections"}
        return
    assert set(result) == {
        *("id", "app", "collections", "cluster", "requests", "quota"),
        *("memory", "hardware", "search_pool"),
    }
    assert set(collections) == {"number_of_collections", "collections", "snapshots"}
    responded = dt.datetime.fromisoformat(upserts["last_responded"].replace("Z", "+00:00"))
    assert abs(dt.datetime.now(dt.timezone.utc) - responded) < dt.timedelta(minutes=5)
    if level == 1:
        aggregate = collections["collections"][0]
        assert set(aggregate) == {"vectors", "optimizers_status", "params"}
        return
    ours = next(c for c in collections["collections"] if c["id"] == collection)
    if level == 2:
        assert set(ours) == {"id", "init_time_ms", "config"}
        return
    assert set(ours) == {"id", "init_time_ms", "config", "shards", "transfers", "resharding"}
    (shard,) = ours["shards"]
    local = shard["local"]
    assert local["num_points"] == 10 and local["num_vectors_by_name"] == {"": 10}
    assert local["update_queue"]["length"] == 0
    assert local["payloads_size_bytes"] == 10 * len('{"k":0}')  # as compact JSON
    if level == 3:
        assert "segments" not in local
        return
    assert {"segments", "indexed_only_excluded_vectors"} <= set(local)
    points = sum(s["info"]["num_points"] for s in local["segments"])
    assert points == 10
    (segment,) = [s for s in local["segments"] if s["info"]["num_points"]]
    assert set(segment) == {"info", "config", "vector_index_searches", "payload_field_indices"}


def test_telemetry_per_collection(http: httpx.Client, collection: str) -> None:
    http.post(f"/collections/{collection}/points/count", json={})
    rest = http.get("/telemetry").json()["result"]["requests"]["rest"]
    assert "per_collection_responses" not in rest
    rest = http.get("/telemetry?per_collection=true").json()["result"]["requests"]["rest"]
    counted = rest["per_collection_responses"][collection]
    assert counted["POST /collections/{collection_name}/points/count"]["200"]["count"] == 1
    # only collections that exist: made-up names must not grow the table
    assert http.post("/collections/no-such-one/points/count", json={}).status_code == 404
    rest = http.get("/telemetry?per_collection=true").json()["result"]["requests"]["rest"]
    assert "no-such-one" not in rest["per_collection_responses"]


def test_update_queue_and_operation_numbers(http: httpx.Client, collection: str) -> None:
    def queue() -> tuple[dict[str, int], dict[str, int]]:
        described = http.get(f"/collections/{collection}").json()["result"]["update_queue"]
        result = http.get("/telemetry?details_level=3").json()["result"]
        ours = next(c for c in result["collections"]["collections"] if c["id"] == collection)
        return described, ours["shards"][0]["local"]["update_queue"]

    described, before = queue()
    assert described == {"length": 0} and before["length"] == 0
    point = {"points": [{"id": 1, "vector": [1, 0, 0, 0]}]}
    for _ in range(2):
        assert http.put(f"/collections/{collection}/points?wait=true", json=point).is_success
    assert queue()[1]["op_num"] == before["op_num"] + 2


def test_metrics_in_qdrant_format(http: httpx.Client, collection: str) -> None:
    http.post(f"/collections/{collection}/points/scroll", json={"limit": 1})
    refused = http.post(f"/collections/{collection}/points/scroll", json={"limit": -1})
    assert refused.status_code in (400, 422)
    http.get("/collections")  # not one of the endpoints Qdrant reports
    text = http.get("/metrics").text
    assert "# HELP app_info information about qdrant server\n# TYPE app_info gauge\n" in text
    assert re.search(r'^app_info\{name="qdrant",version="1\.19\.\d+"\} 1$', text, re.M)
    assert f'collection_points{{id="{collection}"}} 10\n' in text
    assert f'collection_vectors{{collection="{collection}",vector=""}} 10\n' in text
    scroll = 'method="POST",endpoint="/collections/{collection_name}/points/scroll"'
    bad = f'{scroll},status="{refused.status_code}"'
    assert re.search(rf"^rest_responses_total\{{{bad}\}} [1-9]", text, re.M)
    assert f"rest_responses_avg_duration_seconds{{{bad}}}" not in text  # timings for 200s only
    buckets = re.findall(
        rf'^rest_responses_duration_seconds_bucket\{{{scroll},status="200",le="([^"]+)"\}} (\d+)',
        text,
        re.M,
    )
    assert buckets[-1][0] == "+Inf" and len(buckets) == 12
    counts = [int(n) for _, n in buckets]
    assert counts == sorted(counts)
    count = re.search(
        rf'rest_responses_duration_seconds_count\{{{scroll},status="200"\}} (\d+)', text
    )
    assert count is not None and int(count.group(1)) == counts[-1]
    assert 'endpoint="/collections"' not in text
    assert "collection=" not in "".join(ln for ln in text.splitlines() if "rest_" in ln)

    by_collection = http.get("/metrics?per_collection=true").text
    rest = [ln for ln in by_collection.splitlines() if ln.startswith("rest_")]
    assert rest and all("collection=" in ln for ln in rest)
    assert any(f'collection="{collection}"' in ln for ln in rest)


def test_issues(http: httpx.Client) -> None:
    assert http.get("/issues").json()["result"] == {"issues": []}
    assert http.delete("/issues").json()["result"] is True


def test_standalone_cluster(http: httpx.Client) -> None:
    assert http.get("/cluster").json()["result"] == {"status": "disabled"}
    for method, path in [
        ("POST", "/cluster/recover"),
        ("DELETE", "/cluster/peer/1"),
        ("GET", "/cluster/metadata/keys"),
        ("PUT", "/cluster/metadata/keys/k"),
    ]:
        response = http.request(method, path)
        assert response.status_code == 405
        assert "standalone mode" in response.json()["status"]["error"]


def test_service_endpoints_need_the_key(start_server: Callable[..., Server]) -> None:
    url = start_server(
        {"VQDB__SERVICE__API_KEY": "full", "VQDB__SERVICE__READ_ONLY_API_KEY": "r"}
    ).url
    for path in ("/telemetry", "/metrics", "/issues", "/cluster"):
        assert httpx.get(url + path).status_code == 401
        assert httpx.get(url + path, headers={"api-key": "r"}).status_code == 200
    assert httpx.delete(f"{url}/issues", headers={"api-key": "r"}).status_code == 403
    assert httpx.get(url + "/", headers={}).status_code == 200  # the root stays open


def test_write_answers_wait_timeout_while_the_collection_is_held(tmp_path: Path) -> None:
    """A write with wait=true&timeout=1 that cannot get the collection within a second answers
    wait_timeout, and is applied once the collection is free; without a timeout it waits."""
    point = {"points": [{"id": 1, "vector": [1, 0]}]}
    timed_out = {"operation_id": None, "status": "wait_timeout"}

    async def scenario(db: Database) -> None:
        app = create_app(db, settings.load(None, {}))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vqdb") as client:
            await client.put("/collections/c", json={"vectors": {"size": 2, "distance": "Dot"}})
            with db.collection("c").lock.write():  # as a long write or a snapshot holds it
                late = await client.put("/collections/c/points?wait=true&timeout=1", json=point)
                batch = await client.post(
                    "/collections/c/points/batch?wait=true&timeout=1",
                    json={"operations": [{"upsert": point}, {"delete": {"points": [7]}}]},
                )
            assert late.json()["result"] == timed_out
            assert batch.json()["result"] == [timed_out, timed_out]
            waited = await client.put("/collections/c/points?wait=true", json=point)
            assert waited.json()["result"]["status"] == "completed"
            count = await client.post("/collections/c/points/count", json={})
            assert count.json()["result"] == {"count": 1}
            quick = await client.put("/collections/c/points?wait=true&timeout=5", json=point)
            assert quick.json()["result"]["status"] == "completed"

    with Database(tmp_path) as db:
        asyncio.run(scenario(db))


def test_writes_waiting_for_the_collection_are_its_update_queue(tmp_path: Path) -> None:
    with Database(tmp_path) as db:
        c = db.create_collection("q", {"vectors": {"size": 2, "distance": "Dot"}})
        assert collection_telemetry.update_queue(c) == {"length": 0, "op_num": 0}
        point = {"points": [{"id": 1, "vector": [1, 0]}]}
        with c.lock.write():
            writer = threading.Thread(target=c.upsert, args=(point,))
            writer.start()
            for _ in range(500):
                if c.queued:
                    break
                time.sleep(0.01)
            assert collection_telemetry.update_queue(c) == {"length": 1, "op_num": 0}
        writer.join(30)
        assert collection_telemetry.update_queue(c) == {"length": 0, "op_num": 1}


@pytest.fixture(scope="module")
def staging(start_server: Callable[..., Server]) -> Server:
    return start_server({"VQDB__SERVICE__STAGING": "true"})


@pytest.mark.parametrize(
    ("delay_params", "delay_status"),
    [
        ({}, "acknowledged"),
        ({"wait": "true"}, "completed"),
        ({"wait": "true", "timeout": "1"}, "wait_timeout"),
    ],
)
def test_staging_delay_makes_writes_wait(
    staging: Server, delay_params: dict[str, str], delay_status: str
) -> None:
    """Qdrant's wait_timeout scenarios: a staging delay holds the collection for 3 s while an
    upsert with wait=true&timeout=1 answers wait_timeout; the delay answers as its own wait
    and timeout ask."""
    with httpx.Client(base_url=staging.url, timeout=60) as http:
        app = http.get("/telemetry?details_level=1").json()["result"]["app"]
        assert app["features"]["staging"] is True
        name = f"delay-{len(delay_params)}"
        http.delete(f"/collections/{name}")
        http.put(f"/collections/{name}", json={"vectors": {"size": 2, "distance": "Dot"}})
        delayed: list[httpx.Response] = []
        delay = threading.Thread(
            target=lambda: delayed.append(
                http.post(
                    f"/collections/{name}/debug",
                    params=delay_params,
                    json={"delay": {"duration_sec": 3.0}},
                )
            )
        )
        delay.start()
        time.sleep(0.5)  # the delay holds the collection by now
        point = {"points": [{"id": 1, "vector": [1, 0]}]}
        upsert = http.put(f"/collections/{name}/points?wait=true&timeout=1", json=point)
        delay.join(30)
        assert upsert.json()["result"]["status"] == "wait_timeout"
        assert delayed[0].json()["result"]["status"] == delay_status
        bad = http.post(f"/collections/{name}/debug", json={"delay": {"duration_sec": 301}})
        assert bad.status_code == 400


def test_staging_operations_are_off_by_default(http: httpx.Client, collection: str) -> None:
    delay = {"delay": {"duration_sec": 0}}
    assert http.post(f"/collections/{collection}/debug", json=delay).status_code == 404
    app = http.get("/telemetry?details_level=1").json()["result"]["app"]
    assert app["features"]["staging"] is False


def test_telemetry_of_built_segments_matches_the_spec(http: httpx.Client) -> None:
    """Named dense (on disk), multi and sparse vectors, a payload index, optimized segments."""
    described = spec.load()
    name = "s-built"
    http.delete(f"/collections/{name}")
    body = {
        "vectors": {
            "a": {"size": 2, "distance": "Cosine", "on_disk": True},
            "m": {"size": 2, "distance": "Dot", "multivector_config": {"comparator": "max_sim"}},
        },
        "sparse_vectors": {"s": {}},
        "optimizers_config": {"indexing_threshold": 1},
    }
    assert http.put(f"/collections/{name}", json=body).is_success
    index = {"field_name": "k", "field_schema": "integer"}
    assert http.put(f"/collections/{name}/index?wait=true", json=index).is_success
    points = [
        {
            "id": i,
            "vector": {
                "a": [i, 1],
                "m": [[i, 1], [1, i]],
                "s": {"indices": [i], "values": [1.0]},
            },
            "payload": {"k": i},
        }
        for i in range(1, 300)
    ]
    assert http.put(f"/collections/{name}/points?wait=true", json={"points": points}).is_success
    deadline = time.monotonic() + 120
    while http.get(f"/collections/{name}").json()["result"]["status"] != "green":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    response = http.get("/telemetry?details_level=4")
    found = spec.problems(described, "get", "/telemetry", response.json())
    assert not found, found[:3]
    result = response.json()["result"]
    ours = next(c for c in result["collections"]["collections"] if c["id"] == name)
    local = ours["shards"][0]["local"]
    assert local["num_vectors_by_name"] == {"a": 299, "m": 299, "s": 299}
    assert local["total_optimized_points"] >= 299
    assert local["optimizations"]["optimizations"]["count"] >= 1
    built = [s for s in local["segments"] if not s["info"]["is_appendable"]]
    assert built and built[0]["info"]["segment_type"] == "indexed"
    assert built[0]["info"]["index_schema"]["k"]["data_type"] == "integer"
    assert set(built[0]["config"]["sparse_vector_data"]) == {"s"}
    assert built[0]["config"]["vector_data"]["a"]["storage_type"] == "Mmap"
    http.delete(f"/collections/{name}")


def test_optimization_progress(http: httpx.Client) -> None:
    """GET /collections/{name}/optimizations: the jobs the optimizer ran, with their phases,
    the segments nothing is planned for, in Qdrant's shapes."""
    name = "optimizations"
    http.delete(f"/collections/{name}")
    body = {
        "vectors": {"size": 4, "distance": "Dot"},
        "optimizers_config": {"indexing_threshold": 1},
    }
    assert http.put(f"/collections/{name}", json=body).is_success
    fresh = http.get(f"/collections/{name}/optimizations").json()["result"]
    assert fresh["running"] == [] and "queued" not in fresh and "completed" not in fresh
    points = [{"id": i, "vector": [i, 1, 0, 2]} for i in range(1, 500)]
    assert http.put(f"/collections/{name}/points?wait=true", json={"points": points}).is_success
    deadline = time.monotonic() + 120
    while http.get(f"/collections/{name}").json()["result"]["status"] != "green":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    path = f"/collections/{name}/optimizations?with=queued, completed ,idle_segments"
    response = http.get(path).json()
    found = spec.problems(
        spec.load(), "get", "/collections/{collection_name}/optimizations", response
    )
    assert not found, found[:3]
    result = response["result"]
    assert result["running"] == [] and result["queued"] == []
    indexing = [job for job in result["completed"] if job["optimizer"] == "indexing"]
    assert indexing and indexing[0]["status"] == "done"
    assert sum(s["points_count"] for s in indexing[0]["segments"]) == 499
    phases = [p["name"] for p in indexing[0]["progress"]["children"]]
    assert phases == ["snapshot", "build", "save", "swap"]
    assert all(p["finished_at"] for p in indexing[0]["progress"]["children"])
    idle = {s["uuid"]: s["points_count"] for s in result["idle_segments"]}
    assert indexing[0]["uuid"] in idle and idle[indexing[0]["uuid"]] == 499
    assert result["summary"]["idle_segments"] == len(idle)
    limited = http.get(f"/collections/{name}/optimizations?with=completed&completed_limit=0")
    assert limited.json()["result"]["completed"] == []
    bad = http.get(f"/collections/{name}/optimizations?with=everything")
    assert bad.status_code == 400, bad.text
    http.delete(f"/collections/{name}")


def test_an_installed_copy_reports_the_commit_it_was_built_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside a checkout, `commit` is what the build recorded (CMakeLists.txt's commit.txt):
    a 40-hex string, or null when the build knew none."""
    monkeypatch.setattr(build, "PACKAGE", tmp_path)
    monkeypatch.setattr(build, "_checkout_head", lambda: None)
    build.commit.cache_clear()
    try:
        assert build.commit() is None  # no record
        (tmp_path / "commit.txt").write_text("")  # built outside a git checkout
        build.commit.cache_clear()
        assert build.commit() is None
        (tmp_path / "commit.txt").write_text("0123456789abcdef0123456789abcdef01234567\n")
        build.commit.cache_clear()
        assert build.commit() == "0123456789abcdef0123456789abcdef01234567"
    finally:
        build.commit.cache_clear()
