"""What every group of client methods shares: the database, and finding a collection in it."""

from __future__ import annotations

from vqdb.collection.collection import Collection
from vqdb.database import Database


class ClientBase:
    _db: Database
    _closed: bool

    def _collection(self, name: str) -> Collection:
        """The collection, or vqdb.errors.NotFound (a ValueError) naming it."""
        if self._closed:
            raise RuntimeError("this vqdb.Client is closed: create a new one")
        return self._db.collection(name)

    def _others(self, name: str) -> Collection:
        """A collection that a query names (lookup_from, with_lookup)."""
        return self._database.collection(name)

    @property
    def _database(self) -> Database:
        if self._closed:
            raise RuntimeError("this vqdb.Client is closed: create a new one")
        return self._db
