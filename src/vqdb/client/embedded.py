"""vqdb.Client: vqdb in process, with qdrant-client's method names, arguments and return types.

Code written for `QdrantClient(":memory:")` or `QdrantClient(path=...)` runs on vqdb by changing
the import; the methods are grouped in collections.py, points.py, reads.py, groups.py and
exploration.py. Options that only mean something to a cluster (consistency, shard keys,
ordering, timeouts, parallel uploads, retries) are accepted and ignored; an option that would
change results and that vqdb does not support raises ValueError.

    >>> import vqdb
    >>> with vqdb.Client(":memory:") as client:
    ...     client.create_collection("c", vectors_config={"size": 3, "distance": "Cosine"})
    ...     client.upsert("c", [{"id": 1, "vector": [1.0, 0.0, 0.0], "payload": {"k": "a"}}])
    ...     hits = client.query_points("c", [1.0, 0.1, 0.0], limit=1).points
    True
    UpdateResult(operation_id=1, status=<UpdateStatus.COMPLETED: 'completed'>)
    >>> [(h.score > 0.99, h.model_dump()["payload"]) for h in hits]
    [(True, {'k': 'a'})]
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from vqdb.client.advice import AdviceMethods
from vqdb.client.collections import CollectionMethods
from vqdb.client.exploration import ExplorationMethods
from vqdb.client.groups import GroupMethods
from vqdb.client.points import PointMethods
from vqdb.client.reads import ReadMethods
from vqdb.database import Database

# QdrantClient options that only concern a connection to a server: meaningless in process.
_CONNECTION_OPTIONS = {
    "port",
    "grpc_port",
    "prefer_grpc",
    "https",
    "prefix",
    "timeout",
    "grpc_options",
    "pool_size",
    "check_compatibility",
    "force_disable_check_same_thread",
    "cloud_inference",
    "local_inference_batch_size",
}
_SERVER_OPTIONS = {"url", "host", "api_key", "auth_token_provider"}


class Client(
    CollectionMethods,
    PointMethods,
    ReadMethods,
    GroupMethods,
    ExplorationMethods,
    AdviceMethods,
):
    """Client(":memory:") keeps everything in memory; Client(path="./storage") stores it there
    (one client per folder at a time). optimizer_threads: threads per collection for building
    indexes in the background (0: as many as the machine has). async_scorer: rescore on-disk
    originals through io_uring where they are not in the page cache (see vqdb.Database)."""

    def __init__(
        self,
        location: str | None = None,
        *,
        path: str | Path | None = None,
        optimizer_threads: int = 0,
        async_scorer: bool | str = False,
        ray_address: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._closed = True  # until the database is open, so close() has nothing to do
        server = sorted(k for k in kwargs if k in _SERVER_OPTIONS and kwargs[k] is not None)
        if server or (location not in (None, ":memory:")):
            given = server[0] if server else f"location={location!r}"
            raise ValueError(
                f"vqdb.Client runs in process ({given} names a server): use Client(':memory:') "
                "or Client(path=...), or qdrant_client.QdrantClient against `vqdb serve`"
            )
        unknown = sorted(set(kwargs) - _CONNECTION_OPTIONS - _SERVER_OPTIONS)
        if unknown:
            raise TypeError(f"Client() got unexpected argument(s): {', '.join(unknown)}")
        if location is not None and path is not None:
            raise ValueError("give either location=':memory:' or path, not both")
        self._db = Database(
            path,
            optimizer_threads=optimizer_threads,
            async_scorer=async_scorer,
            ray_address=ray_address,
        )
        # A client dropped without close(), or alive at exit, still checkpoints, stops its
        # optimizers and releases its folder: at interpreter exit this runs before teardown.
        self._release = weakref.finalize(self, self._db.close)
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self, grpc_grace: float | None = None) -> None:
        """Checkpoints every collection and releases the storage folder; idempotent."""
        if not self._closed:
            self._closed = True
            self._release()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
