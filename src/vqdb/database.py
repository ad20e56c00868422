"""A storage directory of collections, or none at all (everything in memory).

    <path>/collections/<name>/   one directory per collection (collection/storage.py)
    <path>/snapshots/<name>/     its snapshots (collection/snapshots.py)
    <path>/aliases.json          alias -> collection name
    <path>/.lock                 held while a process has the storage open
    <path>/.changes              its count of changes, for processes that follow it

The embedded client and the HTTP server both sit on a Database; it owns the collections'
lifecycle (create, open, update, delete, close) and their optimizers.
"""

from __future__ import annotations

import fcntl
import logging
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from vqdb.collection import storage
from vqdb.collection.collection import Collection
from vqdb.collection.config import CollectionConfig
from vqdb.collection.optimizer import Optimizer
from vqdb.errors import AlreadyExists, BadInput, NotFound, OutOfRange, refused
from vqdb.storage.changes import EVERY, LISTING, Changes
from vqdb.storage.files import read_json, release_free_memory, write_json
from vqdb.storage.rows import read_path
from vqdb.validation import check_collection_name

_NAME = re.compile(r"^[^/\\\0]{1,255}$")  # alias names (never a file name)
ALIASES = "aliases.json"
log = logging.getLogger("vqdb")


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
        ray_address: str | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.optimizer_threads = optimizer_threads
        self.read_path = read_path(async_scorer)
        self._collections: dict[str, Collection] = {}
        # with a Ray address, new collections are distributed (vqdb.cluster): name -> one
        self.ray_address = ray_address
        self._distributed: dict[str, Any] = {}
        self._aliases: dict[str, str] = {}
        self._lock = threading.RLock()
        self._lock_file: IO[str] | None = None
        self._changes: Changes | None = None
        if ray_address is not None:  # joined now: a wrong address fails here, not later
            from vqdb.cluster import connect

            connect(ray_address)
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
            self._changes = Changes(self.path, slots=2)
            _remove_scratch(self.path)
            for directory in sorted((self.path / "collections").iterdir()):
                if (directory / storage.MANIFEST).exists():
                    self._start(storage.open_collection(directory, self.read_path))
            if ray_address is not None:
                self._open_distributed()
            if (self.path / ALIASES).exists():
                saved = read_json(self.path / ALIASES)
                known = self._collections.keys() | self._distributed.keys()
                self._aliases = {a: c for a, c in saved.items() if c in known}
            release_free_memory()

    def _cluster_folder(self) -> Path:
        """Where distributed collections keep their metadata, and their replicas their folders
        (the same path on every node: see vqdb.cluster)."""
        if self._cluster_root is None:
            if self.path is not None:
                self._cluster_root = self.path / "cluster"
            else:  # an in-memory database still needs folders for its replicas' WALs
                self._cluster_root = Path(tempfile.mkdtemp(prefix="vqdb-cluster-"))
        return self._cluster_root

    _cluster_root: Path | None = None

    def _replica_options(self) -> dict[str, Any]:
        """What a distributed collection's replicas open their collections with."""
        return {"optimizer_threads": self.optimizer_threads, "read_path": self.read_path}

    def _open_distributed(self) -> None:
        from vqdb.cluster import connect
        from vqdb.cluster.sharded import META, ShardedCollection

        assert self.ray_address is not None
        connect(self.ray_address)
        root = self._cluster_folder()
        if root.exists():
            for folder in sorted(root.iterdir()):
                if (folder / META).exists():
                    sharded = ShardedCollection.open(folder, self._replica_options())
                    self._distributed[sharded.name] = sharded

    def _start(self, collection: Collection) -> Collection:
        collection.init_time_ms = int((time.perf_counter() - collection.started) * 1000)
        self._collections[collection.name] = collection
        if self._changes is not None and collection.path is not None:
            collection.changed = _counted(Changes(collection.path), self._changes)
        self._changed()
        Optimizer(collection, self.optimizer_threads).wake()
        return collection

    def _changed(self) -> None:
        """The list of collections or the aliases changed."""
        if self._changes is not None:
            self._changes.bump(EVERY, LISTING)

    def catch_up(self) -> None:
        """Nothing: the process that writes a folder is never behind it (vqdb.follower)."""

    # ---- collections ------------------------------------------------------------------------

    def collection_names(self) -> list[str]:
        with self._lock:
            return sorted(self._collections.keys() | self._distributed.keys())

    def exists(self, name: str) -> bool:
        with self._lock:  # no set of all names: this runs for every request
            return name in self._collections or name in self._distributed or name in self._aliases

    def _all(self) -> set[str]:
        return self._collections.keys() | self._distributed.keys()

    def collection(self, name: str) -> Collection:
        """The collection of that name or alias; NotFound if there is none. A distributed one
        (vqdb.cluster.sharded) has the same write methods; reads go through vqdb.engine."""
        with self._lock:
            target = self._aliases.get(name, name)
            found = self._collections.get(target) or self._distributed.get(target)
        if found is None:
            raise NotFound(f"Collection `{name}` doesn't exist!")
        return found

    def create_collection(self, name: str, body: Mapping[str, Any]) -> Collection:
        if not storage.plain_name(name):  # its folder's name: 255 bytes, not 255 characters
            problem = f"collection_name: {storage.NAME_RULE}"
            raise OutOfRange(f"Validation error in path parameters: [{problem}]")
        check_collection_name(name, new=True)  # and Qdrant's rules for a new name
        # custom sharding (shards made per shard key) needs a distributed collection
        custom = self.ray_address is not None and body.get("sharding_method") == "custom"
        try:
            config = CollectionConfig.parse(
                {k: v for k, v in body.items() if k != "sharding_method"} if custom else body
            )
        except ValueError as e:
            raise refused(e) from None
        with self._lock:
            if name in self._all():
                raise AlreadyExists(f"Wrong input: Collection `{name}` already exists!")
            if name in self._aliases:  # Qdrant: bad input (400), not a conflict
                raise BadInput(f"Wrong input: Alias with the same name `{name}` already exists!")
            if self.ray_address is not None:
                return self._create_distributed(name, config, custom)
            directory = None if self.path is None else self.path / "collections" / name
            if directory is not None and directory.exists():
                shutil.rmtree(directory)  # a leftover without a manifest: never acknowledged
            return self._start(storage.create(directory, name, config, self.read_path))

    def _create_distributed(self, name: str, config: CollectionConfig, custom: bool) -> Collection:
        from vqdb.cluster import connect
        from vqdb.cluster.sharded import ShardedCollection

        assert self.ray_address is not None
        connect(self.ray_address)
        folder = self._cluster_folder() / name
        if folder.exists():
            shutil.rmtree(folder)  # a leftover without metadata: never acknowledged
        options = self._replica_options()
        sharded = ShardedCollection.create(name, config, folder, options, custom)
        self._distributed[name] = sharded
        return sharded  # type: ignore[return-value]

    def delete_collection(self, name: str) -> bool:
        """Deletes the collection and its aliases; False if there was none of that name."""
        with self._lock:
            if name in self._aliases.values():
                self._save_aliases({a: c for a, c in self._aliases.items() if c != name})
            return self.remove(name)

    def remove(self, name: str) -> bool:
        """Deletes the collection's data but keeps its aliases (for a replacement)."""
        with self._lock:
            collection = self._collections.pop(name, None)
            distributed = self._distributed.pop(name, None)
        if distributed is not None:
            distributed.close(remove=True)
            return True
        if collection is None:
            return False
        close_collection(collection)
        if collection.path is not None:
            shutil.rmtree(collection.path, ignore_errors=True)
        self._changed()
        return True

    def create_vector(self, name: str, vector: str, spec: Any) -> dict[str, Any]:
        """Qdrant's create_vector_name: a new dense ({"dense": {size, distance, ...}}) or sparse
        ({"sparse": {modifier}}) named vector, which no point has yet. Made again with the same
        config, nothing changes."""
        return self._change_vectors(name, lambda config: config.with_vector(vector, spec))

    def delete_vector(self, name: str, vector: str) -> dict[str, Any]:
        """Qdrant's delete_vector_name: the named vector leaves the config and every point."""
        return self._change_vectors(name, lambda config: config.without_vector(vector))

    def _change_vectors(
        self, name: str, change: Callable[[CollectionConfig], CollectionConfig]
    ) -> dict[str, Any]:
        collection = self.collection(name)
        if not isinstance(collection, Collection):  # distributed: every replica changes
            try:
                config = change(collection.config)
            except ValueError as e:
                raise refused(e) from None
            if config is not collection.config:
                collection.change_config(config)
            return {"operation_id": 0, "status": "completed"}
        with collection.lock.write():
            try:
                config = change(collection.config)
            except ValueError as e:
                raise refused(e) from None
            if config is not collection.config:
                undo = collection.change_vectors(config)
                try:
                    storage.checkpoint(collection)  # durable before it is acknowledged
                except BaseException:
                    undo()
                    raise
        if collection.optimizer is not None:
            collection.optimizer.wake()
        return {"operation_id": collection.applied_seq, "status": "completed"}

    def update_collection(self, name: str, diff: Mapping[str, Any]) -> None:
        """Config changes apply at once; segments built with the old config are rebuilt from
        the untouched originals in the background, and keep answering meanwhile."""
        collection = self.collection(name)
        try:
            config = collection.config.updated(diff)
        except ValueError as e:
            raise refused(e) from None
        if not isinstance(collection, Collection):  # distributed: every replica changes
            collection.change_config(config)
            return
        with collection.lock.write():
            collection.reconfigure(config)
            storage.checkpoint(collection)
        if collection.optimizer is not None:
            collection.optimizer.wake()

    # ---- aliases --------------------------------------------------------------------------

    def aliases(self, collection_name: str | None = None) -> list[dict[str, str]]:
        """[{"alias_name", "collection_name"}], of one collection or of all."""
        with self._lock:
            if collection_name is not None:
                collection_name = self.collection(collection_name).name
            return [
                {"alias_name": alias, "collection_name": target}
                for alias, target in sorted(self._aliases.items())
                if collection_name in (None, target)
            ]

    def update_aliases(self, actions: Sequence[Mapping[str, Any]]) -> None:
        """Qdrant's create_alias / delete_alias / rename_alias actions, all or none."""
        if not isinstance(actions, Sequence) or isinstance(actions, str):
            raise BadInput("'actions' must be a list")
        with self._lock:
            aliases = dict(self._aliases)
            for i, action in enumerate(actions):
                _apply_alias_action(aliases, action, self._all(), f"actions[{i}]")
            self._save_aliases(aliases)

    def _save_aliases(self, aliases: dict[str, str]) -> None:
        if self.path is not None:
            write_json(self.path / ALIASES, aliases)
        self._aliases = aliases
        self._changed()

    def close(self) -> None:
        with self._lock:
            collections = list(self._collections.values())
            self._collections.clear()
            distributed = list(self._distributed.values())
            self._distributed.clear()
        for sharded in distributed:  # their replicas live on in Ray, for the next start
            sharded.close(remove=self.path is None)  # (in memory, there is no next start)
        for collection in collections:
            close_collection(collection)
        if self._changes is not None:
            self._changes.close()
            self._changes = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _apply_alias_action(
    aliases: dict[str, str], action: Mapping[str, Any], collections: set[str], where: str
) -> None:
    kind = next(iter(action), None) if isinstance(action, Mapping) and len(action) == 1 else None
    fields = action[kind] if kind is not None else None
    if not isinstance(fields, Mapping):
        raise BadInput(f"{where}: expected one of create_alias, delete_alias, rename_alias")

    def name(key: str) -> str:
        value = fields.get(key)
        if not isinstance(value, str) or not _NAME.match(value):
            raise BadInput(f"{where}.{kind}.{key}: expected a name")
        return value

    def free(alias: str) -> None:
        if alias in aliases or alias in collections:
            raise AlreadyExists(f"Wrong input: Alias or collection `{alias}` already exists!")

    def known(alias: str) -> None:
        if alias not in aliases:
            raise NotFound(f"Alias `{alias}` doesn't exist!")

    if kind == "create_alias":
        alias, target = name("alias_name"), name("collection_name")
        if target not in collections:
            raise NotFound(f"Collection `{target}` doesn't exist!")
        aliases.pop(alias, None)  # Qdrant lets create_alias move an existing alias
        free(alias)
        aliases[alias] = target
    elif kind == "delete_alias":
        alias = name("alias_name")
        known(alias)
        del aliases[alias]
    elif kind == "rename_alias":
        old, new = name("old_alias_name"), name("new_alias_name")
        known(old)
        free(new)
        aliases[new] = aliases.pop(old)
    else:
        raise BadInput(f"{where}: unknown action {kind!r}")


def _remove_scratch(path: Path) -> None:
    """Work folders a crash left behind: snapshot recoveries and half-written snapshots."""
    leftovers = list(path.glob(".recover-*")) + list(path.glob("snapshots/.*"))
    leftovers += list(path.glob("snapshots/*/.*")) + list(path.glob("snapshots/*/shards/*/.*"))
    for leftover in leftovers:
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)


def close_collection(collection: Collection) -> None:
    """Stops the optimizer, checkpoints, and closes the WAL."""
    if collection.optimizer is not None:
        collection.optimizer.stop()
    with collection.lock.write():
        if collection.closed:
            return
        try:
            storage.checkpoint(collection)
        except OSError as e:  # a full disk, say: the WAL still holds every acknowledged write
            log.error(
                "collection %s: closing checkpoint failed (%s); the WAL keeps its writes",
                collection.name,
                e,
            )
        collection.closed = True
        if collection.wal is not None:
            collection.wal.close()


def _counted(own: Changes, storage: Changes) -> Callable[[], None]:
    """What a collection calls after each change is in its files: its own count, then the
    storage's."""

    def changed() -> None:
        own.bump()
        storage.bump()

    return changed
