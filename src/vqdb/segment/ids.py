"""Point ids, as Qdrant has them: unsigned 64-bit integers or UUIDs.

Inside vqdb an id is an `int` or a canonical UUID string ("550e8400-e29b-41d4-a716-446655440000").
Integers sort before UUIDs, UUIDs by their 128-bit value: the order scroll pages follow.

A segment maps ids to the dense offsets its vectors live at. An appendable segment uses a dict;
an optimized one stores its points in id order, so two sorted numpy arrays are the whole map.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from vqdb.errors import BadInput
from vqdb.filters.slices import IdColumns

PointId = Union[int, str]  # noqa: UP007 (a runtime alias, kept readable for 3.10)
Offsets = npt.NDArray[np.int64]

_U64 = 2**64


def point_id(value: Any, where: str = "") -> PointId:
    """An id as given by a user, checked and made canonical; BadInput names `where` it was."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if 0 <= int(value) < _U64:
            return int(value)
        problem = "integers must be in [0, 2^64)"
    elif isinstance(value, uuid.UUID):
        return str(value)
    else:
        problem = "expected an unsigned integer or a UUID"
        if isinstance(value, str):
            try:
                return str(uuid.UUID(value))
            except ValueError:
                pass
    raise BadInput(f"{where + ': ' if where else ''}bad point id {value!r}: {problem}")


def sort_key(pid: PointId) -> tuple[int, int]:
    return (0, pid) if isinstance(pid, int) else (1, uuid.UUID(pid).int)


def _uuid_str(raw: bytes) -> str:
    # numpy's "S16" drops trailing zero bytes when an element is read back
    return str(uuid.UUID(bytes=bytes(raw).ljust(16, b"\0")))


def _uuid_bytes(pids: Iterable[str]) -> npt.NDArray[np.bytes_]:
    return np.array([uuid.UUID(p).bytes for p in pids], dtype="S16")


class AppendableIds:
    """Ids of a segment that still takes points; the newest offset of an id wins."""

    def __init__(self, ids: Sequence[PointId] = ()) -> None:
        self._ids: list[PointId] = list(ids)
        self._offsets = {pid: i for i, pid in enumerate(self._ids)}
        # the state of the first ids, kept: ids are only appended, so each checkpoint of a
        # growing segment makes arrays of the new ones only (storage/appends.py writes those)
        self._state: dict[str, npt.NDArray[Any]] = _state([])
        self._state_of = 0

    def __len__(self) -> int:
        return len(self._ids)

    def append(self, ids: Sequence[PointId]) -> None:
        start = len(self._ids)
        self._ids.extend(ids)
        self._offsets.update((pid, start + i) for i, pid in enumerate(ids))

    @property
    def nbytes(self) -> int:
        """Bytes of the list and the dict themselves (not of the id objects)."""
        return sys.getsizeof(self._ids) + sys.getsizeof(self._offsets)

    def offset(self, pid: PointId) -> int:
        return self._offsets.get(pid, -1)

    def lookup(self, ids: Sequence[PointId]) -> Offsets:
        """offset() of many ids at once."""
        get = self._offsets.get
        return np.fromiter((get(pid, -1) for pid in ids), dtype=np.int64, count=len(ids))

    def id_at(self, offset: int) -> PointId:
        return self._ids[offset]

    def in_order(self, offsets: Offsets) -> Offsets:
        """The given offsets sorted by their ids."""
        return np.array(
            sorted(offsets.tolist(), key=lambda o: sort_key(self._ids[o])), dtype=np.int64
        )

    def state(self) -> dict[str, npt.NDArray[Any]]:
        start = self._state_of
        if start < len(self._ids):
            new = _state(self._ids[start:])
            for key in ("num_offsets", "uuid_offsets"):
                new[key] += start
            self._state = {k: np.concatenate([v, new[k]]) for k, v in self._state.items()}
            for array in self._state.values():
                array.setflags(write=False)  # handed out to every caller
            self._state_of = len(self._ids)
        return self._state

    def columns(self) -> IdColumns:
        s = self.state()
        return s["nums"], s["num_offsets"], s["uuids"], s["uuid_offsets"]


