"""Distributed collections on Ray: shards and replicas in Ray actors, one whole Collection each.

    vqdb serve --ray-address auto          (or ray://host:10001, or host:6379)
    vqdb.Client(path="./storage", ray_address="auto")

A collection lives in shard_number x replication_factor actors named
`vqdb/<collection>/<shard>/<replica>` in Ray namespace `vqdb` (replica.py, placement.py); the
server holds a ShardedCollection (sharded.py) with the methods a route calls on a Collection:
it routes writes by id hash or shard key (routing.py), fans reads out to one replica per shard
and merges them as one node would (merge.py), and brings a replica that died back (recovery in
sharded.py). Ray is an optional dependency (`pip install vqdb[cluster]`), imported only here,
and only once a Ray address is given.
"""

from __future__ import annotations

from typing import Any

NAMESPACE = "vqdb"


def ray_module() -> Any:
    """The ray package, or a clear error naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise RuntimeError(
            "distributed collections need Ray: pip install 'vqdb[cluster]' (or pip install ray)"
        ) from None
    return ray


def connect(address: str) -> Any:
    """Joins the Ray cluster at `address` ("auto", "host:port" or "ray://host:port") in vqdb's
    namespace, unless this process already has; returns the ray module."""
    ray = ray_module()
    if not ray.is_initialized():
        try:
            ray.init(address=address, namespace=NAMESPACE, log_to_driver=False)
        except (ConnectionError, ValueError, TimeoutError) as e:  # no cluster there
            raise RuntimeError(f"cannot join the Ray cluster at {address!r}: {e}") from None
    return ray
