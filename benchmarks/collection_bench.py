"""Collections on durable storage, measured: upsert rate, index build time, reopen time, RAM per
vector with on-disk originals, and filtered-search recall. Side by side with qdrant-edge-py
(the same engine Qdrant runs, embedded) and qdrant-client's local mode where they have the mode.

    python benchmarks/collection_bench.py upsert   --data ../shared/data/wordnet-mpnet-768
    python benchmarks/collection_bench.py reopen   --data ../shared/data/wordnet-mpnet-768
    python benchmarks/collection_bench.py filtered --data ../shared/data/wordnet-mpnet-768
    python benchmarks/collection_bench.py all      --data ../shared/data/wordnet-mpnet-768

No real embedding set here has 100k vectors or 1536 dimensions, so the large runs use vectors
derived from the real ones: normalised sums of two random real vectors (and, for 1536-d, two
such halves side by side). They keep the clustered shape of real embeddings, which matters for
graph build time (i.i.d. Gaussian vectors are a pathological case for HNSW).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from datasets import derived, in_fresh_process, load, normalize, recall_at_k, table  # noqa: E402

BATCH = 1000


def payloads(n: int) -> list[dict[str, Any]]:
    return [{"category": f"c{i % 10}", "n": i, "tags": ["a", "b"][: i % 3]} for i in range(n)]


# ---- upsert rate and index build time -----------------------------------------------------


def upsert_vqdb(x: np.ndarray, pays: list[dict[str, Any]], path: str) -> dict[str, Any]:
    import vqdb
    from vqdb import models

    client = vqdb.Client(path=path)
    client.create_collection(
        "bench",
        vectors_config=models.VectorParams(size=x.shape[1], distance=models.Distance.COSINE),
    )
    start = time.perf_counter()
    # upload_collection: numpy batches, each logged to the WAL; the last one waits for fsync,
    # which covers the earlier ones (the log is written in order)
    client.upload_collection(
        "bench", vectors=x, payload=pays, ids=range(x.shape[0]), batch_size=BATCH, wait=True
    )
    acked = time.perf_counter() - start
    while client.get_collection("bench").status != models.CollectionStatus.GREEN:
        time.sleep(0.05)
    built = time.perf_counter() - start - acked
    client.close()
    return {
        "engine": "vqdb",
        "points/s": round(x.shape[0] / acked),
        "ack s": round(acked, 2),
        "index build s": round(built, 1),
    }


def upsert_qdrant_edge(x: np.ndarray, pays: list[dict[str, Any]], path: str) -> dict[str, Any]:
    import qdrant_edge as qe

    config = qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(size=x.shape[1], distance=qe.Distance.Cosine),
        max_search_threads=1,
    )
    shard = qe.EdgeShard.create(path, config)
    start = time.perf_counter()
    for s in range(0, x.shape[0], BATCH):
        rows = x[s : s + BATCH].tolist()
        points = [qe.Point(i, v, pays[i]) for i, v in enumerate(rows, s)]
        shard.update(qe.UpdateOperation.upsert_points(points))
    acked = time.perf_counter() - start
    shard.optimize()
    built = time.perf_counter() - start - acked
    shard.close()
    return {
        "engine": "qdrant-edge",
        "points/s": round(x.shape[0] / acked),
        "ack s": round(acked, 2),
        "index build s": round(built, 1),
    }


def upsert_qdrant_local(x: np.ndarray, pays: list[dict[str, Any]], path: str) -> dict[str, Any]:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=path)
    client.create_collection(
        "bench",
        vectors_config=models.VectorParams(size=x.shape[1], distance=models.Distance.COSINE),
    )
    start = time.perf_counter()
    for s in range(0, x.shape[0], BATCH):
        batch = models.Batch(
            ids=list(range(s, s + BATCH)),
            vectors=x[s : s + BATCH].tolist(),
            payloads=pays[s : s + BATCH],
        )
        client.upsert("bench", points=batch, wait=True)
    acked = time.perf_counter() - start
    client.close()
    return {
        "engine": "qdrant-client local",
        "points/s": round(x.shape[0] / acked),
        "ack s": round(acked, 2),
        "index build s": "- (no index)",
    }


def run_upsert(base: np.ndarray, n: int, local_n: int) -> None:
    x = derived(base, n, base.shape[1])
    pays = payloads(n)
    print(f"upsert: {n} x {x.shape[1]} with payloads, batches of {BATCH}, wait=true, to disk")
    rows = []
    for engine, count in (
        (upsert_vqdb, n),
        (upsert_qdrant_edge, n),
        (upsert_qdrant_local, local_n),
    ):
        path = tempfile.mkdtemp(prefix="collection-bench-")
        try:
            row = engine(x[:count], pays[:count], path)
            row["n"] = count
            rows.append(row)
        except ImportError as e:
            print(f"  {engine.__name__}: skipped ({e})")
        finally:
            shutil.rmtree(path, ignore_errors=True)
    table(rows)


# ---- reopen time and RAM per vector -------------------------------------------------------

_PROBE = r"""
import json, sys, time, numpy as np
import vqdb
from vqdb import models

