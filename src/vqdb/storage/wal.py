"""The write-ahead log: an acknowledged write is on disk here before it is applied anywhere.

One append-only file of records, each `[u32 body length][u32 crc32 of body][body]`, where the
body is `[u64 sequence number][payload]`. A crash can leave a torn or half-written record at the
tail; opening the log keeps every record before it and cuts the rest off, so a torn tail is
ignored, never fatal. After a checkpoint has made the applied state durable elsewhere, the log
is emptied; sequence numbers keep counting.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

_HEAD = struct.Struct("<II")
_SEQ = struct.Struct("<Q")


class Wal:
    def __init__(self, path: Path, next_seq: int = 1) -> None:
        self.path = path
        self._records = _scan(path)
        good = self._records[-1][2] if self._records else 0
        if path.exists() and path.stat().st_size > good:
            with open(path, "r+b") as f:  # cut off the torn tail before appending after it
                f.truncate(good)
                os.fsync(f.fileno())
        last = self._records[-1][0] if self._records else 0
        self.next_seq = max(next_seq, last + 1)
        self._file = open(path, "ab")  # noqa: SIM115 (held open for the log's lifetime)
        self._lock = threading.Lock()

    def replay(self, after: int = 0) -> Iterator[tuple[int, bytes]]:
        """The records found on open with sequence numbers above `after`, in order."""
        with open(self.path, "rb") as f:
            for seq, start, end in self._records:
                if seq > after:
                    f.seek(start)
                    yield seq, f.read(end - start)
        self._records = []

    def append(self, payload: bytes, *, sync: bool) -> int:
        """Writes one record and returns its sequence number; `sync` waits for the disk."""
        with self._lock:
            seq = self.next_seq
            body = _SEQ.pack(seq) + payload
            self._file.write(_HEAD.pack(len(body), zlib.crc32(body)) + body)
            self._file.flush()
            if sync:
                os.fsync(self._file.fileno())
            self.next_seq += 1
            return seq

    def sync(self) -> None:
        with self._lock:
            self._file.flush()
            os.fsync(self._file.fileno())

    @property
    def size(self) -> int:
        return self._file.tell()

    def clear(self) -> None:
        """Empties the log: everything in it is durable elsewhere now."""
        with self._lock:
            self._file.truncate(0)
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()


def _scan(path: Path) -> list[tuple[int, int, int]]:
    """(seq, payload start, record end) of each intact record, up to the first damaged one."""
    if not path.exists():
        return []
    records = []
    data = path.read_bytes()
    pos = 0
    while pos + _HEAD.size + _SEQ.size <= len(data):
        length, crc = _HEAD.unpack_from(data, pos)
        body_start = pos + _HEAD.size
        end = body_start + length
        if length < _SEQ.size or end > len(data):
            break
        if zlib.crc32(memoryview(data)[body_start:end]) != crc:
            break
        (seq,) = _SEQ.unpack_from(data, body_start)
        records.append((seq, body_start + _SEQ.size, end))
        pos = end
    return records
