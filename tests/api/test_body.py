"""server/body.py without a server: big bodies parsed in slices give what one parse gives, and
the depth limit reads the bytes right (strings, escapes)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from pydantic import TypeAdapter

from vqdb import models
from vqdb.server import body
from vqdb.server.body import MAX_DEPTH, HttpError, Schema, parse


def _adapter(model: Any) -> Schema:
    return Schema(model)  # as the app makes them


UPSERT = _adapter(models.PointsBatch | models.PointsList)
RND = random.Random(3)
TRICKY = ['q"\\', "[{", '\\"]}', "é,:", ""]  # brackets, quotes and escapes inside strings


def _points(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": i if i % 4 else f"00000000-0000-0000-0000-{i:012d}",
            "vector": [RND.random() for _ in range(8)],
            "payload": {"s": TRICKY[i % 5], "n": [i, {"x": None}]},
        }
        for i in range(n)
    ]


CASES = {
    "points": (UPSERT, {"points": _points(3000)}),
    "columns": (
        UPSERT,
        {
            "batch": {
                "ids": list(range(3000)),
                "vectors": [[RND.random()] * 8 for _ in range(3000)],
                "payloads": [{"k": TRICKY[i % 5]} for i in range(3000)],
            }
        },
    ),
    "named columns": (
        UPSERT,
        {"batch": {"ids": list(range(3000)), "vectors": {"a": [[1.5] * 8] * 3000}}},
    ),
    "multivectors": (
        UPSERT,
        {"points": [{"id": i, "vector": [[1.0, 2.0]] * 3} for i in range(3000)]},
    ),
    "payload and ids": (
        _adapter(models.SetPayload),
        {"payload": {"big": list(range(30000))}, "points": list(range(20000))},
    ),
    "query batch": (
        _adapter(models.QueryRequestBatch),
        {"searches": [{"query": [RND.random()] * 8, "limit": 3} for _ in range(2000)]},
    ),
    "legacy search batch": (
        None,
        {
            "searches": [
                {"vector": [1.0] * 8, "filter": {"must": [{"key": '"[', "match": {"value": 1}}]}}
                for _ in range(2000)
            ]
        },
    ),
    "operations": (
        _adapter(models.UpdateOperations),
        {"operations": [{"upsert": {"points": _points(2)}} for _ in range(2000)]},
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_slices_parse_as_the_whole(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter, value = CASES[case]
    raw = json.dumps(value).encode()
    whole = parse(raw, adapter)
    monkeypatch.setattr(body, "SLICE", 4096)
    cut = body._Scan(raw).big_arrays(raw)
    assert max(len(array.groups) for array in cut) > 5  # really parsed in slices
    assert parse(raw, adapter) == whole


def test_errors_in_a_slice_name_their_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(body, "SLICE", 4096)
    points = _points(3000)
    points[2500]["id"] = -5
    with pytest.raises(HttpError) as refused:
        parse(json.dumps({"points": points}).encode(), UPSERT)
    assert refused.value.status == 400
    assert "points.2500.id" in str(refused.value)


def test_what_cannot_be_cut_is_parsed_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(body, "SLICE", 4096)
    points = json.dumps(_points(3000))
    # a key given twice: the last one counts, so cutting the first would change the body
    twice = f'{{"points": {points}, "points": [{{"id": 1, "vector": [1]}}]}}'.encode()
    assert body._Scan(twice).big_arrays(twice) == []
    assert parse(twice, UPSERT)["points"] == [{"id": 1, "vector": [1.0]}]
    # malformed: the parser says what is wrong
    for broken in (points[:-1].encode(), f'{{"points": {points[:-1]}}}'.encode()):
        with pytest.raises(HttpError, match="Format error in JSON body"):
            parse(broken, UPSERT)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("[]", 1),
        ('{"a": [{"b": [1]}]}', 4),
        ('["[[[[", "\\"[[[", {"k]": "{{"}]', 2),  # brackets in strings do not count
        ('["\\\\", [[]]]', 3),  # an escaped backslash ends before the quote
        ('"[[["', 0),
    ],
)
def test_depth_reads_strings_and_escapes(text: str, depth: int) -> None:
    raw = text.encode()
    assert json.loads(raw) is not None
    assert body._Scan(raw).max_depth == depth


def test_the_depth_limit_is_exact() -> None:
    for depth, refused in ((MAX_DEPTH, False), (MAX_DEPTH + 1, True)):
        raw = ('{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)).encode()
        if refused:
            with pytest.raises(HttpError, match=f"nested deeper than {MAX_DEPTH} levels"):
                parse(raw, None)
        else:
            assert parse(raw, None)["a"]["a"]["a"] is not None


def test_validation_stops_at_the_first_bad_item() -> None:
    """Every list and dict stops at its first bad item (pydantic's default reports each one:
    a megabyte of `{}` as points held the GIL ~10 s); the models inside the body too."""
    cases = [
        (b'{"points": [' + b"{}," * 100_000 + b"{}]}", "points.0.id", "points.1."),
        (b'{"points": [{"id": 1, "vector": [' + b"{}," * 100_000 + b"{}]}]}", ".vector.", ".1"),
        (b'{"batch": {"ids": [1], "vectors": {' + b'"a": 1,' * 1000 + b'"b": 1}}}', "vectors", ""),
    ]
    for raw, named, absent in cases:
        with pytest.raises(HttpError) as refused:
            parse(raw, UPSERT)
        message = str(refused.value)
        assert named in message and (not absent or absent not in message), message
    # the models themselves are left as they were
    assert models.PointStruct.__pydantic_complete__
    with pytest.raises(ValueError, match="3 validation errors"):  # both items: unchanged
        TypeAdapter(list[models.PointStruct]).validate_python([{}, {"id": 1}])
