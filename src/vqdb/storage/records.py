"""Records of any length in one file, each read in place: a segment's payloads on disk
(segment/payloads.py).

Layout: MAGIC (8 bytes), the record count n (uint64), n + 1 bounds (uint64; record i is the
data's bytes [bounds[i], bounds[i + 1]), empty for none), then the data. Written once to a
temporary name, fsynced and renamed into place (storage/files.py); read through one read-only
memory map, so the processes that read a storage folder share its pages in the page cache, and
a record costs RAM only while a caller holds what it was parsed into.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vqdb.errors import StorageError
from vqdb.storage.files import _removed_on_failure, _replace

MAGIC = b"VQDBREC1"
_HEADER = len(MAGIC) + 8
_BOUNDS = struct.Struct("<QQ")  # one record's start and end


def write_records(path: Path, records: Iterable[bytes], count: int) -> None:
    """Writes `count` records (b"": none at that place), crash-safe."""
    bounds = np.zeros(count + 1, dtype="<u8")
    tmp = path.with_name(path.name + ".tmp")
    with _removed_on_failure(tmp), open(tmp, "wb") as f:
        f.write(MAGIC + np.uint64(count).astype("<u8").tobytes())
        f.seek(_HEADER + bounds.nbytes)
        size = 0
        written = 0
        for i, record in enumerate(records):
            f.write(record)
            size += len(record)
            bounds[i + 1] = size
            written = i + 1
        if written != count:
            raise ValueError(f"{written} records for a file of {count}")
        f.seek(_HEADER)
        f.write(bounds.tobytes())
        f.flush()
        os.fsync(f.fileno())
    _replace(tmp, path)


class Records:
    """A records file, memory-mapped. `cached`: its pages are read ahead into the page cache
    at open (Qdrant's `cached` memory placement), rather than as records are asked for."""

    def __init__(self, path: Path, *, cached: bool = False) -> None:
        self.path = path
        self.cached = cached
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < _HEADER:
                    raise StorageError(f"{path}: truncated ({size} bytes)")
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as e:
            raise StorageError(f"{path}: cannot read it: {e}") from e
        if self._map[: len(MAGIC)] != MAGIC:
            raise StorageError(f"{path}: not a records file")
        count = int(np.frombuffer(self._map, dtype="<u8", count=1, offset=len(MAGIC))[0])
        start = _HEADER + 8 * (count + 1)
        if start > size:
            raise StorageError(f"{path}: truncated ({size} bytes for {count} records)")
        # in place too (the map is let go with the last reference to it, never closed here)
        self.bounds: npt.NDArray[np.uint64] = np.frombuffer(
            self._map, dtype="<u8", count=count + 1, offset=_HEADER
        )
        self._start = start
        self._count = count
        if start + int(self.bounds[-1]) > size:  # a map read past the end would SIGBUS
            raise StorageError(f"{path}: truncated ({size} bytes, its data needs more)")
        if cached:
            self._map.madvise(mmap.MADV_WILLNEED)

    def __len__(self) -> int:
        return self._count

    def get(self, i: int) -> bytes | None:
        """Record i's bytes (None: empty, or past the end)."""
        if not 0 <= i < self._count:
            return None
        start, stop = _BOUNDS.unpack_from(self._map, _HEADER + 8 * i)
        if start == stop:
            return None
        return self._map[self._start + start : self._start + stop]

    def has(self, i: int) -> bool:
        """Whether record i is there and not empty."""
        if not 0 <= i < self._count:
            return False
        start, stop = _BOUNDS.unpack_from(self._map, _HEADER + 8 * i)
        return bool(start != stop)

    def present(self) -> npt.NDArray[np.int64]:
        """The places that hold a record, ascending."""
        return np.flatnonzero(np.diff(self.bounds)).astype(np.int64)

    @property
    def data_bytes(self) -> int:
        return int(self.bounds[-1])
