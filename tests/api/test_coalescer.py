"""The coalescer: requests of one key read in one turn of the loop make one call, each gets its
own answer or failure; alone on its loop a request runs at once."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn

from vqdb import engine
from vqdb.database import Database
from vqdb.server import coalescer as coalescer_module
from vqdb.server.app import create_app
from vqdb.server.coalescer import Coalescer
from vqdb.server.loops import Server
from vqdb.server.settings import Settings


async def _run(f: Callable[[Any], Any], arg: Any) -> Any:
    return f(arg)


class Engine:
    """Answers a call `n` with n * 10; a negative n fails; records each call made."""

    def __init__(self) -> None:
        self.alone: list[int] = []
        self.together: list[list[int]] = []

    def one(self, n: int) -> int:
        self.alone.append(n)
        if n < 0:
            raise ValueError(f"bad {n}")
        return n * 10

    def many(self, calls: list[int]) -> list[Any]:
        self.together.append(calls)
        return [ValueError(f"bad {n}") if n < 0 else n * 10 for n in calls]


@pytest.fixture
def busy(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a worker loop with other requests in flight."""
    monkeypatch.setattr(coalescer_module.loops, "others_in_flight", lambda: True)


def _gather(engine: Engine, calls: list[tuple[str, int]]) -> list[Any]:
    async def main() -> list[Any]:
        c = Coalescer()
        tasks = [c.answer(key, n, engine.one, engine.many, _run) for key, n in calls]
        return await asyncio.gather(*tasks, return_exceptions=True)

    return asyncio.run(main())


@pytest.mark.usefixtures("busy")
def test_the_requests_of_one_turn_make_one_call_each_answered_its_own() -> None:
    engine = Engine()
    found = _gather(engine, [("a", 1), ("b", 2), ("a", 3), ("a", -4), ("b", 5), ("c", 6)])
    assert found[:3] == [10, 20, 30]
    assert isinstance(found[3], ValueError) and str(found[3]) == "bad -4"
    assert found[4:] == [50, 60]
    assert engine.together == [[1, 3, -4], [2, 5]]
    assert engine.alone == [6]  # no company under its key


@pytest.mark.usefixtures("busy")
def test_a_failure_of_the_first_is_its_own() -> None:
    engine = Engine()
    found = _gather(engine, [("a", -1), ("a", 2)])
    assert isinstance(found[0], ValueError) and found[1] == 20


@pytest.mark.usefixtures("busy")
def test_when_the_call_together_fails_every_request_gets_the_failure() -> None:
    engine = Engine()
    engine.many = lambda calls: 1 / 0  # type: ignore[method-assign,assignment,return-value]
    found = _gather(engine, [("a", 1), ("a", 2), ("a", 3)])
    assert all(isinstance(f, ZeroDivisionError) for f in found)


@pytest.mark.usefixtures("busy")
def test_the_next_turn_starts_a_new_gathering() -> None:
    engine = Engine()

    async def main() -> list[Any]:
        c = Coalescer()
        first = asyncio.gather(*(c.answer("a", n, engine.one, engine.many, _run) for n in (1, 2)))
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # the first gathering has closed
        later = asyncio.gather(*(c.answer("a", n, engine.one, engine.many, _run) for n in (3, 4)))
        return [*(await first), *(await later)]

    assert asyncio.run(main()) == [10, 20, 30, 40]
    assert engine.together == [[1, 2], [3, 4]]


@pytest.mark.usefixtures("busy")
def test_a_request_that_fails_alone_leaves_a_later_gathering_be() -> None:
    engine = Engine()
    gate = asyncio.Event()

    async def run(f: Callable[[Any], Any], arg: Any) -> Any:
        if arg == -1:
            await gate.wait()  # a read in the pool, still running as the next turn gathers
        return f(arg)

    async def main() -> list[Any]:
        c = Coalescer()
        first = asyncio.ensure_future(c.answer("a", -1, engine.one, engine.many, run))
        for _ in range(3):
            await asyncio.sleep(0)  # alone: it runs, and waits at the gate
        gathering = asyncio.ensure_future(c.answer("a", 2, engine.one, engine.many, run))
        gate.set()  # the first fails while the next gathers
        joining = asyncio.ensure_future(c.answer("a", 3, engine.one, engine.many, run))
        return await asyncio.gather(first, gathering, joining, return_exceptions=True)

    found = asyncio.run(main())
    assert isinstance(found[0], ValueError) and found[1:] == [20, 30]


