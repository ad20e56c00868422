"""A Ray cluster of several nodes on this machine (a head and worker processes), for tests and
benchmarks: every port Ray opens is fixed, from `first_port` on (44 of them for 3 nodes), and
each node offers `cpus` CPUs (replicas reserve none, see placement.py).

    with LocalCluster(nodes=3) as cluster:
        vqdb serve --ray-address {cluster.address}
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from vqdb.cluster import ray_module

_FIXED = 6  # node manager, object manager, metrics export, metrics agent, agent, runtime env


class LocalCluster:
    def __init__(self, nodes: int = 3, cpus: int = 1, first_port: int = 6600) -> None:
        ray_module()
        cluster_utils = import_module("ray.cluster_utils")  # untyped: kept as Any

        self._next = first_port + 2  # the GCS and the Ray client server come first
        head = {
            "num_cpus": cpus,
            "include_dashboard": False,
            "gcs_server_port": first_port,
            "ray_client_server_port": first_port + 1,
            **self._ports(workers=10),
        }
        self._cluster = cluster_utils.Cluster(initialize_head=True, head_node_args=head)
        try:
            for i in range(nodes - 1):
                self._cluster.add_node(num_cpus=cpus, **self._ports(10 if i == 0 else 8))
            self._cluster.wait_for_nodes()
        except BaseException:
            self._cluster.shutdown()
            raise
        self.address: str = self._cluster.address  # host:port of the GCS

    def _ports(self, workers: int) -> dict[str, Any]:
        """One node's ports; `workers`: how many processes (actors, drivers) it may hold."""
        base = self._next
        self._next += _FIXED + workers
        return {
            "node_manager_port": base,
            "object_manager_port": base + 1,
            "metrics_export_port": base + 2,
            "metrics_agent_port": base + 3,
            "dashboard_agent_listen_port": base + 4,
            "runtime_env_agent_port": base + 5,
            "min_worker_port": base + _FIXED,
            "max_worker_port": base + _FIXED + workers - 1,
        }

    def shutdown(self) -> None:
        ray = ray_module()
        if ray.is_initialized():
            ray.shutdown()
        self._cluster.shutdown()

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
