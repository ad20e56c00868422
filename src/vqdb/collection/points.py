"""Points as requests bring them, checked against the collection and made columnar.

Qdrant takes points as a list (`{"points": [{"id", "vector", "payload"}]}`) or as columns
(`{"batch": {"ids", "vectors", "payloads"}}`); a vector is a list of floats, or a map of names to
vectors for collections with named (or sparse) vectors, where a sparse vector is
`{"indices": [...], "values": [...]}`. Both shapes become one `Points` batch: ids, one float32
matrix (dense) or CSR batch (sparse) per vector name, payloads. Everything is checked before
anything is written, so a bad point fails the whole request with a message naming it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb import bm25
from vqdb.collection.config import CollectionConfig
from vqdb.errors import BadInput, OutOfRange, coded, invalid
from vqdb.filters import Filter, parse_filter
from vqdb.index.multi_vectors import MultiVectors
from vqdb.index.sparse_vectors import SparseVectors
from vqdb.index.stores import VectorBatch
from vqdb.segment.ids import PointId, point_id

Rows = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float32]
Payload = dict[str, Any]


@dataclass
class Points:
    ids: list[PointId]
    vectors: dict[str, tuple[Rows | None, VectorBatch]]  # name -> (which points, None: all)
    payloads: list[Payload | None] | None = None

    def __len__(self) -> int:
        return len(self.ids)


def parse_points(body: Mapping[str, Any], config: CollectionConfig) -> Points:
    """A PointInsertOperations body: {"points": [...]} or {"batch": {...}}."""
    if not isinstance(body, Mapping):
        raise BadInput("expected an object with 'points' or 'batch'")
    if body.get("points") is not None:
        return _from_list(body["points"], config)
    if body.get("batch") is not None:
        return _from_batch(body["batch"], config)
    raise BadInput("expected 'points' (a list of points) or 'batch' (columns)")


def _from_list(points: Any, config: CollectionConfig) -> Points:
    if not isinstance(points, Sequence) or isinstance(points, (str, bytes)):
        raise BadInput("'points' must be a list of points")
    ids: list[PointId] = []
    payloads: list[Any] = []
    columns: dict[str, tuple[list[int], list[Any]]] = {}
    for i, point in enumerate(points):
        if not isinstance(point, Mapping) or "id" not in point:
            raise BadInput(f"points[{i}]: a point needs an 'id' and a 'vector'")
        ids.append(point_id(point["id"], f"points[{i}].id"))
        payloads.append(point.get("payload"))
        vector = point.get("vector")
        if vector is None:
            raise BadInput(f"points[{i}]: a point needs a 'vector'")
        for name, value in _named(vector, config, f"points[{i}].vector").items():
            columns.setdefault(name, ([], []))
            columns[name][0].append(i)
            columns[name][1].append(value)
    vectors = {
        name: _column(rows, values, len(ids), name, config)
        for name, (rows, values) in columns.items()
    }
    return _checked(Points(ids, vectors, payloads_of(payloads, "points[].payload")))


def _from_batch(batch: Any, config: CollectionConfig) -> Points:
    if not isinstance(batch, Mapping) or "ids" not in batch or "vectors" not in batch:
        raise BadInput("'batch' needs 'ids' and 'vectors'")
    ids = [point_id(v, f"batch.ids[{i}]") for i, v in enumerate(batch["ids"])]
    vectors = batch["vectors"]
    named = {str(k): v for k, v in vectors.items()} if isinstance(vectors, Mapping) else None
    where = "batch.vectors" if named is None else "batch.vectors.?"
    columns = {
        name: [_validated(v, name, config, f"{where}[{j}]") for j, v in enumerate(matrix)]
        if isinstance(matrix, list)
        else matrix
        for name, matrix in (named or {"": vectors}).items()
    }
    if named is not None and not config.named and not set(named) <= {"", *config.sparse_vectors}:
        raise BadInput("this collection has one unnamed vector: 'vectors' must be a list")
    batches: dict[str, tuple[Rows | None, VectorBatch]] = {}
    for name, matrix in columns.items():
        _vector_config(name, config)
        values = _values(matrix, name, config, "batch.vectors")
        if len(values) != len(ids):
            raise BadInput(f"batch has {len(ids)} ids but {len(values)} vectors")
        batches[name] = (None, values)
    raw = batch.get("payloads")
    if raw is not None and len(raw) != len(ids):
        raise BadInput(f"batch has {len(ids)} ids but {len(raw)} payloads")
    payloads = None if raw is None else payloads_of(raw, "batch.payloads")
    return _checked(Points(ids, batches, payloads))


def parse_vectors(body: Any, config: CollectionConfig) -> Points:
    """An UpdateVectors body: {"points": [{"id", "vector"}]}; the points keep their payloads."""
    if not isinstance(body, Mapping) or not isinstance(body.get("points"), Sequence):
        raise BadInput("expected {'points': [{'id': ..., 'vector': ...}]}")
    points = _from_list(_merged_by_id(body["points"]), config)
    points.payloads = None
    return points


def _merged_by_id(points: Sequence[Any]) -> list[Any]:
    """One entry per id, its named vectors merged in order: the same point twice in one update
    updates both vectors (a later entry replaces only the names it gives)."""
    merged: dict[Any, dict[str, Any]] = {}
    for i, point in enumerate(points):
        if not isinstance(point, Mapping) or "id" not in point:
            return list(points)  # _from_list names what is wrong
        vector = point.get("vector")
        if isinstance(vector, Mapping) and not vector:
            raise invalid(f"points[{i}].vector", "must specify vectors to update for point")
        key = point_id(point["id"], f"points[{i}].id")
        earlier = (merged.get(key) or {}).get("vector")
        if isinstance(earlier, Mapping) and isinstance(vector, Mapping):
            vector = vector if _is_sparse_vector(vector) else {**earlier, **vector}
        merged[key] = {**point, "vector": vector}
    return list(merged.values())


@dataclass(frozen=True)
class WriteCondition:
    """Qdrant's conditional writes. `mode`: "upsert" writes every point, "insert_only" only
    points whose id is new, "update_only" only points that exist; `filter`: an existing point
    is replaced only if it matches (new points are inserted regardless)."""

    mode: str = "upsert"
    filter: Filter | None = None

    def admits(self, exists: bool, matches: bool) -> bool:
        if exists:
            return self.mode != "insert_only" and (self.filter is None or matches)
        return self.mode != "update_only"


UPDATE_MODES = ("upsert", "insert_only", "update_only")


def write_condition(body: Mapping[str, Any]) -> WriteCondition | None:
    """The body's update_mode and update_filter; None when it writes unconditionally."""
    mode = body.get("update_mode") or "upsert"
    if mode not in UPDATE_MODES:
        raise BadInput(f"update_mode {mode!r} is not one of {', '.join(UPDATE_MODES)}")
    raw = body.get("update_filter")
    if mode == "upsert" and raw is None:
        return None
    try:
        return WriteCondition(mode, None if raw is None else parse_filter(raw, "update_filter"))
    except OutOfRange:
        raise
    except ValueError as e:
        raise BadInput(f"update_filter: {e}") from None