def test_alone_on_its_loop_a_request_runs_at_once() -> None:
    engine = Engine()  # outside a worker loop, others_in_flight is False
    assert _gather(engine, [("a", 1), ("a", 2)]) == [10, 20]
    assert engine.alone == [1, 2] and engine.together == []


@pytest.mark.usefixtures("busy")
def test_a_first_request_cancelled_while_it_runs_fails_those_that_joined_it() -> None:
    engine = Engine()
    running = asyncio.Event()

    async def run_forever(f: Callable[[Any], Any], arg: Any) -> Any:
        running.set()
        await asyncio.Event().wait()

    async def main() -> list[Any]:
        c = Coalescer()
        tasks = [
            asyncio.ensure_future(c.answer("a", n, engine.one, engine.many, run_forever))
            for n in (1, 2)
        ]
        await running.wait()
        tasks[0].cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)

    found = asyncio.run(main())
    assert all(isinstance(f, asyncio.CancelledError) for f in found)


@pytest.mark.usefixtures("quick_optimizer")
def test_concurrent_searches_over_http_answer_what_each_answers_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A served collection of clustered raw vectors, searched from 8 connections at once on
    one loop: requests are gathered, and each answer is the one its request gets alone."""
    db = Database(tmp_path / "storage")
    body = {
        "vectors": {"size": 32, "distance": "Euclid"},
        "quantization_config": {"scalar": {"type": "int8", "always_ram": True}},
        # 200 KB is 1600 vectors: the first 2000 are indexed, the next 1000 stay appendable,
        # so the optimizer cannot change the segments between the two passes below
        "optimizers_config": {"indexing_threshold": 200},
    }
    c = db.create_collection("c", body)
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((8, 32)) * 30
    x = centres[rng.integers(0, 8, 3000)] + rng.standard_normal((3000, 32))
    c.upsert({"points": [{"id": i, "vector": x[i].tolist()} for i in range(2000)]})
    assert c.optimizer.wait_idle(60)  # an indexed segment, and an appendable one
    c.upsert({"points": [{"id": i, "vector": x[i].tolist()} for i in range(2000, 3000)]})
    assert c.optimizer.wait_idle(60)
    layout = [(s.appendable, s.count) for s in c.segments]
    assert sorted(layout) == [(False, 2000), (True, 1000)], layout
    queries = centres[rng.integers(0, 8, 240)] + rng.standard_normal((240, 32))
    bodies: list[dict[str, Any]] = [{"query": q.tolist(), "limit": 5} for q in queries]
    for i in range(0, 240, 40):
        bodies[i] = {"query": [1.0, 2.0], "limit": 5}  # refused alone: a wrong dimension
    for i in range(7, 240, 30):
        bodies[i] = {**bodies[i], "filter": {"must": [{"has_id": list(range(0, 3000, 3))}]}}
    for i in range(2, 240, 5):  # legacy searches: gathered apart from the queries
        bodies[i] = {"vector": bodies[i]["query"], "limit": 4}
    gathered: list[int] = []
    read_each = engine.read_each

    def counted(*args: Any) -> list[Any]:
        gathered.append(len(args[3]))
        return read_each(*args)

    monkeypatch.setattr(engine, "read_each", counted)
    config = uvicorn.Config(create_app(db, Settings()), port=0, log_level="warning")
    server = Server(config, loops=1)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.01)
        assert thread.is_alive(), "the server did not start"
    assert server.listener is not None
    port = server.listener.getsockname()[1]
    try:
        alone = [_post(port, [b])[0] for b in bodies]
        gathered.clear()
        with ThreadPoolExecutor(8) as pool:
            concurrent = [
                a for part in pool.map(lambda k: _post(port, bodies[k::8]), range(8)) for a in part
            ]
        expected = [a for k in range(8) for a in alone[k::8]]
        assert [(s.appendable, s.count) for s in c.segments] == layout
    finally:
        server.should_exit = True
        thread.join(30)
        db.close()
    assert concurrent == expected
    assert sum(status == 400 for status, _ in concurrent) == 6
    assert sum(isinstance(answer, list) for _, answer in concurrent) == 48
    assert max(gathered, default=0) > 1, gathered  # some requests were answered together


def _post(port: int, bodies: list[dict[str, Any]]) -> list[tuple[int, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    answers = []
    for b in bodies:
        route = "search" if "vector" in b else "query"
        connection.request("POST", f"/collections/c/points/{route}", json.dumps(b))
        response = connection.getresponse()
        answer = json.loads(response.read())
        answers.append((response.status, answer.get("result", answer["status"])))
    connection.close()
    return answers
