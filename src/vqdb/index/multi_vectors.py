"""Multivectors in numpy: a batch of matrices (`MultiVectors`), each a group of rows.

A multivector is Qdrant's `[[...], [...]]`: at least one row, every row of the vector's size,
finite values (ColBERT-style late interaction: a row per token). A batch keeps every row in
one float32 matrix plus offsets (group i is rows[offsets[i] - offsets[0]:offsets[i + 1] -
offsets[0]]), which is how the native set stores them and the WAL logs them.

    >>> batch = MultiVectors.parse([[[1, 0], [0, 1]], [[2, 2]]], 2, "vector")
    >>> len(batch), batch[1].tolist()
    (2, [[2.0, 2.0]])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb.index import ragged

Offsets = npt.NDArray[np.int64]
Rows = npt.NDArray[np.float32]


@dataclass(frozen=True)
class MultiVectors:
    offsets: Offsets  # n + 1, rising strictly
    rows: Rows  # (offsets[-1] - offsets[0], dim)

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - 1

    @property
    def dim(self) -> int:
        return int(self.rows.shape[1])

    def __getitem__(self, at: Any) -> Any:
        """An int gives one matrix (rows, dim); an array / list of positions, a MultiVectors."""
        if isinstance(at, (int, np.integer)):
            base = self.offsets[0]
            return self.rows[self.offsets[at] - base : self.offsets[at + 1] - base]
        return self.take(np.asarray(at, dtype=np.int64))

    def tolist(self) -> list[list[list[float]]]:
        return [self[i].tolist() for i in range(len(self))]

    def take(self, at: npt.NDArray[np.int64]) -> MultiVectors:
        """The groups at `at`, in that order (copies)."""
        offsets, rows = ragged.gather(self.offsets, at)
        return MultiVectors(offsets, self.rows[rows])

    @classmethod
    def empty(cls, dim: int) -> MultiVectors:
        return cls(np.zeros(1, dtype=np.int64), np.zeros((0, dim), dtype=np.float32))

    @classmethod
    def of(cls, matrices: Sequence[Any], dim: int) -> MultiVectors:
        """From matrices already checked (float32, (rows, dim))."""
        lengths = np.array([m.shape[0] for m in matrices], dtype=np.int64)
        offsets = np.zeros(len(matrices) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        rows = np.concatenate(matrices) if matrices else np.zeros((0, dim), dtype=np.float32)
        return cls(offsets, np.ascontiguousarray(rows, dtype=np.float32))

    @classmethod
    def concat(cls, parts: Sequence[MultiVectors]) -> MultiVectors:
        if not parts:
            raise ValueError("nothing to concatenate")
        lengths = np.concatenate([np.diff(p.offsets) for p in parts])
        offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        rows = np.concatenate([p.rows[: int(p.offsets[-1] - p.offsets[0])] for p in parts])
        return cls(offsets, np.ascontiguousarray(rows, dtype=np.float32))

    @classmethod
    def parse(cls, items: Any, dim: int, where: str) -> MultiVectors:
        """A batch from JSON-like lists of matrices (or arrays, or a MultiVectors); ValueError
        names the first bad one (`where[i]`)."""
        if isinstance(items, MultiVectors):
            items.check(dim, where)
            return items
        if isinstance(items, (str, bytes)) or not isinstance(items, (Sequence, np.ndarray)):
            raise ValueError(f"{where}: expected a list of multivectors")
        return cls.of(
            [matrix(item, dim, _label(where, i, len(items))) for i, item in enumerate(items)], dim
        )

    def check(self, dim: int, where: str) -> None:
        if self.rows.ndim != 2 or self.rows.shape[1] != dim:
            got = self.rows.shape[1] if self.rows.ndim == 2 else self.rows.shape
            raise ValueError(f"Vector dimension error: expected dim: {dim}, got {got}")
        if (np.diff(self.offsets) < 1).any():
            raise ValueError(f"{where}: a multivector needs at least one vector")
        if not np.isfinite(self.rows).all():
            raise ValueError(f"{where}: multivectors must not hold NaN or infinity")


def matrix(item: Any, dim: int, where: str) -> Rows:
    """One multivector: a list of rows of `dim` numbers (at least one row), finite."""
    if is_flat(item):
        raise ValueError(
            f"{where}: this is a multivector: give a list of vectors ([[...], [...]]), "
            "not a single vector"
        )
    try:
        x = np.asarray(item, dtype=np.float32)
    except (TypeError, ValueError):
        for row in item if isinstance(item, Sequence) else ():
            if isinstance(row, Sequence) and len(row) != dim:
                raise ValueError(
                    f"Vector dimension error: expected dim: {dim}, got {len(row)}"
                ) from None
        raise ValueError(f"{where}: a multivector is a list of vectors of numbers") from None
    if x.ndim == 1 and x.shape[0] == 0 or x.ndim == 2 and x.shape[0] == 0:
        raise ValueError(f"{where}: a multivector needs at least one vector")
    if x.ndim != 2:
        raise ValueError(f"{where}: a multivector is a list of vectors of numbers")
    if x.shape[1] != dim:
        raise ValueError(f"Vector dimension error: expected dim: {dim}, got {x.shape[1]}")
    if not np.isfinite(x).all():
        raise ValueError(f"{where}: multivectors must not hold NaN or infinity")
    return x


def is_flat(item: Any) -> bool:
    """A plain vector (a non-empty list of numbers, or a one-dimensional array of them, as the
    embedded client and the server's native read give it) where a matrix was expected."""
    if isinstance(item, np.ndarray):
        return item.ndim == 1 and item.size > 0 and item.dtype.kind in "fiu"
    return (
        isinstance(item, Sequence)
        and not isinstance(item, (str, bytes))
        and len(item) > 0
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in item)
    )


def _label(where: str, i: int, n: int) -> str:
    return f"{where}[{i}]" if n > 1 else where
