"""vqdb against faiss-cpu, hnswlib, usearch and qdrant-edge-py on one dataset, in one run.

    python benchmarks/peers.py --data /work/shared/data/wordnet-mpnet-768 --queries 300

For each mode (float32 HNSW, scalar int8, binary one-bit, product x16, TurboQuant at 1, 1.5, 2
and 4 bits: turbo1, turbo1_5, turbo2, turbo4) and each engine that has it, build with m /
ef_construct, sweep hnsw ef and print recall@limit, single-thread QPS (one query per call,
median of >= --repeat passes, the engines' passes taken in turn so that the shared machine's
drifts hit them alike) and build seconds; then vqdb's QPS ratio to
each peer point at the same recall, interpolated on vqdb's own (recall, QPS) curve. vqdb is
also timed alone at --vqdb-ef, beyond the sweep, so that a peer point above vqdb's recall at
the sweep's largest ef still has a vqdb point to match.
Peers are the optional `bench` extra; a missing one is reported and skipped.

qdrant-edge-py 0.9 (module qdrant_edge; API read from its qdrant_edge.pyi):
    cfg = EdgeConfig(vectors=EdgeVectorParams(size=dim, distance=Distance.Cosine),
                     hnsw_config=HnswIndexConfig(m, ef_construct, full_scan_threshold,
                                                 max_indexing_threads=2),
                     quantization_config=ScalarQuantizationConfig(ScalarType.Int8, quantile,
                         always_ram) | BinaryQuantizationConfig(encoding=...OneBit,
                         query_encoding=...Default) | ProductQuantizationConfig(...X16),
                     optimizers=EdgeOptimizersConfig(default_segment_number, indexing_threshold),
                     max_search_threads=1, wal_enabled=False)
    shard = EdgeShard.create(path, cfg)            # a directory on disk, one shard
    shard.update(UpdateOperation.upsert_points([Point(id, vector_list), ...]))  # a batch
    shard.optimize()                               # blocking: builds HNSW + quantized codes
    shard.query(QueryRequest(query=Query.Nearest(vec), limit=10,
                params=SearchParams(hnsw_ef=ef, quantization=QuantizationSearchParams(
                    rescore=True, oversampling=4.0))))   # -> [ScoredPoint(id, score, ...)]
    turbo: TurboQuantQuantizationConfig(bits=TurboQuantBitSize.Bits1 | Bits1_5 | Bits2 | Bits4,
                                        always_ram=True)
Turbo modes rescore with the originals (oversampling as --oversampling says) except turbo4,
which is searched without rescoring (Qdrant's default for 4 bits).
Pitfalls: optimize() only builds the graph for segments over indexing_threshold (KB; by
default sift-5k's 2 MB got none) and search only uses it above full_scan_threshold (KB), so
both are set to 1 here. max_search_threads=1 keeps a query on one core (None: ~1.4 cores).
0.9 has no upsert_batch; Point and Query.Nearest take numpy rows as well as lists.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from itertools import pairwise

import numpy as np

# The script's own folder is first on sys.path, so this is benchmarks/datasets.py.
from datasets import (
    Measured,
    Timer,
    filled_edge_shard,
    load,
    normalize,
    qps_side_by_side,
    recall_at_k,
)

TURBO_BITS = {"turbo1": "bits1", "turbo1_5": "bits1_5", "turbo2": "bits2", "turbo4": "bits4"}
MODES = ("float", "scalar", "binary", "product", *TURBO_BITS)
# Engine -> (module to import, pip distribution, modes it has). vqdb first: it is the curve
# the others are compared with.
ENGINES = {
    "vqdb": ("vqdb", "vqdb", MODES),
    "faiss": ("faiss", "faiss-cpu", MODES),
    "hnswlib": ("hnswlib", "hnswlib", ("float",)),
    "usearch": ("usearch.index", "usearch", ("float", "scalar", "binary")),
    "qdrant-edge": ("qdrant_edge", "qdrant-edge-py", MODES),
}
# Modes searched without rescoring: the quantized scores are the answer.
UNRESCORED = {"turbo4"}
BUILD_THREADS = os.cpu_count() or 2  # building may use every core; searching uses one

Query = Callable[[np.ndarray], object]  # one query vector -> its result ids
Searcher = Callable[[int], Query]  # hnsw ef -> a one-query search function
Built = tuple[Searcher, Callable[[], None] | None]  # and what frees the index, if needed


@dataclass
class Setup:
    metric: str  # "cosine" (vectors are unit-normalised beforehand) or "l2"
    m: int
    ef_construct: int
    limit: int
    oversampling: dict[str, float]  # per quantized mode

    def rescore(self, mode: str) -> bool:
        return mode != "float" and mode not in UNRESCORED

    def candidates(self, mode: str) -> int:
        """How many quantized hits to rescore with the float vectors."""
        return max(self.limit, math.ceil(self.limit * self.oversampling.get(mode, 1.0)))


@dataclass
class Row:
    mode: str
    engine: str
    ef: int
    recall: float
    qps: float
    cores: float
    build_s: float
    # the quantization table's fields, for rows that are read next to its JSON
    method: str = ""  # float32 | scalar | binary | product | turbo
    bits: str | None = None  # turbo: bits1 | bits1_5 | bits2 | bits4
    oversampling: float = 1.0
    rescore: bool = False
    index: str = "hnsw"
    recall_at_10: float | None = None


def row_of(
    mode: str, engine: str, ef: int, recall: float, m: Measured, build_s: float, s: Setup
) -> Row:
    method = "turbo" if mode in TURBO_BITS else {"float": "float32"}.get(mode, mode)
    return Row(
        mode,
        engine,
        ef,
        recall,
        m.qps,
        m.cores,
        build_s,
        method=method,
        bits=TURBO_BITS.get(mode),
        oversampling=s.oversampling.get(mode, 1.0) if mode != "float" else 1.0,
        rescore=s.rescore(mode),
        recall_at_10=recall if s.limit == 10 else None,
    )


# ---------------------------------------------------------------------------- helpers


def binarize(x: np.ndarray) -> np.ndarray:
    """Sign bits packed 8 per byte: the one-bit code qdrant and vqdb use."""
    return np.packbits(x > 0, axis=-1)


def rescore(base: np.ndarray, metric: str, query: np.ndarray, cand: object, limit: int):
    """Re-rank quantized candidates with the float vectors, for peers with no built-in rescore."""
    cand = np.asarray(cand, dtype=np.int64)
    cand = cand[cand >= 0]
    vecs = base[cand]
    if metric == "cosine":  # unit vectors: higher dot is nearer
        score = vecs @ query
    else:
        score = -np.einsum("ij,ij->i", vecs - query, vecs - query)
    return cand[np.argsort(-score, kind="stable")[:limit]]


def pq_subvectors(dim: int) -> int:
    """faiss PQ sub-quantizers for qdrant's x16: one byte per 4 float32 dims (dim / 4 bytes).

    faiss needs a divisor of dim, so take the divisor nearest dim / 4 (768 -> 192, 50 -> 10).
    """
    divisors = [d for d in range(1, dim + 1) if dim % d == 0]
    return min(divisors, key=lambda d: abs(d - dim / 4))


# ---------------------------------------------------------------------------- engines
# Each builder indexes `base` for one mode and returns (searcher, close or None).


def build_vqdb(mode: str, base: np.ndarray, s: Setup) -> Built:
    import vqdb

    quantization = {
        "float": None,
        "scalar": {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}},
        "binary": {"binary": {"encoding": "one_bit", "query_encoding": "default"}},
        "product": {"product": {"compression": "x16"}},
        **{t: {"turbo": {"bits": b, "always_ram": True}} for t, b in TURBO_BITS.items()},
    }[mode]
    index = vqdb.Index(
        base.shape[1],
        distance="Cosine" if s.metric == "cosine" else "Euclid",
        quantization=quantization,
        hnsw={"m": s.m, "ef_construct": s.ef_construct},
    )
    index.add(np.arange(len(base), dtype=np.int64), base)

    def searcher(ef: int) -> Query:
        # Parsed once, as qdrant-edge's SearchParams below: a dict would be validated per call.
        quant = vqdb.QuantizationSearchParams()
        if mode != "float":
            quant = vqdb.QuantizationSearchParams(
                rescore=s.rescore(mode), oversampling=s.oversampling[mode]
            )
        params = vqdb.SearchParams(hnsw_ef=ef, quantization=quant)
        return lambda q: index.search(q, limit=s.limit, params=params)[0]

    return searcher, None


def build_faiss(mode: str, base: np.ndarray, s: Setup) -> Built:
    import faiss

    n, dim = base.shape
    faiss.omp_set_num_threads(BUILD_THREADS)
    if mode == "binary":
        # Hamming HNSW over sign bits, then a numpy float rescore (faiss has no binary refine).
        bindex = faiss.IndexBinaryHNSW(8 * math.ceil(dim / 8), s.m)
        bindex.hnsw.efConstruction = s.ef_construct
        bindex.add(binarize(base))
        k = s.candidates(mode)

        def bin_searcher(ef: int) -> Query:
            faiss.omp_set_num_threads(1)
            bindex.hnsw.efSearch = ef
            return lambda q: rescore(
                base, s.metric, q, bindex.search(binarize(q)[None], k)[1][0], s.limit
            )

        return bin_searcher, None

    # L2 on unit vectors ranks exactly like cosine, and every faiss HNSW variant supports it.
    if mode == "float":
        hnsw = index = faiss.IndexHNSWFlat(dim, s.m, faiss.METRIC_L2)
    else:
        if mode == "scalar":
            hnsw = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, s.m, faiss.METRIC_L2)
        else:
            hnsw = faiss.IndexHNSWPQ(dim, pq_subvectors(dim), s.m, 8, faiss.METRIC_L2)
            # faiss's defaults (25 k-means rounds on up to 65k points per sub-space) take ~100 s
            # for 768-d here; 10 rounds on a 10k sample lose no recall after rescoring.
            clustering = faiss.downcast_index(hnsw.storage).pq.cp
            clustering.niter = 10
            clustering.max_points_per_centroid = 40
            clustering.min_points_per_centroid = 1  # small sets: no warning per sub-space
        # IndexRefineFlat keeps the float vectors and re-ranks k * k_factor quantized hits.
        index = faiss.IndexRefineFlat(hnsw)
        index.k_factor = s.oversampling[mode]
    hnsw.hnsw.efConstruction = s.ef_construct
    index.train(base)
    index.add(base)

    def searcher(ef: int) -> Query:
        faiss.omp_set_num_threads(1)
        hnsw.hnsw.efSearch = ef
        return lambda q: index.search(q[None], s.limit)[1][0]

    return searcher, None


def build_hnswlib(mode: str, base: np.ndarray, s: Setup) -> Built:
    import hnswlib

    n, dim = base.shape
    index = hnswlib.Index(space="ip" if s.metric == "cosine" else "l2", dim=dim)
    index.init_index(max_elements=n, ef_construction=s.ef_construct, M=s.m)
    index.set_num_threads(BUILD_THREADS)
    index.add_items(base, np.arange(n))
    index.set_num_threads(1)

    def searcher(ef: int) -> Query:
        index.set_ef(max(ef, s.limit))  # hnswlib refuses ef < k
        return lambda q: index.knn_query(q, k=s.limit)[0][0]

    return searcher, None


def build_usearch(mode: str, base: np.ndarray, s: Setup) -> Built:
    from usearch.index import Index

    n, dim = base.shape
    if mode == "binary":  # Hamming over packed sign bits
        data, ndim, metric, dtype = binarize(base), 8 * math.ceil(dim / 8), "hamming", "b1"
    else:
        data, ndim, dtype = base, dim, "f32" if mode == "float" else "i8"
        metric = "cos" if s.metric == "cosine" else "l2sq"
    index = Index(
        ndim=ndim, metric=metric, dtype=dtype, connectivity=s.m, expansion_add=s.ef_construct
    )
    index.add(np.arange(n), data, threads=BUILD_THREADS)
    k = s.candidates(mode)

    def searcher(ef: int) -> Query:
        index.expansion_search = ef
        if mode == "float":
            return lambda q: index.search(q, s.limit, threads=1).keys
        # usearch has no rescore: fetch the oversampled hits, re-rank them in numpy.
        encode = binarize if mode == "binary" else (lambda q: q)
        return lambda q: rescore(
            base, s.metric, q, index.search(encode(q), k, threads=1).keys, s.limit
        )

    return searcher, None


def build_qdrant_edge(mode: str, base: np.ndarray, s: Setup) -> Built:
    import qdrant_edge as qe

    n, dim = base.shape
    quantization = {
        "float": None,
        "scalar": qe.ScalarQuantizationConfig(
            type=qe.ScalarType.Int8, quantile=0.99, always_ram=True
        ),
        "binary": qe.BinaryQuantizationConfig(
            always_ram=True,
            encoding=qe.BinaryQuantizationEncoding.OneBit,
            query_encoding=qe.BinaryQuantizationQueryEncoding.Default,
        ),
        "product": qe.ProductQuantizationConfig(
            compression=qe.CompressionRatio.X16, always_ram=True
        ),
        **{
            t: qe.TurboQuantQuantizationConfig(
                bits=getattr(qe.TurboQuantBitSize, b.capitalize()), always_ram=True
            )
            for t, b in TURBO_BITS.items()
        },
    }[mode]
    config = qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(
            size=dim, distance=qe.Distance.Cosine if s.metric == "cosine" else qe.Distance.Euclid
        ),
        # full_scan_threshold / indexing_threshold in KB: tiny, so even sift-5k gets a graph.
        hnsw_config=qe.HnswIndexConfig(
            m=s.m,
            ef_construct=s.ef_construct,
            full_scan_threshold=1,
            max_indexing_threads=BUILD_THREADS,
        ),
        quantization_config=quantization,
        optimizers=qe.EdgeOptimizersConfig(default_segment_number=1, indexing_threshold=1),
        max_search_threads=1,
        wal_enabled=False,  # the shard is thrown away after the run
    )
    batches = (
        [qe.Point(i, v) for i, v in enumerate(base[start : start + 1000].tolist(), start)]
        for start in range(0, n, 1000)
    )
    shard, close = filled_edge_shard(config, "peers-qdrant-edge-", batches)
    indexed = shard.info().indexed_vectors_count
    if indexed != n:
        print(f"    warning: qdrant-edge indexed {indexed} of {n} vectors")

    def searcher(ef: int) -> Query:
        quant = None
        if mode != "float":
            quant = qe.QuantizationSearchParams(
                rescore=s.rescore(mode), oversampling=s.oversampling[mode]
            )
        params = qe.SearchParams(hnsw_ef=ef, quantization=quant)

        def search(q: np.ndarray) -> list:
            # A list converts faster than a numpy row here (~5% more QPS at ef=128).
            request = qe.QueryRequest(
                query=qe.Query.Nearest(q.tolist()), limit=s.limit, params=params
            )
            return [hit.id for hit in shard.query(request)]

        return search

    return searcher, close


BUILDERS = {
    "vqdb": build_vqdb,
    "faiss": build_faiss,
    "hnswlib": build_hnswlib,
    "usearch": build_usearch,
    "qdrant-edge": build_qdrant_edge,
}


class EngineFailed(Exception):
    def __init__(self, engine: str) -> None:
        super().__init__(engine)
        self.engine = engine


def timed_side_by_side(
    built: dict[str, tuple[Searcher, float]], ef: int, queries: np.ndarray, repeat: int, mode: str
) -> dict[str, Measured]:
    """qps_side_by_side over the built engines at one ef. An engine that fails (vqdb
    mid-rewrite, say) is reported and dropped from `built`; the others are timed again."""

    def guarded(name: str, searcher: Searcher) -> Query:
        try:
            search = searcher(ef)
        except Exception as exc:
            raise EngineFailed(name) from exc

        def run(q: np.ndarray) -> object:
            try:
                return search(q)
            except Exception as exc:
                raise EngineFailed(name) from exc

        return run

    while built:
        try:
            fns = {name: guarded(name, searcher) for name, (searcher, _) in built.items()}
            return qps_side_by_side(fns, queries, repeat=repeat)
        except EngineFailed as failed:
            print(
                f"{mode:8} {failed.engine:12} failed at ef {ef}: {failed.__cause__!r}", flush=True
            )
            del built[failed.engine]
    return {}


def sweep(
    built: dict[str, tuple[Searcher, float]],
    efs: list[int],
    mode: str,
    queries: np.ndarray,
    gt: np.ndarray,
    setup: Setup,
    repeat: int,
) -> list[Row]:
    """Every engine in `built` timed at each ef before the next ef, passes taken in turn."""
    rows = []
    for ef in efs:
        for name, m in timed_side_by_side(built, ef, queries, repeat, mode).items():
            recall = recall_at_k(m.results, gt, setup.limit)
            rows.append(row_of(mode, name, ef, recall, m, built[name][1], setup))
    return rows


# ---------------------------------------------------------------------------- comparison


def qps_at_recall(
    curve: list[tuple[float, float]], target: float, tol: float = 1e-9
) -> float | None:
    """vqdb's QPS at `target` recall from its (recall, QPS) points in ef order.

    Best of: any point within tol below the target or above it, and the linear interpolation
    between neighbouring ef points that straddle it. None if vqdb never reaches the target.
    """
    found = [q for r, q in curve if r >= target - tol]
    for (r0, q0), (r1, q1) in pairwise(curve):
        if min(r0, r1) < target < max(r0, r1):
            found.append(q0 + (q1 - q0) * (target - r0) / (r1 - r0))
    return max(found) if found else None


def ratios(rows: list[Row], modes: list[str], tol: float) -> list[dict]:
    out = []
    for mode in modes:
        mine = [r for r in rows if r.mode == mode and r.engine == "vqdb"]
        curve = [(r.recall, r.qps) for r in sorted(mine, key=lambda r: r.ef)]
        for peer in rows:
            if peer.mode != mode or peer.engine == "vqdb" or not curve:
                continue
            vq = qps_at_recall(curve, peer.recall, tol)
            out.append(
                {
                    "mode": mode,
                    "peer": peer.engine,
                    "ef": peer.ef,
                    "recall": peer.recall,
                    "peer_qps": peer.qps,
                    "vqdb_qps": vq,
                    "ratio": None if vq is None else vq / peer.qps,
                    "vqdb_max_recall": max(r for r, _ in curve),
                }
            )
    return out


def print_ratios(
    table: list[dict], modes: list[str], have_vqdb: bool, limit: int, tol: float
) -> None:
    print(f"\nvqdb QPS / peer QPS at the peer's recall@{limit} (>1: vqdb faster;", end=" ")
    print(f"recalls within {tol:.5f}, one neighbour in the query set, count as equal)")
    if not have_vqdb:
        print("  no vqdb results, so no ratios")
        return
    print(f"{'mode':8} {'peer':12} {'ef':>4} {'recall':>7} {'peer QPS':>9} {'vqdb QPS':>9} ratio")
    for mode in modes:
        for t in (t for t in table if t["mode"] == mode):
            head = f"{mode:8} {t['peer']:12} {t['ef']:4d} {t['recall']:7.4f} {t['peer_qps']:9.0f}"
            if t["ratio"] is None:
                print(f"{head} {'-':>9} vqdb never reaches it (max {t['vqdb_max_recall']:.4f})")
            else:
                print(f"{head} {t['vqdb_qps']:9.0f} {t['ratio']:5.2f}")


# ---------------------------------------------------------------------------- main


def parse_oversampling(spec: str) -> dict[str, float]:
    """'4' for every quantized mode, or 'scalar=1,binary=4,product=4'."""
    if "=" not in spec:
        return {mode: float(spec) for mode in MODES[1:]}
    pairs = (item.split("=") for item in spec.split(","))
    return {mode.strip(): float(value) for mode, value in pairs}


class OtherLoad:
    """CPU that other processes burn while we run: it steals the core a search runs on.

    The machine is shared (a test suite or compiler may start mid-run), so a check before
    the run is not enough: compare the system's busy CPU seconds with our own at the end.
    """

    def __init__(self) -> None:
        try:
            import psutil
        except ImportError:
            self.psutil = None
            return
        self.psutil = psutil
        self.start = self._sample()

    def _sample(self) -> tuple[float, float, float]:
        t = self.psutil.cpu_times()
        busy = sum(t) - t.idle - getattr(t, "iowait", 0.0)
        mine = sum(os.times()[:4])  # user + system, ours and our finished children
        return busy, mine, time.perf_counter()

    def cores(self) -> float | None:
        """Average cores used by other processes since construction (None without psutil)."""
        if self.psutil is None:
            return None
        busy, mine, wall = (b - a for a, b in zip(self.start, self._sample(), strict=True))
        return max(0.0, busy - mine) / wall

    def report(self, when: str) -> None:
        cores = self.cores()
        if cores is None:
            print(f"other processes {when}: unknown (psutil not installed)")
            return
        print(f"other processes {when}: {cores:.2f} cores on average")
        if cores > 0.1:
            print("  warning: the machine was busy; QPS is low and noisy, rerun when idle")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="dataset folder (base.npy, queries.npy, gt_*)")
    ap.add_argument("--metric", choices=["cosine", "l2"], help="default: the folder's gt file")
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--ef", default="16,32,64,128,256", help="hnsw ef values to sweep")
    ap.add_argument(
        "--vqdb-ef", default="384,512", help="extra ef values for vqdb alone ('' for none)"
    )
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construct", type=int, default=100)
    ap.add_argument("--queries", type=int, default=300, help="first N queries (default 300)")
    ap.add_argument("--repeat", type=int, default=3, help="min timed passes, median kept (>=3)")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument(
        "--oversampling",
        default="scalar=1,binary=4,product=4,turbo1=4,turbo1_5=4,turbo2=4,turbo4=1",
        help="rescore candidates = limit * this, per quantized mode, or one number for all",
    )
    ap.add_argument("--skip", default="", help="engines to leave out, e.g. usearch,faiss")
    ap.add_argument("--json", help="write rows and ratios to this file")
    args = ap.parse_args()

    base, queries, gt, metric = load(args.data, args.metric)
    queries, gt = queries[: args.queries], gt[: args.queries]
    if metric == "cosine":
        # Every engine gets unit vectors, so the inner-product ones match cosine ground truth
        # (GloVe is raw); the cosine ones normalise again, which changes nothing.
        base, queries = normalize(base), normalize(queries)
    setup = Setup(
        metric=metric,
        m=args.m,
        ef_construct=args.ef_construct,
        limit=args.limit,
        oversampling=parse_oversampling(args.oversampling),
    )
    efs = [int(e) for e in args.ef.split(",")]
    vqdb_efs = [int(e) for e in args.vqdb_ef.split(",") if e.strip()]
    modes = [m for m in args.modes.split(",") if m]
    skip = {e.strip() for e in args.skip.split(",") if e.strip()}

    print(f"data: {args.data}  n={len(base)} dim={base.shape[1]} metric={metric}", end="")
    print(f"  queries={len(queries)}  m={args.m} ef_construct={args.ef_construct}")
    print(f"oversampling: {setup.oversampling}  search: 1 thread, one query per call")
    print(f"machine: {BUILD_THREADS} cores")
    other = OtherLoad()
    time.sleep(0.5)
    other.report("before the run")
    other = OtherLoad()  # restart the count for the run itself
    engines = []
    for name, (module, dist, _) in ENGINES.items():
        if name in skip:
            print(f"  {name:12} skipped (--skip)")
            continue
        try:
            mod = importlib.import_module(module)
        except ImportError:
            print(f"  {name:12} skipped (not installed)")
            continue
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:  # e.g. vqdb run from a source tree
            version = getattr(mod, "__version__", "?")
        print(f"  {name:12} {version}")
        engines.append(name)

    rows: list[Row] = []
    recall_col = f"recall@{args.limit}"
    print(f"\n{'mode':8} {'engine':12} {'ef':>4} {recall_col:>9} {'QPS':>7} cores build s")
    for mode in modes:
        built: dict[str, tuple[Searcher, float]] = {}
        closers = []
        try:
            for name in (n for n in engines if mode in ENGINES[n][2]):
                try:
                    with Timer() as build:
                        searcher, close = BUILDERS[name](mode, base, setup)
                except Exception as exc:  # one engine failing must not end the run
                    print(f"{mode:8} {name:12} failed: {exc!r}", flush=True)
                    continue
                if close is not None:
                    closers.append(close)
                built[name] = (searcher, build.seconds)
            rows += sweep(built, efs, mode, queries, gt, setup, args.repeat)
            alone = {name: b for name, b in built.items() if name == "vqdb"}
            rows += sweep(alone, vqdb_efs, mode, queries, gt, setup, args.repeat)
            for row in sorted(
                (r for r in rows if r.mode == mode), key=lambda r: (engines.index(r.engine), r.ef)
            ):
                print(
                    f"{mode:8} {row.engine:12} {row.ef:4d} {row.recall:9.4f} {row.qps:7.0f} "
                    f"{row.cores:5.2f} {row.build_s:7.1f}",
                    flush=True,
                )
        finally:
            for close in closers:
                close()
            built.clear()  # drop the indexes before the next mode builds its own
            gc.collect()

    print()
    other.report("during the run")
    # One neighbour more or less over the whole query set is noise, not a recall difference.
    tol = 1 / (len(queries) * args.limit) + 1e-9
    table = ratios(rows, modes, tol)
    print_ratios(table, modes, any(r.engine == "vqdb" for r in rows), args.limit, tol)
    if args.json:
        report = {
            "data": args.data,
            "metric": metric,
            "n": len(base),
            "dim": base.shape[1],
            "queries": len(queries),
            "setup": asdict(setup),
            "engines": engines,
            "rows": [asdict(r) for r in rows],
            "ratios": table,
            "other_load_cores": other.cores(),
        }
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
