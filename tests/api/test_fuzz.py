"""vqdb serve under schemathesis, driven by its own GET /openapi.json: no request may get a 5xx.

Two passes of generated requests against one server: one with random collection names (the
404 paths, collection creation and deletion), one with every path pinned to collections holding
points, payloads and payload indexes (the engine itself: searches, filters, writes, snapshots;
schemathesis never generates the recursive Filter schema, so count and query get a fixed one).
Only the fuzzing phase runs: the coverage phase grows to tens of thousands of cases on this
schema. A failure shows schemathesis's report (with a curl line per failing request) and the
server's log, where each 500 left its traceback.

    VQDB_DATA=... python -m pytest -m slow tests/api/test_fuzz.py
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from served import Server

pytest.importorskip("schemathesis", reason="schemathesis is not installed (the test extra)")

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
