"""Sparse (BM25) search: vqdb beside qdrant-edge-py on real texts, in one run.

    python benchmarks/sparse_bench.py --data ../shared/data/python-docs-minilm-384
    python benchmarks/sparse_bench.py --data ../shared/data/python-docs-minilm-384 --idf

The corpus is the base texts of a dataset folder's meta.jsonl.gz (python-docs-minilm-384:
27,800 documentation paragraphs; wordnet-mpnet-768: 24,000 glosses); the queries are its held-out
"query" texts (not in the corpus), the first --queries of them.

- Tokenizer: lowercase, then the runs of [a-z0-9] (everything else separates; no stemming, no
  stop words). Term ids: a vocabulary dict in order of first appearance in the corpus. Query
  terms that no document holds are dropped (they match nothing in any engine).
- Documents: BM25 weights without the IDF factor, tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl /
  avgdl)), k1 = 1.2, b = 0.75, dl the document's token count, avgdl the corpus mean: Qdrant's
  BM25 layout, where IDF is the collection's `modifier: idf`, applied to the query at search time.
- Queries: weight 1.0 per distinct term (as Qdrant's Bm25.embed_query does), the query text's
  first --query-terms distinct terms (0: all of them; a held-out paragraph is a long query, so
  this is the hard case for an inverted index: "the" touches most documents).
- --idf: both engines get the IDF modifier, idf(t) = ln((N - n + 0.5) / (n + 0.5) + 1) over the
  live corpus, and the ground truth uses the same weights.
- Ground truth: exact dot products in float64 over a numpy inverted index (bincount per query).
  Many documents tie (same length, same term counts), so recall@limit counts a returned id as
  found when its exact score reaches the limit-th best score (relative 1e-5): any tie order is
  right. `ids` is the strict id-set recall against the float64 order (ties to the lower id).

Engines, each timed one query per call on one thread, the passes taken in turn
(datasets.qps_side_by_side):
- vqdb: `vqdb.index.sparse_index.SparseIndex`, the store a collection segment holds (the native
  inverted index behind a thin Python wrapper). With --idf the benchmark applies the weights per
  query from `document_frequency`, as a collection does (`vqdb.collection.idf`).
- vqdb-client: the embedded `vqdb.Client(":memory:")` with a collection holding only a sparse
  vector, `query_points(..., using="bm25")`: the whole request path, models in and out.
- qdrant-edge: an `EdgeShard` with only a sparse vector (`EdgeSparseVectorParams`), upserted in
  batches of 1000, optimized into one segment, `shard.query(QueryRequest(Query.Nearest(
  SparseVector(indices, values), using="bm25")))`, max_search_threads=1.

Memory: vqdb's `memory_usage()` (the CSR rows, the posting lists and their hash map, ids, live
bitset) per stored (term, weight) pair; for every engine also the process RSS growth over its
build (psutil, after gc; the input arrays exist before the first build). Both hold the vectors
and the inverted index. RSS is coarse (the allocator keeps freed pages): compare, do not quote.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import gzip
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

# The script's own folder is first on sys.path, so this is benchmarks/datasets.py.
from datasets import Timer, filled_edge_shard, qps_side_by_side, table

K1, B = 1.2, 0.75
NAME = "bm25"
TOKEN = re.compile(r"[a-z0-9]+")


# ---------------------------------------------------------------------------- the data


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def read_texts(folder: Path) -> tuple[list[str], list[str]]:
    """(base texts in row order, query texts in row order) from meta.jsonl.gz."""
    base: dict[int, str] = {}
    queries: dict[int, str] = {}
    with gzip.open(folder / "meta.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            item = json.loads(line)
            (base if item["split"] == "base" else queries)[int(item["row"])] = item["text"]
    return [base[i] for i in range(len(base))], [queries[i] for i in range(len(queries))]


@dataclass
class Csr:
    indptr: np.ndarray  # int64, n + 1
    indices: np.ndarray  # uint32, sorted within a row
    values: np.ndarray  # float32

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.indptr[i], self.indptr[i + 1]
        return self.indices[a:b], self.values[a:b]


def csr(rows: list[dict[int, float]]) -> Csr:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    indices = np.empty(indptr[-1], dtype=np.uint32)
    values = np.empty(indptr[-1], dtype=np.float32)
    for i, r in enumerate(rows):
        terms = sorted(r)
        indices[indptr[i] : indptr[i + 1]] = terms
        values[indptr[i] : indptr[i + 1]] = [r[t] for t in terms]
    return Csr(indptr, indices, values)


def bm25_corpus(texts: list[str]) -> tuple[Csr, dict[str, int]]:
    """BM25 document weights (no IDF) and the vocabulary."""
    vocab: dict[str, int] = {}
    counts = []
    for text in texts:
        tf = Counter(tokens(text))
        counts.append({vocab.setdefault(t, len(vocab)): c for t, c in tf.items()})
    lengths = np.array([sum(c.values()) for c in counts], dtype=np.float64)
    avgdl = float(lengths.mean())
    rows = []
    for c, dl in zip(counts, lengths):
        norm = K1 * (1 - B + B * dl / avgdl)
        rows.append({t: tf * (K1 + 1) / (tf + norm) for t, tf in c.items()})
    return csr(rows), vocab


def bm25_queries(texts: list[str], vocab: dict[str, int], max_terms: int) -> Csr:
    rows = []
    for text in texts:
        known = [vocab[t] for t in dict.fromkeys(tokens(text)) if t in vocab]
        rows.append(dict.fromkeys(known[:max_terms] if max_terms else known, 1.0))
    return csr(rows)


def idf_weights(docs: Csr) -> np.ndarray:
    """float64 idf per term id (Qdrant's formula, every document live)."""
    n = np.bincount(docs.indices, minlength=int(docs.indices.max()) + 1).astype(np.float64)
    return np.log((len(docs) - n + 0.5) / (n + 0.5) + 1.0)


def ground_truth(docs: Csr, queries: Csr, k: int, idf: np.ndarray | None) -> tuple[Any, Any]:
    """Exact float64 scores: (ids (nq, k) by score then lower id, -1 padded; the per-query
    score arrays over every document, -inf where no term is shared)."""
    order = np.argsort(docs.indices, kind="stable")
    term_rows = np.repeat(np.arange(len(docs)), np.diff(docs.indptr))[order]
    term_vals = docs.values[order].astype(np.float64)
    starts = np.searchsorted(docs.indices[order], np.arange(int(docs.indices.max()) + 2))
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    all_scores = []
    for q in range(len(queries)):
        terms, weights = queries.row(q)
        weights = weights.astype(np.float64) * (idf[terms] if idf is not None else 1.0)
        parts = [slice(starts[t], starts[t + 1]) for t in terms]
        rows = np.concatenate([term_rows[p] for p in parts]) if parts else np.zeros(0, int)
        contrib = (
            np.concatenate([term_vals[p] * w for p, w in zip(parts, weights)]) if parts else []
        )
        scores = np.bincount(rows, weights=contrib, minlength=len(docs))
        scores[np.bincount(rows, minlength=len(docs)) == 0] = -np.inf
        best = np.lexsort((np.arange(len(docs)), -scores))[:k]
        best = best[np.isfinite(scores[best])]
        ids[q, : len(best)] = best
        all_scores.append(scores)
    return ids, all_scores


def recalls(
    found: list[Any], gt_ids: np.ndarray, gt_scores: list[Any], k: int
) -> tuple[float, float]:
    """(tie-aware recall@k, strict id recall@k); see the module docstring."""
    tied = strict = 0.0
    for ids, true, scores in zip(found, gt_ids, gt_scores):
        want = true[true >= 0]
        if len(want) == 0:
            tied, strict = tied + 1, strict + 1
            continue
        got = np.asarray(ids, dtype=np.int64)[:k]
        got = got[got >= 0]
        kth = scores[want[-1]]
        ok = scores[got] >= kth - 1e-5 * max(1.0, abs(kth))
        tied += min(len(want), int(ok.sum())) / len(want)
        strict += len(set(got.tolist()) & set(want.tolist())) / len(want)
    return tied / len(found), strict / len(found)


# ---------------------------------------------------------------------------- engines

Query = Callable[[int], Any]  # query number -> result ids


def rss() -> int:
    """Process RSS after gc and malloc_trim (glibc keeps freed pages otherwise, and the ground
    truth's temporaries would be reused by the next build unseen)."""
    import ctypes

    import psutil

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return int(psutil.Process().memory_info().rss)


@dataclass
class Built:
    search: Query
    build_s: float
    rss_bytes: int
    index_bytes: int | None = None  # the engine's own account, where it has one
    close: Callable[[], None] | None = None


def build_vqdb(docs: Csr, queries: Csr, idf: bool, limit: int) -> Built:
    from vqdb.index.sparse_index import SparseIndex
    from vqdb.index.sparse_vectors import SparseVector, SparseVectors

    before = rss()
    with Timer() as t:
        store = SparseIndex(threads=1)
        store.add(np.arange(len(docs)), SparseVectors(docs.indptr, docs.indices, docs.values))
    grown = rss() - before
    rows = [SparseVector(*queries.row(q)) for q in range(len(queries))]
    total = float(len(store))

    def search(q: int) -> Any:
        one = rows[q]
        if idf:  # what vqdb.collection.idf does per query
            n = store.document_frequency(one.indices).astype(np.float64)
            weights = np.log((total - n + 0.5) / (n + 0.5) + 1.0)
            one = SparseVector(one.indices, (one.values * weights).astype(np.float32))
        return store.search(one.batch(), limit)[0][0]

    return Built(search, t.seconds, grown, sum(store.memory_usage().values()))


def build_vqdb_client(docs: Csr, queries: Csr, idf: bool, limit: int) -> Built:
    import vqdb
    from vqdb import models

    before = rss()
    with Timer() as t:
        client = vqdb.Client(":memory:")
        client.create_collection(
            "sparse",
            vectors_config={},
            sparse_vectors_config={
                NAME: models.SparseVectorParams(modifier=models.Modifier.IDF if idf else None)
            },
        )
        for start in range(0, len(docs), 1000):
            stop = min(start + 1000, len(docs))
            vectors = [
                models.SparseVector(indices=i.tolist(), values=v.tolist())
                for i, v in (docs.row(r) for r in range(start, stop))
            ]
            client.upsert(
                "sparse",
                models.Batch(ids=list(range(start, stop)), vectors={NAME: vectors}),
                wait=True,
            )
        while client.get_collection("sparse").status != models.CollectionStatus.GREEN:
            time.sleep(0.05)
    grown = rss() - before
    rows = [(i.tolist(), v.tolist()) for i, v in (queries.row(q) for q in range(len(queries)))]

    def search(q: int) -> Any:
        indices, values = rows[q]
        hits = client.query_points(
            "sparse",
            query=models.SparseVector(indices=indices, values=values),
            using=NAME,
            limit=limit,
            with_payload=False,
        ).points
        return [h.id for h in hits]

    return Built(search, t.seconds, grown, close=client.close)


def build_qdrant_edge(docs: Csr, queries: Csr, idf: bool, limit: int) -> Built:
    import qdrant_edge as qe

    config = qe.EdgeConfig(
        sparse_vectors={NAME: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf if idf else None)},
        optimizers=qe.EdgeOptimizersConfig(default_segment_number=1, indexing_threshold=1),
        max_search_threads=1,
        wal_enabled=False,  # the shard is thrown away after the run
    )
    batches = (
        [
            qe.Point(r, {NAME: qe.SparseVector(i.tolist(), v.tolist())})
            for r, (i, v) in ((r, docs.row(r)) for r in range(start, min(start + 1000, len(docs))))
        ]
        for start in range(0, len(docs), 1000)
    )
    before = rss()
    with Timer() as t:
        shard, close = filled_edge_shard(config, "sparse-qdrant-edge-", batches)
    grown = rss() - before
    rows = [(i.tolist(), v.tolist()) for i, v in (queries.row(q) for q in range(len(queries)))]

    def search(q: int) -> Any:
        indices, values = rows[q]
        request = qe.QueryRequest(
            query=qe.Query.Nearest(qe.SparseVector(indices, values), using=NAME), limit=limit
        )
        return [hit.id for hit in shard.query(request)]

    return Built(search, t.seconds, grown, close=close)


