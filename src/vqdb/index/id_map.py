"""External int64 ids <-> the dense offsets the native sets use, kept in numpy.

A dict would cost ~100 bytes per id, as much as a binary code; here it is 8 bytes, or nothing at
all while the ids are the offsets themselves (how segments use an Index).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Ids = npt.NDArray[np.int64]


class IdMap:
    def __init__(self, ids: Ids | None = None, size: int = 0) -> None:
        self._ids = ids  # None: id == offset for every offset below `size`
        self._size = size if ids is None else int(ids.shape[0])
        self._order: Ids | None = None  # argsort of _ids when they are not increasing
        self._increasing = ids is None or bool(np.all(ids[1:] > ids[:-1]))

    def __len__(self) -> int:
        return self._size

    @property
    def is_identity(self) -> bool:
        return self._ids is None

    @property
    def array(self) -> Ids | None:
        """The id of each offset (the native search maps its rows through it); None while the
        ids are the offsets."""
        return self._ids

    @property
    def nbytes(self) -> int:
        """Bytes held in RAM."""
        return sum(a.nbytes for a in (self._ids, self._order) if a is not None)

    def append(self, ids: Ids) -> None:
        n = self._size
        if self._ids is None and np.array_equal(ids, np.arange(n, n + ids.shape[0])):
            self._size += ids.shape[0]
            return
        old = self.ids(np.arange(n, dtype=np.int64))
        if ids.shape[0]:
            tail_ok = bool(np.all(ids[1:] > ids[:-1])) and (n == 0 or ids[0] > old[-1])
            self._increasing = self._increasing and tail_ok
        self._ids = np.concatenate([old, ids])
        self._size = int(self._ids.shape[0])
        self._order = None

    def ids(self, offsets: Ids) -> Ids:
        offsets = np.asarray(offsets, dtype=np.int64)
        return offsets.copy() if self._ids is None else self._ids[offsets]

    def offsets(self, ids: Ids) -> Ids:
        """The newest offset of each id (an id deleted and added again has several), -1 if none."""
        ids = np.asarray(ids, dtype=np.int64)
        if self._ids is None:
            return np.where((ids >= 0) & (ids < self._size), ids, -1)
        if self._increasing:
            keys, order = self._ids, None
        else:
            if self._order is None:
                self._order = np.argsort(self._ids, kind="stable")
            keys, order = self._ids[self._order], self._order
        pos = np.searchsorted(keys, ids, side="right") - 1
        found = (pos >= 0) & (keys[np.maximum(pos, 0)] == ids) if keys.shape[0] else pos >= 0
        hit = pos if order is None else order[np.maximum(pos, 0)]
        return np.where(found, hit, -1)

    def state(self) -> Ids:
        return self.ids(np.arange(self._size, dtype=np.int64))

    @classmethod
    def from_state(cls, ids: Ids) -> IdMap:
        ids = np.asarray(ids, dtype=np.int64)
        if np.array_equal(ids, np.arange(ids.shape[0])):
            return cls(size=int(ids.shape[0]))
        return cls(ids.copy())
