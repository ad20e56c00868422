"""Payloads on disk (`on_disk_payload`, Qdrant's default) against `on_disk_payload: false`
(vqdb: the same file, read ahead into the page cache), side by side with qdrant-edge-py's two
modes: the RAM a reopened store takes, and the latency of the reads that touch payloads.

    python benchmarks/payload_bench.py --data ../shared/data/wordnet-mpnet-768 \
        [--n 100000] [--dim 128] [--indexes all]

n points, their vectors derived from the real set at --dim, each with ~400 bytes of JSON
payload: a title, a text, a `category` among 50 (keyword-indexed), a `tier` among 8 (not
indexed), a year, a price and tags. Each store is written, indexed and closed, then reopened
in a fresh process, which reports:
- RAM: the growth of its RSS over the open and the reads, per point, split into anonymous
  memory (the process's own: what each of N processes would hold again) and mapped file pages
  (the page cache's, shared by every process that maps the file);
- p50 ms of a k=10 search returning payloads; the same filtered on the indexed category (2% of
  the points) and on the unindexed tier (12.5%); a scroll page of 100 with payloads.
`--indexes all` indexes tags (keyword), year (integer), price (float) and the text (full
text) too, and adds a search filtered on two words of the text: what a process pays at its
open for the indexes it does not build (vqdb reads them from its segment files; a reader
process of `vqdb serve` opens the storage as this one does).
Vectors, graph, ids and the category index are in both modes of an engine: compare a mode with
the other mode of the same engine. Medians of --queries runs; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from datasets import derived, in_fresh_process, load, table  # noqa: E402

BATCH = 1000
THRESHOLD_KB = 1000  # both engines build their graph at any --n worth measuring
INDEXES = {  # key -> its index (vqdb's schema; qdrant-edge's type of the same name)
    "category": "keyword",
    "tags": "keyword",
    "year": "integer",
    "price": "float",
    "text": "text",
}
WORDS = ["vector", "quantized", "search", "graph", "payload", "index", "segment", "disk"]


def payloads(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        words = rng.choice(WORDS, size=40)
        out.append(
            {
                "title": " ".join(words[:6]).capitalize(),
                "text": " ".join(words[6:]),
                "category": f"c{i % 50}",
                "tier": f"t{i % 8}",
                "year": 1990 + i % 35,
                "price": round(float(rng.uniform(1, 500)), 2),
                "tags": [str(t) for t in rng.choice(WORDS, size=i % 4, replace=False)],
            }
        )
    return out


def build_vqdb(
    path: str, x: np.ndarray, pays: list[dict[str, Any]], on_disk: bool, indexed: list[str]
) -> None:
    import vqdb
    from vqdb import models

    with vqdb.Client(path=path) as client:
        client.create_collection(
            "bench",
            vectors_config=models.VectorParams(size=x.shape[1], distance=models.Distance.COSINE),
            on_disk_payload=on_disk,
            optimizers_config=models.OptimizersConfigDiff(indexing_threshold=THRESHOLD_KB),
        )
        for key in indexed:
            client.create_payload_index("bench", key, models.PayloadSchemaType(INDEXES[key]))
        client.upload_collection(
            "bench", vectors=x, payload=pays, ids=range(len(x)), batch_size=BATCH, wait=True
        )
        while client.get_collection("bench").status != models.CollectionStatus.GREEN:
            time.sleep(0.1)


def build_edge(
    path: str, x: np.ndarray, pays: list[dict[str, Any]], on_disk: bool, indexed: list[str]
) -> None:
    import qdrant_edge as qe

    config = qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(size=x.shape[1], distance=qe.Distance.Cosine),
        on_disk_payload=on_disk,
        optimizers=qe.EdgeOptimizersConfig(
            default_segment_number=1, indexing_threshold=THRESHOLD_KB
        ),
        max_search_threads=1,
    )
    shard = qe.EdgeShard.create(path, config)
    for key in indexed:
        kind = getattr(qe.PayloadSchemaType, INDEXES[key].capitalize())
        shard.update(qe.UpdateOperation.create_field_index(key, kind))
    for s in range(0, len(x), BATCH):
        rows = x[s : s + BATCH].tolist()
        points = [qe.Point(i, v, pays[i]) for i, v in enumerate(rows, s)]
        shard.update(qe.UpdateOperation.upsert_points(points))
    shard.optimize()
    shard.close()


_PROBE = r"""
import json, statistics, sys, time
import numpy as np

def rss():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    kb = lambda k: int(fields[k].split()[0]) * 1024
    return {"anon": kb("RssAnon"), "file": kb("RssFile")}

