"""A count of a storage folder's changes, shared by the process that writes the folder and the
processes that follow it (collection/follower.py): `<storage>/.changes`, eight bytes mapped
into memory by each of them.

The writer counts after each change is in the files (a WAL record, a manifest, a collection
made or deleted, the aliases), before it acknowledges the change; a follower that reads a
count it has not caught up to looks at the files again. So whatever was acknowledged before
a follower's read began is in what that read sees, and a read while nothing changed costs
one load from memory.
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
from pathlib import Path

FILE = ".changes"
_COUNT = struct.Struct("<Q")


class Changes:
    """`create`: the writer's (a follower opens the writer's file and never writes it)."""

    def __init__(self, storage: Path, *, create: bool = True) -> None:
        flags = os.O_RDWR | os.O_CREAT if create else os.O_RDONLY
        fd = os.open(storage / FILE, flags, 0o644)
        try:
            if os.fstat(fd).st_size < _COUNT.size:
                os.ftruncate(fd, _COUNT.size)
            access = mmap.ACCESS_WRITE if create else mmap.ACCESS_READ
            self._map = mmap.mmap(fd, _COUNT.size, access=access)
        finally:
            os.close(fd)
        self._lock = threading.Lock()

    def count(self) -> int:
        return int(_COUNT.unpack_from(self._map)[0])

    def bump(self) -> None:
        """One change more (the writer's). An aligned eight-byte store: a follower reads the
        count before it or after it."""
        with self._lock:
            _COUNT.pack_into(self._map, 0, (self.count() + 1) % (1 << 64))

    def close(self) -> None:
        self._map.close()
