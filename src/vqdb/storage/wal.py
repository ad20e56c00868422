"""The write-ahead log: an acknowledged write is on disk here before it is applied anywhere.

One append-only file of records, each `[u32 body length][u32 crc32 of body][body]`, where the
body is `[u64 sequence number][payload]`; sequence numbers rise by one per record and keep
counting after the log is emptied by a checkpoint (which keeps the records it emptied as
`wal.log.prev` until the next one, for processes following the folder).

A failed append (a full disk, an I/O error) is rolled back before the error reaches the
caller: the file is cut back to the end of the last whole record, so a later record is never
written after a torn one. Where even the cut fails, the log refuses every append until a retry
of the cut succeeds.

Opening tells the two kinds of damage apart. A torn or half-written record at the tail is what
a crash mid-append leaves: it is cut off, and every record before it is kept. Damage in the
middle (a bad disk sector, a stray write) is followed by whole records: those are replayed
too, the damaged bytes are skipped with an error naming the sequence numbers lost, and the log
as found is kept beside it (`wal.log.damaged-<seq>`) for inspection.
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vqdb.errors import StorageFull, is_storage_full
from vqdb.storage.files import fsync_dir

_HEAD = struct.Struct("<II")
_SEQ = struct.Struct("<Q")
log = logging.getLogger("vqdb")


class Wal:
    def __init__(self, path: Path, next_seq: int = 1) -> None:
        self.path = path
        self._records = _scan(path, after=next_seq - 1)
        end = self._records[-1][2] if self._records else 0
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if os.fstat(self._fd).st_size > end:  # cut off the torn tail before appending after it
            os.ftruncate(self._fd, end)
            os.fsync(self._fd)
        self._end = end
        self._torn = False  # a failed append could not be cut back off the end
        last = self._records[-1][0] if self._records else 0
        self.next_seq = max(next_seq, last + 1)
        self._lock = threading.Lock()

    def replay(self, after: int = 0) -> Iterator[tuple[int, bytes]]:
        """The records found on open with sequence numbers above `after`, in order."""
        with open(self.path, "rb") as f:
            for seq, start, end in self._records:
                if seq > after:
                    f.seek(start)
                    yield seq, f.read(end - start)
        self._records = []

    def append(self, payload: bytes | Sequence[Any], *, sync: bool) -> int:
        """Writes one record and returns its sequence number; `sync` waits for the disk.
        `payload`: bytes, or bytes-like parts that follow one another (written as they are,
        not joined first). Raises StorageFull (or the OSError) with nothing of the record left
        in the log."""
        parts = [payload] if isinstance(payload, bytes) else list(payload)
        with self._lock:
            self._mend()
            seq = self.next_seq
            body = [_SEQ.pack(seq), *parts]
            length = sum(memoryview(part).nbytes for part in body)
            crc = 0
            for part in body:
                crc = zlib.crc32(part, crc)
            record = [_HEAD.pack(length, crc), *body]
            size = _HEAD.size + length
            try:
                written = os.pwritev(self._fd, record, self._end)
                if written < size:  # a short write (rare): the rest from the joined record
                    whole = memoryview(b"".join(record))
                    while written < size:
                        written += os.pwrite(self._fd, whole[written:], self._end + written)
                if sync:
                    os.fsync(self._fd)
            except OSError as e:
                self._torn = True
                self._mend(raising=False)
                if is_storage_full(e):
                    message = f"No space left on device: the write was not applied ({self.path})"
                    raise StorageFull(e.errno, message) from e
                raise
            self._end += size
            self.next_seq += 1
            return seq

    def _mend(self, *, raising: bool = True) -> None:
        """Cuts a failed append's bytes off the end of the log (the caller holds the lock)."""
        if not self._torn:
            return
        try:
            os.ftruncate(self._fd, self._end)
            self._torn = False
        except OSError as e:
            log.error("WAL %s: cannot cut off a failed append: %s", self.path, e)
            if raising:
                raise

    def sync(self) -> None:
        with self._lock:
            os.fsync(self._fd)

    @property
    def size(self) -> int:
        return self._end

    def clear(self) -> None:
        """Empties the log: everything in it is durable elsewhere now. Its records stay
        readable beside it (`previous(path)`) until the next clear, for the processes that
        follow the folder: one that had not read them all takes them from there rather than
        load the segments again (collection/follower.py). A new file takes the log's name: a
        failure before that leaves the log as it was."""
        with self._lock:
            fresh = self.path.with_name(self.path.name + ".new")
            fd = os.open(fresh, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.replace(self.path, previous(self.path))
                try:
                    os.replace(fresh, self.path)
                except OSError:
                    os.replace(previous(self.path), self.path)
                    raise
            except OSError:
                os.close(fd)
                fresh.unlink(missing_ok=True)
                raise
            fsync_dir(self.path.parent)
            os.close(self._fd)
            self._fd = fd
            self._end = 0
            self._torn = False

    def close(self) -> None:
        with self._lock:
            if self._fd < 0:
                return
            try:
                self._mend(raising=False)
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = -1


def previous(path: Path) -> Path:
    """Where the log's records before its last clear are kept."""
    return path.with_name(path.name + ".prev")


def read_from(path: Path, offset: int) -> tuple[list[tuple[int, bytes]], int]:
    """(seq, payload) of the whole records from byte `offset` on, and the offset after the
    last: what a process following another's log reads. It stops at the first record that is
    not whole, which may be one being appended right now; it never cuts or repairs."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    found: list[tuple[int, bytes]] = []
    pos = 0
    while (record := _record_at(data, pos)) is not None:
        seq, end = record
        found.append((seq, data[pos + _HEAD.size + _SEQ.size : end]))
        pos = end
    return found, offset + pos


def _scan(path: Path, after: int) -> list[tuple[int, int, int]]:
    """(seq, payload start, record end) of each intact record. Past a damaged record the scan
    resumes at the next intact one, if any (one whose number is above every number before it,
    and above `after` where none is); none means the damage is a torn tail."""
    if not path.exists():
        return []
    records: list[tuple[int, int, int]] = []
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        found = _record_at(data, pos)
        if found is None:
            last = records[-1][0] if records else after
            resume = _next_record(data, pos + 1, last)
            if resume is None:
                break  # a torn tail
            _report_damage(path, data, pos, resume, last)
            pos = resume
            continue
        seq, end = found
        records.append((seq, pos + _HEAD.size + _SEQ.size, end))
        pos = end
    return records


def _record_at(data: bytes, pos: int) -> tuple[int, int] | None:
    """(seq, end) of the whole record starting at pos, or None."""
    if pos + _HEAD.size + _SEQ.size > len(data):
        return None
    length, crc = _HEAD.unpack_from(data, pos)
    start, end = pos + _HEAD.size, pos + _HEAD.size + length
    if length < _SEQ.size or end > len(data):
        return None
    if zlib.crc32(memoryview(data)[start:end]) != crc:
        return None
    return _SEQ.unpack_from(data, start)[0], end


def _next_record(data: bytes, start: int, last: int) -> int | None:
    """The first offset >= start holding a whole record numbered above `last`. Candidates are
    found in numpy (a plausible length and number at each offset, eight offsets at a time),
    and only those pay for a CRC."""
    offsets: list[np.ndarray] = []
    size = len(data)
    for shift in range(8):
        first = start + shift
        count = (size - first - _HEAD.size - _SEQ.size) // 8 + 1
        if count <= 0:
            continue
        # each u64 word at first + 8k: its low half is the length field of a record there
        heads = np.frombuffer(data, dtype="<u8", count=count, offset=first)
        seqs = np.frombuffer(data, dtype="<u8", count=count, offset=first + _HEAD.size)
        at = first + 8 * np.arange(count, dtype=np.int64)
        lengths = (heads & 0xFFFFFFFF).astype(np.int64)
        plausible = (
            (seqs > last)
            & (seqs - np.uint64(last) < np.uint64(1 << 32))
            & (lengths >= _SEQ.size)
            & (at + _HEAD.size + lengths <= size)
        )
        offsets.append(at[plausible])
    for offset in np.sort(np.concatenate(offsets)) if offsets else ():
        if _record_at(data, int(offset)) is not None:
            return int(offset)
    return None


def _report_damage(path: Path, data: bytes, start: int, resume: int, last: int) -> None:
    found = _record_at(data, resume)
    assert found is not None
    lost = f"{last + 1}..{found[0] - 1}" if found[0] - 1 > last else "none"
    kept = path.with_name(f"{path.name}.damaged-{last + 1}")
    if not kept.exists():
        shutil.copyfile(path, kept)
    log.error(
        "WAL %s: bytes %d..%d are damaged and skipped; records %s are lost, the records after "
        "them are replayed; the log as found is kept in %s",
        path,
        start,
        resume,
        lost,
        kept,
    )
