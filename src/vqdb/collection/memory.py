"""What a vector of a collection costs, by part: the quantized codes, the graph, the originals
and the payloads, in RAM and on disk (vqdb's own, shown in its collection telemetry and on the
dashboard; Qdrant's CollectionInfo stays Qdrant's).

RAM is what the process holds (a part searched in place from a memory-mapped file holds none:
the page cache keeps what is read). Disk is what the segment files hold, for a collection with
a storage folder; an in-memory collection has none.
"""

from __future__ import annotations

import json
from itertools import islice
from typing import Any

from vqdb.collection.collection import Collection
from vqdb.index.vector_index import Index

PARTS = ("codes", "graph", "originals", "payloads")
_PAYLOAD_SAMPLE = 256  # payloads serialised to estimate the average one's size


def memory(c: Collection) -> dict[str, Any]:
    """{"points", "vectors": {name: {"bytes_per_vector": {part: {"ram", "disk"}}, "total":
    {"ram", "disk"}}}, "payloads": {"bytes_per_point": {"ram", "disk"}}}."""
    stored = c.path is not None
    with c.lock.read():
        points = c.points_count
        sums: dict[str, dict[str, list[int]]] = {}
        counts: dict[str, int] = {}
        for segment in c.segments:
            on_disk = stored and segment.on_disk_files
            for name, store in segment.vectors.items():
                if not isinstance(store, Index):
                    continue  # sparse vectors: an inverted index, not parts of this kind
                parts = sums.setdefault(name, {p: [0, 0] for p in PARTS[:3]})
                counts[name] = counts.get(name, 0) + len(store)
                for part, (ram, whole) in store.footprint().items():
                    parts[part][0] += ram
                    parts[part][1] += whole if on_disk else 0
        payload_ram, payload_disk = _payload_bytes(c)
    vectors = {}
    for name, parts in sums.items():
        n = max(counts[name], 1)
        per = {part: {"ram": ram / n, "disk": disk / n} for part, (ram, disk) in parts.items()}
        vectors[name] = {
            "vectors": counts[name],
            "bytes_per_vector": {k: {u: round(v, 2) for u, v in x.items()} for k, x in per.items()},
            "total": {
                "ram": sum(ram for ram, _ in parts.values()),
                "disk": sum(disk for _, disk in parts.values()),
            },
        }
    n = max(points, 1)
    return {
        "points": points,
        "vectors": vectors,
        "payloads": {
            "bytes_per_point": {
                "ram": round(payload_ram / n, 2),
                "disk": round(payload_disk / n if stored else 0.0, 2),
            }
        },
    }


def _payload_bytes(c: Collection) -> tuple[float, float]:
    """The payloads' JSON bytes in RAM, and in all: a records file's exactly (in RAM too
    where it is `cached`), the ones held estimated from a sample (serialising millions is too
    slow)."""
    held_bytes = stored = cached = 0.0
    for segment in c.segments:
        payloads = segment.payloads
        held = list(islice((p for p in payloads.held.values() if p is not None), _PAYLOAD_SAMPLE))
        if held:
            size = sum(len(json.dumps(p, separators=(",", ":"), default=str)) for p in held)
            held_bytes += size / len(held) * payloads.held_count
        stored += payloads.stored_bytes
        if payloads.stored is not None and payloads.stored.cached:
            cached += payloads.stored_bytes
    return held_bytes + cached, held_bytes + stored