engine, path, queries = sys.argv[1], sys.argv[2], np.load(sys.argv[3])
text_indexed = sys.argv[4] == "1"
if engine == "vqdb":
    import vqdb
    from vqdb import models
    def where(key, value):
        match = models.MatchValue(value=value)
        return models.Filter(must=[models.FieldCondition(key=key, match=match)])
    def words(text):
        match = models.MatchText(text=text)
        return models.Filter(must=[models.FieldCondition(key="text", match=match)])
    before = rss()
    start = time.perf_counter()
    client = vqdb.Client(path=path)
    def search(q, flt=None):
        found = client.query_points("bench", query=q, limit=10, with_payload=True, query_filter=flt)
        return found.points
    def page(offset):
        return client.scroll("bench", limit=100, offset=offset, with_payload=True)[0]
else:
    import qdrant_edge as qe
    def where(key, value):
        return qe.Filter(must=[qe.FieldCondition(key, match=qe.MatchValue(value))])
    def words(text):
        return qe.Filter(must=[qe.FieldCondition("text", match=qe.MatchText(text))])
    before = rss()
    start = time.perf_counter()
    shard = qe.EdgeShard.load(path)
    def search(q, flt=None):
        nearest = qe.Query.Nearest(q.tolist())
        return shard.query(qe.QueryRequest(10, query=nearest, with_payload=True, filter=flt))
    def page(offset):
        return shard.scroll(qe.ScrollRequest(offset=offset, limit=100, with_payload=True))[0]
search(queries[0])
opened = time.perf_counter() - start
kinds = {
    "search": lambda i: search(queries[i]),
    "indexed filter": lambda i: search(queries[i], where("category", f"c{i % 50}")),
    "unindexed filter": lambda i: search(queries[i], where("tier", f"t{i % 8}")),
    "scroll 100": lambda i: page(i * 97),
}
if text_indexed:
    pairs = ["graph disk", "vector index", "payload search", "segment quantized"]
    kinds["text filter"] = lambda i: search(queries[i], words(pairs[i % len(pairs)]))
p50 = {}
for kind, run in kinds.items():
    times = []
    for i in range(len(queries)):
        t = time.perf_counter()
        hits = run(i)
        times.append(time.perf_counter() - t)
        assert hits and all(h.payload for h in hits), (kind, i)
    p50[kind] = statistics.median(times)
print(json.dumps({"open_s": opened, "before": before, "after": rss(), "p50": p50}))
"""

BUILDERS = {"vqdb": build_vqdb, "qdrant-edge": build_edge}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="dataset folder (base.npy, queries.npy)")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--engines", nargs="+", default=list(BUILDERS), choices=list(BUILDERS))
    parser.add_argument(
        "--indexes", choices=["category", "all"], default="category", help="payload indexes"
    )
    args = parser.parse_args()
    indexed = list(INDEXES) if args.indexes == "all" else ["category"]
    base, queries, _, _ = load(args.data)
    x = derived(base, args.n, args.dim)
    q = derived(queries, args.queries, args.dim, seed=1)
    pays = payloads(args.n)
    size = sum(len(json.dumps(p, separators=(",", ":"))) for p in pays) / args.n
    print(
        f"machine: {os.cpu_count()} cores; {args.n} points x {args.dim}, payloads ~{size:.0f} B,"
        f" indexed: {', '.join(indexed)}"
    )
    folder = Path(tempfile.mkdtemp(prefix="payload-bench-"))
    rows = []
    try:
        np.save(folder / "queries.npy", q)
        for engine in args.engines:
            for on_disk in (True, False):
                path = folder / f"{engine}-{on_disk}"
                start = time.perf_counter()
                BUILDERS[engine](str(path), x, pays, on_disk, indexed)
                built = time.perf_counter() - start
                queries = str(folder / "queries.npy")
                text = "1" if "text" in indexed else "0"
                r = in_fresh_process(_PROBE, engine, str(path), queries, text)
                grown = {k: (r["after"][k] - r["before"][k]) / args.n for k in ("anon", "file")}
                rows.append(
                    {
                        "engine": engine,
                        "on_disk_payload": on_disk,
                        "built s": round(built, 1),
                        "open s": round(r["open_s"], 2),
                        "anon B/point": round(grown["anon"]),
                        "file B/point": round(grown["file"]),
                        **{f"{k} ms": round(1e3 * v, 3) for k, v in r["p50"].items()},
                    }
                )
                print(f"  {engine} on_disk_payload={on_disk}: done", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    table(rows)


if __name__ == "__main__":
    main()
