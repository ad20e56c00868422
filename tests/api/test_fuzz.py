"""Fuzzing vqdb serve: no request may get a 5xx.

Every route of operations.py gets deep, huge and odd input: JSON nested thousands of levels
deep (arrays, objects, filters), nested to the limit exactly, huge arrays and strings in each
field of its body, and odd path parameters (long names in one- and two-byte characters, NUL,
slashes, dot segments).

Then schemathesis (slow), driven by the server's own GET /openapi.json: two passes of generated
requests against one server, one with random collection names (the 404 paths, collection
creation and deletion), one with every path pinned to collections holding points, payloads and
payload indexes (the engine itself: searches, filters, writes, snapshots; schemathesis never
generates the recursive Filter schema, so count and query get a fixed one). Only the fuzzing
phase runs: the coverage phase grows to tens of thousands of cases on this schema. A failure
shows schemathesis's report (with a curl line per failing request) and the server's log, where
each 500 left its traceback.

    VQDB_DATA=... python -m pytest -m slow tests/api/test_fuzz.py
"""

from __future__ import annotations

import re
import subprocess
import sys
import typing
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from served import Server

from vqdb.server.body import MAX_DEPTH, SLICE
from vqdb.server.operations import JSON_OBJECT, OPERATIONS, UPLOAD, Operation

# ---- every route: deep, huge and odd -----------------------------------------------------------

ODD_NAMES = ["é" * 200, "é" * 128, "a" * 300, "a" * 256, "a\0b", "a/b", "..", ".", "a<b>", " "]
ODD_PARAMS = ["9" * 5000, "1" * 25, "-1", "x" * 300, "é" * 200, "..", "a\0b", "a/b", "%"]
# fields of the legacy bodies, which have no model
LEGACY_FIELDS = ("vector", "filter", "limit", "offset", "params", "with_payload", "with_vector")
LEGACY_FIELDS += ("positive", "negative", "searches", "using", "lookup_from", "strategy")
LEGACY_FIELDS += ("group_by", "group_size", "with_lookup")


def _nested(depth: int, kind: str) -> str:
    """JSON nested `depth` levels deep: arrays, objects, or filters (two levels each; one less
    when `depth` is odd)."""
    if kind == "array":
        return "[" * depth + "]" * depth
    if kind == "object":
        return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)
    levels = (depth - 2) // 2
    return '{"must":[' * levels + '{"key":"k","match":{"value":1}}' + "]}" * levels


def _fields(op: Operation) -> list[str]:
    if op.body is JSON_OBJECT:
        return list(LEGACY_FIELDS)
    models = typing.get_args(op.body) or (op.body,)
    return sorted({f.alias or n for m in models for n, f in m.model_fields.items()})


