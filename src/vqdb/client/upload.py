"""Uploading many points: cut into chunks, each checked and written as one batch.

A numpy matrix (or a dict of them, for named vectors) is sliced, never walked: each chunk goes to
the collection as float32 rows with its ids and payloads. Other iterables are read a chunk at a
time, so a generator of any length streams through in bounded memory. Ids, vectors and payloads
are zipped, so the shortest decides how many points there are (as in qdrant-client); without ids
each point gets a random UUID.

Chunks are written without waiting for the disk, except the last one when `wait` is true: the
write-ahead log is ordered, so syncing it once covers every chunk before.

    >>> import numpy as np, vqdb
    >>> client = vqdb.Client(":memory:")
    >>> client.create_collection("c", vectors_config={"size": 8, "distance": "Dot"})
    True
    >>> x = np.random.default_rng(0).standard_normal((1000, 8), dtype=np.float32)
    >>> client.upload_collection("c", x, ids=range(1000), payload=({"i": i} for i in range(1000)))
    >>> client.count("c").count
    1000
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice, repeat
from typing import Any

import numpy as np
from tqdm import tqdm

from vqdb.client.convert import Json, point
from vqdb.collection.collection import Collection
from vqdb.collection.points import Points, parse_points
from vqdb.errors import BadInput

# A chunk holds at least this many points whatever batch_size says: batch_size sizes network
# requests, and in process a bigger chunk only saves per-write overhead (lock, log record).
MIN_CHUNK = 1024
PROGRESS_FROM = 10_000  # points; smaller uploads finish before a bar would tell anything


def upload_arrays(
    collection: Collection,
    vectors: np.ndarray[Any, Any] | Mapping[str, np.ndarray[Any, Any]],
    ids: Iterable[Any] | None,
    payload: Iterable[Any] | None,
    batch_size: int,
    wait: bool,
    progress: bool | None,
) -> None:
    """Vectors as one matrix, or a dict of name -> matrix with one row per point."""
    columns = dict(vectors) if isinstance(vectors, Mapping) else {"": vectors}
    sizes = {len(matrix) for matrix in columns.values()}
    if len(sizes) > 1:
        raise BadInput("each named vector should have the same number of vectors")
    total = sizes.pop() if sizes else 0
    id_source, payload_source = _ids(ids), None if payload is None else iter(payload)
    step = _chunk(batch_size)

    def chunks() -> Iterator[Json]:
        for start in range(0, total, step):
            want = min(step, total - start)
            chunk_ids = list(islice(id_source, want))
            payloads = None if payload_source is None else list(islice(payload_source, want))
            n = min(len(chunk_ids), want if payloads is None else len(payloads))
            if n:
                rows = {name: matrix[start : start + n] for name, matrix in columns.items()}
                batch = {
                    "ids": chunk_ids[:n],
                    "vectors": rows if isinstance(vectors, Mapping) else rows[""],
                    "payloads": None if payloads is None else payloads[:n],
                }
                yield {"batch": batch}
            if n < want:  # ids or payloads ran out
                return

    _write(collection, chunks(), total, wait, progress)


def upload_items(
    collection: Collection,
    vectors: Iterable[Any],
    ids: Iterable[Any] | None,
    payload: Iterable[Any] | None,
    batch_size: int,
    wait: bool,
    progress: bool | None,
) -> None:
    """Vectors one per point: lists or numpy rows, or dicts of named vectors."""
    rows = zip(_ids(ids), vectors, repeat(None) if payload is None else payload)
    step = _chunk(batch_size)

    def chunks() -> Iterator[Json]:
        while chunk := list(islice(rows, step)):
            if any(isinstance(vector, Mapping) for _, vector, _ in chunk):
                yield {"points": [{"id": i, "vector": v, "payload": p} for i, v, p in chunk]}
            else:
                chunk_ids, chunk_vectors, payloads = (list(column) for column in zip(*chunk))
                yield {"batch": {"ids": chunk_ids, "vectors": chunk_vectors, "payloads": payloads}}

    _write(collection, chunks(), _length(vectors), wait, progress)


def upload_points(
    collection: Collection,
    points: Iterable[Any],
    batch_size: int,
    wait: bool,
    progress: bool | None,
) -> None:
    """PointStruct objects (or their dicts), a chunk at a time."""
    source = iter(points)
    step = _chunk(batch_size)

    def chunks() -> Iterator[Json]:
        while chunk := list(islice(source, step)):
            yield {"points": [point(p) for p in chunk]}

    _write(collection, chunks(), _length(points), wait, progress)


def _write(
    collection: Collection,
    chunks: Iterator[Json],
    total: int | None,
    wait: bool,
    progress: bool | None,
) -> None:
    """Parses each chunk, then writes the one before (so the last can wait for the disk)."""
    if progress is None:
        progress = total is not None and total >= PROGRESS_FROM and sys.stderr.isatty()
    with tqdm(total=total, unit="points", disable=not progress) as bar:
        pending: Points | None = None
        for body in chunks:
            points = parse_points(body, collection.config)
            if pending is not None:
                collection.upsert_points(pending, wait=False)
                bar.update(len(pending))
            pending = points
        if pending is not None:
            collection.upsert_points(pending, wait=wait)
            bar.update(len(pending))


def _ids(ids: Iterable[Any] | None) -> Iterator[Any]:
    if ids is None:
        return _random_uuids()
    if isinstance(ids, np.ndarray):
        return iter(ids.tolist())
    return (str(i) if isinstance(i, uuid.UUID) else i for i in ids)


def _random_uuids(per_draw: int = 4096) -> Iterator[str]:
    """Random (version 4) UUIDs, drawn in bulk: uuid.uuid4() point by point costs more than all
    the other Python work of an upload."""
    while True:
        raw = np.frombuffer(bytearray(os.urandom(16 * per_draw)), dtype=np.uint8).reshape(-1, 16)
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
        text = raw.tobytes().hex()
        for i in range(0, len(text), 32):
            h = text[i : i + 32]
            yield f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _chunk(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise BadInput(f"batch_size must be a positive integer, got {batch_size!r}")
    return max(batch_size, MIN_CHUNK)


def _length(items: Iterable[Any]) -> int | None:
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None
