"""What a process that opens a storage folder holds of its own: the writer (`Database`) against a
reader (`Follower`, what each of `vqdb serve --reader-processes N` opens), per kind of data.

    python benchmarks/reader_bench.py --data ../shared/data/wordnet-mpnet-768 [--n 100000]

Two stores are written once, then each is opened in a fresh process as a writer and as a
follower, which reports the seconds to open, the growth of its anonymous RSS (what each of N
processes holds again; mapped file pages are the page cache's, shared) and the p50 of a query:
- "dense + payload indexes": n vectors derived from the real set at --dim, int8 quantized,
  with payload_bench's ~380 B payloads and six payload indexes (three keyword, one of them of
  the titles, nearly one value a point; an integer, a float, a full-text one); the query is
  a k=10 search filtered on a text match and a keyword;
- "sparse": n documents of ~120 terms over a Zipf vocabulary of 30k (tests/sparse_data.py);
  the query is a sparse k=10 search of 20 terms.
No peer opens one storage folder from several processes, so there is no peer column: the
writer's row is the baseline. Medians of 50 queries; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from datasets import derived, in_fresh_process, load, table  # noqa: E402
from payload_bench import payloads  # noqa: E402

INDEXES = {
    "category": "keyword",
    "tags": "keyword",
    "title": "keyword",  # many distinct values: 83k titles among 100k points
    "year": "integer",
    "price": "float",
}


def build_dense(path: Path, x: np.ndarray) -> None:
    from vqdb.database import Database

    with Database(path) as db:
        c = db.create_collection(
            "dense",
            {
                "vectors": {"size": x.shape[1], "distance": "Cosine"},
                "quantization_config": {"scalar": {"type": "int8", "always_ram": True}},
                "optimizers_config": {"indexing_threshold": 1000},
            },
        )
        for key, schema in {**INDEXES, "text": {"type": "text"}}.items():
            c.create_payload_index({"field_name": key, "field_schema": schema})
        pays = payloads(len(x))
        for s in range(0, len(x), 2000):
            ids = list(range(s, min(len(x), s + 2000)))
            c.upsert({"batch": {"ids": ids, "vectors": x[ids], "payloads": pays[s : s + 2000]}})
        _settle(c)


def build_sparse(path: Path, n: int) -> None:
    from sparse_data import random_sparse

    from vqdb.database import Database

    rows = random_sparse(n, vocabulary=30_000, nnz=120, seed=1)
    with Database(path) as db:
        c = db.create_collection(
            "sparse",
            {
                "vectors": {},
                "sparse_vectors": {"text": {}},
                "optimizers_config": {"indexing_threshold": 1000},
            },
        )
        for s in range(0, n, 2000):
            part = rows[np.arange(s, min(n, s + 2000))]
            points = []
            for i in range(len(part)):
                row = {"indices": part[i].indices.tolist(), "values": part[i].values.tolist()}
                points.append({"id": s + i, "vector": {"text": row}})
            c.upsert({"points": points})
        _settle(c)


def _settle(c: object) -> None:
    time.sleep(1)  # the optimizer seals after writes pause
    assert c.optimizer.wait_idle(1800)  # type: ignore[attr-defined]
    while any(s.appendable and s.count for s in c.segments):  # type: ignore[attr-defined]
        time.sleep(0.1)


_PROBE = r"""
import json, statistics, sys, time
import numpy as np

def anon():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    return int(fields["RssAnon"].split()[0]) * 1024

kind, path, store, queries = sys.argv[1], sys.argv[2], sys.argv[3], np.load(sys.argv[4])
from vqdb.collection import query
before = anon()
start = time.perf_counter()
if kind == "writer":
    from vqdb.database import Database
    db = Database(path, optimizer_threads=1)
else:
    from vqdb.follower import Follower
    db = Follower(path)
c = db.collection(store)
opened = time.perf_counter() - start
rng = np.random.default_rng(0)
times = []
for i in range(50):
    if store == "dense":
        flt = {"must": [{"key": "text", "match": {"text": "graph disk"}},
                        {"key": "category", "match": {"value": f"c{i % 50}"}}]}
        body = {"query": queries[i % len(queries)].tolist(), "limit": 10, "filter": flt}
    else:
        terms = rng.choice(30_000, 20, replace=False).tolist()
        body = {"query": {"indices": terms, "values": rng.random(20).tolist()}, "using": "text",
                "limit": 10}
    t = time.perf_counter()
    found = query.query(c, body)["points"]
    times.append(time.perf_counter() - t)
    assert found, (store, i)
print(json.dumps({"open_s": opened, "anon": anon() - before, "p50": statistics.median(times)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="dataset folder (base.npy, queries.npy)")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    args = parser.parse_args()
    base, queries, _, _ = load(args.data)
    x = derived(base, args.n, args.dim)
    q = derived(queries, 50, args.dim, seed=1)
    print(f"machine: {os.cpu_count()} cores; {args.n} points; dense at {args.dim} dims")
    folder = Path(tempfile.mkdtemp(prefix="reader-bench-"))
    rows = []
    try:
        np.save(folder / "queries.npy", q)
        for store, build in (
            ("dense", lambda p: build_dense(p, x)),
            ("sparse", lambda p: build_sparse(p, args.n)),
        ):
            path = folder / store
            build(path)
            for kind in ("writer", "reader"):
                r = in_fresh_process(_PROBE, kind, str(path), store, str(folder / "queries.npy"))
                rows.append(
                    {
                        "store": "dense + payload indexes" if store == "dense" else "sparse",
                        "process": kind,
                        "open s": round(r["open_s"], 2),
                        "own MB": round(r["anon"] / 2**20, 1),
                        "query p50 ms": round(1e3 * r["p50"], 3),
                    }
                )
            print(f"  {store}: done", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    table(rows)


if __name__ == "__main__":
    main()
