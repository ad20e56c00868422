"""A collection as another process writes it: what a process that serves reads of a storage
folder it does not own holds (vqdb.follower), kept in step with the folder's files.

The writer's files are the only channel, in the order it writes them (collection/storage.py):
WAL records are appended, then applied; a checkpoint writes new segment generations, renames
the manifest over the old one, empties the WAL and deletes the old generations. So catching up
is: the same manifest as last time -> apply the WAL records appended since; a new manifest ->
apply the records the checkpoint emptied from the WAL (kept beside it, `wal.log.prev`, until
the next checkpoint), load it, taking every segment this process holds where it had then
applied every write the manifest holds (else those of the same generation it has not
changed), and apply the WAL's records past it. Whatever a writer does meanwhile shows as a
manifest that changed under the load, a WAL that no longer continues the sequence, or a file
already deleted; each means: look again. Nothing is ever written here.

The collection object stays the same for the life of the follower, and its state is swapped
under its write lock, so a read in flight finishes on the state it began with (a segment taken
over from it is changed only under that lock).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from vqdb.collection import storage
from vqdb.collection.collection import Collection
from vqdb.errors import StorageError
from vqdb.storage import wal
from vqdb.storage.changes import Changes
from vqdb.storage.files import identity
from vqdb.storage.rows import ReadPath

ATTEMPTS = 20  # looks at a folder being rewritten under it, before a follower gives up
log = logging.getLogger("vqdb")


class Gone(Exception):
    """The collection's folder has no manifest now: it was deleted."""


class _Moved(Exception):
    """The writer changed the files while they were being read: look again."""


class CollectionFollower:
    def __init__(self, path: Path, read_path: ReadPath = "mmap") -> None:
        self.path = path
        self.read_path = read_path
        self.collection: Collection | None = None
        self._manifest: tuple[int, int, int] | None = None  # the one loaded, by its stat
        self._offset = 0  # in the WAL, past the last record applied
        self._changes: Changes | None = None  # the writer's count of this collection's changes
        self._seen: int | None = None  # that count when last caught up
        self.count_again()

    def count_again(self) -> None:
        """Maps the collection's count of changes again (its folder may have been replaced);
        without one (a writer that keeps none), every catch-up looks at the files."""
        if self._changes is not None:
            self._changes.close()
        try:
            self._changes = Changes(self.path, create=False)
        except (OSError, ValueError):
            self._changes = None
        self._seen = None

    def moved(self) -> bool:
        """Whether the writer changed the collection since it was last caught up."""
        return self._changes is None or self._changes.count() != self._seen

    def catch_up(self) -> Collection:
        """The collection with everything the writer had in its files when this was called.
        Raises Gone where the collection was deleted, StorageError where the files kept
        changing under every look."""
        count = None if self._changes is None else self._changes.count()  # before the files
        for attempt in range(ATTEMPTS):
            try:
                caught_up = self._look()
                self._seen = count
                return caught_up
            except (_Moved, OSError, StorageError, ValueError, KeyError) as e:
                if isinstance(e, FileNotFoundError) and not self._manifest_path.exists():
                    raise Gone(str(self.path)) from None
                log.debug("collection %s moved while read (%s); again", self.path.name, e)
                time.sleep(0.001 * attempt)
        raise StorageError(f"{self.path}: its files kept changing while they were read")

    @property
    def _manifest_path(self) -> Path:
        return self.path / storage.MANIFEST

    def _look(self) -> Collection:
        manifest = identity(self._manifest_path)
        live = self.collection
        if live is None or manifest != self._manifest:
            return self._load(manifest)
        logged, end = wal.read_from(self.path / "wal.log", self._offset)
        if end < self._offset or (logged and logged[0][0] != live.applied_seq + 1):
            return self._load(identity(self._manifest_path))  # emptied by a checkpoint
        if logged:
            _check_sequence(logged)
            with live.lock.write():
                storage.replay(live, logged)
            self._offset = end
        return live

    def _load(self, manifest: tuple[int, int, int]) -> Collection:
        live = self.collection
        reuse, as_of = None, None
        if live is not None:
            self._take_retained(live)
            # up to the manifest's last write, every segment here is the writer's: none is
            # loaded again (a checkpoint for every 32 MB written reloaded the appendable
            # segment whole each time); else only those unchanged since they were loaded
            reuse = {s.name: s for s in live.segments}
            as_of = (live.applied_seq, live.config, live.payload_schema)
        loaded, _ = storage.load_collection(
            self.path, self.read_path, reuse=reuse, reused_as_of=as_of, shared=True
        )
        if live is not None and loaded.payload_schema != live.payload_schema:  # indexes differ
            loaded, _ = storage.load_collection(self.path, self.read_path, shared=True)
        logged, end = wal.read_from(self.path / "wal.log", 0)
        logged = [(seq, payload) for seq, payload in logged if seq > loaded.applied_seq]
        if logged and logged[0][0] != loaded.applied_seq + 1:
            raise _Moved("the WAL does not continue the manifest")
        _check_sequence(logged)
        if identity(self._manifest_path) != manifest:
            raise _Moved("a checkpoint replaced the manifest")
        if live is None:
            storage.replay(loaded, logged)
            self.collection = loaded
        else:
            with live.lock.write():
                storage.replay(loaded, logged)  # may change a segment `live` still reads
                _take_state(live, loaded)
        self._manifest, self._offset = manifest, end
        return self.collection  # type: ignore[return-value]

    def _take_retained(self, live: Collection) -> None:
        """Applies the records after `live`'s last that the last checkpoint emptied from the
        WAL, where they are still beside it (storage/wal.py's `previous`) and follow on."""
        logged, _ = wal.read_from(wal.previous(self.path / "wal.log"), 0)
        logged = [(seq, payload) for seq, payload in logged if seq > live.applied_seq]
        if not logged or logged[0][0] != live.applied_seq + 1:
            return
        try:
            _check_sequence(logged)
        except _Moved:  # replaced while read: the load goes without them
            return
        with live.lock.write():
            storage.replay(live, logged)


def _check_sequence(logged: list[tuple[int, bytes]]) -> None:
    for (before, _), (seq, _) in zip(logged, logged[1:]):
        if seq != before + 1:
            raise _Moved(f"WAL record {seq} follows {before}")


def _take_state(live: Collection, loaded: Collection) -> None:
    """`live` becomes what `loaded` holds (the caller holds live's write lock)."""
    if loaded.config.names != live.config.names:
        live.vectors_changed += 1
    live.config = loaded.config
    live.payload_schema = loaded.payload_schema
    live.segments = loaded.segments
    live.appendable = loaded.appendable
    live.applied_seq = loaded.applied_seq
    live.generation = loaded.generation
