"""The client's write methods: upsert and upload points, delete them, edit payloads and vectors.

Every write is checked whole before anything is written: a bad point fails the call and leaves
the collection as it was. `wait=False` skips only the sync of the log to disk; the write itself
is visible as soon as the call returns.

    >>> import vqdb
    >>> from vqdb import models
    >>> client = vqdb.Client(":memory:")
    >>> client.create_collection("c", vectors_config={"size": 2, "distance": "Dot"})
    True
    >>> client.upsert("c", [models.PointStruct(id=1, vector=[0.5, 1.0], payload={"k": 1})]).status
    <UpdateStatus.COMPLETED: 'completed'>
    >>> client.set_payload("c", {"seen": True}, points=[1]).status.value
    'completed'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from vqdb import models
from vqdb.client import upload
from vqdb.client.base import ClientBase
from vqdb.client.convert import (
    Json,
    Model,
    PointId,
    Selector,
    insert_body,
    optional,
    plain,
    point,
    result,
    results,
    selector,
)
from vqdb.collection.points import plain_write


class PointMethods(ClientBase):
    def upsert(
        self,
        collection_name: str,
        points: models.Batch | Sequence[models.PointStruct] | Model | Sequence[Model],
        wait: bool = True,
        ordering: Any = None,
        shard_key_selector: Any = None,
        update_filter: models.Filter | Model | None = None,
        update_mode: Any = None,
        timeout: int | None = None,
    ) -> models.UpdateResult:
        conditions = optional(update_filter=update_filter, update_mode=update_mode)
        body = {**insert_body(points), **conditions, **optional(shard_key=shard_key_selector)}
        done = self._collection(collection_name).upsert(body, wait=wait)
        return result(models.UpdateResult, done)

    def upload_points(
        self,
        collection_name: str,
        points: Iterable[models.PointStruct | Model],
        batch_size: int = 64,
        parallel: int = 1,
        method: str | None = None,
        max_retries: int = 3,
        wait: bool = False,
        shard_key_selector: Any = None,
        update_filter: models.Filter | Model | None = None,
        update_mode: Any = None,
        progress: bool | None = None,
    ) -> None:
        """progress: a tqdm bar on stderr; by default for 10k points or more on a terminal."""
        plain_write(optional(update_filter=update_filter, update_mode=update_mode))
        collection = self._collection(collection_name)
        upload.upload_points(collection, points, batch_size, wait, progress)

    def upload_collection(
        self,
        collection_name: str,
        vectors: np.ndarray[Any, Any] | Mapping[str, np.ndarray[Any, Any]] | Iterable[Any],
        payload: Iterable[dict[Any, Any]] | None = None,
        ids: Iterable[PointId] | None = None,
        batch_size: int = 64,
        parallel: int = 1,
        method: str | None = None,
        max_retries: int = 3,
        wait: bool = False,
        shard_key_selector: Any = None,
        update_filter: models.Filter | Model | None = None,
        update_mode: Any = None,
        progress: bool | None = None,
    ) -> None:
        """vectors: a matrix, a dict of name -> matrix, or an iterable of vectors (lists, numpy
        rows, or dicts of named vectors). ids default to random UUIDs, as in qdrant-client.
        progress: a tqdm bar on stderr; by default for 10k points or more on a terminal."""
        plain_write(optional(update_filter=update_filter, update_mode=update_mode))
        collection = self._collection(collection_name)
        if isinstance(vectors, np.ndarray) or (
            isinstance(vectors, Mapping)
            and vectors
            and all(isinstance(v, np.ndarray) for v in vectors.values())
        ):
            upload.upload_arrays(collection, vectors, ids, payload, batch_size, wait, progress)
        else:
            upload.upload_items(collection, vectors, ids, payload, batch_size, wait, progress)

    def delete(
        self,
        collection_name: str,
        points_selector: Selector,
        wait: bool = True,
        ordering: Any = None,
        shard_key_selector: Any = None,
        timeout: int | None = None,
    ) -> models.UpdateResult:
        return self._write(collection_name, "delete", selector(points_selector), wait)

    def set_payload(
        self,
        collection_name: str,
        payload: dict[str, Any],
        points: Selector,
        key: str | None = None,
        wait: bool = True,
        ordering: Any = None,
        shard_key_selector: Any = None,
        timeout: int | None = None,
    ) -> models.UpdateResult:
        """key: a path (`a.b`, `list[0].c`) into which the payload is set, instead of the top."""
        body = {"payload": payload, "key": key, **selector(points)}
        return self._write(collection_name, "set_payload", body, wait)

    def overwrite_payload(
        self,
        collection_name: str,
        payload: dict[str, Any],
        points: Selector,
        wait: bool = True,
        ordering: Any = None,
        shard_key_selector: Any = None,
        timeout: int | None = None,
    ) -> models.UpdateResult:
        body = {"payload": payload, **selector(points)}
        return self._write(collection_name, "overwrite_payload", body, wait)

    def delete_payload(
        self,
        collection_name: str,
        keys: Sequence[str],
        points: Selector,
        wait: bool = True,
        ordering: Any = None,
        shard_key_selector: Any = None,
        timeout: int | None = None,
    ) -> models.UpdateResult:
        body = {"keys": list(keys), **selector(points)}
        return self._write(collection_name, "delete_payload", body, wait)

    def clear_payload(
        self,
        collection_name: str,
        points_selector: Selector,
        wait: bool = True,
        ordering: Any = None,
        shard_key_selector: Any = None,
        timeout: int | None = None,
    ) -> models.UpdateResult:
        return self._write(collection_name, "clear_payload", selector(points_selector), wait)

    def update_vectors(
        self,
        collection_name: str,
        points: Sequence[models.PointVectors | Model],
        wait: bool = True,
        ordering: Any = None,
        shard_key_selector: Any = None,
        update_filter: models.Filter | Model | None = None,
        timeout: int | None = None,
    ) -> models.UpdateResult:
        """New vectors for existing points (the ones not given are kept, and the payload)."""
        body = {"points": [point(p) for p in points], **optional(update_filter=update_filter)}
        return self._write(collection_name, "update_vectors", body, wait)

    def delete_vectors(
        self,
        collection_name: str,
        vectors: Sequence[str],
        points: Selector,
        wait: bool = True,
        ordering: Any = None,
        shard_key_selector: Any = None,
        timeout: int | None = None,
    ) -> models.UpdateResult:
        body = {"vector": list(vectors), **selector(points)}
        return self._write(collection_name, "delete_vectors", body, wait)

    def batch_update_points(
        self,
        collection_name: str,
        update_operations: Sequence[models.UpdateOperation | Model],
        wait: bool = True,
        ordering: Any = None,
        timeout: int | None = None,
    ) -> list[models.UpdateResult]:
        """Operations apply in order; one that fails stops the batch there (Qdrant's too)."""
        operations = [plain(op) for op in update_operations]
        done = self._collection(collection_name).batch(operations, wait=wait)
        return results(models.UpdateResult, done)

    def _write(
        self, collection_name: str, method: str, body: Json, wait: bool
    ) -> models.UpdateResult:
        done: Json = getattr(self._collection(collection_name), method)(body, wait=wait)
        return result(models.UpdateResult, done)
