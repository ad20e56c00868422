"""Batches of rows of varying length stored back to back, as sparse vectors (CSR) and
multivectors (groups of rows) are: row i's elements are offsets[i]:offsets[i + 1]."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Ids = npt.NDArray[np.int64]


def gather(offsets: Ids, at: Ids) -> tuple[Ids, Ids]:
    """Rows `at` of a batch, in that order: their offsets in a new batch, and the positions of
    their elements in the batch's element arrays (counted from offsets[0], so a batch sliced
    out of a larger one works)."""
    starts = offsets[at] - offsets[0]
    lengths = offsets[at + 1] - offsets[at]
    new_offsets = np.zeros(at.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    # each row's start, then +1 within the row, without a Python loop over rows
    within = np.arange(int(new_offsets[-1]), dtype=np.int64) - np.repeat(new_offsets[:-1], lengths)
    return new_offsets, np.repeat(starts, lengths) + within
