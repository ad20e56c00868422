"""Which ids a vector store holds: its external int64 ids mapped to the native rows, and which
rows are still live.

Both stores (`Index`, `SparseIndex`) append rows and never move them: an id added again gets a
new row and a deleted row stays in the native structure, masked out by the live bitset, until
the optimizer rebuilds the segment. That bookkeeping is the same whatever the rows hold, so it
lives here once and each store keeps only its own rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb.index import bitset
from vqdb.index.id_map import IdMap
from vqdb.validation import as_ids

Ids = npt.NDArray[np.int64]


class LiveIds:
    def __init__(self, ids: IdMap | None = None, alive: bitset.Bitset | None = None) -> None:
        self._ids = IdMap() if ids is None else ids
        self._alive = bitset.empty(0) if alive is None else alive
        self._count = bitset.count(self._alive)  # live ids

    def __len__(self) -> int:
        """Live ids."""
        return self._count

    def __contains__(self, point_id: object) -> bool:
        if isinstance(point_id, bool) or not isinstance(point_id, (int, np.integer)):
            return False
        return bool(self.offsets(np.array([point_id], dtype=np.int64))[0] >= 0)

    @property
    def rows(self) -> int:
        """Rows added, deleted ones included."""
        return len(self._ids)

    @property
    def alive(self) -> bitset.Bitset:
        """The live-row bitset: what a checkpoint rewrites, while the rest never changes."""
        return self._alive

    def memory_usage(self) -> dict[str, int]:
        return {"ids": self._ids.nbytes, "alive": self._alive.nbytes}

    # ---- ids -> rows -------------------------------------------------------------------------

    def offsets(self, ids: Ids) -> Ids:
        """Row of each id, -1 where it is absent or deleted."""
        offsets = self._ids.offsets(ids)
        if not len(self._ids):
            return offsets
        return np.where(bitset.test(self._alive, np.maximum(offsets, 0)), offsets, -1)

    def existing(self, ids: Ids) -> Ids:
        """Row of each id; every one must be live."""
        offsets = self.offsets(ids)
        if (offsets < 0).any():
            raise ValueError(f"id {ids[offsets < 0][0]} is not in the index")
        return offsets

    @property
    def row_ids(self) -> Ids | None:
        """The id of each row, for a native search to map its rows by; None: rows are ids."""
        return self._ids.array

    def to_ids(self, offsets: Ids) -> Ids:
        """Search results (rows, -1 past the last hit) as ids, -1 kept."""
        if self._ids.is_identity:  # the offsets (and their -1s) are the ids
            return offsets
        return np.where(offsets >= 0, self._ids.ids(np.maximum(offsets, 0)), -1)

    # ---- writes ------------------------------------------------------------------------------

    def check_new(self, ids: Any, n: int) -> Ids:
        """`ids` for a batch of n new vectors: unique, none of them live."""
        new_ids = as_ids(ids, n)
        if np.unique(new_ids).shape[0] != new_ids.shape[0]:
            raise ValueError("ids must be unique within a batch")
        present = new_ids[self.offsets(new_ids) >= 0]
        if present.shape[0]:
            raise ValueError(f"id {present[0]} is already in the index")
        return new_ids

    def appended(self, new_ids: Ids, first: int) -> None:
        """The store appended rows first, first + 1, ... for `new_ids`: they are live."""
        n = new_ids.shape[0]
        self._ids.append(new_ids)
        self._count += n
        self._alive = bitset.grown(self._alive, first + n)
        bitset.set_range(self._alive, first, first + n)

    def delete(self, ids: Any) -> None:
        offsets = self.existing(np.unique(as_ids(ids)))
        bitset.clear_bits(self._alive, offsets)
        self._count -= int(offsets.shape[0])

    # ---- masks -------------------------------------------------------------------------------

    def live_ids(self) -> Ids:
        """Every live id, in the order they were added."""
        offsets = np.flatnonzero(np.unpackbits(self._alive.view(np.uint8), bitorder="little"))
        return self._ids.ids(offsets[: len(self._ids)])

    def live_mask(self, size: int) -> npt.NDArray[np.bool_]:
        """mask[i]: whether id i (for ids below `size`) is live. Filtered searches ask this per
        query, so ids that are their own offsets (how segments use a store) skip the id map."""
        bits = np.unpackbits(self._alive.view(np.uint8), bitorder="little").astype(np.bool_)
        mask = np.zeros(size, dtype=np.bool_)
        if self._ids.is_identity:
            n = min(size, len(self._ids))
            mask[:n] = bits[:n]
        else:
            ids = self.live_ids()
            mask[ids[ids < size]] = True
        return mask

    def allowed(self, allowed_ids: Any) -> bitset.Bitset | None:
        """The rows a search may return, as the native search takes them: for `allowed_ids`
        (a boolean mask over ids, or ids), else the live rows (None while all rows are live)."""
        if allowed_ids is None:
            return self._alive if self._count < len(self._ids) else None
        if isinstance(allowed_ids, np.ndarray) and allowed_ids.dtype == np.bool_:
            if self._ids.is_identity:  # the mask over ids is a mask over offsets: pack it
                mask = np.zeros(self._alive.shape[0] * 64, dtype=np.bool_)
                n = min(mask.shape[0], allowed_ids.shape[0])
                mask[:n] = allowed_ids[:n]
                return np.packbits(mask, bitorder="little").view(np.uint64) & self._alive
            allowed_ids = np.flatnonzero(allowed_ids)
        wanted = self.offsets(as_ids(allowed_ids))
        return bitset.of(wanted[wanted >= 0], len(self._ids))

    # ---- state for the persistence layer -----------------------------------------------------

    def state(self) -> dict[str, npt.NDArray[Any]]:
        return {"ids": self._ids.state(), "alive": self._alive}

    @classmethod
    def from_state(cls, arrays: Mapping[str, npt.NDArray[Any]]) -> LiveIds:
        """What `state()` gave, from its arrays (copied: they may be read-only file maps)."""
        return cls(IdMap.from_state(arrays["ids"]), np.array(arrays["alive"], dtype=np.uint64))
