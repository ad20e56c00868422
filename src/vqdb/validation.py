"""Input checks shared by every entry point: clear ValueErrors instead of wrong answers."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def as_vectors(
    data: Any, dim: int, what: str = "vectors", *, finite: bool = True
) -> tuple[npt.NDArray[np.float32], bool]:
    """Rows of float32, C-contiguous; returns (matrix, was_single_vector). `finite=False`
    leaves the NaN / infinity check to the caller (the native search makes it)."""
    try:
        x = np.asarray(data, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} must be numeric arrays: {e}") from None
    single = x.ndim == 1
    if single:
        x = x.reshape(1, -1)
    if x.ndim != 2:
        raise ValueError(f"{what} must be a 1-d vector or a 2-d array, got {x.ndim} dimensions")
    if x.shape[1] != dim:
        raise ValueError(f"Vector dimension error: expected dim: {dim}, got {x.shape[1]}")
    if finite and not np.isfinite(x).all():
        row = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        raise ValueError(f"{what} contain NaN or infinity (row {row})")
    return np.ascontiguousarray(x), single


def as_ids(data: Any, count: int | None = None) -> npt.NDArray[np.int64]:
    """Non-negative integer ids, one per row when `count` is given."""
    ids = np.asarray(data)
    if ids.ndim == 0:
        ids = ids.reshape(1)
    if ids.ndim != 1:
        raise ValueError(f"ids must be a 1-d sequence, got {ids.ndim} dimensions")
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be integers, got {ids.dtype}")
    ids = ids.astype(np.int64, copy=False)
    if ids.size and ids.min() < 0:
        raise ValueError("ids must be non-negative")
    if count is not None and ids.shape[0] != count:
        raise ValueError(f"got {ids.shape[0]} ids for {count} vectors")
    return ids