ENGINES: dict[str, tuple[str, Callable[..., Built]]] = {
    "vqdb": ("vqdb", build_vqdb),
    "vqdb-client": ("vqdb", build_vqdb_client),
    "qdrant-edge": ("qdrant-edge-py", build_qdrant_edge),
}


# ---------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/python-docs-minilm-384", help="folder")
    ap.add_argument("--docs", type=int, default=0, help="first N corpus texts (0: all)")
    ap.add_argument("--queries", type=int, default=300, help="first N query texts")
    ap.add_argument("--query-terms", type=int, default=0, help="distinct terms per query (0: all)")
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3, help="min timed passes, median kept (>=3)")
    ap.add_argument("--idf", action="store_true", help="the IDF modifier on every engine")
    ap.add_argument("--skip", default="", help="engines to leave out, e.g. vqdb-client")
    args = ap.parse_args()

    folder = Path(args.data)
    with Timer() as prep:
        base_texts, query_texts = read_texts(folder)
        if args.docs:
            base_texts = base_texts[: args.docs]
        docs, vocab = bm25_corpus(base_texts)
        queries = bm25_queries(query_texts[: args.queries], vocab, args.query_terms)
        idf = idf_weights(docs) if args.idf else None
        gt_ids, gt_scores = ground_truth(docs, queries, args.limit, idf)
    qlen = np.diff(queries.indptr)
    postings_touched = np.bincount(docs.indices)[queries.indices].sum() / len(queries)
    print(
        f"data: {folder.name}  docs={len(docs)} terms={len(vocab)} postings={docs.indptr[-1]}",
        end="",
    )
    print(f" ({docs.indptr[-1] / len(docs):.1f}/doc)  queries={len(queries)}", end="")
    print(
        f" terms/query={qlen.mean():.1f} (max {qlen.max()})  postings/query={postings_touched:.0f}"
    )
    print(f"BM25 k1={K1} b={B}, query weights 1.0, idf={'on' if args.idf else 'off'}", end="")
    print(f", limit={args.limit}; data + ground truth in {prep.seconds:.1f} s")
    print(f"machine: {os.cpu_count()} cores; search: 1 thread, one query per call")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    built: dict[str, Built] = {}
    for name, (dist, builder) in ENGINES.items():
        if name in skip:
            continue
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "source tree"
        try:
            built[name] = builder(docs, queries, args.idf, args.limit)
        except ImportError as exc:
            print(f"  {name:12} skipped ({exc})")
            continue
        print(f"  {name:12} {version}: built in {built[name].build_s:.2f} s", flush=True)

    try:
        measured = qps_side_by_side(
            {name: b.search for name, b in built.items()},
            np.arange(len(queries)),
            repeat=args.repeat,
        )
    finally:
        for b in built.values():
            if b.close is not None:
                b.close()
    nnz = int(docs.indptr[-1])
    rows = []
    for name, b in built.items():
        m = measured[name]
        tied, strict = recalls(m.results, gt_ids, gt_scores, args.limit)
        rows.append(
            {
                "engine": name,
                f"recall@{args.limit}": f"{tied:.4f}",
                "ids": f"{strict:.4f}",
                "QPS": f"{m.qps:.0f}",
                "cores": f"{m.cores:.2f}",
                "build s": f"{b.build_s:.2f}",
                "B/posting (own)": "-" if b.index_bytes is None else f"{b.index_bytes / nnz:.1f}",
                "B/posting (RSS)": f"{b.rss_bytes / nnz:.1f}",
            }
        )
    print()
    table(rows)
    if "qdrant-edge" in built:
        peer, peer_build = measured["qdrant-edge"].qps, built["qdrant-edge"].build_s
        peer_rss = built["qdrant-edge"].rss_bytes
        print("ratios to qdrant-edge (QPS: >1 vqdb faster; build time and RSS: <1 vqdb less)")
        for name in (n for n in built if n != "qdrant-edge"):
            print(
                f"  {name:12} QPS {measured[name].qps / peer:5.2f}x  "
                f"build time {built[name].build_s / peer_build:5.2f}x  "
                f"RSS growth {built[name].rss_bytes / max(peer_rss, 1):5.2f}x"
            )


if __name__ == "__main__":
    main()
