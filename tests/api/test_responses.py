"""The REST responses' statistics (Qdrant's `requests.rest` telemetry): queued as they leave,
folded when read or when the queue is long, and nothing lost or miscounted on the way."""

from __future__ import annotations

import random
import threading

import pytest

from vqdb.durations import BUCKETS_MICROS, Durations
from vqdb.server import responses as responses_module
from vqdb.server.responses import FOLD_AT, Responses

ROUTE = "POST /collections/{collection_name}/points/query"


def _reference(seconds: list[float]) -> dict[str, object]:
    micros = [float(int(s * 1e6)) for s in seconds]
    buckets = [sum(1 for m in micros if low < m <= high) for low, high in _bounds()]
    return {
        "count": len(micros),
        "min": min(micros),
        "max": max(micros),
        "total": int(sum(micros)),
        "recent": micros[-128:],
        "buckets": buckets,
    }


def _bounds() -> list[tuple[float, float]]:
    lows = (-1.0, *BUCKETS_MICROS[:-1])
    return list(zip(lows, BUCKETS_MICROS))


def _seen(d: Durations) -> dict[str, object]:
    return {
        "count": d.count,
        "min": d.min,
        "max": d.max,
        "total": d.total_micros,
        "recent": list(d.recent),
        "buckets": d.buckets,
    }


def test_durations_added_at_once_are_those_added_one_by_one() -> None:
    rng = random.Random(7)
    seconds = [
        rng.choice((rng.uniform(0, 2e-3), rng.uniform(0, 20.0), 0.0, 5e-3)) for _ in range(700)
    ]
    one_by_one, at_once = Durations(), Durations()
    for s in seconds:
        one_by_one.add(s)
    at_once.add_many(seconds[:300], 1.0)
    at_once.add_many([], 2.0)  # nothing: nothing changes
    at_once.add_many(seconds[300:], 3.0)
    assert _seen(at_once) == _seen(one_by_one) == _reference(seconds)
    assert at_once.last == 3.0


def test_every_response_is_counted_past_many_folds(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(responses_module.time, "time", lambda: clock[0])
    responses = Responses()
    rng = random.Random(3)
    seconds: dict[str, list[float]] = {"a": [], "b": []}
    last: dict[str, float] = {}
    for i in range(FOLD_AT * 3 + 17):
        collection = "a" if i % 3 else "b"
        clock[0] += 1
        s = rng.uniform(0, 0.02)
        seconds[collection].append(s)
        last[collection] = clock[0]
        responses.add((ROUTE, 200, s, collection))
    responses.add(("GET /readyz", 200, 0.001, None))
    rows = {(c, k): d for c, k, _, d in responses.rows(per_collection=True)}
    for collection, taken in seconds.items():
        assert _seen(rows[collection, ROUTE]) == _reference(taken)
        assert rows[collection, ROUTE].last == last[collection]
    overall = {k: d for _, k, _, d in responses.rows(per_collection=False)}
    assert overall[ROUTE].count == FOLD_AT * 3 + 17
    assert overall["GET /readyz"].count == 1
    assert overall["GET /readyz"].last == clock[0]


def test_last_responded_is_each_keys_own(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [50.0]
    monkeypatch.setattr(responses_module.time, "time", lambda: clock[0])
    responses = Responses()
    responses.add((ROUTE, 200, 0.001, "a"))
    clock[0] = 60.0
    responses.add((ROUTE, 200, 0.001, "b"))
    clock[0] = 70.0
    responses.add((ROUTE, 404, 0.001, None))
    rows = {(c, k, s): d.last for c, k, s, d in responses.rows(per_collection=True)}
    assert rows == {("a", ROUTE, 200): 50.0, ("b", ROUTE, 200): 60.0}
    overall = {(k, s): d.last for _, k, s, d in responses.rows(per_collection=False)}
    assert overall == {(ROUTE, 200): 60.0, (ROUTE, 404): 70.0}


def test_threads_observing_at_once_lose_nothing() -> None:
    responses = Responses()
    per_thread = FOLD_AT * 4 + 5

    def observe() -> None:
        for _ in range(per_thread):
            responses.add((ROUTE, 200, 0.001, "a"))

    threads = [threading.Thread(target=observe) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ((_, _, _, durations),) = responses.rows(per_collection=False)
    assert durations.count == 4 * per_thread


def test_a_reader_keeps_its_responses_for_the_writer() -> None:
    responses = Responses(reported=True)
    for i in range(FOLD_AT + 3):
        responses.add((ROUTE, 200, i / 1e6, "a"))
    taken = responses.unreported()
    assert [s for _, _, s, _ in taken] == [i / 1e6 for i in range(FOLD_AT + 3)]
    assert responses.unreported() == []
    assert responses.rows(per_collection=False) == []
