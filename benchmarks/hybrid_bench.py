"""Hybrid search through the Query API: vqdb beside qdrant-edge-py doing the same, in one run.

    python benchmarks/hybrid_bench.py --data ../shared/data/python-docs-minilm-384

One collection (one qdrant-edge shard) per engine holds each passage twice: its dense embedding
("dense", Cosine, binary quantization in RAM, HNSW m=16 ef_construct=100) and its BM25 weights
("bm25", IDF modifier; the weights of benchmarks/sparse_bench.py). Each held-out query text is
asked both ways at once, and the two lists are fused:

    prefetch: [{dense query, limit P}, {BM25 query, limit P}], query: {"fusion": "rrf"}, limit 10

Truth: RRF (k=2) of the exact top-P of each list (cosine in float64 over the originals, BM25
with IDF in float64), ties to the lower id; `recall` is the overlap of an engine's 10 with it.

A second table compares the two ways to use binary codes for a dense query on vqdb, beside the
same on qdrant-edge: `oversampling` (one search: codes with oversampling 4, rescored by the
originals) and `prefetch+rescore` (a prefetch of 40 by the codes without rescoring, then a
nearest query over those 40 with the originals): the pattern Qdrant recommends for quantized
collections. Its recall is against the exact dense top-10 (gt_cosine.npy).

Every call asks the same of both engines: ids and scores, no payload (qdrant-edge's default;
vqdb.Client's, like qdrant-client's, is with_payload=True) and no vector.

Timing: one query per call on one thread (qdrant-edge max_search_threads=1); the engines take
their passes in turn (a drift of this shared machine slows both); QPS is the median over passes
of queries / time, p50 / p99 the per-call latencies of every pass.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

# The script's own folder is first on sys.path: benchmarks/datasets.py and sparse_bench.py.
from datasets import Timer, exact_cosine, filled_edge_shard, load, table
from sparse_bench import Csr, bm25_corpus, bm25_queries, idf_weights, read_texts

DENSE, SPARSE = "dense", "bm25"
RRF_K = 2
Search = Callable[[int], list[int]]


# ---------------------------------------------------------------------------- truth


def exact_bm25(docs: Csr, queries: Csr, idf: np.ndarray, k: int) -> list[np.ndarray]:
    dense = np.zeros(int(docs.indices.max()) + 1)
    rows = np.repeat(np.arange(len(docs)), np.diff(docs.indptr))
    out = []
    for i in range(len(queries)):
        terms, weights = queries.row(i)
        dense[:] = 0
        dense[terms] = weights * idf[terms]
        contrib = docs.values.astype(np.float64) * dense[docs.indices]
        scores = np.bincount(rows, weights=contrib, minlength=len(docs))
        hit = np.flatnonzero(scores > 0)
        out.append(hit[np.lexsort((hit, -scores[hit]))][:k])
    return out


def rrf(lists: list[Any], limit: int) -> list[int]:
    fused: dict[int, float] = {}
    for ranked in lists:
        for rank, pid in enumerate(ranked):
            fused[int(pid)] = fused.get(int(pid), 0.0) + 1.0 / (rank + 1 + RRF_K - 1)
    return [pid for pid, _ in sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))][:limit]


def overlap(found: list[list[int]], truth: list[Any], k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(list(t)[:k])) / k for f, t in zip(found, truth)]))


# ---------------------------------------------------------------------------- engines


class Engine:
    """A built engine: its searches by name ("hybrid", "oversampling", "prefetch+rescore")."""

    def __init__(self, searches: dict[str, Search], build_s: float, close: Callable[[], None]):
        self.searches, self.build_s, self.close = searches, build_s, close


def build_vqdb(base: np.ndarray, docs: Csr, dq: np.ndarray, sq: Csr, p: int, k: int) -> Engine:
    import vqdb
    from vqdb import models

    with Timer() as t:
        client = vqdb.Client(":memory:")
        client.create_collection(
            "hybrid",
            vectors_config={
                DENSE: models.VectorParams(
                    size=base.shape[1],
                    distance=models.Distance.COSINE,
                    quantization_config=models.BinaryQuantization(
                        binary=models.BinaryQuantizationConfig(always_ram=True)
                    ),
                )
            },
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            # every point in one optimized (binary) segment, as qdrant-edge's: scores of codes
            # that are not rescored do not compare with an appendable segment's floats, and the
            # default target of 2 segments would leave one or two by the optimizer's timing
            optimizers_config=models.OptimizersConfigDiff(
                indexing_threshold=1, default_segment_number=1
            ),
        )
        for start in range(0, len(base), 1000):
            stop = min(start + 1000, len(base))
            sparse = [
                models.SparseVector(indices=i.tolist(), values=v.tolist())
                for i, v in (docs.row(r) for r in range(start, stop))
            ]
            vectors = {DENSE: base[start:stop], SPARSE: sparse}
            client.upsert("hybrid", models.Batch(ids=list(range(start, stop)), vectors=vectors))
        while client.get_collection("hybrid").status != models.CollectionStatus.GREEN:
            time.sleep(0.05)
    dense = [q.tolist() for q in dq]
    sparse = [
        models.SparseVector(indices=i.tolist(), values=v.tolist())
        for i, v in map(sq.row, range(len(sq)))
    ]
    codes_only = models.SearchParams(quantization=models.QuantizationSearchParams(rescore=False))
    oversampled = models.SearchParams(
        quantization=models.QuantizationSearchParams(rescore=True, oversampling=4.0)
    )

    def ids(response: Any) -> list[int]:
        return [int(h.id) for h in response.points]

    def hybrid(i: int) -> list[int]:
        prefetch = [
            models.Prefetch(query=dense[i], using=DENSE, limit=p),
            models.Prefetch(query=sparse[i], using=SPARSE, limit=p),
        ]
        fusion = models.FusionQuery(fusion=models.Fusion.RRF)
        return ids(
            client.query_points(
                "hybrid", prefetch=prefetch, query=fusion, limit=k, with_payload=False
            )
        )

    def oversampling(i: int) -> list[int]:
        return ids(
            client.query_points(
                "hybrid",
                query=dense[i],
                using=DENSE,
                limit=k,
                search_params=oversampled,
                with_payload=False,
            )
        )

    def rescored(i: int) -> list[int]:
        prefetch = models.Prefetch(query=dense[i], using=DENSE, limit=4 * k, params=codes_only)
        return ids(
            client.query_points(
                "hybrid",
                prefetch=prefetch,
                query=dense[i],
                using=DENSE,
                limit=k,
                with_payload=False,
            )
        )

    searches = {"hybrid": hybrid, "oversampling": oversampling, "prefetch+rescore": rescored}
    return Engine(searches, t.seconds, client.close)


def build_qdrant_edge(
    base: np.ndarray, docs: Csr, dq: np.ndarray, sq: Csr, p: int, k: int
) -> Engine:
    import qdrant_edge as qe

    config = qe.EdgeConfig(
        vectors={
            DENSE: qe.EdgeVectorParams(
                size=base.shape[1],
                distance=qe.Distance.Cosine,
                quantization_config=qe.BinaryQuantizationConfig(always_ram=True),
            )
        },
        sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        optimizers=qe.EdgeOptimizersConfig(default_segment_number=1, indexing_threshold=1),
        max_search_threads=1,
        wal_enabled=False,  # the shard is thrown away after the run
    )
    batches = (
        [
            qe.Point(
                r,
                {
                    DENSE: base[r].tolist(),
                    SPARSE: qe.SparseVector(*map(np.ndarray.tolist, docs.row(r))),
                },
            )
            for r in range(start, min(start + 1000, len(base)))
        ]
        for start in range(0, len(base), 1000)
    )
    with Timer() as t:
        shard, close = filled_edge_shard(config, "hybrid-qdrant-edge-", batches)
    dense = [q.tolist() for q in dq]
    sparse = [qe.SparseVector(i.tolist(), v.tolist()) for i, v in map(sq.row, range(len(sq)))]
    codes_only = qe.SearchParams(quantization=qe.QuantizationSearchParams(rescore=False))
    oversampled = qe.SearchParams(
        quantization=qe.QuantizationSearchParams(rescore=True, oversampling=4.0)
    )

    def ids(points: Any) -> list[int]:
        return [int(h.id) for h in points]

    def hybrid(i: int) -> list[int]:
        prefetches = [
            qe.Prefetch(p, query=qe.Query.Nearest(dense[i], using=DENSE)),
            qe.Prefetch(p, query=qe.Query.Nearest(sparse[i], using=SPARSE)),
        ]
        request = qe.QueryRequest(
            k, query=qe.Fusion.Rrf(RRF_K), prefetches=prefetches, with_payload=False
        )
        return ids(shard.query(request))

    def oversampling(i: int) -> list[int]:
        query = qe.Query.Nearest(dense[i], using=DENSE)
        request = qe.QueryRequest(k, query=query, params=oversampled, with_payload=False)
        return ids(shard.query(request))

    def rescored(i: int) -> list[int]:
        query = qe.Query.Nearest(dense[i], using=DENSE)
        prefetch = qe.Prefetch(4 * k, query=query, params=codes_only)
        request = qe.QueryRequest(k, query=query, prefetches=[prefetch], with_payload=False)
        return ids(shard.query(request))

    searches = {"hybrid": hybrid, "oversampling": oversampling, "prefetch+rescore": rescored}
    return Engine(searches, t.seconds, close)


ENGINES = {"vqdb": ("vqdb", build_vqdb), "qdrant-edge": ("qdrant-edge-py", build_qdrant_edge)}


# ---------------------------------------------------------------------------- timing


def timed_in_turn(
    searches: dict[str, Search], n: int, repeat: int, warmup_s: float = 0.3
) -> dict[str, tuple[float, list[float], list[list[int]]]]:
    """(median QPS, every call's latency in seconds, the last pass's results) per search."""
    for search in searches.values():
        start, i = time.perf_counter(), 0
        while time.perf_counter() - start < warmup_s:
            search(i % n)
            i += 1
    rates: dict[str, list[float]] = {name: [] for name in searches}
    latencies: dict[str, list[float]] = {name: [] for name in searches}
    results: dict[str, list[list[int]]] = {}
    for _ in range(max(repeat, 3)):
        for name, search in searches.items():
            found, spent = [], []
            for i in range(n):
                t0 = time.perf_counter()
                found.append(search(i))
                spent.append(time.perf_counter() - t0)
            rates[name].append(n / sum(spent))
            latencies[name] += spent
            results[name] = found
    return {
        name: (statistics.median(rates[name]), latencies[name], results[name]) for name in searches
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/python-docs-minilm-384", help="folder")
    ap.add_argument("--queries", type=int, default=300, help="first N held-out queries")
    ap.add_argument("--prefetch", type=int, default=50, help="P: each prefetch's limit")
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3, help="timed passes (>= 3), median kept")
    args = ap.parse_args()
    k, p = args.limit, args.prefetch

    folder = Path(args.data)
    with Timer() as prep:
        base, dense_queries, gt, _ = load(folder, "cosine")
        base_texts, query_texts = read_texts(folder)
        docs, vocab = bm25_corpus(base_texts)
        n = min(args.queries, len(dense_queries))
        dq = dense_queries[:n]
        sq = bm25_queries(query_texts[:n], vocab, 0)
        truth = [
            rrf([d, s], k)
            for d, s in zip(exact_cosine(base, dq, p), exact_bm25(docs, sq, idf_weights(docs), p))
        ]
    print(
        f"data: {folder.name}  {len(base)} x {base.shape[1]} dense + BM25 ({docs.indptr[-1]} "
        f"postings), {n} queries, prefetch {p} + {p} -> rrf -> {k}; truth in {prep.seconds:.1f} s"
    )
    built: dict[str, Engine] = {}
    for name, (dist, build) in ENGINES.items():
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "source tree"
        try:
            built[name] = build(base, docs, dq, sq, p, k)
        except ImportError as exc:
            print(f"  {name:12} skipped ({exc})")
            continue
        print(f"  {name:12} {version}: built in {built[name].build_s:.1f} s", flush=True)
    try:
        timings = timed_in_turn(
            {f"{e}/{s}": fn for e, eng in built.items() for s, fn in eng.searches.items()},
            n,
            args.repeat,
        )
    finally:
        for engine in built.values():
            engine.close()

    def row(engine: str, search: str, reference: list[Any]) -> dict[str, Any]:
        qps, spent, found = timings[f"{engine}/{search}"]
        return {
            "engine": engine,
            "query": search,
            f"recall@{k}": f"{overlap(found, reference, k):.4f}",
            "QPS": f"{qps:.0f}",
            "p50 ms": f"{1e3 * float(np.percentile(spent, 50)):.2f}",
            "p99 ms": f"{1e3 * float(np.percentile(spent, 99)):.2f}",
        }

    print("\nhybrid (recall against the exact fusion)")
    table([row(e, "hybrid", truth) for e in built])
    print("\nbinary codes for a dense query (recall against the exact top-10)")
    dense_truth = [list(g[:k]) for g in gt[:n]]
    table([row(e, s, dense_truth) for e in built for s in ("oversampling", "prefetch+rescore")])
    if "qdrant-edge" in built and "vqdb" in built:
        ratio = timings["vqdb/hybrid"][0] / timings["qdrant-edge/hybrid"][0]
        print(f"\nhybrid QPS, vqdb / qdrant-edge: {ratio:.2f}x")
    if "vqdb" in built:
        pipeline = timings["vqdb/prefetch+rescore"][0] / timings["vqdb/oversampling"][0]
        print(f"vqdb prefetch+rescore QPS / oversampling QPS: {pipeline:.2f}x")


if __name__ == "__main__":
    main()
