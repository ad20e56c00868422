"""The writes a Dead replica missed, kept on the router's disk as well as in its memory, so that
a server restarted before the replica came back still owes them (and marks it Dead until it has
caught up). One file per replica: its missed calls, pickled one after another.

A call is appended (flushed, not fsynced: it is the replica's debt, and the write itself is
already durable on the replicas that applied it) before the write is acknowledged; the file
goes once the replica has caught up."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

Call = tuple[str, tuple[Any, ...]]


class Backlog:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, shard: int, replica: int) -> Path:
        return self.folder / f"{shard}-{replica}.missed"

    def add(self, shard: int, replica: int, call: Call) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self._path(shard, replica), "ab") as f:
            pickle.dump(call, f, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, shard: int, replica: int) -> list[Call]:
        path = self._path(shard, replica)
        calls: list[Call] = []
        if not path.exists():
            return calls
        with open(path, "rb") as f:
            while True:
                try:
                    calls.append(pickle.load(f))
                except EOFError:
                    return calls
                except (pickle.UnpicklingError, ValueError):  # torn by a crash mid-append
                    return calls

    def clear(self, shard: int, replica: int) -> None:
        self._path(shard, replica).unlink(missing_ok=True)
