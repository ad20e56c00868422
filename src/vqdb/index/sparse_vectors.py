"""Sparse vectors in numpy: one (`SparseVector`) or a batch in CSR form (`SparseVectors`).

A sparse vector is Qdrant's `{"indices": [...], "values": [...]}`: unique non-negative u32
indices and finite values, of equal lengths. `parse` checks a whole batch with numpy and
sorts each vector by index, which is how they are stored and shown.

    >>> batch = SparseVectors.parse([{"indices": [7, 1], "values": [0.5, 0.25]}], "vector")
    >>> batch[0].tolist()
    {'indices': [1, 7], 'values': [0.25, 0.5]}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb.index import ragged
from vqdb.native import _core

Indptr = npt.NDArray[np.int64]
Terms = npt.NDArray[np.uint32]
Weights = npt.NDArray[np.float32]

MAX_INDEX = 2**32 - 1


@dataclass(frozen=True)
class SparseVector:
    indices: Terms  # sorted, unique
    values: Weights

    def tolist(self) -> dict[str, Any]:
        """Qdrant's JSON shape (named like numpy's tolist, which dense vectors answer)."""
        return {"indices": self.indices.tolist(), "values": self.values.tolist()}

    def batch(self) -> SparseVectors:
        return SparseVectors(
            np.array([0, self.indices.shape[0]], dtype=np.int64), self.indices, self.values
        )

    @classmethod
    def parse(cls, item: Any, where: str) -> SparseVector:
        """One vector from Qdrant's JSON (or a SparseVector object), checked and sorted by
        index, as SparseVectors.parse checks a batch; ValueError names `where`."""
        indices, values = _parts(item, where)
        plain = _core.plain_sparse_vector(indices, values)  # JSON's lists, checked natively
        if plain is not None:
            return cls(*plain)
        if len(indices) != len(values):
            raise ValueError(
                f"{where}: indices and values must have the same length, got {len(indices)} "
                f"and {len(values)}"
            )
        terms = _terms(indices, where, lambda at: where)
        weights = _weights(values, where, lambda at: where)
        if terms.shape[0] > 1 and not (terms[1:] > terms[:-1]).all():  # given unsorted
            order = np.argsort(terms, kind="stable")
            terms, weights = terms[order], weights[order]
            duplicate = np.flatnonzero(terms[1:] == terms[:-1])
            if duplicate.shape[0]:
                raise ValueError(
                    f"{where}: indices must be unique, {int(terms[duplicate[0]])} appears more "
                    "than once"
                )
        return cls(terms.astype(np.uint32), weights)


@dataclass(frozen=True)
class SparseVectors:
    """Rows in CSR form: row i is indices / values[indptr[i] - indptr[0] : indptr[i + 1] -
    indptr[0]]."""

    indptr: Indptr
    indices: Terms
    values: Weights

    def __len__(self) -> int:
        return int(self.indptr.shape[0]) - 1

    def __getitem__(self, rows: Any) -> Any:
        """An int gives a SparseVector; an array / list of positions, a SparseVectors."""
        if isinstance(rows, (int, np.integer)):
            start, stop = self.indptr[rows] - self.indptr[0], self.indptr[rows + 1] - self.indptr[0]
            return SparseVector(self.indices[start:stop], self.values[start:stop])
        return self.take(np.asarray(rows, dtype=np.int64))

    def take(self, rows: npt.NDArray[np.int64]) -> SparseVectors:
        """The rows at `rows`, in that order (copies)."""
        indptr, at = ragged.gather(self.indptr, rows)
        return SparseVectors(indptr, self.indices[at], self.values[at])

    @classmethod
    def empty(cls) -> SparseVectors:
        return cls(
            np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint32), np.zeros(0, np.float32)
        )

    @classmethod
    def concat(cls, parts: Sequence[SparseVectors]) -> SparseVectors:
        if not parts:
            return cls.empty()
        lengths = np.concatenate([np.diff(p.indptr) for p in parts])
        indptr = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        used = [(p, int(p.indptr[-1] - p.indptr[0])) for p in parts]
        return cls(
            indptr,
            np.concatenate([p.indices[:n] for p, n in used]).astype(np.uint32, copy=False),
            np.concatenate([p.values[:n] for p, n in used]).astype(np.float32, copy=False),
        )

    @classmethod
    def parse(cls, items: Sequence[Any], where: str) -> SparseVectors:
        """A batch from Qdrant's JSON (or SparseVector objects), checked and sorted by index;
        ValueError names the first bad vector (`where[i]`)."""
        if len(items) == 1:  # a query: no rows to track
            return cls._one(items[0], where)
        lengths = np.zeros(len(items), dtype=np.int64)
        flat_indices: list[Any] = []
        flat_values: list[Any] = []
        for i, item in enumerate(items):
            indices, values = _parts(item, f"{where}[{i}]")
            if len(indices) != len(values):
                raise ValueError(
                    f"{where}[{i}]: indices and values must have the same length, got "
                    f"{len(indices)} and {len(values)}"
                )
            lengths[i] = len(indices)
            flat_indices.extend(indices)
            flat_values.extend(values)
        row = np.repeat(np.arange(len(items), dtype=np.int64), lengths)

        def label(at: int) -> str:
            return f"{where}[{int(row[at])}]"

        terms = _terms(flat_indices, where, label)
        weights = _weights(flat_values, where, label)
        order = np.lexsort((terms, row))  # by row, then by index
        terms, weights = terms[order], weights[order]
        duplicate = (row[1:] == row[:-1]) & (terms[1:] == terms[:-1])
        if duplicate.any():
            first = int(np.flatnonzero(duplicate)[0])
            raise ValueError(
                f"{label(first)}: indices must be unique, {int(terms[first])} appears more "
                "than once"
            )
        indptr = np.zeros(len(items) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        return cls(indptr, terms.astype(np.uint32), weights)

    @classmethod
    def _one(cls, item: Any, where: str) -> SparseVectors:
        return SparseVector.parse(item, where).batch()


def _parts(item: Any, where: str) -> tuple[Sequence[Any], Sequence[Any]]:
    if isinstance(item, SparseVector):
        return item.indices.tolist(), item.values.tolist()
    if type(item) is dict:  # JSON's: no ABC checks (a query's parse is on every search)
        indices, values = item.get("indices"), item.get("values")
        if type(indices) is list and type(values) is list:
            return indices, values
    if not isinstance(item, Mapping):
        indices, values = getattr(item, "indices", None), getattr(item, "values", None)
    else:
        indices, values = item.get("indices"), item.get("values")
    if indices is None or values is None:
        raise ValueError(f"{where}: a sparse vector is {{'indices': [...], 'values': [...]}}")
    if isinstance(indices, np.ndarray):
        indices = indices.tolist()
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(indices, Sequence) or not isinstance(values, Sequence):
        raise ValueError(f"{where}: indices and values must be lists")
    return indices, values


def _terms(flat: Sequence[Any], where: str, label: Callable[[int], str]) -> npt.NDArray[np.int64]:
    """`label(at)`: the vector that holds flat position `at`, for errors."""
    if not flat:
        return np.zeros(0, dtype=np.int64)
    try:
        terms = np.array(flat)
    except ValueError:  # lists of several lengths in the list
        terms = np.zeros((0, 0))
    # floats, bools, strings, nested lists, or ints past int64
    if terms.dtype.kind not in "iu" or terms.ndim != 1:
        for at, v in enumerate(flat):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"{label(at)}: indices must be integers, got {v!r}")
        raise ValueError(f"{where}: indices must be from 0 to {MAX_INDEX}")
    if terms.min() < 0 or terms.max() > MAX_INDEX:
        at = int(np.flatnonzero((terms < 0) | (terms > MAX_INDEX))[0])
        raise ValueError(
            f"{label(at)}: indices must be from 0 to {MAX_INDEX}, got {int(terms[at])}"
        )
    return terms.astype(np.int64, copy=False)


_F32_MAX = float(np.finfo(np.float32).max)


def _weights(flat: Sequence[Any], where: str, label: Callable[[int], str]) -> Weights:
    if not flat:
        return np.zeros(0, dtype=np.float32)
    try:
        wide = np.array(flat, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: values must be numbers") from None
    if wide.ndim != 1:  # lists in the list
        raise ValueError(f"{where}: values must be numbers")
    if np.abs(wide).max() <= _F32_MAX:  # no NaN, nothing to overflow
        return wide.astype(np.float32)
    with np.errstate(over="ignore"):
        weights = wide.astype(np.float32)
    bad = ~np.isfinite(weights)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{label(at)}: values must be finite, got {flat[at]!r}")
    return weights
