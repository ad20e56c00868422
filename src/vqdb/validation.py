"""Input checks shared by every entry point: clear ValueErrors instead of wrong answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb.errors import OutOfRange

# isinstance(x, MAPPING): a dict, what JSON and the clients give, passes at C speed, before
# Mapping's ABC check, which runs Python code (a few of those a query stage were measurable)
MAPPING = (dict, Mapping)

NAME_CHARS = 255  # Qdrant's rule for collection names, in characters
# refused in new collections' names (Qdrant's validate_collection_name: unsafe in a file name on
# Linux or Windows); names of existing ones only may not hold "/" or NUL (its legacy rule)
_FORBIDDEN = '<>:"/\\|?*\0\x1f'
_FORBIDDEN_LEGACY = "/\0"


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


def check_collection_name(name: str, *, new: bool = False) -> None:
    """Qdrant's rules for a collection name: 1 to 255 characters, no "/" or NUL; for a new one
    (`new`) none of `<>:"/\\|?*`, NUL or 0x1f either (the folder's own limits, 255 bytes, are
    storage.plain_name's). OutOfRange (422) otherwise, worded as Qdrant's path validation is."""
    problem = _name_problem(name, new)
    if problem:
        raise OutOfRange(f"Validation error in path parameters: [collection_name: {problem}]")


def _name_problem(name: str, new: bool) -> str | None:
    if not 1 <= len(name) <= NAME_CHARS:
        return f"must be from 1 to {NAME_CHARS} characters, got {len(name)}"
    bad = next((c for c in (_FORBIDDEN if new else _FORBIDDEN_LEGACY) if c in name), None)
    if bad is not None:
        return f"collection name cannot contain {bad!r} char"
    return None
