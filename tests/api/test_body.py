"""server/body.py without a server: big bodies parsed in slices give what one parse gives, and
the depth limit reads the bytes right (strings, escapes)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

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


# ---- the plain-JSON twin of the models (body._plain) --------------------------------------


def _bodies(schema: Any) -> st.SearchStrategy[Any]:
    """JSON values shaped by a pydantic core schema: mostly valid, with unknown fields, nulls
    and a wrong type here and there, so both answers (accept, refuse) are compared."""
    definitions: dict[str, Any] = {}

    def of(node: Any, depth: int) -> st.SearchStrategy[Any]:
        kind = node.get("type")
        if depth > 6:
            return st.none()
        if kind == "definitions":
            for d in node["definitions"]:
                definitions[d["ref"]] = d
            return of(node["schema"], depth)
        if kind == "definition-ref":
            return st.deferred(lambda: of(definitions[node["schema_ref"]], depth + 1))
        if kind == "model":
            return of(node["schema"], depth)
        if kind == "model-fields":
            fields = node["fields"]
            names = {
                name: (f.get("serialization_alias") or f.get("validation_alias") or name)
                for name, f in fields.items()
            }
            names = {k: v if isinstance(v, str) else v[-1][0] for k, v in names.items()}
            present = st.dictionaries(
                st.sampled_from(sorted(fields)), st.just(None), max_size=len(fields)
            )
            return present.flatmap(
                lambda chosen: st.fixed_dictionaries(
                    {
                        names[n]: of(fields[n]["schema"], depth + 1)
                        for n in fields
                        if n in chosen or fields[n]["schema"].get("type") != "default"
                    },
                    optional={"unknown_field": st.integers()},
                )
            )
        if kind in ("default", "nullable"):
            inner = of(node["schema"], depth)
            return inner if kind == "default" else st.one_of(st.none(), inner)
        if kind in ("union", "tagged-union"):
            choices = node["choices"]
            choices = list(choices.values()) if isinstance(choices, dict) else choices
            return st.one_of(*[of(c[0] if isinstance(c, tuple) else c, depth) for c in choices])
        if kind in ("list", "set"):
            return st.lists(of(node.get("items_schema", {"type": "any"}), depth + 1), max_size=3)
        if kind == "dict":
            return st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=3))
        if kind == "literal":
            return st.sampled_from(node["expected"])
        if kind == "enum":
            return st.sampled_from([m.value for m in node["members"]]) | st.just("nope")
        if kind == "int":
            return st.integers(-3, 2**40)
        if kind == "float":
            return st.floats(allow_nan=False, allow_infinity=False) | st.integers(-3, 3)
        if kind == "bool":
            return st.booleans()
        if kind == "str":
            return st.text(max_size=5)
        if kind == "datetime":
            return st.sampled_from(["2024-01-02T03:04:05Z", "2024-01-02", "2024-01-02T03:04:05"])
        if kind in ("function-wrap", "function-after", "function-before"):
            return of(node["schema"], depth)
        if kind == "url":
            return st.just("http://example.com/snapshot")
        return st.none() | st.integers() | st.text(max_size=3)

    return of(schema, 0).map(lambda value: json.dumps(value).encode())


def _operation_schemas() -> list[tuple[str, Any]]:
    from vqdb.server.operations import JSON_OBJECT, OPERATIONS, UPLOAD

    return [(op.name, op.body) for op in OPERATIONS if op.body not in (None, JSON_OBJECT, UPLOAD)]


@pytest.mark.parametrize(("name", "declared"), _operation_schemas(), ids=lambda v: str(v)[:40])
def test_the_plain_twin_gives_what_the_models_give(name: str, declared: Any) -> None:
    schema = Schema(declared)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_bodies(schema.adapter.core_schema))
    def same(raw: bytes) -> None:
        try:
            expected = schema.dump(schema.validate(raw))
        except HttpError:
            expected = HttpError
        try:
            plain = schema.plain.validate_json(raw)
        except ValidationError:
            plain = HttpError
        assert plain == expected, raw

    same()
