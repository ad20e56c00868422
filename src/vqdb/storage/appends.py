"""Append-only files shared by checkpoint generations: what a segment that still takes points
has written stays written, and each generation adds only what came since.

A file is raw bytes with no header. Which prefix of it a generation holds (a count of rows, or
of bytes) is written in that generation's own metadata, which a rename makes current, so a
generation never depends on bytes past its prefix: a crash or failure mid-append leaves bytes
no generation names, and the next append writes over them. Nothing is ever cut off or
rewritten below a prefix a generation names, so a hard link of the file (a snapshot's) keeps
reading what it held.

Rows: an array's rows back to back (`append_rows`, `read_rows`; the caller keeps the dtype
and the shape of a row). Journal: JSON lines of `[key, value]`, where a later line for a key
replaces an earlier one (`journal_bytes` then `append`; `read_lines`).
"""

from __future__ import annotations

import mmap as mmap_module
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic_core import from_json, to_json

from vqdb.errors import StorageError


@dataclass
class Written:
    """What one such file holds so far, kept beside what it is written from."""

    file: str  # its name in its folder
    count: int  # rows, or a journal's bytes
    owner: object = None  # what it is written from: another object needs a file of its own
    dtype: str = ""  # a row's
    shape: tuple[int, ...] = ()
    entries: int = 0  # a journal's lines

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "count": self.count,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "entries": self.entries,
        }

    @classmethod
    def from_json(cls, value: Any, owner: object = None) -> Written:
        """What `to_json` gave, checked: metadata may come from an uploaded snapshot, and a
        file name that leaves the folder, or a dtype of Python objects, is refused
        (StorageError)."""
        try:
            file, count, dtype = value["file"], value["count"], value["dtype"]
            shape, entries = tuple(value["shape"]), value["entries"]
            numbers = (count, entries, *shape)
            plain = isinstance(file, str) and file == Path(file).name and file.endswith(_KINDS)
            if not plain or not all(type(n) is int and n >= 0 for n in numbers):
                raise ValueError(f"bad file name or counts in {value!r}")
            if not isinstance(dtype, str) or (file.endswith(".rows") and _objects(dtype)):
                raise ValueError(f"dtype {dtype!r} is not one of rows of numbers")
        except (KeyError, TypeError, ValueError) as e:
            raise StorageError(f"bad append-only file metadata: {e}") from e
        return cls(file, count, owner, dtype, shape, entries)


_KINDS = (".rows", ".journal")  # the endings of the files it names


def _objects(dtype: str) -> bool:
    return not dtype or np.dtype(dtype).hasobject


def append(path: Path, at: int, data: Any) -> int:
    """Writes `data` (bytes-like) at byte `at` of the file (made if missing) and waits for the
    disk; returns the end of what was written. The directory entry of a new file is made
    durable by the caller's next rename in that directory."""
    view = memoryview(data).cast("B")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        written = 0
        while written < view.nbytes:
            written += os.pwrite(fd, view[written:], at + written)
        os.fsync(fd)
    finally:
        os.close(fd)
    return at + view.nbytes


def append_rows(path: Path, rows_before: int, array: npt.NDArray[Any]) -> int:
    """Appends the rows of `array` after the file's first `rows_before` rows (of the same
    width); returns the count of rows the file then holds."""
    array = np.ascontiguousarray(array)
    width = row_bytes(array.dtype, array.shape[1:])
    if array.shape[0]:
        append(path, rows_before * width, array)
    return rows_before + int(array.shape[0])


def row_bytes(dtype: np.dtype[Any], shape: tuple[int, ...]) -> int:
    return int(np.dtype(dtype).itemsize * int(np.prod(shape, dtype=np.int64)))


def read_rows(path: Path, dtype: str, shape: Iterable[int], rows: int) -> npt.NDArray[Any]:
    """The file's first `rows` rows, a read-only memory map (an empty array for none). A file
    too short for them is a StorageError naming it."""
    shape = tuple(int(s) for s in shape)
    width = row_bytes(np.dtype(dtype), shape)
    if rows == 0 or width == 0:
        return np.zeros((rows, *shape), dtype=dtype)
    _check_length(path, rows * width)
    array = np.memmap(path, dtype=dtype, mode="r", shape=(rows, *shape))
    mapped = getattr(array, "_mmap", None)
    if mapped is not None and hasattr(mapped, "madvise"):
        mapped.madvise(mmap_module.MADV_SEQUENTIAL)  # read once, into RAM
    return array


def journal_bytes(entries: Iterable[tuple[Any, Any]]) -> tuple[bytes, int]:
    """Entries as journal lines, and how many."""
    lines = [to_json([key, value]) + b"\n" for key, value in entries]
    return b"".join(lines), len(lines)


def read_lines(path: Path, length: int) -> Iterator[tuple[Any, Any]]:
    """The (key, value) entries in the file's first `length` bytes, in the order written."""
    if length == 0:
        return
    _check_length(path, length)
    with open(path, "rb") as f:
        data = f.read(length)
    for line in data.splitlines():
        try:
            key, value = from_json(line)
        except ValueError as e:
            raise StorageError(f"{path}: a damaged line: {e}") from e
        yield key, value


def _check_length(path: Path, length: int) -> None:
    try:
        size = os.stat(path).st_size
    except OSError as e:
        raise StorageError(f"{path}: cannot read it: {e}") from e
    if size < length:
        raise StorageError(f"{path}: holds {size} bytes, its generation names {length}")
