"""vqdb's quantization table on a real dataset: accuracy, speed and compression of every mode.

    python benchmarks/quantization_table.py --data ../shared/data/wordnet-mpnet-768

For float32 and every quantization (scalar int8; binary one_bit / one_and_half_bits / two_bits,
each with default and scalar8bits queries; product x8 / x16 / x32 / x64; turbo bits1 / bits1_5 /
bits2 / bits4), with oversampling 1, 2
and 4 and rescore on and off, behind HNSW and as a plain scan, it prints recall@10 against the
exact ground truth, single-thread QPS (one query per call), speed (QPS / float32 QPS of the same
index kind and ef), compression (float32 bytes / code bytes), build seconds and bytes per vector
(codes + per-vector side data, + graph links behind HNSW). --json writes the same rows.
--methods picks some of them (e.g. float32,binary,turbo).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import Timer, load, qps, recall_at_k  # noqa: E402

import vqdb  # noqa: E402

OVERSAMPLING = (1.0, 2.0, 4.0)


@dataclass
class Mode:
    method: str  # float32 | scalar | binary | product | turbo
    encoding: str | None = None
    query_encoding: str | None = None
    compression_setting: str | None = None
    bits: str | None = None  # turbo: bits1 | bits1_5 | bits2 | bits4

    def config(self) -> dict[str, Any] | None:
        if self.method == "scalar":
            return {"scalar": {"type": "int8", "quantile": 0.99}}
        if self.method == "binary":
            return {"binary": {"encoding": self.encoding, "query_encoding": self.query_encoding}}
        if self.method == "product":
            return {"product": {"compression": self.compression_setting}}
        if self.method == "turbo":
            return {"turbo": {"bits": self.bits}}
        return None

    def label(self) -> str:
        parts = [
            self.method,
            self.encoding,
            self.query_encoding,
            self.compression_setting,
            self.bits,
        ]
        return " ".join(p for p in parts if p and p != "default")


MODES = [
    Mode("float32"),
    Mode("scalar"),
    *[
        Mode("binary", e, q)
        for e in ("one_bit", "one_and_half_bits", "two_bits")
        for q in ("default", "scalar8bits")
    ],
    *[Mode("product", compression_setting=c) for c in ("x8", "x16", "x32", "x64")],
    *[Mode("turbo", bits=b) for b in ("bits1", "bits1_5", "bits2", "bits4")],
]


@dataclass
class Row:
    method: str
    encoding: str | None
    query_encoding: str | None
    compression_setting: str | None
    oversampling: float
    rescore: bool
    ef: int | None
    recall_at_10: float
    qps: float
    speed: float
    compression: float
    build_s: float
    bytes_per_vector: float
    index: str
    bits: str | None = None


def build(mode: Mode, base: np.ndarray, distance: str, hnsw: bool) -> tuple[vqdb.Index, float]:
    index = vqdb.Index(
        base.shape[1],
        distance,
        quantization=mode.config(),
        hnsw={"m": 16, "ef_construct": 100} if hnsw else None,
    )
    with Timer() as t:
        index.add(np.arange(len(base)), base)
    return index, t.seconds


def measure(
    index: vqdb.Index,
    queries: np.ndarray,
    gt: np.ndarray,
    limit: int,
    params: dict[str, Any],
    repeat: int,
) -> tuple[float, float]:
    def one(q: np.ndarray) -> np.ndarray:
        return index.search(q, limit, params, threads=1)[0]

    timed = qps(one, queries, repeat=repeat)
    return recall_at_k(np.stack(timed.results), gt, k=10), timed.qps


def run(args: argparse.Namespace) -> list[Row]:
    base, queries, gt, metric = load(args.data, args.metric)
    distance = "Euclid" if metric == "l2" else "Cosine"
    rows: list[Row] = []
    kinds = [k for k in ("hnsw", "plain") if k in args.index.split(",")]
    for kind in kinds:
        n_queries = args.queries if kind == "hnsw" else args.plain_queries
        q, g = queries[:n_queries], gt[:n_queries]
        efs = [int(e) for e in args.ef.split(",")] if kind == "hnsw" else [None]
        float_qps: dict[int | None, float] = {}
        for mode in MODES:
            if args.methods and mode.method not in args.methods.split(","):
                continue
            index, build_s = build(mode, base, distance, kind == "hnsw")
            memory = index.memory_usage()
            walk_bytes = memory["quantized"] or memory["originals"]
            per_vector = (walk_bytes + memory["graph"]) / len(base)
            compression = base.shape[1] * 4 / index.code_bytes
            grid = (
                [(1.0, False)]
                if mode.method == "float32"
                else [(os, rescore) for rescore in (False, True) for os in OVERSAMPLING]
            )
            for ef in efs:
                for os, rescore in grid:
                    params: dict[str, Any] = {"hnsw_ef": ef} if ef else {}
                    if mode.method != "float32":
                        params["quantization"] = {"rescore": rescore, "oversampling": os}
                    recall, rate = measure(index, q, g, args.limit, params, args.repeat)
                    if mode.method == "float32":
                        float_qps[ef] = rate
                    rows.append(
                        Row(
                            mode.method,
                            mode.encoding,
                            mode.query_encoding,
                            mode.compression_setting,
                            os,
                            rescore,
                            ef,
                            recall,
                            rate,
                            rate / float_qps.get(ef, math.nan),
                            compression,
                            build_s,
                            per_vector,
                            kind,
                            mode.bits,
                        )
                    )
                    print_row(rows[-1], mode)
            del index
    return rows


HEADER = (
    f"{'index':<6} {'mode':<34} {'os':>4} {'rescore':>7} {'ef':>4} {'recall@10':>9} "
    f"{'QPS':>8} {'speed':>6} {'compr.':>6} {'build s':>7} {'B/vec':>7}"
)


def print_row(row: Row, mode: Mode) -> None:
    ef = "-" if row.ef is None else str(row.ef)
    print(
        f"{row.index:<6} {mode.label():<34} {row.oversampling:>4g} {str(row.rescore):>7} "
        f"{ef:>4} {row.recall_at_10:>9.3f} {row.qps:>8.0f} {row.speed:>5.1f}x "
        f"{row.compression:>5.0f}x {row.build_s:>7.2f} {row.bytes_per_vector:>7.0f}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder with base.npy, queries.npy, gt_*.npy")
    parser.add_argument("--metric", choices=["cosine", "l2"], help="which gt_<metric>.npy to use")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--ef", default="128", help="hnsw_ef values, comma separated")
    parser.add_argument("--index", default="hnsw,plain", help="hnsw, plain or both")
    parser.add_argument("--queries", type=int, default=1000, help="queries behind HNSW")
    parser.add_argument("--plain-queries", type=int, default=200, help="queries for plain scans")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes (median is kept)")
    parser.add_argument("--json", type=Path, help="write the rows as a JSON list here")
    parser.add_argument("--methods", help="only these methods, comma separated (float32 first)")
    args = parser.parse_args(argv)
    if args.limit > 10:
        parser.error("recall@10 needs --limit 10 or less")

    print(
        f"vqdb {vqdb.__version__} on {args.data}  (SIMD: {vqdb._core.simd_level()}, "
        "single-thread QPS, one query per call)"
    )
    print(HEADER)
    rows = run(args)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
        print(f"wrote {len(rows)} rows to {args.json}")
    if any(math.isnan(r.recall_at_10) for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
