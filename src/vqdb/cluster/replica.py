"""One replica of one shard: a whole Collection with its own storage folder, living in a Ray
actor (placement.py wraps this class with ray.remote, so this module never imports Ray).

The actor is made again by Ray when its process dies (max_restarts); its constructor then opens
the folder as a restarted server would (storage.open_collection: checkpoint + WAL replay), so it
serves every write it acknowledged. Writes it missed while it was down come from the router
(sharded.py) before it is read from again.

Every call answers ("ok", value) or ("error", exception): the exception is the engine's own
(BadInput, NotFound, ...), so the router raises exactly what a single node would have, without
Ray's wrapping and remote traceback.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vqdb.collection import facets, groups, info, query, reads, snapshots, storage
from vqdb.collection.collection import Collection
from vqdb.collection.config import CollectionConfig
from vqdb.collection.optimizer import Optimizer
from vqdb.collection.points import Points, WriteCondition
from vqdb.database import close_collection

Answer = tuple[str, Any]

# the reads a shard answers for the router, by name (the router merges their answers)
READS: dict[str, Callable[[Collection, Any], Any]] = {
    "query": query.query,
    "query_batch": query.query_batch,
    "search": query.search,
    "recommend": query.recommend,
    "query_groups": groups.query_groups,
    "scroll": reads.scroll,
    "count": reads.count,
    "retrieve": reads.retrieve,
    "facet": facets.facet,
}


def _answer(run: Callable[[], Any]) -> Answer:
    try:
        return ("ok", run())
    except Exception as e:  # the router re-raises it: the error a single node would give
        return ("error", e)


class Replica:
    def __init__(
        self, name: str, config: Mapping[str, Any], folder: str, options: Mapping[str, Any]
    ) -> None:
        """options: the server's `optimizer_threads` and `read_path` (storage.async_scorer)."""
        self.incarnation = uuid.uuid4().hex  # a new one after every restart
        path = Path(folder)
        if (path / storage.MANIFEST).exists():
            self.collection = storage.open_collection(path, options.get("read_path", "mmap"))
        else:
            if path.exists():
                shutil.rmtree(path)  # a leftover without a manifest: never acknowledged
            path.parent.mkdir(parents=True, exist_ok=True)
            parsed = CollectionConfig.from_json(dict(config))
            self.collection = storage.create(path, name, parsed, options.get("read_path", "mmap"))
        Optimizer(self.collection, options.get("optimizer_threads", 0)).wake()

    def ready(self) -> tuple[str, int, int]:
        """(incarnation, process id, last applied operation): that it is up, and which life."""
        return self.incarnation, os.getpid(), self.collection.applied_seq

    # ---- writes ------------------------------------------------------------------------------

    def write(self, method: str, body: Any, wait: bool) -> Answer:
        """Collection.<method>(body, wait=...), as a single node's route calls it."""
        return _answer(lambda: getattr(self.collection, method)(body, wait=wait))

    def upsert_points(self, points: Points, condition: WriteCondition | None, wait: bool) -> Answer:
        return _answer(
            lambda: self.collection.upsert_points(points, wait=wait, condition=condition)
        )

    def update_vectors(
        self, points: Points, condition: WriteCondition | None, wait: bool
    ) -> Answer:
        return _answer(
            lambda: self.collection.update_vectors_of(points, wait=wait, condition=condition)
        )

    def delete_payload_index(self, field: str, wait: bool) -> Answer:
        return _answer(lambda: self.collection.delete_payload_index(field, wait=wait))

    def update_config(self, config: Mapping[str, Any]) -> Answer:
        """The collection's config as the router now has it (update_collection, named vectors)."""

        def run() -> None:
            new = CollectionConfig.from_json(dict(config))
            c = self.collection
            with c.lock.write():
                if set(new.names) != set(c.config.names):
                    c.change_vectors(new)
                c.reconfigure(new)
                storage.checkpoint(c)
            if c.optimizer is not None:
                c.optimizer.wake()

        return _answer(run)

    # ---- reads -------------------------------------------------------------------------------

    def read(self, name: str, body: Any) -> Answer:
        return _answer(lambda: READS[name](self.collection, body))

    def info(self) -> Answer:
        return _answer(lambda: info.info(self.collection))

    def snapshot(self, folder: str, shard: int) -> Answer:
        """This shard's snapshot file, written into `folder` (shared with the router)."""
        return _answer(lambda: snapshots.take(self.collection, Path(folder), shard))

    # ---- lifecycle -----------------------------------------------------------------------------

    def close(self, remove: bool) -> Answer:
        def run() -> None:
            close_collection(self.collection)
            if remove and self.collection.path is not None:
                shutil.rmtree(self.collection.path, ignore_errors=True)

        return _answer(run)
