"""Facet counts and the distance matrix on a synthetic collection, through the engine.

    python benchmarks/exploration_bench.py [--points 200000] [--values 1000] [--dim 128]

Points carry a keyword key (1-3 of `--values` distinct values each) under a keyword index.
Facets are timed right after a write (the index rebuilds its posting columns once) and again
(warm), without and with a filter that keeps about half the points; the distance matrix for
a few sample sizes. Medians of several runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from vqdb.collection import facets, matrix
from vqdb.database import Database


def ms(fn: Callable[[], Any], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--values", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=128)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    db = Database(None)
    c = db.create_collection("b", {"vectors": {"size": args.dim, "distance": "Cosine"}})
    c.create_payload_index({"field_name": "k", "field_schema": "keyword"}, wait=True)
    vectors = rng.normal(size=(args.points, args.dim)).astype(np.float32)
    for start in range(0, args.points, 10_000):
        stop = min(start + 10_000, args.points)
        points = [
            {
                "id": i,
                "vector": vectors[i].tolist(),
                "payload": {
                    "k": [f"v{v}" for v in rng.integers(0, args.values, int(rng.integers(1, 4)))],
                    "half": bool(i % 2),
                },
            }
            for i in range(start, stop)
        ]
        c.upsert({"points": points}, wait=True)
    half = {"must": [{"key": "half", "match": {"value": True}}]}

    def after_write() -> None:
        c.set_payload({"payload": {"x": 1}, "points": [0]}, wait=True)
        facets.facet(c, {"key": "k"})

    print(f"{args.points} points, {args.values} values, dim {args.dim}")
    print(f"facet after a write   {ms(after_write):8.1f} ms")
    print(f"facet                 {ms(lambda: facets.facet(c, {'key': 'k'})):8.1f} ms")
    filtered = ms(lambda: facets.facet(c, {"key": "k", "filter": half}))
    print(f"facet, half filtered  {filtered:8.1f} ms (the filter is a payload scan here)")
    for sample in (10, 100, 1000):
        body = {"sample": sample, "limit": 10}
        print(f"matrix sample {sample:5d}   {ms(lambda b=body: matrix.offsets(c, b)):8.1f} ms")
    db.close()


if __name__ == "__main__":
    main()
