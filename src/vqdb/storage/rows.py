"""Reading rows of a .npy file by number, many at once, for rescoring from on-disk originals.

Rescoring reads `limit * oversampling` original vectors per query. Through a memory map they
arrive one page fault at a time; a `RowFile` hands all of a batch's rows to the native reader,
which keeps them in flight together (io_uring, or a pool of threads calling pread where the
kernel refuses io_uring, as containers often do). Python owns the format: this module parses
the .npy header and tells the reader where the rows start and how wide they are.

The read paths, as `async_scorer` names them (vqdb.Database / vqdb.Client / server config):
    False, "mmap"  rows are read in place through the memory map (the default)
    True, "auto"   in place when the page cache holds a query's candidates (mincore on a
                   sample of them), else through io_uring
    "io_uring"     every row through io_uring (pread where refused)
    "pread"        every row through the pread thread pool
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

import numpy as np

from vqdb.errors import StorageError
from vqdb.native import _core

ReadPath = Literal["mmap", "auto", "io_uring", "pread"]
READ_PATHS: tuple[ReadPath, ...] = ("mmap", "auto", "io_uring", "pread")

log = logging.getLogger("vqdb")
_warned: set[str] = set()  # fallback reasons already logged at WARNING


def read_path(async_scorer: bool | str) -> ReadPath:
    """The read path an `async_scorer` option asks for (True: "auto", False: "mmap")."""
    if async_scorer is True:
        return "auto"
    if async_scorer is False:
        return "mmap"
    for path in READ_PATHS:
        if async_scorer == path:
            return path
    raise ValueError(
        f"async_scorer must be true, false or one of {', '.join(READ_PATHS)}; got {async_scorer!r}"
    )


class RowFile:
    """The rows of a 2-d, C-ordered .npy file, read through a native `_core.RowReader`.

    Opening checks the file against its header, so a truncated file is an error naming it here
    rather than a short read later (or, through a memory map, a SIGBUS). `display` is the name
    errors use (a segment being built is read from its staging folder, then renamed)."""

    def __init__(
        self, path: Path, method: Literal["io_uring", "pread"], display: Path | None = None
    ) -> None:
        self.path = path
        name = str(display or path)
        try:
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = header(f)
                offset = f.tell()
                size = os.fstat(f.fileno()).st_size
                if len(shape) != 2 or fortran:
                    raise StorageError(f"{name}: expected a C-ordered 2-d array, found {shape}")
                rows, row_bytes = int(shape[0]), int(shape[1]) * dtype.itemsize
                if size < offset + rows * row_bytes:
                    raise StorageError(
                        f"{name}: truncated: {size} bytes, its header describes "
                        f"{offset + rows * row_bytes} ({rows} rows of {row_bytes} bytes)"
                    )
                self.reader = _core.RowReader(f.fileno(), offset, row_bytes, rows, method, name)
        except (OSError, ValueError) as e:
            if isinstance(e, StorageError):
                raise
            raise StorageError(f"{name}: cannot read rows from it: {e}") from e
        self.rows, self.row_bytes, self.offset = rows, row_bytes, offset
        if self.reader.fallback:
            level = logging.DEBUG if self.reader.fallback in _warned else logging.WARNING
            _warned.add(self.reader.fallback)
            log.log(
                level,
                "io_uring unavailable (%s): rescoring reads %s through a pread thread pool",
                self.reader.fallback,
                name,
            )

    @property
    def method(self) -> str:
        """ "io_uring" or "pread": what the reader uses (io_uring may have been refused)."""
        return self.reader.method

    def read(self, rows: np.ndarray) -> np.ndarray:
        """The raw bytes of the given rows, (len(rows), row_bytes) uint8."""
        return self.reader.read(np.ascontiguousarray(rows, dtype=np.uint32))