def rss():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    kb = lambda k: int(fields[k].split()[0]) * 1024
    return {"rss": kb("VmRSS"), "anon": kb("RssAnon"), "file": kb("RssFile")}

path, queries, read_path = sys.argv[1], np.load(sys.argv[2]), sys.argv[3]
before = rss()
start = time.perf_counter()
client = vqdb.Client(path=path, async_scorer=read_path)
client.query_points("bench", query=queries[0], limit=10)
ready = time.perf_counter() - start
opened = rss()
held = {}  # bytes the reopened segments hold in RAM, by part
for segment in client._collection("bench").segments:
    for part, nbytes in segment.memory_usage().items():
        held[part] = held.get(part, 0) + nbytes
for q in queries:
    client.query_points("bench", query=q, limit=10)
searched = rss()
print(json.dumps(
    {"ready_s": ready, "before": before, "opened": opened, "searched": searched, "held": held}
))
"""


# rescoring through the memory map, and through io_uring reads, which map no file pages
# ("auto" would read in place here: the mmap probe before it leaves the rows in the page cache)
READ_PATHS = ("mmap", "io_uring")


def _reopened(
    base: np.ndarray, queries: np.ndarray, n: int, dim: int
) -> tuple[dict[str, dict[str, Any]], int, float]:
    """Builds an on-disk collection of n points, reopens it in a fresh process per read path
    and returns those processes' memory readings, the graph's link bytes and the build time."""
    import vqdb
    from vqdb import models

    x = derived(base, n, dim)
    path = tempfile.mkdtemp(prefix="collection-bench-")
    try:
        client = vqdb.Client(path=path)
        client.create_collection(
            "bench",
            vectors_config=models.VectorParams(
                size=dim, distance=models.Distance.COSINE, on_disk=True
            ),
            quantization_config=models.BinaryQuantization(
                binary=models.BinaryQuantizationConfig(always_ram=True)
            ),
        )
        start = time.perf_counter()
        client.upload_collection("bench", vectors=x, ids=range(n), batch_size=BATCH, wait=True)
        while client.get_collection("bench").status != models.CollectionStatus.GREEN:
            time.sleep(0.1)
        built = time.perf_counter() - start
        client.close()
        qpath = Path(path) / "queries.npy"
        np.save(qpath, derived(queries, 200, dim, seed=1))
        readings = {}
        for read_path in READ_PATHS:
            readings[read_path] = in_fresh_process(_PROBE, path, str(qpath), read_path)
        segments = Path(path) / "collections" / "bench" / "segments"
        graph = sum(f.stat().st_size for f in segments.rglob("*graph.links0.npy"))
        graph += sum(f.stat().st_size for f in segments.rglob("*graph.upper.npy"))
        return readings, graph, built
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_reopen(base: np.ndarray, queries: np.ndarray, n: int, dim: int) -> None:
    """RAM per vector two ways: the whole growth over the imports divided by n, and the slope
    between n/2 and n points, which leaves out what does not grow with n (huge-page rounding
    of each array, modules first imported on open)."""
    halves, half_graph, _ = _reopened(base, queries, n // 2, dim)
    fulls, graph, built = _reopened(base, queries, n, dim)
    code = dim // 8  # one bit per dimension
    budget = (code + graph / n) * 1.10
    print(f"reopen: {n} x {dim}, on_disk originals, binary always_ram (built in {built:.0f} s)")
    rows = []
    for (label, key), read_path in itertools.product(
        (("after open + 1 query", "opened"), ("after 200 queries", "searched")), READ_PATHS
    ):
        full, half = fulls[read_path], halves[read_path]
        grown = {k: full[key][k] - full["before"][k] for k in ("rss", "anon", "file")}
        half_grown = {k: half[key][k] - half["before"][k] for k in ("rss", "anon", "file")}
        for how, per in (
            ("/ n", {k: grown[k] / n for k in grown}),
            ("slope", {k: (grown[k] - half_grown[k]) / (n - n // 2) for k in grown}),
        ):
            rows.append(
                {
                    "moment": label,
                    "rescoring reads": read_path,
                    "per vector": how,
                    "RSS B/vec": round(per["rss"]),
                    "anon B/vec": round(per["anon"]),
                    "file B/vec": round(per["file"]),
                    "codes+links B/vec": round(code + graph / n),
                    "budget (+10%)": round(budget),
                }
            )
    table(rows)
    full, half = fulls["mmap"], halves["mmap"]
    print(f"ready to search after reopen: {full['ready_s']:.2f} s\n")
    # Where the anonymous memory goes: what the segments hold, by part, against RssAnon growth.
    grown_anon = full["opened"]["anon"] - full["before"]["anon"]
    half_anon = half["opened"]["anon"] - half["before"]["anon"]
    parts = sorted(set(full["held"]) | set(half["held"]))
    accounting = []
    for label, full_b, half_b in [
        *((p, full["held"].get(p, 0), half["held"].get(p, 0)) for p in parts),
        ("sum of parts", sum(full["held"].values()), sum(half["held"].values())),
        ("RssAnon growth (open + 1 query)", grown_anon, half_anon),
        (
            "not held by any part",
            grown_anon - sum(full["held"].values()),
            half_anon - sum(half["held"].values()),
        ),
    ]:
        accounting.append(
            {
                "held in RAM": label,
                "B/vec (/ n)": round(full_b / n, 1),
                "B/vec (slope)": round((full_b - half_b) / (n - n // 2), 1),
            }
        )
    table(accounting)


# ---- filtered search recall ---------------------------------------------------------------


def run_filtered(base: np.ndarray, queries: np.ndarray, nq: int) -> None:
    import vqdb
    from vqdb import models

    n = base.shape[0]
    rng = np.random.default_rng(7)
    bucket = rng.permutation(n) % 100  # selectivity in percent: bucket < s
    unit = normalize(base)
    q = normalize(queries[:nq])
    print(
        f"filtered search: {n} x {base.shape[1]}, {nq} queries, range filter on an integer "
        "payload index, recall@10 against exact filtered search"
    )
    rows = []
    for planner, threshold in (("planner (default)", None), ("graph forced", 10)):
        client = vqdb.Client(":memory:")
        hnsw = None if threshold is None else models.HnswConfigDiff(full_scan_threshold=threshold)
        client.create_collection(
            "f",
            vectors_config=models.VectorParams(size=base.shape[1], distance=models.Distance.COSINE),
            hnsw_config=hnsw,
            optimizers_config=models.OptimizersConfigDiff(indexing_threshold=1),
        )
        client.create_payload_index("f", "bucket", models.PayloadSchemaType.INTEGER)
        client.upload_collection(
            "f",
            vectors=base,
            payload=[{"bucket": int(b)} for b in bucket],
            ids=range(n),
            batch_size=4096,
            wait=True,
        )
        while client.get_collection("f").status != models.CollectionStatus.GREEN:
            time.sleep(0.05)
        for pct in (50, 10, 1):
            allowed = bucket < pct
            sims = q @ unit[allowed].T
            truth = np.flatnonzero(allowed)[np.argsort(-sims, axis=1)[:, :10]]
            flt = models.Filter(
                must=[models.FieldCondition(key="bucket", range=models.Range(lt=pct))]
            )
            start = time.perf_counter()
            found = [
                [p.id for p in client.query_points("f", query=v, query_filter=flt, limit=10).points]
                for v in queries[:nq]
            ]
            elapsed = time.perf_counter() - start
            rows.append(
                {
                    "mode": planner,
                    "selectivity": f"{pct}%",
                    "recall@10": round(recall_at_k(found, truth, 10), 4),
                    "QPS": round(nq / elapsed),
                }
            )
        client.close()
    table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["upsert", "reopen", "filtered", "all"])
    parser.add_argument("--data", required=True, help="dataset folder (base.npy, queries.npy)")
    parser.add_argument("--n", type=int, default=100_000, help="points for upsert and reopen")
    parser.add_argument("--dim", type=int, default=1536, help="dimension for reopen")
    parser.add_argument(
        "--local-n",
        type=int,
        default=10_000,
        help="points for qdrant-client's local mode (it is slow)",
    )
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    base, queries, _, _ = load(args.data)
    print(f"machine: {os.cpu_count()} cores; data: {args.data}\n")
    if args.what in ("upsert", "all"):
        run_upsert(base, args.n, args.local_n)
    if args.what in ("reopen", "all"):
        run_reopen(base, queries, args.n, args.dim)
    if args.what in ("filtered", "all"):
        run_filtered(base, queries, args.queries)


if __name__ == "__main__":
    main()
