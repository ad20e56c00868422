"""Qdrant's whole snapshot surface over HTTP: full storage snapshots, shard snapshots (vqdb's one
shard, 0), partial snapshots, `wait=false` (202, done in the background), and the answers
Qdrant gives to local locations (400 Bad request, 403 outside the snapshots folder) and to
malformed checksums (422, before an upload is read)."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from served import Server, ok

from vqdb.errors import NotFound
from vqdb.server.background import Jobs

POINTS = [{"id": i, "vector": [i, 1, 0, 0], "payload": {"k": i}} for i in range(10)]
SHA = "3" * 64


@pytest.fixture(scope="module")
def own(start_server: Callable[..., Server]) -> Server:
    """A server of this module alone: full snapshots take every collection it has."""
    return start_server()


@pytest.fixture
def http(own: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=own.url, timeout=60) as client:
        yield client
        for name in [c["name"] for c in ok(client.get("/collections"))["collections"]]:
            client.delete(f"/collections/{name}")
        for snapshot in ok(client.get("/snapshots")):
            client.delete(f"/snapshots/{snapshot['name']}")


def make(http: httpx.Client, name: str, points: list[dict[str, Any]] = POINTS) -> str:
    assert http.put(f"/collections/{name}", json={"vectors": {"size": 4, "distance": "Dot"}})
    ok(http.put(f"/collections/{name}/points?wait=true", json={"points": points}))
    return name


def count(http: httpx.Client, name: str) -> int:
    return int(ok(http.post(f"/collections/{name}/points/count", json={}))["count"])


def error(response: httpx.Response) -> str:
    return str(response.json()["status"]["error"])


def until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 20
    while not check():
        assert time.monotonic() < deadline, "not done in the background within 20 s"
        time.sleep(0.05)


# ---- wait=false -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base", ["/collections/{c}/snapshots", "/collections/{c}/shards/0/snapshots", "/snapshots"]
)
def test_not_waiting_answers_202_and_finishes_in_the_background(
    http: httpx.Client, base: str
) -> None:
    base = base.format(c=make(http, "w"))
    started = http.post(f"{base}?wait=false")
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["status"] == "accepted" and "result" not in body  # Qdrant's answer
    until(lambda: len(ok(http.get(base))) == 1)
    name = ok(http.get(base))[0]["name"]
    deleted = http.delete(f"{base}/{name}?wait=false")
    assert deleted.status_code == 202 and deleted.json()["status"] == "accepted"
    until(lambda: ok(http.get(base)) == [])
    # a failure has no request left to answer: still 202, and the server goes on
    assert http.delete(f"{base}/{name}?wait=false").status_code == 202
    assert http.get(f"{base}/{name}").status_code == 404


def test_waiting_is_the_default(http: httpx.Client) -> None:
    make(http, "d")
    taken = http.post("/collections/d/snapshots")  # no wait: Qdrant waits
    assert taken.status_code == 200 and ok(taken)["name"].endswith(".snapshot")
    assert http.post("/collections/d/snapshots?wait=maybe").status_code == 400


def test_recovery_not_waited_for(http: httpx.Client, own: Server) -> None:
    make(http, "r")
    taken = ok(http.post("/collections/r/snapshots"))
    data = http.get(f"/collections/r/snapshots/{taken['name']}").content
    started = http.post(
        "/collections/copy/snapshots/upload?wait=false",
        files={"snapshot": ("s.snapshot", data)},
    )
    assert started.status_code == 202, started.text
    until(lambda: http.get("/collections/copy/exists").json()["result"]["exists"])
    assert count(http, "copy") == 10
    location = {"location": f"file://{own.storage / 'snapshots' / 'r' / taken['name']}"}
    started = http.put("/collections/copy2/snapshots/recover?wait=false", json=location)
    assert started.status_code == 202, started.text
    until(lambda: http.get("/collections/copy2/exists").json()["result"]["exists"])


# ---- full storage snapshots -------------------------------------------------------------------


def test_full_snapshot_holds_every_collection_and_alias(http: httpx.Client, own: Server) -> None:
    assert ok(http.get("/snapshots")) == []
    make(http, "one")
    make(http, "two", POINTS[:3])
    change = {"actions": [{"create_alias": {"collection_name": "two", "alias_name": "deux"}}]}
    ok(http.post("/collections/aliases", json=change))
    taken = ok(http.post("/snapshots"))
    assert taken["name"].startswith("full-snapshot-") and taken["name"].endswith(".snapshot")
    assert ok(http.get("/snapshots")) == [taken]
    file = http.get(f"/snapshots/{taken['name']}")
    assert file.status_code == 200 and len(file.content) == taken["size"]
    assert hashlib.sha256(file.content).hexdigest() == taken["checksum"]
    with tarfile.open(fileobj=io.BytesIO(file.content)) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    config = json.loads(members.pop("config.json"))
    assert config["collections_aliases"] == {"deux": "two"}
    assert set(config["collections_mapping"]) == {"one", "two"}
    assert set(members) == set(config["collections_mapping"].values())
    # each member is a collection snapshot, recoverable on its own
    two = members[config["collections_mapping"]["two"]]
    recovered = http.post(
        "/collections/restored/snapshots/upload", files={"snapshot": ("s.snapshot", two)}
    )
    assert recovered.status_code == 200, recovered.text
    assert count(http, "restored") == 3
    # the collection snapshots were taken in a scratch folder and left nowhere
    assert ok(http.get("/collections/one/snapshots")) == []
    folder = own.storage / "snapshots"
    kept = sorted(p.name for p in folder.iterdir() if p.is_file())
    assert kept == [taken["name"], f"{taken['name']}.checksum"]
    assert not [p for p in (folder / "one").rglob("*") if p.is_file()]
    assert ok(http.delete(f"/snapshots/{taken['name']}")) is True
    assert ok(http.get("/snapshots")) == []
    missing = http.get(f"/snapshots/{taken['name']}")
    assert missing.status_code == 404 and error(missing).startswith("Not found: Snapshot")


def test_full_snapshot_names_pick_files_of_the_folder_only(http: httpx.Client) -> None:
    make(http, "c")
    ok(http.post("/collections/c/snapshots"))
    names = ["..%2F..%2Fetc%2Fpasswd", "..", "%2E%2E", "c", "c%2Fx.snapshot", "config.json"]
    for name in names:
        for method in ("GET", "DELETE"):
            request = http.build_request(method, f"/snapshots/{name}")
            request.extensions["target"] = f"/snapshots/{name}".encode()  # as it is
            answer = http.send(request)
            assert answer.status_code in (400, 404), (name, answer.text)
    assert len(ok(http.get("/collections/c/snapshots"))) == 1  # nothing deleted


def test_full_snapshot_of_an_empty_storage(http: httpx.Client) -> None:
    taken = ok(http.post("/snapshots"))
    with tarfile.open(fileobj=io.BytesIO(http.get(f"/snapshots/{taken['name']}").content)) as tar:
        assert tar.getnames() == ["config.json"]


# ---- shard snapshots --------------------------------------------------------------------------


def test_shard_snapshots(http: httpx.Client) -> None:
    make(http, "s")
    base = "/collections/s/shards/0/snapshots"
    assert ok(http.get(base)) == []
    taken = ok(http.post(f"{base}?wait=true"))
    assert taken["name"].startswith("s-shard-0-")
    assert ok(http.get(base)) == [taken]
    assert ok(http.get("/collections/s/snapshots")) == []  # a folder of its own
    data = http.get(f"{base}/{taken['name']}").content
    assert hashlib.sha256(data).hexdigest() == taken["checksum"]
    ok(http.post("/collections/s/points/delete?wait=true", json={"points": [1, 2, 3]}))
    # by name, from the shard's folder
    ok(http.put(f"{base}/recover", json={"location": taken["name"], "checksum": taken["checksum"]}))
    assert count(http, "s") == 10
    # uploaded
    ok(http.post("/collections/s/points/delete?wait=true", json={"points": [1]}))
    uploaded = http.post(f"{base}/upload", files={"snapshot": ("x", data)})
    assert uploaded.status_code == 200, uploaded.text
    assert count(http, "s") == 10
    wrong = http.post(f"{base}/upload?checksum={SHA}", files={"snapshot": ("x", data)})
    assert wrong.status_code == 400 and "checksum mismatch" in error(wrong)
    assert ok(http.delete(f"{base}/{taken['name']}")) is True
    assert ok(http.get(base)) == []


def test_shard_snapshot_errors(http: httpx.Client) -> None:
    make(http, "e")
    missing = http.get("/collections/e/shards/1/snapshots")
    assert missing.status_code == 404 and error(missing) == "Not found: shard 1 not found"
    assert http.post("/collections/e/shards/7/snapshots").status_code == 404
    assert http.get("/collections/e/shards/x/snapshots").status_code == 400
    assert http.get(f"/collections/e/shards/{1 << 32}/snapshots").status_code == 400
    assert http.get("/collections/nope/shards/0/snapshots").status_code == 404
    recover = "/collections/e/shards/0/snapshots/recover"
    nope = http.put("/collections/nope/shards/0/snapshots/recover", json={"location": "x"})
    assert nope.status_code == 404
    file_url = http.put(recover, json={"location": "file:///etc/passwd"})
    assert file_url.status_code == 400
    assert "URLs with file scheme are not supported" in error(file_url)
    for name in ["whatever.snapshot", "../../../etc/passwd", "/etc/passwd"]:
        answer = http.put(recover, json={"location": name})
        assert answer.status_code in (400, 404), (name, answer.text)
    unreachable = http.put(recover, json={"location": "http://127.0.0.1:9/s.snapshot"})
    assert unreachable.status_code == 400
    assert count(http, "e") == 10  # untouched by all of it
    # an upload to a shard that does not exist is refused before it is read
    refused = http.post(
        "/collections/e/shards/1/snapshots/upload", files={"snapshot": ("x", b"not a tar")}
    )
    assert refused.status_code == 404


def test_stream_shard_snapshot(http: httpx.Client, own: Server) -> None:
    make(http, "st")
    streamed = http.get("/collections/st/shards/0/snapshot")
    assert streamed.status_code == 200
    assert ok(http.get("/collections/st/shards/0/snapshots")) == []  # not kept
    shard_folder = own.storage / "snapshots" / "st" / "shards" / "0"
    until(lambda: list(shard_folder.iterdir()) == [])  # its scratch folder is gone
    ok(http.post("/collections/st/points/delete?wait=true", json={"points": [0]}))
    uploaded = http.post(
        "/collections/st/shards/0/snapshots/upload",
        files={"snapshot": ("x", streamed.content)},
    )
    assert uploaded.status_code == 200, uploaded.text
    assert count(http, "st") == 10


# ---- partial snapshots ------------------------------------------------------------------------


def test_partial_snapshots(http: httpx.Client) -> None:
    make(http, "p")
    shard = "/collections/p/shards/0/snapshot/partial"
    before = ok(http.get(f"{shard}/manifest"))
    assert before and all(
        m["segment_id"] == s and m["file_versions"] and m["segment_version"] >= 0
        for s, m in before.items()
    )
    written = ok(
        http.post(
            "/collections/p/points/vectors/delete?wait=true", json={"points": [1], "vector": [""]}
        )
    )
    after = ok(http.get(f"{shard}/manifest"))
    versions = [v for m in after.values() for v in m["file_versions"].values()]
    assert max(versions) >= written["operation_id"]
    # a replica that has everything gets 304; one that has less gets the shard
    assert http.post(f"{shard}/create", json=after).status_code == 304
    sent = http.post(f"{shard}/create", json=before)
    assert sent.status_code == 200
    ok(http.post("/collections/p/points/delete?wait=true", json={"points": [5, 6]}))
    recovered = http.post(f"{shard}/recover", files={"snapshot": ("x", sent.content)})
    assert recovered.status_code == 200, recovered.text
    assert count(http, "p") == 10
    assert http.get("/collections/p/shards/2/snapshot/partial/manifest").status_code == 404


@pytest.mark.parametrize(
    "endpoint",
    [
        "/collections/{c}/snapshots/upload",
        "/collections/{c}/shards/0/snapshots/upload",
        "/collections/{c}/shards/0/snapshot/partial/recover",
    ],
)
@pytest.mark.parametrize("checksum", ["abc", "g" * 64, " " + "a" * 63])
def test_malformed_checksums_are_422_before_the_upload(
    http: httpx.Client, endpoint: str, checksum: str
) -> None:
    target = endpoint.format(c=make(http, "k"))
    form = http.post(target, params={"checksum": checksum}, files={"snapshot": ("x", b"junk")})
    assert form.status_code == 422, form.text
    assert error(form).startswith("Validation error in query parameters: [checksum: ")
    if len(checksum) != 64:
        assert "invalid_sha256_hash" in form.text
    # refused before the body is read: no form at all gets the same answer
    bare = http.post(target, params={"checksum": checksum}, content=b"not a form")
    assert bare.status_code == 422


@pytest.mark.parametrize(
    "endpoint", ["/collections/k/snapshots/recover", "/collections/k/shards/0/snapshots/recover"]
)
def test_malformed_checksums_in_a_recover_body_are_422(http: httpx.Client, endpoint: str) -> None:
    make(http, "k")
    answer = http.put(endpoint, json={"location": "file:///x.snapshot", "checksum": "abc"})
    assert answer.status_code == 422, answer.text
    assert error(answer).startswith("Validation error in JSON body: [checksum: ")


# ---- local locations --------------------------------------------------------------------------


def test_local_locations_as_qdrant_answers_them(
    http: httpx.Client, own: Server, tmp_path: Path
) -> None:
    recover = "/collections/somewhere/snapshots/recover"
    invalid = "Bad request: Invalid snapshot URI, file path must be absolute or on localhost"
    for location in ["file://whatever.snapshot", "file://./etc/passwd"]:
        answer = http.put(recover, json={"location": location})
        assert answer.status_code == 400 and error(answer) == invalid, location
    for location in ["file:///whatever.snapshot", "file://localhost/whatever.snapshot"]:
        answer = http.put(recover, json={"location": location})
        assert answer.status_code == 400
        assert error(answer) == 'Bad request: Snapshot file "/whatever.snapshot" does not exist'
    outside = http.put(recover, json={"location": "file:///etc/passwd"})
    assert outside.status_code == 403
    assert error(outside).startswith(
        "Forbidden: Snapshot file path must be inside the snapshots directory"
    )
    # a link inside the snapshots folder to a file outside is outside too
    target = tmp_path / "elsewhere.snapshot"
    target.write_bytes(b"x")
    folder = own.storage / "snapshots"
    folder.mkdir(exist_ok=True)
    (folder / "link.snapshot").symlink_to(target)
    try:
        linked = http.put(recover, json={"location": f"file://{folder / 'link.snapshot'}"})
        assert linked.status_code == 403
    finally:
        (folder / "link.snapshot").unlink()
    assert http.get("/collections/somewhere/exists").json()["result"]["exists"] is False


# ---- the background jobs themselves -----------------------------------------------------------


def test_jobs_log_failures_and_are_joined(caplog: pytest.LogCaptureFixture) -> None:
    jobs = Jobs()
    gate = threading.Event()
    done: list[int] = []

    def slow() -> None:
        gate.wait(10)
        done.append(1)

    def failing() -> None:
        raise NotFound("Snapshot x not found")

    jobs.start("slow", slow)
    with caplog.at_level(logging.ERROR, logger="vqdb.server"):
        jobs.start("failing", failing)
        joiner = threading.Thread(target=jobs.join)
        joiner.start()
        joiner.join(0.2)
        assert joiner.is_alive() and done == []  # join waits for the slow one
        gate.set()
        joiner.join(10)
    assert done == [1]
    assert "failing (not waited for) failed: NotFound: Snapshot x not found" in caplog.text
