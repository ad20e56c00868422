"""Where a shard's replicas run: one actor each, replicas of a shard on different nodes while
there are enough nodes, pinned to their node (a restart must find its storage folder there).

Actors reserve no CPU (num_cpus=0): a replica's work is in its native search threads, and Ray's
CPU accounting would otherwise cap a node at as many replicas as it has cores.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vqdb.cluster import NAMESPACE, ray_module
from vqdb.cluster.replica import Replica

MAX_RESTARTS = -1  # Ray restarts a replica's process whenever it dies (until it is deleted)
CONCURRENCY = 8  # calls one replica runs at once: reads in parallel (writes come one by one)

_remote: Any = None


def actor_name(collection: str, shard: int, replica: int) -> str:
    return f"vqdb/{collection}/{shard}/{replica}"


def _replica_class() -> Any:
    global _remote
    if _remote is None:
        ray = ray_module()
        _remote = ray.remote(num_cpus=0, max_restarts=MAX_RESTARTS, max_concurrency=CONCURRENCY)(
            Replica
        )
    return _remote


def alive_nodes() -> list[str]:
    """The ids of the cluster's live nodes, in a stable order."""
    ray = ray_module()
    return sorted(n["NodeID"] for n in ray.nodes() if n.get("Alive"))


def spread(shards: int, replicas: int, nodes: list[str], first: int = 0) -> list[list[str]]:
    """The node of each replica of each shard: replica r of shard s on node (s + r) mod n, so
    the replicas of a shard are on different nodes when there are at least `replicas` nodes,
    and the shards' first replicas take turns."""
    return [[nodes[(first + s + r) % len(nodes)] for r in range(replicas)] for s in range(shards)]


def spawn(
    collection: str,
    shard: int,
    replica: int,
    node: str | None,
    config: Mapping[str, Any],
    folder: str,
    options: Mapping[str, Any],
) -> Any:
    """The replica's actor: the live one of that name, else a new one on `node` (which opens
    the folder's collection, or makes it, with `options`: see replica.py)."""
    ray_module()  # a clear error when Ray is missing
    actor: dict[str, Any] = {
        "name": actor_name(collection, shard, replica),
        "namespace": NAMESPACE,
        "get_if_exists": True,
        "lifetime": "detached",  # outlives a server restart; deleted with its collection
    }
    if node is not None and node in alive_nodes():
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        actor["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=False)
    return _replica_class().options(**actor).remote(collection, dict(config), folder, dict(options))
