"""A segment on disk: one directory of .npy files and a little JSON.

What never changes after an optimized segment is built (ids, originals, quantized codes, graph;
its payloads as built, in `payloads.records`, and its payload indexes) is written once. What
does change (which points and vectors are alive) is written per checkpoint generation, as
`<part>.<generation>.<ext>`, so the manifest can switch from one complete generation to the
next in a single rename. Payloads set or removed since the build go to a journal
(`payloads.r<token>.journal`), and an appendable segment's ids and vectors to append-only files
(`<part>.r<token>.rows`), both shared by generations (storage/appends.py): each generation's
`payloads.<generation>.json` and `meta.<generation>.json` say how much of each it holds, so a
checkpoint writes what came since the last one, not the segment again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import mmap
import secrets
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb.errors import StorageError
from vqdb.filters import FieldIndex, build_index
from vqdb.index import Index
from vqdb.index.stores import VectorStore, required_arrays, store_from_state
from vqdb.segment.ids import load_ids
from vqdb.segment.payloads import Payloads
from vqdb.segment.segment import Segment
from vqdb.storage.appends import Written, append, append_rows, journal_bytes, read_lines, read_rows
from vqdb.storage.files import fsync_dir, read_array, read_json, write_array, write_json
from vqdb.storage.records import Records, write_records
from vqdb.storage.rows import ReadPath, RowFile

log = logging.getLogger("vqdb")

PAYLOAD_RECORDS = "payloads.records"  # an optimized segment's, as built


def _vector_file(position: int, key: str) -> str:
    # positions, not names: a vector name may hold any character
    return f"vector.{position}.{key}"


def save(
    segment: Segment,
    directory: Path,
    generation: int,
    *,
    full: bool,
    on_disk: Collection[str] = (),
    payloads_cached: bool = False,
) -> None:
    """Writes the segment's changing parts for `generation`, and everything else too when
    `full` (a freshly built segment). An appendable segment's ids and vectors go to
    append-only files that each generation extends with what came since the last (its other
    arrays, small, are written whole). The originals of the vectors named in `on_disk` are
    not left in the page cache (see write_array). A full optimized segment's payloads go to a
    records file, read in place from then on (segment/payloads.py; `payloads_cached`: read
    ahead into the page cache, see Records); payloads set or removed since go to a journal."""
    directory.mkdir(parents=True, exist_ok=True)
    if segment.appendable:
        _save_growing(segment, directory, generation)
    elif full:
        _save_built(segment, directory, on_disk)
    # a name's files keep their position once written: a vector dropped since leaves a gap
    names = segment.file_vectors
    write_array(directory / f"alive.{generation}.npy", segment.alive, sync_dir=False)
    for position, name in enumerate(names):
        if name not in segment.vectors:
            continue
        write_array(
            directory / f"{_vector_file(position, 'alive')}.{generation}.npy",
            segment.vectors[name].alive,
            sync_dir=False,
        )
    if full and not segment.appendable:
        _save_payload_records(segment, directory, payloads_cached)
    if segment.payloads.stored is not None:
        _save_indexes(segment, directory)
    # what this generation lists: files of an index dropped (or made otherwise) since go with
    # the generations that listed them (remove_generation)
    segment.index_files = {
        key: name
        for key, name in segment.index_files.items()
        if key in segment.indexes and name == _index_name(key, segment.indexes[key])
    }
    journal = _save_journal(segment.payloads, directory)
    payloads = {
        "journal": None if journal is None else journal.to_json(),
        "stored": segment.payloads.stored is not None,
        "indexes": segment.index_files,
    }
    write_json(directory / f"payloads.{generation}.json", payloads)  # fsyncs the directory
    segment.payloads.journal = journal
    segment.payloads.unsaved.clear()
    segment.dirty = False


def _save_built(segment: Segment, directory: Path, on_disk: Collection[str]) -> None:
    """What never changes in an optimized segment, written once."""
    segment.file_vectors = names = list(segment.vectors)
    for key, array in segment.ids.state().items():
        write_array(directory / f"ids.{key}.npy", array, sync_dir=False)
    for position, name in enumerate(names):
        for key, array in segment.vectors[name].state(shared=True).items():
            if key != "alive":
                write_array(
                    directory / f"{_vector_file(position, key)}.npy",
                    array,
                    sync_dir=False,
                    uncached=key == "originals.codes" and name in on_disk,
                )
    write_json(directory / "meta.json", _meta(segment))
    if segment.deferred is not None:
        write_array(directory / "deferred.npy", segment.deferred, sync_dir=False)


# the state arrays of a store (by the last part of their key) and of the ids that only grow at
# the end while a segment takes points; the rest (codec parameters) are written whole
_GROWING = ("ids", "codes", "offsets", "indptr", "indices", "values")
_GROWING_IDS = ("nums", "num_offsets", "uuids", "uuid_offsets")


def _grows(name: str | None, key: str) -> bool:
    """Whether the state array `key` of the ids (name None) or of a vector's store only grows
    at the end: it goes to an append-only file."""
    return key.split(".")[-1] in (_GROWING_IDS if name is None else _GROWING)


def _save_growing(segment: Segment, directory: Path, generation: int) -> None:
    """An appendable segment at `generation`: its growing arrays extended in their files,
    the rest written as this generation's."""
    segment.file_vectors = list(segment.vectors)
    appended: dict[tuple[str | None, str], Written] = {}
    rows: dict[str, Any] = {"ids": {}, "vectors": {}}
    for name, stem, key, owner, array in _arrays(segment):
        if not _grows(name, key):
            write_array(directory / f"{stem}{key}.{generation}.npy", array, sync_dir=False)
            continue
        written = _record(segment.appended.get((name, key)), owner, stem + key, array)
        count = append_rows(directory / written.file, written.count, array[written.count :])
        appended[name, key] = written = dataclasses.replace(written, count=count)
        where = rows["ids"] if name is None else rows["vectors"].setdefault(name, {})
        where[key] = written.to_json()
    segment.appended = appended
    write_json(directory / f"meta.{generation}.json", {**_meta(segment), "rows": rows})
    if segment.deferred is not None:
        write_array(directory / f"deferred.{generation}.npy", segment.deferred, sync_dir=False)