def plain_write(body: Mapping[str, Any]) -> None:
    """Where a conditional write is not supported (uploads): refused, never ignored."""
    if write_condition(body) is not None:
        raise BadInput("update_filter and update_mode are not supported by uploads: use upsert")


def payloads_of(values: Sequence[Any], where: str) -> list[Payload | None]:
    """payload_of for a whole batch, in one JSON round trip (the per-item cost dominates)."""
    for i, value in enumerate(values):
        if value is not None and not isinstance(value, Mapping):
            raise BadInput(f"{where}[{i}]: a payload must be an object, got {type(value).__name__}")
    try:
        copied = json.loads(json.dumps(list(values), default=jsonable, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise BadInput(f"{where}: a payload is not JSON: {e}") from None
    return [p or None for p in copied]


def payload_of(value: Any, where: str) -> Payload | None:
    """A payload as stored: plain JSON values, copied, so later edits by the caller do not leak
    in and a replay of the log gives the same values."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise BadInput(f"{where}: a payload must be an object, got {type(value).__name__}")
    try:
        copied: Payload = json.loads(json.dumps(value, default=jsonable, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise BadInput(f"{where}: the payload is not JSON: {e}") from None
    return copied or None


def jsonable(value: Any) -> Any:
    """json.dumps's `default` for what JSON lacks: numpy scalars and arrays, dates."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _named(vector: Any, config: CollectionConfig, where: str) -> dict[str, Any]:
    names = isinstance(vector, Mapping) and not _is_sparse_vector(vector)
    if names and not bm25.is_document(vector):  # a map of names, not one vector
        named = {str(k): _validated(v, str(k), config, f"{where}.?") for k, v in vector.items()}
        if not config.named and not set(named) <= {"", *config.sparse_vectors}:
            raise BadInput(f"{where}: this collection has one unnamed vector, not named ones")
        for name in named:
            _vector_config(name, config)
        return named
    if config.named and "" not in config.vectors:
        # Qdrant reads an unnamed vector as the vector "", which such a collection lacks
        raise BadInput(
            f"Wrong input: Not existing vector name error: {where}: this collection has named "
            "vectors (or none): give a map of names"
        )
    return {"": _validated(vector, "", config, where)}


def _validated(vector: Any, name: str, config: CollectionConfig, where: str) -> Any:
    """One vector as the request gives it, through Qdrant's validator: its refusals are 422s
    naming the place (`points[0].vector.?.data`), before any check against the collection. A
    plain vector given for a multivector is a multivector of one (Qdrant's older API). A
    Document becomes the sparse vector Qdrant's BM25 makes of it (vqdb.bm25)."""
    if isinstance(vector, Mapping):
        if bm25.is_document(vector):
            if name not in config.sparse_vectors:
                label = repr(name) if name else "the unnamed vector"
                raise BadInput(
                    f"{where}: {label} is dense: a document needs an inference service to "
                    "become one, which vqdb does not have (its BM25 makes sparse vectors)"
                )
            return bm25.sparse(vector, query=False, where=where)
        indices, values = vector.get("indices"), vector.get("values")
        if isinstance(indices, Sequence) and isinstance(values, Sequence):
            if len(indices) != len(values):
                raise invalid(f"{where}.values", coded("must be the same length as indices"))
            if len(set(indices)) != len(indices):
                raise invalid(f"{where}.indices", coded("must be unique"))
        return vector
    if not isinstance(vector, list):  # arrays from the embedded client: checked as columns
        return vector
    if not vector:
        raise invalid(where, "dense vector must not be empty")
    dense = config.vectors.get(name)
    if dense is None or not dense.multivector:
        return vector
    if not isinstance(vector[0], list):
        return [vector]
    lengths = [len(row) if isinstance(row, list) else 1 for row in vector]
    if 0 in lengths:
        raise invalid(f"{where}.data", "all vectors must be non-empty")
    odd = next((n for n in lengths if n != lengths[0]), None)
    if odd is not None:
        raise invalid(
            f"{where}.data",
            f"all vectors must have the same dimension, found vector with dimension {odd}",
        )
    return vector


def _is_sparse_vector(vector: Mapping[str, Any]) -> bool:
    """{"indices", "values"}: a sparse vector given where a map of names was expected."""
    return set(vector) == {"indices", "values"} and not isinstance(vector["indices"], Mapping)


def _vector_config(name: str, config: CollectionConfig) -> None:
    if not config.has_vector(name):
        label = repr(name) if name else "the unnamed vector"
        raise BadInput(f"Wrong input: Not existing vector name error: {label or name}")


def _column(
    rows: list[int], values: list[Any], n: int, name: str, config: CollectionConfig
) -> tuple[Rows | None, VectorBatch]:
    batch = _values(values, name, config, "vector")
    return (None if len(rows) == n else np.array(rows, dtype=np.int64)), batch


def _values(values: Any, name: str, config: CollectionConfig, where: str) -> VectorBatch:
    """A column of vectors of one name: a float32 matrix, or CSR rows for a sparse vector."""
    if name in config.sparse_vectors:
        return sparse_rows(values, name, f"{where} '{name}'")
    if config.vectors[name].multivector:
        return multi_rows(values, name, config.vectors[name].size, where)
    return _matrix(values, name, config, where)


def multi_rows(values: Any, name: str, dim: int, where: str) -> MultiVectors:
    """Multivectors of the vector `name`, checked (BadInput names the first bad one)."""
    label = f"{where} '{name}'" if name else where
    if isinstance(values, np.ndarray) and values.ndim == 3:
        values = list(values)
    try:
        return MultiVectors.parse(values, dim, label)
    except ValueError as e:
        raise BadInput(f"Wrong input: {e}") from None


def sparse_rows(values: Any, name: str, where: str) -> SparseVectors:
    """Sparse vectors of the vector `name`, checked (BadInput names the first bad one)."""
    if isinstance(values, SparseVectors):
        return values
    if not isinstance(values, Sequence) or isinstance(values, (str, bytes)):
        raise BadInput(f"{where}: expected a list of sparse vectors")
    for value in values:
        if type(value) is dict:  # the usual {indices, values}: skips the Sequence ABC check
            continue
        if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            raise BadInput(
                f"{where}: {name!r} is a sparse vector: give {{'indices': [...], 'values': [...]}}"
            )
    try:
        return SparseVectors.parse(values, where)
    except ValueError as e:
        raise BadInput(f"Wrong input: {e}") from None


def _matrix(values: Any, name: str, config: CollectionConfig, where: str) -> Matrix:
    dim = config.vectors[name].size
    label = f" '{name}'" if name else ""
    try:
        matrix = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        for row in values if isinstance(values, Sequence) else ():
            # ragged rows of plain numbers: name the dimension that is wrong
            if isinstance(row, Sequence) and len(row) != dim and _numbers(row):
                raise BadInput(
                    f"Wrong input: Vector dimension error: expected dim: {dim}, got {len(row)}"
                ) from None
        raise BadInput(
            f"{where}{label}: vectors must be lists of numbers (a multivector needs "
            "multivector_config)"
        ) from None
    if matrix.ndim == 1 and matrix.shape[0] == 0:
        matrix = matrix.reshape(0, dim)
    if matrix.ndim == 3:
        raise BadInput(
            f"Wrong input: {where}{label}: a list of vectors (a multivector) was given for a "
            "plain vector: multivectors need multivector_config"
        )
    if matrix.ndim != 2:
        raise BadInput(f"{where}{label}: expected vectors of dimension {dim}")
    if matrix.shape[1] != dim:
        raise BadInput(
            f"Wrong input: Vector dimension error: expected dim: {dim}, got {matrix.shape[1]}"
        )
    if not np.isfinite(matrix).all():
        raise BadInput(f"{where}{label}: vectors must not hold NaN or infinity")
    return np.ascontiguousarray(matrix)


def _numbers(row: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row)


def _checked(points: Points) -> Points:
    """Qdrant keeps the last of repeated ids in one request; so does vqdb."""
    if len(set(points.ids)) == len(points.ids):
        return points
    last = {pid: i for i, pid in enumerate(points.ids)}
    keep = np.array(sorted(last.values()), dtype=np.int64)
    return take(points, keep)


def take(points: Points, keep: Rows) -> Points:
    """The batch restricted to positions `keep` (in that order)."""
    where = {int(p): i for i, p in enumerate(keep.tolist())}
    vectors: dict[str, tuple[Rows | None, VectorBatch]] = {}
    for name, (rows, values) in points.vectors.items():
        if rows is None:
            vectors[name] = (None, values[keep])
            continue
        pick = [j for j, r in enumerate(rows.tolist()) if r in where]
        new_rows = np.array([where[int(rows[j])] for j in pick], dtype=np.int64)
        vectors[name] = (new_rows, values[pick])
    payloads = None if points.payloads is None else [points.payloads[i] for i in keep.tolist()]
    return Points([points.ids[i] for i in keep.tolist()], vectors, payloads)
