"""What a single-query call from Python costs above the native search.

    python benchmarks/call_overhead.py [--dim 768] [--calls 20000]

On a tiny index (so the search itself is ~1 us) it times vqdb.Index.search with one query
(validation, parameter parsing, id mapping, score conversion), the bare native _core.search
with one query (nanobind conversions + search), and the C++ search time per query, taken from
one native call over a batch of the same query. Medians of several passes, in microseconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import vqdb
from vqdb import _core


def per_call_us(fn: Callable[[], Any], calls: int, passes: int = 5) -> float:
    rates = []
    for _ in range(passes):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        rates.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    base = rng.standard_normal((16, args.dim)).astype(np.float32)
    query = rng.standard_normal(args.dim).astype(np.float32)
    index = vqdb.Index(args.dim, "Cosine", quantization={"scalar": {}})
    index.add(np.arange(16), base)
    params = {"hnsw_ef": 16, "quantization": {"rescore": True, "oversampling": 1.0}}
    graph, walk, rescore, candidates, ef = index._plan(vqdb.SearchParams(**params), 10)
    query_2d = query[None]

    full = per_call_us(lambda: index.search(query, 10, params), args.calls)  # default threads
    native = per_call_us(
        lambda: _core.search(graph, walk, rescore, query_2d, 10, candidates, ef, None, 1),
        args.calls,
    )
    batch = np.repeat(query_2d, 1000, axis=0)
    passes = max(args.calls // 1000, 3)
    cpp = per_call_us(
        lambda: _core.search(graph, walk, rescore, batch, 10, candidates, ef, None, 1), passes
    )
    cpp /= 1000
    print(f"{'':<46} {'us/query':>8}")
    print(f"{'vqdb.Index.search, one query per call':<46} {full:>8.2f}")
    print(f"{'_core.search, one query per call':<46} {native:>8.2f}")
    print(f"{'C++ search alone (batch of 1000 in one call)':<46} {cpp:>8.2f}")
    print(
        f"A single-query call costs {full - cpp:.2f} us above the C++ search time "
        f"({native - cpp:.2f} us of it in the native binding)."
    )


if __name__ == "__main__":
    main()
