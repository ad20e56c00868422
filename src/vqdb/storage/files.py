"""Crash-safe file writes: write a temporary file, fsync it, rename it over the target, fsync
the directory. A reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import ctypes
import json
import mmap as mmap_module
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb.errors import StorageError


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(tmp: Path, path: Path) -> None:
    os.replace(tmp, path)
    fsync_dir(path.parent)


@contextlib.contextmanager
def _removed_on_failure(tmp: Path) -> Iterator[None]:
    """A half-written temporary file is deleted, not left to hold the space a full disk
    needs back."""
    try:
        yield
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with _removed_on_failure(tmp), open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, separators=(",", ":"))
        f.flush()
        os.fsync(f.fileno())
    _replace(tmp, path)


def identity(path: Path) -> tuple[int, int, int]:
    """Which file is at `path` (inode, mtime, size): a file written by these functions is
    renamed into place, so a new one has another identity (OSError where there is none)."""
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns, st.st_size


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_array(
    path: Path, array: npt.NDArray[Any], *, sync_dir: bool = True, uncached: bool = False
) -> None:
    """`uncached`: drop the written pages from the page cache, for a file that is read back
    only through a memory map, a few scattered rows at a time. Cached as written (in large
    folios), each fault would map the whole folio around the row: rescoring a 6 KB row of
    on-disk originals added ~300 KB to RSS. Read back from disk, pages come one at a time."""
    tmp = path.with_name(path.name + ".tmp")
    with _removed_on_failure(tmp), open(tmp, "wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
        if uncached and hasattr(os, "posix_fadvise"):
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    os.replace(tmp, path)
    if sync_dir:
        fsync_dir(path.parent)


# numpy reads a .npy header with ast.literal_eval, which CPython 3.11 may not run in two threads
# at once (gh-106905): an optimizer's save met a load elsewhere as "SystemError: AST
# constructor recursion depth mismatch", and the optimizer failed. One load at a time.
_LOADING = threading.Lock()


def read_array(path: Path, *, mmap: bool = False) -> npt.NDArray[Any]:
    """The array in a .npy file: a read-only memory map, or loaded into RAM. A missing,
    truncated or garbled file is a StorageError naming it (a map that reached past the end of
    a truncated file would SIGBUS when read, so numpy refuses to make one)."""
    try:
        with _LOADING:
            array: npt.NDArray[Any] = np.load(
                path, mmap_mode="r" if mmap else None, allow_pickle=False
            )
    except (OSError, ValueError, EOFError) as e:
        raise StorageError(f"{path}: cannot load it: {e}") from e
    mapped = getattr(array, "_mmap", None)
    if mmap and mapped is not None and hasattr(mapped, "madvise"):
        # Rescoring reads a few scattered rows per query: readahead would fault in (and keep
        # resident) whole neighbourhoods of rows nobody asked for.
        mapped.madvise(mmap_module.MADV_RANDOM)
    return array


def release_free_memory() -> None:
    """Hands memory freed by loads and builds back to the OS. glibc keeps large freed blocks in
    its heap after the copies a segment load makes: ~100 B per vector of a 1536-d on-disk
    collection that would otherwise stay in RSS. A no-op where there is no glibc."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
