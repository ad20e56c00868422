"""The client's read methods: retrieve by id, scroll, count, and the Query API.

>>> import vqdb
>>> client = vqdb.Client(":memory:")
>>> client.create_collection("c", vectors_config={"size": 2, "distance": "Euclid"})
True
>>> client.upload_collection("c", [[0.0, 0.0], [1.0, 1.0]], ids=[1, 2], payload=[{"k": 1}] * 2)
>>> [p.score for p in client.query_points("c", [0.0, 1.0], with_payload=False).points]
[1.0, 1.0]
>>> records, next_offset = client.scroll("c", limit=1)
>>> next_offset
2
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vqdb import engine, models
from vqdb.client.base import ClientBase
from vqdb.client.convert import (
    Model,
    PointId,
    optional,
    plain,
    prefetch_input,
    query_input,
    query_request,
    result,
    results,
)
from vqdb.collection import query as search
from vqdb.collection import reads

WithPayload = bool | Sequence[str] | models.PayloadSelectorInclude | models.PayloadSelectorExclude
WithVectors = bool | Sequence[str]


class ReadMethods(ClientBase):
    def retrieve(
        self,
        collection_name: str,
        ids: Sequence[PointId],
        with_payload: WithPayload | Model = True,
        with_vectors: WithVectors = False,
        consistency: Any = None,
        shard_key_selector: Any = None,
        timeout: int | None = None,
    ) -> list[models.Record]:
        """The points that exist among `ids`, in the order asked; missing ids are skipped."""
        body = {"ids": plain(list(ids)), "with_payload": plain(with_payload)}
        body["with_vector"] = plain(with_vectors)
        return results(
            models.Record, engine.read(reads.retrieve, self._collection(collection_name), body)
        )

    def scroll(
        self,
        collection_name: str,
        scroll_filter: models.Filter | Model | None = None,
        limit: int = 10,
        order_by: str | models.OrderBy | Model | None = None,
        offset: PointId | None = None,
        with_payload: WithPayload | Model = True,
        with_vectors: WithVectors = False,
        consistency: Any = None,
        shard_key_selector: Any = None,
        timeout: int | None = None,
    ) -> tuple[list[models.Record], PointId | None]:
        """A page of points in id order, and the id the next page starts at (None: the end).
        With order_by (a key with an integer, float or datetime index, or an OrderBy): in the
        order of its values, with each record's order_value, and no next page (page with
        start_from and a filter on the ids seen, as in Qdrant)."""
        body = optional(
            filter=scroll_filter,
            limit=limit,
            order_by=order_by,
            offset=offset,
            with_payload=with_payload,
            with_vector=with_vectors,
            shard_key=shard_key_selector,  # a distributed collection's shards of these keys
        )
        page = engine.read(reads.scroll, self._collection(collection_name), body)
        return results(models.Record, page["points"]), page["next_page_offset"]

    def count(
        self,
        collection_name: str,
        count_filter: models.Filter | Model | None = None,
        exact: bool = True,
        shard_key_selector: Any = None,
        timeout: int | None = None,
    ) -> models.CountResult:
        """Always exact: counting is a pass over the filter's masks."""
        # strict mode may refuse exact counts
        body = optional(filter=count_filter, exact=exact, shard_key=shard_key_selector)
        found = engine.read(reads.count, self._collection(collection_name), body)
        return result(models.CountResult, found)

    def query_points(
        self,
        collection_name: str,
        query: Any = None,
        using: str | None = None,
        prefetch: Any = None,
        query_filter: models.Filter | Model | None = None,
        search_params: models.SearchParams | Model | None = None,
        limit: int = 10,
        offset: int | None = None,
        with_payload: WithPayload | Model = True,
        with_vectors: WithVectors = False,
        score_threshold: float | None = None,
        lookup_from: Any = None,
        consistency: Any = None,
        shard_key_selector: Any = None,
        timeout: int | None = None,
    ) -> models.QueryResponse:
        """query: a vector (list or numpy array), a point id (its vector; the point itself is
        left out, unless lookup_from names another collection to take it from), a query model
        or its dict (nearest, recommend, discover, context, fusion, order_by, sample), or None
        for points in id order."""
        body = optional(
            using=using,
            filter=query_filter,
            params=search_params,
            limit=limit,
            offset=offset,
            with_payload=with_payload,
            with_vector=with_vectors,
            score_threshold=score_threshold,
            lookup_from=lookup_from,
            shard_key=shard_key_selector,
        )
        if query is not None:
            body["query"] = query_input(query)
        if prefetch is not None:  # after optional(), which would walk its vectors
            body["prefetch"] = prefetch_input(prefetch)
        found = engine.read(search.query, self._collection(collection_name), body, self._others)
        return result(models.QueryResponse, found)

    def query_batch_points(
        self,
        collection_name: str,
        requests: Sequence[models.QueryRequest | Model],
        consistency: Any = None,
        timeout: int | None = None,
    ) -> list[models.QueryResponse]:
        searches = [query_request(request) for request in requests]
        batch = {"searches": searches}
        found = engine.read(
            search.query_batch, self._collection(collection_name), batch, self._others
        )
        return results(models.QueryResponse, found)
