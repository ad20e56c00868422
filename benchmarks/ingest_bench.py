"""Searching while an upload runs: what a k=10 search costs during it, with and without Qdrant's
`prevent_unoptimized` (deferred points), beside hnswlib, whose graph takes each point as it
comes.

    python benchmarks/ingest_bench.py --data ../shared/data/wordnet-mpnet-768 [--n 50000] \
        [--rate 5000] [--engines vqdb deferring hnswlib]

n vectors derived from the real set (768-d, Cosine) are uploaded in batches of 500, at up to
--rate points a second (a steady feed, such as an embedding pipeline's) or as fast as the
engine takes them where it is slower, by one thread, while another runs k=10 searches of the
set's queries one after another from the first batch on until the upload ends. For each
engine:
- upload: seconds, and points/s;
- search during the upload: how many ran; p50, p99 and the worst in ms over its last quarter
  (searches run back to back, so the early, fast ones would outnumber the rest), and the worst
  over the whole upload (a search that waited out a write or a swap: the stalls);
- write: the p50 and the worst time to take one batch (a write waits out a checkpoint);
- shown: how many points a search could find when the last batch was acknowledged;
- settled: seconds from then until every point shows and the optimizer is idle, and recall@10
  of the set's queries against the exact neighbours among all n points;
- while settling (vqdb's optimizer builds the segment the upload filled; the searches go on
  back to back): searches/s, p50, p99 and the worst in ms. The optimizer builds at a lower CPU
  priority than the searches (nice 10, as Qdrant's build threads).

vqdb (embedded, one collection, int8 rescored, default thresholds, `wait=false` writes): new
points land in an appendable segment that searches scan; the optimizer seals it once writes
pause or it reaches the maximum segment size, so a steady upload leaves searches scanning a
segment that grows to tens of thousands of points. With `prevent_unoptimized`, the points past
the indexing threshold are deferred until indexed: searches scan at most the threshold, and
find the rest once built.

hnswlib (the `bench` extra) inserts into its graph as points come: searches see every point at
once and stay graph searches; the upload pays for the graph. faiss's HNSW may not be searched
while it is added to, usearch and qdrant-edge-py have no background indexing to compare: they
are left out. Medians and ratios are what to quote: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from datasets import derived, exact_cosine, load, normalize, recall_at_k, table  # noqa: E402

BATCH = 500
K = 10


class Engine:
    """An engine under test: `add` takes a batch (its ids from `start`), `search` one query,
    `shown` counts the points a search can find, `settle` waits for background work."""

    def add(self, start: int, x: np.ndarray) -> None:
        raise NotImplementedError

    def search(self, q: np.ndarray) -> list[int]:
        raise NotImplementedError

    def shown(self) -> int:
        raise NotImplementedError

    def settle(self) -> None:
        pass

    def close(self) -> None:
        pass


class Vqdb(Engine):
    def __init__(self, path: Path, dim: int, deferring: bool) -> None:
        from vqdb.database import Database

        self.db = Database(path)
        optimizers = {"prevent_unoptimized": True} if deferring else {}
        self.c = self.db.create_collection(
            "c",
            {
                "vectors": {"size": dim, "distance": "Cosine"},
                "quantization_config": {"scalar": {"type": "int8", "always_ram": True}},
                "optimizers_config": optimizers,
            },
        )

    def add(self, start: int, x: np.ndarray) -> None:
        ids = list(range(start, start + len(x)))
        self.c.upsert({"batch": {"ids": ids, "vectors": x}}, wait=False)

    def search(self, q: np.ndarray) -> list[int]:
        from vqdb.collection import query

        found = query.query(self.c, {"query": q, "limit": K})["points"]
        return [p["id"] for p in found]

    def shown(self) -> int:
        from vqdb.collection import reads

        return int(reads.count(self.c, {"exact": True})["count"])

    def settle(self) -> None:
        # a waiting write returns once every deferred point shows (and, without deferral, the
        # optimizer is waited for below)
        self.c.set_payload({"points": [], "payload": {}}, wait=True)
        assert self.c.optimizer.wait_idle(3600), self.c.optimizer.error

    def close(self) -> None:
        self.db.close()


class Hnswlib(Engine):
    def __init__(self, n: int, dim: int) -> None:
        import hnswlib

        self.index = hnswlib.Index(space="cosine", dim=dim)
        self.index.init_index(max_elements=n, M=16, ef_construction=100)
        self.index.set_ef(64)

    def add(self, start: int, x: np.ndarray) -> None:
        self.index.add_items(x, np.arange(start, start + len(x)), num_threads=1)

    def search(self, q: np.ndarray) -> list[int]:
        try:
            labels, _ = self.index.knn_query(q, k=K, num_threads=1)
        except RuntimeError:  # fewer than k reached: points half inserted (hnswlib's words)
            return []
        return [int(i) for i in labels[0]]

    def shown(self) -> int:
        return self.index.get_current_count()


def run(
    engine: Engine, x: np.ndarray, queries: np.ndarray, gt: np.ndarray, rate: float
) -> dict[str, Any]:
    done = threading.Event()
    latencies: list[tuple[float, float]] = []  # (when it began, seconds)

    def searcher() -> None:
        i = 0
        while not done.is_set():
            q = queries[i % len(queries)]
            began = time.perf_counter()
            engine.search(q)
            latencies.append((began, time.perf_counter() - began))
            i += 1

    thread = threading.Thread(target=searcher)
    writes: list[float] = []
    started = time.perf_counter()
    for start in range(0, len(x), BATCH):
        time.sleep(max(0.0, started + start / rate - time.perf_counter()))
        began = time.perf_counter()
        engine.add(start, x[start : start + BATCH])
        writes.append(time.perf_counter() - began)
        if not start:  # searches begin once there is something to find
            thread.start()
    uploaded = time.perf_counter() - started
    shown = engine.shown()
    settling = time.perf_counter()
    engine.settle()
    settled = time.perf_counter() - settling
    done.set()
    thread.join()
    found = [engine.search(q) for q in queries]
    late = started + 0.75 * uploaded
    during = [(began, t) for began, t in latencies if began < settling]
    ms = sorted(t * 1e3 for began, t in during if began >= late)
    after = sorted(t * 1e3 for began, t in latencies if settling <= began < settling + settled)
    return {
        "upload s": f"{uploaded:.1f}",
        "points/s": f"{len(x) / uploaded:.0f}",
        "searches": len(during),
        "p50 ms": f"{statistics.median(ms):.2f}" if ms else "-",
        "p99 ms": f"{ms[min(len(ms) - 1, int(0.99 * len(ms)))]:.2f}" if ms else "-",
        "worst ms": f"{ms[-1]:.1f}" if ms else "-",
        "worst, all ms": f"{max(t for _, t in during) * 1e3:.1f}" if during else "-",
        "write p50 ms": f"{statistics.median(writes) * 1e3:.1f}",
        "worst write ms": f"{max(writes) * 1e3:.1f}",
        "shown at end": shown,
        "settled s": f"{settled:.1f}",
        "settling searches/s": f"{len(after) / settled:.0f}" if after else "-",
        "settling p50 ms": f"{statistics.median(after):.2f}" if after else "-",
        "settling p99 ms": f"{after[min(len(after) - 1, int(0.99 * len(after)))]:.2f}"
        if after
        else "-",
        "settling worst ms": f"{after[-1]:.1f}" if after else "-",
        "recall@10": f"{recall_at_k(found, gt, K):.3f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5000, help="points/s at most")
    kinds = ("vqdb", "deferring", "hnswlib")
    parser.add_argument("--engines", nargs="+", choices=kinds, default=list(kinds))
    args = parser.parse_args()

    base, queries, _, _ = load(args.data)
    x = derived(base, args.n, args.dim)
    q = normalize(derived(queries, args.queries, args.dim, seed=1))
    gt = exact_cosine(x, q, K)
    print(
        f"{args.n} x {args.dim} derived from {args.data}, batches of {BATCH} at up to "
        f"{args.rate:.0f} points/s, k={K}\n"
    )

    engines: list[tuple[str, Callable[[Path], Engine]]] = []
    if "vqdb" in args.engines:
        engines.append(("vqdb", lambda p: Vqdb(p, args.dim, deferring=False)))
    if "deferring" in args.engines:
        engines.append(("vqdb prevent_unoptimized", lambda p: Vqdb(p, args.dim, deferring=True)))
    try:
        import hnswlib  # noqa: F401

        if "hnswlib" in args.engines:
            engines.append(("hnswlib", lambda p: Hnswlib(args.n, args.dim)))
    except ImportError:
        print("hnswlib: not installed (pip install 'vqdb[bench]'), left out")
    rows = []
    for name, make in engines:
        with tempfile.TemporaryDirectory(prefix="vqdb-ingest-") as folder:
            engine = make(Path(folder))
            try:
                rows.append({"engine": name, **run(engine, x, q, gt, args.rate)})
            finally:
                engine.close()
        print(f"{name}: done", flush=True)
    print()
    table(rows)


if __name__ == "__main__":
    main()