class SortedIds:
    """Ids of an optimized segment: offsets [0, a) hold integer ids in increasing order,
    offsets [a, a + b) UUIDs in increasing order.

    Integer ids that are one unbroken run (first, first + 1, ..., first + a - 1), as a
    collection filled with ids 0..n-1 has, are kept as the run's first id: no array at all.
    Increasing and unique, the ids are a run exactly when last - first == a - 1."""

    def __init__(
        self, nums: npt.NDArray[np.uint64], uuids: npt.NDArray[np.bytes_], *, copy: bool = False
    ) -> None:
        """`copy`: keep a copy of `nums` (a memory map of a file) if they are not a run."""
        self._count = int(nums.shape[0])
        self._first = int(nums[0]) if self._count else 0
        run = self._count > 0 and int(nums[-1]) - self._first == self._count - 1
        self._nums = None if run else np.array(nums) if copy else nums
        self._uuids = uuids

    @classmethod
    def of(cls, ids: Sequence[PointId]) -> SortedIds:
        """The tracker of a segment built from `ids`, which must be in sort_key order."""
        nums = np.array([p for p in ids if isinstance(p, int)], dtype=np.uint64)
        return cls(nums, _uuid_bytes(p for p in ids if isinstance(p, str)))

    def __len__(self) -> int:
        return self._count + int(self._uuids.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held in RAM."""
        return int((0 if self._nums is None else self._nums.nbytes) + self._uuids.nbytes)

    def _search(self, keys: npt.NDArray[np.uint64]) -> Offsets:
        """np.searchsorted(integer ids, keys): where each key is or would be."""
        if self._nums is not None:
            found: Offsets = np.searchsorted(self._nums, keys).astype(np.int64)
            return found
        first = np.uint64(self._first)
        past_first = np.where(keys >= first, keys, first) - first
        pos: Offsets = np.minimum(past_first, np.uint64(self._count)).astype(np.int64)
        return pos

    def _num_at(self, pos: Offsets) -> npt.NDArray[np.uint64]:
        nums: npt.NDArray[np.uint64] = (
            pos.astype(np.uint64) + np.uint64(self._first)
            if self._nums is None
            else self._nums[pos]
        )
        return nums

    def offset(self, pid: PointId) -> int:
        if isinstance(pid, int):
            i = int(self._search(np.array([pid], dtype=np.uint64))[0])
            return i if i < self._count and int(self._num_at(np.array([i]))[0]) == pid else -1
        key = np.array(uuid.UUID(pid).bytes, dtype="S16")
        i = int(np.searchsorted(self._uuids, key))
        found = i < self._uuids.shape[0] and self._uuids[i] == key
        return self._count + i if found else -1

    def lookup(self, ids: Sequence[PointId]) -> Offsets:
        """offset() of many ids at once, vectorised: upserts look up whole batches."""
        out = np.full(len(ids), -1, dtype=np.int64)
        is_num = np.fromiter((isinstance(p, int) for p in ids), dtype=np.bool_, count=len(ids))
        if is_num.any() and self._count:
            keys = np.array([p for p in ids if isinstance(p, int)], dtype=np.uint64)
            pos = np.minimum(self._search(keys), self._count - 1)
            out[is_num] = np.where(self._num_at(pos) == keys, pos, -1)
        if not is_num.all() and self._uuids.shape[0]:
            uuids = _uuid_bytes(p for p in ids if isinstance(p, str))
            pos = np.minimum(np.searchsorted(self._uuids, uuids), self._uuids.shape[0] - 1)
            found = self._uuids[pos] == uuids
            out[~is_num] = np.where(found, self._count + pos, -1)
        return out

    def id_at(self, offset: int) -> PointId:
        if offset < self._count:  # one id of a page: no arrays (they cost ~3 us a point)
            return offset + self._first if self._nums is None else int(self._nums[offset])
        return _uuid_str(self._uuids[offset - self._count])

    def in_order(self, offsets: Offsets) -> Offsets:
        return np.sort(offsets)

    def first_at_or_after(self, pid: PointId) -> int:
        """The first offset whose id is >= pid: where a scroll page starting at pid begins."""
        if isinstance(pid, int):
            return int(self._search(np.array([pid], dtype=np.uint64))[0])
        key = np.array(uuid.UUID(pid).bytes, dtype="S16")
        return int(self._count + np.searchsorted(self._uuids, key))

    def state(self) -> dict[str, npt.NDArray[Any]]:
        nums = self._num_at(np.arange(self._count, dtype=np.int64))
        return {"nums": nums, "uuids": self._uuids}

    def columns(self) -> IdColumns:
        count, n = self._count, len(self)
        nums = self._num_at(np.arange(count, dtype=np.int64))
        return nums, np.arange(count, dtype=np.int64), self._uuids, np.arange(count, n)


def _state(ids: Sequence[PointId]) -> dict[str, npt.NDArray[Any]]:
    num_offsets = [i for i, p in enumerate(ids) if isinstance(p, int)]
    uuid_offsets = [i for i, p in enumerate(ids) if isinstance(p, str)]
    return {
        "nums": np.array([ids[i] for i in num_offsets], dtype=np.uint64),
        "num_offsets": np.array(num_offsets, dtype=np.int64),
        "uuids": _uuid_bytes(str(ids[i]) for i in uuid_offsets),
        "uuid_offsets": np.array(uuid_offsets, dtype=np.int64),
    }


def load_ids(arrays: dict[str, npt.NDArray[Any]]) -> AppendableIds | SortedIds:
    """The tracker whose state() gave `arrays`."""
    if "num_offsets" not in arrays:
        return SortedIds(arrays["nums"], np.array(arrays["uuids"]), copy=True)
    n = arrays["num_offsets"].shape[0] + arrays["uuid_offsets"].shape[0]
    ids: list[PointId] = [0] * n
    for o, v in zip(arrays["num_offsets"].tolist(), arrays["nums"].tolist()):
        ids[o] = int(v)
    for o, b in zip(arrays["uuid_offsets"].tolist(), arrays["uuids"].tolist()):
        ids[o] = _uuid_str(b)
    appendable = AppendableIds(ids)
    appendable._state = {key: np.array(arrays[key]) for key in appendable._state}
    appendable._state_of = n
    return appendable
