"""`vqdb serve` with reader processes (server/readers.py): they answer the searches of the
connections handed to them from a follower of the storage, every write goes to the one process
that writes it, and a read sees every write acknowledged before it was sent, on any
connection."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn

from tests.api.served import Server, ok
from vqdb.errors import StorageError
from vqdb.server import readers as readers_module
from vqdb.server.app import Following
from vqdb.server.loops import WorkerLoop
from vqdb.server.readers import Readers, _Reader
from vqdb.server.responses import Responses

READERS = 2
DIM = 16


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Server]:
    args = ("--reader-processes", str(READERS))  # the 413 test sets it in the environment
    server = Server(tmp_path / "storage", args=args, log_level="INFO")
    try:
        deadline = time.monotonic() + 60
        while server.output().count("is serving") < READERS:  # each says so once it is up
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        yield server
    finally:
        server.stop()


def readers_of(server: Server) -> list[int]:
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return [int(pid) for pid in children.read_text().split()]


def make_collection(url: str, name: str = "c", n: int = 300, seed: int = 0) -> np.ndarray:
    """Clustered, unnormalised vectors with int8 codes and an HNSW index: the hard kind."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 5, (6, DIM))
    x = (centers[rng.integers(0, 6, n)] + rng.normal(0, 0.3, (n, DIM))).astype(np.float32)
    body = {
        "vectors": {"size": DIM, "distance": "Euclid"},
        "quantization_config": {"scalar": {"type": "int8"}},
        "optimizers_config": {"indexing_threshold": 1},
    }
    ok(httpx.put(f"{url}/collections/{name}", json=body))
    points = [{"id": i, "vector": v.tolist(), "payload": {"k": i % 5}} for i, v in enumerate(x)]
    ok(httpx.put(f"{url}/collections/{name}/points?wait=true", json={"points": points}))
    return x


def test_searches_are_answered_by_the_readers_while_the_writer_is_stopped(
    served: Server,
) -> None:
    make_collection(served.url)
    settled(served.url)  # no segment swapped between the answer expected and the ones got
    query = {"query": [0.5] * DIM, "limit": 5}
    with httpx.Client(base_url=served.url, timeout=5) as client:
        expected = ok(client.post("/collections/c/points/query", json=query))
        os.kill(served.process.pid, signal.SIGSTOP)  # the writer: nothing of it runs now
        try:
            for _ in range(20):  # this connection lives in a reader process
                assert ok(client.post("/collections/c/points/query", json=query)) == expected
            assert ok(client.post("/collections/c/points/count", json={})) == {"count": 300}
            with pytest.raises(httpx.ReadTimeout):  # a write goes to the writer, and waits
                client.put("/collections/c/points?wait=true", json={"points": []}, timeout=1)
        finally:
            os.kill(served.process.pid, signal.SIGCONT)
    assert len(readers_of(served)) == READERS


