"""Distributed collections on Ray (vqdb.cluster), measured beside a single node: queries per
second and p99 latency at 1, 2 and 4 shards, recall@10, and what Ray adds to a query.

    python benchmarks/cluster_bench.py --data ../shared/data/wordnet-mpnet-768
    python benchmarks/cluster_bench.py --data ... --address HEAD:6379   # an existing cluster

Without --address it starts a Ray cluster of --nodes processes on this machine (a head and
workers, ports 6600-6647, vqdb.cluster.local), so every shard runs on the same cores as the
single node: on one machine this shows the cost of distribution, not its gain. On several
machines (see the README), each shard brings its node's cores and RAM.

Both sides are the embedded client (no HTTP), one query at a time, so the difference is the
router: a Ray call to one replica per shard (in parallel), the merge, and the id lookups.
"overhead" is the median round trip of an empty actor call (`ready`) from the router, which
every query pays at least once.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from datasets import load, recall_at_k, table  # noqa: E402

import vqdb  # noqa: E402


def fill(client: Any, name: str, base: np.ndarray, **extra: Any) -> float:
    """Creates and fills the collection, waits for its indexes; returns the seconds it took."""
    from qdrant_client import models

    start = time.perf_counter()
    client.create_collection(
        name, vectors_config=models.VectorParams(size=base.shape[1], distance="Cosine"), **extra
    )
    payload = ({"row": i} for i in range(len(base)))
    client.upload_collection(name, base, ids=range(len(base)), payload=payload, batch_size=1000)
    while client.get_collection(name).status != models.CollectionStatus.GREEN:
        time.sleep(0.5)
    return time.perf_counter() - start


def timed(client: Any, name: str, queries: np.ndarray, ef: int) -> tuple[list[float], list[Any]]:
    from qdrant_client import models

    params = models.SearchParams(hnsw_ef=ef)
    for q in queries[:20]:  # warm-up
        client.query_points(name, q.tolist(), limit=10, search_params=params)
    latencies, found = [], []
    for q in queries:
        start = time.perf_counter()
        answer = client.query_points(name, q.tolist(), limit=10, search_params=params)
        latencies.append(time.perf_counter() - start)
        found.append([p.id for p in answer.points])
    return latencies, found


def row(label: str, latencies: list[float], found: list[Any], gt: np.ndarray) -> dict[str, Any]:
    ms = np.array(latencies) * 1000
    return {
        "collection": label,
        "QPS": f"{len(ms) / ms.sum() * 1000:.0f}",
        "p50 ms": f"{np.percentile(ms, 50):.2f}",
        "p99 ms": f"{np.percentile(ms, 99):.2f}",
        "recall@10": f"{recall_at_k(found, gt):.4f}",
    }


def ray_overhead(address: str, calls: int = 300) -> float:
    """Median ms of an empty call to a replica actor and back."""
    import ray

    from vqdb.cluster import placement

    with tempfile.TemporaryDirectory() as folder:
        config = {"vectors": {"size": 4, "distance": "Dot"}}
        actor = placement.spawn("bench-overhead", 0, 0, None, config, folder + "/r", {})
        ray.get(actor.ready.remote())
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            ray.get(actor.ready.remote())
            times.append(time.perf_counter() - start)
        ray.get(actor.close.remote(True))
        ray.kill(actor)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a dataset folder (shared/data/...)")
    parser.add_argument("--address", help="an existing Ray cluster (default: start one here)")
    parser.add_argument("--nodes", type=int, default=3, help="nodes of the local cluster")
    parser.add_argument("--points", type=int, default=0, help="use the first N (0: all)")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--shards", default="1,2,4")
    parser.add_argument("--ef", type=int, default=64)
    args = parser.parse_args()
    base, queries, gt, _ = load(args.data)
    if args.points:
        base = base[: args.points]
        from datasets import normalize

        exact = normalize(queries) @ normalize(base).T
        gt = np.argsort(-exact, axis=1)[:, :10]
    queries, gt = queries[: args.queries], gt[: args.queries]
    local_cluster = None
    address = args.address
    if address is None:
        from vqdb.cluster.local import LocalCluster

        local_cluster = LocalCluster(nodes=args.nodes, cpus=1)
        address = local_cluster.address
    rows, fills = [], []
    try:
        with tempfile.TemporaryDirectory() as folder:
            single = vqdb.Client(":memory:", optimizer_threads=2)
            fills.append(("single node", fill(single, "c", base)))
            latencies, found = timed(single, "c", queries, args.ef)
            rows.append(row("single node", latencies, found, gt))
            baseline = statistics.median(latencies) * 1000
            single.close()
            spread = vqdb.Client(path=folder, ray_address=address, optimizer_threads=1)
            router = None
            for shards in [int(s) for s in args.shards.split(",")]:
                name = f"c{shards}"
                fills.append((f"{shards} shards", fill(spread, name, base, shard_number=shards)))
                latencies, found = timed(spread, name, queries, args.ef)
                rows.append(row(f"{shards} shard{'s' * (shards > 1)} (Ray)", latencies, found, gt))
                if shards == 1:
                    router = statistics.median(latencies) * 1000 - baseline
                spread.delete_collection(name)
            overhead = ray_overhead(address)
            spread.close()
    finally:
        if local_cluster is not None:
            local_cluster.shutdown()
    where = f"local, {args.nodes} nodes" if local_cluster else address
    print(
        f"{len(base)} x {base.shape[1]} vectors, {len(queries)} queries, hnsw_ef {args.ef}, "
        f"one query at a time; Ray cluster: {where}\n"
    )
    table(rows)
    print("fill + index (s): " + ", ".join(f"{label} {s:.1f}" for label, s in fills))
    print(f"Ray round trip of an empty actor call: {overhead:.2f} ms (median)")
    if router is not None:
        print(f"1 shard over 1 node, median latency above a single node: {router:.2f} ms")


if __name__ == "__main__":
    main()