def _arrays(
    segment: Segment,
) -> Iterator[tuple[str | None, str, str, object, npt.NDArray[Any]]]:
    """(vector name or None for the ids, file stem, state key, what holds it, the array) of
    each state array of an appendable segment but the alive bits."""
    for key, array in segment.ids.state().items():
        yield None, "ids.", key, segment.ids, array
    for position, name in enumerate(segment.vectors):
        store = segment.vectors[name]
        for key, array in store.state().items():
            if key != "alive":
                yield name, _vector_file(position, ""), key, store, array


def _record(written: Written | None, owner: object, stem: str, array: npt.NDArray[Any]) -> Written:
    """The append-only file `array` extends: the one written before, or a new one where that
    is not its own (another store, another row layout, fewer rows)."""
    dtype, shape = array.dtype.str, tuple(int(n) for n in array.shape[1:])
    if (
        written is None
        or written.owner is not owner
        or (written.dtype, written.shape) != (dtype, shape)
        or array.shape[0] < written.count
    ):
        written = Written(f"{stem}.r{secrets.token_hex(4)}.rows", 0, owner, dtype, shape)
    return written


Ahead = list[tuple[tuple[str | None, str], Written, npt.NDArray[Any]]]


def rows_ahead(segment: Segment, *, copy: bool) -> Ahead:
    """An appendable segment's rows past those its files hold, each with the file it extends
    (the caller holds the write lock). With `write_ahead` (no lock) and `advance` (the lock
    again), a checkpoint's bulk is written while searches and writes go on. `copy`: copies,
    for the segment that takes points (an append may move its rows' memory); a sealed one's
    are views of memory that no longer moves."""
    ahead = []
    for name, stem, key, owner, array in _arrays(segment):
        if not _grows(name, key):
            continue
        written = _record(segment.appended.get((name, key)), owner, stem + key, array)
        segment.appended[name, key] = written  # a new file's too: the checkpoint extends it
        if array.shape[0] > written.count:
            rows = array[written.count :]
            ahead.append(((name, key), written, _copy(rows) if copy else rows))
    return ahead


