"""The client's collection methods: create, inspect, update and delete collections, their payload
indexes and their snapshots.

    >>> import vqdb
    >>> from vqdb import models
    >>> client = vqdb.Client(":memory:")
    >>> client.create_collection(
    ...     "docs",
    ...     vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE),
    ...     quantization_config={"scalar": {"type": "int8"}},
    ... )
    True
    >>> client.get_collection("docs").points_count
    0
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from vqdb import engine, full_snapshots, models
from vqdb.client.base import ClientBase
from vqdb.client.convert import Json, Model, optional, plain, result, results
from vqdb.collection import info, snapshots
from vqdb.errors import BadInput


class CollectionMethods(ClientBase):
    def create_collection(
        self,
        collection_name: str,
        vectors_config: models.VectorParams
        | Mapping[str, models.VectorParams]
        | Model
        | None = None,
        sparse_vectors_config: Mapping[str, Any] | None = None,
        shard_number: int | None = None,
        sharding_method: Any = None,
        replication_factor: int | None = None,
        write_consistency_factor: int | None = None,
        on_disk_payload: bool | None = None,
        hnsw_config: models.HnswConfigDiff | Model | None = None,
        optimizers_config: models.OptimizersConfigDiff | Model | None = None,
        wal_config: models.WalConfigDiff | Model | None = None,
        quantization_config: models.ScalarQuantization
        | models.ProductQuantization
        | models.BinaryQuantization
        | Model
        | None = None,
        timeout: int | None = None,
        strict_mode_config: models.StrictModeConfig | Model | None = None,
        metadata: dict[str, Any] | None = None,
        payload: models.PayloadStorageParams | Model | None = None,
    ) -> bool:
        body = optional(
            vectors=vectors_config,
            sparse_vectors=sparse_vectors_config,
            shard_number=shard_number,
            sharding_method=sharding_method,
            replication_factor=replication_factor,
            write_consistency_factor=write_consistency_factor,
            on_disk_payload=on_disk_payload,
            hnsw_config=hnsw_config,
            optimizers_config=optimizers_config,
            wal_config=wal_config,
            quantization_config=quantization_config,
            strict_mode_config=strict_mode_config,
            metadata=metadata,
            payload=payload,
        )
        self._database.create_collection(collection_name, body)
        return True

    def recreate_collection(self, collection_name: str, *args: Any, **kwargs: Any) -> bool:
        """Deprecated in qdrant-client: delete_collection, then create_collection."""
        warnings.warn(
            "`recreate_collection` is deprecated: use `collection_exists` and "
            "`delete_collection`, then `create_collection`",
            DeprecationWarning,
            stacklevel=2,
        )
        self.delete_collection(collection_name)
        return self.create_collection(collection_name, *args, **kwargs)

    def get_collection(self, collection_name: str) -> models.CollectionInfo:
        return result(
            models.CollectionInfo, engine.call(info.info, self._collection(collection_name), "info")
        )

    def collection_telemetry(self, collection_name: str) -> dict[str, Any]:
        """vqdb only (qdrant-client has no such method): how each segment reads its vectors,
        e.g. whether rescoring goes through io_uring (see vqdb.collection.info.telemetry)."""
        return info.telemetry(self._collection(collection_name))

    def get_collections(self) -> models.CollectionsResponse:
        names = self._database.collection_names()
        return models.CollectionsResponse(
            collections=[models.CollectionDescription(name=name) for name in names]
        )

    def collection_exists(self, collection_name: str) -> bool:
        return self._database.exists(collection_name)

    def create_vector_name(
        self,
        collection_name: str,
        vector_name: str,
        vector_name_config: models.VectorNameConfig | Model | Mapping[str, Any],
        wait: bool = True,
        ordering: Any = None,
        timeout: int | None = None,
    ) -> models.UpdateResult:
        """A new named vector ({"dense": {size, distance}} or {"sparse": {}}), empty at first."""
        spec = plain(vector_name_config)
        return _update(self._database.create_vector(collection_name, vector_name, spec))

    def delete_vector_name(
        self,
        collection_name: str,
        vector_name: str,
        wait: bool = True,
        ordering: Any = None,
        timeout: int | None = None,
    ) -> models.UpdateResult:
        """The named vector leaves the collection's config and every point."""
        return _update(self._database.delete_vector(collection_name, vector_name))

    def update_collection(
        self,
        collection_name: str,
        optimizers_config: models.OptimizersConfigDiff | Model | None = None,
        collection_params: models.CollectionParamsDiff | Model | None = None,
        vectors_config: Mapping[str, models.VectorParamsDiff] | Model | None = None,
        hnsw_config: models.HnswConfigDiff | Model | None = None,
        quantization_config: models.ScalarQuantization
        | models.ProductQuantization
        | models.BinaryQuantization
        | models.Disabled
        | Model
        | str
        | None = None,
        timeout: int | None = None,
        sparse_vectors_config: Mapping[str, Any] | None = None,
        strict_mode_config: models.StrictModeConfig | Model | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> bool:
        """Changes apply at once; segments built the old way are rebuilt in the background."""
        diff = optional(
            optimizers_config=optimizers_config,
            params=collection_params,
            vectors=vectors_config,
            hnsw_config=hnsw_config,
            quantization_config=quantization_config,
            sparse_vectors=sparse_vectors_config,
            strict_mode_config=strict_mode_config,
            metadata=metadata,
        )
        self._database.update_collection(collection_name, diff)
        return True

    def delete_collection(self, collection_name: str, timeout: int | None = None) -> bool:
        return self._database.delete_collection(collection_name)

    # ---- aliases ----------------------------------------------------------------------------

    def update_collection_aliases(
        self, change_aliases_operations: Sequence[Model | Mapping[str, Any]], timeout: Any = None
    ) -> bool:
        """create_alias / delete_alias / rename_alias operations, applied all or none."""
        self._database.update_aliases([plain(op) for op in change_aliases_operations])
        return True

    def get_aliases(self) -> models.CollectionsAliasesResponse:
        return result(models.CollectionsAliasesResponse, {"aliases": self._database.aliases()})

    def get_collection_aliases(self, collection_name: str) -> models.CollectionsAliasesResponse:
        found = self._database.aliases(collection_name)
        return result(models.CollectionsAliasesResponse, {"aliases": found})

    # ---- payload indexes --------------------------------------------------------------------

    def create_payload_index(
        self,
        collection_name: str,
        field_name: str,
        field_schema: models.PayloadSchemaType | Model | str | None = None,
        field_type: models.PayloadSchemaType | Model | str | None = None,
        wait: bool = True,
        ordering: Any = None,
        timeout: int | None = None,
    ) -> models.UpdateResult:
        """field_type is qdrant-client's older name for field_schema."""
        schema = plain(field_schema if field_schema is not None else field_type)
        body = {"field_name": field_name, "field_schema": schema}
        return _update(self._collection(collection_name).create_payload_index(body, wait=wait))

    def delete_payload_index(
        self,
        collection_name: str,
        field_name: str,
        wait: bool = True,
        ordering: Any = None,
        timeout: int | None = None,
    ) -> models.UpdateResult:
        return _update(
            self._collection(collection_name).delete_payload_index(field_name, wait=wait)
        )

    # ---- shards (distributed collections: Client(ray_address=...)) ---------------------------

    def collection_cluster_info(self, collection_name: str) -> models.CollectionClusterInfo:
        found = engine.call(info.cluster_info, self._collection(collection_name), "cluster_info")
        return result(models.CollectionClusterInfo, found)

    def create_shard_key(
        self,
        collection_name: str,
        shard_key: int | str,
        shards_number: int | None = None,
        replication_factor: int | None = None,
        placement: list[int] | None = None,
        **kwargs: Any,
    ) -> bool:
        body = optional(
            shard_key=shard_key, shards_number=shards_number, replication_factor=replication_factor
        )
        return bool(_distributed(self._collection(collection_name)).create_shard_key(body))

    def delete_shard_key(self, collection_name: str, shard_key: int | str, **kwargs: Any) -> bool:
        collection = _distributed(self._collection(collection_name))
        return bool(collection.delete_shard_key({"shard_key": shard_key}))

    def list_shard_keys(self, collection_name: str, **kwargs: Any) -> models.ShardKeysResponse:
        found = engine.call(
            lambda _: {"shard_keys": None}, self._collection(collection_name), "shard_keys"
        )
        return result(models.ShardKeysResponse, found)

    # ---- snapshots (need a client with a path) ----------------------------------------------

    def create_snapshot(
        self, collection_name: str, wait: bool = True
    ) -> models.SnapshotDescription:
        return result(models.SnapshotDescription, snapshots.create(self._database, collection_name))

    def list_snapshots(self, collection_name: str) -> list[models.SnapshotDescription]:
        found = snapshots.list_snapshots(self._database, collection_name)
        return results(models.SnapshotDescription, found)

    def delete_snapshot(self, collection_name: str, snapshot_name: str, wait: bool = True) -> bool:
        return snapshots.delete(self._database, collection_name, snapshot_name)

    def recover_snapshot(
        self,
        collection_name: str,
        location: str,
        api_key: str | None = None,
        checksum: str | None = None,
        priority: Any = None,
        wait: bool = True,
    ) -> bool:
        """location: a snapshot file's path, a file:// URL or an http(s) URL (another server's
        snapshot download, under snapshots.Downloads' default limits); replaces the collection
        if it exists. The snapshot's own checksum list is always verified; `checksum` (the
        whole file's sha256) is needed for snapshots taken before it existed.
        priority only matters between replicas of a cluster, so it is ignored."""
        return snapshots.recover(
            self._database, collection_name, location, checksum=checksum, api_key=api_key
        )

    def create_shard_snapshot(
        self, collection_name: str, shard_id: int, wait: bool = True
    ) -> models.SnapshotDescription:
        """A collection is one shard, 0: its shard snapshot is a collection snapshot, kept
        apart (Qdrant's shard snapshots)."""
        taken = snapshots.create(self._database, collection_name, shard=shard_id)
        return result(models.SnapshotDescription, taken)

    def list_shard_snapshots(
        self, collection_name: str, shard_id: int
    ) -> list[models.SnapshotDescription]:
        found = snapshots.list_snapshots(self._database, collection_name, shard=shard_id)
        return results(models.SnapshotDescription, found)

    def delete_shard_snapshot(
        self, collection_name: str, shard_id: int, snapshot_name: str, wait: bool = True
    ) -> bool:
        return snapshots.delete(self._database, collection_name, snapshot_name, shard=shard_id)

    def recover_shard_snapshot(
        self,
        collection_name: str,
        shard_id: int,
        location: str,
        api_key: str | None = None,
        checksum: str | None = None,
        priority: Any = None,
        wait: bool = True,
    ) -> bool:
        """location: an http(s) URL or the name of one of the shard's snapshots, as Qdrant
        takes it; the collection must exist. priority is ignored (see recover_snapshot)."""
        return snapshots.recover_shard(
            self._database,
            collection_name,
            shard_id,
            location,
            checksum=checksum,
            api_key=api_key,
        )

    def create_full_snapshot(self, wait: bool = True) -> models.SnapshotDescription:
        """Every collection and alias in one file (full_snapshots.py)."""
        return result(models.SnapshotDescription, full_snapshots.create(self._database))

    def list_full_snapshots(self) -> list[models.SnapshotDescription]:
        return results(models.SnapshotDescription, full_snapshots.list_snapshots(self._database))

    def delete_full_snapshot(self, snapshot_name: str, wait: bool = True) -> bool:
        return full_snapshots.delete(self._database, snapshot_name)


def _update(done: Json) -> models.UpdateResult:
    return result(models.UpdateResult, done)


def _distributed(collection: Any) -> Any:
    if engine.local(collection):
        raise BadInput("Bad request: Shard key is only supported with custom sharding")
    return collection
