"""The native sparse index's top-k search on BM25 data, one query per call, one thread.

    python benchmarks/sparse_prune_bench.py --data ../shared/data/python-docs-minilm-384

The documents and queries of benchmarks/sparse_bench.py (every distinct term of a held-out
paragraph, weight 1.0), the IDF factor applied to the query as a collection's `modifier: idf`
does: the hybrid benchmark's BM25 prefetch. Prints the median (over queries) of each query's
best time of --repeat calls, for each k, and, with --compare, the same with pruning switched
off (the private `prune` keyword of `_core.SparseIndex.search`) after checking that both give
the same ids and scores.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

# The script's own folder is first on sys.path, so this is benchmarks/sparse_bench.py.
from sparse_bench import bm25_corpus, bm25_queries, idf_weights, read_texts

from vqdb import _core


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/python-docs-minilm-384", help="folder")
    ap.add_argument("--queries", type=int, default=300, help="first N held-out queries")
    ap.add_argument("--repeat", type=int, default=5, help="calls per query, the best kept")
    ap.add_argument("--k", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--compare", action="store_true", help="also time the unpruned search")
    args = ap.parse_args()

    base_texts, query_texts = read_texts(Path(args.data))
    docs, vocab = bm25_corpus(base_texts)
    sq = bm25_queries(query_texts[: args.queries], vocab, 0)
    idf = idf_weights(docs)
    index = _core.SparseIndex()
    index.add(docs.indptr, docs.indices, docs.values)
    queries = []
    for i in range(len(sq)):
        terms, weights = sq.row(i)
        values = (weights * idf[terms]).astype(np.float32)
        queries.append((np.array([0, len(terms)], np.int64), terms.copy(), values))
    df = np.bincount(docs.indices)
    postings = [int(df[q[1]].sum()) for q in queries]
    print(
        f"{len(docs)} documents, {docs.indptr[-1]} postings; {len(queries)} queries: median "
        f"{statistics.median(len(q[1]) for q in queries)} terms, "
        f"{statistics.median(postings)} postings"
    )
    modes = {"pruned": True, "unpruned": False} if args.compare else {"default": True}
    for k in args.k:
        if args.compare:
            for q in queries:
                a = index.search(*q, k, None, 1, prune=True)
                b = index.search(*q, k, None, 1, prune=False)
                assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1], equal_nan=True)
        best = {mode: [float("inf")] * len(queries) for mode in modes}
        for _ in range(args.repeat):  # the modes in turn, so a drift of the machine hits both
            for mode, prune in modes.items():
                times = best[mode]
                for i, q in enumerate(queries):
                    t = time.perf_counter_ns()
                    index.search(*q, k, None, 1, prune=prune)
                    times[i] = min(times[i], (time.perf_counter_ns() - t) / 1e3)
        line = "  ".join(f"{m} {statistics.median(t):6.1f} us" for m, t in best.items())
        print(f"k={k:3}: median per query {line}")


if __name__ == "__main__":
    main()
