"""Product quantization build time: k-means training plus encoding of N vectors.

    python benchmarks/pq_build.py --data ../shared/data/wordnet-mpnet-768 [--n 100000]

The shared sets hold 24k-28k real vectors; to reach N they are tiled with a little Gaussian
noise (std 0.01), so the codes still follow the real distribution. Prints, per compression,
training and encoding seconds on every core, code bytes, and the reconstruction error.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import load  # noqa: E402

from vqdb import _core  # noqa: E402

SUB_DIMS = {"x8": 2, "x16": 4, "x32": 8, "x64": 16}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--compression", default="x16", help="comma separated: x8,x16,x32,x64")
    args = parser.parse_args()

    base, _, _, metric = load(args.data)
    reps = -(-args.n // len(base))
    rng = np.random.default_rng(0)
    x = np.tile(base, (reps, 1))[: args.n]
    x += rng.normal(0, 0.01, x.shape).astype(np.float32)
    engine_metric = "l2" if metric == "l2" else "cosine"
    print(f"{args.n} x {x.shape[1]} vectors from {args.data}, SIMD {_core.simd_level()}")
    header = ("compression", "train s", "encode s", "total s", "B/vec", "rel err")
    print("{:<12} {:>8} {:>9} {:>8} {:>6} {:>8}".format(*header))
    for name in args.compression.split(","):
        codec = _core.VectorSet.product(x.shape[1], engine_metric, SUB_DIMS[name])
        start = time.perf_counter()
        codec.train(x)
        trained = time.perf_counter()
        codec.add(x)
        done = time.perf_counter()
        sample = x[:2000] / np.linalg.norm(x[:2000], axis=1, keepdims=True)
        if engine_metric == "l2":
            sample = x[:2000]
        err = ((codec.decode(codec.encode(sample)) - sample) ** 2).sum() / (sample**2).sum()
        print(
            f"{name:<12} {trained - start:>8.2f} {done - trained:>9.2f} {done - start:>8.2f} "
            f"{codec.code_bytes:>6} {err:>8.3f}"
        )


if __name__ == "__main__":
    main()
