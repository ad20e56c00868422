"""The writer half of test_crash.py: opens a storage path and writes until it is killed.

    python crash_writer.py PATH SEED FIRST_COUNTER [OPS]

Every write is a pure function of a counter (see `vector_of` / `payload_of`), so the parent
can recompute what each acknowledged write stored. Before a call the writer prints
`start <json>`, after it returns `done <json>` (or `fail <json>` when the collection refused
it), line-buffered: the parent knows every acknowledged operation and the one in flight.
With OPS the writer stops after that many operations, prints `idle` and sleeps (waiting to be
killed: the WAL keeps everything since the last checkpoint).
"""

from __future__ import annotations

import json
import random
import sys
import time
import uuid
from typing import Any

import numpy as np

DIM = 8
NAME = "crash"
TAGS = 4


def vector_of(counter: int) -> np.ndarray:
    return np.random.default_rng(counter).standard_normal(DIM).astype(np.float32)


def sparse_of(counter: int) -> dict[str, Any]:
    """The sparse vector "s" of a counter: 1-4 of 50 terms, sorted (as stored)."""
    rng = np.random.default_rng(counter + 10**6)
    indices = np.sort(rng.choice(50, size=int(rng.integers(1, 5)), replace=False))
    values = rng.standard_normal(indices.shape[0]).astype(np.float32)
    return {"indices": indices.tolist(), "values": values.tolist()}


def payload_of(counter: int) -> dict[str, Any]:
    return {"c": counter, "tag": f"t{counter % TAGS}", "nested": {"n": [counter, "x"]}}


def point_id(rng: random.Random) -> int | str:
    """Ids from a small pool, so writes overwrite, update and delete one another."""
    n = rng.randrange(120)
    return n if n < 100 else str(uuid.UUID(int=n * 7919 + 1))


def body(indexing_threshold: int) -> dict[str, Any]:
    return {
        "vectors": {"size": DIM, "distance": "Cosine"},
        "sparse_vectors": {"s": {"modifier": "idf"}},
        "optimizers_config": {"indexing_threshold": indexing_threshold},
        "quantization_config": {"scalar": {"type": "int8"}},
    }


QUANTIZATIONS: list[Any] = [
    {"scalar": {"type": "int8"}},
    {"binary": {}},
    {"product": {"compression": "x4"}},
    "Disabled",
]


def next_op(rng: random.Random, counter: int) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.30:
        return {"op": "upsert", "ids": [point_id(rng)], "c": [counter]}
    if roll < 0.50:
        ids = list(dict.fromkeys(point_id(rng) for _ in range(rng.randrange(2, 12))))
        return {"op": "upsert", "ids": ids, "c": [counter + i for i in range(len(ids))]}
    if roll < 0.60:
        return {"op": "delete", "ids": [point_id(rng) for _ in range(rng.randrange(1, 4))]}
    if roll < 0.65:
        return {"op": "delete_filter", "tag": f"t{rng.randrange(TAGS)}"}
    if roll < 0.75:
        return {"op": "set_payload", "ids": [point_id(rng) for _ in range(3)], "c": [counter]}
    if roll < 0.82:
        return {"op": "overwrite_payload", "ids": [point_id(rng)], "c": [counter]}
    if roll < 0.86:
        return {"op": "clear_payload", "ids": [point_id(rng)]}
    if roll < 0.97:
        return {"op": "update_vectors", "ids": [point_id(rng)], "c": [counter]}
    return {"op": "quantization", "q": rng.randrange(len(QUANTIZATIONS))}


def run(db: Any, c: Any, op: dict[str, Any]) -> None:
    kind, ids = op["op"], op.get("ids")
    if kind == "upsert":
        dense = np.stack([vector_of(n) for n in op["c"]]).tolist()
        batch = {
            "ids": ids,
            "vectors": {"": dense, "s": [sparse_of(n) for n in op["c"]]},
            "payloads": [payload_of(n) for n in op["c"]],
        }
        if len(ids) == 1:
            vector = {"": dense[0], "s": sparse_of(op["c"][0])}
            point = {"id": ids[0], "vector": vector, "payload": batch["payloads"][0]}
            c.upsert({"points": [point]}, wait=True)
        else:
            c.upsert({"batch": batch}, wait=True)
    elif kind == "delete":
        c.delete({"points": ids}, wait=True)
    elif kind == "delete_filter":
        c.delete({"filter": {"must": [{"key": "tag", "match": {"value": op["tag"]}}]}}, wait=True)
    elif kind == "set_payload":
        c.set_payload({"points": ids, "payload": {"s": op["c"][0]}}, wait=True)
    elif kind == "overwrite_payload":
        c.overwrite_payload({"points": ids, "payload": payload_of(op["c"][0])}, wait=True)
    elif kind == "clear_payload":
        c.clear_payload({"points": ids}, wait=True)
    elif kind == "update_vectors":
        n = op["c"][0]
        point = {"id": ids[0], "vector": {"": vector_of(n).tolist(), "s": sparse_of(n)}}
        c.update_vectors({"points": [point]}, wait=True)
    elif kind == "quantization":
        db.update_collection(NAME, {"quantization_config": QUANTIZATIONS[op["q"]]})
    else:
        raise ValueError(kind)


def main() -> None:
    from vqdb.database import Database
    from vqdb.errors import NotFound

    path, seed, counter = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ops = int(sys.argv[4]) if len(sys.argv) > 4 else None
    out = sys.stdout
    db = Database(path)
    if db.exists(NAME):
        c = db.collection(NAME)
    else:
        c = db.create_collection(NAME, body(0 if ops is not None else 1))
    print("ready", flush=True)
    rng = random.Random(seed)
    done = 0
    while ops is None or done < ops:
        op = next_op(rng, counter)
        if ops is not None and op["op"] == "quantization":
            continue  # a config change checkpoints, emptying the WAL the caller wants to see
        counter += len(op.get("c", ()))
        line = json.dumps(op, separators=(",", ":"))
        out.write(f"start {line}\n")
        out.flush()
        try:
            run(db, c, op)
        except NotFound:  # update_vectors of a point that is not there: nothing written
            out.write(f"fail {line}\n")
        else:
            out.write(f"done {line}\n")
        out.flush()
        done += 1
        if ops is None and rng.random() < 0.04:
            time.sleep(rng.uniform(0.4, 1.0))  # a pause: the optimizer seals, builds, swaps
    print("idle", flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
