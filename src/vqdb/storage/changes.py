"""Counts of a storage folder's changes, shared by the process that writes the folder and the
processes that follow it (vqdb.follower): `.changes` files of eight-byte counts, mapped into
memory by each of them.

The writer counts after each change is in the files (a WAL record, a manifest, a collection
made or deleted, the aliases), before it acknowledges the change; a follower that reads a
count it has not caught up to looks at the files again. So whatever was acknowledged before
a follower's read began is in what that read sees, and a read while nothing changed costs
one load from memory. The storage's file counts every change (`EVERY`) and those to the list
of collections and aliases (`LISTING`); each collection's folder has its own, so a follower
looks again only at the collections that changed.
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
from pathlib import Path

FILE = ".changes"
EVERY, LISTING = 0, 1  # the storage's counts
_COUNT = struct.Struct("<Q")


class Changes:
    """The `slots` counts in `<folder>/.changes`. `create`: the writer's (a follower opens the
    writer's file and never writes it)."""

    def __init__(self, folder: Path, *, create: bool = True, slots: int = 1) -> None:
        size = slots * _COUNT.size
        flags = os.O_RDWR | os.O_CREAT if create else os.O_RDONLY
        fd = os.open(folder / FILE, flags, 0o644)
        try:
            if create and os.fstat(fd).st_size < size:  # or written by a version with fewer
                os.ftruncate(fd, size)
            access = mmap.ACCESS_WRITE if create else mmap.ACCESS_READ
            self._map = mmap.mmap(fd, size, access=access)
        finally:
            os.close(fd)
        self._lock = threading.Lock()

    def count(self, slot: int = EVERY) -> int:
        return int(_COUNT.unpack_from(self._map, slot * _COUNT.size)[0])

    def bump(self, *slots: int) -> None:
        """One change more in each of `slots` (the writer's; default the first). Aligned
        eight-byte stores, in that order: a follower reads a count before it or after it."""
        with self._lock:
            for slot in slots or (EVERY,):
                count = (self.count(slot) + 1) % (1 << 64)
                _COUNT.pack_into(self._map, slot * _COUNT.size, count)

    def close(self) -> None:
        self._map.close()
