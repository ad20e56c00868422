"""A storage directory of collections, or none at all (everything in memory).

    <path>/collections/<name>/   one directory per collection (collection/storage.py)
    <path>/snapshots/<name>/     its snapshots (collection/snapshots.py)
    <path>/.lock                 held while a process has the storage open

The embedded client and the HTTP server both sit on a Database; it owns the collections'
lifecycle (create, open, update, delete, close) and their optimizers.
"""

from __future__ import annotations

import fcntl
import re
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from vqdb.collection import storage
from vqdb.collection.collection import Collection
from vqdb.collection.config import CollectionConfig
from vqdb.collection.optimizer import Optimizer
from vqdb.errors import AlreadyExists, BadInput, NotFound
from vqdb.storage.files import release_free_memory
from vqdb.storage.rows import read_path

_NAME = re.compile(r"^[^/\\\0]{1,255}$")


class Database:
    """async_scorer (the server config's `storage.async_scorer`): how segments with on-disk
    originals read them for rescoring. False: in place through the memory map; True: rows the
    page cache holds in place, the others all at once through io_uring (a pread thread pool
    where the kernel refuses io_uring); "mmap", "auto", "io_uring" or "pread" force one path
    (see vqdb.storage.rows)."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        optimizer_threads: int = 0,
        async_scorer: bool | str = False,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.optimizer_threads = optimizer_threads
        self.read_path = read_path(async_scorer)
        self._collections: dict[str, Collection] = {}
        self._lock = threading.RLock()
        self._lock_file: IO[str] | None = None
        if self.path is not None:
            (self.path / "collections").mkdir(parents=True, exist_ok=True)
            self._lock_file = open(self.path / ".lock", "w")  # noqa: SIM115 (held until close)
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._lock_file.close()
                raise BadInput(
                    f"storage folder {self.path} is already in use by another vqdb instance"
                ) from None
            _remove_scratch(self.path)
            for directory in sorted((self.path / "collections").iterdir()):
                if (directory / storage.MANIFEST).exists():
                    self._start(storage.open_collection(directory, self.read_path))
            release_free_memory()

    def _start(self, collection: Collection) -> Collection:
        self._collections[collection.name] = collection
        Optimizer(collection, self.optimizer_threads).wake()
        return collection

    # ---- collections ------------------------------------------------------------------------

    def collection_names(self) -> list[str]:
        with self._lock:
            return sorted(self._collections)

    def exists(self, name: str) -> bool:
        with self._lock:
            return name in self._collections

    def collection(self, name: str) -> Collection:
        with self._lock:
            found = self._collections.get(name)
        if found is None:
            raise NotFound(f"Collection `{name}` doesn't exist!")
        return found

    def create_collection(self, name: str, body: Mapping[str, Any]) -> Collection:
        if not isinstance(name, str) or not _NAME.match(name) or name in (".", ".."):
            raise BadInput(f"bad collection name {name!r}")
        try:
            config = CollectionConfig.parse(body)
        except ValueError as e:
            raise BadInput(str(e)) from None
        with self._lock:
            if name in self._collections:
                raise AlreadyExists(f"Wrong input: Collection `{name}` already exists!")
            directory = None if self.path is None else self.path / "collections" / name
            if directory is not None and directory.exists():
                shutil.rmtree(directory)  # a leftover without a manifest: never acknowledged
            return self._start(storage.create(directory, name, config, self.read_path))

    def delete_collection(self, name: str) -> bool:
        with self._lock:
            collection = self._collections.pop(name, None)
        if collection is None:
            return False
        _close(collection)
        if collection.path is not None:
            shutil.rmtree(collection.path, ignore_errors=True)
        return True

    def update_collection(self, name: str, diff: Mapping[str, Any]) -> None:
        """Config changes apply at once; segments built with the old config are rebuilt from
        the untouched originals in the background, and keep answering meanwhile."""
        collection = self.collection(name)
        try:
            config = collection.config.updated(diff)
        except ValueError as e:
            raise BadInput(str(e)) from None
        with collection.lock.write():
            collection.config = config
            storage.checkpoint(collection)
        if collection.optimizer is not None:
            collection.optimizer.wake()

    def close(self) -> None:
        with self._lock:
            collections = list(self._collections.values())
            self._collections.clear()
        for collection in collections:
            _close(collection)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _remove_scratch(path: Path) -> None:
    """Work folders a crash left behind: snapshot recoveries and half-written snapshots."""
    leftovers = list(path.glob(".recover-*")) + list(path.glob("snapshots/*/.*"))
    for leftover in leftovers:
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)


def _close(collection: Collection) -> None:
    """Stops the optimizer, checkpoints, and closes the WAL."""
    if collection.optimizer is not None:
        collection.optimizer.stop()
    with collection.lock.write():
        if collection.closed:
            return
        storage.checkpoint(collection)
        collection.closed = True
        if collection.wal is not None:
            collection.wal.close()
