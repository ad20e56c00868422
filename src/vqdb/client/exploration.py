"""The client's methods for exploring a collection: facet counts of a payload key and the
distance matrix of a random sample (what Qdrant's documentation calls "Explore the data").

The arguments are checked by the request models, as qdrant-client's remote client checks them
(a limit of 0 or a sample of 1 is a pydantic ValidationError, a ValueError).

>>> import vqdb
>>> client = vqdb.Client(":memory:")
>>> client.create_collection("c", vectors_config={"size": 2, "distance": "Dot"})
True
>>> client.upload_collection(
...     "c", [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], ids=[1, 2, 3],
...     payload=[{"k": "a"}, {"k": ["a", "b"]}, {"k": "b"}],
... )
>>> client.create_payload_index("c", "k", "keyword").status.value
'completed'
>>> [(hit.value, hit.count) for hit in client.facet("c", "k").hits]
[('a', 2), ('b', 2)]
>>> [(p.a, p.b, p.score) for p in client.search_matrix_pairs("c", limit=1).pairs]
[(1, 3, 1.0), (2, 3, 1.0), (3, 1, 1.0)]
"""

from __future__ import annotations

from typing import Any

from vqdb import engine, models
from vqdb.client.base import ClientBase
from vqdb.client.convert import Model, plain, result
from vqdb.collection import facets, matrix


class ExplorationMethods(ClientBase):
    def facet(
        self,
        collection_name: str,
        key: str,
        facet_filter: models.Filter | Model | None = None,
        limit: int = 10,
        exact: bool = False,
        consistency: Any = None,
        timeout: int | None = None,
        shard_key_selector: Any = None,
    ) -> models.FacetResponse:
        """The values of `key` (which needs a keyword, integer, uuid or bool index) among the
        points matching the filter, each with how many points hold it, most first. Counts are
        always exact here, `exact` or not."""
        request = models.FacetRequest(key=key, filter=plain(facet_filter), limit=limit, exact=exact)
        body = request.model_dump(mode="json", by_alias=True, exclude_none=True)
        found = engine.read(facets.facet, self._collection(collection_name), body)
        return result(models.FacetResponse, found)

    def search_matrix_pairs(
        self,
        collection_name: str,
        query_filter: models.Filter | Model | None = None,
        limit: int = 3,
        sample: int = 10,
        using: str | None = None,
        consistency: Any = None,
        timeout: int | None = None,
        shard_key_selector: Any = None,
    ) -> models.SearchMatrixPairsResponse:
        """A random sample of `sample` points (with the vector `using`, matching the filter):
        each one's `limit` nearest among the sample, as (a, b, score) pairs in id order of a."""
        body = _matrix_body(query_filter, limit, sample, using)
        found = engine.read(matrix.pairs, self._collection(collection_name), body)
        return result(models.SearchMatrixPairsResponse, found)

    def search_matrix_offsets(
        self,
        collection_name: str,
        query_filter: models.Filter | Model | None = None,
        limit: int = 3,
        sample: int = 10,
        using: str | None = None,
        consistency: Any = None,
        timeout: int | None = None,
        shard_key_selector: Any = None,
    ) -> models.SearchMatrixOffsetsResponse:
        """search_matrix_pairs as a sparse matrix: the sampled ids, and row / column positions
        in them with the scores."""
        body = _matrix_body(query_filter, limit, sample, using)
        found = engine.read(matrix.offsets, self._collection(collection_name), body)
        return result(models.SearchMatrixOffsetsResponse, found)


def _matrix_body(query_filter: Any, limit: int, sample: int, using: str | None) -> dict[str, Any]:
    request = models.SearchMatrixRequest(
        filter=plain(query_filter), limit=limit, sample=sample, using=using, shard_key=None
    )
    return request.model_dump(mode="json", by_alias=True, exclude_none=True)