def _copy(rows: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A copy in an anonymous mapping of its own, made present at once: numpy asks for huge
    pages for a large array, and on these VMs their first touch may compact memory: a 32 MB
    copy under the write lock took 7-100 ms while an upload and a build ran, ~40 ms so."""
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0)
    buffer = mmap.mmap(-1, max(rows.nbytes, 1), flags=flags)
    copy = np.frombuffer(buffer, dtype=rows.dtype, count=rows.size).reshape(rows.shape)
    np.copyto(copy, rows)
    return copy


def write_ahead(directory: Path, ahead: Ahead) -> list[tuple[tuple[str | None, str], str, int]]:
    """Writes `rows_ahead`'s rows (no lock held); (key, file, rows it then holds) of each
    written. One that fails stops it quietly: the checkpoint writes them, and raises."""
    done = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for key, written, rows in ahead:
            count = append_rows(directory / written.file, written.count, rows)
            done.append((key, written.file, count))
    except OSError:
        pass
    return done


def advance(segment: Segment, done: list[tuple[tuple[str | None, str], str, int]]) -> None:
    """Counts what `write_ahead` wrote as written (the caller holds the write lock), where the
    segment still extends the same file (a checkpoint meanwhile may have written more, or
    started another)."""
    for key, file, count in done:
        written = segment.appended.get(key)
        if written is not None and written.file == file and written.count < count:
            segment.appended[key] = dataclasses.replace(written, count=count)


def _save_journal(payloads: Payloads, directory: Path) -> Written | None:
    """The payloads set or removed since the last generation, appended to the journal (all
    held ones into a new journal where there is none yet, or where most of its lines have
    been written over since)."""
    journal, held = payloads.journal, payloads.held
    if journal is None or journal.entries > 2 * len(held) + _JOURNAL_SLACK:
        if not held:
            return None
        journal = Written(f"payloads.r{secrets.token_hex(4)}.journal", 0)
        entries = sorted(held.items())
    else:
        entries = [(o, held.get(o)) for o in sorted(payloads.unsaved)]
    data, lines = journal_bytes(entries)
    count = append(directory / journal.file, journal.count, data) if data else journal.count
    return dataclasses.replace(journal, count=count, entries=journal.entries + lines)


_JOURNAL_SLACK = 1024  # lines a journal may hold beyond twice the payloads it keeps


def _meta(segment: Segment) -> dict[str, Any]:
    return {
        "vectors": segment.file_vectors,
        "configs": {name: segment.vectors[name].config() for name in segment.file_vectors},
        "appendable": segment.appendable,
        "deferred_from": segment.deferred_from,
        "deferred": segment.deferred is not None,
    }


def listed_files(segment: Segment) -> set[str]:
    """The append-only files the segment's last generation names."""
    listed = {written.file for written in segment.appended.values()}
    if segment.payloads.journal is not None:
        listed.add(segment.payloads.journal.file)
    return listed


def _save_payload_records(segment: Segment, directory: Path, cached: bool) -> None:
    """Every payload into the segment's records file, read from it from now on as after a
    load."""
    size = segment.size
    write_records(directory / PAYLOAD_RECORDS, map(segment.payloads.raw, range(size)), size)
    segment.payloads = Payloads(stored=Records(directory / PAYLOAD_RECORDS, cached=cached))


def _index_name(key: str, index: FieldIndex) -> str:
    """The files of an index of `key` with this schema: the same name for the same index,
    whenever written (any such files, with the payloads written since, give it back)."""
    about = json.dumps([key, index.schema], sort_keys=True).encode()
    return f"index.{hashlib.sha256(about).hexdigest()[:16]}"


def _save_indexes(segment: Segment, directory: Path) -> None:
    """Writes the payload indexes of a segment whose payloads are stored, where not yet
    written; each is then read from its files, as after a load. Written once: any version
    serves, with the payloads held since the store (Segment.adopt_indexes)."""
    for key, index in list(segment.indexes.items()):
        name = _index_name(key, index)
        if segment.index_files.get(key) == name:
            continue
        facts, arrays = index.state()
        for part, array in arrays.items():
            write_array(directory / f"{name}.{part}.npy", array, sync_dir=False)
        write_json(directory / f"{name}.json", {"key": key, "facts": facts, "arrays": list(arrays)})
        empty = build_index(index.schema.get("params") or index.schema["data_type"], key)
        segment.indexes[key] = _load_index(directory, name, empty)
        segment.index_files[key] = name


def _load_index(directory: Path, name: str, index: FieldIndex) -> FieldIndex:
    """`index` (empty) holding what the files `name` hold, their arrays memory-mapped."""
    written = read_json(directory / f"{name}.json")
    arrays = {  # plain arrays over the maps: np.memmap's results would be memmaps too
        p: read_array(directory / f"{name}.{p}.npy", mmap=True).view(np.ndarray)
        for p in written["arrays"]
    }
    index.restore(written["facts"], arrays)
    return index


def _load_indexes(
    segment: Segment, directory: Path, names: Mapping[str, str], schemas: Mapping[str, Any]
) -> None:
    """The segment's payload indexes, `schemas` by key: from their files where written for
    the same schema, else built from the payloads (also where the files are damaged: an
    index is made of the payloads, and is made again of them)."""
    restored = {}
    for key, schema in schemas.items():
        index = build_index(schema, key)
        name = names.get(key)
        if name is None or name != _index_name(key, index):
            continue
        try:
            restored[key] = _load_index(directory, name, index)
        except (OSError, StorageError, ValueError, KeyError) as e:
            log.warning("segment %s: building the index of %r again: %s", segment.name, key, e)
            continue
        segment.index_files[key] = name
    segment.adopt_indexes(restored)
    segment.create_indexes({k: s for k, s in schemas.items() if k not in restored})


def load(
    directory: Path,
    name: str,
    generation: int,
    *,
    on_disk: set[str],
    read_path: ReadPath = "mmap",
    vectors_kept: Collection[str] | None = None,
    shared: bool = False,
    payload_schema: Mapping[str, Any] | None = None,
    payloads_cached: bool = False,
) -> Segment:
    """The segment as `save` left it at `generation`, with the payload indexes of
    `payload_schema` (key -> schema; read from their files where written). The originals of
    the vectors named in `on_disk` are memory-mapped rather than read into RAM, and rescored
    through `read_path` (see vqdb.storage.rows). `vectors_kept`: the names it still has, if
    some were dropped after its files were written (None: all). `shared`: an optimized
    segment's codes, its quantized ones too, and its graph's level 0 are read in place in
    the memory-mapped files, so that the processes reading one storage folder share one copy
    in the page cache rather than each holding its own (a follower's: vqdb.follower; such a
    segment takes no new vectors). `payloads_cached`: see `save`."""
    suffix = "" if (directory / "meta.json").exists() else f".{generation}"
    meta = read_json(directory / f"meta{suffix}.json")
    rows = meta.get("rows", {"ids": {}, "vectors": {}})  # an appendable segment's, since format 3
    id_arrays = {
        p.name[len("ids.") : -len(suffix + ".npy")]: read_array(p, mmap=True)
        for p in directory.glob(f"ids.*{suffix}.npy")
        if p.name.count(".") == 2 + suffix.count(".")
    }
    grown, grown_arrays = _read_growing(directory, rows["ids"])
    ids = load_ids({**id_arrays, **grown_arrays})
    appended: dict[tuple[str | None, str], Written] = {
        (None, key): dataclasses.replace(w, owner=ids) for key, w in grown.items()
    }
    vectors: dict[str, VectorStore] = {}
    for position, vname in enumerate(meta["vectors"]):
        if vectors_kept is not None and vname not in vectors_kept:
            continue
        prefix = _vector_file(position, "")
        arrays: dict[str, npt.NDArray[Any]] = {}
        for path in directory.glob(f"{prefix}*{suffix}.npy"):
            key = path.name[len(prefix) : -len(suffix + ".npy")]
            if key.startswith("alive"):
                continue
            arrays[key] = read_array(path, mmap=True)
        grown, grown_arrays = _read_growing(directory, rows["vectors"].get(vname, {}))
        arrays.update(grown_arrays)
        arrays["alive"] = read_array(directory / f"{prefix}alive.{generation}.npy")
        config = meta["configs"][vname]
        for key in required_arrays(config):
            if key not in arrays:
                missing = directory / f"{prefix}{key}{suffix}.npy"
                raise StorageError(f"{missing}: missing (segment {name})")
        dense_on_disk = vname in on_disk and not meta["appendable"]
        views: tuple[str, ...] = ("originals",) if dense_on_disk else ()
        if shared and not meta["appendable"]:
            views = ("originals", "quantized", "graph")
        index = store_from_state(config, arrays, views=views)
        if isinstance(index, Index) and views:
            path = directory / f"{prefix}originals.codes{suffix}.npy"
            # errors name the segment's own folder, also while it is still being built
            use_read_path(index, path, read_path, display=directory.with_name(name) / path.name)
        vectors[vname] = index
        appended.update({(vname, k): dataclasses.replace(w, owner=index) for k, w in grown.items()})
    alive = np.array(read_array(directory / f"alive.{generation}.npy"), dtype=np.bool_)
    written = read_json(directory / f"payloads.{generation}.json")
    stored = written.get("stored")
    records = Records(directory / PAYLOAD_RECORDS, cached=payloads_cached) if stored else None
    journal = None if written.get("journal") is None else Written.from_json(written["journal"])
    if journal is not None:
        held = dict(read_lines(directory / journal.file, journal.count))
        if not all(
            type(o) is int and o >= 0 and isinstance(p, (dict, type(None))) for o, p in held.items()
        ):
            raise StorageError(f"{directory / journal.file}: not offsets and payloads")
    else:  # none, or written before format 3: all held payloads in the generation's file
        held = dict(zip(written.get("offsets", ()), written.get("payloads", ())))
    segment = Segment(name, vectors, ids, alive, Payloads(held, records))
    segment.payloads.journal = journal
    segment.appended = appended
    segment.file_vectors = list(meta["vectors"])
    segment.deferred_from = meta.get("deferred_from")
    if meta.get("deferred"):
        segment.deferred = np.array(read_array(directory / f"deferred{suffix}.npy"), np.bool_)
    _load_indexes(segment, directory, written.get("indexes", {}), payload_schema or {})
    segment.dirty = False
    segment.on_disk_files = True  # a checkpoint writes only what changes, not these again
    return segment


def _read_growing(
    directory: Path, rows: Mapping[str, Any]
) -> tuple[dict[str, Written], dict[str, npt.NDArray[Any]]]:
    """The append-only files a generation names, and the arrays they hold, by state key."""
    grown = {key: Written.from_json(value) for key, value in rows.items()}
    arrays = {k: read_rows(directory / w.file, w.dtype, w.shape, w.count) for k, w in grown.items()}
    return grown, arrays


def use_read_path(
    index: Index, originals: Path, read_path: ReadPath, display: Path | None = None
) -> None:
    """Makes `index`, whose originals view the file `originals`, rescore through `read_path`."""
    if read_path == "mmap" or index.multivector:  # MaxSim reads a group's rows in place
        index.read_originals_through(None)
        return
    rows = RowFile(originals, "pread" if read_path == "pread" else "io_uring", display=display)
    index.read_originals_through(rows.reader, check_cache=read_path == "auto")


def remove_unlisted(directory: Path, listed: Collection[str]) -> None:
    """Deletes the append-only files not in `listed` (those of the generation now current):
    the ones an earlier generation or a failed checkpoint started."""
    for path in [*directory.glob("*.rows"), *directory.glob("*.journal")]:
        if path.name not in listed:
            path.unlink(missing_ok=True)


def remove_generation(
    directory: Path, generation: int, indexes: Collection[str] | None = None
) -> None:
    """Deletes one generation's files (after the manifest has moved past it). `indexes`: the
    payload index files the generation after it lists (names); the others, which no
    generation lists any more, go too (None: leaves them, as where that one failed)."""
    for path in directory.glob(f"*.{generation}.*"):
        if path.name.split(".")[-2] == str(generation):
            path.unlink(missing_ok=True)
    if indexes is not None:
        for path in directory.glob("index.*"):
            if ".".join(path.name.split(".")[:2]) not in indexes:
                path.unlink(missing_ok=True)
    fsync_dir(directory)
