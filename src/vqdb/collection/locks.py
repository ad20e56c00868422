"""A readers-writer lock: searches share a collection, writes and segment swaps have it alone.

The native searches release the GIL, so several readers really do run at once; a write must not
overlap them because appending to a vector set may move its memory.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType


class ReadWriteLock:
    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0
        self._shared = _Shared(self)

    def read(self) -> _Shared:
        """Shared access, `with lock.read(): ...` (one reusable context manager: every search
        takes it, and a generator-based one cost more than the rest of the lock)."""
        return self._shared

    def _enter_read(self) -> None:
        with self._mutex:
            # writers first: a steady stream of searches must not starve the writes
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1

    def _exit_read(self) -> None:
        with self._mutex:
            self._readers -= 1
            if not self._readers and self._waiting_writers:  # only writers wait on readers
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class _Shared:
    __slots__ = ("_lock",)

    def __init__(self, lock: ReadWriteLock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        self._lock._enter_read()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._lock._exit_read()
