"""Multivectors (MaxSim): vqdb beside qdrant-edge-py on groups of real embeddings, in one run.

    python benchmarks/multivector_bench.py --data ../shared/data/python-docs-minilm-384

No real ColBERT set is available offline, so the documents and queries are groups of a dense
set's real vectors (a dataset folder as in datasets.load):
- Documents: consecutive runs of base vectors, each of a random length in --doc-rows (4-16),
  the first --docs of them. python-docs-minilm-384's base is in corpus order (the paragraphs of
  one HTML page follow each other), so a document is a section of a page, a row per paragraph.
- Queries: a held-out query vector and its nearest 1 to 7 other query vectors (cosine; group
  sizes random in --query-rows, 2-8), a topical group of held-out paragraphs, none in the base.
- Cosine on unit rows (the sets are unit-normalised), MaxSim(Q, D) = sum_i max_j q_i . d_j.
- Ground truth: exact MaxSim in numpy float32 (Q @ rows.T, then the max per document with
  np.maximum.reduceat, summed over the query's rows), top --limit ids.

Both engines build HNSW (--m, --ef-construct, every core) with MaxSim between documents, and
search on one thread, one query per call, at each --ef; recall@limit, QPS (median of >= --repeat
passes, the engines' passes taken in turn) and build seconds, then vqdb's QPS ratio to each
qdrant-edge point at the same recall (interpolated on vqdb's curve, as peers.py does).

- vqdb: `vqdb.Index(dim, "Cosine", hnsw=..., multivector=True)`, `add(ids, MultiVectors)`,
  `search(matrix, limit, params=SearchParams(hnsw_ef=ef))`.
- qdrant-edge: `EdgeVectorParams(size, Cosine, multivector_config=MultiVectorConfig(
  MultiVectorComparator.MaxSim))`, upserted in batches of 100 documents, `optimize()`
  (indexing_threshold=1 and full_scan_threshold=1 KB so the graph is built and used),
  `query(QueryRequest(Query.Nearest(matrix), params=SearchParams(hnsw_ef=ef)))`,
  max_search_threads=1.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from importlib import metadata
from typing import Any

import numpy as np

# The script's own folder is first on sys.path, so these are benchmarks/datasets.py, peers.py.
from datasets import (
    Timer,
    filled_edge_shard,
    load,
    normalize,
    qps_side_by_side,
    recall_at_k,
    table,
)
from peers import qps_at_recall

BUILD_THREADS = os.cpu_count() or 2


def groups(n_rows: int, sizes: tuple[int, int], n: int, rng: np.random.Generator) -> np.ndarray:
    """Offsets (n + 1) of up to n consecutive runs of random lengths within n_rows."""
    lengths = rng.integers(sizes[0], sizes[1] + 1, size=n)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return offsets[offsets <= n_rows].astype(np.int64)


def query_groups(
    queries: np.ndarray, sizes: tuple[int, int], n: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """n matrices: query vector i and its nearest (size - 1) other query vectors."""
    sims = queries @ queries.T
    np.fill_diagonal(sims, -np.inf)
    out = []
    for i in range(n):
        size = int(rng.integers(sizes[0], sizes[1] + 1))
        near = np.argsort(-sims[i], kind="stable")[: size - 1]
        out.append(np.ascontiguousarray(queries[np.concatenate([[i], near])]))
    return out


def maxsim_truth(rows: np.ndarray, offsets: np.ndarray, qs: list[np.ndarray], k: int) -> Any:
    gt = np.empty((len(qs), k), dtype=np.int64)
    for i, q in enumerate(qs):
        sims = q @ rows.T  # (query rows, all document rows)
        scores = np.maximum.reduceat(sims, offsets[:-1], axis=1).sum(axis=0)
        gt[i] = np.argsort(-scores, kind="stable")[:k]
    return gt


Searcher = Callable[[int], Callable[[int], Any]]  # ef -> (query number -> ids)


def build_vqdb(rows: np.ndarray, offsets: np.ndarray, qs: list[np.ndarray], args: Any) -> Any:
    import vqdb
    from vqdb.index.multi_vectors import MultiVectors

    index = vqdb.Index(
        rows.shape[1],
        distance="Cosine",
        hnsw={"m": args.m, "ef_construct": args.ef_construct},
        threads=BUILD_THREADS,
        multivector=True,
    )
    index.add(np.arange(len(offsets) - 1), MultiVectors(offsets, rows))

    def searcher(ef: int) -> Callable[[int], Any]:
        params = vqdb.SearchParams(hnsw_ef=ef)
        return lambda q: index.search(qs[q], limit=args.limit, params=params, threads=1)[0]

    return searcher, None


def build_qdrant_edge(
    rows: np.ndarray, offsets: np.ndarray, qs: list[np.ndarray], args: Any
) -> Any:
    import qdrant_edge as qe

    config = qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(
            size=rows.shape[1],
            distance=qe.Distance.Cosine,
            multivector_config=qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim),
        ),
        hnsw_config=qe.HnswIndexConfig(
            m=args.m,
            ef_construct=args.ef_construct,
            full_scan_threshold=1,
            max_indexing_threads=BUILD_THREADS,
        ),
        optimizers=qe.EdgeOptimizersConfig(default_segment_number=1, indexing_threshold=1),
        max_search_threads=1,
        wal_enabled=False,
    )
    n = len(offsets) - 1
    batches = (
        [
            qe.Point(i, rows[offsets[i] : offsets[i + 1]].tolist())
            for i in range(start, min(start + 100, n))
        ]
        for start in range(0, n, 100)
    )
    shard, close = filled_edge_shard(config, "multi-qdrant-edge-", batches)
    indexed = shard.info().indexed_vectors_count
    if indexed < n:
        print(f"    warning: qdrant-edge indexed {indexed} of {n} documents")
    lists = [q.tolist() for q in qs]

    def searcher(ef: int) -> Callable[[int], Any]:
        params = qe.SearchParams(hnsw_ef=ef)

        def search(q: int) -> list[Any]:
            request = qe.QueryRequest(
                query=qe.Query.Nearest(lists[q]), limit=args.limit, params=params
            )
            return [hit.id for hit in shard.query(request)]

        return search

    return searcher, close


ENGINES = {
    "vqdb": ("vqdb", build_vqdb),
    "qdrant-edge": ("qdrant-edge-py", build_qdrant_edge),
}


def pair(spec: str) -> tuple[int, int]:
    low, high = (int(x) for x in spec.split(","))
    return low, high


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/python-docs-minilm-384", help="folder")
    ap.add_argument("--docs", type=int, default=2000, help="documents (at most)")
    ap.add_argument("--doc-rows", type=pair, default=(4, 16), help="rows per document: lo,hi")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--query-rows", type=pair, default=(2, 8), help="rows per query: lo,hi")
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--ef", default="16,32,64,128", help="hnsw ef values")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construct", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3, help="min timed passes, median kept (>=3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", default="", help="engines to leave out")
    args = ap.parse_args()

    base, queries, _, metric = load(args.data)
    if metric != "cosine":
        raise SystemExit(f"{args.data}: a cosine set is needed, this one is {metric}")
    base, queries = normalize(base), normalize(queries)
    rng = np.random.default_rng(args.seed)
    offsets = groups(len(base), args.doc_rows, args.docs, rng)
    rows = np.ascontiguousarray(base[: offsets[-1]])
    qs = query_groups(queries, args.query_rows, min(args.queries, len(queries)), rng)
    with Timer() as t:
        gt = maxsim_truth(rows, offsets, qs, args.limit)
    doc_rows, q_rows = np.diff(offsets), np.array([len(q) for q in qs])
    print(f"data: {args.data}  dim={rows.shape[1]}  docs={len(doc_rows)}", end="")
    print(
        f" (rows {doc_rows.min()}-{doc_rows.max()}, mean {doc_rows.mean():.1f}, {len(rows)} in all)"
    )
    print(
        f"queries={len(qs)} (rows {q_rows.min()}-{q_rows.max()}, mean {q_rows.mean():.1f})", end=""
    )
    print(f"  m={args.m} ef_construct={args.ef_construct}  exact MaxSim in {t.seconds:.1f} s")
    print(f"machine: {BUILD_THREADS} cores; build on all, search on 1, one query per call")
    efs = [int(e) for e in args.ef.split(",")]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    built: dict[str, tuple[Searcher, float]] = {}
    closers = []
    for name, (dist, builder) in ENGINES.items():
        if name in skip:
            continue
        try:
            with Timer() as b:
                searcher, close = builder(rows, offsets, qs, args)
        except ImportError as exc:
            print(f"  {name:12} skipped ({exc})")
            continue
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "source tree"
        print(f"  {name:12} {version}: built in {b.seconds:.1f} s", flush=True)
        built[name] = (searcher, b.seconds)
        if close is not None:
            closers.append(close)

    results = []
    try:
        for ef in efs:
            fns = {name: s(ef) for name, (s, _) in built.items()}
            measured = qps_side_by_side(fns, np.arange(len(qs)), repeat=args.repeat)
            for name, m in measured.items():
                recall = recall_at_k(m.results, gt, args.limit)
                results.append((name, ef, recall, m.qps, m.cores))
    finally:
        for close in closers:
            close()
    print()
    table(
        [
            {
                "engine": name,
                "ef": ef,
                f"recall@{args.limit}": f"{recall:.4f}",
                "QPS": f"{qps:.0f}",
                "cores": f"{cores:.2f}",
                "build s": f"{built[name][1]:.1f}",
            }
            for name, ef, recall, qps, cores in results
        ]
    )
    mine = [(r, q) for name, _, r, q, _ in results if name == "vqdb"]
    peer = [(ef, r, q) for name, ef, r, q, _ in results if name == "qdrant-edge"]
    if mine and peer:
        tol = 1 / (len(qs) * args.limit) + 1e-9  # one neighbour over the whole query set
        print("vqdb QPS / qdrant-edge QPS at qdrant-edge's recall (>1: vqdb faster)")
        rows_out = []
        for ef, r, q in peer:
            vq = qps_at_recall(mine, r, tol)
            rows_out.append(
                {
                    "qdrant ef": ef,
                    "recall": f"{r:.4f}",
                    "qdrant QPS": f"{q:.0f}",
                    "vqdb QPS": "-" if vq is None else f"{vq:.0f}",
                    "ratio": "vqdb never reaches it" if vq is None else f"{vq / q:.2f}",
                }
            )
        table(rows_out)
        print(f"build time vqdb / qdrant-edge: {built['vqdb'][1] / built['qdrant-edge'][1]:.2f}x")


if __name__ == "__main__":
    main()
