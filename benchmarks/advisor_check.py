"""Does the advisor's recommendation hold on the whole set? For each shared dataset: load every
vector into a collection, ask the advisor (queries held out of the collection's own vectors)
for recall@10 >= TARGET at the least memory, apply it, wait for the rebuild, then measure the
real recall@10 of the dataset's 1000 held-out queries (exact ground truth) with the recommended
search params.

    python benchmarks/advisor_check.py --data ../shared/data [--target 0.95] [--json out.json]

Passes when the real recall is >= the target and within 0.02 of the estimate.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import load, recall_at_k  # noqa: E402

import vqdb  # noqa: E402
from vqdb import models  # noqa: E402

SETS = ("wordnet-mpnet-768", "python-docs-minilm-384", "glove-6b-50d-angular", "sift-5k-l2")
TOLERANCE = 0.02


def check(folder: Path, target: float, objective: str) -> dict[str, Any]:
    base, queries, gt, metric = load(folder)
    distance = models.Distance.EUCLID if metric == "l2" else models.Distance.COSINE
    with vqdb.Client(":memory:") as client:
        # a set under the default indexing threshold (10 MB) would stay one unindexed, exact
        # segment: index it, so that the quantization applied is the one searched
        small = base.nbytes < 10_000 * 1024
        client.create_collection(
            "c",
            vectors_config=models.VectorParams(size=base.shape[1], distance=distance),
            optimizers_config=models.OptimizersConfigDiff(indexing_threshold=1) if small else None,
        )
        client.upload_collection("c", vectors=base, ids=range(len(base)), wait=True)
        _wait_green(client)
        started = time.perf_counter()
        advice = client.advise("c", target_recall=target, objective=objective, apply=True)
        advise_s = time.perf_counter() - started
        rec = advice["recommendation"]
        started = time.perf_counter()
        while not client.advice_progress("c")["done"]:
            time.sleep(0.1)
        _wait_green(client)
        rebuild_s = time.perf_counter() - started
        params = models.SearchParams(**rec["search_params"]) if rec["met"] else None
        found = np.array(
            [
                [p.id for p in client.query_points("c", q, limit=10, search_params=params).points]
                for q in queries
            ]
        )
        applied = client.get_collection("c").config.quantization_config
    real = recall_at_k(found, gt, k=10)
    estimate = rec["estimated_recall"]
    ok = real >= target and estimate is not None and abs(real - estimate) <= TOLERANCE
    return {
        "set": folder.name,
        "vectors": f"{len(base)}x{base.shape[1]}",
        "recommendation": rec["label"],
        "oversampling": (rec["search_params"].get("quantization") or {}).get("oversampling"),
        "ram_bytes_per_vector": rec.get("bytes_per_vector_ram"),
        "estimated_recall": estimate,
        "interval": rec.get("recall_interval"),
        "real_recall": round(real, 4),
        "difference": None if estimate is None else round(real - estimate, 4),
        "pass": ok,
        "advise_s": round(advise_s, 1),
        "rebuild_s": round(rebuild_s, 1),
        "applied": str(applied),
    }


def _wait_green(client: vqdb.Client) -> None:
    while client.get_collection("c").status != models.CollectionStatus.GREEN:
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--objective", default="memory")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for name in args.sets.split(","):
        row = check(args.data / name, args.target, args.objective)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print(
        "| set | recommendation | oversampling | RAM B/vec | estimate (95% interval) "
        "| real recall@10 | diff | pass | advise s |"
    )
    print("|---|---|---:|---:|---|---:|---:|---|---:|")
    for r in rows:
        interval = "-".join(f"{v:.3f}" for v in r["interval"]) if r["interval"] else ""
        print(
            f"| {r['set']} | {r['recommendation']} | {r['oversampling']} | "
            f"{r['ram_bytes_per_vector']} | {r['estimated_recall']} ({interval}) | "
            f"{r['real_recall']} | {r['difference']} | {r['pass']} | {r['advise_s']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0 if all(r["pass"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
