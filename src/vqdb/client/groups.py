"""The client's group searches: query_points_groups, and the legacy search_groups and
recommend_groups (gone from qdrant-client 1.16, kept with their 1.15 signatures).

>>> import vqdb
>>> client = vqdb.Client(":memory:")
>>> client.create_collection("c", vectors_config={"size": 2, "distance": "Dot"})
True
>>> client.upload_collection(
...     "c", [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], ids=[1, 2, 3],
...     payload=[{"doc": "a"}, {"doc": "a"}, {"doc": "b"}],
... )
>>> found = client.query_points_groups("c", "doc", [1.0, 0.0], group_size=2, with_payload=False)
>>> [(g.id, [h.id for h in g.hits]) for g in found.groups]
[('a', [1, 2]), ('b', [3])]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vqdb import engine, models
from vqdb.client.base import ClientBase
from vqdb.client.convert import Model, optional, plain, prefetch_input, query_input, result
from vqdb.collection import groups


class GroupMethods(ClientBase):
    def query_points_groups(
        self,
        collection_name: str,
        group_by: str,
        query: Any = None,
        using: str | None = None,
        prefetch: Any = None,
        query_filter: models.Filter | Model | None = None,
        search_params: models.SearchParams | Model | None = None,
        limit: int = 10,
        group_size: int = 3,
        with_payload: Any = True,
        with_vectors: bool | Sequence[str] = False,
        score_threshold: float | None = None,
        with_lookup: str | models.WithLookup | Model | None = None,
        lookup_from: models.LookupLocation | Model | None = None,
        consistency: Any = None,
        shard_key_selector: Any = None,
        timeout: int | None = None,
    ) -> models.GroupsResult:
        """The best `limit` groups of points sharing a value of the payload key `group_by`,
        `group_size` hits each; `query` as query_points takes it."""
        body = optional(
            using=using,
            filter=query_filter,
            params=search_params,
            limit=limit,
            group_by=group_by,
            group_size=group_size,
            with_payload=with_payload,
            with_vector=with_vectors,
            score_threshold=score_threshold,
            with_lookup=with_lookup,
            lookup_from=lookup_from,
        )
        if query is not None:
            body["query"] = query_input(query)
        if prefetch is not None:  # after optional(), which would walk its vectors
            body["prefetch"] = prefetch_input(prefetch)
        found = engine.read(
            groups.query_groups, self._collection(collection_name), body, self._others
        )
        return result(models.GroupsResult, found)

    def search_groups(
        self,
        collection_name: str,
        query_vector: Any,
        group_by: str,
        query_filter: models.Filter | Model | None = None,
        search_params: models.SearchParams | Model | None = None,
        limit: int = 10,
        group_size: int = 1,
        with_payload: Any = True,
        with_vectors: bool | Sequence[str] = False,
        score_threshold: float | None = None,
        with_lookup: str | models.WithLookup | Model | None = None,
        consistency: Any = None,
        shard_key_selector: Any = None,
        timeout: int | None = None,
    ) -> models.GroupsResult:
        """query_vector: a vector (list or numpy), (name, vector), a NamedVector or a
        NamedSparseVector."""
        if isinstance(query_vector, tuple):
            name, vector = query_vector
            query_vector = {"name": name, "vector": plain(vector)}
        body = optional(
            filter=query_filter,
            params=search_params,
            limit=limit,
            group_by=group_by,
            group_size=group_size,
            with_payload=with_payload,
            with_vector=with_vectors,
            score_threshold=score_threshold,
            with_lookup=with_lookup,
        )
        body["vector"] = plain(query_vector)
        found = engine.read(
            groups.search_groups, self._collection(collection_name), body, self._others
        )
        return result(models.GroupsResult, found)

    def recommend_groups(
        self,
        collection_name: str,
        group_by: str,
        positive: Sequence[Any] | None = None,
        negative: Sequence[Any] | None = None,
        query_filter: models.Filter | Model | None = None,
        search_params: models.SearchParams | Model | None = None,
        limit: int = 10,
        group_size: int = 1,
        score_threshold: float | None = None,
        with_payload: Any = True,
        with_vectors: bool | Sequence[str] = False,
        using: str | None = None,
        lookup_from: models.LookupLocation | Model | None = None,
        with_lookup: str | models.WithLookup | Model | None = None,
        strategy: models.RecommendStrategy | str | None = None,
        consistency: Any = None,
        shard_key_selector: Any = None,
        timeout: int | None = None,
    ) -> models.GroupsResult:
        """Examples are point ids or vectors, as in a RecommendQuery."""
        body = optional(
            positive=None if positive is None else [query_input(p) for p in positive],
            negative=None if negative is None else [query_input(n) for n in negative],
            strategy=strategy,
            filter=query_filter,
            params=search_params,
            limit=limit,
            group_by=group_by,
            group_size=group_size,
            with_payload=with_payload,
            with_vector=with_vectors,
            score_threshold=score_threshold,
            using=using,
            lookup_from=lookup_from,
            with_lookup=with_lookup,
        )
        found = engine.read(
            groups.recommend_groups, self._collection(collection_name), body, self._others
        )
        return result(models.GroupsResult, found)