def test_every_acknowledged_write_is_seen_by_the_next_read_on_any_connection(
    served: Server,
) -> None:
    make_collection(served.url, n=50)
    failures: list[str] = []

    def writer_and_reader(worker: int) -> None:
        # two connections: the write's and the read's usually live in different processes
        with (
            httpx.Client(base_url=served.url, timeout=30) as writes,
            httpx.Client(base_url=served.url, timeout=30) as reads,
        ):
            for i in range(25):
                pid = 1000 + worker * 100 + i
                vector = [float(worker), float(i)] + [0.0] * (DIM - 2)
                point = {"id": pid, "vector": vector, "payload": {"w": worker}}
                ok(writes.put("/collections/c/points?wait=true", json={"points": [point]}))
                got = ok(reads.post("/collections/c/points", json={"ids": [pid]}))
                if [p["id"] for p in got] != [pid]:
                    failures.append(f"{pid} written, then not found")
                hit = ok(reads.post("/collections/c/points/query", json={"query": vector}))
                if hit["points"][0]["id"] != pid:
                    failures.append(f"{pid} written, then not the nearest to itself")
                if i % 5 == 4:
                    ok(
                        writes.post(
                            "/collections/c/points/delete?wait=true", json={"points": [pid]}
                        )
                    )
                    if ok(reads.post("/collections/c/points", json={"ids": [pid]})):
                        failures.append(f"{pid} deleted, then found")

    threads = [threading.Thread(target=writer_and_reader, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[:5]
    count = {"exact": True}
    assert ok(httpx.post(f"{served.url}/collections/c/points/count", json=count)) == {
        "count": 50 + 4 * 20
    }


def test_collections_and_aliases_made_on_one_connection_are_read_on_another(
    served: Server,
) -> None:
    with (
        httpx.Client(base_url=served.url) as writes,
        httpx.Client(base_url=served.url) as reads,
    ):
        for round_ in range(3):
            make_collection(served.url, name="d", n=20, seed=round_)
            actions = [{"create_alias": {"alias_name": "the-d", "collection_name": "d"}}]
            ok(writes.post("/collections/aliases", json={"actions": actions}))
            assert ok(reads.post("/collections/the-d/points/count", json={})) == {"count": 20}
            ok(writes.delete("/collections/d"))
            gone = reads.post("/collections/the-d/points/count", json={})
            assert gone.status_code == 404, gone.text


def test_the_readers_answer_as_the_writer_does(served: Server, tmp_path: Path) -> None:
    """The same writes to a server without reader processes, and the same reads of both."""
    plain = Server(tmp_path / "plain")
    try:
        for url in (served.url, plain.url):
            make_collection(url, seed=3)
            ok(httpx.put(f"{url}/collections/c/points?wait=true", json=_more_points()))
            ok(httpx.post(f"{url}/collections/c/points/delete?wait=true", json=_deleted()))
            index = {"field_name": "k", "field_schema": "integer"}
            ok(httpx.put(f"{url}/collections/c/index?wait=true", json=index))
            settled(url)  # both optimized alike: approximate searches see the same segments
        rng = np.random.default_rng(9)
        for i in range(10):
            q = (rng.normal(0, 5, DIM)).astype(np.float32).tolist()
            bodies: list[tuple[str, dict[str, Any]]] = [
                ("query", {"query": q, "limit": 7, "params": {"exact": True}}),
                ("query", {"query": q, "limit": 7, "filter": _filter(i)}),
                ("scroll", {"limit": 20, "filter": _filter(i), "with_vector": True}),
                ("count", {"filter": _filter(i), "exact": True}),
                ("query/batch", {"searches": [{"query": q, "limit": 3}] * 3}),
            ]
            for route, body in bodies:
                answers = [
                    ok(httpx.post(f"{url}/collections/c/points/{route}", json=body))
                    for url in (served.url, plain.url)
                ]
                assert answers[0] == answers[1], (route, body)
    finally:
        plain.stop()


def test_a_reader_that_dies_takes_only_its_connections_and_another_takes_its_place(
    served: Server,
) -> None:
    make_collection(served.url, n=20)
    dead = readers_of(served)[0]
    os.kill(dead, signal.SIGKILL)
    for _ in range(10):  # new connections: the other reader, or the writer, answer them
        with httpx.Client(base_url=served.url, timeout=10) as client:
            assert ok(client.post("/collections/c/points/count", json={})) == {"count": 20}
    deadline = time.monotonic() + 30
    while served.output().count("is serving") < READERS + 1:
        assert time.monotonic() < deadline, served.output()
        time.sleep(0.05)
    assert "ended" in served.output()
    alive = readers_of(served)
    assert len(alive) == READERS and dead not in alive


def test_the_readers_end_with_the_writer(served: Server) -> None:
    readers = readers_of(served)
    served.stop()
    for pid in readers:
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid)


def settled(url: str) -> None:
    deadline = time.monotonic() + 60
    while ok(httpx.get(f"{url}/collections/c"))["status"] != "green":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _zombie(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"


def _more_points() -> dict[str, Any]:
    rng = np.random.default_rng(5)
    x = rng.normal(0, 5, (40, DIM)).astype(np.float32)
    return {
        "points": [
            {"id": 300 + i, "vector": v.tolist(), "payload": {"k": i % 3}} for i, v in enumerate(x)
        ]
    }


def _deleted() -> dict[str, Any]:
    return {"filter": {"must": [{"key": "k", "match": {"value": 4}}]}}


def _filter(i: int) -> dict[str, Any]:
    return {"must": [{"key": "k", "range": {"gte": i % 4}}]}


def test_bodies_of_any_framing_reach_the_writer(served: Server) -> None:
    """A chunked upsert and a snapshot's multipart upload, sent on connections that live in
    reader processes, arrive whole."""
    make_collection(served.url, n=20)
    points = {"points": [{"id": 500 + i, "vector": [float(i)] * DIM} for i in range(50)]}
    raw = json.dumps(points).encode()

    def pieces() -> Iterator[bytes]:
        for i in range(0, len(raw), 100):
            yield raw[i : i + 100]

    with httpx.Client(base_url=served.url, timeout=30) as client:
        answer = client.put(
            "/collections/c/points?wait=true",
            content=pieces(),
            headers={"content-type": "application/json"},
        )
        ok(answer)
        assert ok(client.post("/collections/c/points/count", json={})) == {"count": 70}
        snapshot = ok(client.post("/collections/c/snapshots"))["name"]
        taken = client.get(f"/collections/c/snapshots/{snapshot}")
        assert taken.status_code == 200 and len(taken.content) > 1000
        files = {"snapshot": ("c.snapshot", taken.content)}
        ok(client.post("/collections/copy/snapshots/upload?wait=true", files=files))
        assert ok(client.post("/collections/copy/points/count", json={})) == {"count": 70}


def test_a_read_rate_limit_is_one_budget_across_the_readers(served: Server) -> None:
    make_collection(served.url, n=20)
    strict = {"strict_mode_config": {"enabled": True, "read_rate_limit": 4}}
    ok(httpx.patch(f"{served.url}/collections/c", json=strict))
    statuses = []
    for _ in range(8):  # a connection each: spread over both readers
        with httpx.Client(base_url=served.url) as client:
            statuses.append(client.post("/collections/c/points/count", json={}).status_code)
    assert statuses.count(200) == 4 and statuses.count(429) == 4, statuses


def test_the_writer_counts_the_responses_the_readers_served(served: Server) -> None:
    make_collection(served.url, n=20)
    route = "POST /collections/{collection_name}/points/query"
    for _ in range(6):  # a connection each: spread over both readers
        with httpx.Client(base_url=served.url) as client:
            for _ in range(5):
                ok(client.post("/collections/c/points/query", json={"query": [1.0] * DIM}))
    deadline = time.monotonic() + 10
    while True:  # the readers report twice a second
        rest = ok(httpx.get(f"{served.url}/telemetry?details_level=1"))["requests"]["rest"]
        count = rest["responses"].get(route, {}).get("200", {}).get("count", 0)
        if count == 30 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert count == 30
    metrics = httpx.get(f"{served.url}/metrics").text
    endpoint = "/collections/{collection_name}/points/query"
    line = f'rest_responses_total{{method="POST",endpoint="{endpoint}",status="200"}} 30'
    assert line in metrics, [m for m in metrics.splitlines() if "points/query" in m]


def test_the_readers_let_go_of_the_files_of_replaced_segments(served: Server) -> None:
    make_collection(served.url, n=300)
    settled(served.url)
    for _ in range(4):  # each reader maps the optimized segment's files
        with httpx.Client(base_url=served.url) as client:
            ok(client.post("/collections/c/points/query", json={"query": [1.0] * DIM}))
    change = {"quantization_config": {"binary": {}}}  # every segment is built again
    ok(httpx.patch(f"{served.url}/collections/c", json=change))
    settled(served.url)
    storage = str(served.storage.resolve())
    deadline = time.monotonic() + 10
    while True:
        held = [
            line
            for pid in readers_of(served)
            for line in Path(f"/proc/{pid}/maps").read_text().splitlines()
            if storage in line and line.endswith("(deleted)")
        ]
        if not held or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not held, held[:3]


def test_the_writers_unix_socket_outlives_a_garbage_collection(tmp_path: Path) -> None:
    """The server object of the writer's unix socket is kept: collected, it closed the
    socket, and reader processes got 'connection refused' for their writes."""
    loop = WorkerLoop("test-loop", uvicorn.Config(app=_never_called), {})
    path = str(tmp_path / "writer.sock")
    try:
        loop.listen(path)
        gc.collect()
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)
    finally:
        loop.stop()


async def _never_called(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("no request is sent")


def test_a_body_over_the_limit_gets_the_writers_413_through_a_reader(tmp_path: Path) -> None:
    env = {"VQDB__SERVICE__READER_PROCESSES": "1", "VQDB__SERVICE__MAX_REQUEST_SIZE_MB": "1"}
    server = Server(tmp_path / "storage", env=env, log_level="INFO")
    try:
        while "is serving" not in server.output():
            time.sleep(0.05)
        make_collection(server.url, n=5)
        points = [
            {"id": i, "vector": [0.5] * DIM, "payload": {"x": "y" * 400}} for i in range(5000)
        ]
        with httpx.Client(base_url=server.url, timeout=30) as client:
            answer = client.put("/collections/c/points?wait=true", json={"points": points})
            assert answer.status_code == 413, answer.text
            assert answer.headers.get("connection") == "close"
        assert ok(httpx.post(f"{server.url}/collections/c/points/count", json={})) == {"count": 5}
    finally:
        server.stop()


def test_a_read_the_follower_cannot_catch_up_for_goes_to_the_writer() -> None:
    answered: list[str] = []

    class Stuck:
        def catch_up(self) -> None:
            raise StorageError("its files kept changing while they were read")

    async def here(scope: Any, receive: Any, send: Any) -> None:
        answered.append("here")

    async def writer(scope: Any, receive: Any, send: Any) -> None:
        answered.append("writer")

    following = Following(here, Stuck(), writer)  # type: ignore[arg-type]
    scope = {"path": "/collections/c/points/query", "path_params": {"collection_name": "c"}}
    asyncio.run(following(scope, None, None))  # type: ignore[arg-type]
    assert answered == ["writer"]


def test_a_lookup_sees_the_other_collections_acknowledged_writes(served: Server) -> None:
    """lookup_from reads another collection than the one the request names: it is caught up
    too (Qdrant's lookup tests failed when only the named one was)."""
    make_collection(served.url, name="a", n=30)
    make_collection(served.url, name="b", n=5)
    with (
        httpx.Client(base_url=served.url) as writes,
        httpx.Client(base_url=served.url) as reads,
    ):
        for i in range(5):
            vector = [float(i + 1)] * DIM
            point = {"points": [{"id": 100 + i, "vector": vector}]}
            ok(writes.put("/collections/b/points?wait=true", json=point))
            body = {
                "query": {"recommend": {"positive": [100 + i]}},
                "lookup_from": {"collection": "b"},
                "limit": 3,
                "with_vector": True,
            }
            found = ok(reads.post("/collections/a/points/query", json=body))["points"]
            assert len(found) == 3, found


@pytest.mark.slow  # waits out RESTART_SECONDS for the reader to be started again
def test_a_connection_the_writer_took_moves_to_a_reader_once_one_is_up(tmp_path: Path) -> None:
    server = Server(tmp_path / "storage", args=("--reader-processes", "1"), log_level="INFO")
    try:
        deadline = time.monotonic() + 60
        while "is serving" not in server.output():
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        make_collection(server.url, n=20)
        (reader,) = readers_of(server)
        os.kill(reader, signal.SIGKILL)  # it lasted less than RESTART_SECONDS: a pause, then one
        while "ended" not in server.output():
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        with httpx.Client(base_url=server.url, timeout=5) as client:
            count = {"count": 20}
            assert ok(client.post("/collections/c/points/count", json={})) == count  # writer's
            deadline = time.monotonic() + 60
            while server.output().count("is serving") < 2:  # in use: not closed as idle
                assert time.monotonic() < deadline, server.output()
                assert ok(client.post("/collections/c/points/count", json={})) == count
                time.sleep(0.5)
            for _ in range(5):  # a few of the writer's ticks: between two of these, it moves
                assert ok(client.post("/collections/c/points/count", json={})) == count
                time.sleep(0.2)
            os.kill(server.process.pid, signal.SIGSTOP)
            try:  # the same connection, answered with the writer stopped: the reader has it
                assert ok(client.post("/collections/c/points/count", json={})) == count
            finally:
                os.kill(server.process.pid, signal.SIGCONT)
    finally:
        server.stop()


def test_a_stuck_reader_is_handed_no_connection_for_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its socket pair full, it refuses one: then it is passed over (and the writer's idle
    connections stay put) for REFUSED_SECONDS, not tried again at every connection and tick."""
    readers = Readers(1, "{}", Responses())
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    mine.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        while True:  # nobody reads `theirs`: the pair fills up
            mine.send(b"x" * 4096)
    reader = _Reader(None, mine)  # type: ignore[arg-type]
    reader.ready = True
    readers._readers.append(reader)
    now = time.monotonic()
    clock = [now]
    monkeypatch.setattr(readers_module.time, "monotonic", lambda: clock[0])
    client, server = socket.socketpair()
    try:
        assert readers.serving
        assert not readers.adopt(server)  # full: refused
        assert not readers.serving
        clock[0] = now + readers_module.REFUSED_SECONDS
        assert readers.serving  # tried again
    finally:
        for s in (mine, theirs, client, server):
            s.close()
        readers._readers.clear()
        readers.wait(None)  # its folder (the writer's socket's) goes


def test_a_silent_reader_is_handed_no_connection_until_it_is_heard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its reports (sent every REPORT_SECONDS, empty or not) say its loop runs: after
    SILENT_SECONDS without one it is passed over, and taken back at its next line."""
    readers = Readers(1, "{}", Responses())
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    mine.setblocking(False)
    reader = _Reader(SimpleNamespace(pid=0), mine)  # type: ignore[arg-type]
    reader.ready = True
    readers._readers.append(reader)
    now = time.monotonic()
    clock = [now]
    monkeypatch.setattr(readers_module.time, "monotonic", lambda: clock[0])
    reader.last_heard = now
    client, server = socket.socketpair()
    try:
        clock[0] = now + readers_module.SILENT_SECONDS - 0.1
        assert readers.serving
        clock[0] = now + readers_module.SILENT_SECONDS
        assert not readers.serving
        assert not readers.adopt(server)
        theirs.send(b'{"responses": []}\n')
        readers._heard(reader)
        assert readers.serving
        assert readers.adopt(server)
        assert theirs.recv(16) == b"c"  # the connection went over with it
    finally:
        for s in (mine, theirs, client, server):
            with contextlib.suppress(OSError):
                s.close()
        readers._readers.clear()
        readers.wait(None)


def test_connections_pass_over_a_stopped_reader(served: Server) -> None:
    make_collection(served.url, n=20)
    stopped = readers_of(served)[0]
    os.kill(stopped, signal.SIGSTOP)  # hung, as far as the writer can tell
    try:
        time.sleep(readers_module.SILENT_SECONDS + 2 * readers_module.REPORT_SECONDS)
        for _ in range(8):  # each a new connection, handed over in turn
            with httpx.Client(base_url=served.url, timeout=10) as client:
                assert ok(client.post("/collections/c/points/count", json={})) == {"count": 20}
        assert "has said nothing" in served.output()
    finally:
        os.kill(stopped, signal.SIGCONT)
    deadline = time.monotonic() + 10
    while "is heard again" not in served.output():
        assert time.monotonic() < deadline, served.output()
        time.sleep(0.05)