DEEP = {  # for the whole body
    "arrays 100000 deep": _nested(100_000, "array"),
    "objects 50000 deep": _nested(50_000, "object"),
    "a filter 1000 deep": '{"filter":' + _nested(2000, "filter") + "}",
    "not JSON": "{" + "\x00\xff" * 10,
}
DEEP_VALUES = {  # for each field of the body: nested too deep, or to the limit exactly
    "arrays 5000 deep": _nested(5000, "array"),
    "a filter at the depth limit": _nested(MAX_DEPTH - 1, "filter"),
    "objects at the depth limit": _nested(MAX_DEPTH - 1, "object"),
    "arrays at the depth limit": _nested(MAX_DEPTH - 1, "array"),
    "an integer of 5000 digits": "9" * 5000,
}
HUGE = {  # for the whole body: past body.SLICE, so that big arrays are parsed in slices
    "a huge array": "[" + "0," * (SLICE // 2 + 1000) + "0]",
    "a huge string": '"' + "x" * (SLICE + 1000) + '"',
}
HUGE_VALUES = {  # for each field of the body
    "a huge array of ints": "[" + "7," * (SLICE // 2 + 1000) + "7]",
    "a huge array of objects": "[" + "{}," * (SLICE // 3 + 1000) + "{}]",
    "a huge string": '"' + "é" * (SLICE // 2 + 1000) + '"',
}


def _bodies(op: Operation, whole: dict[str, str], values: dict[str, str]) -> Iterator[Any]:
    """(what, JSON bytes) of the bodies for one operation: each of `whole`, and each field of
    its body set to each of `values`."""
    for what, text in whole.items():
        yield what, text.encode()
    if op.body in (None, UPLOAD):
        return
    for name in _fields(op):
        for what, value in values.items():
            yield f"{name}: {what}", f'{{"{name}":{value}}}'.encode()


def _target(op: Operation, collection: str, odd: dict[str, str] | None = None) -> str:
    """The request target, path parameters quoted (a NUL travels as %00, a slash as %2F)."""
    good = {
        "collection_name": collection,
        "id": "1",
        "field_name": "k",
        "snapshot_name": "x",
        "vector_name": "v",
        "shard_id": "0",
        "peer_id": "1",  # the cluster's
        "key": "k",
    }
    values = {**good, **(odd or {})}
    return re.sub(r"\{(\w+)\}", lambda m: quote(values[m.group(1)], safe=""), op.path)


def _odd_targets(op: Operation, collection: str) -> Iterator[str]:
    for param in re.findall(r"\{(\w+)\}", op.path):
        for value in ODD_NAMES if param == "collection_name" else ODD_PARAMS:
            yield _target(op, collection, {param: value})
    if "{collection_name}" in op.path:  # a dot segment left as it is (clients would resolve it)
        yield _target(op, collection).replace(quote(collection), "..", 1)


@pytest.fixture(scope="module")
def fuzzed(start_server: Callable[..., Server]) -> Iterator[tuple[Server, httpx.Client]]:
    """A server of its own (its log is the report) with a collection that has points, payloads
    and a payload index."""
    server = start_server({"VQDB__STORAGE__OPTIMIZER_THREADS": "1"})
    with httpx.Client(base_url=server.url, timeout=120) as http:
        yield server, http


def _reset(http: httpx.Client, name: str) -> None:
    http.delete(f"/collections/{name}")
    body = {"vectors": {"size": 4, "distance": "Dot"}}
    assert http.put(f"/collections/{name}", json=body).status_code == 200
    points = [
        {"id": i, "vector": [i, 1, 0, -1], "payload": {"k": i % 3, "t": [f"w{i}"]}}
        for i in range(20)
    ]
    assert http.put(f"/collections/{name}/points?wait=true", json={"points": points}).is_success
    index = {"field_name": "k", "field_schema": "integer"}
    assert http.put(f"/collections/{name}/index?wait=true", json=index).is_success


def _fuzz(server: Server, http: httpx.Client, op: Operation, sent: list[Any]) -> None:
    """Sends (target, what, body) requests: none may get a 5xx."""
    failures = []
    statuses: dict[int, int] = {}
    for target, what, body in sent:
        request = http.build_request(op.method, target, content=body)
        request.extensions["target"] = target.encode()  # as it is: no dot segments resolved
        response = http.send(request)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            failures.append(f"{op.method} {target[:100]} ({what}): {response.text[:300]}")
    print(f"{op.name}: {len(sent)} requests, statuses {dict(sorted(statuses.items()))}")
    if failures:
        pytest.fail("\n".join(failures) + "\n\n==== vqdb serve's log:\n" + server.stop()[-20000:])


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_every_route_refuses_deep_and_odd_input(
    fuzzed: tuple[Server, httpx.Client], op: Operation
) -> None:
    """4xx for bodies nested too deep (arrays, objects, filters; the whole body or any of its
    fields) and odd path parameters; a body nested to the limit exactly reaches the engine,
    which answers too. Never a 5xx."""
    server, http = fuzzed
    collection = f"fuzz-{op.name}"
    _reset(http, collection)
    target = _target(op, collection)
    sent = [(target, what, body) for what, body in _bodies(op, DEEP, DEEP_VALUES)]
    body = None if op.body is None else b"{}"
    sent += [(odd, "odd path", body) for odd in _odd_targets(op, collection)]
    _fuzz(server, http, op, sent)


@pytest.mark.slow
@pytest.mark.parametrize("op", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_every_route_refuses_huge_input(fuzzed: tuple[Server, httpx.Client], op: Operation) -> None:
    """Huge arrays and strings, as the whole body or in any of its fields: never a 5xx."""
    server, http = fuzzed
    collection = f"fuzz-{op.name}"
    _reset(http, collection)
    target = _target(op, collection)
    _fuzz(server, http, op, [(target, w, body) for w, body in _bodies(op, HUGE, HUGE_VALUES)])


# ---- schemathesis ----------------------------------------------------------------------------

SEED = 20261124
MAX_EXAMPLES = 40  # per operation; ~28 generated requests per unit over vqdb's 42 operations
MIN_GENERATED = 1000  # per pass


def _setup(url: str) -> str:
    """Collections with data: "fuzz" (4-d Dot, payloads, two payload indexes, a snapshot) and
    "fuzz-named" (two named vectors, one on disk, int8 scalar quantization); returns the
    snapshot's name."""
    with httpx.Client(base_url=url, timeout=30) as http:

        def ok(method: str, path: str, body: object | None = None) -> Any:
            response = http.request(method, path, json=body)
            assert response.status_code == 200, f"{method} {path}: {response.text}"
            return response.json()["result"]

        ok("PUT", "/collections/fuzz", {"vectors": {"size": 4, "distance": "Dot"}})
        points = [
            {
                "id": i,
                "vector": [i % 7, 1, -1, i / 10],
                "payload": {"k": i % 3, "t": f"w{i % 5}", "f": i / 4, "tags": ["a", "b"][: i % 3]},
            }
            for i in range(60)
        ]
        ok("PUT", "/collections/fuzz/points?wait=true", {"points": points})
        ok(
            "PUT",
            "/collections/fuzz/index?wait=true",
            {"field_name": "k", "field_schema": "integer"},
        )
        ok(
            "PUT",
            "/collections/fuzz/index?wait=true",
            {"field_name": "t", "field_schema": "keyword"},
        )
        snapshot: str = ok("POST", "/collections/fuzz/snapshots?wait=true")["name"]
        named = {
            "vectors": {
                "a": {"size": 4, "distance": "Cosine", "on_disk": True},
                "b": {"size": 2, "distance": "Euclid"},
            },
            "quantization_config": {"scalar": {"type": "int8", "always_ram": True}},
            "optimizers_config": {"indexing_threshold": 1},  # builds graphs at once
        }
        ok("PUT", "/collections/fuzz-named", named)
        points = [
            {"id": i, "vector": {"a": [i, 1, 0, -1], "b": [1, i]}, "payload": {"k": i % 3}}
            for i in range(300)
        ]
        ok("PUT", "/collections/fuzz-named/points?wait=true", {"points": points})
    return snapshot


FILTER = (
    '{ must = [{ key = "k", match = { any = [0, 2] } }, { key = "f", range = { lt = 12.5 } }], '
    'should = [{ key = "t", match = { value = "w1" } }, { key = "tags", match = { value = "b" } }, '
    '{ has_id = [1, 2, 3, 4, 5, 6] }], must_not = [{ is_empty = { key = "tags" } }] }'
)


def _pinned(snapshot: str) -> str:
    """schemathesis.toml for the pinned pass: path parameters drawn from what exists, and vector
    names from what the collections hold half of the time, so searches reach the engine instead
    of stopping at a 400. (Pinning filter keys inside generated filters, `body.filter.must[*]
    .key`, sent schemathesis 4.32 into unbounded recursion over the recursive Filter schema now
    and then, aborting the run; the fixed filter below covers filters instead.)"""
    return f"""
[dictionaries.collections]
values = ["fuzz", "fuzz-named"]

[dictionaries.ids]
values = [0, 1, 2, 3, 5, 8, 13, 21, 34, 55]

[dictionaries.vectors]
values = ["a", "b"]

[parameters]
"path.collection_name" = {{ dictionary = "collections" }}
"path.id" = {{ dictionary = "ids", probability = 0.8 }}
"path.field_name" = "k"
"path.snapshot_name" = "{snapshot}"
"path.shard_id" = 0
"body.using" = {{ dictionary = "vectors", probability = 0.5 }}

# schemathesis never generates Filter (its schema is recursive): counting and searching get one
# that uses both payload indexes and unindexed keys
[[operations]]
include-operation-id-regex = "^(count_points|query_points)$"
parameters = {{ "body.filter" = {FILTER} }}
"""


def _schemathesis(
    server: Server, workdir: Path, config: str | None, *extra: str
) -> tuple[int, str, int]:
    """Runs `st run` on the server's schema: (exit code, output, requests generated)."""
    top = [] if config is None else ["--config-file", config]
    command = [
        *(sys.executable, "-m", "schemathesis.cli", *top, "run", f"{server.url}/openapi.json"),
        *("--checks", "not_a_server_error", "--phases", "fuzzing"),
        *("--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "2"),
        *("--request-timeout", "30", "--generation-database", "none", "--no-color"),
        *extra,
    ]
    for _ in range(3):
        done = subprocess.run(
            command, cwd=workdir, capture_output=True, text=True, timeout=900, check=False
        )
        output = done.stdout + done.stderr
        # schemathesis 4.32 itself now and then recurses without end while building strategies
        # for the recursive Filter schema and aborts (a crash of the tool, before any verdict
        # on the server): run it again rather than report vqdb for it
        if "Fatal Python error" not in output:
            break
    generated = re.search(r"(\d+) generated", output)
    return done.returncode, output, int(generated.group(1)) if generated else 0


@pytest.mark.slow
@pytest.mark.skipif(find_spec("schemathesis") is None, reason="schemathesis is not installed")
def test_no_server_errors_under_schemathesis(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = start_server({"VQDB__STORAGE__OPTIMIZER_THREADS": "1"})
    pinned = tmp_path / "schemathesis.toml"
    pinned.write_text(_pinned(_setup(server.url)))
    runs = {
        "random names": _schemathesis(server, tmp_path, None),
        # deleting the collection would leave the rest of the pass 404s
        "pinned to the collections": _schemathesis(
            server, tmp_path, str(pinned), "--exclude-operation-id", "delete_collection"
        ),
    }
    failed = {
        name: output
        for name, (code, output, generated) in runs.items()
        if code != 0 or generated < MIN_GENERATED
    }
    for name, (_, _, generated) in runs.items():
        print(f"schemathesis, {name}: {generated} requests generated")  # shown with -s / -rP
    if failed:
        log = server.stop()
        report = "\n\n".join(f"==== schemathesis, {name}:\n{out}" for name, out in failed.items())
        pytest.fail(f"{report}\n\n==== vqdb serve's log:\n{log[-20000:]}", pytrace=False)
