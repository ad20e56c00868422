"""What the client's arguments become on the way in (Qdrant JSON bodies), and what results
become on the way out (vqdb.models objects).

Arguments may be plain dicts, vqdb.models objects or qdrant-client's model objects: both model
families are generated from Qdrant's OpenAPI spec, so dumping either one by alias gives the JSON
the collection layer takes. Vectors are the exception: numpy arrays stay numpy, so nothing walks
them float by float.

    >>> from qdrant_client import models as qm
    >>> plain(qm.Filter(must=[qm.FieldCondition(key="k", match=qm.MatchValue(value=3))]))
    {'must': [{'key': 'k', 'match': {'value': 3}}]}
    >>> selector([1, 2])
    {'points': [1, 2]}
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel

from vqdb import models
from vqdb.errors import BadInput

PointId = int | str | uuid.UUID
# Arguments typed as a vqdb model also take qdrant-client's model of that name (another
# BaseModel) or its JSON as a dict.
Model = BaseModel | Mapping[str, Any]
Selector = Sequence[PointId] | models.Filter | models.PointIdsList | models.FilterSelector | Model
Json = dict[str, Any]

M = TypeVar("M", bound=BaseModel)

# queries that need a model vqdb does not have (a Document goes on: Qdrant's BM25, vqdb.bm25)
_UNSUPPORTED_QUERIES = ("Image", "InferenceObject")


_PLAIN = {bool, int, float, str}  # exact types: an Enum subclassing str is converted below


def plain(value: Any) -> Any:
    """JSON for a model, an enum or a UUID, also inside dicts and lists; numpy stays numpy."""
    if value is None or type(value) in _PLAIN:  # most values: no isinstance chain
        return value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def optional(**fields: Any) -> Json:
    """The fields that are set, as JSON: a body in which None means "not given"."""
    return {key: plain(value) for key, value in fields.items() if value is not None}


def selector(points: Any) -> Json:
    """A PointsSelector body from a list of ids, a Filter, PointIdsList or FilterSelector."""
    if isinstance(points, BaseModel):
        points = plain(points)
    elif isinstance(points, np.ndarray):
        return {"points": points.tolist()}
    elif isinstance(points, (list, tuple)):
        return {"points": [plain(p) for p in points]}
    if isinstance(points, Mapping):
        if "points" in points or "filter" in points:  # PointIdsList / FilterSelector
            return {k: points[k] for k in ("points", "filter") if k in points}
        return {"filter": points}  # a Filter
    raise BadInput(
        f"points must be a list of ids, a Filter, PointIdsList or FilterSelector, "
        f"got {type(points).__name__}"
    )


def insert_body(points: Any) -> Json:
    """A PointInsertOperations body from a Batch or a list of PointStruct."""
    if isinstance(points, BaseModel):
        points = plain(points)
    if isinstance(points, Mapping):
        if "points" in points or "batch" in points:
            return dict(points)
        return {"batch": points}  # a Batch as a dict
    if isinstance(points, (str, bytes)) or not isinstance(points, Sequence):
        raise BadInput(f"points must be a Batch or a list of points, got {type(points).__name__}")
    return {"points": [point(p) for p in points]}


def point(value: Any) -> Any:
    """A PointStruct (or PointVectors) as JSON; a dict's vectors are left as they are."""
    if isinstance(value, BaseModel):
        return plain(value)
    if isinstance(value, Mapping) and isinstance(value.get("id"), uuid.UUID):
        return {**value, "id": str(value["id"])}
    return value


def query_input(query: Any) -> Any:
    """The `query` of a QueryRequest: a vector (list or numpy), a point id, or a query object."""
    if isinstance(query, BaseModel):
        kind = type(query).__name__
        if kind in _UNSUPPORTED_QUERIES:
            raise BadInput(
                f"{kind} queries are not supported: vqdb's only model is Qdrant's BM25, for "
                "Documents"
            )
        if kind in _SIMPLE_QUERIES:
            return _simple(query)
        return plain(query)
    if isinstance(query, uuid.UUID):
        return str(query)
    if isinstance(query, Mapping):
        return plain(query)
    return query


# Queries made only of vectors, ids, enums and numbers: converted field by field, their vectors
# kept as the lists they are (the collection reads them natively). Formulas and order_by may
# hold datetimes, which pydantic's JSON mode writes: those go through plain().
_SIMPLE_QUERIES = {
    "SparseVector", "NearestQuery", "FusionQuery", "RrfQuery", "Rrf", "Mmr", "RecommendQuery",
    "RecommendInput", "DiscoverQuery", "DiscoverInput", "ContextQuery", "ContextPair",
    "SampleQuery",
}  # fmt: skip


def _simple(value: Any) -> Any:
    """model_dump(mode="json", by_alias=True, exclude_unset=True) for what a simple query
    holds, without walking a vector float by float."""
    if value is None or type(value) in _PLAIN:
        return value
    if isinstance(value, BaseModel):
        if type(value).__name__ == "SparseVector":  # two lists that pydantic checked already
            return {"indices": value.indices, "values": value.values}  # type: ignore[attr-defined]
        return _by_field(value, lambda name, v: _simple(v))
    if isinstance(value, list):
        if value and type(value[0]) is float:  # a vector: as it is, never walked
            return value
        if all(type(v) is int for v in value):  # point ids (a few), or an int vector
            return value
        return [_simple(v) for v in value]  # ids mixed with UUIDs, rows of a multivector
    if isinstance(value, dict):
        return {k: _simple(v) for k, v in value.items()}
    return plain(value)  # an enum, a UUID, a numpy array


def prefetch_input(prefetch: Any) -> Any:
    """A `prefetch` (one or a list, models or dicts) as JSON whose query vectors stay as given:
    dumping a model walks a vector float by float."""
    if isinstance(prefetch, (list, tuple)):
        return [prefetch_input(p) for p in prefetch]
    if not isinstance(prefetch, BaseModel) or not hasattr(prefetch, "query"):
        return plain(prefetch)
    return _by_field(prefetch, _prefetch_field)


def _prefetch_field(name: str, value: Any) -> Any:
    if name == "query":
        return query_input(value)
    return prefetch_input(value) if name == "prefetch" else plain(value)


def _by_field(model: BaseModel, convert: Callable[[str, Any], Any]) -> Json:
    """The fields set on `model`, by alias, each converted: what model_dump(mode="json",
    by_alias=True, exclude_unset=True) gives, where `convert` keeps vectors as they are
    (pydantic's serializer walks them, and cost more than the rest of converting a query)."""
    aliases = _aliases(type(model))
    values = model.__dict__
    return {aliases.get(name, name): convert(name, values[name]) for name in model.model_fields_set}


@functools.cache
def _aliases(cls: type[BaseModel]) -> dict[str, str]:
    """Each field's JSON name (the model classes are few, their fields fixed)."""
    return {name: field.alias or name for name, field in cls.model_fields.items()}


def query_request(request: Any) -> Json:
    """A QueryRequest of a batch: a model or a dict, its query converted as query_points does."""
    if isinstance(request, BaseModel):
        body: Json = prefetch_input(request)  # a QueryRequest: a prefetch's fields and more
        query = getattr(request, "query", None)
    else:
        body = {k: plain(v) for k, v in request.items() if k != "query"}
        query = request.get("query")
    if query is not None:
        body["query"] = query_input(query)
    return body


def result(model: type[M], data: Any) -> M:
    """A response as a vqdb.models object (the same class and fields as qdrant-client's)."""
    return model.model_validate(data)


def results(model: type[M], items: Sequence[Any]) -> list[M]:
    return [model.model_validate(item) for item in items]
