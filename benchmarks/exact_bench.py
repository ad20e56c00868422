"""One query at a time, exactly: the brute-force top 10 of a set with no graph, as an unindexed
segment (one a steady upload keeps growing) or an `exact` search is answered, on one thread and
on every core, beside the peers' exact searches.

    python benchmarks/exact_bench.py --data ../shared/data/wordnet-mpnet-768 [--n 20000 100000]

n vectors derived from the real set (768-d, unit length, Cosine), 200 of its queries, k=10;
each engine is asked one query per call and its median latency is reported, with one thread
and with all of them:
- vqdb: `vqdb.Index(hnsw=None)`, float32 originals, `threads=1` and `threads=0` (a lone
  query's scan is split over the threads once it holds 2 MB of codes a thread);
- faiss: IndexFlatIP, OpenMP at 1 thread and at every core;
- usearch: `usearch.index.search(..., exact=True, threads=1 / 0)`;
- hnswlib: BFIndex (its brute force), `num_threads` 1 and every core;
- qdrant-edge-py: a shard that is never indexed, searched with `exact=True`,
  `max_search_threads` 1 and 0 (every core).
recall@10 against the exact neighbours (float64) checks that each answer is exact. Medians and
ratios are what to quote: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from datasets import derived, exact_cosine, filled_edge_shard, load, recall_at_k, table  # noqa: E402

K = 10
Search = Callable[[np.ndarray], list[int]]


def vqdb_engine(x: np.ndarray) -> Callable[[int], Search]:
    import vqdb

    index = vqdb.Index(x.shape[1], "Cosine", hnsw=None)
    index.add(np.arange(len(x)), x)

    def at(threads: int) -> Search:
        return lambda q: index.search(q, K, threads=threads)[0].tolist()

    return at


def faiss_engine(x: np.ndarray) -> Callable[[int], Search]:
    import faiss

    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)

    def at(threads: int) -> Search:
        def search(q: np.ndarray) -> list[int]:
            faiss.omp_set_num_threads(threads or os.cpu_count() or 1)
            return index.search(q[None, :], K)[1][0].tolist()

        return search

    return at


def usearch_engine(x: np.ndarray) -> Callable[[int], Search]:
    from usearch.index import MetricKind, search

    def at(threads: int) -> Search:
        def one(q: np.ndarray) -> list[int]:
            found = search(x, q, K, MetricKind.IP, exact=True, threads=threads)
            return [int(k) for k in found.keys]

        return one

    return at


def hnswlib_engine(x: np.ndarray) -> Callable[[int], Search]:
    import hnswlib

    index = hnswlib.BFIndex(space="ip", dim=x.shape[1])
    index.init_index(max_elements=len(x))
    index.add_items(x, np.arange(len(x)))

    def at(threads: int) -> Search:
        every = threads or os.cpu_count() or 1
        return lambda q: index.knn_query(q, k=K, num_threads=every)[0][0].tolist()

    return at


def edge_engine(x: np.ndarray) -> Callable[[int], Search]:
    import qdrant_edge as qe

    shards = {}

    def at(threads: int) -> Search:
        if threads not in shards:
            config = qe.EdgeConfig(
                vectors=qe.EdgeVectorParams(size=x.shape[1], distance=qe.Distance.Cosine),
                optimizers=qe.EdgeOptimizersConfig(indexing_threshold=0),  # never indexed
                max_search_threads=threads,
                wal_enabled=False,
            )
            batches = (
                [qe.Point(i, v) for i, v in enumerate(x[s : s + 1000].tolist(), s)]
                for s in range(0, len(x), 1000)
            )
            shards[threads] = filled_edge_shard(config, "exact-bench-", batches)
        shard = shards[threads][0]
        params = qe.SearchParams(exact=True)

        def search(q: np.ndarray) -> list[int]:
            request = qe.QueryRequest(query=qe.Query.Nearest(q.tolist()), limit=K, params=params)
            return [int(hit.id) for hit in shard.query(request)]

        return search

    at.close = lambda: [close() for _, close in shards.values()]  # type: ignore[attr-defined]
    return at


ENGINES: dict[str, Callable[[np.ndarray], Callable[[int], Search]]] = {
    "vqdb": vqdb_engine,
    "faiss": faiss_engine,
    "usearch": usearch_engine,
    "hnswlib": hnswlib_engine,
    "qdrant-edge": edge_engine,
}


def p50_ms(search: Search, queries: np.ndarray) -> tuple[float, list[list[int]]]:
    for q in queries[:10]:  # warm-up
        search(q)
    times, found = [], []
    for q in queries:
        start = time.perf_counter()
        found.append(search(q))
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--n", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip", default="", help="engines to leave out, comma-separated")
    args = parser.parse_args()
    base, queries, _, _ = load(args.data, "cosine")
    queries = queries[: args.queries].astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    skip = set(filter(None, args.skip.split(",")))
    cores = os.cpu_count() or 1
    rows = []
    for n in args.n:
        x = derived(base.astype(np.float32), n, base.shape[1])
        gt = exact_cosine(x, queries, K)
        for name, make in ENGINES.items():
            if name in skip:
                continue
            try:
                at = make(x)
            except ImportError as e:
                print(f"{name}: not installed ({e}); pip install 'vqdb[bench]'")
                continue
            one, found = p50_ms(at(1), queries)
            every, _ = p50_ms(at(0), queries)
            close = getattr(at, "close", None)
            if close is not None:
                close()
            rows.append(
                {
                    "n": n,
                    "engine": name,
                    "p50 ms, 1 thread": f"{one:.2f}",
                    f"p50 ms, {cores} threads": f"{every:.2f}",
                    "speedup": f"{one / every:.2f}x",
                    "recall@10": f"{recall_at_k(found, gt, K):.3f}",
                }
            )
            print(f"n={n} {name}: done", flush=True)
    print()
    table(rows)


if __name__ == "__main__":
    main()
