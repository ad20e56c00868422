"""A storage folder that another process writes, read here: what the server's reader
processes serve searches from while one process, the folder's `Database`, writes it.

The writer counts its changes in `<storage>/.changes` (storage/changes.py), each after it is
in the files and before it is acknowledged. `catch_up`, called before a read, compares that
count with the one last caught up to; where it moved, it lists the collections again, brings
each up to its files (collection/follower.py) and reads the aliases. A read therefore sees
every write acknowledged before it began, as a read of the writer itself would.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, NoReturn

from vqdb.collection import storage
from vqdb.collection.collection import Collection
from vqdb.collection.follower import CollectionFollower, Gone
from vqdb.database import ALIASES, Database
from vqdb.errors import BadInput
from vqdb.storage.changes import LISTING, Changes
from vqdb.storage.files import identity, read_json


class Follower(Database):
    def __init__(self, path: str | Path, *, async_scorer: bool | str = False) -> None:
        super().__init__(None, async_scorer=async_scorer)
        self.path = Path(path)
        if not (self.path / "collections").is_dir():
            raise BadInput(f"{self.path} is not a vqdb storage folder")
        self._count = Changes(self.path, create=False, slots=2)
        self._followers: dict[str, CollectionFollower] = {}
        self._seen: int | None = None  # the count every collection was caught up to
        self._listed: int | None = None  # the count of listings the collections were listed at
        self._aliases_read: tuple[tuple[int, int, int] | None, dict[str, str]] = (None, {})
        self._catching_up = threading.Lock()
        self.catch_up()

    def catch_up(self) -> None:
        """Brings every collection and alias up to what the writer has acknowledged: the
        collections whose own count moved, or all of them where the list of collections or
        the aliases changed (not only the one a read names: a read may look up points of
        others, lookup_from and with_lookup)."""
        if self._count.count() == self._seen:
            return
        with self._catching_up:
            count = self._count.count()  # before the files are read: a later change is seen later
            if count == self._seen:
                return
            listing = self._count.count(LISTING)
            if listing == self._listed:
                collections = self._catch_up_moved()
            else:
                collections = self._catch_up_all()
                self._listed = listing
            with self._lock:
                self._collections = collections
                self._aliases = {a: c for a, c in self._aliases_read[1].items() if c in collections}
            self._seen = count

    def _catch_up_all(self) -> dict[str, Collection]:
        assert self.path is not None
        self._read_aliases()
        folders = sorted(
            d for d in (self.path / "collections").iterdir() if (d / storage.MANIFEST).exists()
        )
        collections = {}
        for folder in folders:
            follower = self._followers.get(folder.name) or CollectionFollower(
                folder, self.read_path
            )
            follower.count_again()  # the folder may be another one of the same name
            try:
                collections[folder.name] = follower.catch_up()
            except Gone:
                continue
            self._followers[folder.name] = follower
        for gone in self._followers.keys() - collections.keys():
            del self._followers[gone]
        return collections

    def _catch_up_moved(self) -> dict[str, Collection]:
        """The same collections as before, those whose count moved caught up."""
        collections = dict(self._collections)
        for name, follower in list(self._followers.items()):
            if follower.moved():
                try:
                    collections[name] = follower.catch_up()
                except Gone:  # deleted just now: the listing's count moves next
                    del self._followers[name]
                    collections.pop(name, None)
        return collections

    def _read_aliases(self) -> dict[str, str]:
        """The aliases file, read again only where it was replaced since the last read."""
        assert self.path is not None
        try:
            now = identity(self.path / ALIASES)
        except FileNotFoundError:
            self._aliases_read = (None, {})
            return {}
        if now != self._aliases_read[0]:
            self._aliases_read = (now, dict(read_json(self.path / ALIASES)))
        return self._aliases_read[1]

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise BadInput(f"storage {self.path} is only read here: another process writes it")

    create_collection = delete_collection = remove = _refuse
    create_vector = delete_vector = update_collection = update_aliases = _refuse

    def close(self) -> None:
        with self._lock:
            self._collections = {}
            self._aliases = {}
        self._followers.clear()
        self._count.close()
