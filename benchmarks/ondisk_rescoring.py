"""Rescoring from on-disk originals: through the memory map, io_uring or a pread thread pool,
and `auto` (async_scorer=True: page-cached rows in place, the others through io_uring), with a
cold and a warm page cache, at oversampling 1, 2, 4 and 8.

    python benchmarks/ondisk_rescoring.py --data ../shared/data/wordnet-mpnet-768
    python benchmarks/ondisk_rescoring.py --data DIR --n 200000 --dim 1536 --json out.json

The collection: n vectors of `dim` derived from the real ones (datasets.derived), Cosine,
originals on disk, binary quantization always_ram, one optimized segment (HNSW m=16,
ef_construct=100); built once and kept under --storage. The storage is opened once and the
segment switched from path to path with the call opening it with `async_scorer=<path>` makes
(segment.files.use_read_path); what is timed is that segment's Index.search, one query per
call, limit 10: the search plus its rescoring reads, without the client's model overhead
(~0.1 ms a query).

Cold: before every timed query the originals leave the page cache: madvise(MADV_DONTNEED) on
the segment's mapping (a page still mapped is never dropped) then posix_fadvise(DONTNEED) on
the file (its pages are clean: the segment files are fsynced when written). The `resident`
column shows the share of a sample of rows mincore finds cached right after that eviction: 0%
means cold really was cold. --drop-caches also writes /proc/sys/vm/drop_caches before each cold
run (root only, and it empties the cache of everyone on the machine). Warm: the whole file is
read once, one untimed pass per path, then --passes timed passes, the paths taking turns
within each pass so that the machine's noise falls on all of them alike.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import mmap
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from datasets import derived, load, table  # noqa: E402

PATHS = ("mmap", "io_uring", "pread", "auto")
OVERSAMPLING = (1, 2, 4, 8)
LIMIT = 10
COLLECTION = "bench"


def build(storage: Path, base: np.ndarray, n: int, dim: int) -> None:
    """The collection under `storage`, unless a previous run left it there."""
    import vqdb
    from vqdb import models

    marker = storage / "bench.json"
    if marker.exists() and json.loads(marker.read_text()) == {"n": n, "dim": dim}:
        return
    x = derived(base, n, dim)
    started = time.perf_counter()
    with vqdb.Client(path=storage) as client:
        if client.collection_exists(COLLECTION):
            client.delete_collection(COLLECTION)
        client.create_collection(
            COLLECTION,
            vectors_config=models.VectorParams(
                size=dim, distance=models.Distance.COSINE, on_disk=True
            ),
            quantization_config=models.BinaryQuantization(
                binary=models.BinaryQuantizationConfig(always_ram=True)
            ),
            # one segment: the measurement is of one graph and one originals file
            optimizers_config=models.OptimizersConfigDiff(max_segment_size=n * dim // 256 + 1),
        )
        client.upload_collection(COLLECTION, vectors=x, ids=range(n), batch_size=1000, wait=True)
        while client.get_collection(COLLECTION).status != models.CollectionStatus.GREEN:
            time.sleep(0.5)
    marker.write_text(json.dumps({"n": n, "dim": dim}))
    print(f"built {n} x {dim} in {time.perf_counter() - started:.0f} s")


class Segment:
    """The collection's one optimized segment: its Index, its originals file and mapping."""

    def __init__(self, db: Any) -> None:
        collection = db.collection(COLLECTION)
        built = [s for s in collection.segments if not s.appendable and s.count]
        if len(built) != 1:
            raise SystemExit(f"expected one optimized segment, found {len(built)}")
        self.index = built[0].vectors[""]
        directory = collection.path / "segments" / built[0].name
        self.file = next(directory.glob("vector.0.originals.codes.npy"))
        codes = self.index._originals.codes_view  # the mapping the C++ set reads in place
        self.rows = codes
        page = mmap.PAGESIZE
        start = codes.ctypes.data & ~(page - 1)
        self._span = (start, codes.ctypes.data + codes.nbytes - start)
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._sample = np.random.default_rng(5).choice(codes.shape[0], 2000).astype(np.uint32)

    def use(self, path: str) -> None:
        from vqdb.segment.files import use_read_path

        use_read_path(self.index, self.file, path)

    def evict(self) -> None:
        start, length = self._span
        self._libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(length), mmap.MADV_DONTNEED)
        fd = os.open(self.file, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)

    def warm(self) -> None:
        with open(self.file, "rb", buffering=0) as f:
            while f.read(16 << 20):
                pass

    def resident(self) -> float:
        from vqdb import _core

        return float(_core.resident(self.rows, self._sample).mean())


def drop_caches() -> None:
    try:
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
    except OSError as e:
        print(f"  (drop_caches not permitted: {e})")


def params(oversampling: int) -> dict[str, Any]:
    return {"quantization": {"rescore": True, "oversampling": float(oversampling)}}


def summary(latencies: list[float], qps: float, resident: float) -> dict[str, Any]:
    ms = np.array(latencies) * 1e3
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "qps": round(qps, 1),
        "resident": f"{resident:.0%}",
    }


