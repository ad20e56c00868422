"""A segment on disk: one directory of .npy files and a little JSON.

What never changes after an optimized segment is built (ids, originals, quantized codes, graph;
its payloads as built, in `payloads.records`, and its payload indexes) is written once. What
does change (which points and vectors are alive, payloads set or removed since) is written per
checkpoint generation, as `<part>.<generation>.<ext>`, so the manifest can switch from one
complete generation to the next in a single rename. An appendable segment is small and written
whole at each generation.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection, Mapping
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
    `full` (a freshly built segment, or any appendable one). The originals of the vectors
    named in `on_disk` are not left in the page cache (see write_array). A full optimized
    segment's payloads go to a records file, read in place from then on (segment/payloads.py;
    `payloads_cached`: read ahead into the page cache, see Records); the changes since are
    written per generation."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = f".{generation}" if segment.appendable else ""
    if full:
        segment.file_vectors = list(segment.vectors)
    # a name's files keep their position once written: a vector dropped since leaves a gap
    names = segment.file_vectors
    if full:
        for key, array in segment.ids.state().items():
            write_array(directory / f"ids.{key}{suffix}.npy", array, sync_dir=False)
        for position, name in enumerate(names):
            state = segment.vectors[name].state(shared=not segment.appendable)
            for key, array in state.items():
                if key != "alive":
                    write_array(
                        directory / f"{_vector_file(position, key)}{suffix}.npy",
                        array,
                        sync_dir=False,
                        uncached=key == "originals.codes" and name in on_disk,
                    )
        meta = {
            "vectors": names,
            "configs": {name: segment.vectors[name].config() for name in names},
            "appendable": segment.appendable,
            "deferred_from": segment.deferred_from,
            "deferred": segment.deferred is not None,
        }
        write_json(directory / f"meta{suffix}.json", meta)
        if segment.deferred is not None:
            write_array(directory / f"deferred{suffix}.npy", segment.deferred, sync_dir=False)
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
    held = segment.payloads.held
    offsets = sorted(held)
    payloads = {
        "offsets": offsets,
        "payloads": [held[o] for o in offsets],  # None: the stored one is removed
        "stored": segment.payloads.stored is not None,
        "indexes": segment.index_files,
    }
    write_json(directory / f"payloads.{generation}.json", payloads)  # fsyncs the directory
    segment.dirty = False


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
    ids = load_ids(
        {
            p.name[len("ids.") : -len(suffix + ".npy")]: read_array(p, mmap=True)
            for p in directory.glob(f"ids.*{suffix}.npy")
            if p.name.count(".") == 2 + suffix.count(".")
        }
    )
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
    alive = np.array(read_array(directory / f"alive.{generation}.npy"), dtype=np.bool_)
    written = read_json(directory / f"payloads.{generation}.json")
    stored = written.get("stored")
    records = Records(directory / PAYLOAD_RECORDS, cached=payloads_cached) if stored else None
    held = dict(zip(written["offsets"], written["payloads"]))
    segment = Segment(name, vectors, ids, alive, Payloads(held, records))
    segment.file_vectors = list(meta["vectors"])
    segment.deferred_from = meta.get("deferred_from")
    if meta.get("deferred"):
        segment.deferred = np.array(read_array(directory / f"deferred{suffix}.npy"), np.bool_)
    _load_indexes(segment, directory, written.get("indexes", {}), payload_schema or {})
    segment.dirty = False
    segment.on_disk_files = True  # a checkpoint writes only what changes, not these again
    return segment


def use_read_path(
    index: Index, originals: Path, read_path: ReadPath, display: Path | None = None
) -> None:
    """Makes `index`, whose originals view the file `originals`, rescore through `read_path`."""
    if read_path == "mmap" or index.multivector:  # MaxSim reads a group's rows in place
        index.read_originals_through(None)
        return
    rows = RowFile(originals, "pread" if read_path == "pread" else "io_uring", display=display)
    index.read_originals_through(rows.reader, check_cache=read_path == "auto")


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