def run_cold(
    segment: Segment, queries: np.ndarray, oversampling: int
) -> tuple[dict[str, Any], Any]:
    """Every query against an evicted file."""
    latencies, results, residency = [], [], []
    for i, q in enumerate(queries):
        segment.evict()
        if i < 5:
            residency.append(segment.resident())
        start = time.perf_counter()
        results.append(segment.index.search(q, LIMIT, params(oversampling)))
        latencies.append(time.perf_counter() - start)
    return summary(latencies, len(queries) / sum(latencies), statistics.mean(residency)), results


def run_warm(
    segment: Segment, paths: list[str], queries: np.ndarray, oversampling: int, passes: int
) -> dict[str, tuple[dict[str, Any], Any]]:
    """Every path over the cached file, taking turns pass by pass."""
    segment.warm()
    latencies: dict[str, list[float]] = {p: [] for p in paths}
    rates: dict[str, list[float]] = {p: [] for p in paths}
    results: dict[str, Any] = {}
    for path in paths:  # untimed: maps the pages the queries touch, fills the reader's rings
        segment.use(path)
        for q in queries:
            segment.index.search(q, LIMIT, params(oversampling))
    for i in range(passes):
        for path in paths if i % 2 == 0 else paths[::-1]:  # no path always first or last
            segment.use(path)
            out = []
            started = time.perf_counter()
            for q in queries:
                start = time.perf_counter()
                out.append(segment.index.search(q, LIMIT, params(oversampling)))
                latencies[path].append(time.perf_counter() - start)
            rates[path].append(len(queries) / (time.perf_counter() - started))
            results[path] = out
    resident = segment.resident()
    return {
        p: (summary(latencies[p], statistics.median(rates[p]), resident), results[p]) for p in paths
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="dataset folder (base.npy, queries.npy)")
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=1536)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--storage",
        type=Path,
        default=Path("/tmp/vqdb-ondisk-rescoring"),
        help="where the collection is built and kept between runs (on the disk to measure)",
    )
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--passes", type=int, default=5, help="timed warm passes per path")
    parser.add_argument("--drop-caches", action="store_true")
    parser.add_argument("--json", type=Path, help="write the rows here, one object per row")
    args = parser.parse_args()

    import vqdb
    from vqdb.database import Database

    base, real_queries, _, _ = load(args.data)
    args.storage.mkdir(parents=True, exist_ok=True)
    build(args.storage, base, args.n, args.dim)
    queries = derived(real_queries, args.queries, args.dim, seed=1)
    print(
        f"machine: {os.cpu_count()} cores; {args.n} x {args.dim} on-disk originals, binary "
        f"always_ram; {args.queries} queries, limit {LIMIT}, one query per call; vqdb "
        f"{vqdb.__version__}\n"
    )
    rows: list[dict[str, Any]] = []
    answers: dict[tuple[str, str, int], Any] = {}
    paths = args.paths.split(",")
    with Database(args.storage) as db:
        segment = Segment(db)
        for path in paths:
            segment.use(path)
            print(f"{path}: rescoring reads {segment.index.read_path}", flush=True)
            for oversampling in OVERSAMPLING:
                if args.drop_caches:
                    drop_caches()
                row, answers[(path, "cold", oversampling)] = run_cold(
                    segment, queries, oversampling
                )
                rows.append({"path": path, "cache": "cold", "oversampling": oversampling, **row})
        for oversampling in OVERSAMPLING:
            measured = run_warm(segment, paths, queries, oversampling, args.passes)
            for path in paths:
                row, answers[(path, "warm", oversampling)] = measured[path]
                rows.append({"path": path, "cache": "warm", "oversampling": oversampling, **row})
        segment.use("mmap")
    rows.sort(key=lambda r: (paths.index(r["path"]), r["cache"], r["oversampling"]))
    print()
    table(rows)
    by = {(r["path"], r["cache"], r["oversampling"]): r for r in rows}
    if "mmap" in paths:
        for other in (p for p in paths if p != "mmap"):
            cold = [
                by["mmap", "cold", o]["p50_ms"] / by[other, "cold", o]["p50_ms"]
                for o in OVERSAMPLING
            ]
            warm = [
                by[other, "warm", o]["qps"] / by["mmap", "warm", o]["qps"] for o in OVERSAMPLING
            ]
            print(
                f"{other} vs mmap: cold p50 speed-up "
                + ", ".join(f"x{o} {r:.1f}x" for o, r in zip(OVERSAMPLING, cold))
                + "; warm QPS ratio "
                + ", ".join(f"x{o} {r:.2f}" for o, r in zip(OVERSAMPLING, warm))
            )
        same = all(
            all(
                np.array_equal(a[0], b[0]) and a[1].tobytes() == b[1].tobytes()
                for a, b in zip(answers[(p, c, o)], answers[("mmap", c, o)])
            )
            for p in paths
            for c in ("cold", "warm")
            for o in OVERSAMPLING
        )
        print(f"identical ids and scores on every path: {same}")
    if args.json:
        keep = ("path", "cache", "oversampling", "p50_ms", "p99_ms", "qps")
        args.json.write_text(json.dumps([{k: r[k] for k in keep} for r in rows], indent=1))
        print(f"wrote {len(rows)} rows (a JSON list) to {args.json}")


if __name__ == "__main__":
    main()
